"""``interp`` in a graph: the value is the array library's own ``interp`` (NumPy's bits),
the gradient that of the formula it evaluates on the interval it picks.

NumPy finds, for each point ``x``, the index ``j`` with ``xp[j] <= x < xp[j + 1]`` (a
search that starts from the previous point's interval; for unsorted ``xp`` its answer is
not ``searchsorted``'s, so it is repeated here step for step) and answers ``left`` below
``xp[0]``, ``right`` above ``xp[-1]``, ``fp[j]`` at a knot, ``x`` itself for a NaN point
and otherwise ``slope * (x - xp[j]) + fp[j]`` with ``slope = (fp[j+1] - fp[j]) /
(xp[j+1] - xp[j])`` (from the other end when that is NaN; ``fp[j]`` when both ends hold
the same value).  With ``t = (x - xp[j]) / (xp[j+1] - xp[j])`` its gradient is ``1 - t``
and ``t`` to ``fp[j]`` and ``fp[j+1]``, ``slope`` to ``x``, ``slope * (t - 1)`` and
``-slope * t`` to ``xp[j]`` and ``xp[j+1]`` (no slope where ``fp[j] == fp[j+1]``).
"""
from __future__ import annotations

import numpy as _np

from ..autograd import Function
from ..backend import get_array_module

_CACHE = 8  # NumPy's LIKELY_IN_CACHE_SIZE


def _search_with_guess(key, arr, n, guess):
    """NumPy's ``binary_search_with_guess`` (numpy/_core/src/multiarray/compiled_base.c):
    -1 below ``arr[0]``, ``n`` above ``arr[-1]``, else an ``i`` with ``arr[i] <= key``."""
    if key > arr[n - 1]:
        return n
    if key < arr[0]:
        return -1
    if n <= 4:
        i = 1
        while i < n and key >= arr[i]:
            i += 1
        return i - 1
    guess = max(min(guess, n - 3), 1)
    lo, hi = 0, n
    if key < arr[guess]:
        if key >= arr[guess - 1]:
            return guess - 1
        hi = guess - 1
        if guess > _CACHE and key >= arr[guess - _CACHE]:
            lo = guess - _CACHE
    else:
        if key < arr[guess + 1]:
            return guess
        if key < arr[guess + 2]:
            return guess + 1
        lo = guess + 2
        if guess < n - _CACHE - 1 and key < arr[guess + _CACHE]:
            hi = guess + _CACHE
    while lo < hi:
        mid = lo + ((hi - lo) >> 1)
        if key >= arr[mid]:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _intervals(m, x, xp):
    """NumPy's interval index of each point of flat ``x`` among knots ``xp`` (-1 below,
    ``len(xp)`` above; NaN points: any)."""
    n = xp.shape[0]
    if m is not _np or bool(_np.all(xp[1:] >= xp[:-1])):  # sorted: one vector search
        j = m.searchsorted(xp, x, side="right") - 1
        return m.where(x > xp[-1], n, j)
    keys, knots = x.tolist(), xp.tolist()
    out, j = _np.zeros(len(keys), _np.intp), 0
    for i, key in enumerate(keys):
        if key == key:  # (NaN points keep the guess, as in NumPy)
            j = _search_with_guess(key, knots, n, j)
        out[i] = j
    return out


def _periodic(m, x, xp, fp, period):
    """NumPy's periodic set-up: points and knots modulo ``period``, knots sorted and one
    copy of each end added beyond the other; ``src``: each new knot's original index."""
    if period == 0:
        raise ValueError("period must be a non-zero value")
    period = abs(period)
    x, xp = x % period, xp % period
    order = m.argsort(xp)
    xp, fp = xp[order], fp[order]
    xp = m.concatenate((xp[-1:] - period, xp, xp[0:1] + period))
    fp = m.concatenate((fp[-1:], fp, fp[0:1]))
    return x, xp, fp, m.concatenate((order[-1:], order, order[0:1]))


class Interp(Function):
    """``interp(x, xp, fp, left, right, period=)`` on raw arrays (``left``/``right``: None,
    a number or a 0-d array); the gradient reaches ``x``, ``xp``, ``fp``, ``left`` and
    ``right``."""

    complex_grad = True  # linear in fp, left and right; real weights

    def forward(self, x, xp, fp, left, right, period=None):
        m = get_array_module(*(a for a in (x, xp, fp) if hasattr(a, "shape")))
        kinds = [getattr(a, "dtype", None) for a in (x, xp, fp, left, right)]
        self.meta = kinds, [_np.shape(a) for a in (x, xp, fp, left, right)]
        if not hasattr(m, "interp"):
            raise TypeError(f"interp: {m.__name__} has no interp function")
        val = m.interp(x, xp, fp, left=left, right=right, period=period)
        xv = m.asarray(x, dtype=_np.float64).ravel()
        xk = m.asarray(xp, dtype=_np.float64)
        fk = m.asarray(fp, dtype=val.dtype)
        src = None
        if period is not None:
            xv, xk, fk, src = _periodic(m, xv, xk, fk, period)
            left = right = None
        n = xk.shape[0]
        if n == 1:
            j = m.where(xv < xk[0], -1, m.where(xv > xk[0], 1, 0))
        else:
            j = _intervals(m, xv, xk)
            j = m.asarray(j) if m is not _np else j
        self.saved = (xv, xk, fk, j, src, left is None, right is None)
        return val

    def backward(self, g):
        xv, xk, fk, j, src, no_left, no_right = self.saved
        (kinds, shapes), needs = self.meta, self.needs
        m = get_array_module(xk)
        n = xk.shape[0]
        g = m.asarray(g).ravel()
        nan = m.isnan(xv) & (n > 1)  # (one knot: NumPy answers fp[0] for a NaN point)
        below, above = (j < 0) & ~nan, (j >= n) & ~nan
        at = m.clip(j, 0, n - 1)
        knot = ~below & ~above & ~nan & ((j == n - 1) | (xk[at] == xv))
        inner = ~below & ~above & ~knot & ~nan
        a = m.clip(j, 0, max(n - 2, 0))
        b = m.minimum(a + 1, n - 1)
        zero = m.zeros((), g.dtype)
        gi = m.where(inner, g, zero)
        span = xk[b] - xk[a]
        with _np.errstate(all="ignore"):
            t = m.where(inner, (xv - xk[a]) / m.where(inner, span, 1.0), 0.0)
            slope = (fk[b] - fk[a]) / m.where(inner, span, 1.0)
        slope = m.where(inner & (fk[b] != fk[a]), slope, zero)
        grads = [None] * 5
        if needs[2]:  # fp
            gf = _scatter(m, n, at, m.where(knot | (below & no_left) | (above & no_right), g, zero))
            gf = gf + _scatter(m, n, a, gi * (1 - t)) + _scatter(m, n, b, gi * t)
            grads[2] = _back(m, gf, src, shapes[2], kinds[2])
        if needs[0]:  # x: the slope inside, nothing outside; a NaN point passes through
            gx = _real(m, m.conj(slope) * gi, kinds[0]) + m.where(nan, g, zero).real
            grads[0] = gx.reshape(shapes[0]).astype(kinds[0], copy=False)
        if needs[1]:  # xp
            gk = _scatter(m, n, a, m.conj(slope * (t - 1)) * gi) \
                + _scatter(m, n, b, m.conj(-slope * t) * gi)
            grads[1] = _back(m, _real(m, gk, kinds[1]), src, shapes[1], kinds[1])
        for k, mask, absent in ((3, below, no_left), (4, above, no_right)):
            if needs[k] and not absent:
                s = m.where(mask, g, zero).sum()
                s = _real(m, s, kinds[k]) if kinds[k] is not None else s
                grads[k] = m.reshape(m.asarray(s), shapes[k]).astype(kinds[k] or s.dtype,
                                                                        copy=False)
        return tuple(grads)


def _real(m, a, kind):
    """``a``, or its real part for a real input."""
    return a.real if kind is not None and kind.kind != "c" and a.dtype.kind == "c" else a


def _scatter(m, n, idx, vals):
    """``out[idx[i]] += vals[i]`` into ``n`` zeros (``bincount``: NumPy and CuPy alike)."""
    if vals.dtype.kind == "c":
        return _scatter(m, n, idx, vals.real) + 1j * _scatter(m, n, idx, vals.imag)
    return m.bincount(idx, weights=vals, minlength=n)


def _back(m, g, src, shape, kind):
    """A gradient on the (periodic, extended) knots summed back onto the original ones."""
    if src is not None:
        g = _scatter(m, shape[0], src, g)
    return g.reshape(shape).astype(kind, copy=False)
