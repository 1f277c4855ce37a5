"""Reductions with NumPy's signatures: sum, mean, var, std, prod, max/min, argmax/argmin,
all/any, average, ptp, nansum/nanmean, count_nonzero, diff, and ``logsumexp`` (from SciPy,
as a helper).  The running ones (cumsum/cumprod, cumulative_sum/cumulative_prod) are in
_reduce_cumulative.py and their dtype rules in _reduce_dtype.py; all are exported from here.

>>> import gpugrad.numpy as gnp
>>> x = gnp.array([[1.0, 2.0], [3.0, 5.0]])
>>> gnp.sum(x, axis=0).tolist(), gnp.var(x, ddof=1).item()
([4.0, 7.0], 2.9166666666666665)
"""
from __future__ import annotations

import operator

import numpy as _np

from .. import ops
from ..autocast_state import _state as _amp
from ..dtypes import is_inexact, is_low_precision
from ..ops._axis_args import axis_arg, axis_index
from ..ops._fast import fast_sum
from . import _core as C
from ._reduce_axis import reduce_axis as _axis
from ._reduce_cumulative import cumprod, cumsum, cumulative_prod, cumulative_sum
from ._reduce_dtype import as_requested as _as_requested, exact_kind as _exact_kind
from ._reduce_dtype import floated as _floated

__all__ = ["sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax",
           "argmin", "cumsum", "cumprod", "all", "any", "average", "ptp", "nansum",
           "nanmean", "count_nonzero", "diff", "logsumexp", "cumulative_sum", "cumulative_prod"]

_builtin_max, _builtin_min, _builtin_sum = max, min, sum


def _masked(name, a, where, axis, out, keepdims, **kw):
    from ._reduce_where import masked_reduce  # (NumPy's where=: the selected elements only)

    return masked_reduce(name, a, where, axis, out, keepdims, **kw)


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=C._NOVALUE, where=True):
    """Sum of elements over ``axis``; integer and bool inputs sum in int64 as in NumPy.

    >>> import gpugrad.numpy as gnp
    >>> gnp.sum([[1, 2], [3, 4]], axis=1).tolist()
    [3, 7]
    """
    if axis is None and dtype is None and out is None and not keepdims and where is True \
            and initial is C._NOVALUE:
        r = fast_sum(a)  # a plain tensor, summed whole: NumPy's sum directly
        if r is not None:
            return r
    if where is not True:
        return _masked("sum", a, where, axis, out, keepdims, dtype=dtype, initial=initial)
    exact = _exact_kind("sum", a, dtype, out, axis=axis, keepdims=keepdims, initial=initial)
    if exact is not None:
        return exact
    x = C.tensor(a)
    dt = C.dtype(dtype)
    if dt is not None and dt.kind in "fc" and x.dtype != dt:
        x, dt = x.astype(dt), None
    r = ops.sum(x, axis=_axis(axis, x), keepdims=keepdims, dtype=dt)
    if initial is not C._NOVALUE:
        r = ops.add(r, initial)
    return C.out(r, out, "sum")


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Arithmetic mean over ``axis`` (float64 for integer input).

    >>> import gpugrad.numpy as gnp
    >>> gnp.mean([1, 2, 6]).item()
    3.0
    """
    if where is not True:
        return _masked("mean", a, where, axis, out, keepdims, dtype=dtype)
    exact = _exact_kind("mean", a, dtype, out, axis=axis, keepdims=keepdims)
    if exact is not None:
        return exact
    x = _floated(a, dtype)
    r = ops.mean(x, axis=_axis(axis, x, False), keepdims=keepdims)
    return C.out(_as_requested(r, dtype), out, "mean")


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
        mean=C._NOVALUE, correction=C._NOVALUE):
    """Variance with ``ddof`` (or the array API's ``correction``); real for complex input,
    as NumPy's.

    >>> import gpugrad.numpy as gnp
    >>> gnp.var([1.0, 3.0]).item()
    1.0
    """
    if mean is not C._NOVALUE:
        raise C.Unsupported("gpugrad.numpy.var: mean= is not supported")
    if correction is not C._NOVALUE:
        ddof = correction
    if where is not True:
        return _masked("var", a, where, axis, out, keepdims, dtype=dtype, ddof=ddof)
    exact = _exact_kind("var", a, dtype, out, axis=axis, keepdims=keepdims, ddof=ddof)
    if exact is not None:
        return exact
    x = _floated(a, dtype)
    # (complex: NumPy's real mean squared modulus, re**2 + im**2 summed once -- the sum of
    # the two parts' variances rounds apart)
    r = ops.var(x, axis=_axis(axis, x, False), keepdims=keepdims, ddof=ddof)
    return C.out(_as_requested(r, dtype), out, "var")


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
        mean=C._NOVALUE, correction=C._NOVALUE):
    """Standard deviation (the square root of :func:`var`); its gradient is 0 over a constant
    slice, where sqrt's would be 0/0 (NaN).

    >>> import gpugrad.numpy as gnp
    >>> gnp.std([1.0, 3.0]).item()
    1.0
    """
    if mean is not C._NOVALUE:
        raise C.Unsupported("gpugrad.numpy.std: mean= is not supported")
    if correction is not C._NOVALUE:
        ddof = correction
    if where is not True:
        return _masked("std", a, where, axis, out, keepdims, dtype=dtype, ddof=ddof)
    exact = _exact_kind("std", a, dtype, out, axis=axis, keepdims=keepdims, ddof=ddof)
    if exact is not None:
        return exact
    x = _floated(a, dtype)
    r = ops.std(x, axis=_axis(axis, x, False), keepdims=keepdims, ddof=ddof)  # (see var)
    return C.out(_as_requested(r, dtype), out, "std")


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=C._NOVALUE, where=True):
    """Product of elements over ``axis`` (exact gradient with zeros).

    >>> import gpugrad.numpy as gnp
    >>> gnp.prod([2.0, 3.0]).item()
    6.0
    """
    if where is not True:
        return _masked("prod", a, where, axis, out, keepdims, dtype=dtype, initial=initial)
    exact = _exact_kind("prod", a, dtype, out, axis=axis, keepdims=keepdims, initial=initial)
    if exact is not None:
        return exact
    x = C.tensor(a)
    dt = C.dtype(dtype)
    if dt is not None and x.dtype != dt:
        x = x.astype(dt)
    elif x.dtype.kind in "bi":
        x = x.astype(_np.int64)
    elif x.dtype.kind == "u":
        x = x.astype(_np.uint64)
    r = ops.prod(x, axis=_axis(axis, x), keepdims=keepdims)
    if initial is not C._NOVALUE:
        r = ops.multiply(r, initial)
    return C.out(r, out, "prod")


def _extreme(name, fn, combine):
    def f(a, axis=None, out=None, keepdims=False, initial=C._NOVALUE, where=True):
        if where is not True:
            return _masked(name, a, where, axis, out, keepdims, initial=initial)
        x = C.tensor(a)
        if x.size == 0 and initial is not C._NOVALUE:
            raise C.Unsupported(f"gpugrad.numpy.{name}: initial= with an empty array")
        if x.size == 0:
            raise ValueError(f"zero-size array to reduction operation {name} which has no "
                             f"identity")
        if initial is not C._NOVALUE and x.dtype.kind not in "fc":  # no gradient: NumPy's
            return C.out(C.nograd(lambda xp, v: xp.asarray(getattr(xp, name)(  # (initial
                v, axis=axis, keepdims=keepdims, initial=initial)), x), out, name)  # cast in)
        r = fn(x, axis=_axis(axis, x), keepdims=keepdims)
        if initial is not C._NOVALUE:
            r = combine(r, initial)
            r = r if r.dtype == x.dtype else r.astype(x.dtype)  # NumPy: the input's dtype
        return C.out(r, out, name)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{name.title()} over ``axis``; ties share the gradient evenly.\n\n"
                 f">>> import gpugrad.numpy as gnp\n>>> gnp.{name}([[1.0, 4.0], [3.0, 2.0]], "
                 f"axis=0).tolist()\n{[3.0, 4.0] if 'max' in name else [1.0, 2.0]}\n")
    return f


max = amax = _extreme("max", ops.max, ops.maximum)
min = amin = _extreme("min", ops.min, ops.minimum)


def _arg(name):
    def f(a, axis=None, out=None, *, keepdims=False):
        x = C.tensor(a)
        ax = axis if x.ndim else _axis(axis, x, one=True)
        return C.out(getattr(ops, name)(x, axis=ax, keepdims=keepdims), out, name)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"Index of the {name[3:]}imum along ``axis`` (flattened when None).\n\n"
                 f">>> import gpugrad.numpy as gnp\n>>> gnp.{name}([1.0, 9.0, -3.0]).item()\n"
                 f"{1 if name == 'argmax' else 2}\n")
    return f


argmax, argmin = _arg("argmax"), _arg("argmin")


def _logical(name):
    def f(a, axis=None, out=None, keepdims=False, *, where=True):
        if where is not True:
            return _masked(name, a, where, axis, out, keepdims)
        x = C.tensor(a)
        return C.out(getattr(ops, name)(x, axis=_axis(axis, x), keepdims=keepdims), out, name)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"True where {'every' if name == 'all' else 'some'} element along ``axis`` is "
                 f"true.\n\n>>> import gpugrad.numpy as gnp\n>>> gnp.{name}([1, 0]).item()\n"
                 f"{name == 'any'}\n")
    return f


all, any = _logical("all"), _logical("any")


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Weighted mean; differentiable in ``a`` and ``weights``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.average([1.0, 3.0], weights=[3.0, 1.0]).item()
    1.5
    """
    x = _floated(a, None)
    axis = axis_arg(axis, strict=False)  # (NumPy's average: True is axis 1)
    if not x.ndim:
        axis = _axis(axis, x, False)
    if weights is None:
        r = ops.mean(x, axis=axis, keepdims=keepdims)
        w = ops.sum(ops.add(ops.multiply(x.detach(), 0.0), 1.0), axis=axis, keepdims=keepdims)
    else:
        wt = C.tensor(weights, x)
        if wt.shape != x.shape:
            if axis is None or wt.ndim != 1:
                raise ValueError(f"average: weights of shape {wt.shape} do not fit an array of "
                                 f"shape {x.shape}; give axis= with 1-D weights")
            shape = [1] * x.ndim
            shape[axis % x.ndim] = wt.shape[0]
            wt = ops.reshape(wt, tuple(shape))
        # NumPy's: the weights summed in their own shape (a sum of the broadcast weights
        # rounds differently), broadcast against the average
        w = ops.sum(wt, axis=axis, keepdims=keepdims)
        r = ops.divide(ops.sum(ops.multiply(x, wt), axis=axis, keepdims=keepdims), w)
    if not returned:
        return r
    w = w if w.dtype == r.dtype else w.astype(r.dtype)  # NumPy's: the average's dtype
    return r, ops.broadcast_to(w, r.shape)


def ptp(a, axis=None, out=None, keepdims=False):
    """Range (max - min) along ``axis``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.ptp([4.0, -1.0, 2.0]).item()
    5.0
    """
    x = C.tensor(a)
    axis = _axis(axis, x)
    return C.out(ops.subtract(ops.max(x, axis, keepdims), ops.min(x, axis, keepdims)), out, "ptp")


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=C._NOVALUE, where=True):
    """Sum treating NaNs as zero (their gradient is zero).

    >>> import gpugrad.numpy as gnp
    >>> gnp.nansum([1.0, float("nan"), 2.0]).item()
    3.0
    """
    x = C.tensor(a)
    x = ops.where(ops.isnan(x), 0.0, x) if is_inexact(x.dtype) else x
    return sum(x, axis, dtype, out, keepdims, initial, where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Mean of the non-NaN elements, in the input's float dtype (float16 accumulates in
    float32, as :func:`mean`).

    >>> import gpugrad.numpy as gnp
    >>> gnp.nanmean([1.0, float("nan"), 3.0]).item()
    2.0
    """
    if where is not True:
        return _masked("nanmean", a, where, axis, out, keepdims, dtype=dtype)
    exact = _exact_kind("nanmean", a, dtype, out, axis=axis, keepdims=keepdims)
    if exact is not None:
        return exact
    x = _floated(a, dtype)
    w = x.astype(_np.float32) if is_low_precision(x.dtype) else x
    ok = ops.logical_not(ops.isnan(w))
    ax = _axis(axis, x)
    total = ops.sum(ops.where(ok, w, 0.0), axis=ax, keepdims=keepdims)
    count = ops.sum(ok, axis=ax, keepdims=keepdims)
    r = ops.divide(total, count.astype(_np.finfo(total.dtype).dtype))
    narrow = w is not x and _amp.dtype is None     # (autocast: float32, as mean)
    return C.out(r.astype(x.dtype) if narrow else r, out, "nanmean")


def count_nonzero(a, axis=None, *, keepdims=False):
    """Number of nonzero elements along ``axis``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.count_nonzero([0, 1, 2]).item()
    2
    """
    def count(xp, x):   # (NumPy's count of all is a scalar, and stays one: zero_d.py)
        r = xp.count_nonzero(x, axis=axis, keepdims=keepdims)
        return r if hasattr(r, "dtype") else xp.intp(r)
    return C.nograd(count, a)


def diff(a, n=1, axis=-1, prepend=C._NOVALUE, append=C._NOVALUE):
    """n-th discrete difference along ``axis`` (differentiable).

    >>> import gpugrad.numpy as gnp
    >>> gnp.diff([1.0, 4.0, 9.0]).tolist()
    [3.0, 5.0]
    """
    from ._manip import concatenate

    x = C.tensor(a)
    if n == 0:
        return x
    ax = axis_index(axis, x.ndim, strict=False)
    parts = [x]
    for val, front in ((prepend, True), (append, False)):
        if val is not C._NOVALUE:
            v = C.tensor(val, x)
            if v.ndim == 0:
                shape = list(x.shape)
                shape[ax] = 1
                v = ops.broadcast_to(v, tuple(shape))
            parts.insert(0 if front else len(parts), v)
    if len(parts) > 1:
        x = concatenate(parts, axis=ax)
    key = (slice(None),) * ax
    for _ in range(n):
        later, earlier = x[key + (slice(1, None),)], x[key + (slice(None, -1),)]
        # booleans differ where they are unequal (NumPy's not_equal for bool input)
        x = ops.not_equal(later, earlier) if x.dtype == _np.bool_ else \
            ops.subtract(later, earlier)
    return x


def logsumexp(a, axis=None, keepdims=False, b=None):
    """log(sum(exp(a))) computed stably (``scipy.special.logsumexp``; not in NumPy).

    >>> import gpugrad.numpy as gnp
    >>> round(gnp.logsumexp(gnp.array([0.0, 0.0])).item(), 4)
    0.6931
    """
    x = _floated(a, None)
    if b is not None:
        x = ops.add(x, ops.log(C.tensor(b, x)))
    return ops.logsumexp(x, axis=_axis(axis), keepdims=keepdims)

