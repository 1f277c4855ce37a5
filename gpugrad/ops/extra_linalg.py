"""Matrix ops beyond the core linalg set: the triangles (``tril``, ``triu``) and diagonals
(``diagonal``, and the ``DiagEmbed`` node its gradient records), each with its gradient,
PyTorch's for complex input too.

The decompositions (cholesky, eigh, svd, qr, slogdet) are in decompositions.py and are
re-exported here, so ``gpugrad.ops.extra_linalg.Cholesky`` and friends still resolve.

>>> import gpugrad as gg
>>> a = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> gg.tril(a).tolist()
[[1.0, 0.0], [3.0, 4.0]]
>>> gg.diagonal(a).sum().backward(); a.grad.tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""
from __future__ import annotations

from ..autograd import Function
from ..tensor import Tensor
from ._util import normalize_axis, tensor_arg, xp_of
from .decompositions import *  # noqa: F401,F403  (re-exported: the decompositions' old home)
from .decompositions import __all__ as _dec_all
from .decompositions import (  # noqa: F401  (op classes tests and callers reach from here)
    Cholesky, Eigh, EigvalsH, Qr, SlogDet, Svd, SvdVals)

__all__ = ["tril", "triu", "diagonal"] + list(_dec_all)


# ================================================================ triangles and diagonals
class _Tri(Function):
    twice_differentiable = True
    complex_grad = True  # a mask: linear with real coefficients

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, k, lower):
        self.k, self.f = k, "tril" if lower else "triu"
        return getattr(xp_of(x), self.f)(x, k)

    def backward(self, g):
        return (getattr(xp_of(g), self.f)(g, self.k),)


def _tri(x, k, lower):
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"{'tril' if lower else 'triu'}: expected at least 2 dimensions, got "
                         f"shape {x.shape}")
    return _Tri.apply(x, k=int(k), lower=lower)


def tril(x, k=0):
    """Lower triangle of the last two axes (entries above diagonal ``k`` zeroed).

    >>> import gpugrad as gg
    >>> gg.tril(gg.ones((2, 2))).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    return _tri(x, k, True)


def triu(x, k=0):
    """Upper triangle of the last two axes (entries below diagonal ``k`` zeroed).

    >>> import gpugrad as gg
    >>> gg.triu(gg.ones((2, 2))).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    return _tri(x, k, False)


def _embed_diagonal(g, shape, offset, a1, a2):
    """Zeros of ``shape`` with ``g`` (its last axis) written on diagonal ``offset`` of axes
    (a1, a2): the adjoint of ``diagonal`` (arrays)."""
    xp = xp_of(g)
    gx = xp.zeros(shape, g.dtype)
    view = xp.moveaxis(gx, (a1, a2), (-2, -1))  # a writable view of gx
    i = xp.arange(g.shape[-1])
    view[..., i + max(-offset, 0), i + max(offset, 0)] = g
    return gx


class Diagonal(Function):
    """Backward: g written on the diagonal of zeros, a :class:`DiagEmbed` node on Tensors
    (whose backward is this again), so every order is differentiable."""

    twice_differentiable = True
    complex_grad = True  # linear with real coefficients

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, offset, axis1, axis2):
        self.shape, self.args = x.shape, (offset, axis1, axis2)
        return xp_of(x).diagonal(x, offset, axis1, axis2).copy()

    def backward(self, g):
        offset, a1, a2 = self.args
        if isinstance(g, Tensor):
            return (DiagEmbed.apply(g, shape=self.shape, offset=offset, axis1=a1, axis2=a2),)
        return (_embed_diagonal(g, self.shape, offset, a1, a2),)


class DiagEmbed(Function):
    """``zeros(shape)`` with ``g`` on diagonal ``offset`` of axes (axis1, axis2): the backward
    of :class:`Diagonal` (and of ``diag`` of a matrix) as a node of its own; its backward is
    the diagonal again."""

    twice_differentiable = True
    complex_grad = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, g, shape, offset, axis1, axis2):
        self.args = (offset, axis1, axis2)
        return _embed_diagonal(g, shape, offset, axis1, axis2)

    def backward(self, g):
        offset, a1, a2 = self.args
        if isinstance(g, Tensor):
            return (Diagonal.apply(g, offset=offset, axis1=a1, axis2=a2),)
        return (xp_of(g).diagonal(g, offset, a1, a2).copy(),)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal ``offset`` of axes (axis1, axis2), appended as the last axis (NumPy's).

    >>> import gpugrad as gg
    >>> gg.diagonal(gg.tensor([[1, 2], [3, 4]])).tolist()
    [1, 4]
    """
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: expected at least 2 dimensions, got shape {x.shape}")
    a1, a2 = normalize_axis((axis1, axis2), x.ndim, strict=False)  # (NumPy's: True is 1)
    return Diagonal.apply(x, offset=int(offset), axis1=a1, axis2=a2)
