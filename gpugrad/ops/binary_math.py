"""Binary math beyond the core arithmetic, as NumPy defines it on real numbers: ``logaddexp``,
``logaddexp2``, ``arctan2``, ``hypot``, ``copysign`` and ``fmod``, with broadcasting; forward
and backward side by side.

>>> import gpugrad as gg
>>> a = gg.tensor([3.0], dtype="float64", requires_grad=True)
>>> gg.hypot(a, 4.0).sum().backward(); a.grad.tolist()
[0.6]
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, unbroadcast
from ..tensor import Tensor
from ._util import is_scalar, narrowed, no_complex, operand, shape_of, widened, xp_of
from .unary import _float_operand

__all__ = ["logaddexp", "logaddexp2", "arctan2", "hypot", "copysign", "fmod"]


# ================================================================ binary math
class _Bin(Function):
    twice_differentiable = True  # each backward below is written on xp, with the inputs only

    def _keep(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)

    def _out(self, ga, gb, narrow=None):
        """The gradients summed to the inputs' shapes, then rounded once to ``narrow`` (the
        16-bit dtype that :meth:`_wide` widened the formula's arrays from)."""
        return (narrowed(unbroadcast(ga, self.sa), narrow) if self.needs[0] else None,
                narrowed(unbroadcast(gb, self.sb), narrow) if self.needs[1] else None)

    @staticmethod
    def _wide(g, *arrays):
        """``(narrow, [g, *arrays])`` with 16-bit arrays in float32 (a backward's formula
        then runs in float32: x*x + y*y leaves float16's range at |x| ~ 1e-4 or 256), or as
        given under ``create_graph`` (Tensors)."""
        if isinstance(g, Tensor):
            return None, [g, *arrays]
        return widened(g, *arrays)


def _like(xp, v, like):
    """A number operand as a constant array of ``like``'s dtype -- np.sign(1.5) or
    np.where(c, 0, 1.5) would be float64 and promote the gradient -- (under create_graph a
    constant Tensor on ``like``'s device, of its shape); anything else as it is."""
    if not is_scalar(v):
        return v
    return xp.full_like(like, v) if isinstance(like, Tensor) else xp.asarray(v, dtype=like.dtype)


def _share(xp, a, b, scale=1.0):
    """d logaddexp(a, b) / da = sigmoid(a - b) (times ``scale`` inside for base 2): 0.5 each
    where a and b are both -inf (as a fully masked softmax slice), NaN where both are +inf
    (two entries tied at +inf: the limit depends on how each grows, as in logsumexp)."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = (a - b) * scale if scale != 1.0 else a - b
        if isinstance(d, Tensor):  # create_graph: the Sigmoid op (the composite below is flat
            # at d == 0 in its |d|), on d made finite where both are -inf
            return xp.sigmoid(xp.where(_both_low(a, b), 0, d))
        e = xp.exp(-xp.abs(d))
        w = xp.where(d >= 0, 1 / (1 + e), e / (1 + e))   # NaN where both are +inf
    return xp.where((a == b) & (a != np.inf), 0.5, w)


def _both_low(a, b):
    """True where a and b are both -inf (numbers or tensors)."""
    return (a == -np.inf) & (b == -np.inf)


class LogAddExp(_Bin):
    """log(exp(a) + exp(b)); d/da = sigmoid(a - b): 1 at (inf, 0) (not inf - inf = NaN), and
    0.5 each where the two are equal, infinities included."""

    def forward(self, a, b):
        self._keep(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).logaddexp(a, b)

    def backward(self, g):
        a, b = self.saved
        xp = xp_of(g)
        narrow, (g, a, b) = self._wide(g, a, b)
        return self._out(g * _share(xp, a, b) if self.needs[0] else None,
                         g * _share(xp, b, a) if self.needs[1] else None, narrow)


class LogAddExp2(_Bin):
    """log2(2**a + 2**b); d/da = sigmoid((a - b) ln 2), with logaddexp's limits."""

    def forward(self, a, b):
        self._keep(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).logaddexp2(a, b)

    def backward(self, g):
        a, b = self.saved
        xp = xp_of(g)
        narrow, (g, a, b) = self._wide(g, a, b)
        return self._out(g * _share(xp, a, b, math.log(2.0)) if self.needs[0] else None,
                         g * _share(xp, b, a, math.log(2.0)) if self.needs[1] else None,
                         narrow)


class Arctan2(_Bin):
    """The angle of (x, y); the gradient is (x, -y) / (x**2 + y**2): 0 at the origin and
    where a coordinate is infinite (the limit, not inf / inf)."""

    def forward(self, y, x):
        self._keep(y, x)
        self.saved = (y, x)
        return xp_of(y if hasattr(y, "shape") else x).arctan2(y, x)

    def backward(self, g):
        y, x = self.saved
        xp = xp_of(g)
        narrow, (g, y, x) = self._wide(g, y, x)
        with np.errstate(invalid="ignore", over="ignore"):
            d = x * x + y * y
            far = xp.isinf(d)
            if isinstance(g, Tensor):  # create_graph: the gradient is constant (0) at the
                # origin and where far, and the masked lanes stay finite (no 0 * inf = NaN)
                flat = far | ((x == 0) & (y == 0))
                x, y = (xp.where(flat, 0, _like(xp, v, g)) for v in (x, y))
                d = x * x + y * y
            d = xp.where((d == 0) | far, 1, d)
            return self._out(xp.where(far, 0, g * x / d), xp.where(far, 0, -g * y / d),
                             narrow)


class Hypot(_Bin):
    """sqrt(a**2 + b**2); the gradient is (a, b) / hypot: 0 at the origin, and the limit
    where an input is infinite ((inf, 1) gives (1, 0); (inf, inf) gives 1/sqrt(2) each)."""

    saves_output = True

    def forward(self, a, b):
        self._keep(a, b)
        ans = xp_of(a if hasattr(a, "shape") else b).hypot(a, b)
        self.saved = (a, b, ans)
        return ans

    def backward(self, g):
        a, b, ans = self.saved
        xp = xp_of(g)
        narrow, (g, a, b, ans) = self._wide(g, a, b, ans)
        a, b = _like(xp, a, ans), _like(xp, b, ans)  # a number: an array of ans's dtype
        big = xp.isinf(ans)  # direction from the infinite coordinates alone
        ua = xp.where(big, xp.where(xp.isinf(a), xp.sign(a), 0), a)
        ub = xp.where(big, xp.where(xp.isinf(b), xp.sign(b), 0), b)
        r = xp.where(big, xp.hypot(ua, ub), ans)
        safe = xp.where(r == 0, 1, r)
        if isinstance(g, Tensor):  # the gradient is constant (0) at the origin
            ua, ub = xp.where(r == 0, ua * 0, ua), xp.where(r == 0, ub * 0, ub)  # (signed 0)
        return self._out(g * ua / safe, g * ub / safe, narrow)


class Copysign(_Bin):
    def forward(self, a, b):
        self._keep(a, b)
        xp = xp_of(a if hasattr(a, "shape") else b)
        self.saved = (a, b)
        return xp.copysign(a, b)

    def backward(self, g):  # |a| * sign(b): d/da = sign(a) * (+-1 by b's sign bit)
        a, b = self.saved
        xp = xp_of(g)
        # +-1 by b's sign bit (on Tensors a constant: copysign's gradient in b is 0)
        flip = math.copysign(1.0, b) if is_scalar(b) else xp.copysign(1.0, b)
        return self._out(g * xp.sign(a) * flip, xp.zeros_like(g))


class Fmod(_Bin):
    def forward(self, a, b):
        self._keep(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).fmod(a, b)

    def backward(self, g):
        a, b = self.saved
        return self._out(g, -g * xp_of(g).trunc(a / b))


def _bin(cls, name, doc):
    def fn(a, b):
        a = operand(a, b)
        b = operand(b, a)
        for v in (a, b):  # NumPy defines none of these on complex numbers
            if hasattr(v, "dtype"):
                no_complex(v, name)
        if cls is not Fmod:
            a, b = _float_operand(a, name), _float_operand(b, name)
        return cls.apply(a, b)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


logaddexp = _bin(LogAddExp, "logaddexp", """log(exp(a) + exp(b)), computed stably.

>>> import gpugrad as gg
>>> f"{gg.logaddexp(gg.tensor(0.0), 0.0).item():.4f}"
'0.6931'
""")
logaddexp2 = _bin(LogAddExp2, "logaddexp2", """log2(2**a + 2**b), computed stably.

>>> import gpugrad as gg
>>> gg.logaddexp2(gg.tensor(1.0), 1.0).item()
2.0
""")
arctan2 = _bin(Arctan2, "arctan2", """The angle of the point (x2, x1): arctan(x1 / x2) by quadrant.

>>> import gpugrad as gg
>>> f"{gg.arctan2(gg.tensor(1.0), -1.0).item():.4f}"
'2.3562'
""")
hypot = _bin(Hypot, "hypot", """sqrt(a**2 + b**2) without overflow; gradient 0 at the origin.

>>> import gpugrad as gg
>>> gg.hypot(gg.tensor(3.0), 4.0).item()
5.0
""")
copysign = _bin(Copysign, "copysign", """|a| with the sign of b (gradient flows to a only).

>>> import gpugrad as gg
>>> gg.copysign(gg.tensor([1.0, -2.0]), -1.0).tolist()
[-1.0, -2.0]
""")
fmod = _bin(Fmod, "fmod", """C-style remainder (sign of the dividend).

>>> import gpugrad as gg
>>> gg.fmod(gg.tensor([-5.0, 5.0]), 3.0).tolist()
[-2.0, 2.0]
""")
