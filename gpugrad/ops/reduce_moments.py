"""Moments: ``var`` and ``std`` (NumPy's ``ddof``), each a reduction node (see
:mod:`gpugrad.ops.reduce`: float16 accumulated in float32, integers and bools give float64,
NumPy's answers over empty shapes; twice differentiable).  Complex input gives NumPy's real
variance of the moduli, with PyTorch's gradient ``g * 2 (x - mean) / (N - ddof)``.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 3.0], dtype="float64", requires_grad=True)
>>> gg.var(x).backward(); x.grad.tolist()
[-1.0, 1.0]
"""
from __future__ import annotations

import builtins
import math

import numpy as np

from ..autocast_state import _state as _amp, to_float32 as _amp_f32
from ..tensor import Tensor
from ..zero_d import mark_scalar
from ._util import xp_of
from .reduce import _count, _float64, _Reduce, _wide

__all__ = ["var", "std"]


class Var(_Reduce):
    """Variance.  Forward keeps the centered input for the backward on arrays; on Tensors
    (create_graph) backward recomputes it from the input.  With no degrees of freedom left
    (N - ddof <= 0) the result is NaN or inf with NumPy's warning.  Of complex input, NumPy's
    mean |x - mean|**2; the gradient g * 2 (x - mean) / (N - ddof), as PyTorch's."""

    complex_grad = True

    def forward(self, x, axis=None, keepdims=False, ddof=0):
        ax = self._setup(x, axis, keepdims)
        self.denom = builtins.max(_count(x.shape, self.axes) - ddof, 0)
        if not self.denom or x.dtype.kind == "c":  # NumPy's warning and inf/NaN; moduli
            self.saved = (x, None)
            return x.var(axis=ax, keepdims=keepdims, ddof=ddof)
        c = x - x.mean(axis=ax, keepdims=True)  # as NumPy's var computes it
        self.saved = (x, c)
        return (c * c).sum(axis=ax, keepdims=keepdims) / x.dtype.type(self.denom)

    def _centered(self):  # the saved x - mean(x), or recomputed (recorded, on Tensors)
        x, c = self.saved[:2]
        return x - x.mean(axis=self.axes, keepdims=True) if c is None or \
            isinstance(x, Tensor) else c

    def _per_dof(self, k):  # k / (N - ddof), inf when there are no degrees of freedom
        return k / self.denom if self.denom else math.inf

    def backward(self, g):
        if self.saved[0].size == 0:
            return self._zeros(g)
        with np.errstate(invalid="ignore"):
            return (self._expand(g) * self._centered() * self._per_dof(2.0),)


class Std(Var):
    """Standard deviation; its gradient is 0 where the deviation is 0 (a constant slice),
    as PyTorch's, instead of 0/0."""

    saves_output = True

    def forward(self, x, axis=None, keepdims=False, ddof=0):
        with np.errstate(invalid="ignore"):  # (NumPy's std is sqrt(var))
            ans = xp_of(x).asarray(xp_of(x).sqrt(super().forward(x, axis, keepdims, ddof)))
        self.saved += (ans,)  # the output
        return ans

    def backward(self, g):
        x, _, ans = self.saved
        if x.size == 0:
            return self._zeros(g)
        xp = xp_of(g)
        s = self._expand(ans)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = self._expand(g) * self._centered() * self._per_dof(1.0) / xp.where(s == 0, 1, s)
        return (xp.where(s == 0, 0, r),)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance with NumPy's ``ddof`` (0: population; PyTorch's default is ddof=1).

    >>> import gpugrad as gg
    >>> gg.var(gg.tensor([1.0, 3.0])).item()
    1.0
    """
    return _moment(Var, x, axis, keepdims, ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation (the square root of :func:`var`); its gradient is 0 over a
    constant slice (as PyTorch's), where sqrt's would be 0/0.

    >>> import gpugrad as gg
    >>> gg.std(gg.tensor([1.0, 3.0])).item()
    1.0
    """
    return _moment(Std, x, axis, keepdims, ddof)


def _moment(node, x, axis, keepdims, ddof):
    """``node`` (Var or Std) of ``x``: integers and bools as float64 (NumPy's result dtype),
    float32 under autocast, float16 accumulated in float32 and the answer cast back."""
    x = _float64(x)
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    w = _wide(x)
    if w is not None:
        r = node.apply(w, axis=axis, keepdims=keepdims, ddof=ddof).astype(x.dtype)
    else:
        r = node.apply(x, axis=axis, keepdims=keepdims, ddof=ddof)
    return mark_scalar(r)   # (a 0-d answer is NumPy's scalar: std's op makes it an array)
