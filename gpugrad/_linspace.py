"""``gpugrad.linspace`` with tensor endpoints: the values ``start + i * step`` (the last one
``stop``) recorded as ops, so a gradient reaches the endpoints, in their dtype (float16 stays
float16, as NumPy's; bfloat16 likewise), computed in float32 for 16-bit and rounded once.

>>> import gpugrad as gg
>>> a = gg.tensor(1.0, requires_grad=True)
>>> y = gg.linspace(a, 3.0, 3); y.tolist()
[1.0, 2.0, 3.0]
>>> y.sum().backward(); a.grad.item()
1.5
"""
from __future__ import annotations

import numpy as np

from . import backend, creation, dtypes, ops
from .tensor import Tensor

__all__ = ["linspace_of_tensors"]


def linspace_of_tensors(start, stop, num, endpoint, dtype, device, requires_grad):
    like = start if isinstance(start, Tensor) else stop
    for t in (start, stop):
        if isinstance(t, Tensor) and t.ndim != 0:
            raise ValueError(f"linspace: expected 0-d tensor endpoints, got shape {t.shape}")
    if device is not None and backend.device(device) != like.device:
        raise ValueError(f"linspace: the endpoints are on {like.device}, device={device!r} "
                         f"asks for {backend.device(device)}; move them with .to() first")
    found = ops.subtract(stop, start).dtype  # (the endpoints' promotion, numbers weak)
    out = dtypes.as_dtype(dtype) or (found if dtypes.is_floating(found) else dtypes.float32)
    wide = np.dtype(np.float32) if dtypes.is_low_precision(out) else out
    if not dtypes.is_floating(wide):
        wide = np.dtype(np.float64)
    a, b = (v.astype(wide) if isinstance(v, Tensor) else
            Tensor(np.asarray(v, dtype=wide), device=like.device) for v in (start, stop))
    div = num - 1 if endpoint else num
    i = creation.arange(num, dtype=wide, device=like.device)
    step = ops.divide(ops.subtract(b, a), div) if div > 0 else ops.subtract(b, a)
    y = ops.add(ops.multiply(i, step), a)
    if endpoint and num > 1:
        last = creation.arange(num, device=like.device) == num - 1
        y = ops.where(last, b, y)
    if y.dtype != out:
        y = ops.astype(ops.floor(y) if out.kind in "iu" else y, out)
    if requires_grad and not y.requires_grad:
        y.requires_grad_(True)
    return y
