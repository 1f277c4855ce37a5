"""``gpugrad.numpy.ndarray``: the array type of the drop-in namespace.  ``isinstance(t,
ndarray)`` holds for every gpugrad Tensor, class attributes are the Tensor's, and calling it
builds an array as ``numpy.ndarray(shape, dtype)`` does (uninitialized, float64 by default)
-- not a tensor of the shape's numbers.

>>> import gpugrad as gg, gpugrad.numpy as gnp
>>> gnp.ndarray((2, 3)).shape, isinstance(gg.ones(2), gnp.ndarray)
((2, 3), True)
"""
from __future__ import annotations

import numpy as _np

from ..tensor import Tensor
from . import _core as C

__all__ = ["ndarray"]


class _NdarrayType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)

    def __subclasscheck__(cls, sub):
        return isinstance(sub, type) and issubclass(sub, Tensor)

    def __getattr__(cls, name):
        return getattr(Tensor, name)


class ndarray(metaclass=_NdarrayType):
    """An array of ``shape`` and ``dtype`` (float64 by default), uninitialized, on the default
    device; with ``buffer`` (bytes, a NumPy array or a CPU tensor) a view of its memory, as
    NumPy's constructor.  Raises what ``numpy.ndarray`` raises for a bad shape or buffer.

    >>> import gpugrad.numpy as gnp
    >>> gnp.ndarray((2,), dtype=gnp.int32).dtype
    dtype('int32')
    """

    def __new__(cls, shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
        dt = C.dtype(dtype)
        if buffer is None and strides is None:
            from ._creation import empty

            return empty(shape, dt, order or "C")
        buf = buffer.numpy() if isinstance(buffer, Tensor) else buffer
        return C.tensor(_np.ndarray(shape, dt, buf, offset, strides, order))
