"""Interoperability: NumPy's dispatch protocols, DLPack, and the array API hooks on Tensor.

* ``__array_ufunc__`` / ``__array_function__``: a NumPy call on a tensor (``numpy.exp(t)``,
  ``numpy.sum(t, axis=0)``, ``ndarray @ t``) runs gpugrad's version from
  :mod:`gpugrad.numpy` and stays differentiable.  Functions gpugrad does not implement run
  NumPy's own version on the raw arrays when no input is in a recorded graph (CuPy's on a
  GPU; see :mod:`gpugrad.numpy._fallback`) and raise a TypeError naming the function inside
  one; a few that return no array (``numpy.shape``, ``numpy.ndim``, ...) are answered directly.
* ``Tensor.__array__`` (in :mod:`gpugrad.tensor`): what NumPy falls back on when it does not
  dispatch -- ``ndarray.dot(t)``, ``numpy.asarray(t)``, ``numpy.array([t, 2 * t])``,
  ``ndarray[...] = t``.  A tensor in a graph being recorded (``requires_grad`` with grad mode
  on) refuses with a RuntimeError saying how to write it (``X @ W``,
  ``gpugrad.numpy.dot(X, W)``, ``gpugrad.numpy.array([...])``, ``t.detach().numpy()``),
  since NumPy would return values whose gradient is silently zero.  ``t.numpy()`` is the
  explicit conversion and always works (no gradient flows through its result).
* DLPack: ``Tensor.__dlpack__`` / ``__dlpack_device__`` and :func:`from_dlpack`, zero-copy
  with NumPy, CuPy and PyTorch.
* ``Tensor.__array_namespace__`` returns :mod:`gpugrad.array_api`; ``to_device``.

>>> import numpy as np, gpugrad as gg
>>> x = gg.tensor([0.0, 1.0], dtype="float64", requires_grad=True)
>>> y = np.sum(np.exp(x))          # dispatched to gpugrad: a differentiable tensor
>>> y.backward(); x.grad.numpy().round(4).tolist()
[1.0, 2.7183]
>>> np.ones(2).dot(x)               # an ndarray method: NumPy would drop the graph
Traceback (most recent call last):
...
RuntimeError: Can't convert a tensor that requires grad to a NumPy array implicitly...
>>> (np.ones(2) @ x).requires_grad  # the operator dispatches
True
"""
from __future__ import annotations

import numpy as np

from . import backend, dtypes
from .tensor import Tensor

__all__ = ["from_dlpack", "install", "handled_functions"]

_KDL_CPU, _KDL_CUDA, _KDL_CUDA_HOST, _KDL_CUDA_MANAGED = 1, 2, 3, 13


# ================================================================ __array_function__
_HANDLED = None


def handled_functions() -> dict:
    """Map each NumPy function object that gpugrad implements to its gpugrad version.

    >>> import numpy as np
    >>> handled_functions()[np.mean].__module__
    'gpugrad.numpy._reduce'
    """
    global _HANDLED
    if _HANDLED is None:
        from . import numpy as gnp

        table = {}
        for mod, ours in ((np, gnp), (np.linalg, gnp.linalg), (np.fft, gnp.fft),
                          (np.lib.stride_tricks, gnp.lib.stride_tricks)):
            for name in getattr(ours, "__all__", ()):
                theirs, mine = getattr(mod, name, None), getattr(ours, name, None)
                if callable(theirs) and callable(mine) and not isinstance(theirs, type) \
                        and not isinstance(theirs, np.ufunc):
                    table[theirs] = mine
        for name in ("array_repr", "array_str"):
            table[getattr(np, name)] = _repr if name == "array_repr" else _str
        _HANDLED = table
    return _HANDLED


def _repr(a, *args, **kwargs):
    return repr(a)


def _str(a, *args, **kwargs):
    return str(a.numpy()) if isinstance(a, Tensor) else np.array_str(a, *args, **kwargs)


def _array_function(self, func, types, args, kwargs):
    if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
        return NotImplemented
    impl = handled_functions().get(func)
    if impl is None:
        mod = getattr(func, "__module__", None) or "numpy"
        mod = "numpy" if mod.startswith("numpy._") else mod
        if not mod.startswith("numpy"):
            raise TypeError(f"{mod}.{func.__name__} is not supported on gpugrad tensors (it has "
                            f"no differentiable gpugrad version); convert explicitly with "
                            f".numpy() (drops the gradient)")
        from .numpy import _fallback  # no graph: NumPy's own answer; in a graph: TypeError

        name = (mod[len("numpy."):] + "." if mod != "numpy" else "") + func.__name__
        return _fallback.call(func, args, kwargs, name)
    return impl(*args, **kwargs)


# ================================================================ __array_ufunc__
_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
           "logical_and": "all", "logical_or": "any"}
_ACCUMULATE = {"add": "cumsum", "multiply": "cumprod"}


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    from . import numpy as gnp

    for v in inputs + tuple(kwargs.get("out", ()) or ()):
        if not isinstance(v, (Tensor, np.ndarray, np.generic, int, float, complex, bool,
                              list, tuple)):
            return NotImplemented
    name = ufunc.__name__
    if method == "__call__":
        fn = getattr(gnp, name, None)
        if fn is None or isinstance(fn, gnp._Missing):
            return gnp._fallback.call(ufunc, inputs, kwargs, name)  # (TypeError in a graph)
        return fn(*inputs, **kwargs)
    table = {"reduce": _REDUCE, "accumulate": _ACCUMULATE}.get(method, {})
    if name not in table:
        return gnp._fallback.call(getattr(ufunc, method), inputs, kwargs, f"{name}.{method}")
    fn = getattr(gnp, table[name])
    (x,) = inputs
    axis = kwargs.pop("axis", 0)
    out = kwargs.pop("out", None)
    out = out[0] if isinstance(out, tuple) else out
    if method == "accumulate":
        return fn(x, axis=axis, dtype=kwargs.pop("dtype", None), out=out)
    kw = {k: v for k, v in kwargs.items() if k in ("keepdims", "initial", "where", "dtype")}
    if table[name] in ("max", "min", "all", "any"):
        kw.pop("dtype", None)
    return fn(x, axis=axis, out=out, **kw)


# ================================================================ DLPack
def _dlpack(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    if self.requires_grad:
        raise RuntimeError("cannot export a tensor that requires grad through DLPack (the "
                           "consumer would drop the gradient); call .detach() first")
    kw = {k: v for k, v in (("stream", stream), ("max_version", max_version),
                            ("dl_device", dl_device), ("copy", copy)) if v is not None}
    return self.data.__dlpack__(**kw)


def _dlpack_device(self):
    return self.data.__dlpack_device__()


def from_dlpack(x, /, *, device=None, copy=None):
    """A tensor viewing the memory of any DLPack producer (NumPy, CuPy, PyTorch, JAX ...).

    Zero-copy when the producer allows it; ``copy=True`` forces a copy, ``device=`` moves.

    >>> import numpy as np
    >>> a = np.arange(3.0); t = from_dlpack(a); a[0] = 7; t.tolist()
    [7.0, 1.0, 2.0]
    """
    if isinstance(x, Tensor):
        t = x
    else:
        if not hasattr(x, "__dlpack__"):
            raise TypeError(f"from_dlpack: expected an object with __dlpack__ (a NumPy, CuPy or "
                            f"PyTorch array), got {type(x).__name__}")
        kind, index = x.__dlpack_device__() if hasattr(x, "__dlpack_device__") else (1, 0)
        if kind in (_KDL_CPU, _KDL_CUDA_HOST):
            arr = np.from_dlpack(x)  # zero-copy; NumPy < 2.1 has no copy= keyword
            if copy:
                arr = arr.copy()
        elif kind in (_KDL_CUDA, _KDL_CUDA_MANAGED):
            xp = backend.Device("cuda", int(index)).xp
            with xp.cuda.Device(int(index)):
                arr = xp.from_dlpack(x)
                if copy:
                    arr = arr.copy()
        else:
            raise BufferError(f"from_dlpack: unsupported DLPack device type {kind}; expected a "
                              f"CPU or CUDA producer")
        if arr.dtype not in dtypes.SUPPORTED:
            raise TypeError(f"from_dlpack: unsupported dtype {arr.dtype}")
        t = Tensor._make(arr)
    if device is not None and backend.device(device) != t.device:
        from . import ops

        t = ops.to_device(t, device)
    elif copy and isinstance(x, Tensor):
        t = Tensor._make(t.data.copy())
    return t


# ================================================================ array API hooks
def _array_namespace(self, /, *, api_version=None):
    from . import array_api

    if api_version not in (None, "2021.12", "2022.12", "2023.12"):
        raise ValueError(f"unsupported array API version {api_version!r}; gpugrad implements "
                         f"2023.12 (and accepts 2021.12, 2022.12)")
    return array_api


def _to_device(self, device, /, *, stream=None):
    if stream is not None:
        raise NotImplementedError("to_device: stream= is not supported")
    from . import ops

    return ops.to_device(self, device)


def _format(self, spec):
    if self.data.size == 1 and self.data.ndim == 0:
        return format(self.item(), spec)
    return format(str(self), spec)


def _shift(name):
    def f(a, b):
        from . import numpy as gnp

        return getattr(gnp, name)(a, b)
    return f


def install(T) -> None:
    """Attach the NumPy protocols, DLPack and array API methods to Tensor ``T``."""
    T.__array_ufunc__ = _array_ufunc
    T.__array_function__ = _array_function
    T.__dlpack__ = _dlpack
    T.__dlpack_device__ = _dlpack_device
    T.__array_namespace__ = _array_namespace
    T.to_device = _to_device
    T.__format__ = _format
    for name, fn in (("lshift", "left_shift"), ("rshift", "right_shift")):
        f = _shift(fn)
        setattr(T, f"__{name}__", f)
        setattr(T, f"__r{name}__", lambda s, o, f=f: f(o, s))
        setattr(T, f"__i{name}__", _augmented(f))


def _augmented(f):
    """``<<=`` / ``>>=``: in place, except on a 0-d tensor standing for a NumPy scalar, where
    Python then computes ``s << o`` and rebinds the name (gpugrad.zero_d; inplace.py's
    operators follow the same rule)."""
    from .zero_d import stands_for_scalar

    def method(s, o):
        if s.data.ndim == 0 and stands_for_scalar(s):
            return NotImplemented
        return s._inplace(f, o)
    return method

