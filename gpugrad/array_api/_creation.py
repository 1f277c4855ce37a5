"""Array API creation functions (positional-only and keyword-only as the standard says).

>>> zeros((2,)).dtype, arange(3).dtype
(dtype('float64'), dtype('int64'))
"""
from __future__ import annotations

from .. import numpy as _gnp
from ..interop import from_dlpack as _from_dlpack
from ..ops._axis_args import axis_index

__all__ = ["arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full",
           "full_like", "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros",
           "zeros_like"]


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    """Values from ``start`` to ``stop`` (exclusive) by ``step``.

    >>> arange(1, 4).tolist()
    [1, 2, 3]
    """
    return _gnp.arange(start, stop, step, dtype=dtype, device=device)


def asarray(obj, /, *, dtype=None, device=None, copy=None):
    """An array from ``obj`` (shares memory unless a copy is needed or ``copy=True``).

    >>> asarray([1.0, 2.0]).dtype
    dtype('float64')
    """
    return _gnp.asarray(obj, dtype=dtype, device=device, copy=copy)


def empty(shape, *, dtype=None, device=None):
    """Uninitialized array.

    >>> empty((2,)).shape
    (2,)
    """
    return _gnp.empty(shape, dtype=dtype or float, device=device)


def empty_like(x, /, *, dtype=None, device=None):
    """Uninitialized array like ``x``.

    >>> empty_like(zeros(2)).shape
    (2,)
    """
    return _gnp.empty_like(x, dtype=dtype, device=device)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    """Ones on diagonal ``k``.

    >>> eye(2, 3, k=1).tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    k = axis_index(k, None, "eye: k")  # (the standard's ints: booleans and floats refused)
    return _gnp.eye(n_rows, n_cols, k, dtype=dtype or float, device=device)


def from_dlpack(x, /, *, device=None, copy=None):
    """An array from a DLPack producer (zero-copy where allowed).

    >>> import numpy
    >>> from_dlpack(numpy.ones(2)).tolist()
    [1.0, 1.0]
    """
    return _from_dlpack(x, device=device, copy=copy)


def full(shape, fill_value, *, dtype=None, device=None):
    """Filled with ``fill_value`` (bool, int64, float64 or complex128 by its type).

    >>> full((2,), 3).tolist()
    [3, 3]
    """
    return _gnp.full(shape, fill_value, dtype=dtype, device=device)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    """Filled like ``x``.

    >>> full_like(zeros(2), 4.0).tolist()
    [4.0, 4.0]
    """
    return _gnp.full_like(x, fill_value, dtype=dtype, device=device)


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    """``num`` evenly spaced values.

    >>> linspace(0, 1, 3).tolist()
    [0.0, 0.5, 1.0]
    """
    num = axis_index(num, None, "linspace: num")
    return _gnp.linspace(start, stop, num, endpoint=endpoint, dtype=dtype, device=device)


def meshgrid(*arrays, indexing="xy"):
    """Coordinate grids (a list of arrays).

    >>> [g.shape for g in meshgrid(arange(3), arange(2))]
    [(2, 3), (2, 3)]
    """
    return list(_gnp.meshgrid(*arrays, indexing=indexing))


def ones(shape, *, dtype=None, device=None):
    """Ones.

    >>> ones(2).tolist()
    [1.0, 1.0]
    """
    return _gnp.ones(shape, dtype=dtype, device=device)


def ones_like(x, /, *, dtype=None, device=None):
    """Ones like ``x``.

    >>> ones_like(zeros(2)).tolist()
    [1.0, 1.0]
    """
    return _gnp.ones_like(x, dtype=dtype, device=device)


def tril(x, /, *, k=0):
    """Lower triangle of the last two axes.

    >>> tril(ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _gnp.tril(x, axis_index(k, None, "tril: k"))


def triu(x, /, *, k=0):
    """Upper triangle of the last two axes.

    >>> triu(ones((2, 2))).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    return _gnp.triu(x, axis_index(k, None, "triu: k"))


def zeros(shape, *, dtype=None, device=None):
    """Zeros.

    >>> zeros(2).tolist()
    [0.0, 0.0]
    """
    return _gnp.zeros(shape, dtype=dtype or float, device=device)


def zeros_like(x, /, *, dtype=None, device=None):
    """Zeros like ``x``.

    >>> zeros_like(ones(2)).tolist()
    [0.0, 0.0]
    """
    return _gnp.zeros_like(x, dtype=dtype, device=device)
