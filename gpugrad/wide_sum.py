"""Sums of raw arrays that accumulate 16-bit floats in float32.

NumPy adds bfloat16 (ml_dtypes') in bfloat16, and float16 in float16 along every axis but
the innermost, so a long sum stalls: 5000 ones add up to 256 in bfloat16 and 2048 in
float16.  The gradients that sum -- a broadcast operand's, tile's, repeat's, repeated
indices', einsum's -- go through these helpers instead, which add in float32 and round the
result once to the input's dtype (as the reductions in :mod:`gpugrad.ops.reduce` do).
Tensors (a backward run under ``create_graph``) pass to their own ``sum``, which does the same.

>>> import numpy as np
>>> sum_wide(np.ones((5000, 1), np.float16), axis=0).tolist()
[5000.0]
"""
from __future__ import annotations

import numpy as np

__all__ = ["is_16bit_float", "sum_wide", "add_at_wide"]


def is_16bit_float(dtype) -> bool:
    """True for float16 and bfloat16 (ml_dtypes' kind 'V', char 'E')."""
    return dtype.itemsize == 2 and dtype.char in "eE"


def sum_wide(a, axis=None, keepdims=False):
    """``a.sum(axis=axis, keepdims=keepdims)``, accumulated in float32 for 16-bit floats."""
    if is_16bit_float(a.dtype) and not hasattr(a, "requires_grad"):  # a raw array
        return a.sum(axis=axis, keepdims=keepdims, dtype=np.float32).astype(a.dtype)
    return a.sum(axis=axis, keepdims=keepdims)


def add_at_wide(xp, out, key, values) -> None:
    """``xp.add.at(out, key, values)`` (repeated positions accumulate), in float32 for a
    16-bit ``out``."""
    if not is_16bit_float(out.dtype):
        xp.add.at(out, key, values)
        return
    wide = out.astype(np.float32)
    xp.add.at(wide, key, values.astype(np.float32) if hasattr(values, "astype") else values)
    out[...] = wide.astype(out.dtype)
