"""The Tensor: an array (NumPy or CuPy) plus what autograd needs to know about it.

Operators and methods delegate to the op set in :mod:`gpugrad.ops`, where each op's
forward and backward live side by side.

>>> import gpugrad as gg
>>> x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> y = (x @ x.T).sum()
>>> y.backward()
>>> x.grad.shape
(2, 2)
"""
from __future__ import annotations


import itertools

import numpy as np

from . import backend, device_checks, dtypes
from .backend import Device, array_device, is_cupy_array

__all__ = ["Tensor", "tensor", "as_tensor", "from_numpy"]


class Tensor:
    """An n-dimensional array that can record operations for reverse-mode differentiation.

    Create tensors with :func:`gpugrad.tensor` or the creation functions; ``Tensor(data)``
    accepts the same arguments.

    ``print(t)``/``str(t)`` show NumPy's text of the values; ``repr(t)`` is the
    ``tensor(...)`` form.

    Hashing: a 0-d tensor that does not require grad hashes by value (``hash(t.item())``,
    as NumPy's scalar does), so the 0-d results NumPy gives as scalars work as dict keys and
    set members alongside Python numbers; it reads a GPU tensor's value to the host.  Like
    any key, such a tensor must not be changed while it is a key.  Every other tensor, and
    every :class:`~gpugrad.nn.Parameter` or other subclass, hashes by identity.

    >>> t = Tensor([1.0, 2.0], requires_grad=True)
    >>> t.dtype, t.shape, t.device
    (dtype('float32'), (2,), device(type='cpu'))
    >>> print(t); {1: "one"}[Tensor([3, 1]).min()]
    [1. 2.]
    'one'
    """

    # _view: for a view made by an op that recorded no node (no gradient was needed, or grad
    # mode was off), that op's node, whose parents[0] is the base: see gpugrad.inplace
    # _grad: what the checked ``grad`` property reads and writes (see _tensor_grad.py)
    # _scalar: True on a 0-d answer standing for a NumPy scalar, else unset (see zero_d.py)
    __slots__ = ("data", "_grad", "requires_grad", "_node", "_vc", "_hooks", "_view", "_scalar",
                 "__weakref__")
    __array_priority__ = 1000  # NumPy defers binary operators to us

    def __new__(cls, *args, **kwargs):
        t = object.__new__(cls)
        t._view = None  # (here, so that subclasses need not set it)
        return t

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        self.data = _to_array(data, dtype, device)
        self._grad = None
        self._node = None
        self._vc = [0]
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad=False):
        """Wrap an array without copying or checking (internal fast path): :func:`_wrap`."""
        return _wrap(data, requires_grad, cls)

    def _new_grad(self, g):
        """The first gradient for this leaf: an owned copy of ``g``."""
        return Tensor._make(g.copy())

    # ------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    def numel(self) -> int:
        """Number of elements.

        >>> Tensor([[1, 2, 3]]).numel()
        3
        """
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self) -> Device:
        return array_device(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def itemsize(self) -> int:
        return self.data.itemsize

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    @property
    def _version(self) -> int:
        return self._vc[0]

    # ------------------------------------------------------------ autograd controls
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place on a leaf (floating dtypes only).

        >>> Tensor([1.0]).requires_grad_().requires_grad
        True
        """
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf; use .detach()")
        if requires_grad and self.data.dtype.kind not in "fc" and \
                self.data.dtype.char != "E":  # 'E': ml_dtypes' bfloat16
            raise TypeError(f"only floating-point tensors can require gradients, got dtype "
                            f"{self.data.dtype.name}")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A new tensor sharing this one's data, cut from the graph.

        >>> Tensor([1.0], requires_grad=True).detach().requires_grad
        False
        """
        t = Tensor._make(self.data)
        t._vc = self._vc
        return t

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place."""
        self._node = None
        self.requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``create_graph=True`` records the backward pass, so the ``.grad`` it leaves can be
        differentiated again; ``retain_graph`` (keep the graph for another backward)
        defaults to ``create_graph``.  See :func:`gpugrad.autograd.grad`.

        >>> x = Tensor(2.0, requires_grad=True)
        >>> (x * x).backward(); x.grad.item()
        4.0
        """
        _autograd.backward([self], [gradient], retain_graph=retain_graph,
                           create_graph=create_graph)

    # ------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared on the CPU, copied from a GPU).

        An explicit request for the values: unlike PyTorch it also works on a tensor that
        requires grad, and the array is not part of the graph (no gradient flows through
        it); for a tensor computed in a graph it is read-only (a write would bypass the
        graph: write into the tensor instead, or into a copy).  Implicit conversion
        (``numpy.asarray(t)``, ``ndarray.dot(t)``, ...) of such a tensor raises instead:
        see :meth:`__array__`.

        >>> Tensor([1.0, 2.0]).numpy()
        array([1., 2.], dtype=float32)
        """
        if is_cupy_array(self.data):
            device_checks.raise_pending()
            return self.data.get()
        return self._host_alias()

    def _host_alias(self):
        """The data, shared: read-only for a tensor computed in a graph (a write into it
        would bypass the graph, which reads these values: a silently wrong gradient).  A
        leaf's array or a constant's stays writable (``p.numpy()[...] = v``)."""
        if self._node is None:
            return self.data
        a = self.data.view()
        a.flags.writeable = False
        return a

    def item(self):
        """The value of a one-element tensor as a Python number.

        >>> Tensor([[2.5]]).item()
        2.5
        """
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        device_checks.raise_pending()
        return self.data.reshape(()).item()

    def tolist(self):
        """Nested Python lists.

        >>> Tensor([[1, 2]]).tolist()
        [[1, 2]]
        """
        device_checks.raise_pending()
        return self.data.tolist()

    def to(self, *args, dtype=None, device=None, copy=False) -> "Tensor":
        """Move to a device and/or cast to a dtype, differentiably.

        >>> Tensor([1, 2]).to("float64").dtype
        dtype('float64')
        """
        for a in args:
            if isinstance(a, (Device,)) or (isinstance(a, str) and _looks_like_device(a)):
                device = a
            else:
                dtype = a
        out = self
        if device is not None:
            dev = backend.device(device)
            if dev != self.device:
                out = _ops.to_device(out, dev)
        if dtype is not None:
            dt = dtypes.as_dtype(dtype)
            if dt != out.dtype:
                out = _ops.astype(out, dt)
        if copy and out is self:
            out = _ops.copy(self)
        return out

    def cpu(self) -> "Tensor":
        """This tensor on the CPU."""
        return self.to("cpu")

    def cuda(self, index: int = 0) -> "Tensor":
        """This tensor on a CUDA device."""
        return self.to(Device("cuda", index))

    def astype(self, dtype, copy=True) -> "Tensor":
        """Cast to ``dtype`` (differentiable between float types); with ``copy=False`` a
        tensor that already has ``dtype`` is returned as it is (NumPy's keyword).

        >>> Tensor([1.5]).astype("int64").tolist()
        [1]
        """
        dt = dtypes.as_dtype(dtype)
        if not copy and dt == self.data.dtype:
            return self
        return _ops.astype(self, dt)

    def float(self):
        return self.astype(dtypes.float32)

    def double(self):
        return self.astype(dtypes.float64)

    def half(self):
        return self.astype(dtypes.float16)

    def long(self):
        return self.astype(dtypes.int64)

    def int(self):
        return self.astype(dtypes.int32)

    def bool(self):
        return self.astype(dtypes.bool_)

    def clone(self):
        """A differentiable copy."""
        return _ops.copy(self)

    def __array__(self, dtype=None, copy=None):
        """NumPy's implicit conversion (``numpy.asarray(t)``, ``numpy.array([t, ...])``,
        ``ndarray.dot(t)``, NumPy functions that do not dispatch to gpugrad).

        Refused for a tensor in a graph being recorded (``requires_grad`` while grad mode
        is on): NumPy would compute without the graph and the gradient would silently be
        zero.  Any other tensor converts freely.

        >>> import numpy as np
        >>> np.asarray(Tensor([1.0, 2.0], requires_grad=True))
        Traceback (most recent call last):
        ...
        RuntimeError: Can't convert a tensor that requires grad to a NumPy array implicitly...
        """
        next(_array_calls)  # (counted: gpugrad.numpy's conversions tell lists holding tensors)
        if is_cupy_array(self.data):     # first: true of every CUDA tensor, graph or not
            raise TypeError(f"cannot convert a tensor on {self.device} to a NumPy array "
                            f"implicitly; call .cpu() or .numpy() first")
        if self.requires_grad and _grad_mode.is_grad_enabled():
            raise RuntimeError(_IMPLICIT)
        a = self.data
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else self._host_alias()

    # ------------------------------------------------------------ Python protocols
    def __str__(self):
        if is_cupy_array(self.data):
            device_checks.raise_pending()
            return str(self.data.get())
        return str(self.data)

    def __repr__(self):
        if is_cupy_array(self.data):
            device_checks.raise_pending()
            body = np.array2string(self.data.get(), separator=", ", prefix="tensor(")
        else:
            body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={self.data.dtype.name}")
        if is_cupy_array(self.data):
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # pickle and copy (__getstate__, __setstate__, __copy__): _tensor_protocols.py

    # __getitem__: gpugrad.ops.fast_index.tensor_getitem, set below (ops.getitem with its no-graph
    # fast path)


# calls of Tensor.__array__, all threads (next() on it is one atomic step, so no call is lost
# to another thread's): a conversion that sees it move knows NumPy may have met a tensor in
# what it converted (gpugrad.numpy._core.numpy_array)
_array_calls = itertools.count()

_IMPLICIT = (
    "Can't convert a tensor that requires grad to a NumPy array implicitly: NumPy would "
    "compute without the graph and the gradient would silently be zero.  Keep the "
    "computation in gpugrad -- write X @ W or gpugrad.numpy.dot(X, W) instead of X.dot(W) "
    "(an ndarray method does not dispatch), gpugrad.numpy.array([...]) or gpugrad.stack "
    "for lists holding tensors, and gpugrad.numpy functions in place of NumPy ones that "
    "gpugrad does not dispatch -- or, for values without a gradient, use "
    "tensor.detach().numpy() (or compute under gpugrad.no_grad()).")


def _wrap(data, requires_grad=False, cls=None, _new=object.__new__):
    """A tensor (of class ``cls``, Tensor by default) of array ``data``, made without copying
    or checking: ``Tensor._make``, and the no-graph fast paths' call (a plain function costs
    less than a classmethod).  Every slot is set here, ``data`` first (gpugrad.compile's
    recorder tells a tensor being made by its unset ``_vc`` when ``data`` is assigned);
    ``Function.apply`` and ``zero_d.scalar_tensor`` make theirs the same way, inline: keep
    them alike."""
    t = _new(Tensor if cls is None else cls)
    t.data = data
    t._grad = None
    t.requires_grad = requires_grad
    t._node = None
    t._vc = [0]
    t._hooks = None
    t._view = None
    return t


def _looks_like_device(s: str) -> bool:
    return s.split(":")[0].lower() in ("cpu", "cuda", "gpu")

# the constructors live in conversion.py (it needs Tensor, defined above)
from .conversion import _to_array, as_tensor, from_numpy, tensor  # noqa: E402,F401

from . import autograd as _autograd  # noqa: E402
from . import grad_mode as _grad_mode  # noqa: E402
from . import ops as _ops  # noqa: E402
from .ops.fast_index import tensor_getitem as _tensor_getitem  # noqa: E402

Tensor.__getitem__ = _tensor_getitem
from ._tensor_ops import install as _install  # noqa: E402

_install(Tensor)
from ._tensor_grad import install as _install_grad  # noqa: E402

_install_grad(Tensor)  # .grad, checked when assigned
from ._tensor_protocols import install as _install_protocols  # noqa: E402

_install_protocols(Tensor)  # len, iter, bool, int/float, hash, round, in, copy
from ._tensor_hooks import install as _install_hooks  # noqa: E402

_install_hooks(Tensor)  # register_hook, register_post_accumulate_grad_hook, retain_grad
from .inplace import install as _install_inplace  # noqa: E402

_install_inplace(Tensor)
# NumPy's protocols (__array_function__, __array_ufunc__), DLPack and the array API methods
# come from the front-end layer, which installs them when gpugrad is imported (interop.py).
