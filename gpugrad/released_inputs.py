"""What a graph node keeps of its inputs once its backward has run (and the graph is not
retained): a leaf that requires grad as it is, a computed input as None, and, for an input that
needs no gradient (a batch, labels) or a constant array, a stand-in of the same shape and dtype
on a zero-stride array of one element -- so a kept ``loss`` holds no step's data alive, while a
drawing of its graph still shows the input.

>>> import gpugrad as gg
>>> x = gg.ones(3, 2)
>>> r = _released_input(x, None)
>>> type(r).__name__, r.shape, r.data.strides
('ReleasedInput', (3, 2), (0, 0))
"""
from __future__ import annotations

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["ReleasedInput"]


class ReleasedInput(Tensor):
    """What a node keeps, once backward has run, of an input that needs no gradient (a batch,
    labels): its shape and dtype, on a zero-stride array of one element, so that a kept
    ``loss`` holds no large arrays while a drawing of its graph still shows the input.  The
    values are gone (``gpugrad.viz`` shows none for it).

    >>> import gpugrad as gg
    >>> r = ReleasedInput(gg.ones(1000, 100))
    >>> r.shape, r.data.base.nbytes
    ((1000, 100), 4)
    """
    __slots__ = ()
    released = True

    def __new__(cls, t):
        return Tensor._make.__func__(cls, _zero_stride(t.data))

    def __init__(self, t):
        pass


def _released_input(p, pn):
    """Input ``p`` (``pn`` its node) of a node whose backward has run, as the node keeps it
    from then on: a leaf that requires grad as it is (its gradient lives there), a computed
    input as None, a tensor that needs no gradient as a :class:`ReleasedInput`, a constant
    array of more than one element as a zero-stride array of its shape and dtype."""
    if pn is not None:
        return None
    if isinstance(p, Tensor):
        return p if p.requires_grad or isinstance(p, ReleasedInput) else ReleasedInput(p)
    if (type(p) is np.ndarray or hasattr(p, "__cuda_array_interface__")) and p.size > 1:
        return _zero_stride(p)
    return p


_ZERO_STRIDE = {}  # (dtype, shape) -> a read-only zero-stride NumPy array of that shape


def _zero_stride(a):
    """A read-only array of ``a``'s shape and dtype over one zero element (on ``a``'s device);
    NumPy ones are shared per shape and dtype (a training step releases the same batch shapes
    every step)."""
    if type(a) is not np.ndarray:
        xp = backend.get_array_module(a)
        return xp.broadcast_to(xp.zeros((), a.dtype), a.shape)
    key = (a.dtype, a.shape)
    z = _ZERO_STRIDE.get(key)
    if z is None:
        if len(_ZERO_STRIDE) >= 64:
            _ZERO_STRIDE.clear()
        one = np.zeros((), a.dtype)
        one.flags.writeable = False  # shared between graphs: neither a write through the base
        z = _ZERO_STRIDE[key] = np.broadcast_to(one, a.shape)  # nor re-flagging z may pass
    return z

