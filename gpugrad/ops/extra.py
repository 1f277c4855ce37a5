"""Ops the NumPy and array-API namespaces need beyond the core set: rounding, exp2/cbrt,
complex parts, cumprod and sorting.  Forward and backward side by side.

The binary math (logaddexp, arctan2, hypot, copysign, fmod; binary_math.py) and the
triangles, diagonals and decompositions (extra_linalg.py, decompositions.py) are re-exported
here, so everything this module offered before still resolves from it.

>>> import gpugrad as gg
>>> x = gg.tensor([3.0, 1.0, 2.0], requires_grad=True)
>>> s = gg.sort(x); s.tolist()
[1.0, 2.0, 3.0]
>>> s.backward(gg.tensor([1.0, 10.0, 100.0])); x.grad.tolist()
[100.0, 1.0, 10.0]
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._axis_args import axis_index
from ._util import _conj, operand, tensor_arg, xp_of
from .unary import _float_operand
from .reduce import low_precision

__all__ = ["round", "exp2", "cbrt", "real", "imag", "conj", "cumprod", "sort", "argsort"]


# ================================================================ unary math
class Round(Function):
    twice_differentiable = True  # a constant zero gradient

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, decimals=0):
        return xp_of(x).round(x, decimals)

    def backward(self, g):
        return (xp_of(g).zeros_like(g),)


def round(x, decimals=0):
    """Round half to even at ``decimals`` places; the gradient is zero.

    >>> import gpugrad as gg
    >>> gg.round(gg.tensor([0.5, 1.5, 2.5])).tolist(), gg.round(gg.tensor([0.375], dtype="float64"), 2).tolist()
    ([0.0, 2.0, 2.0], [0.38])
    """
    return Round.apply(operand(x), decimals=axis_index(decimals, None, "round: decimals",
                                                       strict=False))


class Exp2(Function):
    saves_output = True
    twice_differentiable = True
    complex_grad = True  # g * conj(ans) ln 2

    def saved_inputs(self, needs):
        return ()

    def forward(self, x):
        ans = xp_of(x).exp2(x)
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (ans,) = self.saved
        if self._complex:
            ans = _conj(xp_of(g), ans)
        return (g * ans * math.log(2.0),)


def exp2(x):
    """2 ** x elementwise.

    >>> import gpugrad as gg
    >>> gg.exp2(gg.tensor([3.0])).tolist()
    [8.0]
    """
    return Exp2.apply(_float_operand(x, "exp2"))


class Cbrt(Function):
    saves_output = True
    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x):
        ans = xp_of(x).cbrt(x)
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (ans,) = self.saved
        return (g / (3 * ans * ans),)


def cbrt(x):
    """Real cube root elementwise.

    >>> import gpugrad as gg
    >>> gg.cbrt(gg.tensor([-8.0])).tolist()
    [-2.0]
    """
    return Cbrt.apply(_float_operand(x, "cbrt"))


class _Part(Function):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True  # linear: its backward is conj / a cast / a product by 1j

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, part):
        self.part, self.complex, self.dtype = part, x.dtype.kind == "c", x.dtype
        xp = xp_of(x)
        if part == "conj":
            return xp.conj(x) if self.complex else x.copy()
        return getattr(xp, part)(x).copy()  # a contiguous copy that keeps 0-d shapes

    def backward(self, g):
        xp = xp_of(g)
        if self.part == "conj":
            return (xp.conj(g),)
        if not self.complex:
            return ((g if self.part == "real" else xp.zeros_like(g)).astype(self.dtype,
                                                                              copy=False),)
        # g * 1j, not 1j * g: a NumPy scalar g must stay a NumPy scalar
        return ((g if self.part == "real" else g * 1j).astype(self.dtype, copy=False),)


def real(x):
    """The real part (a copy for real input).

    >>> import gpugrad as gg
    >>> gg.real(gg.tensor([1 + 2j])).tolist()
    [1.0]
    """
    return _Part.apply(tensor_arg(x), part="real")


def imag(x):
    """The imaginary part (zeros for real input).

    >>> import gpugrad as gg
    >>> gg.imag(gg.tensor([1 + 2j])).tolist()
    [2.0]
    """
    return _Part.apply(tensor_arg(x), part="imag")


class RealView(_Part):
    """``z.real`` of a complex ``z``: NumPy's writable view of the real parts in ``z``'s
    memory (a write through it is a write into ``z``: see :mod:`gpugrad.inplace`)."""
    view = True

    def forward(self, x, part):
        self.part, self.complex, self.dtype = part, True, x.dtype
        return getattr(x, part)


class ImagView(RealView):
    """``z.imag`` of a complex ``z``: NumPy's writable view of the imaginary parts."""


def part_view(x, part):
    """``x.real`` or ``x.imag`` (``part``) as NumPy's attribute gives it: for a complex
    ``x`` a view of its memory, differentiable; for a real ``x``, ``x`` itself as a view
    (real) or zeros (imag: read-only on the CPU, as NumPy's)."""
    x = tensor_arg(x)
    if x.dtype.kind == "c":
        return (RealView if part == "real" else ImagView).apply(x, part=part)
    if part == "real":
        return x[...]
    r = imag(x)
    if type(r.data) is np.ndarray:
        r.data.flags.writeable = False
    return r


def conj(x):
    """The complex conjugate (a copy for real input).

    >>> import gpugrad as gg
    >>> gg.conj(gg.tensor([1 + 2j])).tolist()
    [(1-2j)]
    """
    return _Part.apply(tensor_arg(x), part="conj")


# ================================================================ cumprod
class CumProd(Function):
    saves_output = True
    twice_differentiable = True  # the formulas below read x and ans only
    complex_grad = True  # run on conj(x), conj(ans): g * conj(d ans / dx)

    def forward(self, x, axis):
        xp = xp_of(x)
        self.shape, self.axis = x.shape, axis
        ans = xp.cumprod(x.reshape(-1) if axis is None else x, axis=0 if axis is None else axis)
        self.saved = (x, ans)  # x itself (not a reshaped view): create_graph maps it to the input
        return ans

    def backward(self, g):
        x, ans = self.saved
        xp = xp_of(g)
        if self.axis is None:
            x = x.reshape(-1)
        if self._complex:
            x, ans = _conj(xp, x), _conj(xp, ans)
        ax = 0 if self.axis is None else self.axis
        if not (x == 0).any():  # d ans_j / d x_k = ans_j / x_k for j >= k
            r = xp.flip(xp.cumsum(xp.flip(g * ans, ax), axis=ax), ax) / x
            return (r.reshape(self.shape),)
        # zeros present: for each k, the cumprod with x_k replaced by 1 (O(n^2) along axis)
        xm, gm = xp.moveaxis(x, ax, -1), xp.moveaxis(g, ax, -1)
        n = xm.shape[-1]
        rxp = get_array_module(x.data if isinstance(x, Tensor) else x)  # constants: raw arrays
        eye = rxp.eye(n, dtype=bool)
        rep = xp.where(eye.reshape((n,) + (1,) * (xm.ndim - 1) + (n,)), 1, xm[None])
        cp = xp.cumprod(rep, axis=-1) * rxp.triu(rxp.ones((n, n), dtype=x.dtype)).reshape(
            (n,) + (1,) * (xm.ndim - 1) + (n,))
        r = xp.moveaxis((cp * gm[None]).sum(axis=-1), 0, -1)
        return (xp.moveaxis(r, -1, ax).reshape(self.shape),)


def cumprod(x, axis=None):
    """Cumulative product (flattened when ``axis`` is None); exact gradient with zeros.

    >>> import gpugrad as gg
    >>> gg.cumprod(gg.tensor([1.0, 2.0, 3.0])).tolist()
    [1.0, 2.0, 6.0]
    """
    x = tensor_arg(x)
    if axis is not None:
        axis = axis_index(axis, x.ndim)  # one axis: a sequence is refused
    if low_precision(x.dtype):  # float16: the running product in float32, as cumsum's sum
        return CumProd.apply(x.astype(np.float32), axis=axis).astype(x.dtype)
    return CumProd.apply(x, axis=axis)


# ================================================================ sorting (sorting.py)
from .sorting import ArgSort, Sort, argsort, sort  # noqa: E402,F401  (as before)


from .binary_math import *  # noqa: E402,F401,F403
from .binary_math import __all__ as _bm  # noqa: E402
from .binary_math import (  # noqa: E402,F401  (op classes, reachable from here as before)
    Arctan2, Copysign, Fmod, Hypot, LogAddExp, LogAddExp2)
from .extra_linalg import *  # noqa: E402,F401,F403
from .extra_linalg import __all__ as _la  # noqa: E402

__all__ = list(_bm) + __all__ + list(_la)
