"""NumPy's 1-D signal and integration functions, differentiable: ``convolve`` and
``correlate`` (modes full/same/valid: a gather of sliding windows times the kernel),
``trapezoid`` (slices, as NumPy writes it), ``interp`` (NumPy's own value and the gradient
of its formula, in ``_interp``) and ``bincount`` with ``weights`` (a scatter-add of the
weights).

Inputs outside any recorded graph take NumPy's own function (the same bits; a scalar
answer as a 0-d tensor); with a tensor in a graph among them the formula runs on tensors.

>>> import gpugrad as gg, gpugrad.numpy as gnp
>>> a = gg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
>>> y = gnp.convolve(a, [1.0, -1.0]); y.sum().backward()
>>> y.tolist(), a.grad.tolist()
([1.0, 1.0, 1.0, -3.0], [0.0, 0.0, 0.0])
"""
from __future__ import annotations

import numpy as _np

from .. import ops
from ..backend import get_array_module
from . import _core as C, _fallback
from ._fallback import tensors_in
from ._poly import _graph, const

__all__ = ["convolve", "correlate", "trapezoid", "interp", "bincount"]

_WINDOWS = 1 << 22  # above this many window elements, sum shifted slices instead


def _vectors(a, v, name):
    a, v = C.tensor(a), C.tensor(v)
    a, v = C.tensor(a, v), C.tensor(v, a)
    a = ops.reshape(a, (1,)) if a.ndim == 0 else a
    v = ops.reshape(v, (1,)) if v.ndim == 0 else v
    if a.ndim != 1 or v.ndim != 1:
        raise ValueError(f"{name}: expected 1-D sequences, got shapes {a.shape} and {v.shape}")
    if a.shape[0] == 0:
        raise ValueError("a cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("v cannot be empty")
    dt = _np.result_type(a.dtype, v.dtype)
    return (a if a.dtype == dt else a.astype(dt)), (v if v.dtype == dt else v.astype(dt))


def _full(a, v):
    """``out[i] = sum_j a_pad[i + j] * v[j]`` for ``a`` padded with ``len(v) - 1`` zeros on
    each side: every lag of the correlation of ``a`` with ``v`` (no conjugation)."""
    from ._manip import concatenate

    n, m = a.shape[0], v.shape[0]
    xp = get_array_module(a.data)
    z = const(xp.zeros(m - 1, a.dtype), a)
    pad = concatenate([z, a, z]) if m > 1 else a
    size = n + m - 1
    if size * m <= _WINDOWS:
        idx = xp.arange(size)[:, None] + xp.arange(m)[None, :]
        return ops.matmul(pad[const(idx, a)], v)
    out = None
    for j in range(m):
        term = ops.multiply(pad[j:j + size], v[j])
        out = term if out is None else ops.add(out, term)
    return out


def _mode(full, n, m, mode, swapped):
    """The ``mode`` slice of a full correlation of lengths ``n`` and ``m``, as NumPy cuts it
    (``swapped``: NumPy computed it with the longer operand first)."""
    k, big = min(n, m), max(n, m)
    if mode == "full":
        return full
    if mode == "valid":
        return full[k - 1:big]
    if mode == "same":
        start = (k - 1) // 2 if (n >= m or swapped) else k // 2
        return full[start:start + big]
    raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})")


def convolve(a, v, mode="full"):
    """The discrete linear convolution of 1-D ``a`` and ``v`` (``mode``: full, same or valid).

    >>> import gpugrad.numpy as gnp
    >>> gnp.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5]).tolist()
    [0.0, 1.0, 2.5, 4.0, 1.5]
    """
    if not _graph(a, v):
        return C.wrap(_fallback.call(_np.convolve, (a, v, mode), {}, "convolve"))
    a, v = _vectors(a, v, "convolve")
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    n, m = a.shape[0], v.shape[0]
    return _mode(_full(a, ops.flip(v, 0)), n, m, mode, True)


def correlate(a, v, mode="valid"):
    """The cross-correlation ``c[k] = sum_n a[n + k] * conj(v[n])`` of 1-D ``a`` and ``v``
    (``mode``: valid, same or full).

    >>> import gpugrad.numpy as gnp
    >>> gnp.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], "full").tolist()
    [0.5, 2.0, 3.5, 3.0, 0.0]
    """
    if not _graph(a, v):
        return C.wrap(_fallback.call(_np.correlate, (a, v, mode), {}, "correlate"))
    a, v = _vectors(a, v, "correlate")
    if v.dtype.kind == "c":
        v = ops.conj(v)
    return _mode(_full(a, v), a.shape[0], v.shape[0], mode, False)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, at points ``x`` (1-D,
    or ``y``'s shape) or spacing ``dx``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.trapezoid(gnp.array([1.0, 2.0, 3.0])).item()
    4.0
    """
    if not _graph(y, x, dx):
        return C.wrap(_fallback.call(_np.trapezoid, (y,), {"x": x, "dx": dx, "axis": axis},
                                     "trapezoid"))
    from ._reduce import diff

    yt = C.tensor(y)
    if x is None:
        d = dx if not hasattr(dx, "shape") else C.tensor(dx, yt)
    else:
        xt = C.tensor(x, yt)
        if xt.ndim == 1:
            shape = [1] * yt.ndim
            shape[axis] = xt.shape[0] - 1
            d = ops.reshape(diff(xt), tuple(shape))
        else:
            d = diff(xt, axis=axis)
    hi = [slice(None)] * yt.ndim
    lo = [slice(None)] * yt.ndim
    hi[axis], lo[axis] = slice(1, None), slice(None, -1)
    return ops.sum(ops.divide(ops.multiply(d, ops.add(yt[tuple(hi)], yt[tuple(lo)])), 2.0),
                   axis=axis)


def interp(x, xp, fp, left=None, right=None, period=None):
    """The piecewise-linear interpolant of points (``xp``, increasing; ``fp``) at ``x``;
    ``left``/``right`` below/above the range (``fp[0]``/``fp[-1]`` by default); ``period``
    for periodic ``xp``.  float64 (complex128 for complex ``fp``).  Differentiable in
    ``fp``, ``x`` (the slope of the interval ``x`` falls in; 0 at a knot and outside) and
    ``xp``, ``left``, ``right``; in a graph the value is NumPy's own (the same bits).
    Raises NumPy's errors (ValueError for knots and values of different lengths, no knots
    or ``period=0``).

    >>> import gpugrad.numpy as gnp
    >>> gnp.interp([0.5, 3.0], [0.0, 1.0, 2.0], [0.0, 10.0, 30.0]).tolist()
    [5.0, 30.0]
    """
    if not _graph(x, xp, fp, left, right):
        return C.wrap(_fallback.call(_np.interp, (x, xp, fp),
                                     {"left": left, "right": right, "period": period}, "interp"))
    from ._interp import Interp

    like = next(t for t in tensors_in((x, xp, fp, left, right)) if C.traced(t))
    x, xp, fp = (C.tensor(a, like) for a in (x, xp, fp))
    return Interp.apply(x, xp, fp, left, right, period=period)


def bincount(x, weights=None, minlength=0):
    """The number of occurrences of each value in non-negative integer array ``x`` (with
    ``weights``: the sum of the weights at each value, float64, differentiable in the
    weights).

    >>> import gpugrad.numpy as gnp
    >>> gnp.bincount([0, 1, 1, 3], weights=[0.5, 1.0, 2.0, 1.0]).tolist()
    [0.5, 3.0, 0.0, 1.0]
    """
    if weights is None or not _graph(weights):
        return C.wrap(_fallback.call(_np.bincount, (x,),
                                     {"weights": weights, "minlength": minlength}, "bincount"))
    from ._ufunc import _scatter_add

    w = C.tensor(weights)
    if w.dtype.kind == "c":
        raise TypeError("Cannot cast array data from dtype('complex128') to dtype('float64') "
                        "according to the rule 'safe'")
    idx = C.raw(C.tensor(x, w))
    xp = get_array_module(idx)
    counts = xp.bincount(idx, minlength=minlength)  # NumPy's checks (1-D, >= 0, integers)
    if w.shape != idx.shape:
        raise ValueError(f"bincount: weights of shape {w.shape} do not match x of shape "
                         f"{idx.shape}")
    if idx.size == 0:  # NumPy's answer for no points is integer zeros, whatever the weights
        return C.wrap(counts)
    total = const(xp.zeros(counts.shape[0], _np.float64), w)
    _scatter_add(total, (idx,), w.astype(_np.float64), False)
    return total
