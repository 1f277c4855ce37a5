"""gpugrad.numpy against NumPy: values, gradients (gradcheck), promotion, devices, errors.

Elementwise functions, reductions and creation live here; shapes, sorting and linear algebra
in test_numpy_shape_linalg.py.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(0)
A = RNG.uniform(0.2, 0.9, (2, 3))      # inside every function's domain
B = RNG.uniform(0.3, 1.2, (3,))        # broadcasts against A
AC = RNG.uniform(1.2, 2.0, (2, 3))     # for arccosh


def check(name, *xs, grad=True, ref=None, **kw):
    """Value against NumPy's function of the same name, then a gradient check."""
    fn = getattr(gnp, name)
    got = fn(*[gnp.asarray(x) for x in xs], **kw)
    want = (ref or getattr(np, name))(*xs, **kw)
    assert isinstance(got, gg.Tensor)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-12)
    assert got.dtype == np.asarray(want).dtype, (name, got.dtype, np.asarray(want).dtype)
    if grad:
        gg.gradcheck(lambda *ts: fn(*ts, **kw), list(xs))


UNARY = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "sin",
         "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
         "arctanh", "negative", "positive", "square", "reciprocal", "absolute", "abs", "fabs",
         "deg2rad", "rad2deg", "degrees", "radians", "sinc", "conj", "conjugate", "real",
         "imag", "acos", "asin", "atan", "asinh", "atanh"]


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    check(name, A, ref=getattr(np, name) if hasattr(np, name) else None)


def test_arccosh():
    check("arccosh", AC)
    check("acosh", AC)


BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "power", "pow", "maximum",
          "minimum", "remainder", "mod", "fmod", "logaddexp", "logaddexp2", "arctan2", "atan2",
          "hypot", "copysign", "float_power", "fmax", "fmin"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcasting(name):
    check(name, A, B)
    check(name, B, A[:1])


ZERO_GRAD = ["floor", "ceil", "trunc", "rint", "sign", "fix", "round", "around"]


@pytest.mark.parametrize("name", ZERO_GRAD)
def test_zero_gradient(name):
    x = RNG.uniform(-3, 3, (5,))
    check(name, x, grad=False)
    t = gg.tensor(x, requires_grad=True)
    getattr(gnp, name)(t).sum().backward()
    assert (t.grad.numpy() == 0).all()


NOGRAD2 = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "logical_and", "logical_or", "logical_xor", "floor_divide", "heaviside", "isclose"]


@pytest.mark.parametrize("name", NOGRAD2)
def test_comparisons_and_logic(name):
    a, b = np.array([0.0, 1.0, 2.0, 2.0]), np.array([1.0, 2.0, 1.0, 2.0])
    check(name, a, b, grad=False)


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
                                  "right_shift", "gcd", "lcm"])
def test_integer_functions(name):
    check(name, np.array([3, 12, 7]), np.array([1, 2, 5]), grad=False)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "signbit", "logical_not",
                                  "invert", "isneginf", "isposinf"])
def test_predicates(name):
    x = np.array([1, 0, 5]) if name == "invert" else np.array([1.0, np.nan, -np.inf, np.inf, -0.0])
    check(name, x, grad=False)


def test_clip_where_and_divmod():
    x = RNG.uniform(-2, 2, (6,))
    check("clip", x, -0.5, 0.5)
    np.testing.assert_allclose(gnp.clip(x, None, 0.1).numpy(), np.clip(x, None, 0.1))
    lo = np.full(6, -0.3)
    gg.gradcheck(lambda t, l: gnp.clip(t, l, 1.0), [x, lo])
    cond = x > 0
    check("where", cond, x, -x, grad=False)
    gg.gradcheck(lambda a, b: gnp.where(cond, a, b), [x, B[:1]])
    q, r = gnp.divmod(gnp.asarray(x), 0.7)
    np.testing.assert_allclose(q.numpy(), np.floor_divide(x, 0.7))
    np.testing.assert_allclose(r.numpy(), np.remainder(x, 0.7))
    assert gnp.allclose(x, x + 1e-12) and not gnp.allclose(x, x + 1)
    assert gnp.array_equal([1, 2], np.array([1, 2])) and not gnp.array_equal([1], [1, 2])


# ================================================================ reductions
REDUCTIONS = [("sum", {}), ("sum", {"axis": 0}), ("sum", {"axis": (0, 1), "keepdims": True}),
              ("mean", {"axis": 1}), ("mean", {"keepdims": True}), ("var", {}),
              ("var", {"axis": 0, "ddof": 1}), ("std", {"axis": 1}), ("prod", {}),
              ("prod", {"axis": 1}), ("max", {}), ("max", {"axis": 0}), ("min", {"axis": 1}),
              ("amax", {"axis": 1, "keepdims": True}), ("amin", {}), ("cumsum", {}),
              ("cumsum", {"axis": 0}), ("cumprod", {"axis": 1}), ("cumprod", {}),
              ("median", {}), ("median", {"axis": 0}), ("ptp", {"axis": 1}),
              ("nansum", {"axis": 0}), ("nanmean", {}), ("average", {"axis": 1}),
              ("diff", {}), ("diff", {"n": 2, "axis": 1})]


@pytest.mark.parametrize("name,kw", REDUCTIONS)
def test_reduction(name, kw):
    check(name, A, **kw)


def test_reduction_details():
    x = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.nan]])
    np.testing.assert_allclose(gnp.nansum(x, axis=1).numpy(), np.nansum(x, axis=1))
    np.testing.assert_allclose(gnp.nanmean(x, axis=0).numpy(), np.nanmean(x, axis=0))
    w = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(gnp.average(A, axis=1, weights=w).numpy(),
                               np.average(A, axis=1, weights=w))
    gg.gradcheck(lambda a, ww: gnp.average(a, axis=1, weights=ww), [A, w])
    for name in ("argmax", "argmin"):
        for axis in (None, 0, 1):
            check(name, A, axis=axis, grad=False)
    check("all", A > 0.5, axis=0, grad=False)
    check("any", A > 0.5, grad=False)
    check("count_nonzero", A > 0.5, axis=1, grad=False)
    check("sum", np.array([[1, 2]], dtype=np.int32), grad=False)
    check("prod", np.array([3, 4], dtype=np.uint8), grad=False)
    check("mean", np.array([1, 2], dtype=np.int32), grad=False)
    check("sum", A, initial=2.0, axis=0)
    check("max", A, initial=0.8)
    check("cumsum", np.array([True, True]), grad=False)
    check("diff", A, prepend=0.0, append=A[:, :1])
    zeros = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0]])
    check("cumprod", zeros, axis=1)
    check("prod", zeros, axis=0)
    r = gnp.cumulative_sum(gnp.asarray([1, 2, 3]), include_initial=True)
    assert r.tolist() == [0, 1, 3, 6]
    gg.gradcheck(lambda a: gnp.cumulative_sum(a, axis=1, include_initial=True), [A])


def test_logsumexp_helper_matches_scipy():
    from scipy.special import logsumexp

    np.testing.assert_allclose(gnp.logsumexp(A, axis=1).numpy(), logsumexp(A, axis=1))
    np.testing.assert_allclose(gnp.logsumexp(A, b=B).numpy(), logsumexp(A, b=B))
    gg.gradcheck(lambda a: gnp.logsumexp(a, axis=0, keepdims=True), [A])


# ================================================================ creation and dtypes
@pytest.mark.parametrize("call", [
    "zeros(3)", "zeros((2, 3), dtype=int)", "ones(2)", "ones((2,), dtype='float32')",
    "empty((2, 2)).shape", "full(3, 2.5)", "full((2,), 7)", "full(2, True)", "arange(5)",
    "arange(1, 2, 0.25)", "arange(5.0)", "arange(0, 10, 3, dtype='int32')",
    "linspace(0, 1, 5)", "linspace(0, 1, 4, endpoint=False)", "logspace(0, 2, 3)", "eye(3)",
    "eye(2, 3, k=1, dtype=int)", "identity(2)", "tri(3, k=-1)", "array([1, 2])",
    "array([1.0, 2])", "array(3.5)", "array([True])", "array([[1, 2]], dtype='float32')",
    "array([1, 2], ndmin=3)", "asarray([1.5])", "zeros_like(np.ones((2, 1)))",
    "ones_like(np.ones(2, dtype=np.int32))", "full_like(np.ones(2), 3)",
    "empty_like(np.ones(3)).shape", "zeros_like(np.ones((2, 2)), shape=(3,))"])
def test_creation_matches_numpy(call):
    got = eval("gnp." + call, {"gnp": gnp, "np": np})
    want = eval("np." + call, {"np": np})
    if isinstance(want, tuple):
        assert got == want
        return
    assert isinstance(got, gg.Tensor)
    assert got.dtype == want.dtype and got.shape == want.shape, call
    np.testing.assert_allclose(got.numpy(), want)


def test_array_from_tensors_is_differentiable():
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = gnp.array([x * 2, x * 3])
    assert y.shape == (2, 2)
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    a = np.arange(3.0)
    assert gnp.asarray(a).data is a and gnp.array(a).data is not a
    with pytest.raises(ValueError, match="copy=False"):
        gnp.asarray([1.0], copy=False)
    assert gnp.linspace(0, 1, 3, retstep=True)[1] == 0.5


def test_random_generator_matches_numpy():
    ours, theirs = gnp.random.default_rng(3), np.random.default_rng(3)
    for method, args in [("random", ((2, 3),)), ("standard_normal", (4,)),
                         ("normal", (1.0, 2.0, 3)), ("uniform", (-1, 1, (2,))),
                         ("integers", (0, 10, 5)), ("permutation", (5,)),
                         ("choice", (5, 3))]:
        got = getattr(ours, method)(*args)
        assert isinstance(got, gg.Tensor)
        np.testing.assert_array_equal(got.numpy(), getattr(theirs, method)(*args))
    assert ours.exponential(size=4).shape == (4,)
    assert ours.choice(np.arange(4.0), 2, replace=False, p=[0.1, 0.2, 0.3, 0.4]).shape == (2,)
    t = gnp.arange(6)
    ours.shuffle(t)
    assert sorted(t.tolist()) == list(range(6))
    gnp.random.seed(1)
    a = gnp.random.randn(3)
    gnp.random.seed(1)
    assert (gnp.random.randn(3) == a).all()
    for f, args in [("rand", (2, 2)), ("random", (3,)), ("normal", (0, 1, 2)),
                    ("uniform", (0, 1, 2)), ("randint", (0, 5, 3)), ("choice", (4, 2)),
                    ("permutation", (4,)), ("standard_normal", (2,)), ("exponential", (1.0, 2))]:
        assert isinstance(getattr(gnp.random, f)(*args), gg.Tensor)


# ================================================================ promotion and out=
@pytest.mark.parametrize("a,b", [
    (np.float32, 2.0), (np.float32, np.float64), (np.int32, np.float32), (np.int8, np.uint8),
    (np.int64, 2.5), (np.int32, 3), (np.uint8, np.int64), (np.bool_, np.int8),
    (np.float32, np.int64), (np.float16, np.float32)])
def test_promotion_matches_numpy(a, b):
    x = np.ones(2, dtype=a)
    y = np.ones(2, dtype=b) if isinstance(b, type) else b
    for name in ("add", "multiply", "subtract", "maximum"):
        if a is np.bool_ and name == "subtract":
            continue
        want = getattr(np, name)(x, y)
        assert getattr(gnp, name)(x, y).dtype == want.dtype, (name, a, b)
    for name in ("exp", "sqrt", "sin"):
        assert getattr(gnp, name)(x).dtype == getattr(np, name)(x).dtype


def test_out_and_dtype_arguments():
    out = gnp.zeros(3)
    r = gnp.add(gnp.ones(3), 1.0, out=out)
    assert r is out and out.tolist() == [2.0, 2.0, 2.0]
    nd = np.zeros(3)
    assert gnp.multiply(np.ones(3), 3.0, out=nd) is nd and nd.tolist() == [3.0] * 3
    assert gnp.sum(np.ones((2, 2)), axis=0, out=gnp.zeros(2)).tolist() == [2.0, 2.0]
    assert gnp.exp(np.zeros(2), dtype="float32").dtype == np.float32
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="cannot carry a gradient"):
        gnp.exp(x, out=np.zeros(2))
    o = gnp.zeros(2)
    with gg.enable_grad():
        gnp.multiply(x, 3.0, out=o)
    o.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


# ================================================================ errors
def test_unsupported_names_raise_not_implemented():
    # no differentiable version: NumPy's answer outside a graph, a TypeError inside one
    leaf4 = gg.tensor(np.ones(4), requires_grad=True)
    with pytest.raises(TypeError, match="numpy.histogram"):
        gnp.histogram(leaf4)
    with pytest.raises(TypeError, match="numpy.unwrap"):
        gnp.unwrap(leaf4)
    with pytest.raises(AttributeError):
        gnp.not_a_numpy_function
    with pytest.raises(NotImplementedError, match="mean="):  # an argument with no gradient:
        gnp.var(leaf4, mean=np.ones(1))                   # NumPy's answer outside a graph
    assert gnp.var(np.ones(2), mean=np.ones(1)) == np.var(np.ones(2), mean=np.ones(1))
    with pytest.raises(NotImplementedError, match="order"):
        gnp.exp(leaf4, order="F")
    with pytest.raises(TypeError, match="positional"):
        gnp.add(np.ones(2))
    with pytest.raises(ValueError):
        gnp.add(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="zero-size"):
        gnp.max(np.ones(0))
    with pytest.raises(ValueError, match="both or neither"):
        gnp.where(np.ones(2) > 0, 1.0)


# ================================================================ devices
def test_follows_default_device(device):
    gg.set_default_device(device)
    x = gnp.linspace(-1, 1, 5)
    w = gnp.random.default_rng(0).standard_normal(5)
    assert x.device == device and w.device == device
    g = gg.grad(lambda w: gnp.sum(gnp.tanh(x * w) ** 2))(w)
    assert g.device == device and g.shape == (5,)
    assert gnp.sum(x).device == device


@pytest.mark.cuda
def test_cuda_mixing_devices_is_an_error():
    with pytest.raises(gg.DeviceMismatchError):
        gnp.add(gnp.ones(2, device="cuda"), gnp.ones(2, device="cpu"))
