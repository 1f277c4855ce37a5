"""Mixed precision: :class:`autocast` (float16/bfloat16 products, float32 where it matters)
and :class:`GradScaler` (dynamic loss scaling for float16), plus the settings of
``gpugrad train --precision`` (:func:`precision_setup`).

The per-thread autocast state and the op lists live in the engine
(:mod:`gpugrad.autocast_state`), which ops read to cast at their boundaries; this package,
a training-layer one, only sets that state and adds the scaler.

>>> import gpugrad as gg
>>> with gg.autocast(dtype="float16"):
...     (gg.ones(2, 3) @ gg.ones(3, 1)).dtype.name
'float16'
"""
from ..autocast_state import FLOAT32_OPS, LOWER_PRECISION_OPS
from .autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled
from .grad_scaler import GradScaler
from .precision import PRECISIONS, precision_setup

__all__ = ["autocast", "GradScaler", "is_autocast_enabled", "get_autocast_dtype",
           "LOWER_PRECISION_OPS", "FLOAT32_OPS", "PRECISIONS", "precision_setup"]
