"""The dtypes of gpugrad.numpy's reductions, as NumPy picks them: a bool or integer
``dtype=`` answered by NumPy itself (no gradient), integers averaged in float64, a float or
complex ``dtype=`` honoured, and the accumulator of a running sum or product.

>>> import gpugrad.numpy as gnp
>>> floated(gnp.array([1, 2]), None).dtype.name
'float64'
>>> accumulator(gnp.array([1], dtype="int8"), None).dtype.name
'int64'
"""
from __future__ import annotations

import numpy as _np

from . import _core as C

__all__ = ["exact_kind", "as_requested", "floated", "accumulator"]


def exact_kind(name, a, dtype, out, **kw):
    """NumPy's own ``name(values, dtype=dtype, **kw)`` where ``dtype`` asks for a bool or
    integer result, else None.  Such a result has no gradient, so NumPy's computation on the
    values -- detached, also for a tensor in a graph -- is the answer, its dtype and value
    exactly (``mean(dtype=int)`` truncates NumPy's way; ``cumsum(dtype=bool)`` is a running
    or).  Float and complex results take the differentiable path instead."""
    dt = C.dtype(dtype)
    if dt is None or dt.kind in "fc":
        return None
    kw = {k: v for k, v in kw.items() if v is not C._NOVALUE}
    fn = getattr(_np, name)

    def call(xp, v):
        return xp.asarray((fn if xp is _np else getattr(xp, name))(v, dtype=dt, **kw))
    return C.out(C.nograd(call, C.tensor(a)), out, name)


def as_requested(r, dtype):
    """``r`` (a differentiable float result) in the float or complex ``dtype`` asked for:
    NumPy's result dtype is the requested one (``var(x, dtype=complex)`` is complex)."""
    dt = C.dtype(dtype)
    return r if dt is None or r.dtype == dt else r.astype(dt)


def floated(a, dtype):
    """``a`` as a tensor in ``dtype`` when given, else integers and bools in float64 (the
    mean's, variance's and average's rule)."""
    x = C.tensor(a)
    dt = C.dtype(dtype)
    if dt is not None:
        return x.astype(dt) if x.dtype != dt else x
    if x.dtype.kind in "biu":
        return x.astype(_np.float64)
    return x


def accumulator(a, dtype):
    """``a`` as a tensor in the dtype a running sum/product uses (NumPy: small ints -> int64)."""
    x = C.tensor(a)
    dt = C.dtype(dtype)
    if dt is not None and dt != x.dtype:
        return x.astype(dt)
    if x.dtype.kind in "bi" and x.dtype.itemsize < 8:
        return x.astype(_np.int64)
    return x
