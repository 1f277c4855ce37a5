"""``gpugrad.numpy.fft``: ``numpy.fft``'s functions, differentiable (:mod:`gpugrad.fft`), with
NumPy's conversion rules for their input (a list of Python floats is float64, so its
transform is complex128) and new arrays on the default device.

>>> import gpugrad.numpy as gnp
>>> gnp.fft.fft([1.0, 0.0]).dtype
dtype('complex128')
"""
from __future__ import annotations

import functools

from .. import fft as _fft
from ._core import tensor as _tensor

__all__ = list(_fft.__all__)


def _numpy_input(impl):
    @functools.wraps(impl)
    def f(a, *args, **kwargs):
        return impl(_tensor(a), *args, **kwargs)
    return f


for _name in __all__:
    _impl = getattr(_fft, _name)
    globals()[_name] = _impl if _name.endswith("freq") else _numpy_input(_impl)
del _name, _impl
