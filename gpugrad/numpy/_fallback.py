"""The non-graph fallback: NumPy (or CuPy) functions that have no differentiable gpugrad
version run on the tensors' raw arrays when no input is part of a recorded graph.

A function qualifies when it is called through NumPy's dispatch (``numpy.save(f, t)``,
``numpy.histogram(t)``, scikit-learn calling ``numpy.may_share_memory``) or through a
``gpugrad.numpy`` name gpugrad does not implement (``gnp.interp``, ``gnp.fft.fft``).  Inside
a recorded graph (an input tensor requires grad while grad mode is on) it raises TypeError:
NumPy would compute without the graph and the gradient would silently be lost.

Results come back as NumPy gives them, with each array of a supported dtype wrapped as a
Tensor (no graph) and NumPy scalars left as NumPy scalars.

>>> import numpy, gpugrad as gg
>>> counts, edges = numpy.histogram(gg.tensor([0.0, 1.0, 1.0]), bins=2)
>>> counts.tolist(), type(counts).__name__
([1, 2], 'Tensor')
"""
from __future__ import annotations

import numpy as _np

from .. import backend, dtypes, grad_mode
from ..backend import is_cupy_array
from ..tensor import Tensor

__all__ = ["call", "call_named", "numpy_function", "wrap_result", "tensors_in", "unwrap",
           "for_non_numeric"]


def tensors_in(obj):
    """Every Tensor inside ``obj`` (nested lists, tuples and dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from tensors_in(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors_in(v)


def unwrap(obj):
    """``obj`` with every Tensor replaced by its raw array (containers rebuilt)."""
    if isinstance(obj, Tensor):
        return obj.data
    if isinstance(obj, list):
        return [unwrap(v) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(unwrap(v) for v in obj)
    if isinstance(obj, dict):
        return {k: unwrap(v) for k, v in obj.items()}
    return obj


def wrap_result(r):
    """NumPy's answer with arrays of supported dtypes as Tensors; scalars stay scalars."""
    if isinstance(r, tuple):
        items = [wrap_result(v) for v in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    if isinstance(r, list):
        return [wrap_result(v) for v in r]
    if (isinstance(r, _np.ndarray) or is_cupy_array(r)) and r.dtype in dtypes.SUPPORTED:
        return Tensor._make(r)
    return r


def _graph_error(name):
    return TypeError(
        f"{name} is not supported on gpugrad tensors in a recorded graph (it has no "
        f"differentiable gpugrad version, and NumPy would drop the gradient); compute it "
        f"under gpugrad.no_grad(), or convert explicitly with .detach().numpy() (drops the "
        f"gradient)")


def _cupy_version(name):
    """CuPy's function of NumPy's dotted public ``name`` (``fft.fft``), or None."""
    obj = backend.Device("cuda", 0).xp
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def call(func, args, kwargs, name):
    """``func(*args, **kwargs)`` on raw arrays when no tensor in them is in a recorded graph.

    ``func`` is NumPy's function; ``name`` its public dotted name under ``numpy``
    (``"histogram"``, ``"fft.fft"``) used for CuPy's twin and in errors.  Tensors on a GPU
    run CuPy's twin (TypeError when CuPy has none).

    >>> import numpy, gpugrad as gg
    >>> call(numpy.bincount, (gg.tensor([0, 2, 2]),), {}, "bincount").tolist()
    [1, 0, 2]
    """
    ts = list(tensors_in((args, kwargs)))
    shown = f"numpy.{name}"
    if grad_mode.is_grad_enabled() and any(t.requires_grad for t in ts):
        raise _graph_error(shown)
    if any(is_cupy_array(t.data) for t in ts):
        func = _cupy_version(name)
        if func is None:
            raise TypeError(f"{shown} has no CuPy version for tensors on a GPU; move them "
                            f"with .cpu() first")
    return wrap_result(func(*unwrap(args), **unwrap(kwargs)))


def numpy_function(name):
    """NumPy's public object at dotted ``name`` (``"fft.fft"``), or None."""
    obj = _np
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def call_named(name, args, kwargs):
    """:func:`call` for NumPy's function at dotted ``name``.

    >>> call_named("interp", (0.5, [0, 1], [0, 10]), {})
    np.float64(5.0)
    """
    func = numpy_function(name)
    if func is None or not callable(func):
        raise AttributeError(f"numpy has no function {name!r}")
    return call(func, args, kwargs, name)


def for_non_numeric(fn, numpy_fn, name):
    """``fn`` (a ``gpugrad.numpy`` function), answering with NumPy's ``numpy_fn`` through
    :func:`call` when ``fn`` meets a non-numeric value or dtype (strings, objects, datetimes:
    :class:`~gpugrad.numpy._core.NonNumericError`).  The result is marked ``_non_numeric``.

    >>> import numpy
    >>> from gpugrad.numpy import _math
    >>> f = for_non_numeric(_math.add.__wrapped__, numpy.add, "add")
    >>> f(numpy.array(["a"]), "b")
    array(['ab'], dtype='<U2')
    """
    from ._core import NonNumericError

    def f(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except NonNumericError:
            return call(numpy_fn, args, kwargs, name)
    f.__name__, f.__qualname__, f.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    f.__module__, f.__wrapped__, f._non_numeric = fn.__module__, fn, True
    f.__dict__.update({k: v for k, v in fn.__dict__.items() if k not in f.__dict__})
    return f
