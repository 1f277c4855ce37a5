"""Autocast's per-thread state, its op lists, and the casts ops make at their boundaries.

Part of the engine, as grad mode is (:mod:`gpugrad.amp` sets it): a
matmul-heavy op calls :func:`lower` on its operands and a numerically sensitive one calls
:func:`to_float32`, each only after one read of the thread-local ``_state.dtype`` (None when
autocast is off, the whole cost of autocast to code that does not use it).

Casting a parameter (a leaf that requires grad) reuses a 16-bit copy while the parameter is
unchanged (same version counter, same array), however many forward passes read it.  The
float32 master weights stay in the optimizer's flat buffer, which keeps their 16-bit copies
in a flat buffer of its own that the fused optimizer step refreshes in the same pass as the
weights (see :func:`set_low_home`): no cast at all.  A parameter outside an optimizer, or
changed other than by its step, is cast once per change.

>>> import gpugrad as gg
>>> _state.dtype is None
True
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from . import dtypes
from .autograd import Function
from .tensor import Tensor

__all__ = ["LOWER_PRECISION_OPS", "FLOAT32_OPS", "lower", "to_float32", "low_copy",
           "set_low_home"]

# ops that run in the autocast dtype (float32 accumulation): their float32 and 16-bit operands
# are cast to it.  dot, inner, outer and the nn.Linear layer go through these.
LOWER_PRECISION_OPS = ("linear", "matmul", "einsum", "tensordot")
# ops that run in float32: their 16-bit operands are cast up, their results stay float32
FLOAT32_OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy", "nll_loss", "mse_loss",
               "binary_cross_entropy_with_logits", "norm", "sum", "mean", "var", "std",
               "prod", "cumsum", "exp", "log", "log1p", "expm1")
# everything else runs in the dtype of its inputs (NumPy promotion: bfloat16 + float32 is
# float32), as PyTorch's "promote" and pass-through ops do


class _State(threading.local):
    dtype = None  # the autocast dtype of this thread (float16 or bfloat16), None when off


_state = _State()


def _eligible(t):
    """Floating tensors that autocast may cast: float32 and the 16-bit floats (float64 is
    left alone, as PyTorch leaves it)."""
    return isinstance(t, Tensor) and t.dtype.char in "feE" and dtypes.is_floating(t.dtype)


def lower(*tensors):
    """The operands of a lower-precision op cast to the autocast dtype (call only while
    autocast is on).  Nothing is cast when an operand is float64 or not floating (the op then
    runs as without autocast); None passes through.

    >>> import gpugrad as gg
    >>> _state.dtype = gg.float16
    >>> [t.dtype.name for t in lower(gg.ones(2), gg.ones(2))]
    ['float16', 'float16']
    >>> _state.dtype = None
    """
    dt = _state.dtype
    if any(t is not None and not _eligible(t) for t in tensors):
        return tensors
    return tuple(t if t is None or t.dtype == dt else _cast(t, dt) for t in tensors)


def to_float32(t):
    """``t`` in float32 when it is a 16-bit float (a float32 op under autocast), else ``t``.

    >>> import gpugrad as gg
    >>> to_float32(gg.ones(2, dtype="float16")).dtype
    dtype('float32')
    """
    if isinstance(t, Tensor) and dtypes.is_low_precision(t.dtype):
        return t.astype(dtypes.float32)
    return t


def _cast(t, dt):
    if t.requires_grad and t._node is None:  # a parameter: its cached 16-bit copy
        return _LowCopy.apply(t, low_copy(t, dt))
    return t.astype(dt)


class _LowCopy(Function):
    """A parameter seen through its 16-bit copy: forward hands over the copy (made or
    refreshed before, no pass here); backward casts the gradient back to the parameter's
    dtype, so the parameter's gradient is float32."""

    twice_differentiable = True
    complex_grad = False

    def saved_inputs(self, needs):
        return ()

    def forward(self, w, low):
        self.in_dtype = w.dtype
        return low

    def backward(self, g):
        return (g.astype(self.in_dtype), None)


_copies = {}  # id(param) -> [weakref, dtype, version, source array, copy]
_homes = {}   # id(param) -> (weakref to param, weakref to the owner of its 16-bit copies)
# whether parameters' 16-bit copies come from their optimizer's flat buffer, written by the fused
# step (False: a cast on first use after each change, the reference the fused path must match)
fused_copies = True


def set_low_home(p, home) -> None:
    """Make ``home`` (an optimizer's flat buffer, with ``home.low_view(p, dtype)`` returning
    ``p``'s current 16-bit copy or None) the source of parameter ``p``'s copies; neither is
    kept alive by this.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.ones(2)); opt = gg.optim.SGD([p], lr=0.1)
    >>> with gg.autocast(dtype="float16"):
    ...     low_copy(p, gg.float16).base is not None      # a view of the flat 16-bit copy
    True
    """
    key = id(p)
    _homes[key] = (weakref.ref(p, lambda _, k=key: _homes.pop(k, None)), weakref.ref(home))


def low_copy(p, dt):
    """The ``dt`` copy of parameter ``p``'s data, cast again only when ``p`` changed since
    (its version counter moved -- an optimizer step -- or its array was replaced).

    >>> import gpugrad as gg
    >>> p = gg.ones(3, requires_grad=True)
    >>> low_copy(p, gg.float16) is low_copy(p, gg.float16)
    True
    """
    key = id(p)
    h = _homes.get(key)
    if h is not None and fused_copies and h[0]() is p:
        home = h[1]()
        low = home.low_view(p, dt) if home is not None else None
        if low is not None:
            return low
    e = _copies.get(key)
    if e is not None and e[0]() is p and e[1] == dt and e[2] == p._vc[0] and e[3] is p.data:
        return e[4]
    arr = p.data.astype(dt)
    if e is None or e[0]() is not p:
        ref = weakref.ref(p, lambda _, k=key: _copies.pop(k, None))
    else:
        ref = e[0]
    _copies[key] = [ref, np.dtype(dt), p._vc[0], p.data, arr]
    return arr
