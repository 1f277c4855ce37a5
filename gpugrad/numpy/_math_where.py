"""NumPy's ``where=`` for ``gpugrad.numpy``'s elementwise functions (ufuncs).

``f(a, b, out=o, where=m)`` writes ``f(a, b)`` into ``o`` where ``m`` holds and leaves ``o``
as it was elsewhere: ``o = where(m, f(a, b), o)``, differentiably -- the gradient reaches
``a`` and ``b`` only where ``m`` holds and ``o``'s old value only where it does not.  Only
the selected elements are computed (a division by zero outside the mask neither warns nor
gives a NaN gradient).  The mask broadcasts with the operands, as NumPy's does.

Without ``out=`` NumPy leaves the unselected elements uninitialized; gpugrad gives zeros
there (of the result's dtype).  Operands outside any recorded graph take NumPy's own ufunc
with ``where=`` (the same bits), on a copy of ``out`` that is then written back.

>>> import gpugrad.numpy as gnp
>>> a, b = gnp.array([1.0, 2.0]), gnp.array([0.0, 4.0])
>>> gnp.divide(a, b, out=gnp.zeros_like(a), where=b != 0).tolist()
[0.0, 0.5]
>>> gnp.sqrt(gnp.array([4.0, -1.0]), where=gnp.array([True, False])).tolist()
[2.0, 0.0]
"""
from __future__ import annotations

import numpy as _np

from .. import ops
from ..backend import get_array_module, is_cupy_array
from ..ops._fast import watched
from ..tensor import Tensor
from . import _core as C, _ufunc as U

__all__ = ["ufunc_where", "where_mask"]


def where_mask(where, like=None):
    """``where=`` as a boolean tensor on ``like``'s device (NumPy casts it to bool under the
    ``safe`` rule: a float mask is a TypeError)."""
    m = C.tensor(where, like)
    if not _np.can_cast(m.dtype, _np.bool_, "safe"):
        raise TypeError(f"where= must be boolean: cannot cast array data from {m.dtype!r} to "
                        f"dtype('bool') according to the rule 'safe'")
    return m if m.dtype == _np.bool_ else m.astype(_np.bool_)


def _out_arg(out, name):
    if isinstance(out, tuple):
        if len(out) != 1:
            raise ValueError(f"{name}: expected one output array, got {len(out)}")
        return out[0]
    return out


def _plain(xs, out):
    """True when NumPy's own ufunc may compute: nothing recorded, NumPy arrays only."""
    if watched() or C.traced(*xs, out):
        return False
    for v in (*xs, out):
        d = v.data if isinstance(v, Tensor) else v
        if is_cupy_array(d) or getattr(getattr(d, "dtype", None), "char", "") == "E":
            return False
    return True


def ufunc_where(npf, impl, name, args, out, where, dtype, casting, numpy_own=True):
    """``npf(*args, out=out, where=where, dtype=dtype, casting=casting)`` for gpugrad.numpy's
    ufunc ``name`` (computed by op ``impl``; ``numpy_own``: ``npf`` is the function itself,
    not only the ufunc whose loop it takes); see the module docstring."""
    out = _out_arg(out, name)
    xs = C.operands(args)
    like = next((x for x in xs if isinstance(x, Tensor)), None)
    mask = where_mask(where, like)
    if numpy_own and _plain(xs, out):
        return _numpy_where(npf, xs, out, mask, dtype, casting)
    xs, lp = U.prepare(npf, xs, dtype, casting)
    shape = _np.broadcast_shapes(*[_np.shape(x) for x in xs], mask.shape)
    if out is not None and not isinstance(out, Tensor):
        raise TypeError(f"{name}: out= is a {type(out).__name__}, which cannot carry a "
                        f"gradient; pass a gpugrad tensor as out, or drop out=")
    if out is not None and out.shape != shape:
        raise ValueError(f"{name}: out has shape {out.shape}, expected {shape}")
    m = ops.broadcast_to(mask, shape)
    picked = [ops.broadcast_to(x, shape)[m] if isinstance(x, Tensor) else x for x in xs]
    r = impl(*picked)
    if lp is not None and r.dtype != lp[-1]:
        r = r.astype(lp[-1])
    if out is None:
        base = C.const(get_array_module(m.data).zeros(shape, r.dtype))
        return ops.setitem(base, m, r)
    if not _np.can_cast(r.dtype, out.dtype, casting):
        raise TypeError(f"Cannot cast ufunc {name!r} output from {r.dtype!r} to "
                        f"{out.dtype!r} with casting rule {casting!r}")
    out[m] = r if r.dtype == out.dtype else r.astype(out.dtype)
    return out


def _numpy_where(npf, xs, out, mask, dtype, casting):
    """NumPy's own ufunc with ``where=``, into zeros (no ``out``), a copy of a tensor ``out``
    written back, or an ndarray ``out`` in place."""
    raw = [x.data if isinstance(x, Tensor) else x for x in xs]
    kw = {"where": mask.data, "casting": casting}
    if dtype is not None:
        kw["dtype"] = C.dtype(dtype)
    if isinstance(out, _np.ndarray):
        npf(*raw, out=out, **kw)
        return out
    if isinstance(out, Tensor):
        buf = out.data.copy()
        npf(*raw, out=buf, **kw)
        out[...] = Tensor._make(buf)
        return out
    if out is not None:
        raise TypeError(f"{npf.__name__}: out must be a tensor or an array, got "
                        f"{type(out).__name__}")
    lp = U.resolve(npf, xs, dtype, casting)
    shape = _np.broadcast_shapes(*[_np.shape(r) for r in raw], mask.shape)
    buf = _np.zeros(shape, lp[-1])
    npf(*raw, out=buf, **kw)
    return Tensor._make(buf)
