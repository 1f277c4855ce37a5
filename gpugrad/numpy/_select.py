"""Sorting, searching, selection, triangles and array inspection with NumPy's signatures.

>>> import gpugrad.numpy as gnp
>>> gnp.sort(gnp.array([3, 1, 2])).tolist()
[1, 2, 3]
"""
from __future__ import annotations

import math
import operator

import numpy as _np

from .. import ops
from ..tensor import Tensor
from ..ops import search
from ..ops.sorting import sort_kind
from . import _core as C
from ._creation import array as _array
from ..creation import arange as _arange

__all__ = ["sort", "argsort", "take", "take_along_axis", "put_along_axis", "nonzero", "argwhere",
           "flatnonzero", "searchsorted", "unique", "isin", "shape", "ndim", "size",
           "result_type", "can_cast",
           "iscomplexobj", "isrealobj", "meshgrid", "tril", "triu", "diagonal", "copy",
           "astype", "compress", "extract", "lexsort"]


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Sorted copy along ``axis`` (flattened when None); the gradient is un-permuted.
    ``kind``/``stable`` as NumPy's: on the CPU the answer is NumPy's, bit for bit (its
    default introsort places ties, -0.0/0.0 and NaNs its own way); CuPy sorts stably.

    >>> import gpugrad.numpy as gnp
    >>> gnp.sort(gnp.array([[3.0, 1.0], [0.0, 2.0]]), axis=0).tolist()
    [[0.0, 1.0], [3.0, 2.0]]
    """
    k = sort_kind(kind, stable) or "quicksort"
    C.unsupported("sort", order=(order, None))
    return ops.sort(C.tensor(a), axis=axis, kind=k)


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Indices (int64) that sort ``a`` (no gradient): NumPy's exact answer on the CPU for
    every ``kind`` and ``stable`` (the default kind is NumPy's introsort: ties do not keep
    their input order); CuPy's order is always the stable one.  A 0-d ``a`` gives ``[0]``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.argsort(gnp.array([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
    >>> gnp.argsort(gnp.array([1, 0, 1, 0]), stable=True).tolist()
    [1, 3, 0, 2]
    """
    k = sort_kind(kind, stable) or "quicksort"
    C.unsupported("argsort", order=(order, None))
    x = C.tensor(a)
    return ops.argsort(ops.reshape(x, (1,)) if x.ndim == 0 else x, axis=axis, kind=k)


def take(a, indices, axis=None, out=None, mode="raise"):
    """Elements at integer ``indices`` along ``axis`` (of the flattened array when None).

    >>> import gpugrad.numpy as gnp
    >>> gnp.take(gnp.array([10.0, 20.0, 30.0]), [2, 0]).tolist()
    [30.0, 10.0]
    """
    C.unsupported("take", mode=(mode, "raise"))
    x = C.tensor(a)
    idx = C.tensor(indices, x)
    return C.out(ops.take(x, idx, axis=axis), out, "take")


def take_along_axis(arr, indices, axis=-1):
    """Values at ``indices`` along ``axis`` (as from argsort); differentiable.

    >>> import gpugrad.numpy as gnp
    >>> x = gnp.array([[3.0, 1.0]]); gnp.take_along_axis(x, gnp.argsort(x, 1), 1).tolist()
    [[1.0, 3.0]]
    """
    x = C.tensor(arr)
    return ops.take_along_axis(x, C.tensor(indices, x), axis)


def put_along_axis(arr, indices, values, axis):
    """Write ``values`` into tensor ``arr`` in place at ``indices`` along ``axis`` (the
    positions :func:`take_along_axis` reads; ``axis=None``: of the flattened ``arr``), as
    NumPy's; differentiable (a write through ``arr[key] = values``), and on CUDA a bad index
    raises NumPy's IndexError at the next synchronization, its write dropped.  A NumPy
    ``arr`` is NumPy's own.

    >>> import gpugrad.numpy as gnp
    >>> a = gnp.zeros((2, 2)); gnp.put_along_axis(a, gnp.array([[1], [0]]), 5.0, 1)
    >>> a.tolist()
    [[0.0, 5.0], [5.0, 0.0]]
    """
    if not isinstance(arr, Tensor):
        return _np.put_along_axis(arr, C.raw(indices) if isinstance(indices, Tensor)
                                  else indices, C.raw(values) if isinstance(values, Tensor)
                                  else values, axis)
    idx = C.tensor(indices, arr)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"`indices` must be an integer array, got {idx.dtype.name}")
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"when axis=None, `indices` must have a single dimension, got "
                             f"{idx.ndim}")
        from ..ops.flat_writes import flat_index
        key = flat_index(arr.shape, idx) if arr.ndim else (idx,)
    else:
        ax = operator.index(axis) + (arr.ndim if operator.index(axis) < 0 else 0)
        if not 0 <= ax < arr.ndim:
            raise _np.exceptions.AxisError(axis, arr.ndim)
        if idx.ndim != arr.ndim:
            raise ValueError("`indices` and `arr` must have the same number of dimensions")
        key = tuple(idx if d == ax else ops.reshape(
            _arange(n, device=arr.device),
            tuple(-1 if e == d else 1 for e in range(arr.ndim))) for d, n in enumerate(arr.shape))
    arr[key] = values
    return None


def nonzero(a):
    """Indices (int64) of the nonzero elements, one index array per dimension, in C order
    (no gradient; replayed by a captured step).  ValueError for a 0-d ``a``.

    >>> import gpugrad.numpy as gnp
    >>> [t.tolist() for t in gnp.nonzero(gnp.array([0, 3, 0, 4]))]
    [[1, 3]]
    """
    return search.nonzero(C.tensor(a))


def argwhere(a):
    """Indices of nonzero elements, one row per element (shape ``(n, a.ndim)``).

    >>> import gpugrad.numpy as gnp
    >>> gnp.argwhere(gnp.array([[0, 1], [1, 0]])).tolist()
    [[0, 1], [1, 0]]
    """
    return search.argwhere(C.tensor(a))


def flatnonzero(a):
    """Indices of nonzero elements of the flattened array.

    >>> import gpugrad.numpy as gnp
    >>> gnp.flatnonzero(gnp.array([0, 2, 3])).tolist()
    [1, 2]
    """
    return search.flatnonzero(C.tensor(a))


def searchsorted(a, v, side="left", sorter=None):
    """Insertion indices of ``v`` in sorted ``a`` (no gradient).

    >>> import gpugrad.numpy as gnp
    >>> gnp.searchsorted(gnp.array([1, 3, 5]), [3, 6]).tolist()
    [1, 3]
    """
    return C.nograd(lambda xp, x, y, s: xp.asarray(xp.searchsorted(x, y, side=side, sorter=s)),
                    C.tensor(a), v, sorter)


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None, *,
           equal_nan=True, sorted=True):
    """Sorted unique elements, optionally with first indices, inverse and counts.  The
    values are differentiable: each takes the gradient of its first occurrence in ``ar``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.unique(gnp.array([3, 1, 3])).tolist()
    [1, 3]
    """
    x = C.tensor(ar)
    gather = C.traced(x)  # the values are x's own: take them from x, in the graph

    def f(xp, v):
        kw = {"equal_nan": equal_nan} if xp is _np else {}
        if not sorted:
            kw["sorted"] = False
        return xp.unique(v, return_index=return_index or gather, return_inverse=return_inverse,
                         return_counts=return_counts, axis=axis, **kw)
    r = C.nograd(f, x)
    if not gather:
        return r
    values = (ops.getitem(ops.ravel(x), r[1]) if axis is None
              else ops.take(x, r[1], axis=axis))
    rest = r[1:] if return_index else r[2:]
    return (values,) + tuple(rest) if rest else values


def isin(element, test_elements, assume_unique=False, invert=False, *, kind=None):
    """Elementwise membership test (no gradient).

    >>> import gpugrad.numpy as gnp
    >>> gnp.isin(gnp.array([1, 2, 3]), [2]).tolist()
    [False, True, False]
    """
    e = C.tensor(element)
    t = test_elements if isinstance(test_elements, (Tensor, list, tuple)) else C.tensor(
        test_elements, e)
    return C.nograd(lambda xp, e, t: xp.isin(e, t, invert=invert), e, t)


from ._search import compress, extract, lexsort  # noqa: E402,F401


def _plain(a):
    """``a`` with every tensor inside a list replaced by zeros of its shape and dtype: what
    NumPy needs to answer a question about shape or dtype without reading the values."""
    return C.skeleton(a) if isinstance(a, (list, tuple)) and C.holds_tensor(a) else a


def shape(a):
    """The shape of ``a`` (a tuple).

    >>> import gpugrad.numpy as gnp
    >>> gnp.shape(gnp.zeros((2, 3)))
    (2, 3)
    """
    return a.shape if isinstance(a, Tensor) else _np.shape(_plain(a))


def ndim(a):
    """The number of dimensions of ``a``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.ndim(gnp.zeros((2, 3)))
    2
    """
    return a.ndim if isinstance(a, Tensor) else _np.ndim(_plain(a))


def size(a, axis=None):
    """The number of elements (along ``axis``).

    >>> import gpugrad.numpy as gnp
    >>> gnp.size(gnp.zeros((2, 3)))
    6
    """
    s = shape(a)
    return int(_np.prod(s)) if axis is None else s[axis]


def _dt(x):
    return x.dtype if isinstance(x, Tensor) else x


def result_type(*arrays_and_dtypes):
    """The dtype NumPy's promotion gives for the arguments.

    >>> import gpugrad.numpy as gnp
    >>> gnp.result_type(gnp.zeros(1, dtype="float32"), "float64")
    dtype('float64')
    """
    return _np.result_type(*[_dt(x) for x in arrays_and_dtypes])


def can_cast(from_, to, casting="safe"):
    """Whether a cast from ``from_`` (a dtype or array) to ``to`` is allowed.

    >>> import gpugrad.numpy as gnp
    >>> gnp.can_cast(gnp.zeros(1, dtype="int32"), "float64")
    True
    """
    return _np.can_cast(_dt(from_), to, casting)


def iscomplexobj(x):
    """True for complex dtypes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.iscomplexobj(gnp.zeros(1))
    False
    """
    return _np.dtype(_dt(x) if isinstance(x, Tensor) else _np.asarray(_plain(x)).dtype).kind == "c"


def isrealobj(x):
    """True for non-complex dtypes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.isrealobj(gnp.zeros(1))
    True
    """
    return not iscomplexobj(x)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate grids from 1-D arrays (differentiable broadcasts).

    >>> import gpugrad.numpy as gnp
    >>> [g.shape for g in gnp.meshgrid(gnp.arange(3), gnp.arange(2))]
    [(2, 3), (2, 3)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ts = [ops.ravel(C.tensor(x)) for x in xi]
    n = len(ts)
    shapes = [[1] * n for _ in ts]
    for i, t in enumerate(ts):
        shapes[i][i] = t.shape[0]
    if indexing == "xy" and n > 1:
        for s in shapes:
            s[0], s[1] = s[1], s[0]
    out = [ops.reshape(t, tuple(s)) for t, s in zip(ts, shapes)]
    if sparse:
        return tuple(out)
    full = _np.broadcast_shapes(*[o.shape for o in out])
    return tuple(ops.copy(ops.broadcast_to(o, full)) if copy else ops.broadcast_to(o, full)
                 for o in out)


def tril(m, k=0):
    """Lower triangle (of the last two axes).

    >>> import gpugrad.numpy as gnp
    >>> gnp.tril(gnp.ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return ops.tril(C.tensor(m), _tri_k(k, 0))


def _tri_k(k, shift):
    """A diagonal offset as NumPy's tril (``shift`` 0) and triu (``shift`` -1) take it: they
    compute ``tri(..., k + shift)`` with it, so a float counts by its floor, ``True`` is 1,
    and what that arithmetic refuses (a string; ``numpy.True_`` in tril) is a TypeError."""
    if isinstance(k, Tensor):
        return operator.index(k)
    _np.tri(1, 1, k + shift if shift else k)  # (NumPy's own checks, on a 1x1 answer)
    return math.floor(k)


def triu(m, k=0):
    """Upper triangle (of the last two axes).

    >>> import gpugrad.numpy as gnp
    >>> gnp.triu(gnp.ones((2, 2))).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    return ops.triu(C.tensor(m), _tri_k(k, -1))


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of two axes, as the last axis: as NumPy's, a read-only view of ``a``
    (differentiable; a copy on a GPU), the same as the method ``a.diagonal()``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.diagonal(gnp.array([[1, 2], [3, 4]])).tolist()
    [1, 4]
    """
    return C.tensor(a).diagonal(offset, axis1, axis2)


def copy(a, order="K", subok=False):
    """A differentiable copy, in NumPy's memory layout ``order`` ('K': ``a``'s own, 'A',
    'C' or 'F'; see :func:`gpugrad.numpy.array`).

    >>> import gpugrad.numpy as gnp
    >>> gnp.copy([1.0]).tolist()
    [1.0]
    """
    return _array(a, copy=True, order=order)


def astype(x, dtype, /, *, copy=True, device=None):
    """Cast to ``dtype`` (differentiable between floating dtypes).

    >>> import gpugrad.numpy as gnp
    >>> gnp.astype(gnp.array([1.5]), "int32").dtype
    dtype('int32')
    """
    t = C.tensor(x)
    if device is not None:
        t = ops.to_device(t, device)
    dt = C.dtype(dtype)
    if dt == t.dtype:
        return ops.copy(t, order="K") if copy else t  # (NumPy: the input's layout)
    return ops.astype(t, dt)
