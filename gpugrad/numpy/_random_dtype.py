"""The dtype check of ``gpugrad.numpy.random.Generator``'s float draws: NumPy draws
``random``, ``standard_normal``, ``standard_exponential`` and ``standard_gamma`` only in float32
or float64, and its error for float16 or bfloat16 names neither; this one says what to do.

>>> no_16_bit("random", (3,), {"dtype": "float16"})
Traceback (most recent call last):
TypeError: Generator.random: dtype float16 is not supported (NumPy draws only float32 or float64); draw float32 and cast with .astype('float16')
"""
from __future__ import annotations

import numpy as _np

__all__ = ["FLOAT_DRAWS", "no_16_bit"]

# Generator methods whose dtype= NumPy limits to float32 and float64
FLOAT_DRAWS = frozenset(("random", "standard_normal", "standard_exponential",
                          "standard_gamma"))


def no_16_bit(name, args, kwargs):
    """TypeError naming a 16-bit ``dtype`` given to a draw NumPy makes only in float32 or
    float64 (NumPy's own message names neither what it takes nor what to do)."""
    for v in list(args) + list(kwargs.values()):
        if isinstance(v, (type, _np.dtype, str)):
            try:
                dt = _np.dtype(v)
            except TypeError:
                continue
            if dt.itemsize == 2 and dt.char in "eE":
                raise TypeError(f"Generator.{name}: dtype {dt.name} is not supported (NumPy "
                                f"draws only float32 or float64); draw float32 and cast with "
                                f".astype('{dt.name}')")
