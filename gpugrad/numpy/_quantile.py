"""Order statistics with NumPy's signatures, differentiable through a sort: ``quantile``,
``percentile`` and ``median``, over one axis, a tuple of axes or all of them.  Result dtypes
are NumPy's (``percentile(float32, [10, 50])`` is float64, ``quantile(int, 0.5,
method='lower')`` int64); a slice holding a NaN gives NaN, as in NumPy.

>>> import gpugrad.numpy as gnp
>>> x = gnp.array([[1.0, 2.0], [4.0, 8.0]])
>>> gnp.median(x).item(), gnp.quantile(x, 0.5, axis=(0, 1)).item()
(3.0, 3.0)
"""
from __future__ import annotations

import numpy as _np

from .. import dtypes, ops
from ..tensor import Tensor
from ..zero_d import mark_scalar
from . import _core as C

__all__ = ["quantile", "percentile", "median"]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _front(x, axis):
    """``x`` with the reduced axes flattened into axis 0 (the others kept in order), and the
    shape ``keepdims`` gives."""
    axes = tuple(range(x.ndim)) if axis is None else \
        _np.lib.array_utils.normalize_axis_tuple(axis, x.ndim)
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    y = x if axes + rest == tuple(range(x.ndim)) else ops.transpose(x, axes + rest)
    y = ops.reshape(y, (-1,) + tuple(x.shape[i] for i in rest))
    return y, tuple(1 if i in axes else n for i, n in enumerate(x.shape))


def _nan_slices(y, r):
    """``r`` with NaN where the slice of ``y`` (reduced over axis 0) holds a NaN."""
    if not dtypes.is_inexact(y.dtype):  # (bfloat16 too: its kind is 'V')
        return r
    bad = C.nograd(lambda xp, v: xp.isnan(v).any(axis=0), y)
    if not bool(bad.data.any()):
        return r
    return ops.where(bad, _np.array(_np.nan, r.dtype), r)


def _order(a, qa, axis, out, method, keepdims, rdt):
    x = C.tensor(a)
    y, kshape = _front(x, axis)
    if dtypes.is_inexact(rdt) and method in ("linear", "midpoint"):
        wide = _np.dtype(_np.float32) if dtypes.is_low_precision(rdt) else rdt  # rounds once
        y = y if y.dtype == wide else y.astype(wide)
    s = ops.sort(y, axis=0)
    n = s.shape[0]
    pos = qa * (n - 1)
    lo = _np.floor(pos).astype(_np.int64)
    hi = _np.minimum(lo + 1, n - 1)
    if method in ("linear", "midpoint"):
        # midpoint: halfway between two elements, or the element itself when q * (n - 1)
        # falls on one (NumPy: gamma 0 where the index is whole)
        frac = pos - lo if method == "linear" else _np.where(pos > lo, 0.5, 0.0)
        va, vb = s[C.tensor(lo, s)], s[C.tensor(hi, s)]
        t = C.tensor(frac.reshape(frac.shape + (1,) * (s.ndim - 1)).astype(s.dtype), s)
        diff = ops.subtract(vb, va)  # NumPy's _lerp: exact at both ends
        r = ops.where(ops.greater_equal(t, 0.5), ops.subtract(vb, ops.multiply(diff, 1 - t)),
                      ops.add(va, ops.multiply(diff, t)))
    else:
        idx = {"lower": lo, "higher": _np.ceil(pos), "nearest": _np.around(pos)}[method]
        r = s[C.tensor(idx.astype(_np.int64), s)]
    r = _nan_slices(y, r if r.dtype == rdt else r.astype(rdt))
    if keepdims:
        r = ops.reshape(r, qa.shape + kshape)
    elif r.ndim == 0:   # (NumPy's answer is a scalar: zero_d.py)
        mark_scalar(r)
    return C.out(r, out, "quantile")


def _result_dtype(numpy_fn, dt, q, method):
    """NumPy's result dtype for input of dtype ``dt``; bfloat16 (unknown to NumPy's rule)
    follows float16's pattern: bfloat16 where float16 gives float16."""
    bf16 = dtypes.bfloat16 is not None and dt == dtypes.bfloat16
    r = numpy_fn(_np.zeros(1, _np.float16 if bf16 else dt), q, method=method).dtype
    return dt if bf16 and r == _np.float16 else r


def _q_array(q, name):
    if C.traced(q):
        raise TypeError(f"{name}: q has no gradient; pass it as numbers, not a tensor in a "
                        f"recorded graph")
    return q.numpy() if isinstance(q, Tensor) else q


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False, *, weights=None, interpolation=None):
    """The ``q``-th quantiles (``q`` in [0, 1], a number or an array) along ``axis`` (an int,
    a tuple, or None for all), with NumPy's methods 'linear' (default), 'lower', 'higher',
    'midpoint', 'nearest' and NumPy's result dtype; the gradient reaches the one or two
    elements each quantile interpolates.  Other methods and ``weights`` run NumPy's (no
    gradient).  Raises ValueError for ``q`` outside [0, 1].

    >>> import gpugrad.numpy as gnp
    >>> gnp.quantile(gnp.array([1.0, 2.0, 3.0, 4.0]), [0.25, 0.5]).tolist()
    [1.75, 2.5]
    """
    method = interpolation or method
    if method not in _METHODS or weights is not None:
        return _no_gradient("quantile", a, q, axis=axis, method=method, keepdims=keepdims,
                            weights=weights)
    q = _q_array(q, "quantile")
    qa = _np.asarray(q, dtype=_np.float64)
    if ((qa < 0) | (qa > 1)).any():
        raise ValueError("Quantiles must be in the range [0, 1]")
    x = C.tensor(a)
    rdt = _result_dtype(_np.quantile, x.dtype, q, method)
    return _order(x, qa, axis, out, method, keepdims, rdt)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, *, weights=None, interpolation=None):
    """The ``q``-th percentiles (``q`` in [0, 100]); see :func:`quantile`.

    >>> import gpugrad.numpy as gnp
    >>> gnp.percentile(gnp.array([[1.0, 3.0], [2.0, 8.0]]), 50, axis=1).tolist()
    [2.0, 5.0]
    """
    method = interpolation or method
    if method not in _METHODS or weights is not None:
        return _no_gradient("percentile", a, q, axis=axis, method=method, keepdims=keepdims,
                            weights=weights)
    q = _q_array(q, "percentile")
    qa = _np.true_divide(_np.asarray(q, dtype=_np.float64), 100)
    if ((qa < 0) | (qa > 1)).any():
        raise ValueError("Percentiles must be in the range [0, 100]")
    x = C.tensor(a)
    rdt = _result_dtype(_np.percentile, x.dtype, q, method)
    return _order(x, qa, axis, out, method, keepdims, rdt)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median along ``axis`` (an int, a tuple, or None for all) via a differentiable sort
    (the middle pair averages); float64 for integer input, NaN for a slice with a NaN.

    >>> import gpugrad.numpy as gnp
    >>> gnp.median([3.0, 1.0, 4.0, 2.0]).item()
    2.5
    """
    x = C.tensor(a)
    y, kshape = _front(x, axis)
    n = y.shape[0]
    mid = ops.sort(y, axis=0)[(n - 1) // 2:n // 2 + 1]
    r = ops.mean(mid if dtypes.is_inexact(mid.dtype) else mid.astype(_np.float64), axis=0)
    r = _nan_slices(y, r)
    if keepdims:
        r = ops.reshape(r, kshape)
    return C.out(r, out, "median")


def _no_gradient(name, *args, **kwargs):
    from . import _fallback

    return _fallback.call_named(name, args, kwargs)
