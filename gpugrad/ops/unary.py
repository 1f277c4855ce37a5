"""The unary elementwise ops, from one table: the exp/log family, powers and roots,
trigonometry and hyperbolics, the parameter-free activations (sigmoid, relu, silu, erf, gelu)
the zero-gradient roundings (floor, ceil, trunc, rint) and sign (zero gradient for real
input; z / |z| for complex, differentiable as PyTorch's ``sgn``).

HIPS-autograd style: each row is ``name: (forward, vjp, what the vjp reads)``, where the vjp
gets ``(xp, g, x, ans)``; one op class and one function are made per row.  On float16 and
bfloat16 input a row's forward and vjp run in float32 and round once (as PyTorch's kernels
compute), except the exact rows (negative, abs, relu).  The binary
arithmetic ops are in elementwise.py, which re-exports everything here.

>>> import gpugrad as gg
>>> x = gg.tensor([0.5, -1.0], requires_grad=True)
>>> gg.tanh(x).sum().backward()
>>> [round(v, 4) for v in x.grad.tolist()]
[0.7864, 0.42]
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..dtypes import is_floating
from ..special import erf as _erf_array  # (the table below defines the op `erf`)
from ..special import normal_cdf as _normal_cdf_array
from ..tensor import Tensor, as_tensor
from ._util import _WIDE_CHARS, _conj, is_scalar, no_complex, operand, widened, xp_of
from ..autocast_state import _state as _amp, to_float32 as _amp_f32

_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _sigmoid(xp, x):
    if x.dtype.kind == "c":  # no overflow guard to take: |exp(-x)| needs the real part only
        return 1 / (1 + xp.exp(-x))
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _sig(xp, x):
    """sigmoid(x) inside a vjp: the stable composite on arrays; on Tensors (create_graph) the
    Sigmoid op, whose own derivative is right at 0 (the composite's |x| is flat there)."""
    return xp.sigmoid(x) if isinstance(x, Tensor) else _sigmoid(xp, x)


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


def _normal_cdf(xp, x):
    """Phi(x) = erfc(-x / sqrt 2) / 2 inside a formula: the array function, or on Tensors the
    differentiable (private) NormalCdf op below."""
    return _OPS_PRIVATE["normal_cdf"][1](x) if isinstance(x, Tensor) else _normal_cdf_array(x)


def _tame(xp, x, limit):
    """(|x| > limit, x with those entries set to 0). A vjp evaluates its x-dependent factors on
    the second, and picks the (constant) limits where |x| > limit: a factor of 0 times x = inf
    is nan, in the vjp and in the derivative of a where's untaken branch (create_graph)."""
    big = xp.abs(x) > limit
    return big, xp.where(big, 0.0, x)


def _normal_pdf(xp, x):
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi), and its derivatives, 0 for |x| > 64 (exactly 0
    there in float64) with no nan at x = +-inf."""
    big, x = _tame(xp, x, 64.0)
    return xp.where(big, 0.0, _INV_SQRT_2PI * xp.exp(-0.5 * x * x))


def _gelu_forward(xp, x):
    """x Phi(x): no 1 + erf(x / sqrt 2) to cancel for x < 0; -0 where Phi(x) is 0 (the limit at
    x = -inf too, where x * 0 would be nan)."""
    if x.dtype.kind == "c":
        raise TypeError("erf and gelu are not supported for complex input")
    cdf = _normal_cdf_array(x)
    with np.errstate(invalid="ignore"):
        return xp.where(cdf == 0, -0.0, x * cdf)


def _gelu_vjp(xp, g, x, a):
    """g (Phi(x) + x phi(x)); x phi(x) is 0 for |x| > 64 (its limit at +-inf: not x * 0)."""
    big, xs = _tame(xp, x, 64.0)
    return g * (_normal_cdf(xp, x) + xs * _normal_pdf(xp, xs))


# |x| beyond which sigmoid(2u) is exactly 0 or 1 and s (1 - s) exactly 0 in float64 and float32
# (2u = 2 sqrt(2/pi) (x + 0.044715 x^3) passes 1000 at |x| = 24; exp(-745) is 0)
_GELU_TANH_TAIL = 24.0


def _gelu_tanh_sigmoids(xp, x):
    """(s, 1 - s) for s = sigmoid(2u) = (1 + tanh u) / 2, u = sqrt(2/pi) (x + 0.044715 x^3),
    the second as sigmoid(-2u): neither cancels nor overflows."""
    with np.errstate(over="ignore"):            # (x^3 overflowing: w = +-inf is right)
        w = (2 * _SQRT_2_PI) * (x + 0.044715 * x * x * x)
    return _sig(xp, w), _sig(xp, -w)


def _gelu_tanh_forward(xp, x):
    s = _gelu_tanh_sigmoids(xp, x)[0]
    with np.errstate(invalid="ignore", over="ignore"):
        return xp.where(s == 0, -0.0, x * s)    # (-0 at x = -inf too, as gelu)


def _gelu_tanh_vjp(xp, g, x, a):
    """g (s + 2 x s (1 - s) u'), with 1 - tanh(u)^2 = 4 s (1 - s); for |x| beyond
    _GELU_TANH_TAIL, s is its limit 0 or 1 and the second term 0 (not x * 0 * inf)."""
    big, xs = _tame(xp, x, _GELU_TANH_TAIL)
    s, rest = _gelu_tanh_sigmoids(xp, xs)
    d = s + xs * (s * rest) * (2 * _SQRT_2_PI) * (1 + 3 * 0.044715 * xs * xs)
    return g * xp.where(big, (x > 0).astype(d.dtype), d)


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
    "gelu": (_gelu_forward, _gelu_vjp, "x"),
    "gelu_tanh": (_gelu_tanh_forward, _gelu_tanh_vjp, "x"),
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

# ops with no gradient (the result is piecewise constant; sign of real x, below)
_ZERO_GRAD = {
    "floor": lambda xp, x: xp.floor(x),
    "ceil": lambda xp, x: xp.ceil(x),
    "trunc": lambda xp, x: xp.trunc(x),
    "rint": lambda xp, x: xp.rint(x),
}


_AMP_FLOAT32 = ("exp", "log", "log1p", "expm1")  # in gpugrad.autocast_state.FLOAT32_OPS
# rows whose forward and vjp are exact in any float dtype: no float32 detour for 16-bit input
_EXACT = {"negative", "abs", "relu"}


def _make_unary(name, fwd, vjp, reads):
    keep_x, keep_ans = reads in ("x", "both"), reads in ("ans", "both")
    exact = name in _EXACT

    holo = name in _HOLOMORPHIC

    class Op(Function):
        saves_output = keep_ans
        complex_grad = name in _COMPLEX_GRAD or holo
        twice_differentiable = True  # each vjp is written on xp, with x and ans only

        def saved_inputs(self, needs):
            return (0,) if keep_x else ()

        def forward(self, x):
            xp = xp_of(x)
            # 16-bit x: the formula in float32, rounded once (as PyTorch's kernels compute)
            ans = fwd(xp, x if exact or x.dtype.char not in _WIDE_CHARS else x.astype(np.float32))
            if ans.dtype != x.dtype and is_floating(x.dtype):  # bfloat16 too
                ans = ans.astype(x.dtype)
            self.saved = (x if keep_x else None, ans if keep_ans else None)
            return ans

        def backward(self, g):
            x, ans = self.saved
            xp = xp_of(g)
            if holo and self._complex:
                x, ans = _conj(xp, x), _conj(xp, ans)
            narrow = None
            if not exact and not isinstance(g, Tensor):   # 16-bit: float32, rounded once
                narrow, (g, x, ans) = widened(g, x, ans)
            gx = vjp(xp, g, x, ans)
            return (gx if narrow is None else gx.astype(narrow),)

    Op.__name__ = Op.__qualname__ = name.title().replace("_", "")

    # a float tensor is its own operand (_float_operand would return it): no call for it
    if name in _AMP_FLOAT32:
        def fn(x):
            if _amp.dtype is not None:  # autocast: a float32 op
                x = _amp_f32(x)
            if isinstance(x, Tensor) and is_floating(x.data.dtype):
                return Op.apply(x)
            return Op.apply(_float_operand(_number_operand(x), name))
    else:
        def fn(x):
            if isinstance(x, Tensor) and is_floating(x.data.dtype):
                return Op.apply(x)
            return Op.apply(_float_operand(_number_operand(x), name))
    fn.__name__ = name
    fn.__doc__ = (f"Elementwise {name}(x), differentiable.\n\n>>> import gpugrad as gg\n"
                  f">>> gg.{name}(gg.tensor([{1.5 if name == 'arccosh' else 0.5}])).shape\n(1,)\n")
    return Op, fn


def _number_operand(x):
    """A unary op's input: a Python or NumPy number becomes a 0-d tensor of NumPy's dtype for
    it (``np.asarray(2).dtype``: int64; 2.0: float64), so ``exp(2)`` is ``exp`` of that
    tensor; anything else as :func:`operand` takes it."""
    if is_scalar(x):
        return as_tensor(np.asarray(x))
    return operand(x)


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
        return Op.apply(_number_operand(x))
    fn.__name__ = name
    fn.__doc__ = (f"Elementwise {name}(x); its gradient is zero.\n\n>>> import gpugrad as gg\n"
                  f">>> gg.{name}(gg.tensor([-1.5])).shape\n(1,)\n")
    return Op, fn


class Sign(Function):
    """sign(x): piecewise constant for real x (gradient 0); for complex x NumPy 2's z / |z|
    (0 at 0; PyTorch's ``sgn``), whose gradient is torch.sgn's: (g - s re(conj(s) g)) / |z|,
    0 at 0 -- the part of g along the unit circle's tangent at s, over |z|."""

    twice_differentiable = True  # written on xp with x and the answer
    complex_grad = True

    def saved_inputs(self, needs):
        return (0,) if self.cplx else ()

    def forward(self, x):
        ans = xp_of(x).sign(x)
        self.cplx = x.dtype.kind == "c"
        self.saved = (x, ans) if self.cplx else ()
        return ans

    def backward(self, g):
        xp = xp_of(g)
        if not self.cplx:
            return (xp.zeros_like(g),)
        x, s = self.saved
        r = xp.abs(x)
        zero = r == 0
        gx = (g - s * xp.real(xp.conj(s) * g)) / xp.where(zero, 1, r)
        return (xp.where(zero, 0, gx),)


def sign(x):
    """Elementwise sign(x): -1, 0 or 1 for real x (gradient zero); z / |z| for complex z
    (0 at 0), differentiable as PyTorch's ``sgn``.

    >>> import gpugrad as gg
    >>> gg.sign(gg.tensor([-1.5, 0.0, 2.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return Sign.apply(_number_operand(x))


def _float_operand(x, name):
    x = operand(x)
    if name in _ORDERED and hasattr(x, "dtype"):
        no_complex(x, name)  # NumPy would order complex numbers lexicographically
    if hasattr(x, "dtype") and x.dtype.kind not in "fcV" and name not in ("negative", "abs",
                                                                          "square", "relu"):
        return x.astype(np.float32) if x.dtype.itemsize <= 4 or x.dtype.kind == "b" \
            else x.astype(np.float64)
    return x


_OPS = {}
for _name, (_f, _v, _r) in _UNARY.items():
    _OPS[_name] = _make_unary(_name, _f, _v, _r)
for _name, _f in _ZERO_GRAD.items():
    _OPS[_name] = _make_zero_grad(_name, _f)
_OPS["sign"] = (Sign, sign)
globals().update({n: fn for n, (_, fn) in _OPS.items()})
# not public: Phi(x) as an op, for gelu's vjp on Tensors (create_graph)
_OPS_PRIVATE = {"normal_cdf": _make_unary(
    "normal_cdf", lambda xp, x: _normal_cdf_array(x),
    lambda xp, g, x, a: g * _normal_pdf(xp, x), "x")}
Exp, Log, Tanh, Sigmoid, Relu = (_OPS[n][0] for n in ("exp", "log", "tanh", "sigmoid", "relu"))

__all__ = [n for n in _OPS if n != "gelu"]
