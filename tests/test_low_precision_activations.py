"""float16/bfloat16 elementwise ops (the unary table, leaky_relu, softplus) compute in float32
and round once, forward and backward, as PyTorch's 16-bit kernels do: a formula of several
steps rounded to 16 bits at each step drifts by several units in the last place (a bfloat16
sigmoid gradient by 10%), and these ops are what autocast leaves in 16 bits after a linear
layer.  Checked against float64 on the same 16-bit inputs (and, for the backward of ops that
read their answer, on the same 16-bit answer): within one unit in the last place."""
import numpy as np
import pytest

import gpugrad as gg

pytest.importorskip("ml_dtypes")

_MANT = {"float16": (10, -14), "bfloat16": (7, -126)}


def _ulp(ref, name):
    """One unit in the last place of ``name`` at |ref| (the subnormal spacing below its
    smallest normal)."""
    bits, emin = _MANT[name]
    e = np.floor(np.log2(np.maximum(np.abs(ref), 2.0 ** emin)))
    return 2.0 ** (e - bits)


def _inputs(op, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    if op in ("log", "log2", "log10", "sqrt", "log1p"):
        return rng.uniform(0.05, 8.0, n)
    if op in ("arcsin", "arccos", "arctanh"):
        return rng.uniform(-0.95, 0.95, n)
    if op == "arccosh":
        return rng.uniform(1.1, 6.0, n)
    if op == "tan":
        return rng.uniform(-1.2, 1.2, n)
    if op == "reciprocal":
        return rng.uniform(0.2, 4.0, n) * rng.choice([-1, 1], n)
    return np.clip(rng.standard_normal(n) * 2.5, -6, 6)


# the vjps of the ops that read their answer, on the (16-bit) answer ``a``, in float64
_ANS_VJP = {
    "exp": lambda g, a: g * a, "expm1": lambda g, a: g * (a + 1), "sqrt": lambda g, a: g * 0.5 / a,
    "reciprocal": lambda g, a: -g * a * a, "tan": lambda g, a: g * (1 + a * a),
    "tanh": lambda g, a: g * (1 - a * a), "sigmoid": lambda g, a: g * a * (1 - a),
    "relu": lambda g, a: g * (a > 0),
}
_X_OPS = ["log", "log1p", "log2", "log10", "square", "abs", "sin", "cos", "arcsin", "arccos",
          "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "silu", "erf", "gelu",
          "gelu_tanh", "leaky_relu", "softplus"]


def _fn(op):
    if op == "gelu_tanh":
        return lambda t: gg.nn.functional.gelu(t, approximate="tanh")
    if op == "leaky_relu":
        return lambda t: gg.leaky_relu(t, 0.01)
    if op == "softplus":
        return lambda t: gg.softplus(t, beta=1.5)
    return getattr(gg, op)


def _within_one_ulp(got, ref, name, what):
    got = np.asarray(got).astype(np.float64)
    err = np.abs(got - ref) / _ulp(ref, name)
    worst = int(np.argmax(err))
    assert err[worst] <= 1.0, (what, f"{err[worst]:.1f} ulps", got[worst], ref[worst])


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
@pytest.mark.parametrize("op", sorted(_ANS_VJP) + _X_OPS)
def test_16_bit_op_and_gradient_are_float32_math_rounded_once(op, name):
    x16 = _inputs(op).astype(np.float32).astype(gg.dtypes.as_dtype(name))
    g16 = np.random.default_rng(1).standard_normal(x16.size).astype(np.float32).astype(x16.dtype)
    f = _fn(op)

    t = gg.tensor(x16, requires_grad=True)
    y = f(t)
    y.backward(gg.tensor(g16))
    assert y.dtype == x16.dtype and t.grad.dtype == x16.dtype

    t64 = gg.tensor(x16.astype(np.float64), requires_grad=True)
    y64 = f(t64)
    y64.backward(gg.tensor(g16.astype(np.float64)))
    _within_one_ulp(y.numpy(), y64.numpy(), name, f"{op} forward")

    g = g16.astype(np.float64)
    if op in _ANS_VJP:   # the gradient of the 16-bit answer this op saved
        ref = _ANS_VJP[op](g, np.asarray(y.numpy()).astype(np.float64))
    else:
        ref = t64.grad.numpy()
    _within_one_ulp(t.grad.numpy(), ref, name, f"{op} gradient")


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
def test_16_bit_sigmoid_gradient_where_one_minus_s_cancels(name):
    """x = 2.984375: sigmoid 0.9519 rounds to 0.953125 in bfloat16; the gradient
    s (1 - s) from that answer is 0.04468 (PyTorch's), not 0.0410 from a sigmoid rounded
    step by step to 0.957."""
    dt = gg.dtypes.as_dtype(name)
    t = gg.tensor(np.array([2.984375], dt), requires_grad=True)
    s = gg.sigmoid(t)
    s.backward(gg.ones(1, dtype=name))
    s16 = np.float64(np.float32(1 / (1 + np.exp(-2.984375))).astype(dt))
    assert float(s.item()) == s16
    assert float(t.grad.item()) == float(np.float32(s16 * (1 - s16)).astype(dt))


def test_float32_and_float64_results_are_unchanged():
    x = gg.tensor(np.linspace(-3, 3, 7), requires_grad=True)
    gg.sigmoid(x).sum().backward()
    s = 1 / (1 + np.exp(-np.linspace(-3, 3, 7)))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), rtol=1e-15)
    assert x.grad.dtype == np.float64


# ---------------------------------------------------------------- binary ops
def _binary_inputs(op, n=3000):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(n) * 2, rng.standard_normal(n) * 2
    if op == "power":
        a, b = rng.uniform(0.2, 4.0, n), rng.uniform(-2.5, 2.5, n)
    if op == "divide":
        b = rng.uniform(0.2, 4.0, n) * rng.choice([-1, 1], n)
    return a, b


# (gradient of a, gradient of b) from the 16-bit answer, in float64
_BINARY_ANS_VJP = {
    "divide": lambda g, a, b, ans: (g / b, -g / b * ans),
    "power": lambda g, a, b, ans: (g * b * a ** (b - 1), g * ans * np.log(a)),
    "hypot": lambda g, a, b, ans: (g * a / ans, g * b / ans),
}


@pytest.mark.parametrize("name", ["bfloat16", "float16"])
@pytest.mark.parametrize("op", ["divide", "power", "logaddexp", "logaddexp2", "arctan2",
                                "hypot"])
def test_16_bit_binary_op_gradients_are_float32_math_rounded_once(op, name):
    dt = gg.dtypes.as_dtype(name)
    a, b = (v.astype(np.float32).astype(dt) for v in _binary_inputs(op))
    g16 = np.random.default_rng(3).standard_normal(a.size).astype(np.float32).astype(dt)
    f = getattr(gg, op)
    ta, tb = gg.tensor(a, requires_grad=True), gg.tensor(b, requires_grad=True)
    y = f(ta, tb)
    y.backward(gg.tensor(g16))
    assert y.dtype == dt and ta.grad.dtype == dt and tb.grad.dtype == dt
    t64a = gg.tensor(a.astype(np.float64), requires_grad=True)
    t64b = gg.tensor(b.astype(np.float64), requires_grad=True)
    y64 = f(t64a, t64b)
    _within_one_ulp(y.numpy(), y64.numpy(), name, f"{op} forward")
    if op in _BINARY_ANS_VJP:   # these read their 16-bit answer: the reference does too
        ans = np.asarray(y.numpy()).astype(np.float64)
        ref_a, ref_b = _BINARY_ANS_VJP[op](g16.astype(np.float64), a.astype(np.float64),
                                           b.astype(np.float64), ans)
    else:
        y64.backward(gg.tensor(g16.astype(np.float64)))
        ref_a, ref_b = t64a.grad.numpy(), t64b.grad.numpy()
    _within_one_ulp(ta.grad.numpy(), ref_a, name, f"{op} gradient of a")
    _within_one_ulp(tb.grad.numpy(), ref_b, name, f"{op} gradient of b")


def test_float16_arctan2_gradient_where_x2_plus_y2_underflows_or_overflows():
    """x^2 + y^2 leaves float16's range at (1e-4, 1e-4) (underflow: the origin's 0 came, or
    x itself) and at (300, 300) (overflow: 0 came); the gradient, x / (x^2 + y^2), is
    representable in both."""
    for v in (1e-4, 300.0):
        y = gg.tensor(np.array([v], np.float16), requires_grad=True)
        x = gg.tensor(np.array([v], np.float16), requires_grad=True)
        gg.arctan2(y, x).backward(gg.ones(1, dtype="float16"))
        v16 = float(np.float16(v))
        want = float(np.float16(v16 / (2 * v16 * v16)))
        assert (float(y.grad.item()), float(x.grad.item())) == (want, -want), v


def test_float16_divide_gradient_of_the_divisor_is_zero_for_a_zero_numerator():
    """d(a / b)/db = -a / b^2 is 0 at a = 0 even where 1 / b overflows float16 (not
    -inf * 0 = NaN)."""
    a = gg.tensor(np.array([0.0], np.float16), requires_grad=True)
    b = gg.tensor(np.array([1e-5], np.float16), requires_grad=True)
    (a / b).backward(gg.ones(1, dtype="float16"))
    assert float(b.grad.item()) == 0.0 and float(a.grad.item()) == np.inf


def test_float32_operand_of_a_16_bit_one_keeps_a_float32_gradient():
    """x16 ** y32 is float32: y's gradient is float32 math, not rounded to 16 bits on the way."""
    x = gg.tensor(np.array([1.5, 3.0], np.float16), requires_grad=True)
    y = gg.tensor(np.array([1.1, 0.7], np.float32), requires_grad=True)
    (x ** y).sum().backward()
    want = np.float32(np.array([1.5, 3.0], np.float32) ** np.array([1.1, 0.7], np.float32)
                      * np.log(np.array([1.5, 3.0], np.float32)))
    assert y.grad.dtype == np.float32 and x.grad.dtype == np.float16
    np.testing.assert_allclose(y.grad.numpy(), want, rtol=2e-7)
