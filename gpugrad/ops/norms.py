"""Vector and Frobenius norms (``norm``: ord None/'fro'/2, 1, inf), each a node whose backward
reads the input and the answer as returned, so under ``create_graph`` it records a graph (any
order of derivative).  The gradient at a zero vector is 0; complex input gives a real norm
(of the moduli) with the gradient ``g * z / |z|`` (PyTorch's convention).

>>> import gpugrad as gg
>>> x = gg.tensor([3.0, -4.0], dtype="float64", requires_grad=True)
>>> norm(x).backward(); x.grad.tolist()
[0.6, -0.8]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import tensor_arg, xp_of
from .linalg import _cast
from .reduce import attains, low_precision
from ..autocast_state import _state as _amp, to_float32 as _amp_f32
from .shape import _axes

__all__ = ["norm"]


class _Norm(Function):
    """Saves the input and the answer as returned (so that under ``create_graph`` the answer
    is this node's output, differentiable, not a constant); ``vjp`` sees it in keepdims
    form."""

    twice_differentiable = True

    def forward(self, x, axes, keepdims):
        self.axes, self.keepdims = axes, keepdims
        ans = self.norm(xp_of(x), x)  # keepdims form
        self.kshape = ans.shape
        if not keepdims:
            ans = ans.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))
        self.saved = (x, ans)
        return ans

    def backward(self, g):
        x, ans = self.saved
        ans = ans.reshape(self.kshape)
        gx = self.vjp(xp_of(g), g.reshape(self.kshape), x, ans)
        return (_cast(gx, x.dtype),)


class Norm2(_Norm):
    saves_output = True
    complex_grad = True  # g * z / |z|, PyTorch's convention (checked in the op harness)

    def norm(self, xp, x):
        if x.dtype.kind == "c":  # |z|^2 = re^2 + im^2: a real norm, as NumPy's
            re, im = x.real, x.imag
            return xp.sqrt((re * re + im * im).sum(axis=self.axes, keepdims=True))
        return xp.sqrt((x * x).sum(axis=self.axes, keepdims=True))

    def vjp(self, xp, g, x, ans):  # complex x: z / |z|, the convention of abs
        zero = ans == 0
        u = x / xp.where(zero, 1, ans)  # x is 0 wherever ans is: gradient 0
        if isinstance(g, Tensor):  # a constant there, as abs's and hypot's: x / 1 would give
            u = xp.where(zero, 0, u)  # the origin a second derivative of 1
        return g * u


class Norm1(_Norm):
    def norm(self, xp, x):
        return xp.abs(x).sum(axis=self.axes, keepdims=True)

    def vjp(self, xp, g, x, ans):
        return g * xp.sign(x)


class NormInf(_Norm):
    saves_output = True

    def norm(self, xp, x):
        if x.size == 0:  # the max of nothing; NumPy's norm gives 0 there
            return xp.zeros(tuple(1 if i in self.axes else n for i, n in enumerate(x.shape)),
                            dtype=xp.abs(x).dtype)
        return xp.abs(x).max(axis=self.axes, keepdims=True)

    def vjp(self, xp, g, x, ans):  # shared evenly among the entries that attain the max
        hit = attains(xp, xp.abs(x), ans)  # a NaN answer: its NaN entries
        return g * xp.sign(x) * hit / hit.sum(axis=self.axes, keepdims=True)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and Frobenius norms: ``ord`` None/'fro'/2 (Euclidean), 1, or inf, over ``axis``
    (all axes when None).  The gradient at a zero vector is 0.  Complex input gives a real
    norm (of the moduli), as NumPy's.

    >>> import gpugrad as gg
    >>> norm(gg.tensor([3.0, -4.0])).item(), norm(gg.tensor([3.0, -4.0]), 1).item()
    (5.0, 7.0)
    """
    x = tensor_arg(x)
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    if low_precision(x.dtype):  # float16: computed in float32 (squares overflow past 255)
        return norm(x.astype(np.float32), ord, axis, keepdims).astype(x.dtype)
    axes = _axes(axis, x.ndim)
    matrix = len(axes) == 2 if axis is not None else x.ndim == 2
    if axis is not None and len(axes) > 2:
        raise ValueError(f"norm: expected axis to name 1 or 2 dimensions, got {axis!r}")
    if ord is None or (ord == "fro" and matrix):
        return Norm2.apply(x, axes=axes, keepdims=keepdims)
    if matrix:
        raise NotImplementedError(f"norm: matrix norm ord={ord!r} is not supported; use "
                                  f"ord=None or 'fro', or pass a single axis for vector norms")
    if axis is None and x.ndim > 1:
        raise ValueError(f"norm: ord={ord!r} needs a 1-D tensor or an explicit axis, got "
                         f"shape {x.shape}")
    cls = {2: Norm2, 1: Norm1, np.inf: NormInf}.get(ord) if not isinstance(ord, str) else None
    if cls is None:
        raise NotImplementedError(f"norm: vector norm ord={ord!r} is not supported; expected "
                                  f"None, 1, 2 or inf")
    return cls.apply(x, axes=axes, keepdims=keepdims)
