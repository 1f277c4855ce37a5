"""Array API statistical, utility and linear algebra functions.

>>> import gpugrad.array_api as xp
>>> xp.var(xp.asarray([1.0, 3.0]), correction=1).item()
2.0
"""
from __future__ import annotations

from .. import numpy as _gnp

__all__ = ["cumulative_sum", "max", "mean", "min", "prod", "std", "sum", "var", "all", "any",
           "matmul", "matrix_transpose", "tensordot", "vecdot"]

_t = _gnp._core.tensor


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """Cumulative sum along ``axis`` (required for arrays of more than one dimension).

    >>> import gpugrad.array_api as xp
    >>> xp.cumulative_sum(xp.asarray([1, 2, 3])).tolist()
    [1, 3, 6]
    """
    return _gnp.cumulative_sum(x, axis=axis, dtype=dtype, include_initial=include_initial)


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
    """
    return _gnp.prod(x, axis=axis, dtype=dtype, keepdims=keepdims)


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    """Sum over ``axis`` (integers accumulate in the default integer dtype).

    >>> import gpugrad.array_api as xp
    >>> xp.sum(xp.asarray([1, 2], dtype=xp.uint8)).dtype
    dtype('uint64')
    """
    return _gnp.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


def std(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Standard deviation with ``correction`` (Bessel's is 1).

    >>> import gpugrad.array_api as xp
    >>> xp.std(xp.asarray([1.0, 3.0])).item()
    1.0
    """
    return _gnp.std(x, axis=axis, ddof=correction, keepdims=keepdims)


def var(x, /, *, axis=None, correction=0.0, keepdims=False):
    """Variance with ``correction``.

    >>> import gpugrad.array_api as xp
    >>> xp.var(xp.asarray([1.0, 3.0])).item()
    1.0
    """
    return _gnp.var(x, axis=axis, ddof=correction, keepdims=keepdims)


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
    return _gnp.tensordot(x1, x2, axes)


def vecdot(x1, x2, /, *, axis=-1):
    """Dot product of vectors along ``axis`` (broadcasting).

    >>> import gpugrad.array_api as xp
    >>> xp.vecdot(xp.ones((2, 3)), xp.ones(3)).tolist()
    [3.0, 3.0]
    """
    a, b = _t(x1), _t(x2, x1)
    return _gnp.vecdot(a, b, axis=axis)
