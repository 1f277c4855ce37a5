"""Higher-order gradients through the elementwise ops (elementwise.py, unary.py, activation.py,
extra.py, binary_math.py).

Each op's one backward runs on Tensors under ``create_graph`` and records a graph, so every
order works: second derivatives against finite differences (``gradgradcheck``) at several
shapes, third and fourth orders against closed forms, Hessians of random compositions against
PyTorch, edge values (kinks, zeros, infinities) against PyTorch or the true limit, and complex
gradients (first and second order) against PyTorch's conjugate-Wirtinger convention.
"""
import inspect
import math
import warnings
import zlib

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import Function
from gpugrad.ops import activation, binary_math, elementwise, extra, unary


def _t(a, device="cpu", requires_grad=False):
    return gg.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=requires_grad)


def _np(t):
    return t.numpy() if isinstance(t, gg.Tensor) else np.asarray(t)


def _u(rng, shape, lo, hi):
    return rng.uniform(lo, hi, size=shape)


def _away0(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0) * _u(rng, shape, 0.5, 2.0)


DOMAIN = {
    "real": lambda rng, s: rng.standard_normal(s),
    "pos": lambda rng, s: _u(rng, s, 0.5, 2.0),
    "unit": lambda rng, s: _u(rng, s, -0.8, 0.8),
    "gt1": lambda rng, s: _u(rng, s, 1.2, 3.0),
    "away0": _away0,
    "frac": lambda rng, s: rng.integers(-3, 3, s) + _u(rng, s, 0.2, 0.8),
    "big": lambda rng, s: _u(rng, s, 21.0, 25.0),
    # a / b away from integers for b in {1, 2, 4}: remainder and fmod stay smooth
    "mod_a": lambda rng, s: 4.0 * rng.integers(-2, 3, s) + _u(rng, s, 0.2, 0.8),
    "pow2": lambda rng, s: 2.0 ** rng.integers(0, 3, s),
    # clip bounds -0.5 and 0.5: values stay 0.1 away from them
    "clip": lambda rng, s: np.where(rng.random(s) < 0.5, _u(rng, s, -0.4, 0.4),
                                    _away0(rng, s) * 0.5 + np.sign(_away0(rng, s)) * 0.1),
    "even": lambda rng, s: 2.0 * rng.integers(-2, 3, s) + _u(rng, s, 0.1, 0.9),
    "odd": lambda rng, s: 2.0 * rng.integers(-2, 3, s) + 1.0 + _u(rng, s, 0.1, 0.9),
}

SHAPES = [(), (5,), (2, 3)]

# ---------------------------------------------------------------- gradgradcheck, per family
UNARY = {
    "negative": (gg.negative, "real"), "exp": (gg.exp, "real"), "log": (gg.log, "pos"),
    "log1p": (gg.log1p, "pos"), "expm1": (gg.expm1, "real"), "log2": (gg.log2, "pos"),
    "log10": (gg.log10, "pos"), "sqrt": (gg.sqrt, "pos"), "square": (gg.square, "real"),
    "reciprocal": (gg.reciprocal, "away0"), "abs": (gg.abs, "away0"), "sin": (gg.sin, "real"),
    "cos": (gg.cos, "real"), "tan": (gg.tan, "unit"), "arcsin": (gg.arcsin, "unit"),
    "arccos": (gg.arccos, "unit"), "arctan": (gg.arctan, "real"), "sinh": (gg.sinh, "real"),
    "cosh": (gg.cosh, "real"), "tanh": (gg.tanh, "real"), "arcsinh": (gg.arcsinh, "real"),
    "arccosh": (gg.arccosh, "gt1"), "arctanh": (gg.arctanh, "unit"),
    "sigmoid": (gg.sigmoid, "real"), "relu": (gg.relu, "away0"), "silu": (gg.silu, "real"),
    "erf": (gg.erf, "real"), "gelu": (gg.gelu, "real"),
    "gelu_tanh": (lambda x: gg.gelu(x, approximate="tanh"), "real"),
    "leaky_relu": (lambda x: gg.leaky_relu(x, 0.2), "away0"),
    "softplus": (gg.softplus, "real"), "softplus_beta3": (lambda x: gg.softplus(x, 3.0), "real"),
    "softplus_linear": (gg.softplus, "big"),
    "clip": (lambda x: gg.clip(x, -0.5, 0.5), "clip"),
    "clip_min": (lambda x: gg.clip(x, -0.5), "clip"),
    "clip_max": (lambda x: gg.clip(x, None, 0.5), "clip"),
    "exp2": (gg.exp2, "real"), "cbrt": (gg.cbrt, "away0"),
    "real": (gg.real, "real"), "imag": (lambda x: gg.imag(x) + x, "real"),
    "conj": (gg.conj, "real"),
    # zero-gradient ops, inside a product so that the graph has something to differentiate
    "floor": (lambda x: gg.floor(x) * x * x, "frac"),
    "ceil": (lambda x: gg.ceil(x) * x * x, "frac"),
    "trunc": (lambda x: gg.trunc(x) * x * x, "frac"),
    "rint": (lambda x: gg.rint(x) * x * x, "frac"),
    "sign": (lambda x: gg.sign(x) * x * x, "away0"),
    "round": (lambda x: gg.round(x) * x * x, "frac"),
    "round_1": (lambda x: gg.round(x, 1) + x ** 3, "real"),
}
BINARY = {
    "multiply": (gg.multiply, ("real", "real")), "divide": (gg.divide, ("real", "away0")),
    "power": (gg.power, ("pos", "real")), "maximum": (gg.maximum, ("even", "odd")),
    "minimum": (gg.minimum, ("odd", "even")), "remainder": (gg.remainder, ("mod_a", "pow2")),
    "fmod": (gg.fmod, ("mod_a", "pow2")), "logaddexp": (gg.logaddexp, ("real", "real")),
    "logaddexp2": (gg.logaddexp2, ("real", "real")), "arctan2": (gg.arctan2, ("real", "real")),
    "hypot": (gg.hypot, ("real", "real")), "copysign": (gg.copysign, ("away0", "away0")),
    "clip_tensor_bounds": (lambda x, lo: gg.clip(x, lo, lo + 1.0), ("real", "real")),
}
BINARY_SHAPES = [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3), (3,)), ((), (3,))]


def _inputs(rng, doms, shapes, device):
    return [_t(DOMAIN[d](rng, s), device) for d, s in zip(doms, shapes)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradgradcheck(name, shape, device):
    fn, dom = UNARY[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}{shape}".encode()))
    assert gg.gradgradcheck(fn, _inputs(rng, [dom], [shape], device))


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradgradcheck(name, shapes, device):
    fn, doms = BINARY[name]
    rng = np.random.default_rng(zlib.crc32(f"{name}{shapes}".encode()))
    assert gg.gradgradcheck(fn, _inputs(rng, doms, shapes, device))


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3), (2, 3)), ((1, 3), (2, 1), ())], ids=str)
def test_clip_with_both_tensor_bounds_gradgradcheck(shapes, device):
    rng = np.random.default_rng(3)
    x, lo, w = _inputs(rng, ["real", "real", "pos"], shapes, device)
    assert gg.gradgradcheck(lambda x, lo, w: gg.clip(x, lo, lo + w) ** 3, [x, lo, w])


@pytest.mark.parametrize("shape", [(3, 4), (4,), (2, 1, 3)], ids=str)
def test_where_gradgradcheck(shape, device):
    rng = np.random.default_rng(4)
    cond = gg.tensor(rng.random(shape) < 0.5, device=device)
    a, b = _inputs(rng, ["real", "real"], [shape, shape[-1:]], device)
    assert gg.gradgradcheck(lambda a, b: gg.where(cond, a * a * b, gg.sin(b)), [a, b])
    assert gg.gradgradcheck(lambda a: gg.where(cond, a ** 3, 0.0), [a])


@pytest.mark.parametrize("axis,zeros", [(None, 0), (0, 0), (1, 0), (1, 1), (1, 2), (0, 3)])
def test_cumprod_gradgradcheck(axis, zeros, device):
    rng = np.random.default_rng(5)
    a = _away0(rng, (3, 4)).reshape(-1)
    a[rng.choice(a.size, size=zeros, replace=False)] = 0.0
    assert gg.gradgradcheck(lambda x: gg.cumprod(x, axis), [_t(a.reshape(3, 4), device)])


@pytest.mark.parametrize("axis,descending", [(-1, False), (0, True), (None, False)])
def test_sort_gradgradcheck(axis, descending, device):
    rng = np.random.default_rng(6)
    x = _t(rng.permutation(12).reshape(3, 4) * 0.3 + rng.uniform(0, 0.05, (3, 4)), device)
    assert gg.gradgradcheck(lambda x: gg.sort(x * x, axis, descending) * x.reshape(-1)[0], [x])


def test_every_op_class_is_twice_differentiable():
    """Every differentiable Function of the elementwise modules opts in (none left refusing)."""
    seen = []
    for mod in (elementwise, unary, activation, extra, binary_math):
        for obj in vars(mod).values():
            if (inspect.isclass(obj) and issubclass(obj, Function) and obj is not Function
                    and obj.differentiable and obj.__module__ == mod.__name__):
                seen.append(obj)
                assert obj.twice_differentiable, obj.__name__
    for cls, _ in elementwise._OPS.values():
        assert cls.twice_differentiable, cls.__name__
    assert len(seen) >= 20


# ---------------------------------------------------------------- third order and beyond
def _nth(fn, x, n):
    """The n-th derivative of elementwise ``fn`` at ``x`` (nested gg.grad of sums)."""
    f = fn
    for _ in range(n):
        f = (lambda h: gg.grad(lambda y: h(y).sum()))(f)
    return _np(f(x))


X = np.array([-2.1, -0.7, 0.0, 0.3, 1.4])
_S = 1 / (1 + np.exp(-X))
_T = np.tanh(X)
CLOSED = {  # name: (op, domain shift, [f', f'', f''', f''''])
    "exp": (gg.exp, X, [np.exp(X)] * 4),
    "tanh": (gg.tanh, X, [1 - _T ** 2, -2 * _T * (1 - _T ** 2),
                         -2 * (1 - _T ** 2) * (1 - 3 * _T ** 2),
                         8 * _T * (1 - _T ** 2) * (2 - 3 * _T ** 2)]),
    "sigmoid": (gg.sigmoid, X, [_S * (1 - _S), _S * (1 - _S) * (1 - 2 * _S),
                                _S * (1 - _S) * (1 - 6 * _S + 6 * _S ** 2),
                                _S * (1 - _S) * (1 - 2 * _S) * (1 - 12 * _S + 12 * _S ** 2)]),
    "log": (gg.log, X + 2.5, [1 / (X + 2.5), -1 / (X + 2.5) ** 2, 2 / (X + 2.5) ** 3,
                              -6 / (X + 2.5) ** 4]),
    "sin": (gg.sin, X, [np.cos(X), -np.sin(X), -np.cos(X), np.sin(X)]),
    "sqrt": (gg.sqrt, X + 2.5, [0.5 * (X + 2.5) ** -0.5, -0.25 * (X + 2.5) ** -1.5,
                                0.375 * (X + 2.5) ** -2.5, -0.9375 * (X + 2.5) ** -3.5]),
    "erf": (gg.erf, X, [2 / math.sqrt(math.pi) * np.exp(-X * X),
                        -4 * X / math.sqrt(math.pi) * np.exp(-X * X),
                        (8 * X * X - 4) / math.sqrt(math.pi) * np.exp(-X * X),
                        (24 * X - 16 * X ** 3) / math.sqrt(math.pi) * np.exp(-X * X)]),
    "softplus": (gg.softplus, X, [_S, _S * (1 - _S), _S * (1 - _S) * (1 - 2 * _S),
                                  _S * (1 - _S) * (1 - 6 * _S + 6 * _S ** 2)]),
}


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("name", sorted(CLOSED))
def test_nested_grad_matches_closed_form(name, order, device):
    fn, at, derivs = CLOSED[name]
    got = _nth(fn, _t(at, device), order)
    np.testing.assert_allclose(got, derivs[order - 1], rtol=1e-10, atol=1e-12)


def test_third_order_with_autograd_grad_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x0, u, w = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5)

    def f(m, x):
        gelu = gg.gelu if m is gg else torch.nn.functional.gelu
        log = gg.log if m is gg else torch.log
        y = m.tanh(x) * m.exp(0.5 * x) + m.sigmoid(x * x) * gelu(x)
        return (y * log(1 + x * x) + m.sin(x) ** 3).sum()

    def orders(m, x, dot):
        (g1,) = m.autograd.grad(f(m, x), [x], create_graph=True)
        (g2,) = m.autograd.grad(dot(g1, u), [x], create_graph=True)
        (g3,) = m.autograd.grad(dot(g2, w), [x])
        return g1, g2, g3

    ours = orders(gg, _t(x0, requires_grad=True), lambda a, v: (a * _t(v)).sum())
    theirs = orders(torch, torch.tensor(x0, requires_grad=True),
                    lambda a, v: (a * torch.tensor(v)).sum())
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)


def _third_order_ops():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    mask = [1.0, 0.0, 1.0, 1.0]
    return torch, {
        "logaddexp": (lambda x: gg.logaddexp(x, x * x), lambda x: torch.logaddexp(x, x * x)),
        "logaddexp2": (lambda x: gg.logaddexp2(x, 0.5 * x),
                       lambda x: torch.logaddexp2(x, 0.5 * x)),
        "arctan2": (lambda x: gg.arctan2(x, 1 + x * x), lambda x: torch.atan2(x, 1 + x * x)),
        "hypot": (lambda x: gg.hypot(x, 0.3 + x * x), lambda x: torch.hypot(x, 0.3 + x * x)),
        "cumprod": (lambda x: gg.cumprod(x, 0), lambda x: torch.cumprod(x, 0)),
        "cumprod_zero": (lambda x: gg.cumprod(x * _t(mask), 0),
                         lambda x: torch.cumprod(x * torch.tensor(mask, dtype=x.dtype), 0)),
        "sort": (lambda x: gg.sort(x ** 3), lambda x: torch.sort(x ** 3).values),
        "gelu": (gg.gelu, tF.gelu),
        "gelu_tanh": (lambda x: gg.gelu(x, "tanh"), lambda x: tF.gelu(x, approximate="tanh")),
        "silu": (gg.silu, tF.silu),
        "softplus": (lambda x: gg.softplus(x, 2.0), lambda x: tF.softplus(x, 2.0)),
        "power": (lambda x: (1.5 + x) ** (x * x), lambda x: (1.5 + x) ** (x * x)),
        "rpow": (lambda x: 2.0 ** x, lambda x: 2.0 ** x), "exp2": (gg.exp2, torch.exp2),
        "cbrt": (lambda x: gg.cbrt(x + 3), lambda x: (x + 3) ** (1 / 3)),
        "divide": (lambda x: x / (2 + x), lambda x: x / (2 + x)),
        "arccosh": (lambda x: gg.arccosh(2.5 + x), lambda x: torch.acosh(2.5 + x)),
        "arctanh": (lambda x: gg.arctanh(0.5 * x), lambda x: torch.atanh(0.5 * x)),
        "erf": (gg.erf, torch.erf), "sigmoid": (gg.sigmoid, torch.sigmoid),
        "copysign": (lambda x: gg.copysign(x ** 3, x - 0.1),
                     lambda x: torch.copysign(x ** 3, x - 0.1)),
        "fmod": (lambda x: gg.fmod(x ** 3, 0.7), lambda x: torch.fmod(x ** 3, 0.7)),
        "remainder": (lambda x: gg.remainder(x ** 3, 0.7),
                      lambda x: torch.remainder(x ** 3, 0.7)),
        "maximum": (lambda x: gg.maximum(x ** 3, x), lambda x: torch.maximum(x ** 3, x)),
        "clip": (lambda x: gg.clip(x ** 3, -0.5, x),
                 lambda x: torch.minimum(torch.clamp(x ** 3, min=-0.5), x)),
        "where": (lambda x: gg.where(x > 0, x ** 3, gg.sin(x)),
                  lambda x: torch.where(x > 0, x ** 3, torch.sin(x))),
    }


_THIRD = ["arccosh", "arctan2", "arctanh", "cbrt", "clip", "copysign", "cumprod",
          "cumprod_zero", "divide", "erf", "exp2", "fmod", "gelu", "gelu_tanh", "hypot",
          "logaddexp", "logaddexp2", "maximum", "power", "remainder", "rpow", "sigmoid", "silu",
          "softplus", "sort", "where"]


@pytest.mark.torch
@pytest.mark.parametrize("name", _THIRD)
def test_third_order_of_each_family_matches_torch(name):
    torch, ops = _third_order_ops()
    fg, ft = ops[name]
    rng = np.random.default_rng(0)
    x0, u, w = rng.uniform(-1.3, 1.3, 4), rng.standard_normal(4), rng.standard_normal(4)

    def orders(m, x, c):
        (g1,) = m.autograd.grad(((fg if m is gg else ft)(x) ** 2).sum(), [x], create_graph=True)
        (g2,) = m.autograd.grad((g1 * c(u)).sum(), [x], create_graph=True)
        (g3,) = m.autograd.grad((g2 * c(w)).sum(), [x])
        return g1, g2, g3

    ours = orders(gg, _t(x0, requires_grad=True), _t)
    theirs = orders(torch, torch.tensor(x0, requires_grad=True), torch.tensor)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=f"{name}: order {k + 1}")


# ---------------------------------------------------------------- Hessians vs PyTorch
def _torch_ops():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    unary = [  # (name, gpugrad, torch): any real input
        ("exp", lambda t: gg.exp(0.4 * t), lambda t: torch.exp(0.4 * t)),
        ("expm1", lambda t: gg.expm1(0.4 * t), lambda t: torch.expm1(0.4 * t)),
        ("exp2", lambda t: gg.exp2(0.4 * t), lambda t: torch.exp2(0.4 * t)),
        ("log", lambda t: gg.log(1.5 + t * t), lambda t: torch.log(1.5 + t * t)),
        ("log1p", lambda t: gg.log1p(t * t), lambda t: torch.log1p(t * t)),
        ("log2", lambda t: gg.log2(1 + t * t), lambda t: torch.log2(1 + t * t)),
        ("log10", lambda t: gg.log10(1 + t * t), lambda t: torch.log10(1 + t * t)),
        ("sqrt", lambda t: gg.sqrt(1 + t * t), lambda t: torch.sqrt(1 + t * t)),
        ("reciprocal", lambda t: gg.reciprocal(2 + t * t), lambda t: torch.reciprocal(2 + t * t)),
        ("square", gg.square, torch.square), ("sin", gg.sin, torch.sin), ("cos", gg.cos, torch.cos),
        ("tan", lambda t: gg.tan(0.5 * gg.tanh(t)), lambda t: torch.tan(0.5 * torch.tanh(t))),
        ("arcsin", lambda t: gg.arcsin(0.8 * gg.tanh(t)),
         lambda t: torch.asin(0.8 * torch.tanh(t))),
        ("arccos", lambda t: gg.arccos(0.8 * gg.tanh(t)),
         lambda t: torch.acos(0.8 * torch.tanh(t))),
        ("arctan", gg.arctan, torch.atan), ("sinh", gg.sinh, torch.sinh),
        ("cosh", gg.cosh, torch.cosh), ("tanh", gg.tanh, torch.tanh),
        ("arcsinh", gg.arcsinh, torch.asinh),
        ("arccosh", lambda t: gg.arccosh(1.5 + t * t), lambda t: torch.acosh(1.5 + t * t)),
        ("arctanh", lambda t: gg.arctanh(0.8 * gg.tanh(t)),
         lambda t: torch.atanh(0.8 * torch.tanh(t))),
        ("sigmoid", gg.sigmoid, torch.sigmoid), ("silu", gg.silu, tF.silu),
        ("erf", gg.erf, torch.erf), ("gelu", gg.gelu, tF.gelu),
        ("gelu_tanh", lambda t: gg.gelu(t, "tanh"), lambda t: tF.gelu(t, approximate="tanh")),
        ("softplus", lambda t: gg.softplus(t, 2.0), lambda t: tF.softplus(t, 2.0)),
        ("abs", lambda t: gg.abs(t) * t, lambda t: torch.abs(t) * t),
        ("relu", lambda t: gg.relu(t) * t, lambda t: torch.relu(t) * t),
        ("leaky_relu", lambda t: gg.leaky_relu(t, 0.1) * t, lambda t: tF.leaky_relu(t, 0.1) * t),
        ("clip", lambda t: gg.clip(t, -0.7, 0.9) * t, lambda t: t.clamp(-0.7, 0.9) * t),
        ("floor", lambda t: gg.floor(t) * t, lambda t: torch.floor(t) * t),
        ("cube", lambda t: t ** 3, lambda t: t ** 3),
        ("cumprod", lambda t: gg.cumprod(t, 0), lambda t: torch.cumprod(t, 0)),
        ("sort", lambda t: gg.sort(t * t * t, 0), lambda t: torch.sort(t * t * t, 0).values),
    ]
    binary = [  # (name, gpugrad, torch)
        ("mul", lambda a, b: a * b, lambda a, b: a * b),
        ("div", lambda a, b: a / (1 + b * b), lambda a, b: a / (1 + b * b)),
        ("pow", lambda a, b: (1 + a * a) ** gg.sin(b), lambda a, b: (1 + a * a) ** torch.sin(b)),
        ("maximum", gg.maximum, torch.maximum), ("minimum", gg.minimum, torch.minimum),
        ("logaddexp", gg.logaddexp, torch.logaddexp),
        ("logaddexp2", gg.logaddexp2, torch.logaddexp2),
        ("arctan2", gg.arctan2, torch.atan2), ("hypot", gg.hypot, torch.hypot),
        ("copysign", lambda a, b: gg.copysign(a, b) * a, lambda a, b: torch.copysign(a, b) * a),
        ("where", lambda a, b: gg.where(a > b, a * b, b * b),
         lambda a, b: torch.where(a > b, a * b, b * b)),
    ]
    return torch, unary, binary


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(12))
def test_hessian_of_random_composition_matches_torch(seed):
    torch, unary, binary = _torch_ops()
    rng = np.random.default_rng(100 + seed)
    u1, u2, u3 = (unary[i] for i in rng.choice(len(unary), 3, replace=False))
    b = binary[rng.integers(len(binary))]
    w = rng.standard_normal(4)

    def f_gg(x):
        return (b[1](u1[1](u2[1](x)), u3[1](x)) * _t(w)).sum()

    def f_torch(x):
        return (b[2](u1[2](u2[2](x)), u3[2](x)) * torch.tensor(w)).sum()

    x0 = rng.uniform(-1.2, 1.2, 4)
    h = _np(gg.hessian(f_gg)(x0))
    ht = torch.autograd.functional.hessian(f_torch, torch.tensor(x0)).numpy()
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-10,
                               err_msg=f"{b[0]}({u1[0]}({u2[0]}(x)), {u3[0]}(x))")


@pytest.mark.torch
@pytest.mark.parametrize("i", range(36))
def test_hessian_of_each_unary_op_matches_torch(i):
    torch, unary, _ = _torch_ops()
    assert len(unary) == 36  # (one case per entry)
    name, fg, ft = unary[i]
    x0 = np.random.default_rng(i).uniform(-1.5, 1.5, 5)
    w = np.linspace(0.5, 1.5, 5)
    h = _np(gg.hessian(lambda x: (fg(x) * _t(w)).sum())(x0))
    ht = torch.autograd.functional.hessian(lambda x: (ft(x) * torch.tensor(w)).sum(),
                                           torch.tensor(x0)).numpy()
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-10, err_msg=name)


@pytest.mark.torch
@pytest.mark.parametrize("i", range(11))
def test_mixed_second_derivatives_of_binary_ops_match_torch(i):
    torch, _, binary = _torch_ops()
    assert len(binary) == 11  # (one case per entry)
    name, fg, ft = binary[i]
    rng = np.random.default_rng(i)
    a0, b0 = rng.uniform(-1.5, 1.5, 4), rng.uniform(-1.5, 1.5, 4)
    x0 = np.concatenate([a0, b0])
    h = _np(gg.hessian(lambda x: (fg(x[:4], x[4:]) ** 2).sum())(x0))
    ht = torch.autograd.functional.hessian(lambda x: (ft(x[:4], x[4:]) ** 2).sum(),
                                           torch.tensor(x0)).numpy()
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-10, err_msg=name)


# ---------------------------------------------------------------- edge values
def _d12(fn, x):
    """(f', f'') of elementwise ``fn`` at the points ``x``; f'' is 0 where f' is constant."""
    x = _t(x, requires_grad=True)
    (g,) = gg.autograd.grad(fn(x).sum(), [x], create_graph=True)
    if not g.requires_grad:
        return g.numpy(), np.zeros(g.shape)
    (h,) = gg.autograd.grad(g.sum(), [x], allow_unused=True)
    return g.numpy(), (np.zeros(g.shape) if h is None else h.numpy())


def _torch_d12(fn, x):
    torch = pytest.importorskip("torch")
    x = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    (g,) = torch.autograd.grad(fn(x).sum(), [x], create_graph=True)
    if not g.requires_grad:
        return g.detach().numpy(), np.zeros(g.shape)
    (h,) = torch.autograd.grad(g.sum(), [x], allow_unused=True)
    return g.detach().numpy(), (np.zeros(g.shape) if h is None else h.numpy(force=True))


EDGE = [0.0, -0.0, 1e-300, -1.0, 1.0, 0.5, np.inf, -np.inf]


@pytest.mark.torch
@pytest.mark.parametrize("name", ["relu", "abs", "leaky_relu", "clip", "sign", "floor", "sqrt",
                                  "sigmoid", "tanh", "exp", "silu", "gelu", "erf", "square",
                                  "maximum0", "log", "reciprocal"])
def test_edge_second_derivatives_match_torch(name):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    ops = {
        "relu": (gg.relu, torch.relu), "abs": (gg.abs, torch.abs),
        "leaky_relu": (lambda x: gg.leaky_relu(x, 0.1), lambda x: tF.leaky_relu(x, 0.1)),
        "clip": (lambda x: gg.clip(x, -1.0, 1.0), lambda x: x.clamp(-1.0, 1.0)),
        "sign": (gg.sign, torch.sign), "floor": (gg.floor, torch.floor),
        "sqrt": (gg.sqrt, torch.sqrt), "sigmoid": (gg.sigmoid, torch.sigmoid),
        "tanh": (gg.tanh, torch.tanh), "exp": (gg.exp, torch.exp), "silu": (gg.silu, tF.silu),
        "gelu": (gg.gelu, tF.gelu), "erf": (gg.erf, torch.erf), "square": (gg.square, torch.square),
        "maximum0": (lambda x: gg.maximum(x, 0.5), lambda x: torch.clamp_min(x, 0.5)),
        "log": (gg.log, torch.log), "reciprocal": (gg.reciprocal, torch.reciprocal),
    }
    fg, ft = ops[name]
    pts = [p for p in EDGE if not (name in ("log", "sqrt") and p < 0)]
    if name == "maximum0":  # a tie splits the gradient (PyTorch's clamp gives it all to x)
        pts = [p for p in pts if p != 0.5]
    if name == "gelu":  # at +-inf gelu's derivatives are their limits (1, 0; 0): PyTorch gives
        pts = [p for p in pts if np.isfinite(p)]    # NaN; tests/test_gelu_precision.py has them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = _d12(fg, pts), _torch_d12(ft, pts)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, equal_nan=True,
                                   err_msg=f"{name} f{chr(39) * (k + 1)} at {pts}")


def test_edge_second_derivatives_named_in_the_brief():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _d12(gg.relu, [-1.0, 0.0, 2.0])[1].tolist() == [0.0, 0.0, 0.0]       # relu'' = 0
        assert _d12(gg.abs, [-1.0, 0.0, 2.0])[1].tolist() == [0.0, 0.0, 0.0]        # abs'' = 0
        d1, d2 = _d12(gg.sqrt, [0.0])
        assert d1[0] == np.inf and d2[0] == -np.inf                                 # as PyTorch
        # sigmoid'(0) = 1/4 and sigmoid''(0) = 0: the Sigmoid op, not a composite in |x|
        d1, d2 = _d12(gg.silu, [0.0])
        assert d1[0] == 0.5 and d2[0] == 0.5                                        # silu''(0)
        d1, d2 = _d12(gg.softplus, [0.0])
        assert d1[0] == 0.5 and d2[0] == 0.25
        d1, d2 = _d12(lambda x: gg.logaddexp(x, 0.0), [0.0])                       # a tie
        assert d1[0] == 0.5 and d2[0] == 0.25
        d1, d2 = _d12(lambda x: gg.logaddexp2(x, 0.0), [0.0])
        assert d1[0] == 0.5 and d2[0] == pytest.approx(0.25 * math.log(2))


def test_edge_limits_are_finite_where_the_first_gradient_is():
    """Where the first gradient is a finite limit (infinite inputs, the origin), the second
    derivative is that limit's (0), not 0 * inf = NaN from a masked lane."""
    inf = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d1, d2 = _d12(lambda x: gg.logaddexp(x, x), [-inf, 1.0])
        assert d1.tolist() == [1.0, 1.0] and d2.tolist() == [0.0, 0.0]
        # (inf, inf): each partial is a tie at +inf, which has no limit -- NaN, as in PyTorch
        d1, d2 = _d12(lambda x: gg.logaddexp(x, x), [inf])
        assert np.isnan(d1[0]) and np.isnan(d2[0])
        d1, d2 = _d12(lambda x: gg.logaddexp(x, 0.0), [inf, -inf])
        assert d1.tolist() == [1.0, 0.0] and d2.tolist() == [0.0, 0.0]
        d1, d2 = _d12(lambda x: gg.hypot(x, 1.0), [inf, -inf])
        assert d1.tolist() == [1.0, -1.0] and d2.tolist() == [0.0, 0.0]
        d1, d2 = _d12(lambda x: gg.hypot(x, 0.0), [0.0])       # the origin: gradient 0 there
        assert d1.tolist() == [0.0] and d2.tolist() == [0.0]
        d1, d2 = _d12(lambda x: gg.arctan2(x, x), [0.0, inf])
        assert d1.tolist() == [0.0, 0.0] and d2.tolist() == [0.0, 0.0]
        d1, d2 = _d12(lambda x: gg.softplus(x), [30.0, -inf])
        assert d1.tolist() == [1.0, 0.0] and d2.tolist() == [0.0, 0.0]


_PTS = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-300, 0.5, -0.5, 20.0, 25.0,
                 2.0, -3.0, 1e200])
_Q = np.array([0.0, 0.0, -1.0, 2.0, np.inf, 1.0, 0.5, 1e-300, 0.5, -0.7, 20.0, -25.0, np.inf,
               -np.inf, 1e200])


def _consistency_cases():
    out = {n: getattr(gg, n) for n in [
        "negative", "exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square",
        "reciprocal", "abs", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
        "tanh", "arcsinh", "arccosh", "arctanh", "sigmoid", "relu", "silu", "gelu", "erf",
        "softplus", "leaky_relu", "exp2", "cbrt", "floor", "ceil", "trunc", "rint", "sign",
        "round", "real", "imag", "conj", "sort"]}
    out["gelu_tanh"] = lambda x: gg.gelu(x, "tanh")
    out["clip"] = lambda x: gg.clip(x, -0.5, 0.5)
    out["cumprod"] = lambda x: gg.cumprod(gg.where(gg.isfinite(x), x, 1.0))
    for n in ["multiply", "divide", "power", "maximum", "minimum", "remainder", "logaddexp",
              "logaddexp2", "arctan2", "hypot", "copysign", "fmod"]:
        f = getattr(gg, n)
        out[n + "(x,q)"] = lambda x, f=f: f(x, _t(_Q))
        out[n + "(q,x)"] = lambda x, f=f: f(_t(_Q), x)
        out[n + "(x,x)"] = lambda x, f=f: f(x, x)
        out[n + "(x,0.5)"] = lambda x, f=f: f(x, 0.5)
    return out


_CONSISTENCY = _consistency_cases()


@pytest.mark.parametrize("name", sorted(_CONSISTENCY))
def test_create_graph_gradient_equals_the_plain_gradient_bit_for_bit(name):
    """The one backward gives the same first gradient on raw arrays and on Tensors, at edge
    values too (signed zeros, infinities, NaN)."""
    fn = _CONSISTENCY[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x1, x2 = _t(_PTS, requires_grad=True), _t(_PTS, requires_grad=True)
        (a,) = gg.autograd.grad(fn(x1).sum(), [x1])
        (b,) = gg.autograd.grad(fn(x2).sum(), [x2], create_graph=True)
    a, b = a.numpy(), b.numpy()
    np.testing.assert_array_equal(a, b)
    assert (np.signbit(a) == np.signbit(b))[~np.isnan(a)].all()


# ---------------------------------------------------------------- complex
_Z = np.array([0.7 + 0.4j, 1.3 - 0.6j, 0.9 + 0.8j, 1.1 + 0.2j])
_W = np.array([1.2 - 0.5j, 0.6 + 0.7j, 1.4 + 0.3j, 0.8 - 0.9j])


def _complex_ops():
    torch = pytest.importorskip("torch")
    return torch, {
        "exp": (gg.exp, torch.exp), "log": (gg.log, torch.log), "log1p": (gg.log1p, torch.log1p),
        "expm1": (gg.expm1, torch.expm1), "log2": (gg.log2, torch.log2),
        "log10": (gg.log10, torch.log10), "sqrt": (gg.sqrt, torch.sqrt),
        "square": (gg.square, torch.square), "reciprocal": (gg.reciprocal, torch.reciprocal),
        "sin": (gg.sin, torch.sin), "cos": (gg.cos, torch.cos), "tan": (gg.tan, torch.tan),
        "arcsin": (gg.arcsin, torch.asin), "arccos": (gg.arccos, torch.acos),
        "arctan": (gg.arctan, torch.atan), "sinh": (gg.sinh, torch.sinh),
        "cosh": (gg.cosh, torch.cosh), "tanh": (gg.tanh, torch.tanh),
        "arcsinh": (gg.arcsinh, torch.asinh), "arccosh": (gg.arccosh, torch.acosh),
        "arctanh": (lambda z: gg.arctanh(0.5 * z), lambda z: torch.atanh(0.5 * z)),
        "sigmoid": (gg.sigmoid, torch.sigmoid), "exp2": (gg.exp2, torch.exp2),
        "abs": (gg.abs, torch.abs), "negative": (gg.negative, torch.neg),
        "cumprod": (lambda z: gg.cumprod(z, 0), lambda z: torch.cumprod(z, 0)),
        "real": (lambda z: gg.real(z * z) ** 3, lambda z: (z * z).real ** 3),
        "imag": (lambda z: gg.imag(z * z) ** 3, lambda z: (z * z).imag ** 3),
        "conj": (lambda z: gg.conj(z) * z * z, lambda z: z.conj() * z * z),
        "where": (lambda z: gg.where(gg.tensor([True, False, True, False]), z * z, z),
                  lambda z: torch.where(torch.tensor([True, False, True, False]), z * z, z)),
        "pow3": (lambda z: z ** 3, lambda z: z ** 3), "pow-1.5": (lambda z: z ** -1.5,
                                                                  lambda z: z ** -1.5),
        "rpow": (lambda z: 2.0 ** z, lambda z: 2.0 ** z),
        "multiply": (lambda z, w: z * w, lambda z, w: z * w),
        "divide": (lambda z, w: z / w, lambda z, w: z / w),
        "power": (lambda z, w: z ** w, lambda z, w: z ** w),
        "add_sub": (lambda z, w: (z + w) * (z - w), lambda z, w: (z + w) * (z - w)),
    }


_COMPLEX_NAMES = sorted(["exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square",
                         "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh",
                         "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "sigmoid", "exp2",
                         "abs", "negative", "cumprod", "real", "imag", "conj", "where", "pow3",
                         "pow-1.5", "rpow", "multiply", "divide", "power", "add_sub"])


def _complex_grads(m, f, args, vr, vi, wr, wi):
    """First and second gradients of real losses of f on complex args: PyTorch's convention
    (the conjugate Wirtinger derivative, times 2) for both libraries."""
    conv = (lambda t: t.numpy()) if m is gg else (lambda t: t.detach().resolve_conj().numpy())
    if m is gg:
        xs = [gg.tensor(a, requires_grad=True) for a in args]
        re, im, c = gg.real, gg.imag, lambda v: gg.tensor(v)
    else:
        xs = [m.tensor(a, requires_grad=True) for a in args]
        re, im, c = (lambda t: t.real), (lambda t: t.imag), (lambda v: m.tensor(v))
    out = f(*xs)
    loss = (re(out) * c(vr)).sum()
    if out.dtype in (np.complex128, getattr(m, "complex128", None)):
        loss = loss + (im(out) * c(vi)).sum()
    g1 = m.autograd.grad(loss, xs, create_graph=True)
    loss2 = sum((re(g) * c(wr)).sum() + (im(g) * c(wi)).sum() for g in g1)
    if not loss2.requires_grad:  # a constant first gradient (negative)
        return [conv(g) for g in g1], [None] * len(xs)
    g2 = m.autograd.grad(loss2, xs, allow_unused=True)
    return [conv(g) for g in g1], [None if g is None else conv(g) for g in g2]


@pytest.mark.torch
@pytest.mark.parametrize("name", _COMPLEX_NAMES)
def test_complex_first_and_second_gradients_match_torch(name):
    torch, ops = _complex_ops()
    fg, ft = ops[name]
    nargs = fg.__code__.co_argcount
    args = [_Z, _W][:nargs]
    rng = np.random.default_rng(len(name))
    vr, vi, wr, wi = (rng.standard_normal(4) for _ in range(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        ours = _complex_grads(gg, fg, args, vr, vi, wr, wi)
    theirs = _complex_grads(torch, ft, args, vr, vi, wr, wi)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        a = np.zeros(4) if a is None else a
        b = np.zeros(4) if b is None else b
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=name)


def test_complex_conjugates_only_complex_operands():
    """A real input beside a complex one gets the real part of g * conj(other) (PyTorch)."""
    torch = pytest.importorskip("torch")
    a0 = np.array([0.5, -1.5, 2.0])
    ours, theirs = [], []
    for m in (gg, torch):
        a = m.tensor(a0, requires_grad=True)
        z = m.tensor(_Z[:3])
        out = a * z + a / z + z ** a
        re = gg.real if m is gg else (lambda t: t.real)
        im = gg.imag if m is gg else (lambda t: t.imag)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
            (g,) = m.autograd.grad((re(out) + 2 * im(out)).sum(), [a])
        (ours if m is gg else theirs).append(np.asarray(g.detach() if m is torch else g.numpy()))
    # (the real part: gg.autograd.grad hands a leaf its gradient uncast, complex here)
    np.testing.assert_allclose(np.real(ours[0]), theirs[0], rtol=1e-12)


@pytest.mark.parametrize("name", ["relu", "silu", "gelu", "softplus", "leaky_relu", "erf",
                                  "logaddexp", "clip", "maximum"])
def test_complex_input_is_refused_clearly(name):
    fns = {"relu": gg.relu, "silu": gg.silu, "gelu": gg.gelu, "softplus": gg.softplus,
           "leaky_relu": gg.leaky_relu, "erf": gg.erf,
           "logaddexp": lambda z: gg.logaddexp(z, z), "clip": lambda z: gg.clip(z, 0, 1),
           "maximum": lambda z: gg.maximum(z, 0.5)}
    z = gg.tensor(_Z, requires_grad=True)
    with pytest.raises((NotImplementedError, TypeError)) as e:
        gg.autograd.grad(gg.real(fns[name](z)).sum(), [z])
    assert "complex" in str(e.value) or "not supported for the input types" in str(e.value)


def test_erf_forward_refuses_complex_input():
    with pytest.raises(TypeError, match="complex"):
        gg.erf(gg.tensor(_Z))


# ---------------------------------------------------------------- low precision
@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "gelu", "softplus", "logaddexp",
                                  "hypot", "cumprod"])
def test_second_order_in_float32_keeps_the_dtype(name):
    fns = {"exp": gg.exp, "tanh": gg.tanh, "sigmoid": gg.sigmoid, "gelu": gg.gelu,
           "softplus": gg.softplus, "logaddexp": lambda x: gg.logaddexp(x, x * 0.5),
           "hypot": lambda x: gg.hypot(x, 1.5), "cumprod": gg.cumprod}
    x64 = np.array([0.3, -0.8, 1.1, 0.05])
    x = gg.tensor(x64.astype(np.float32), requires_grad=True)
    (g,) = gg.autograd.grad(fns[name](x).sum(), [x], create_graph=True)
    (h,) = gg.autograd.grad(g.sum(), [x])
    assert g.dtype == np.float32 and h.dtype == np.float32
    y = _t(x64.astype(np.float32), requires_grad=True)
    (g64,) = gg.autograd.grad(fns[name](y).sum(), [y], create_graph=True)
    (h64,) = gg.autograd.grad(g64.sum(), [y])
    np.testing.assert_allclose(h.numpy(), h64.numpy(), rtol=1e-4, atol=1e-5)
