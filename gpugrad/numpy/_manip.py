"""Shape manipulation, joining and splitting, sorting, searching and selection, with NumPy's
names and signatures.

>>> import gpugrad.numpy as gnp
>>> gnp.stack([gnp.zeros(2), gnp.ones(2)], axis=1).shape
(2, 2)
"""
from __future__ import annotations

import numbers

import numpy as _np

from .. import ops
from ..ops._axis_args import axis_index
from ..tensor import Tensor
from . import _core as C

__all__ = ["reshape", "ravel", "transpose", "permute_dims", "moveaxis", "swapaxes",
           "expand_dims", "squeeze", "concatenate", "concat", "stack", "hstack", "vstack",
           "dstack", "column_stack", "split", "array_split", "hsplit", "vsplit", "unstack",
           "tile", "repeat", "flip", "fliplr", "flipud", "roll", "broadcast_to",
           "broadcast_arrays", "pad", "atleast_1d", "atleast_2d", "atleast_3d", "copy",
           "sort", "argsort", "take", "take_along_axis", "put_along_axis", "nonzero", "argwhere",
           "flatnonzero", "searchsorted", "unique", "isin", "shape", "ndim", "size",
           "result_type", "can_cast",
           "iscomplexobj", "isrealobj", "meshgrid", "tril", "triu", "diagonal", "astype",
           "compress", "extract", "lexsort"]


def _list(arrays, name):
    if isinstance(arrays, (Tensor, _np.ndarray)) and arrays.ndim >= 1:
        arrays = list(arrays)  # iterate over the first axis, as NumPy does
    if not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{name}: expected a sequence of arrays, got {type(arrays).__name__}")
    like = next((a for a in arrays if isinstance(a, Tensor)), None)
    return [C.tensor(a, like) for a in arrays]


def reshape(a, /, shape=None, order="C", *, newshape=None, copy=None):
    """New shape, same data (one dimension may be -1), the elements read and placed in
    ``order`` ('C', 'F' or 'A', as NumPy); a view where NumPy gives one; differentiable.

    >>> import gpugrad.numpy as gnp
    >>> gnp.reshape(gnp.arange(6), (2, -1)).shape
    (2, 3)
    >>> gnp.reshape(gnp.arange(6), (2, 3), order="F").tolist()
    [[0, 2, 4], [1, 3, 5]]
    """
    shape = newshape if shape is None else shape
    x = C.tensor(a)
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    r = ops.reshape(x, shape, order=order) if order != "C" else ops.reshape(x, shape)
    if copy is False and not _shares(r, x):
        raise ValueError("reshape: copy=False but the new shape needs a copy")
    return ops.copy(r) if copy else r


def _shares(r, x):
    base = r.data.base if r.data.base is not None else r.data
    return base is x.data or base is x.data.base or r.data is x.data


def ravel(a, order="C"):
    """The elements as a 1-D array, read in ``order``: 'C' (rows first), 'F' (columns
    first), 'A' ('F' for a Fortran-ordered array), 'K' (memory order); differentiable.

    >>> import gpugrad.numpy as gnp
    >>> gnp.ravel([[1, 2], [3, 4]]).tolist(), gnp.ravel([[1, 2], [3, 4]], order="F").tolist()
    ([1, 2, 3, 4], [1, 3, 2, 4])
    """
    return ops.ravel(C.tensor(a), order)


def transpose(a, axes=None):
    """Permute the axes (reverse them by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.transpose(gnp.zeros((2, 3))).shape
    (3, 2)
    """
    return ops.transpose(C.tensor(a), axes)


def permute_dims(a, axes=None):
    """Same as :func:`transpose` (NumPy 2's array-API name).

    >>> import gpugrad.numpy as gnp
    >>> gnp.permute_dims(gnp.zeros((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    return transpose(a, axes)


def moveaxis(a, source, destination):
    """Move axes to new positions.

    >>> import gpugrad.numpy as gnp
    >>> gnp.moveaxis(gnp.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    return ops.moveaxis(C.tensor(a), source, destination)


def swapaxes(a, axis1, axis2):
    """Exchange two axes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.swapaxes(gnp.zeros((2, 3)), 0, 1).shape
    (3, 2)
    """
    return ops.swapaxes(C.tensor(a), axis1, axis2)


def expand_dims(a, axis):
    """Insert size-1 axes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.expand_dims(gnp.zeros(3), 0).shape
    (1, 3)
    """
    return ops.expand_dims(C.tensor(a), axis)


def squeeze(a, axis=None):
    """Remove size-1 axes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.squeeze(gnp.zeros((1, 3, 1))).shape
    (3,)
    """
    return ops.squeeze(C.tensor(a), axis)


def concatenate(arrays, /, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Join arrays along an existing axis (flattened first when ``axis`` is None).

    >>> import gpugrad.numpy as gnp
    >>> gnp.concatenate([gnp.zeros(2), gnp.ones(1)]).tolist()
    [0.0, 0.0, 1.0]
    """
    ts = _list(arrays, "concatenate")
    dt = C.dtype(dtype) or _np.result_type(*[t.dtype for t in ts])
    ts = [t.astype(dt) if t.dtype != dt else t for t in ts]
    return C.out(ops.concatenate(ts, axis=axis), out, "concatenate")


concat = concatenate


def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Join same-shaped arrays along a new axis.

    >>> import gpugrad.numpy as gnp
    >>> gnp.stack([gnp.zeros(2), gnp.ones(2)]).shape
    (2, 2)
    """
    ts = _list(arrays, "stack")
    dt = C.dtype(dtype) or _np.result_type(*[t.dtype for t in ts])
    ts = [t.astype(dt) if t.dtype != dt else t for t in ts]
    return C.out(ops.stack(ts, axis=axis), out, "stack")


def hstack(tup, *, dtype=None, casting="same_kind"):
    """Stack horizontally (along axis 1; axis 0 for 1-D arrays).

    >>> import gpugrad.numpy as gnp
    >>> gnp.hstack([gnp.zeros((2, 1)), gnp.ones((2, 2))]).shape
    (2, 3)
    """
    ts = [atleast_1d(t) for t in _list(tup, "hstack")]
    return concatenate(ts, axis=0 if ts[0].ndim == 1 else 1, dtype=dtype)


def vstack(tup, *, dtype=None, casting="same_kind"):
    """Stack vertically (1-D arrays become rows).

    >>> import gpugrad.numpy as gnp
    >>> gnp.vstack([gnp.zeros(2), gnp.ones(2)]).shape
    (2, 2)
    """
    return concatenate([atleast_2d(t) for t in _list(tup, "vstack")], axis=0, dtype=dtype)


def dstack(tup):
    """Stack along the third axis.

    >>> import gpugrad.numpy as gnp
    >>> gnp.dstack([gnp.zeros(2), gnp.ones(2)]).shape
    (1, 2, 2)
    """
    return concatenate([atleast_3d(t) for t in _list(tup, "dstack")], axis=2)


def column_stack(tup):
    """Stack 1-D arrays as columns.

    >>> import gpugrad.numpy as gnp
    >>> gnp.column_stack([gnp.zeros(3), gnp.ones(3)]).shape
    (3, 2)
    """
    ts = [t if t.ndim >= 2 else ops.reshape(t, (-1, 1)) for t in _list(tup, "column_stack")]
    return concatenate(ts, axis=1)


def split(ary, indices_or_sections, axis=0):
    """Split into equal sections or at indices (views; differentiable).

    >>> import gpugrad.numpy as gnp
    >>> [p.shape for p in gnp.split(gnp.zeros(6), 3)]
    [(2,), (2,), (2,)]
    """
    return ops.split(C.tensor(ary), indices_or_sections, axis)


def array_split(ary, indices_or_sections, axis=0):
    """Like :func:`split`, but sections may differ in size by one.

    >>> import gpugrad.numpy as gnp
    >>> [p.shape for p in gnp.array_split(gnp.zeros(5), 2)]
    [(3,), (2,)]
    """
    x = C.tensor(ary)
    if isinstance(indices_or_sections, numbers.Integral) or \
            getattr(indices_or_sections, "ndim", None) == 0:  # (NumPy: what has no len())
        n, k = x.shape[axis], int(indices_or_sections)
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        indices_or_sections = list(_np.cumsum(sizes)[:-1])
    return ops.split(x, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    """Split along axis 1 (axis 0 for 1-D).

    >>> import gpugrad.numpy as gnp
    >>> len(gnp.hsplit(gnp.zeros((2, 4)), 2))
    2
    """
    x = C.tensor(ary)
    return split(x, indices_or_sections, axis=1 if x.ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    """Split along axis 0.

    >>> import gpugrad.numpy as gnp
    >>> len(gnp.vsplit(gnp.zeros((4, 2)), 2))
    2
    """
    return split(ary, indices_or_sections, axis=0)


def unstack(x, /, *, axis=0):
    """The slices along ``axis`` as a tuple.

    >>> import gpugrad.numpy as gnp
    >>> len(gnp.unstack(gnp.zeros((3, 2))))
    3
    """
    t = C.tensor(x)
    ax = axis_index(axis, t.ndim, strict=False)
    return tuple(t[(slice(None),) * ax + (i,)] for i in range(t.shape[ax]))


def tile(A, reps):
    """Repeat the whole array.

    >>> import gpugrad.numpy as gnp
    >>> gnp.tile(gnp.array([1, 2]), 2).tolist()
    [1, 2, 1, 2]
    """
    return ops.tile(C.tensor(A), reps)


def repeat(a, repeats, axis=None):
    """Repeat each element.

    >>> import gpugrad.numpy as gnp
    >>> gnp.repeat(gnp.array([1, 2]), 2).tolist()
    [1, 1, 2, 2]
    """
    return ops.repeat(C.tensor(a), repeats, axis)


def flip(m, axis=None):
    """Reverse the order along ``axis`` (all axes by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.flip(gnp.array([1, 2, 3])).tolist()
    [3, 2, 1]
    """
    return ops.flip(C.tensor(m), axis)


def fliplr(m):
    """Reverse along axis 1.

    >>> import gpugrad.numpy as gnp
    >>> gnp.fliplr(gnp.array([[1, 2]])).tolist()
    [[2, 1]]
    """
    return flip(m, 1)


def flipud(m):
    """Reverse along axis 0.

    >>> import gpugrad.numpy as gnp
    >>> gnp.flipud(gnp.array([[1], [2]])).tolist()
    [[2], [1]]
    """
    return flip(m, 0)


def roll(a, shift, axis=None):
    """Shift elements cyclically.

    >>> import gpugrad.numpy as gnp
    >>> gnp.roll(gnp.array([1, 2, 3]), 1).tolist()
    [3, 1, 2]
    """
    return ops.roll(C.tensor(a), shift, axis)


def broadcast_to(array, shape, subok=False):
    """A broadcast view with the given shape.

    >>> import gpugrad.numpy as gnp
    >>> gnp.broadcast_to(gnp.array([1.0, 2.0]), (3, 2)).shape
    (3, 2)
    """
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    return ops.broadcast_to(C.tensor(array), shape)


def broadcast_arrays(*args, subok=False):
    """The arguments broadcast against each other.

    >>> import gpugrad.numpy as gnp
    >>> [t.shape for t in gnp.broadcast_arrays(gnp.zeros((2, 1)), gnp.zeros(3))]
    [(2, 3), (2, 3)]
    """
    ts = _list(list(args), "broadcast_arrays")
    shape = _np.broadcast_shapes(*[t.shape for t in ts])
    return tuple(ops.broadcast_to(t, shape) for t in ts)


def _atleast(n, arys):
    out = []
    for a in arys:
        t = C.tensor(a)
        if t.ndim < n:
            shape = {1: {0: (1,)},
                     2: {0: (1, 1), 1: (1,) + t.shape},
                     3: {0: (1, 1, 1), 1: (1,) + t.shape + (1,), 2: t.shape + (1,)}}[n][t.ndim]
            t = ops.reshape(t, shape)
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys):
    """Views with at least one dimension.

    >>> import gpugrad.numpy as gnp
    >>> gnp.atleast_1d(1.0).shape
    (1,)
    """
    return _atleast(1, arys)


def atleast_2d(*arys):
    """Views with at least two dimensions.

    >>> import gpugrad.numpy as gnp
    >>> gnp.atleast_2d([1, 2]).shape
    (1, 2)
    """
    return _atleast(2, arys)


def atleast_3d(*arys):
    """Views with at least three dimensions.

    >>> import gpugrad.numpy as gnp
    >>> gnp.atleast_3d([1, 2]).shape
    (1, 2, 1)
    """
    return _atleast(3, arys)


from ._pad import pad  # noqa: E402,F401
from ._select import *  # noqa: E402,F401,F403
