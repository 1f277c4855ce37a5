"""Reductions with no gradient: ``argmax``/``argmin`` (indices) and ``all``/``any``
(booleans), one node kind that names the array method it calls.

>>> import gpugrad as gg
>>> gg.argmax(gg.tensor([[1.0, 9.0], [4.0, 3.0]]), axis=1).tolist()
[1, 0]
"""
from __future__ import annotations

from ..autograd import Function
from ._axis_args import axis_arg, axis_index
from ._util import tensor_arg, xp_of

__all__ = ["argmax", "argmin", "all", "any"]


class _NoGrad(Function):
    """argmax/argmin/all/any: ``pick`` names the array method; no gradient."""

    differentiable = False

    def forward(self, x, axis=None, keepdims=False, pick="argmax"):
        return getattr(xp_of(x), pick)(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (no gradient).

    >>> import gpugrad as gg
    >>> gg.argmax(gg.tensor([1.0, 9.0, 3.0])).item()
    1
    """
    return _arg(x, axis, keepdims, "argmax")


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (no gradient).

    >>> import gpugrad as gg
    >>> gg.argmin(gg.tensor([1.0, 9.0, -3.0])).item()
    2
    """
    return _arg(x, axis, keepdims, "argmin")


def all(x, axis=None, keepdims=False):
    """True where every element along ``axis`` is true.

    >>> import gpugrad as gg
    >>> gg.all(gg.tensor([1, 0])).item()
    False
    """
    return _NoGrad.apply(tensor_arg(x), axis=axis_arg(axis), keepdims=keepdims, pick="all")


def any(x, axis=None, keepdims=False):
    """True where some element along ``axis`` is true.

    >>> import gpugrad as gg
    >>> gg.any(gg.tensor([1, 0])).item()
    True
    """
    return _NoGrad.apply(tensor_arg(x), axis=axis_arg(axis), keepdims=keepdims, pick="any")


def _arg(x, axis, keepdims, pick):
    """argmax or argmin (``pick``) along one axis (None: of the flattened ``x``)."""
    x = tensor_arg(x)
    if axis is not None:
        axis = axis_index(axis, x.ndim)
    return _NoGrad.apply(x, axis=axis, keepdims=keepdims, pick=pick)
