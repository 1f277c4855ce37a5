"""Array API statistical, utility and linear algebra functions.

>>> import gpugrad.array_api as xp
>>> xp.var(xp.asarray([1.0, 3.0]), correction=1).item()
2.0
"""
from __future__ import annotations

import math

import numpy as _np

from .. import numpy as _gnp
from .. import ops as _ops
from ..ops._axis_args import axis_index, normalize_axis

__all__ = ["cumulative_sum", "max", "mean", "min", "prod", "std", "sum", "var", "all", "any",
           "matmul", "matrix_transpose", "tensordot", "vecdot"]

_t = _gnp._core.tensor


def _in_dtype(reduce, x, dtype):
    """``reduce(x)`` with the standard's ``dtype=``: the input is cast to ``dtype`` first (a
    float64 sum of float32 data is summed in float64) and the answer is given in ``dtype``
    (an int8 product wraps as int8 arithmetic does)."""
    t = _t(x)
    if dtype is None:
        return reduce(t)
    dt = _np.dtype(dtype)
    if t.dtype != dt:
        t = _gnp.astype(t, dt)
    r = reduce(t)
    return r if r.dtype == dt else _gnp.astype(r, dt)


def _spread(var_or_std, x, axis, correction, keepdims):
    """var/std with ``correction``: NaN (keeping the graph) where ``N - correction <= 0``, as
    the standard requires (NumPy's ``ddof`` would give inf or a negative value)."""
    t = _t(x)
    n = math.prod(t.shape[a] for a in normalize_axis(axis, t.ndim))
    if n - correction > 0:
        return var_or_std(t, axis=axis, ddof=correction, keepdims=keepdims)
    r = var_or_std(t, axis=axis, keepdims=keepdims) if n else _gnp.sum(
        _gnp.real(t) if t.dtype.kind == "c" else t, axis=axis, keepdims=keepdims)
    return _ops.multiply(r, float("nan"))


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """Cumulative sum along ``axis`` (required for arrays of more than one dimension).

    >>> import gpugrad.array_api as xp
    >>> xp.cumulative_sum(xp.asarray([1, 2, 3])).tolist()
    [1, 3, 6]
    """
    t = _t(x)
    if axis is None:
        if t.ndim > 1:
            raise ValueError(f"cumulative_sum: axis is required for an array of "
                             f"{t.ndim} dimensions (shape {t.shape})")
        axis = 0
    r = _in_dtype(lambda a: _gnp.cumulative_sum(a, axis=axis), t, dtype)
    if not include_initial:
        return r
    shape = list(r.shape)
    shape[axis] = 1  # the leading zero, also for an empty axis
    return _gnp.concatenate([_gnp.zeros(tuple(shape), dtype=r.dtype, device=r.device), r],
                            axis=axis)


def max(x, /, *, axis=None, keepdims=False):
    """Maximum over ``axis``.

    >>> import gpugrad.array_api as xp
    >>> xp.max(xp.asarray([1, 5, 2])).item()
    5
    """
    return _gnp.max(x, axis=axis, keepdims=keepdims)


def min(x, /, *, axis=None, keepdims=False):
    """Minimum over ``axis``.

    >>> import gpugrad.array_api as xp
    >>> xp.min(xp.asarray([1, 5, 2])).item()
    1
    """
    return _gnp.min(x, axis=axis, keepdims=keepdims)


def mean(x, /, *, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``.

    >>> import gpugrad.array_api as xp
    >>> xp.mean(xp.asarray([1.0, 2.0])).item()
    1.5
    """
    return _gnp.mean(x, axis=axis, keepdims=keepdims)


def prod(x, /, *, axis=None, dtype=None, keepdims=False):
    """Product over ``axis`` (integers accumulate in the default integer dtype).

    >>> import gpugrad.array_api as xp
    >>> xp.prod(xp.asarray([2, 3], dtype=xp.int8)).dtype
    dtype('int64')
    >>> xp.prod(xp.asarray([100, 3], dtype=xp.int8), dtype=xp.int8).item()  # int8 wraps
    44
    """
    return _in_dtype(lambda t: _gnp.prod(t, axis=axis, keepdims=keepdims), x, dtype)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    """Sum over ``axis`` (integers accumulate in the default integer dtype).

    >>> import gpugrad.array_api as xp
    >>> xp.sum(xp.asarray([1, 2], dtype=xp.uint8)).dtype
    dtype('uint64')
    """
    return _in_dtype(lambda t: _gnp.sum(t, axis=axis, keepdims=keepdims), x, dtype)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Standard deviation with ``correction`` (Bessel's is 1); NaN where the number of
    elements N has ``N - correction <= 0``.

    >>> import gpugrad.array_api as xp
    >>> xp.std(xp.asarray([1.0, 3.0])).item()
    1.0
    """
    return _spread(_gnp.std, x, axis, correction, keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Variance with ``correction``; NaN where ``N - correction <= 0``.

    >>> import gpugrad.array_api as xp
    >>> xp.var(xp.asarray([1.0, 3.0])).item()
    1.0
    """
    return _spread(_gnp.var, x, axis, correction, keepdims)


def all(x, /, *, axis=None, keepdims=False):
    """Logical AND over ``axis``.

    >>> import gpugrad.array_api as xp
    >>> xp.all(xp.asarray([True, False])).item()
    False
    """
    return _gnp.all(x, axis=axis, keepdims=keepdims)


def any(x, /, *, axis=None, keepdims=False):
    """Logical OR over ``axis``.

    >>> import gpugrad.array_api as xp
    >>> xp.any(xp.asarray([True, False])).item()
    True
    """
    return _gnp.any(x, axis=axis, keepdims=keepdims)


def matmul(x1, x2, /):
    """Matrix product.

    >>> import gpugrad.array_api as xp
    >>> xp.matmul(xp.ones((2, 3)), xp.ones((3, 1))).shape
    (2, 1)
    """
    return _gnp.matmul(x1, x2)


def matrix_transpose(x, /):
    """Transpose of the last two axes.

    >>> import gpugrad.array_api as xp
    >>> xp.matrix_transpose(xp.ones((2, 3))).shape
    (3, 2)
    """
    return _gnp.matrix_transpose(x)


def tensordot(x1, x2, /, *, axes=2):
    """Sum of products over ``axes``.

    >>> import gpugrad.array_api as xp
    >>> xp.tensordot(xp.ones((2, 3)), xp.ones((3, 2)), axes=1).shape
    (2, 2)
    """
    if not isinstance(axes, (tuple, list)):
        axes = axis_index(axes, None, "tensordot: axes")  # (the standard: an int or 2 lists)
    return _gnp.tensordot(x1, x2, axes)


def vecdot(x1, x2, /, *, axis=-1):
    """Dot product of vectors along ``axis`` (broadcasting), conjugating ``x1``, in the
    promoted dtype of the inputs (int8 with int8 gives int8).

    >>> import gpugrad.array_api as xp
    >>> xp.vecdot(xp.ones((2, 3)), xp.ones(3)).tolist()
    [3.0, 3.0]
    """
    a, b = _t(x1), _t(x2, x1)
    return in_result_type(_gnp.vecdot(a, b, axis=axis), a, b)


def in_result_type(r, a, b):
    """``r`` cast to the promoted dtype of ``a`` and ``b`` where NumPy widened it."""
    dt = _np.result_type(a.dtype, b.dtype)
    return r if r.dtype == dt else _gnp.astype(r, dt)
