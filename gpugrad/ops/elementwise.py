"""Elementwise ops: arithmetic, the exp/log family, trigonometry, activations (comparisons,
logical and bitwise ops, which have no gradient, are in compare.py).

Each op's forward and gradient sit side by side.  Unary ops come from one table
(HIPS-autograd style): ``name: (forward, vjp, what the vjp reads)`` where the vjp gets
``(xp, g, x, ans)``.

>>> import gpugrad as gg
>>> x = gg.tensor([0.5, -1.0], requires_grad=True)
>>> gg.tanh(x).sum().backward()
>>> [round(v, 4) for v in x.grad.tolist()]
[0.7864, 0.42]
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, unbroadcast
from ..backend import erf as _erf_array  # (the table below defines the op `erf`)
from ..tensor import Tensor
from ._util import is_scalar, no_complex, operand, shape_of, xp_of

_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _conj(xp, v):
    """conj(v) for a complex ``v``; ``v`` itself otherwise (None, real numbers and real arrays
    pass untouched: no pass over a real array)."""
    if isinstance(v, complex):
        return v.conjugate()
    dt = getattr(v, "dtype", None)
    return xp.conj(v) if dt is not None and dt.kind == "c" else v


# ================================================================ binary arithmetic
class _Binary(Function):
    twice_differentiable = True

    def _shapes(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)

    def _out(self, ga, gb):
        n0, n1 = self.needs
        return (unbroadcast(ga, self.sa) if n0 else None,
                unbroadcast(gb, self.sb) if n1 else None)


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

    def saved_inputs(self, needs):  # a is read only for b's gradient, and vice versa
        return tuple(i for i, other in ((0, 1), (1, 0)) if needs[other])

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
        ga = g / b
        return self._out(ga if self.needs[0] else None, -ga * ans if self.needs[1] else None)

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
        if is_scalar(a) and isinstance(g, Tensor):  # a number base (2 ** x): a constant on
            a = xp.full_like(ans, a)                 # ans's device for the masks below
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
        return self._out(ga, gb)

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
        a = operand(a, b)
        b = operand(b, a)
        return cls.apply(a, b)
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
        from ..tensor import Tensor, as_tensor

        cond = as_tensor(bool(cond), device=like.device if isinstance(like, Tensor) else None)
    a = operand(a, cond)
    b = operand(b, cond)
    if cond.dtype != np.bool_:
        cond = cond.astype(np.bool_)
    return Where.apply(cond, a, b)


# ================================================================ unary table
def _sigmoid(xp, x):
    if x.dtype.kind == "c":  # no overflow guard to take: |exp(-x)| needs the real part only
        return 1 / (1 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _sig(xp, x):
    """sigmoid(x) inside a vjp: the stable composite on arrays; on Tensors (create_graph) the
    Sigmoid op, whose own derivative is right at 0 (the composite's |x| is flat there)."""
    return xp.sigmoid(x) if isinstance(x, Tensor) else _sigmoid(xp, x)


def _erf(xp, x):
    """erf inside a formula: the array function, or the differentiable op on Tensors."""
    return xp.erf(x) if isinstance(x, Tensor) else _erf_array(x)


def _erf_forward(xp, x):
    if x.dtype.kind == "c":  # (the array function would drop the imaginary part)
        raise TypeError("erf and gelu are not supported for complex input")
    return _erf_array(x)


def _sgn(xp, x):
    """sign(x); x / |x| (0 at 0) for complex x, which on Tensors must be that quotient: the
    Sign op is piecewise constant (gradient 0), as z / |z| is not."""
    if isinstance(x, Tensor) and x.dtype.kind == "c":
        r = xp.abs(x)
        zero = r == 0
        return xp.where(zero, 0, x / xp.where(zero, 1, r))
    return xp.sign(x)


def _gelu_tanh_parts(xp, x):
    inner = _SQRT_2_PI * (x + 0.044715 * x ** 3)
    return xp.tanh(inner)


_UNARY = {
    # name: (forward(xp, x, **kw), vjp(xp, g, x, ans, **kw), reads "x" / "ans" / "both")
    "negative": (lambda xp, x: -x, lambda xp, g, x, a: -g, ""),
    "exp": (lambda xp, x: xp.exp(x), lambda xp, g, x, a: g * a, "ans"),
    "log": (lambda xp, x: xp.log(x), lambda xp, g, x, a: g / x, "x"),
    "log1p": (lambda xp, x: xp.log1p(x), lambda xp, g, x, a: g / (1 + x), "x"),
    "expm1": (lambda xp, x: xp.expm1(x), lambda xp, g, x, a: g * (a + 1), "ans"),
    "log2": (lambda xp, x: xp.log2(x), lambda xp, g, x, a: g / (x * math.log(2)), "x"),
    "log10": (lambda xp, x: xp.log10(x), lambda xp, g, x, a: g / (x * math.log(10)), "x"),
    "sqrt": (lambda xp, x: xp.sqrt(x), lambda xp, g, x, a: g * 0.5 / a, "ans"),
    "square": (lambda xp, x: x * x, lambda xp, g, x, a: g * 2 * x, "x"),
    "reciprocal": (lambda xp, x: 1 / x, lambda xp, g, x, a: -g * a * a, "ans"),
    "abs": (lambda xp, x: xp.abs(x), lambda xp, g, x, a: g * _sgn(xp, x), "x"),
    "sin": (lambda xp, x: xp.sin(x), lambda xp, g, x, a: g * xp.cos(x), "x"),
    "cos": (lambda xp, x: xp.cos(x), lambda xp, g, x, a: -g * xp.sin(x), "x"),
    "tan": (lambda xp, x: xp.tan(x), lambda xp, g, x, a: g * (1 + a * a), "ans"),
    "arcsin": (lambda xp, x: xp.arcsin(x), lambda xp, g, x, a: g / xp.sqrt(1 - x * x), "x"),
    "arccos": (lambda xp, x: xp.arccos(x), lambda xp, g, x, a: -g / xp.sqrt(1 - x * x), "x"),
    "arctan": (lambda xp, x: xp.arctan(x), lambda xp, g, x, a: g / (1 + x * x), "x"),
    "sinh": (lambda xp, x: xp.sinh(x), lambda xp, g, x, a: g * xp.cosh(x), "x"),
    "cosh": (lambda xp, x: xp.cosh(x), lambda xp, g, x, a: g * xp.sinh(x), "x"),
    "tanh": (lambda xp, x: xp.tanh(x), lambda xp, g, x, a: g * (1 - a * a), "ans"),
    "arcsinh": (lambda xp, x: xp.arcsinh(x), lambda xp, g, x, a: g / xp.sqrt(x * x + 1), "x"),
    # sqrt(x - 1) sqrt(x + 1), not sqrt(x*x - 1): the same for real x > 1, and the principal
    # branch for complex x (the other changes sign where Re x < 0)
    "arccosh": (lambda xp, x: xp.arccosh(x),
                lambda xp, g, x, a: g / (xp.sqrt(x - 1) * xp.sqrt(x + 1)), "x"),
    "arctanh": (lambda xp, x: xp.arctanh(x), lambda xp, g, x, a: g / (1 - x * x), "x"),
    "sigmoid": (_sigmoid, lambda xp, g, x, a: g * a * (1 - a), "ans"),
    "relu": (lambda xp, x: xp.maximum(x, 0), lambda xp, g, x, a: g * (a > 0), "ans"),
    "silu": (lambda xp, x: x * _sigmoid(xp, x),
             lambda xp, g, x, a: g * (lambda s: s * (1 + x * (1 - s)))(_sig(xp, x)), "x"),
    "erf": (_erf_forward, lambda xp, g, x, a: g * (_TWO_OVER_SQRT_PI * xp.exp(-x * x)), "x"),
    "gelu": (lambda xp, x: 0.5 * x * (1 + _erf_forward(xp, x * _INV_SQRT_2)),
             lambda xp, g, x, a: g * (0.5 * (1 + _erf(xp, x * _INV_SQRT_2))
                                      + x * _INV_SQRT_2PI * xp.exp(-0.5 * x * x)), "x"),
    "gelu_tanh": (lambda xp, x: 0.5 * x * (1 + _gelu_tanh_parts(xp, x)),
                  lambda xp, g, x, a: g * (lambda t: 0.5 * (1 + t) + 0.5 * x * (1 - t * t)
                                           * _SQRT_2_PI * (1 + 3 * 0.044715 * x * x))(
                      _gelu_tanh_parts(xp, x)), "x"),
}

# ops that compare with 0: not defined on complex numbers (PyTorch refuses them too)
_ORDERED = {"relu", "leaky_relu"}

# unary ops whose vjp above is also PyTorch's for complex input (checked in the op harness)
_COMPLEX_GRAD = {"negative", "abs"}
# holomorphic ops with real Taylor coefficients: conj(f'(z)) = f'(conj z), so PyTorch's
# g * conj(f'(z)) is the vjp above run on conj(x) and conj(ans) (only for complex input)
_HOLOMORPHIC = {"exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square", "reciprocal",
                "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                "arcsinh", "arccosh", "arctanh", "sigmoid"}

# ops with no gradient (the result is piecewise constant)
_ZERO_GRAD = {
    "sign": lambda xp, x: xp.sign(x),
    "floor": lambda xp, x: xp.floor(x),
    "ceil": lambda xp, x: xp.ceil(x),
    "trunc": lambda xp, x: xp.trunc(x),
    "rint": lambda xp, x: xp.rint(x),
}


def _make_unary(name, fwd, vjp, reads):
    keep_x, keep_ans = reads in ("x", "both"), reads in ("ans", "both")

    holo = name in _HOLOMORPHIC

    class Op(Function):
        saves_output = keep_ans
        complex_grad = name in _COMPLEX_GRAD or holo
        twice_differentiable = True  # each vjp is written on xp, with x and ans only

        def saved_inputs(self, needs):
            return (0,) if keep_x else ()

        def forward(self, x):
            xp = xp_of(x)
            ans = fwd(xp, x)
            if ans.dtype != x.dtype and x.dtype.kind == "f":
                ans = ans.astype(x.dtype)
            self.saved = (x if keep_x else None, ans if keep_ans else None)
            return ans

        def backward(self, g):
            x, ans = self.saved
            xp = xp_of(g)
            if holo and self._complex:
                x, ans = _conj(xp, x), _conj(xp, ans)
            return (vjp(xp, g, x, ans),)

    Op.__name__ = Op.__qualname__ = name.title().replace("_", "")

    def fn(x):
        return Op.apply(_float_operand(x, name))
    fn.__name__ = name
    fn.__doc__ = (f"Elementwise {name}(x), differentiable.\n\n>>> import gpugrad as gg\n"
                  f">>> gg.{name}(gg.tensor([{1.5 if name == 'arccosh' else 0.5}])).shape\n(1,)\n")
    return Op, fn


def _make_zero_grad(name, fwd):
    class Op(Function):
        twice_differentiable = True  # a constant zero gradient

        def saved_inputs(self, needs):
            return ()

        def forward(self, x):
            return fwd(xp_of(x), x)

        def backward(self, g):
            return (xp_of(g).zeros_like(g),)

    Op.__name__ = Op.__qualname__ = name.title()

    def fn(x):
        return Op.apply(operand(x))
    fn.__name__ = name
    fn.__doc__ = (f"Elementwise {name}(x); its gradient is zero.\n\n>>> import gpugrad as gg\n"
                  f">>> gg.{name}(gg.tensor([-1.5])).shape\n(1,)\n")
    return Op, fn


def _float_operand(x, name):
    x = operand(x)
    if name in _ORDERED and hasattr(x, "dtype"):
        no_complex(x, name)  # NumPy would order complex numbers lexicographically
    if hasattr(x, "dtype") and x.dtype.kind not in "fc" and name not in ("negative", "abs",
                                                                          "square", "relu"):
        return x.astype(np.float32) if x.dtype.itemsize <= 4 or x.dtype.kind == "b" \
            else x.astype(np.float64)
    return x


_OPS = {}
for _name, (_f, _v, _r) in _UNARY.items():
    _OPS[_name] = _make_unary(_name, _f, _v, _r)
for _name, _f in _ZERO_GRAD.items():
    _OPS[_name] = _make_zero_grad(_name, _f)
globals().update({n: fn for n, (_, fn) in _OPS.items()})
Exp, Log, Tanh, Sigmoid, Relu = (_OPS[n][0] for n in ("exp", "log", "tanh", "sigmoid", "relu"))


# ================================================================ clip
class Clip(Function):
    """min(max(x, lo), hi) with PyTorch's clamp gradient, one rule for number and tensor bounds:
    x gets g where lo <= x <= hi (bounds included); lo gets g where x < lo and lo < hi; hi gets
    g where x > hi or hi < lo (when lo > hi the result is hi everywhere)."""

    twice_differentiable = True  # g picked by masks of the inputs

    def forward(self, x, lo, hi):
        self.shapes = (shape_of(x), shape_of(lo), shape_of(hi))
        self.saved = (x, lo, hi)
        return xp_of(x).clip(x, lo, hi)

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
           + [n for n in _OPS if n != "gelu"])
