"""Elementwise binary arithmetic (add, subtract, multiply, divide, power, maximum, minimum,
remainder), ``where`` and ``clip``; each op's forward and gradient sit side by side.

The unary ops (exp/log, trigonometry, activations, roundings) are made from one table in
unary.py and re-exported here, so ``gpugrad.ops.elementwise.exp`` and friends still resolve.
Comparisons, logical and bitwise ops, which have no gradient, are in compare.py.

>>> import gpugrad as gg
>>> x = gg.tensor([3.0, 4.0], requires_grad=True)
>>> gg.multiply(x, x).sum().backward()
>>> x.grad.tolist()
[6.0, 8.0]
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, unbroadcast
from ..tensor import Tensor
from ._util import _conj, cross_saved, is_scalar, narrowed, operand, shape_of, widened, xp_of
from .unary import *  # noqa: F401,F403  (re-exported: the unary ops' old home)
from .unary import __all__ as _unary_all
from .unary import (  # noqa: F401  (private names other modules imported from here)
    _OPS, Exp, Log, Relu, Sigmoid, Tanh, _float_operand, _sig, _sigmoid, gelu)

_ndarray = np.ndarray


# ================================================================ binary arithmetic
class _Binary(Function):
    twice_differentiable = True

    def _shapes(self, a, b):  # (shape_of, inline for NumPy arrays: this runs on every call)
        self.sa = a.shape if type(a) is _ndarray else shape_of(a)
        self.sb = b.shape if type(b) is _ndarray else shape_of(b)

    def _out(self, ga, gb, narrow=None):
        """The gradients summed to the inputs' shapes (in float32 when widened) and then
        rounded once to ``narrow``, the 16-bit dtype the formula was widened from."""
        n0, n1 = self.needs
        return (narrowed(unbroadcast(ga, self.sa), narrow) if n0 else None,
                narrowed(unbroadcast(gb, self.sb), narrow) if n1 else None)


class Add(_Binary):
    complex_grad = True  # linear in its input: g passes unconjugated

    def saved_inputs(self, needs):
        return ()

    def forward(self, a, b):
        self._shapes(a, b)
        return a + b

    def backward(self, g):
        return self._out(g, g)


class Subtract(_Binary):
    complex_grad = True  # linear in its input: g passes unconjugated

    def saved_inputs(self, needs):
        return ()

    def forward(self, a, b):
        self._shapes(a, b)
        return a - b

    def backward(self, g):
        return self._out(g, -g if self.needs[1] else None)


class Multiply(_Binary):
    complex_grad = True  # g * conj(b), g * conj(a)

    saved_inputs = staticmethod(cross_saved)  # a is read only for b's gradient, and vice versa

    def forward(self, a, b):
        self._shapes(a, b)
        self.saved = (a if self.needs[1] else None, b if self.needs[0] else None)
        return a * b

    def backward(self, g):
        a, b = self.saved
        if g.dtype.kind == "c":  # PyTorch's convention: g * conj(d(a b)/da)
            xp = xp_of(g)
            a, b = _conj(xp, a), _conj(xp, b)
        return self._out(g * b if self.needs[0] else None, g * a if self.needs[1] else None)


class Divide(_Binary):
    complex_grad = True  # g / conj(b), -g / conj(b) * conj(a / b)

    def forward(self, a, b):
        self._shapes(a, b)
        ans = a / b
        self.saved = (b, ans if self.needs[1] else None)
        return ans

    def backward(self, g):
        b, ans = self.saved
        if g.dtype.kind == "c":
            xp = xp_of(g)
            b, ans = _conj(xp, b), _conj(xp, ans)
        narrow = None
        if not isinstance(g, Tensor):   # 16-bit: in float32 (1 / b may overflow float16)
            narrow, (g, b, ans) = widened(g, b, ans)
        ga = g / b
        return self._out(ga if self.needs[0] else None, -ga * ans if self.needs[1] else None,
                         narrow)

    def saved_inputs(self, needs):
        return (1,)


class Power(_Binary):
    """a ** b with PyTorch's gradients at the edges: d/da is 0 where b == 0 (also at a == 0,
    where b * a**(b-1) would be 0 * inf), and b * a**(b-1) elsewhere (inf at a == 0 for
    0 < b < 1, as the true slope); d/db is ans * log(a): 0 at a == 0 for b >= 0, -inf there for
    b < 0, and NaN for a < 0 (a real power of a negative base has no derivative in b)."""

    saves_output = True
    complex_grad = True  # PyTorch's: g * conj(b a**(b-1)), g * conj(ans log a)

    def forward(self, a, b):
        self._shapes(a, b)
        ans = a ** b
        self.saved = (a, b, ans)
        return ans

    def backward(self, g):
        a, b, ans = self.saved
        xp = xp_of(g)
        narrow = None
        if not isinstance(g, Tensor):   # 16-bit: the formulas in float32, rounded once
            narrow, (g, a, b, ans) = widened(g, a, b, ans)
        if is_scalar(a):  # a number base (2 ** x): an array on ans's device for the masks
            a = xp.full_like(ans, a)  # below (CuPy's where takes no Python bool condition)
        if g.dtype.kind == "c":
            return self._out(*self._complex_grads(xp, g, a, b, ans))
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs[0]:
                if is_scalar(b):
                    ga = g * (b * a ** (b - 1)) if b != 0 else xp.zeros_like(g)
                else:  # (the masked branches stay finite: their own gradient is then 0, not NaN)
                    ga = g * xp.where(b == 0, 0, b * a ** xp.where(b == 0, 1, b - 1))
            if self.needs[1]:
                pos = a > 0
                at_zero = xp.where(b >= 0, 0, xp.where(ans > 0, -math.inf, math.inf))  # ans*log 0
                gb = g * xp.where(pos, ans * xp.log(xp.where(pos, a, 1)),
                                  xp.where(a == 0, at_zero, math.nan))
        return self._out(ga, gb, narrow)

    def _complex_grads(self, xp, g, a, b, ans):
        """PyTorch's complex gradients: d/da is 0 where b == 0; d/db is 0 where a == 0 and b
        is real and >= 0 (log 0 would give NaN there), conj(ans log a) elsewhere."""
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs[0]:
                if is_scalar(b):
                    ga = g * _conj(xp, b * a ** (b - 1)) if b != 0 else xp.zeros_like(g)
                else:
                    ga = g * _conj(xp, xp.where(b == 0, 0, b * a ** xp.where(b == 0, 1, b - 1)))
            if self.needs[1]:
                if is_scalar(b):
                    real_nonneg = complex(b).imag == 0 and complex(b).real >= 0
                elif b.dtype.kind == "c":
                    real_nonneg = (xp.imag(b) == 0) & (xp.real(b) >= 0)
                else:
                    real_nonneg = b >= 0
                skip = (a == 0) & real_nonneg
                base = xp.where(a == 0, 1, a)
                if ans.dtype.kind == "c" and base.dtype.kind != "c":  # a real base < 0: its
                    base = base.astype(ans.dtype)  # principal complex log, not a real NaN
                gb = g * _conj(xp, xp.where(skip, 0, ans * xp.log(base)))
        return ga, gb


class Maximum(_Binary):
    """Gradient goes to the larger input; on ties it is split evenly."""

    def forward(self, a, b):
        self._shapes(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).maximum(a, b)

    def backward(self, g):
        a, b = self.saved
        wa = (a > b) + 0.5 * (a == b)
        return self._out(g * wa if self.needs[0] else None,
                         g * (1 - wa) if self.needs[1] else None)


class Minimum(_Binary):
    """Gradient goes to the smaller input; on ties it is split evenly."""

    def forward(self, a, b):
        self._shapes(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).minimum(a, b)

    def backward(self, g):
        a, b = self.saved
        wa = (a < b) + 0.5 * (a == b)
        return self._out(g * wa if self.needs[0] else None,
                         g * (1 - wa) if self.needs[1] else None)


class Remainder(_Binary):
    def forward(self, a, b):
        self._shapes(a, b)
        self.saved = (a, b)
        return a % b

    def backward(self, g):
        a, b = self.saved
        xp = xp_of(g)
        return self._out(g if self.needs[0] else None,
                         -g * xp.floor(a / b) if self.needs[1] else None)


class Where(Function):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True  # g picked by a constant mask

    def saved_inputs(self, needs):
        return (0,)

    def forward(self, cond, a, b):
        xp = xp_of(cond)
        self.saved = (cond,)
        self.sa, self.sb = shape_of(a), shape_of(b)
        return xp.where(cond, a, b)

    def backward(self, g):
        (cond,) = self.saved
        zero = g.dtype.type(0)
        return (None,
                unbroadcast(xp_of(g).where(cond, g, zero), self.sa) if self.needs[1] else None,
                unbroadcast(xp_of(g).where(cond, zero, g), self.sb) if self.needs[2] else None)


def _binary(cls, doc_name):
    def fn(a, b):
        if isinstance(a, Tensor):  # (operand(a, b) would return it)
            return cls.apply(a, b if isinstance(b, Tensor) else operand(b, a))
        a = operand(a, b)
        return cls.apply(a, operand(b, a))
    fn.__name__ = doc_name
    return fn


add = _binary(Add, "add")
subtract = _binary(Subtract, "subtract")
multiply = _binary(Multiply, "multiply")
divide = _binary(Divide, "divide")
power = _binary(Power, "power")
maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")
remainder = _binary(Remainder, "remainder")
add.__doc__ = """a + b with broadcasting.\n\n>>> import gpugrad as gg\n>>> gg.add(gg.tensor([1.0, 2.0]), 1).tolist()\n[2.0, 3.0]\n"""
subtract.__doc__ = """a - b with broadcasting.\n\n>>> import gpugrad as gg\n>>> gg.subtract(3, gg.tensor([1.0])).tolist()\n[2.0]\n"""
multiply.__doc__ = """a * b with broadcasting.\n\n>>> import gpugrad as gg\n>>> gg.multiply(gg.tensor([2.0]), 3).tolist()\n[6.0]\n"""
divide.__doc__ = """a / b (true division).\n\n>>> import gpugrad as gg\n>>> gg.divide(gg.tensor([1.0]), 4).tolist()\n[0.25]\n"""
power.__doc__ = """a ** b; b may be a tensor or a number.\n\n>>> import gpugrad as gg\n>>> gg.power(gg.tensor([3.0]), 2).tolist()\n[9.0]\n"""
maximum.__doc__ = """Elementwise max; ties split the gradient evenly.\n\n>>> import gpugrad as gg\n>>> gg.maximum(gg.tensor([1.0, 5.0]), 2.0).tolist()\n[2.0, 5.0]\n"""
minimum.__doc__ = """Elementwise min; ties split the gradient evenly.\n\n>>> import gpugrad as gg\n>>> gg.minimum(gg.tensor([1.0, 5.0]), 2.0).tolist()\n[1.0, 2.0]\n"""
remainder.__doc__ = """a % b with Python's sign convention.\n\n>>> import gpugrad as gg\n>>> gg.remainder(gg.tensor([5.0]), 3).tolist()\n[2.0]\n"""


def where(condition, a, b):
    """Pick ``a`` where ``condition`` holds, else ``b``; differentiable in ``a`` and ``b``.

    >>> import gpugrad as gg
    >>> gg.where(gg.tensor([True, False]), gg.tensor([1.0, 2.0]), 0.0).tolist()
    [1.0, 0.0]
    """
    like = a if hasattr(a, "shape") else b
    cond = operand(condition, like)
    if not hasattr(cond, "dtype"):  # a Python bool or number: a 0-d condition beside a / b
        from ..tensor import as_tensor

        cond = as_tensor(bool(cond), device=like.device if isinstance(like, Tensor) else None)
    a = operand(a, b if isinstance(b, Tensor) else cond)  # a number beside bfloat16 is weak
    b = operand(b, a if isinstance(a, Tensor) else cond)
    if cond.dtype != np.bool_:
        cond = cond.astype(np.bool_)
    return Where.apply(cond, a, b)


# ================================================================ clip
class Clip(Function):
    """min(max(x, lo), hi) with PyTorch's clamp gradient, one rule for number and tensor bounds:
    x gets g where lo <= x <= hi (bounds included); lo gets g where x < lo and lo < hi; hi gets
    g where x > hi or hi < lo (when lo > hi the result is hi everywhere)."""

    twice_differentiable = True  # g picked by masks of the inputs

    def forward(self, x, lo, hi):
        self.shapes = (shape_of(x), shape_of(lo), shape_of(hi))
        self.saved = (x, lo, hi)
        xp = xp_of(x)
        if x.dtype.char == "E":  # ml_dtypes' clip answers bfloat16 in float32
            r = x if lo is None else xp.maximum(x, lo)
            return r if hi is None else xp.minimum(r, hi)
        return xp.clip(x, lo, hi)

    def backward(self, g):
        x, lo, hi = self.saved
        xp = xp_of(g)
        out = [None, None, None]
        if self.needs[0]:
            if lo is None:
                keep = x <= hi
            elif hi is None:
                keep = x >= lo
            else:
                keep = (x >= lo) & (x <= hi)
            out[0] = xp.where(keep, g, 0)
        if self.needs[1]:
            out[1] = xp.where((x < lo) if hi is None else (x < lo) & (lo < hi), g, 0)
        if self.needs[2]:
            out[2] = xp.where((x > hi) if lo is None else (x > hi) | (hi < lo), g, 0)
        return tuple(None if o is None else unbroadcast(o, s)
                     for o, s in zip(out, self.shapes))


def clip(x, a_min=None, a_max=None):
    """Limit values to [a_min, a_max] (NumPy's clip, PyTorch's clamp).

    The bounds may be numbers or tensors (tensors broadcast and get gradients), with one
    gradient rule for both, PyTorch's: the input gets the gradient where
    ``a_min <= x <= a_max`` -- bounds included, so a value sitting on a bound passes its
    gradient; ``a_min`` gets it where ``x < a_min < a_max``; ``a_max`` where ``x > a_max`` or
    ``a_max < a_min`` (the result is then ``a_max`` everywhere).

    >>> import gpugrad as gg
    >>> x = gg.tensor([-1.0, 0.0, 0.5, 2.0], requires_grad=True)
    >>> y = gg.clip(x, 0, 1); y.tolist()
    [0.0, 0.0, 0.5, 1.0]
    >>> y.sum().backward(); x.grad.tolist()
    [0.0, 1.0, 1.0, 0.0]
    """
    if a_min is None and a_max is None:
        raise ValueError("clip needs a_min or a_max (got neither)")
    x = operand(x)
    lo = None if a_min is None else operand(a_min, x)
    hi = None if a_max is None else operand(a_max, x)
    return Clip.apply(x, lo, hi)


__all__ = (["add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "remainder",
            "where", "clip"]
           + list(_unary_all))
