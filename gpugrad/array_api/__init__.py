"""The Python array API standard (2023.12) namespace for gpugrad tensors:
``x.__array_namespace__()`` returns this module, so array-API-consuming libraries accept
gpugrad tensors, and everything stays differentiable where the math is.

Type promotion follows the standard's table; where the standard leaves it unspecified
(mixed kinds such as int + float, int64 + uint64, a float Python scalar with an integer
array), NumPy 2's rules apply.  Default dtypes are float64/int64/complex128 (see
``__array_namespace_info__().default_dtypes()``).  Both optional extensions are provided,
``linalg`` and ``fft``, differentiable.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> xp = x.__array_namespace__()
>>> y = xp.sum(xp.pow(x, 2)); y.backward(); x.grad.tolist()
[2.0, 4.0, 6.0]
"""
from __future__ import annotations

from collections import namedtuple

import numpy as _np

from .. import dtypes as _d
from .. import numpy as _gnp
from .. import ops as _ops
from ..ops import _axis_args
from ..tensor import Tensor as _Tensor
from . import fft, linalg
from ._creation import *  # noqa: F401,F403
from ._creation import __all__ as _call
from ._elementwise import *  # noqa: F401,F403
from ._elementwise import __all__ as _eall
from ._info import __array_namespace_info__, finfo, iinfo, isdtype  # noqa: F401
from ._info import dtype_arg as _dtype_arg

__array_api_version__ = "2023.12"

bool = _d.bool_  # noqa: A001
int8, int16, int32, int64 = _d.int8, _d.int16, _d.int32, _d.int64
uint8, uint16, uint32, uint64 = _d.uint8, _d.uint16, _d.uint32, _d.uint64
float32, float64, complex64, complex128 = _d.float32, _d.float64, _d.complex64, _d.complex128
e, inf, nan, pi, newaxis = _np.e, _np.inf, _np.nan, _np.pi, None

_t = _gnp._core.tensor
_axes = _axis_args.axis_arg  # the standard's integer arguments: booleans and floats refused


def _int(v, what):
    return None if v is None else _axis_args.axis_index(v, None, what)


# ================================================================ data type functions
def astype(x, dtype, /, *, copy=True, device=None):
    """Cast ``x`` to ``dtype`` (differentiable between floating dtypes).

    >>> import gpugrad as gg
    >>> astype(gg.tensor([1.5]), int32).dtype
    dtype('int32')
    """
    return _gnp.astype(x, _dtype_arg(dtype, "astype"), copy=copy, device=device)


def can_cast(from_, to, /):
    """Whether ``from_`` (a dtype or array) can be cast to ``to`` under the promotion rules.

    >>> can_cast(int8, int64), can_cast(float64, float32)
    (True, False)
    """
    return _np.can_cast(_dtype_arg(from_, "can_cast"), _dtype_arg(to, "can_cast"))


def result_type(*arrays_and_dtypes):
    """The dtype the promotion rules give for arrays and dtypes.

    >>> result_type(int8, uint8)
    dtype('int16')
    """
    if not arrays_and_dtypes:
        raise ValueError("result_type: at least one array or dtype is required")
    return _np.result_type(*[_dtype_arg(a, "result_type") for a in arrays_and_dtypes])


# ================================================================ manipulation
def broadcast_arrays(*arrays):
    """The arrays broadcast to one shape (a list).

    >>> [a.shape for a in broadcast_arrays(zeros((2, 1)), zeros(3))]
    [(2, 3), (2, 3)]
    """
    return list(_gnp.broadcast_arrays(*arrays))


def broadcast_to(x, /, shape):
    """``x`` broadcast to ``shape``.

    >>> broadcast_to(zeros(2), (3, 2)).shape
    (3, 2)
    """
    return _gnp.broadcast_to(x, shape)


def concat(arrays, /, *, axis=0):
    """Join arrays along ``axis`` (flattened first when None), promoting dtypes.

    >>> concat([zeros(2), ones(1)]).tolist()
    [0.0, 0.0, 1.0]
    """
    return _gnp.concatenate(list(arrays), axis=axis)


def expand_dims(x, /, axis=0):
    """Insert a size-1 axis at ``axis``.

    >>> expand_dims(zeros(3), axis=-1).shape
    (3, 1)
    """
    return _gnp.expand_dims(x, _int(axis, "expand_dims: axis"))


def flip(x, /, *, axis=None):
    """Reverse the order along ``axis`` (all axes when None).

    >>> flip(arange(3)).tolist()
    [2, 1, 0]
    """
    return _gnp.flip(x, _axes(axis, "flip: axis"))


def moveaxis(x, source, destination, /):
    """Move axes to new positions.

    >>> moveaxis(zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    return _gnp.moveaxis(x, _axes(source, "moveaxis: source"),
                         _axes(destination, "moveaxis: destination"))


def permute_dims(x, /, axes):
    """Permute the axes.

    >>> permute_dims(zeros((2, 3)), (1, 0)).shape
    (3, 2)
    """
    return _gnp.transpose(x, _axes(axes, "permute_dims: axes"))


def repeat(x, repeats, /, *, axis=None):
    """Repeat each element ``repeats`` times (an int or an array of counts).

    >>> repeat(arange(2), 2).tolist()
    [0, 0, 1, 1]
    """
    if not hasattr(repeats, "ndim") or isinstance(repeats, _np.generic):  # (else an array)
        repeats = _int(repeats, "repeat: repeats")
    return _gnp.repeat(x, repeats, _int(axis, "repeat: axis"))


def reshape(x, /, shape, *, copy=None):
    """``x`` with a new shape (``copy=False`` raises if a view is impossible).

    >>> reshape(arange(6), (2, 3)).shape
    (2, 3)
    """
    return _gnp.reshape(x, shape, copy=copy)


def roll(x, /, shift, *, axis=None):
    """Shift elements cyclically.

    >>> roll(arange(3), 1).tolist()
    [2, 0, 1]
    """
    return _gnp.roll(x, _axes(shift, "roll: shift"), _axes(axis, "roll: axis"))


def squeeze(x, /, axis):
    """Remove the size-1 axes named by ``axis``.

    >>> squeeze(zeros((1, 3)), 0).shape
    (3,)
    """
    return _gnp.squeeze(x, axis)


def stack(arrays, /, *, axis=0):
    """Join same-shaped arrays along a new axis.

    >>> stack([zeros(2), ones(2)]).shape
    (2, 2)
    """
    return _gnp.stack(list(arrays), axis=_int(axis, "stack: axis"))


def tile(x, repetitions, /):
    """Repeat the whole array.

    >>> tile(arange(2), (2,)).tolist()
    [0, 1, 0, 1]
    """
    return _gnp.tile(x, repetitions)


def unstack(x, /, *, axis=0):
    """The slices of ``x`` along ``axis`` (a tuple).

    >>> len(unstack(zeros((3, 2))))
    3
    """
    return _gnp.unstack(x, axis=_int(axis, "unstack: axis"))


# ================================================================ indexing, searching, sorting
def take(x, indices, /, *, axis=None):
    """Elements at ``indices`` along ``axis``.

    >>> take(asarray([10, 20, 30]), asarray([2, 0])).tolist()
    [30, 10]
    """
    if axis is None and _t(x).ndim > 1:
        raise ValueError("take: axis is required for arrays of more than 1 dimension")
    return _gnp.take(x, indices, axis=axis)


def argmax(x, /, *, axis=None, keepdims=False):
    """Index of the maximum (first occurrence).

    >>> argmax(asarray([1, 5, 2])).item()
    1
    """
    return _gnp.argmax(x, axis=axis, keepdims=keepdims)


def argmin(x, /, *, axis=None, keepdims=False):
    """Index of the minimum (first occurrence).

    >>> argmin(asarray([1, 5, -2])).item()
    2
    """
    return _gnp.argmin(x, axis=axis, keepdims=keepdims)


def nonzero(x, /):
    """Indices of nonzero elements, one array per dimension.

    >>> nonzero(asarray([0, 1, 1]))[0].tolist()
    [1, 2]
    """
    return _gnp.nonzero(x)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Insertion indices of ``x2`` into sorted 1-D ``x1``.

    >>> searchsorted(asarray([1, 3]), asarray([2])).tolist()
    [1]
    """
    return _gnp.searchsorted(x1, x2, side=side, sorter=sorter)


def where(condition, x1, x2, /):
    """``x1`` where ``condition`` holds, else ``x2`` (promoted).

    >>> where(asarray([True, False]), asarray([1.0, 2.0]), asarray([0.0, 0.0])).tolist()
    [1.0, 0.0]
    """
    return _gnp.where(condition, x1, x2)


def sort(x, /, *, axis=-1, descending=False, stable=True):
    """Sorted copy along ``axis``; the gradient is un-permuted.

    >>> sort(asarray([3, 1, 2]), descending=True).tolist()
    [3, 2, 1]
    """
    return _ops.sort(_t(x), axis=_int(axis, "sort: axis"), descending=descending)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    """Indices that sort ``x`` along ``axis`` (stable, also when descending).

    >>> argsort(asarray([3, 1, 3]), descending=True).tolist()
    [0, 2, 1]
    """
    return _ops.argsort(_t(x), axis=axis, descending=descending, stable=stable)


# ================================================================ sets (no gradient)
UniqueAllResult = namedtuple("UniqueAllResult", "values indices inverse_indices counts")
UniqueCountsResult = namedtuple("UniqueCountsResult", "values counts")
UniqueInverseResult = namedtuple("UniqueInverseResult", "values inverse_indices")


def _unique(x, **kw):
    t = _t(x)
    res = _gnp.unique(t, equal_nan=False, **kw)
    return (res,) if isinstance(res, _Tensor) else res


def unique_all(x, /):
    """Unique values with first indices, inverse indices (shape of x) and counts.

    >>> unique_all(asarray([2, 1, 2])).counts.tolist()
    [1, 2]
    """
    v, i, inv, c = _unique(x, return_index=True, return_inverse=True, return_counts=True)
    return UniqueAllResult(v, i, _ops.reshape(inv, _t(x).shape), c)


def unique_counts(x, /):
    """Unique values and their counts.

    >>> unique_counts(asarray([2, 1, 2])).values.tolist()
    [1, 2]
    """
    return UniqueCountsResult(*_unique(x, return_counts=True))


def unique_inverse(x, /):
    """Unique values and the inverse indices (shape of x) that rebuild ``x``.

    >>> unique_inverse(asarray([2, 1, 2])).inverse_indices.tolist()
    [1, 0, 1]
    """
    v, inv = _unique(x, return_inverse=True)
    return UniqueInverseResult(v, _ops.reshape(inv, _t(x).shape))


def unique_values(x, /):
    """The unique values (NaNs are distinct).

    >>> unique_values(asarray([2, 1, 2])).tolist()
    [1, 2]
    """
    return _unique(x)[0]


from ._stats import *  # noqa: E402,F401,F403
from ._stats import __all__ as _sall  # noqa: E402

__all__ = (list(_call) + list(_eall) + list(_sall) + [
    "__array_namespace_info__", "isdtype", "astype", "can_cast", "finfo", "iinfo",
    "result_type", "broadcast_arrays", "broadcast_to", "concat", "expand_dims", "flip",
    "moveaxis", "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile",
    "unstack", "take", "argmax", "argmin", "nonzero", "searchsorted", "where", "sort",
    "argsort", "unique_all", "unique_counts", "unique_inverse", "unique_values", "linalg",
    "fft",
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128", "e", "inf", "nan", "pi", "newaxis"])
