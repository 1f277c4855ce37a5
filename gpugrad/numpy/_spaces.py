"""``linspace``, ``logspace`` and ``geomspace`` with NumPy's signatures and dtypes; tensor
endpoints keep their graph.  16-bit endpoints (float16, or bfloat16 following float16's
pattern) compute in float32 or wider and round once to the answer's dtype: NumPy's float16
steps accumulate 16-bit rounding (``linspace(-3, 1001, 1001)`` ends at 999.5 before 1001).

>>> import gpugrad.numpy as gnp
>>> gnp.linspace(0, 1, 3).tolist(), gnp.geomspace(1, 100, 3).tolist()
([0.0, 0.5, 1.0], [1.0, 10.0, 100.0])
"""
from __future__ import annotations

import builtins
import numbers
import operator

import numpy as _np

from .. import backend, dtypes, ops
from . import _core as C
from ._creation import _has_tensor, _made, _num, _on

__all__ = ["linspace", "logspace", "geomspace"]


def _low_endpoints(*values):
    """The 16-bit dtype of the endpoints when every one with a dtype has that one dtype (Python
    numbers are weak, as in NumPy), else None."""
    found = {_np.dtype(v.dtype) for v in values if hasattr(v, "dtype")}
    if len(found) == 1 and dtypes.is_low_precision(next(iter(found))):
        return found.pop()
    return None


def _wide(dt):
    return _np.dtype(_np.float32) if dt is not None and dtypes.is_low_precision(dt) else dt


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    """``num`` evenly spaced values from start to stop (float64 by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linspace(0, 1, 3).tolist()
    [0.0, 0.5, 1.0]
    """
    dt = C.dtype(dtype)
    if _has_tensor(start) or _has_tensor(stop) or _np.ndim(start) or _np.ndim(stop):
        r = _linspace_tensors(start, stop, operator.index(num), endpoint, retstep, dt, device)
        if axis != 0:  # (NumPy's test: an axis equal to 0, whatever its type, stays)
            y = ops.moveaxis(r[0] if retstep else r, 0, axis)
            return (y, r[1]) if retstep else y
        return r
    num = operator.index(num)  # (NumPy: a float is a TypeError, a bool passes)
    low = _low_endpoints(start, stop)
    if low is not None:  # computed in float64 on the exact endpoints, rounded once
        t = _on(lambda xp: xp.linspace(float(start), float(stop), num, endpoint=endpoint
                                       ).astype(dt or low), device)
    else:
        t = _on(lambda xp: xp.linspace(_num(start), _num(stop), num, endpoint=endpoint,
                                       dtype=dt), device)
    if axis != 0:
        t = ops.moveaxis(t, 0, axis)
    if retstep:
        return t, _step(start, stop, num, endpoint)
    return t


def _step(start, stop, num, endpoint):
    """linspace's ``retstep`` for number endpoints, as NumPy computes it: a NumPy scalar in
    the endpoints' inexact dtype (``np.float64(0.25)``), Python's NaN for no step."""
    div = (num - 1) if endpoint else num
    if div <= 0:
        return float("nan")
    a, b = _num(start), _num(stop)
    dt = _np.result_type(a, b)  # (Python numbers weak, as NumPy 2's linspace takes them)
    dt = dt if dt.kind in "fc" else _np.result_type(dt, 1.0)
    return _np.subtract(b, a, dtype=dt) / div


def _linspace_tensors(start, stop, num, endpoint, retstep, dt, device):
    """NumPy's formula (``i * step + start``, the last value ``stop``) on tensors, so the
    result keeps the graph of a traced endpoint (and the endpoints' dtype, as NumPy); 16-bit
    endpoints compute in float32 and round once."""
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    like = C.tensor(start if _has_tensor(start) else stop)
    # NumPy 2 computes in the inexact result type of the endpoints, Python scalars weak
    ct = _np.result_type(*[v if isinstance(v, (numbers.Number, _np.generic)) else
                           C.tensor(v, like).dtype for v in (start, stop)])
    ct = ct if dtypes.is_inexact(ct) else _np.result_type(ct, 0.0)
    wide = _wide(ct)
    a, b = C.tensor(start, like), C.tensor(stop, like)
    a = a if a.dtype == wide else ops.astype(a, wide)
    b = b if b.dtype == wide else ops.astype(b, wide)
    if device is not None and like.device != backend.device(device):
        a, b = ops.to_device(a, device), ops.to_device(b, device)
    nd = builtins.max(a.ndim, b.ndim)
    xp = a.device.xp
    with a.device._activated():
        i = _made(xp.arange(num, dtype=wide).reshape((-1,) + (1,) * nd))
    div = num - 1 if endpoint else num
    delta = ops.subtract(b, a)
    if div > 0:
        step = ops.divide(delta, div)
        y = ops.add(ops.multiply(i, step), a)
    else:
        step = float("nan")
        y = ops.add(ops.multiply(i, delta), a)
    if endpoint and num > 1:
        last = ops.broadcast_to(b, y.shape[1:])
        y = ops.concatenate([y[:-1], ops.expand_dims(last, 0)], axis=0)
    target = dt or ct
    if y.dtype != target:
        if target.kind in "iu":
            y = ops.floor(y)
        y = ops.astype(y, target)
    if retstep and wide != ct and not isinstance(step, float):
        step = ops.astype(step, ct)
    return (y, step) if retstep else y


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0, *,
             device=None):
    """``base ** linspace(start, stop, num)`` (16-bit endpoints: exponents and powers in
    float32, rounded once).

    >>> import gpugrad.numpy as gnp
    >>> gnp.logspace(0, 2, 3).tolist()
    [1.0, 10.0, 100.0]
    """
    y = linspace(start, stop, num, endpoint, axis=axis, device=device)
    low = y.dtype if dtypes.is_low_precision(y.dtype) else None
    if low is not None:  # the exponents unrounded: 10 ** (a 16-bit exponent) is ulps off
        y = linspace(start, stop, num, endpoint, dtype=_np.float32, axis=axis, device=device)
    t = ops.power(base, y)
    if low is not None and t.dtype == _np.float32:
        t = t.astype(low)
    return t.astype(C.dtype(dtype)) if dtype is not None else t


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """NumPy's ``geomspace`` (no gradient; float64 for 16-bit endpoints, as NumPy's float16:
    bfloat16 endpoints, which NumPy cannot promote, are read exactly as float32).

    >>> import gpugrad.numpy as gnp
    >>> gnp.geomspace(1, 1000, 4).tolist()
    [1.0, 10.0, 100.0, 1000.0]
    """
    from ._fallback import call_named

    start, stop = (v.astype(_np.float32) if isinstance(v, _np.generic) and
                   dtypes.is_low_precision(v.dtype) else v for v in (start, stop))
    return call_named("geomspace", (start, stop, num, endpoint, dtype, axis), {})
