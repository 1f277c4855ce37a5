"""The op table that ``test_ops_harness.py`` runs over dtypes and devices.

Each :class:`OpCase` names one op applied to inputs of given shapes:

* ``fn``    -- the gpugrad call, on tensors (constants such as indices arrive as tensors too);
* ``ref``   -- the same expression written with NumPy, on float64 CPU copies of the inputs;
* ``torch`` -- the same expression in PyTorch (None where PyTorch has no direct twin);
* ``args``  -- input specs: ``F(shape, domain)`` for floating inputs (differentiated),
  ``C(value)`` for constants (integer indices, boolean masks, targets), held fixed.

Domains keep finite differences away from kinks: ``pos`` for log/sqrt, ``away0`` for
abs/relu/sign, ``distinct`` (no ties) for max/min, ``even``/``odd`` (never within 0.2 of each
other) for maximum/minimum, and so on.
"""
from __future__ import annotations

import math

import numpy as np

import gpugrad as gg

# ---------------------------------------------------------------- input specs


class F:
    """A floating input of ``shape`` drawn from ``domain`` (a name or ``f(rng, shape)``)."""

    def __init__(self, shape, domain="real"):
        self.shape, self.domain = tuple(shape), domain

    def make(self, rng):
        dom = self.domain
        return DOMAINS[dom](rng, self.shape) if isinstance(dom, str) else dom(rng, self.shape)

    def __repr__(self):
        return "x".join(map(str, self.shape)) or "0d"


class C:
    """A constant input (not differentiated): an array, or ``f(rng)`` returning one."""

    def __init__(self, value):
        self.value = value

    def make(self, rng):
        v = self.value(rng) if callable(self.value) else self.value
        return np.array(v)

    def __repr__(self):
        return "c"


def _u(rng, shape, lo, hi):
    return rng.uniform(lo, hi, size=shape)


def _sign(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def _distinct(rng, shape):
    n = int(np.prod(shape, dtype=int))
    vals = rng.permutation(n) * 0.25 + rng.uniform(0.0, 0.05, n) - n / 8
    return vals.reshape(shape)


def _clip_domain(rng, shape):  # away from the bounds -0.5 and 0.5
    band = rng.integers(0, 3, size=shape)
    mag = rng.uniform(0.6, 1.5, size=shape)
    return np.where(band == 0, -mag, np.where(band == 1, mag, rng.uniform(-0.4, 0.4, shape)))


DOMAINS = {
    "real": lambda rng, s: rng.standard_normal(s),
    "pos": lambda rng, s: _u(rng, s, 0.5, 2.0),
    "away0": lambda rng, s: _sign(rng, s) * _u(rng, s, 0.5, 2.0),
    "unit": lambda rng, s: _u(rng, s, -0.8, 0.8),
    "gt1": lambda rng, s: _u(rng, s, 1.2, 3.0),
    "big": lambda rng, s: _u(rng, s, 21.0, 25.0),
    "distinct": _distinct,
    # maximum/minimum operands: |even - odd| >= 0.2 everywhere, even under broadcasting
    "even": lambda rng, s: 2.0 * rng.integers(-2, 3, s) + _u(rng, s, 0.1, 0.9),
    "odd": lambda rng, s: 2.0 * rng.integers(-2, 3, s) + 1.0 + _u(rng, s, 0.1, 0.9),
    "clip": _clip_domain,
    "frac": lambda rng, s: rng.integers(-3, 3, s) + _u(rng, s, 0.2, 0.8),
    # remainder: a / b never near an integer when b is 1, 2 or 4
    "mod_a": lambda rng, s: 4.0 * rng.integers(-2, 3, s) + _u(rng, s, 0.2, 0.8),
    "pow2": lambda rng, s: 2.0 ** rng.integers(0, 3, s),
    "small_int": lambda rng, s: rng.integers(0, 3, s).astype(np.float64),
    "prob": lambda rng, s: _u(rng, s, 0.05, 0.95),
}


def with_zeros(k):
    """Real values with ``k`` exact zeros (prod's gradient must stay exact there)."""
    def make(rng, shape):
        a = DOMAINS["away0"](rng, shape).reshape(-1)
        a[rng.choice(a.size, size=k, replace=False)] = 0.0
        return a.reshape(shape)
    return make


def ties(rng, shape):
    """Values from {0, 1, 2}, so that every reduction has tied extremes."""
    return rng.integers(0, 3, shape).astype(np.float64)


# ---------------------------------------------------------------- the case record
class OpCase:
    """One op applied to one set of input shapes."""

    def __init__(self, name, fn, ref, args, torch=None, grad=True, out_dtype=None, tag="",
                 fd=True):
        self.name, self.fn, self.ref, self.args = name, fn, ref, list(args)
        self.torch, self.grad, self.out_dtype = torch, grad, out_dtype
        self.fd = grad and fd  # False: no finite-difference check (ties, float32 casts)
        shapes = ",".join(repr(a) for a in self.args)
        self.id = f"{name}[{shapes}]" + (f"-{tag}" if tag else "")

    def arrays(self, seed=0):
        """Fresh float64 / constant inputs (deterministic per case)."""
        rng = np.random.default_rng([seed, _stable_hash(self.id)])
        return [a.make(rng) for a in self.args]

    def is_float(self, i):
        return isinstance(self.args[i], F)

    def __repr__(self):
        return self.id


def _stable_hash(s):
    h = 0
    for ch in s:
        h = (h * 131 + ord(ch)) % (2 ** 31)
    return h


# ---------------------------------------------------------------- NumPy references
_erf = np.vectorize(math.erf, otypes=[np.float64])


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def np_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


def np_leaky_relu(x, slope=0.01):
    return np.where(x > 0, x, slope * x)


NP_ACT = {
    None: lambda z: z,
    "identity": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": np_leaky_relu,
    "gelu": np_gelu,
    "gelu_tanh": np_gelu_tanh,
    "silu": lambda z: z * np_sigmoid(z),
    "sigmoid": np_sigmoid,
    "tanh": np.tanh,
}


def np_logsumexp(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def np_log_softmax(x, axis=-1):
    return x - np_logsumexp(x, axis=axis, keepdims=True)


def np_cross_entropy(logits, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    logp = np_log_softmax(logits, axis=1)
    n, c = logits.shape
    valid = target != ignore_index
    picked = np.array([logp[i, target[i]] if valid[i] else 0.0 for i in range(n)])
    loss = -(1 - label_smoothing) * picked - label_smoothing / c * logp.sum(axis=1)
    loss = np.where(valid, loss, 0.0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / valid.sum()


def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def np_bce_logits(x, t, reduction="mean", pos_weight=None):
    p = np_sigmoid(x)
    w = 1.0 if pos_weight is None else pos_weight
    loss = -(w * t * np.log(p) + (1 - t) * np.log(1 - p))
    return np_reduce(loss, reduction)


# ---------------------------------------------------------------- PyTorch helpers (lazy)
def _F():
    import torch.nn.functional as F_  # noqa: N812 -- imported only when torch tests run

    return F_


def _torch():
    import torch

    return torch


def t_dim(axis, ndim):
    """A NumPy ``axis`` as a torch ``dim`` (None -> every axis)."""
    return tuple(range(ndim)) if axis is None else axis


def t_prod(x, axis=None, keepdims=False):
    torch = _torch()
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
    axes = sorted((a % x.ndim for a in axes), reverse=True) if x.ndim else []
    out = x
    for a in axes:
        out = torch.prod(out, dim=a, keepdim=True)
    if not keepdims:
        out = out.reshape([n for i, n in enumerate(x.shape) if i not in axes])
    return out


T_ACT = {
    None: lambda z: z,
    "identity": lambda z: z,
    "relu": lambda z: _F().relu(z),
    "leaky_relu": lambda z: _F().leaky_relu(z, 0.01),
    "gelu": lambda z: _F().gelu(z),
    "gelu_tanh": lambda z: _F().gelu(z, approximate="tanh"),
    "silu": lambda z: _F().silu(z),
    "sigmoid": lambda z: _torch().sigmoid(z),
    "tanh": lambda z: _torch().tanh(z),
}

# ---------------------------------------------------------------- the table
CASES: list[OpCase] = []


def case(*a, **k):
    CASES.append(OpCase(*a, **k))


UNARY_SHAPES = [(), (5,), (2, 3)]
BINARY_SHAPES = [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3), (3,)), ((), ()), ((2, 3), ()),
                 ((), (3, 1))]

# ------------------------------------------- elementwise, unary
# name: (gpugrad, NumPy, torch, domain)
UNARY = {
    "negative": (gg.negative, np.negative, lambda x: -x, "real"),
    "neg_operator": (lambda x: -x, np.negative, lambda x: -x, "real"),
    "exp": (gg.exp, np.exp, lambda x: x.exp(), "real"),
    "log": (gg.log, np.log, lambda x: x.log(), "pos"),
    "log1p": (gg.log1p, np.log1p, lambda x: x.log1p(), "pos"),
    "expm1": (gg.expm1, np.expm1, lambda x: x.expm1(), "real"),
    "log2": (gg.log2, np.log2, lambda x: x.log2(), "pos"),
    "log10": (gg.log10, np.log10, lambda x: x.log10(), "pos"),
    "sqrt": (gg.sqrt, np.sqrt, lambda x: x.sqrt(), "pos"),
    "square": (gg.square, np.square, lambda x: x.square(), "real"),
    "reciprocal": (gg.reciprocal, np.reciprocal, lambda x: x.reciprocal(), "away0"),
    "abs": (gg.abs, np.abs, lambda x: x.abs(), "away0"),
    "abs_operator": (abs, np.abs, abs, "away0"),
    "sign": (gg.sign, np.sign, lambda x: x.sign(), "away0"),
    "sin": (gg.sin, np.sin, lambda x: x.sin(), "real"),
    "cos": (gg.cos, np.cos, lambda x: x.cos(), "real"),
    "tan": (gg.tan, np.tan, lambda x: x.tan(), "unit"),
    "arcsin": (gg.arcsin, np.arcsin, lambda x: x.asin(), "unit"),
    "arccos": (gg.arccos, np.arccos, lambda x: x.acos(), "unit"),
    "arctan": (gg.arctan, np.arctan, lambda x: x.atan(), "real"),
    "sinh": (gg.sinh, np.sinh, lambda x: x.sinh(), "real"),
    "cosh": (gg.cosh, np.cosh, lambda x: x.cosh(), "real"),
    "tanh": (gg.tanh, np.tanh, lambda x: x.tanh(), "real"),
    "arcsinh": (gg.arcsinh, np.arcsinh, lambda x: x.asinh(), "real"),
    "arccosh": (gg.arccosh, np.arccosh, lambda x: x.acosh(), "gt1"),
    "arctanh": (gg.arctanh, np.arctanh, lambda x: x.atanh(), "unit"),
    "sigmoid": (gg.sigmoid, np_sigmoid, lambda x: x.sigmoid(), "real"),
    "relu": (gg.relu, lambda x: np.maximum(x, 0.0), lambda x: x.relu(), "away0"),
    "leaky_relu": (gg.leaky_relu, np_leaky_relu, lambda x: _F().leaky_relu(x), "away0"),
    "leaky_relu_0.2": (lambda x: gg.leaky_relu(x, 0.2), lambda x: np_leaky_relu(x, 0.2),
                       lambda x: _F().leaky_relu(x, 0.2), "away0"),
    "gelu": (gg.gelu, np_gelu, lambda x: _F().gelu(x), "real"),
    "gelu_tanh": (lambda x: gg.gelu(x, approximate="tanh"), np_gelu_tanh,
                  lambda x: _F().gelu(x, approximate="tanh"), "real"),
    "silu": (gg.silu, lambda x: x * np_sigmoid(x), lambda x: _F().silu(x), "real"),
    "softplus": (gg.softplus, np_softplus, lambda x: _F().softplus(x), "real"),
    "softplus_beta2": (lambda x: gg.softplus(x, beta=2.0), lambda x: np_softplus(x, 2.0),
                       lambda x: _F().softplus(x, beta=2.0), "real"),
    "softplus_linear": (gg.softplus, np_softplus, lambda x: _F().softplus(x), "big"),
    "clip": (lambda x: gg.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
             lambda x: x.clamp(-0.5, 0.5), "clip"),
    "clip_min": (lambda x: gg.clip(x, -0.5), lambda x: np.maximum(x, -0.5),
                 lambda x: x.clamp(min=-0.5), "clip"),
    "clip_max": (lambda x: gg.clip(x, None, 0.5), lambda x: np.minimum(x, 0.5),
                 lambda x: x.clamp(max=0.5), "clip"),
    "floor": (gg.floor, np.floor, lambda x: x.floor(), "frac"),
    "ceil": (gg.ceil, np.ceil, lambda x: x.ceil(), "frac"),
    "trunc": (gg.trunc, np.trunc, lambda x: x.trunc(), "frac"),
    "rint": (gg.rint, np.rint, lambda x: x.round(), "frac"),
    # power with a scalar exponent or a scalar base
    "power_scalar_3": (lambda x: x ** 3, lambda x: x ** 3, lambda x: x ** 3, "real"),
    "power_scalar_2": (lambda x: gg.power(x, 2), lambda x: x ** 2, lambda x: x ** 2, "real"),
    "power_scalar_0.5": (lambda x: x ** 0.5, np.sqrt, lambda x: x ** 0.5, "pos"),
    "power_scalar_-1.5": (lambda x: x ** -1.5, lambda x: x ** -1.5, lambda x: x ** -1.5, "pos"),
    "power_scalar_0": (lambda x: x ** 0, lambda x: x ** 0, lambda x: x ** 0, "real"),
    "power_scalar_base": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, lambda x: 2.0 ** x, "real"),
    # reflected arithmetic with Python scalars
    "radd": (lambda x: 2.5 + x, lambda x: 2.5 + x, lambda x: 2.5 + x, "real"),
    "rsub": (lambda x: 2.5 - x, lambda x: 2.5 - x, lambda x: 2.5 - x, "real"),
    "rmul": (lambda x: 2.5 * x, lambda x: 2.5 * x, lambda x: 2.5 * x, "real"),
    "rdiv": (lambda x: 2.5 / x, lambda x: 2.5 / x, lambda x: 2.5 / x, "away0"),
    "div_scalar": (lambda x: x / 4.0, lambda x: x / 4.0, lambda x: x / 4.0, "real"),
    "sub_scalar": (lambda x: x - 1, lambda x: x - 1, lambda x: x - 1, "real"),
}
for _name, (_fn, _ref, _tf, _dom) in UNARY.items():
    for _shape in UNARY_SHAPES:
        case(_name, _fn, _ref, [F(_shape, _dom)], torch=_tf)

# ------------------------------------------- elementwise, binary (broadcasting)
BINARY = {
    "add": (gg.add, np.add, lambda a, b: a + b, ("real", "real")),
    "add_operator": (lambda a, b: a + b, np.add, lambda a, b: a + b, ("real", "real")),
    "subtract": (gg.subtract, np.subtract, lambda a, b: a - b, ("real", "real")),
    "sub_operator": (lambda a, b: a - b, np.subtract, lambda a, b: a - b, ("real", "real")),
    "multiply": (gg.multiply, np.multiply, lambda a, b: a * b, ("real", "real")),
    "mul_operator": (lambda a, b: a * b, np.multiply, lambda a, b: a * b, ("real", "real")),
    "divide": (gg.divide, np.divide, lambda a, b: a / b, ("real", "away0")),
    "div_operator": (lambda a, b: a / b, np.divide, lambda a, b: a / b, ("real", "away0")),
    "power": (gg.power, np.power, lambda a, b: a ** b, ("pos", "real")),
    "pow_operator": (lambda a, b: a ** b, np.power, lambda a, b: a ** b, ("pos", "real")),
    "maximum": (gg.maximum, np.maximum, lambda a, b: _torch().maximum(a, b), ("even", "odd")),
    "minimum": (gg.minimum, np.minimum, lambda a, b: _torch().minimum(a, b), ("odd", "even")),
    "remainder": (gg.remainder, np.remainder, lambda a, b: _torch().remainder(a, b),
                  ("mod_a", "pow2")),
}
for _name, (_fn, _ref, _tf, (_da, _db)) in BINARY.items():
    for _sa, _sb in BINARY_SHAPES:
        case(_name, _fn, _ref, [F(_sa, _da), F(_sb, _db)], torch=_tf)

_COND = np.array([[True], [False], [True]])
for _sa, _sb in [((3, 4), (3, 4)), ((1, 4), ()), ((4,), (3, 1))]:
    case("where", gg.where, np.where, [C(_COND), F(_sa), F(_sb)],
         torch=lambda c, a, b: _torch().where(c, a, b))
case("where_scalar", lambda c, a: gg.where(c, a, 0.0), lambda c, a: np.where(c, a, 0.0),
     [C(_COND), F((3, 2))], torch=lambda c, a: _torch().where(c, a, 0.0))

# ------------------------------------------- comparisons and logical ops: bool, no gradient
COMPARE = {
    "equal": (gg.equal, np.equal, lambda a, b: a == b),
    "eq_operator": (lambda a, b: a == b, np.equal, lambda a, b: a == b),
    "not_equal": (gg.not_equal, np.not_equal, lambda a, b: a != b),
    "ne_operator": (lambda a, b: a != b, np.not_equal, lambda a, b: a != b),
    "less": (gg.less, np.less, lambda a, b: a < b),
    "lt_operator": (lambda a, b: a < b, np.less, lambda a, b: a < b),
    "less_equal": (gg.less_equal, np.less_equal, lambda a, b: a <= b),
    "le_operator": (lambda a, b: a <= b, np.less_equal, lambda a, b: a <= b),
    "greater": (gg.greater, np.greater, lambda a, b: a > b),
    "gt_operator": (lambda a, b: a > b, np.greater, lambda a, b: a > b),
    "greater_equal": (gg.greater_equal, np.greater_equal, lambda a, b: a >= b),
    "ge_operator": (lambda a, b: a >= b, np.greater_equal, lambda a, b: a >= b),
    "logical_and": (gg.logical_and, np.logical_and, lambda a, b: _torch().logical_and(a, b)),
    "logical_or": (gg.logical_or, np.logical_or, lambda a, b: _torch().logical_or(a, b)),
    "logical_xor": (gg.logical_xor, np.logical_xor, lambda a, b: _torch().logical_xor(a, b)),
}
for _name, (_fn, _ref, _tf) in COMPARE.items():
    for _sa, _sb in [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((), (3,))]:
        case(_name, _fn, _ref, [F(_sa, "small_int"), F(_sb, "small_int")], torch=_tf,
             grad=False, out_dtype=np.bool_)
for _name, _fn, _ref, _tf, _dom in [
        ("logical_not", gg.logical_not, np.logical_not, lambda a: _torch().logical_not(a),
         "small_int"),
        ("isfinite", gg.isfinite, np.isfinite, lambda a: _torch().isfinite(a), "real"),
        ("isnan", gg.isnan, np.isnan, lambda a: _torch().isnan(a), "real"),
        ("isinf", gg.isinf, np.isinf, lambda a: _torch().isinf(a), "real")]:
    case(_name, _fn, _ref, [F((2, 3), _dom)], torch=_tf, grad=False, out_dtype=np.bool_)
case("floor_divide", gg.floor_divide, np.floor_divide, [F((2, 3), "mod_a"), F((3,), "pow2")],
     torch=lambda a, b: _torch().floor_divide(a, b), grad=False)
_I23 = np.array([[5, 3, 6], [0, 9, 12]], dtype=np.int64)
_I3 = np.array([3, 6, 10], dtype=np.int64)
for _name, _fn, _ref in [("bitwise_and", gg.bitwise_and, np.bitwise_and),
                         ("bitwise_or", gg.bitwise_or, np.bitwise_or),
                         ("bitwise_xor", gg.bitwise_xor, np.bitwise_xor)]:
    case(_name, _fn, _ref, [C(_I23), C(_I3)], grad=False, out_dtype=np.int64)
case("invert", gg.invert, np.invert, [C(_I23)], grad=False, out_dtype=np.int64)

# ------------------------------------------- reductions
X3 = (2, 3, 4)
AXES = [dict(), dict(axis=0), dict(axis=-1), dict(axis=(0, 2)), dict(axis=(-1, -3)),
        dict(axis=1, keepdims=True), dict(keepdims=True), dict(axis=(0, 1), keepdims=True)]
SMALL = [((), dict()), ((5,), dict(axis=0)), ((5,), dict(axis=-1, keepdims=True))]


def _tag(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items()).replace(" ", "") or "all"


def _reduction(name, fn, ref, tfn, domain="real", shapes=None, axes=AXES, **extra):
    for shape, kws in shapes or [(X3, kw) for kw in axes] + SMALL:
        def g(x, kw=kws):
            return fn(x, **kw, **extra)

        def r(x, kw=kws):
            return ref(x, **kw, **extra)

        def t(x, kw=kws):
            return tfn(x, kw.get("axis"), kw.get("keepdims", False), **extra)
        case(name, g, r, [F(shape, domain)], torch=t, tag=_tag({**kws, **extra}))


_reduction("sum", gg.sum, np.sum,
           lambda x, a, k: _torch().sum(x, dim=t_dim(a, x.ndim), keepdim=k))
_reduction("sum_method", lambda x, **k: x.sum(**k), np.sum,
           lambda x, a, k: _torch().sum(x, dim=t_dim(a, x.ndim), keepdim=k),
           axes=[dict(axis=1)], shapes=[(X3, dict(axis=1))])
_reduction("mean", gg.mean, np.mean,
           lambda x, a, k: _torch().mean(x, dim=t_dim(a, x.ndim), keepdim=k))
for _ddof in (0, 1):
    _reduction("var", gg.var, np.var,
               lambda x, a, k, ddof: _torch().var(x, dim=t_dim(a, x.ndim), correction=ddof,
                                                  keepdim=k),
               ddof=_ddof, shapes=[(X3, kw) for kw in AXES] + ([((5,), dict(axis=0))] if _ddof
                                                               else SMALL))
    _reduction("std", gg.std, np.std,
               lambda x, a, k, ddof: _torch().std(x, dim=t_dim(a, x.ndim), correction=ddof,
                                                  keepdim=k),
               ddof=_ddof, shapes=[(X3, kw) for kw in AXES] + [((5,), dict(axis=0))])
_reduction("max", gg.max, np.max,
           lambda x, a, k: _torch().amax(x, dim=t_dim(a, x.ndim), keepdim=k), "distinct")
_reduction("min", gg.min, np.min,
           lambda x, a, k: _torch().amin(x, dim=t_dim(a, x.ndim), keepdim=k), "distinct")
_reduction("prod", gg.prod, np.prod, t_prod, "away0")
_reduction("logsumexp", gg.logsumexp, np_logsumexp,
           lambda x, a, k: _torch().logsumexp(x, dim=t_dim(a, x.ndim), keepdim=k))
# ties: the gradient is split evenly among tied extremes (torch.amax/amin do the same)
for _kw in [dict(), dict(axis=1), dict(axis=(0, 2), keepdims=True)]:
    for _name, _fn, _ref, _tfn in [("max_ties", gg.max, np.max, "amax"),
                                   ("min_ties", gg.min, np.min, "amin")]:
        case(_name, lambda x, f=_fn, kw=_kw: f(x, **kw), lambda x, f=_ref, kw=_kw: f(x, **kw),
             [F(X3, ties)], tag=_tag(_kw), fd=False,  # ties are kinks: compared with torch
             torch=lambda x, n=_tfn, kw=_kw: getattr(_torch(), n)(
                 x, dim=t_dim(kw.get("axis"), x.ndim), keepdim=kw.get("keepdims", False)))
# prod with zeros: one zero (the gradient there is the product of the others), two zeros
for _k in (1, 2):
    for _kw in [dict(), dict(axis=1)]:
        case(f"prod_{_k}zero", lambda x, kw=_kw: gg.prod(x, **kw),
             lambda x, kw=_kw: np.prod(x, **kw), [F((2, 3), with_zeros(_k))], tag=_tag(_kw),
             torch=lambda x, kw=_kw: t_prod(x, kw.get("axis")))
case("cumsum", lambda x: gg.cumsum(x, axis=1), lambda x: np.cumsum(x, axis=1), [F(X3)],
     torch=lambda x: _torch().cumsum(x, dim=1))
case("cumsum", gg.cumsum, np.cumsum, [F((2, 3))], torch=lambda x: _torch().cumsum(x.flatten(), 0))
for _kw in [dict(), dict(axis=0), dict(axis=-1), dict(axis=1, keepdims=True)]:
    for _name, _fn, _ref, _tfn in [("argmax", gg.argmax, np.argmax, "argmax"),
                                   ("argmin", gg.argmin, np.argmin, "argmin")]:
        case(_name, lambda x, f=_fn, kw=_kw: f(x, **kw), lambda x, f=_ref, kw=_kw: f(x, **kw),
             [F(X3, "distinct")], grad=False, out_dtype=np.int64, tag=_tag(_kw),
             torch=lambda x, n=_tfn, kw=_kw: getattr(_torch(), n)(
                 x, dim=kw.get("axis"), keepdim=kw.get("keepdims", False)))
case("all", lambda x: gg.all(x, axis=1), lambda x: np.all(x, axis=1), [F((2, 3), "small_int")],
     grad=False, out_dtype=np.bool_)
case("any", gg.any, np.any, [F((2, 3), "small_int")], grad=False, out_dtype=np.bool_)

# ------------------------------------------- shape ops
SHAPE = [
    ("reshape", lambda x: gg.reshape(x, 4, 6), lambda x: x.reshape(4, 6), X3,
     lambda x: x.reshape(4, 6)),
    ("reshape", lambda x: x.reshape((-1, 2)), lambda x: x.reshape(-1, 2), X3,
     lambda x: x.reshape(-1, 2)),
    ("reshape", lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1), (),
     lambda x: x.reshape(1, 1)),
    ("reshape", lambda x: x.reshape(()), lambda x: x.reshape(()), (1, 1),
     lambda x: x.reshape(())),
    ("view", lambda x: x.view(3, 8), lambda x: x.reshape(3, 8), X3, lambda x: x.view(3, 8)),
    ("transpose", gg.transpose, np.transpose, X3, lambda x: x.permute(2, 1, 0)),
    ("transpose", lambda x: gg.transpose(x, (1, 0, 2)), lambda x: np.transpose(x, (1, 0, 2)),
     X3, lambda x: x.permute(1, 0, 2)),
    ("permute", lambda x: gg.permute(x, 2, 0, 1), lambda x: np.transpose(x, (2, 0, 1)), X3,
     lambda x: x.permute(2, 0, 1)),
    ("permute", lambda x: x.permute((1, 2, 0)), lambda x: np.transpose(x, (1, 2, 0)), X3,
     lambda x: x.permute(1, 2, 0)),
    ("T", lambda x: x.T, lambda x: x.T, (2, 3), lambda x: x.T),
    ("T", lambda x: x.T, lambda x: x.T, (5,), lambda x: x),
    ("mT", lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2), X3, lambda x: x.mT),
    ("swapaxes", lambda x: gg.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1), X3,
     lambda x: x.transpose(0, -1)),
    ("transpose_method", lambda x: x.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2), X3,
     lambda x: x.transpose(0, 2)),
    ("moveaxis", lambda x: gg.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), X3,
     lambda x: x.movedim(0, -1)),
    ("expand", lambda x: gg.expand(x, 2, -1, 4), lambda x: np.broadcast_to(x, (2, 3, 4)), (3, 1),
     lambda x: x.expand(2, -1, 4)),
    ("expand", lambda x: x.expand(3, 2), lambda x: np.broadcast_to(x, (3, 2)), (), 
     lambda x: x.expand(3, 2)),
    ("broadcast_to", lambda x: gg.broadcast_to(x, (2, 3)), lambda x: np.broadcast_to(x, (2, 3)),
     (3,), lambda x: x.broadcast_to((2, 3))),
    ("broadcast_to", lambda x: gg.broadcast_to(x, (2, 4, 3)),
     lambda x: np.broadcast_to(x, (2, 4, 3)), (4, 1), lambda x: x.broadcast_to((2, 4, 3))),
    ("squeeze", gg.squeeze, np.squeeze, (1, 3, 1), lambda x: x.squeeze()),
    ("squeeze", lambda x: gg.squeeze(x, 0), lambda x: np.squeeze(x, 0), (1, 3, 1),
     lambda x: x.squeeze(0)),
    ("squeeze", lambda x: x.squeeze(-1), lambda x: np.squeeze(x, -1), (1, 3, 1),
     lambda x: x.squeeze(-1)),
    ("expand_dims", lambda x: gg.expand_dims(x, 0), lambda x: np.expand_dims(x, 0), (2, 3),
     lambda x: x.unsqueeze(0)),
    ("expand_dims", lambda x: gg.expand_dims(x, (0, 2)), lambda x: np.expand_dims(x, (0, 2)),
     (2, 3), lambda x: x.unsqueeze(0).unsqueeze(2)),
    ("unsqueeze", lambda x: x.unsqueeze(-1), lambda x: np.expand_dims(x, -1), (2, 3),
     lambda x: x.unsqueeze(-1)),
    ("unsqueeze", lambda x: gg.unsqueeze(x, 0), lambda x: np.expand_dims(x, 0), (),
     lambda x: x.unsqueeze(0)),
    ("flatten", gg.flatten, lambda x: x.reshape(-1), X3, lambda x: x.flatten()),
    ("flatten", lambda x: gg.flatten(x, 1), lambda x: x.reshape(2, -1), X3,
     lambda x: x.flatten(1)),
    ("flatten", gg.flatten, lambda x: x.reshape(1), (), lambda x: x.flatten()),
    ("ravel", gg.ravel, np.ravel, X3, lambda x: x.ravel()),
    ("flip", gg.flip, np.flip, (2, 3), lambda x: x.flip((0, 1))),
    ("flip", lambda x: gg.flip(x, 1), lambda x: np.flip(x, 1), X3, lambda x: x.flip(1)),
    ("roll", lambda x: gg.roll(x, 2), lambda x: np.roll(x, 2), (2, 3), lambda x: x.roll(2)),
    ("roll", lambda x: gg.roll(x, -1, axis=2), lambda x: np.roll(x, -1, axis=2), X3,
     lambda x: x.roll(-1, 2)),
    ("tile", lambda x: gg.tile(x, (2, 1)), lambda x: np.tile(x, (2, 1)), (2, 3),
     lambda x: x.tile((2, 1))),
    ("tile", lambda x: gg.tile(x, 2), lambda x: np.tile(x, 2), (3,), lambda x: x.tile(2)),
    ("repeat", lambda x: gg.repeat(x, 2, axis=1), lambda x: np.repeat(x, 2, axis=1), (2, 3),
     lambda x: x.repeat_interleave(2, dim=1)),
    ("repeat", lambda x: gg.repeat(x, [1, 0, 3]), lambda x: np.repeat(x, [1, 0, 3]), (3,),
     lambda x: x.repeat_interleave(_torch().tensor([1, 0, 3]))),
    ("copy", gg.copy, np.copy, (2, 3), lambda x: x.clone()),
    ("clone", lambda x: x.clone(), np.copy, (2, 3), lambda x: x.clone()),
    ("pad", lambda x: gg.pad(x, (1, 2)), lambda x: np.pad(x, (1, 2)), (3,),
     lambda x: _F().pad(x, (1, 2))),
    ("pad", lambda x: gg.pad(x, ((1, 0), (0, 2)), constant_values=1.5),
     lambda x: np.pad(x, ((1, 0), (0, 2)), constant_values=1.5), (2, 3),
     lambda x: _F().pad(x, (0, 2, 1, 0), value=1.5)),
    ("pad", lambda x: gg.pad(x, 1), lambda x: np.pad(x, 1), (2, 3),
     lambda x: _F().pad(x, (1, 1, 1, 1))),
    ("pad_edge", lambda x: gg.pad(x, (2, 1), mode="edge"), lambda x: np.pad(x, (2, 1), "edge"),
     (4,), lambda x: _F().pad(x[None], (2, 1), mode="replicate")[0]),
    ("pad_reflect", lambda x: gg.pad(x, ((0, 0), (2, 1)), mode="reflect"),
     lambda x: np.pad(x, ((0, 0), (2, 1)), "reflect"), (2, 4),
     lambda x: _F().pad(x[None], (2, 1), mode="reflect")[0]),
    ("pad_wrap", lambda x: gg.pad(x, (1, 2), mode="wrap"), lambda x: np.pad(x, (1, 2), "wrap"),
     (3,), lambda x: _F().pad(x[None, None], (1, 2), mode="circular")[0, 0]),
    ("pad_symmetric", lambda x: gg.pad(x, (2, 2), mode="symmetric"),
     lambda x: np.pad(x, (2, 2), "symmetric"), (3,), None),
]
for _name, _fn, _ref, _shape, _tf in SHAPE:
    case(_name, _fn, _ref, [F(_shape)], torch=_tf)

case("astype", lambda x: gg.astype(x, "float32"), lambda x: x.astype(np.float32), [F((2, 3))],
     torch=lambda x: x.float(), out_dtype=np.float32, fd=False)  # float32 defeats differences
case("astype", lambda x: x.astype("float64") * 2, lambda x: x * 2, [F((2, 3))],
     torch=lambda x: x.double() * 2, out_dtype=np.float64, tag="to64")

# joining and splitting
for _name, _fn, _ref, _shapes, _tf in [
        ("concatenate", lambda a, b: gg.concatenate([a, b]),
         lambda a, b: np.concatenate([a, b]), [(2, 3), (1, 3)], lambda a, b: _torch().cat([a, b])),
        ("concatenate", lambda a, b, c: gg.concatenate([a, b, c], axis=-1),
         lambda a, b, c: np.concatenate([a, b, c], axis=-1), [(2, 1), (2, 3), (2, 2)],
         lambda a, b, c: _torch().cat([a, b, c], dim=-1)),
        ("concatenate", lambda a, b: gg.concatenate((a, b), axis=None),
         lambda a, b: np.concatenate((a, b), axis=None), [(2, 2), (3,)],
         lambda a, b: _torch().cat([a.flatten(), b.flatten()])),
        ("cat", lambda a, b: gg.cat([a, b], axis=1), lambda a, b: np.concatenate([a, b], 1),
         [(2, 1, 2), (2, 2, 2)], lambda a, b: _torch().cat([a, b], 1)),
        ("stack", lambda a, b: gg.stack([a, b]), lambda a, b: np.stack([a, b]), [(2, 3), (2, 3)],
         lambda a, b: _torch().stack([a, b])),
        ("stack", lambda a, b, c: gg.stack([a, b, c], axis=-1),
         lambda a, b, c: np.stack([a, b, c], axis=-1), [(3,), (3,), (3,)],
         lambda a, b, c: _torch().stack([a, b, c], -1)),
        ("stack", lambda a, b: gg.stack([a, b]), lambda a, b: np.stack([a, b]), [(), ()],
         lambda a, b: _torch().stack([a, b]))]:
    case(_name, _fn, _ref, [F(s) for s in _shapes], torch=_tf)
for _i in range(2):
    case("split", lambda x, i=_i: gg.split(x, 2, axis=1)[i],
         lambda x, i=_i: np.split(x, 2, axis=1)[i], [F((2, 4))], tag=f"part{_i}",
         torch=lambda x, i=_i: _torch().split(x, 2, dim=1)[i])
for _i in range(3):
    case("split", lambda x, i=_i: gg.split(x, [1, 3])[i], lambda x, i=_i: np.split(x, [1, 3])[i],
         [F((5, 2))], tag=f"indices-part{_i}",
         torch=lambda x, i=_i: _torch().split(x, [1, 2, 2])[i])
case("split_method", lambda x: x.split(3, axis=0)[2] * 2.0, lambda x: np.split(x, 3)[2] * 2.0,
     [F((6,))], torch=lambda x: _torch().split(x, 2)[2] * 2.0)
case("split_sum_all", lambda x: sum((p * float(k + 1) for k, p in enumerate(gg.split(x, 3, 1)))),
     lambda x: sum(p * float(k + 1) for k, p in enumerate(np.split(x, 3, 1))), [F((2, 3))],
     torch=lambda x: sum(p * float(k + 1) for k, p in enumerate(_torch().split(x, 1, 1))))

# indexing: basic (views) and advanced (copies; repeated indices scatter-add)
_IDX = np.array([0, 2, 0, 0])
_ROWS, _COLS = np.array([0, 1, 1, 0]), np.array([2, 2, 0, 2])
_MASK = np.array([[True, False, True], [False, False, True]])
INDEX = [
    ("getitem_int", lambda x: x[1], (2, 3), None),
    ("getitem_neg_int", lambda x: x[-1, 2], X3, None),
    ("getitem_slice", lambda x: x[:, 1:3], X3, None),
    ("getitem_step", lambda x: x[::2, 1::2], (3, 4), None),
    ("getitem_negative_step", lambda x: x[::-1, ::-2], (3, 4), "no torch"),
    ("getitem_ellipsis", lambda x: x[..., 1], X3, None),
    ("getitem_none", lambda x: x[None, 0, :, None], (2, 3), None),
    ("getitem_0d", lambda x: x[()], (), None),
    ("getitem_int_array", lambda x: x[_IDX], (3, 2), None),
    ("getitem_int_list", lambda x: x[[1, 1, 0]], (3,), None),
    ("getitem_two_arrays", lambda x: x[_ROWS, _COLS], (2, 3), None),
    ("getitem_slice_array", lambda x: x[:, _IDX], (2, 3), None),
    ("getitem_bool_mask", lambda x: x[_MASK], (2, 3), None),
    ("getitem_bool_row_mask", lambda x: x[np.array([True, False, True])], (3, 2), None),
    ("getitem_2d_index", lambda x: x[np.array([[0, 1], [1, 1]])], (2, 3), None),
]
for _name, _fn, _shape, _no_torch in INDEX:  # torch has no negative steps
    case(_name, _fn, _fn, [F(_shape)], torch=None if _no_torch else lambda x, f=_fn: f(x))
case("getitem_tensor_index", lambda x, i: x[i], lambda x, i: x[i], [F((4, 2)), C(_IDX)],
     torch=lambda x, i: x[i])
case("getitem_tensor_mask", lambda x, m: x[m], lambda x, m: x[m], [F((2, 3)), C(_MASK)],
     torch=lambda x, m: x[m])
case("take", lambda x: gg.take(x, _IDX), lambda x: np.take(x, _IDX), [F((2, 3))],
     torch=lambda x: x.flatten()[_torch().tensor(_IDX)])
case("take", lambda x: gg.take(x, _IDX, axis=1), lambda x: np.take(x, _IDX, axis=1),
     [F((2, 3))], torch=lambda x: x[:, _torch().tensor(_IDX)], tag="axis1")
case("take", lambda x, i: x.take(i, axis=0), lambda x, i: np.take(x, i, axis=0),
     [F((3, 2)), C(_IDX)], torch=lambda x, i: x[i], tag="tensor-idx")
_TA = np.array([[2, 2, 0], [1, 0, 1]])
case("take_along_axis", lambda x, i: gg.take_along_axis(x, i, axis=1),
     lambda x, i: np.take_along_axis(x, i, axis=1), [F((2, 4)), C(_TA)],
     torch=lambda x, i: _torch().take_along_dim(x, i, dim=1))
case("take_along_axis", lambda x, i: gg.take_along_axis(x, i, axis=0),
     lambda x, i: np.take_along_axis(x, i, axis=0), [F((3, 3)), C(np.array([[0, 2, 2]]))],
     torch=lambda x, i: _torch().take_along_dim(x, i, dim=0), tag="axis0")


# out-of-place setitem (the op under Tensor.__setitem__): the last of repeated writes wins
def _set(key):
    def f(x, v):
        y = x.copy() if isinstance(x, np.ndarray) else x.clone()
        y[key] = v
        return y
    return f


case("setitem_repeated", lambda x, v: gg.setitem(x, [0, 2, 0], v), _set([0, 2, 0]),
     [F((3, 2)), F((3, 2))])
case("setitem_slice", lambda x, v: gg.setitem(x, (slice(None), slice(1, 3)), v),
     _set((slice(None), slice(1, 3))), [F((3, 4)), F((2,))],
     torch=_set((slice(None), slice(1, 3))))
case("setitem_mask", lambda x, v: gg.setitem(x, _MASK, v), _set(_MASK), [F((2, 3)), F(())])
case("setitem_two_arrays", lambda x, v: gg.setitem(x, (_ROWS, _COLS), v),
     _set((_ROWS, _COLS)), [F((2, 3)), F((4,))])

# ------------------------------------------- linalg
def _mm(name, fn, ref, tf, shapes, domain="real"):
    case(name, fn, ref, [F(s, domain) for s in shapes], torch=tf)


for _sa, _sb in [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                 ((2, 2, 3), (2, 3, 4)), ((2, 1, 2, 3), (3, 3, 2)), ((3,), (2, 3, 4)),
                 ((2, 2, 3), (3,))]:
    _mm("matmul", gg.matmul, np.matmul, lambda a, b: a @ b, (_sa, _sb))
_mm("matmul_operator", lambda a, b: a @ b, np.matmul, lambda a, b: a @ b, ((2, 3), (3, 2)))
_mm("matmul_method", lambda a, b: a.matmul(b), np.matmul, lambda a, b: a @ b, ((3,), (3, 2)))
for _sa, _sb in [((3,), (3,)), ((2, 3), (3, 4)), ((2, 3), (3,))]:
    _mm("dot", gg.dot, np.dot, lambda a, b: a @ b, (_sa, _sb))
_mm("inner", gg.inner, np.inner, lambda a, b: _torch().inner(a, b), ((2, 3), (4, 3)))
_mm("outer", gg.outer, np.outer, lambda a, b: _torch().outer(a, b), ((3,), (4,)))
_mm("tensordot", lambda a, b: gg.tensordot(a, b, axes=([1, 2], [0, 1])),
    lambda a, b: np.tensordot(a, b, axes=([1, 2], [0, 1])),
    lambda a, b: _torch().tensordot(a, b, dims=([1, 2], [0, 1])), ((2, 3, 4), (3, 4, 2)))
EINSUM = [("ij,jk->ik", (2, 3), (3, 4)), ("bij,bjk->bik", (2, 2, 3), (2, 3, 2)),
          ("i,j->ij", (3,), (4,)), ("i,i->", (3,), (3,)), ("ij,ij->i", (2, 3), (2, 3)),
          ("ij,j->i", (2, 3), (3,)), ("ij,kj->ik", (2, 3), (4, 3)),
          ("bij,jk->bik", (2, 2, 3), (3, 2))]
for _spec, _sa, _sb in EINSUM:
    case("einsum", lambda a, b, s=_spec: gg.einsum(s, a, b),
         lambda a, b, s=_spec: np.einsum(s, a, b), [F(_sa), F(_sb)], tag=_spec,
         torch=lambda a, b, s=_spec: _torch().einsum(s, a, b))
case("einsum", lambda a: gg.einsum("ij->ji", a), lambda a: np.einsum("ij->ji", a), [F((2, 3))],
     tag="ij->ji", torch=lambda a: _torch().einsum("ij->ji", a))
case("trace", gg.trace, np.trace, [F((3, 3))], torch=lambda x: x.trace())
case("diag", gg.diag, np.diag, [F((3, 3))], torch=lambda x: x.diag())
case("diag", gg.diag, np.diag, [F((3,))], torch=lambda x: x.diag(), tag="vector")
case("norm", gg.norm, np.linalg.norm, [F((2, 3), "away0")], torch=lambda x: x.norm())
case("norm", lambda x: gg.norm(x, axis=1), lambda x: np.linalg.norm(x, axis=1),
     [F((2, 3), "away0")], torch=lambda x: x.norm(dim=1), tag="axis1")


def _well_conditioned(rng, shape):
    return rng.standard_normal(shape) * 0.3 + 2.0 * np.eye(shape[-1])


case("inv", gg.inv, np.linalg.inv, [F((3, 3), _well_conditioned)],
     torch=lambda x: _torch().linalg.inv(x))
case("det", gg.det, np.linalg.det, [F((3, 3), _well_conditioned)],
     torch=lambda x: _torch().linalg.det(x))
case("solve", gg.solve, np.linalg.solve, [F((3, 3), _well_conditioned), F((3, 2))],
     torch=lambda a, b: _torch().linalg.solve(a, b))

# ------------------------------------------- nn ops
for _ax, _shape in [(-1, (3, 4)), (0, (3, 4)), (1, X3)]:
    case("softmax", lambda x, a=_ax: gg.softmax(x, axis=a),
         lambda x, a=_ax: np.exp(np_log_softmax(x, a)), [F(_shape)], tag=f"axis={_ax}",
         torch=lambda x, a=_ax: _torch().softmax(x, a))
    case("log_softmax", lambda x, a=_ax: gg.log_softmax(x, axis=a),
         lambda x, a=_ax: np_log_softmax(x, a), [F(_shape)], tag=f"axis={_ax}",
         torch=lambda x, a=_ax: _torch().log_softmax(x, a))
case("softmax_method", lambda x: x.softmax(), lambda x: np.exp(np_log_softmax(x)), [F((5,))],
     torch=lambda x: x.softmax(-1))
_T5 = np.array([1, 0, 3, 3, 2])
_T5_IGN = np.array([1, -100, 3, -100, 2])
_T5_IGN2 = np.array([1, 2, 3, 0, 2])
for _red in ("mean", "sum", "none"):
    for _tgt, _kw, _tag in [(_T5, {}, ""), (_T5, dict(label_smoothing=0.1), "smooth"),
                            (_T5_IGN, {}, "ignore"),
                            (_T5_IGN2, dict(ignore_index=2, label_smoothing=0.2),
                             "ignore2-smooth")]:
        case("cross_entropy", lambda x, t, r=_red, kw=_kw: gg.cross_entropy(x, t, r, **kw),
             lambda x, t, r=_red, kw=_kw: np_cross_entropy(x, t, r, **kw),
             [F((5, 4)), C(_tgt)], tag=f"{_red}-{_tag}".rstrip("-"),
             torch=lambda x, t, r=_red, kw=_kw: _F().cross_entropy(x, t, reduction=r, **kw))
case("nll_loss", lambda x, t: gg.nll_loss(gg.log_softmax(x), t),
     lambda x, t: np_cross_entropy(x, t), [F((5, 4)), C(_T5_IGN)],
     torch=lambda x, t: _F().nll_loss(_torch().log_softmax(x, -1), t))
for _red in ("mean", "sum", "none"):
    case("mse_loss", lambda a, b, r=_red: gg.mse_loss(a, b, reduction=r),
         lambda a, b, r=_red: np_reduce((a - b) ** 2, r), [F((3, 4)), F((3, 4))], tag=_red,
         torch=lambda a, b, r=_red: _F().mse_loss(a, b, reduction=r))
    case("bce_with_logits",
         lambda x, t, r=_red: gg.binary_cross_entropy_with_logits(x, t, reduction=r),
         lambda x, t, r=_red: np_bce_logits(x, t, r), [F((3, 4)), F((3, 4), "prob")], tag=_red,
         torch=lambda x, t, r=_red: _F().binary_cross_entropy_with_logits(x, t, reduction=r))
case("bce_with_logits",
     lambda x, t: gg.binary_cross_entropy_with_logits(x, t, pos_weight=3.0),
     lambda x, t: np_bce_logits(x, t, pos_weight=3.0), [F((6,)), F((6,), "prob")],
     tag="pos_weight", torch=lambda x, t: _F().binary_cross_entropy_with_logits(
         x, t, pos_weight=_torch().tensor(3.0, dtype=x.dtype)))
case("one_hot", lambda i: gg.one_hot(i, 4), lambda i: np.eye(4)[i], [C(np.array([0, 3, 1, 3]))],
     grad=False, torch=lambda i: _F().one_hot(i, 4))
case("one_hot", lambda i: gg.one_hot(i), lambda i: np.eye(3)[i], [C(np.array([[2, 0], [1, 2]]))],
     grad=False, tag="inferred", torch=lambda i: _F().one_hot(i))

# linear: act(x @ W + b), every activation, with and without bias, 1-D/2-D/3-D x
LINEAR_ACTS = [None, "identity", "relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid",
               "tanh"]
for _act in LINEAR_ACTS:
    case("linear", lambda x, W, b, a=_act: gg.linear(x, W, b, activation=a),
         lambda x, W, b, a=_act: NP_ACT[a](x @ W + b), [F((3, 2)), F((2, 2)), F((2,))],
         tag=str(_act), torch=lambda x, W, b, a=_act: T_ACT[a](x @ W + b))
case("linear", lambda x, W: gg.linear(x, W, activation="tanh"), lambda x, W: np.tanh(x @ W),
     [F((4, 3)), F((3, 2))], tag="nobias-tanh", torch=lambda x, W: (x @ W).tanh())
case("linear", lambda x, W, b: gg.linear(x, W, b, activation="silu"),
     lambda x, W, b: NP_ACT["silu"](x @ W + b), [F((2, 4, 3)), F((3, 2)), F((2,))], tag="3d-silu",
     torch=lambda x, W, b: _F().silu(x @ W + b))
case("linear", lambda x, W, b: gg.linear(x, W, b, activation="relu"),
     lambda x, W, b: np.maximum(x @ W + b, 0), [F((3,)), F((3, 2)), F((2,))], tag="1d-relu",
     torch=lambda x, W, b: (x @ W + b).relu())

# ---------------------------------------------------------------- coverage of the op set
#: every op the issue names, by the case names that exercise it
REQUIRED = {
    "add", "subtract", "multiply", "divide", "negative", "power", "power_scalar_3", "exp", "log",
    "log1p", "expm1", "sqrt", "square", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu",
    "leaky_relu", "gelu", "gelu_tanh", "silu", "softplus", "clip", "maximum", "minimum", "where",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not",
    "sum", "mean", "var", "std", "max", "min", "max_ties", "min_ties", "prod", "prod_1zero",
    "logsumexp", "argmax", "argmin",
    "reshape", "transpose", "permute", "T", "swapaxes", "expand", "broadcast_to", "squeeze",
    "unsqueeze", "expand_dims", "flatten", "concatenate", "stack", "split", "getitem_int",
    "getitem_slice", "getitem_int_array", "getitem_two_arrays", "getitem_bool_mask", "take",
    "take_along_axis", "pad",
    "matmul", "dot", "outer", "einsum", "softmax", "log_softmax", "cross_entropy", "mse_loss",
    "bce_with_logits", "one_hot", "linear",
}
#: public names of gpugrad.ops that are covered under another case name, or elsewhere
ALIASES = {
    "binary_cross_entropy_with_logits": "bce_with_logits", "cat": "cat", "amax": "max",
    "amin": "min", "getitem": "getitem_int", "setitem": "test_tensor.py (__setitem__)",
    "to_device": "test_tensor.py (to/cpu)", "dropout": "test_ops_harness.py (dropout tests)",
}


# ---------------------------------------------------------------- gpugrad.ops.extra (numpy namespace)
def _spd(a):  # a symmetric (Hermitian) positive-definite matrix built from any square a
    return a @ a.conj().swapaxes(-1, -2) + 3.0 * np.eye(a.shape[-1])


def _gspd(a):  # (conj: complex input gets a Hermitian matrix, which cholesky/eigh read)
    aht = gg.conj(a).mT if a.dtype.kind == "c" else a.mT
    return a @ aht + gg.tensor(3.0 * np.eye(a.shape[-1]), dtype=a.dtype, device=a.device)


def _tspd(a):
    return a @ a.mH + 3.0 * _torch().eye(a.shape[-1], dtype=a.dtype)


for _n, _tn in (("logaddexp", "logaddexp"), ("logaddexp2", "logaddexp2"), ("arctan2", "atan2"),
                ("hypot", "hypot")):
    for _sa, _sb in (((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 4))):
        case(_n, getattr(gg, _n), getattr(np, _n), [F(_sa), F(_sb)],
             torch=lambda a, b, t=_tn: getattr(_torch(), t)(a, b))
case("copysign", gg.copysign, np.copysign, [F((2, 3), "away0"), F((3,), "away0")],
     torch=lambda a, b: _torch().copysign(a, b))
case("fmod", gg.fmod, np.fmod, [F((2, 3), "mod_a"), F((3,), "pow2")],
     torch=lambda a, b: _torch().fmod(a, b))
case("round", gg.round, np.round, [F((2, 3), "frac")], torch=lambda x: x.round())
case("round", lambda x: gg.round(x, 1), lambda x: np.round(x, 1), [F((4,), "frac")], tag="1",
     torch=lambda x: x.round(decimals=1))
case("exp2", gg.exp2, np.exp2, [F((2, 3))], torch=lambda x: x.exp2())
case("cbrt", gg.cbrt, np.cbrt, [F((2, 3), "away0")], torch=lambda x: x.sign() * x.abs() ** (1 / 3))
case("real", gg.real, np.real, [F((2, 3))],
     torch=lambda x: x.real * 1 if x.is_complex() else x * 1)
case("imag", gg.imag, np.imag, [F((2, 3))],
     torch=lambda x: x.imag * 1 if x.is_complex() else x * 0)
case("conj", gg.conj, np.conj, [F((2, 3))], torch=lambda x: x.conj() * 1)
for _ax in (None, 0, 1):
    case("cumprod", lambda x, a=_ax: gg.cumprod(x, a), lambda x, a=_ax: np.cumprod(x, a),
         [F((2, 3))], tag=str(_ax),
         torch=None if _ax is None else (lambda x, a=_ax: x.cumprod(a)))
case("cumprod", lambda x: gg.cumprod(x, 1), lambda x: np.cumprod(x, 1), [F((2, 4), with_zeros(2))],
     tag="zeros", torch=lambda x: x.cumprod(1))
case("sort", gg.sort, lambda x: np.sort(x, -1), [F((2, 4), "distinct")],
     torch=lambda x: x.sort(-1).values)
case("sort", lambda x: gg.sort(x, 0, descending=True), lambda x: -np.sort(-x, 0),
     [F((3, 2), "distinct")], tag="desc", torch=lambda x: x.sort(0, descending=True).values)
case("argsort", gg.argsort, lambda x: np.argsort(x, -1, kind="stable"), [F((2, 4), "distinct")],
     grad=False, out_dtype="int64", torch=lambda x: x.argsort(dim=-1, stable=True))
case("tril", lambda x: gg.tril(x, -1), lambda x: np.tril(x, -1), [F((2, 3, 3))],
     torch=lambda x: x.tril(-1))
case("triu", gg.triu, np.triu, [F((3, 4))], torch=lambda x: x.triu())
case("diagonal", lambda x: gg.diagonal(x, 1, 1, 2), lambda x: np.diagonal(x, 1, 1, 2),
     [F((2, 3, 4))], torch=lambda x: x.diagonal(1, 1, 2))
case("cholesky", lambda a: gg.cholesky(_gspd(a)), lambda a: np.linalg.cholesky(_spd(a)),
     [F((2, 3, 3))], torch=lambda a: _torch().linalg.cholesky(_tspd(a)))
case("eigh", lambda a: gg.eigh(_gspd(a))[1] ** 2, lambda a: np.linalg.eigh(_spd(a))[1] ** 2,
     [F((3, 3))], torch=lambda a: _torch().linalg.eigh(_tspd(a))[1] ** 2)
case("eigvalsh", lambda a: gg.eigvalsh(_gspd(a)), lambda a: np.linalg.eigvalsh(_spd(a)),
     [F((2, 3, 3))], torch=lambda a: _torch().linalg.eigvalsh(_tspd(a)))
case("svd", lambda a: gg.svd(a, full_matrices=False)[0] ** 2,
     lambda a: np.linalg.svd(a, full_matrices=False)[0] ** 2, [F((4, 3))],
     torch=lambda a: _torch().linalg.svd(a, full_matrices=False)[0] ** 2)
case("svdvals", gg.svdvals, lambda a: np.linalg.svd(a, compute_uv=False), [F((3, 4))],
     torch=lambda a: _torch().linalg.svdvals(a))
case("qr", lambda a: gg.qr(a)[1] ** 2, lambda a: np.linalg.qr(a)[1] ** 2, [F((4, 3))],
     torch=lambda a: _torch().linalg.qr(a)[1] ** 2)
case("slogdet", lambda a: gg.slogdet(a)[1], lambda a: np.linalg.slogdet(a)[1], [F((2, 3, 3))],
     torch=lambda a: _torch().linalg.slogdet(a)[1])

# erf: the differentiable error function (gelu's backward differentiates through it)
for _shape in UNARY_SHAPES:
    case("erf", gg.erf, lambda x: _erf(x), [F(_shape)], torch=lambda x: x.erf())

# Ops whose backward does not yet run with create_graph=True: for these the harness checks
# that second-order differentiation raises a clear error (instead of a wrong answer).
ONCE_DIFFERENTIABLE: set[str] = set()  # (empty: every op is twice differentiable)

# linear once more: every activation on a 3-D x, without a bias (the create_graph path
# recomputes the pre-activation from x and W alone, and reshapes dx back)
for _act in LINEAR_ACTS[1:]:
    case("linear", lambda x, W, a=_act: gg.linear(x, W, activation=a),
         lambda x, W, a=_act: NP_ACT[a](x @ W), [F((2, 3, 2)), F((2, 3))],
         tag=f"3d-nobias-{_act}", torch=lambda x, W, a=_act: T_ACT[a](x @ W))

# ---------------------------------------------------------------- ties (appended)
# Inputs sitting exactly on a kink, where the documented subgradient rules apply: maximum /
# minimum split a tie evenly (also a tie between a broadcast operand and many elements),
# clip passes the gradient at its bounds, relu and abs have gradient 0 at 0. Ties are kinks,
# so there is no finite-difference check: the gradients are compared with PyTorch's (which
# follows the same rules); test_ops_harness.py checks exact values in its tie section.


def _tie_pair(rng, shape):
    """Values from {0, 1, 2} (about one in three pairs ties)."""
    return rng.integers(0, 3, shape).astype(np.float64)


def _on_clip_bounds(rng, shape):
    """Values on the bounds -0.5 / 0.5, between them and beyond them."""
    return rng.choice([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0], size=shape)


def _with_zeros(rng, shape):
    return rng.choice([-1.5, -0.0, 0.0, 0.0, 2.0], size=shape)


for _name, _fn, _ref, _t in [("maximum", gg.maximum, np.maximum, "maximum"),
                             ("minimum", gg.minimum, np.minimum, "minimum")]:
    for _shapes in [((2, 3), (2, 3)), ((4, 3), (3,)), ((3, 1), (1, 4)), ((2, 3), ())]:
        case(_name, _fn, _ref, [F(_s, _tie_pair) for _s in _shapes], tag="ties", fd=False,
             torch=lambda a, b, n=_t: getattr(_torch(), n)(a, b))
case("clip", lambda x: gg.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
     [F((4, 5), _on_clip_bounds)], tag="at-bounds", fd=False,
     torch=lambda x: x.clamp(-0.5, 0.5))
case("clip", lambda x, lo, hi: gg.clip(x, lo, hi), np.clip,
     [F((4, 5), _on_clip_bounds), F((5,), lambda rng, s: np.full(s, -0.5)),
      F((4, 1), lambda rng, s: np.full(s, 0.5))], tag="tensor-bounds-at-bounds", fd=False,
     torch=lambda x, lo, hi: _torch().clamp(x, lo, hi))
case("relu", gg.relu, lambda x: np.maximum(x, 0.0), [F((3, 4), _with_zeros)], tag="at0",
     fd=False, torch=lambda x: x.relu())
case("abs", gg.abs, np.abs, [F((3, 4), _with_zeros)], tag="at0", fd=False,
     torch=lambda x: x.abs())
for _kw in [dict(axis=-1), dict(axis=0, keepdims=True)]:
    for _name, _fn, _ref, _tfn in [("max_ties", gg.amax, np.amax, "amax"),
                                   ("min_ties", gg.amin, np.amin, "amin")]:
        case(_name, lambda x, f=_fn, kw=_kw: f(x, **kw), lambda x, f=_ref, kw=_kw: f(x, **kw),
             [F((4, 5), ties)], tag="amax-amin-" + "-".join(map(str, _kw.values())),
             fd=False,
             torch=lambda x, n=_tfn, kw=_kw: getattr(_torch(), n)(
                 x, dim=kw["axis"], keepdim=kw.get("keepdims", False)))
