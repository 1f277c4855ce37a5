"""NumPy's ``where=`` for ``gpugrad.numpy``'s reductions: only the elements where the mask
(broadcast against the input) holds take part.

``sum``/``nansum`` add the selected elements, ``prod`` multiplies them, ``mean`` divides by
the selected count (an empty selection gives NaN with NumPy's "Mean of empty slice"
warning), ``var``/``std`` use the selected mean and count, ``max``/``min`` need ``initial=``
(as NumPy), ``all``/``any`` look at the selected elements only.  Differentiably: the
gradient reaches the selected elements only (zeros elsewhere, also where the input is
inf or NaN).  Inputs outside any recorded graph take NumPy's own function with ``where=``
(the same bits).

>>> import gpugrad.numpy as gnp
>>> x = gnp.array([[1.0, 2.0], [3.0, 4.0]])
>>> gnp.sum(x, where=x > 1).item(), gnp.mean(x, axis=0, where=x > 1).tolist()
(9.0, [3.0, 3.0])
>>> gnp.max(x, where=x < 3, initial=-1.0).item()
2.0
"""
from __future__ import annotations

import warnings

import numpy as _np

from .. import ops
from ..backend import is_cupy_array
from ..ops._fast import watched
from . import _core as C
from ._math_where import where_mask
from ._reduce_axis import reduce_axis as _axis

__all__ = ["masked_reduce"]

_NUMPY = {"sum": _np.sum, "prod": _np.prod, "mean": _np.mean, "var": _np.var, "std": _np.std,
          "max": _np.max, "min": _np.min, "all": _np.all, "any": _np.any,
          "nanmean": _np.nanmean}


def _plain(x):
    d = x.data
    return not watched() and not C.traced(x) and not is_cupy_array(d) and d.dtype.char != "E"


def masked_reduce(name, a, where, axis=None, out=None, keepdims=False, **kw):
    """NumPy's ``<name>(a, axis, out=out, keepdims=keepdims, where=where, **kw)`` for the
    reductions above (``kw``: ``dtype``, ``initial``, ``ddof``, whichever ``name`` takes,
    unset ones left out); see the module docstring."""
    x = C.tensor(a)
    m = where_mask(where, x)
    kw = {k: v for k, v in kw.items() if v is not C._NOVALUE and v is not None}
    dt = C.dtype(kw.get("dtype"))
    # a bool or integer result (asked for, or max/min of such an input) has no gradient:
    # NumPy's own on the detached values is the answer, also for a tensor in a graph
    exact = (dt is not None and dt.kind not in "fc") or \
        (name in ("max", "min") and x.dtype.kind not in "fc")
    if name in ("all", "any") or exact or _plain(x):
        return C.out(C.nograd(lambda xp, v, w: xp.asarray(_numpy(name, xp, v, w, axis, keepdims, kw)),
                              x, m), out, name)
    m = ops.broadcast_to(m, x.shape)  # (NumPy: the mask follows the input)
    ax = _axis(axis, x, name not in ("mean", "var", "std", "nanmean"))
    r = _GRAPH[name](x, m, ax, keepdims, kw)
    want = dt if dt is not None else x.dtype if name in ("max", "min") else None
    return C.out(r if want is None or r.dtype == want else r.astype(want), out, name)


def _numpy(name, xp, v, w, axis, keepdims, kw):
    if xp is _np:
        return _NUMPY[name](v, axis=axis, keepdims=keepdims, where=w, **kw)
    # CuPy's reductions have no where=: fill the unselected elements with the identity
    fill = True if name == "all" else False
    return getattr(xp, name)(xp.where(w, v, fill), axis=axis, keepdims=keepdims)


def _sum(x, m, ax, keepdims, kw):
    dt = C.dtype(kw.get("dtype"))
    if dt is not None and dt.kind in "fc" and x.dtype != dt:
        x, dt = x.astype(dt), None
    r = ops.sum(ops.where(m, x, 0), axis=ax, keepdims=keepdims, dtype=dt)
    return ops.add(r, kw["initial"]) if "initial" in kw else r


def _prod(x, m, ax, keepdims, kw):
    dt = C.dtype(kw.get("dtype"))
    if dt is not None and x.dtype != dt:
        x = x.astype(dt)
    r = ops.prod(ops.where(m, x, 1), axis=ax, keepdims=keepdims)
    return ops.multiply(r, kw["initial"]) if "initial" in kw else r


def _floated(x, kw):
    dt = C.dtype(kw.get("dtype"))
    if dt is not None:
        return x.astype(dt) if x.dtype != dt else x
    return x.astype(_np.float64) if x.dtype.kind in "biu" else x


def _count(m, ax, keepdims, x):
    """(the number of selected elements along ``ax`` in ``x``'s real dtype, whether one is
    0: not looked at while ``gpugrad.compile`` records, as it reads a value on the host)."""
    n = ops.sum(m, axis=ax, keepdims=keepdims).astype(_np.finfo(x.dtype).dtype)
    return n, not watched() and bool(C.raw(ops.any(ops.equal(n, 0))))


def _moments(x, m, ax, keepdims, kw, need_var):
    """(sum of the selected, their count, squared deviations' sum or None, an empty slice?)"""
    work = x.astype(_np.float32) if x.dtype == _np.float16 else x
    s = ops.sum(ops.where(m, work, 0), axis=ax, keepdims=keepdims)
    n, empty = _count(m, ax, keepdims, work)
    if not need_var:
        return work, s, n, None, empty
    with _np.errstate(invalid="ignore", divide="ignore"):
        mu = ops.divide(ops.sum(ops.where(m, work, 0), axis=ax, keepdims=True),
                        _count(m, ax, True, work)[0])
    dev = ops.where(m, ops.subtract(work, mu), 0)
    sq = ops.add(ops.square(ops.real(dev)), ops.square(ops.imag(dev))) \
        if dev.dtype.kind == "c" else ops.square(dev)
    return work, s, n, ops.sum(sq, axis=ax, keepdims=keepdims), empty


def _mean(x, m, ax, keepdims, kw):
    x = _floated(x, kw)
    work, s, n, _, empty = _moments(x, m, ax, keepdims, kw, False)
    if empty:
        warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=4)
    with _np.errstate(invalid="ignore", divide="ignore"):
        r = ops.divide(s, n)
    return r.astype(x.dtype) if work is not x else r


def _var(x, m, ax, keepdims, kw):
    x = _floated(x, kw)
    work, _, n, ss, empty = _moments(x, m, ax, keepdims, kw, True)
    ddof = kw.get("ddof", 0)
    if empty or not watched() and bool(C.raw(ops.any(ops.less_equal(n, ddof)))):
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=4)
    with _np.errstate(invalid="ignore", divide="ignore"):
        r = ops.divide(ss, ops.maximum(ops.subtract(n, ddof), 0))
    dt = _np.finfo(x.dtype).dtype
    return r.astype(dt) if r.dtype != dt else r


def _std(x, m, ax, keepdims, kw):
    v = _var(x, m, ax, keepdims, kw)
    pos = ops.greater(v.detach(), 0)  # sqrt's gradient is 0/0 at 0: give 0 there
    return ops.where(pos, ops.sqrt(ops.where(pos, v, 1)), ops.sqrt(v.detach()))


def _extreme(name):
    def f(x, m, ax, keepdims, kw):
        if "initial" not in kw:
            raise ValueError(f"reduction operation '{name}imum' does not have an identity, "
                             f"so to use a where mask one has to specify 'initial'")
        fill = -_np.inf if name == "max" else _np.inf
        r = getattr(ops, name)(ops.where(m, x, fill), axis=ax, keepdims=keepdims)
        return getattr(ops, name + "imum")(r, kw["initial"])
    return f


def _nanmean(x, m, ax, keepdims, kw):
    x = _floated(x, kw)
    ok = ops.logical_and(m, ops.logical_not(ops.isnan(x)))
    return _mean(x, ok, ax, keepdims, {})


_GRAPH = {"sum": _sum, "prod": _prod, "mean": _mean, "var": _var, "std": _std,
          "max": _extreme("max"), "min": _extreme("min"), "nanmean": _nanmean}
