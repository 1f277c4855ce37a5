"""NumPy's ``ndarray`` signatures for the Tensor methods that reduce, accumulate or write
into ``out=``: ``sum``, ``prod``, ``mean``, ``var``, ``std``, ``max``, ``min``, ``all``,
``any``, ``argmax``, ``argmin``, ``cumsum``, ``cumprod``, ``clip`` (and PyTorch's
``clamp``), ``round``, ``take``, ``trace``, ``compress``, ``dot``.

Each takes NumPy's arguments, positionally in NumPy's order and by NumPy's keyword names
(``x.sum(0, float)`` is ``x.sum(axis=0, dtype=float)``; ``x.clip(min=1)``;
``x.max(initial=10)``).  The common call -- an axis and ``keepdims`` -- runs the op
directly.  A keyword only NumPy's function form handles (``dtype=`` where the op has none,
``out=``, ``initial=``, ``where=``, ``var``'s ``mean=``/``correction=``, ``take``'s
``mode=``) goes through NumPy's function, ``numpy.sum(x, ...)``, which a tensor answers
with ``gpugrad.numpy``'s version (``Tensor.__array_function__``): the method and the
function give one answer, with the same gradient, and a keyword that ``gpugrad.numpy``
does not implement raises its NotImplementedError.

>>> import gpugrad as gg
>>> x = gg.tensor([[1, 2, 3], [4, 5, 6]])
>>> x.mean(dtype=float).item(), x.max(initial=10).item(), x.clip(min=3).tolist()
(3.5, 10, [[3, 3, 3], [4, 5, 6]])
>>> x.sum(0, float).tolist(), x.cumsum(dtype=float).dtype
([5.0, 7.0, 9.0], dtype('float64'))
"""
from __future__ import annotations

import numpy as np

from . import ops
from ._array_methods import _compress, _trace
from ._tensor_ops import _dot
from .ops._fast import fast_sum

_NO = np._NoValue  # NumPy's "not given" (its functions tell it from None)


def _sum(self, axis=None, dtype=None, out=None, keepdims=False, initial=_NO, where=True):
    """Sum over ``axis`` (NumPy's ``a.sum``; see :func:`gpugrad.numpy.sum`)."""
    if dtype is None and out is None and initial is _NO and where is True:
        if axis is None and not keepdims:
            r = fast_sum(self)  # a plain tensor summed whole: NumPy's sum directly
            if r is not None:
                return r
        return ops.sum(self, axis=axis, keepdims=keepdims)
    return np.sum(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                  where=where)


def _prod(self, axis=None, dtype=None, out=None, keepdims=False, initial=_NO, where=True):
    """Product over ``axis`` (NumPy's ``a.prod``; see :func:`gpugrad.numpy.prod`)."""
    if dtype is None and out is None and initial is _NO and where is True:
        return ops.prod(self, axis=axis, keepdims=keepdims)
    return np.prod(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, initial=initial,
                   where=where)


def _mean(self, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Mean over ``axis`` (NumPy's ``a.mean``; see :func:`gpugrad.numpy.mean`)."""
    if dtype is None and out is None and where is True:
        return ops.mean(self, axis=axis, keepdims=keepdims)
    return np.mean(self, axis=axis, dtype=dtype, out=out, keepdims=keepdims, where=where)


def _spread(name):
    """``var``/``std`` with NumPy's signature."""
    op, fn = getattr(ops, name), getattr(np, name)

    def f(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
          mean=_NO, correction=_NO):
        if dtype is None and out is None and where is True and mean is _NO \
                and correction is _NO:
            return op(self, axis=axis, keepdims=keepdims, ddof=ddof)
        kw = {} if mean is _NO else {"mean": mean}
        if correction is not _NO:
            kw["correction"] = correction
        return fn(self, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims,
                  where=where, **kw)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{'Variance' if name == 'var' else 'Standard deviation'} over ``axis`` "
                 f"with ``ddof`` (NumPy's ``a.{name}``; see :func:`gpugrad.numpy.{name}`).")
    return f


def _extreme(name):
    """``max``/``min`` with NumPy's signature."""
    op, fn = getattr(ops, name), getattr(np, name)

    def f(self, axis=None, out=None, keepdims=False, initial=_NO, where=True):
        if out is None and initial is _NO and where is True:
            return op(self, axis=axis, keepdims=keepdims)
        return fn(self, axis=axis, out=out, keepdims=keepdims, initial=initial, where=where)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{name.title()}imum over ``axis`` (NumPy's ``a.{name}``; ties share the "
                 f"gradient; see :func:`gpugrad.numpy.{name}`).")
    return f


def _logical(name):
    """``all``/``any`` with NumPy's signature."""
    op, fn = getattr(ops, name), getattr(np, name)

    def f(self, axis=None, out=None, keepdims=False, *, where=True):
        if out is None and where is True:
            return op(self, axis=axis, keepdims=keepdims)
        return fn(self, axis=axis, out=out, keepdims=keepdims, where=where)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"NumPy's ``a.{name}`` over ``axis`` (a bool tensor, no gradient)."
    return f


def _arg(name):
    """``argmax``/``argmin`` with NumPy's signature."""
    op, fn = getattr(ops, name), getattr(np, name)

    def f(self, axis=None, out=None, *, keepdims=False):
        if out is None:
            return op(self, axis=axis, keepdims=keepdims)
        return fn(self, axis=axis, out=out, keepdims=keepdims)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"NumPy's ``a.{name}``: indices along ``axis`` (flattened when None)."
    return f


def _accumulate(name):
    """``cumsum``/``cumprod`` with NumPy's signature."""
    op, fn = getattr(ops, name), getattr(np, name)

    def f(self, axis=None, dtype=None, out=None):
        if dtype is None and out is None:
            return op(self, axis=axis)
        return fn(self, axis=axis, dtype=dtype, out=out)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"NumPy's ``a.{name}`` along ``axis`` (flattened when None), in ``dtype`` "
                 f"when given (see :func:`gpugrad.numpy.{name}`).")
    return f


def _clip(self, min=None, max=None, out=None, **kwargs):
    """Values limited to ``[min, max]`` (NumPy's ``a.clip``: either bound may be None or a
    tensor; neither gives a copy); ``out=`` and ufunc keywords go to
    :func:`gpugrad.numpy.clip`."""
    if out is None and not kwargs:
        return ops.copy(self) if min is None and max is None else ops.clip(self, min, max)
    return np.clip(self, min, max, out=out, **kwargs)


def _clamp(self, min=None, max=None):
    """PyTorch's ``clamp(min, max)``: :func:`gpugrad.ops.clip` (one bound at least)."""
    return ops.clip(self, min, max)


def _round(self, decimals=0, out=None):
    """Round half to even to ``decimals`` places (NumPy's ``a.round``; zero gradient)."""
    if out is None:
        return ops.round(self, decimals)
    return np.round(self, decimals, out=out)


def _take(self, indices, axis=None, out=None, mode="raise"):
    """Elements at ``indices`` along ``axis`` (flattened when None): NumPy's ``a.take``;
    ``out=`` and ``mode=`` go to :func:`gpugrad.numpy.take`."""
    if out is None and mode == "raise":
        return ops.take(self, indices, axis=axis)
    return np.take(self, indices, axis=axis, out=out, mode=mode)


def _trace_out(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal (NumPy's ``a.trace``), in ``dtype``, into ``out`` when given."""
    if out is None:
        return _trace(self, offset, axis1, axis2, dtype)
    return np.trace(self, offset, axis1, axis2, dtype=dtype, out=out)


def _compress_out(self, condition, axis=None, out=None):
    """Elements (or slices along ``axis``) where ``condition`` is true (NumPy's
    ``a.compress``; differentiable), into ``out`` when given."""
    if out is None:
        return _compress(self, condition, axis)
    return np.compress(condition, self, axis=axis, out=out)


def _dot_out(self, b, out=None):
    """NumPy's ``a.dot(b)`` (see :func:`gpugrad.ops.dot`), into ``out`` when given."""
    return _dot(self, b) if out is None else np.dot(self, b, out=out)


METHODS = {"sum": _sum, "prod": _prod, "mean": _mean, "var": _spread("var"),
           "std": _spread("std"), "max": _extreme("max"), "min": _extreme("min"),
           "all": _logical("all"), "any": _logical("any"), "argmax": _arg("argmax"),
           "argmin": _arg("argmin"), "cumsum": _accumulate("cumsum"),
           "cumprod": _accumulate("cumprod"), "clip": _clip, "clamp": _clamp,
           "round": _round, "take": _take, "trace": _trace_out, "compress": _compress_out,
           "dot": _dot_out}


def install(Tensor):
    """Give ``Tensor`` these methods (replacing the op-signature ones)."""
    for name, fn in METHODS.items():
        setattr(Tensor, name, fn)
