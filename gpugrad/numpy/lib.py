"""``gpugrad.numpy.lib``: NumPy's ``numpy.lib`` (its names are NumPy's own), but for
``stride_tricks``, whose ``as_strided`` and ``sliding_window_view`` are gpugrad's
differentiable views (:mod:`gpugrad.numpy._stride_tricks`).

>>> import numpy, gpugrad.numpy as gnp
>>> gnp.lib.NumpyVersion is numpy.lib.NumpyVersion
True
>>> gnp.lib.stride_tricks.sliding_window_view(gnp.arange(4.0), 2).shape
(3, 2)
"""
from __future__ import annotations

import sys as _sys
import types as _types

import numpy as _np

from . import _stride_tricks


class _StrideTricks(_types.ModuleType):
    """``numpy.lib.stride_tricks`` with gpugrad's as_strided and sliding_window_view
    (broadcast_to and broadcast_arrays are gpugrad.numpy's)."""

    def __getattr__(self, name):
        if name in ("broadcast_to", "broadcast_arrays"):
            from .. import numpy as gnp
            return getattr(gnp, name)
        return getattr(_np.lib.stride_tricks, name)


stride_tricks = _StrideTricks("gpugrad.numpy.lib.stride_tricks", _StrideTricks.__doc__)
stride_tricks.as_strided = _stride_tricks.as_strided
stride_tricks.sliding_window_view = _stride_tricks.sliding_window_view
stride_tricks.__all__ = ["as_strided", "sliding_window_view"]
# ``import gpugrad.numpy.lib.stride_tricks`` (what ``from numpy.lib.stride_tricks import ...``
# becomes) finds this one: without the entry, the import system would load a second copy of
# NumPy's file under this name (this module lends it numpy.lib's ``__path__``) and put it here
# in place of the differentiable views
_sys.modules[stride_tricks.__name__] = stride_tricks


def __getattr__(name):
    return getattr(_np.lib, name)
