"""Result dtypes of mixed-precision products, strong and weak scalars beside bfloat16 tensors,
a scalar as the first operand, and unary ops of plain numbers, each checked against NumPy."""
import itertools
import operator
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
FLOATS = [BF16, np.dtype("float16"), np.dtype("float32"), np.dtype("float64")]
TOL = {"bfloat16": 2e-2, "float16": 2e-3, "float32": 1e-5, "float64": 1e-12}


def _product_dtype(da, db):
    """NumPy's dtype for an elementwise product of arrays of ``da`` and ``db``."""
    return (np.ones(1, da) * np.ones(1, db)).dtype


def _rand(shape, dtype, seed):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


# name -> (gpugrad function, NumPy reference on float64 arrays, shapes of a and b)
PRODUCTS = {
    "matmul": (gg.matmul, np.matmul, (2, 3), (3, 4)),
    "matmul_op": (operator.matmul, np.matmul, (2, 2, 3), (3, 4)),
    "dot": (gg.dot, np.dot, (2, 3), (3,)),
    "tensordot": (lambda a, b: gg.tensordot(a, b, axes=([1], [0])),
                  lambda a, b: np.tensordot(a, b, axes=([1], [0])), (2, 3), (3, 4)),
    "einsum": (lambda a, b: gg.einsum("ij,jk->ik", a, b),
               lambda a, b: np.einsum("ij,jk->ik", a, b), (2, 3), (3, 4)),
    "inner": (gg.inner, np.inner, (2, 3), (4, 3)),
    "outer": (gg.outer, np.outer, (3,), (4,)),
    "vdot": (gnp.vdot, np.vdot, (2, 3), (3, 2)),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
@pytest.mark.parametrize("da,db", [p for p in itertools.product(FLOATS, FLOATS)
                                   if BF16 in p])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_mixed_precision_products_promote(name, da, db, requires_grad):
    fn, ref, sa, sb = PRODUCTS[name]
    a_np, b_np = _rand(sa, da, 0), _rand(sb, db, 1)
    a = gg.tensor(a_np, dtype=da, requires_grad=requires_grad)
    b = gg.tensor(b_np, dtype=db, requires_grad=requires_grad)
    out = fn(a, b)
    want = _product_dtype(da, db)
    assert out.dtype == want, f"{name}({da}, {db}): got {out.dtype}, NumPy {want}"
    expected = ref(a_np.astype(np.float64), b_np.astype(np.float64))
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected,
                               rtol=TOL[want.name], atol=TOL[want.name])
    if requires_grad:
        out.sum().backward()
        ones = np.ones(np.shape(expected))
        assert a.grad.dtype == da and b.grad.dtype == db
        # d sum(a @ b) / da against NumPy in float64 (matmul only: one formula to check)
        if name == "matmul":
            ga = ones @ b_np.astype(np.float64).T
            np.testing.assert_allclose(a.grad.numpy().astype(np.float64), ga,
                                       rtol=TOL[da.name] * 4, atol=TOL[da.name] * 4)


def test_bf16_matmul_f32_keeps_float32_precision():
    a = gg.tensor(np.array([[1.0, 1.0]], BF16), dtype=BF16)
    b = gg.tensor(np.array([[1.0], [1.0 / 256]], np.float32))
    assert (a @ b).tolist() == [[1.00390625]] and (a @ b).dtype == np.float32
    bb = gg.tensor(np.ones((2, 1), BF16), dtype=BF16)
    assert (a @ bb).dtype == BF16  # both bfloat16: bfloat16 (float32 accumulation)


def test_linear_mixed_dtypes_is_a_clear_error():
    x = gg.tensor(np.ones((2, 3), BF16), dtype=BF16)
    with pytest.raises(TypeError, match="one dtype"):
        gg.linear(x, gg.ones(3, 4))


class FloatSub(float):
    pass


class IntSub(int):
    pass


SCALARS = [2, 2.5, True, np.float64(2.5), np.float32(2.5), np.float16(2.5), np.int64(2),
           np.int8(2), np.bool_(True), FloatSub(2.5), IntSub(2)]
TENSOR_DTYPES = [BF16, np.dtype("float16"), np.dtype("float32"), np.dtype("float64"),
                 np.dtype("int32"), np.dtype("int8")]
BINARY = {"add": np.add, "multiply": np.multiply, "maximum": np.maximum, "less": np.less}


def _reference(ufunc, arr, s, scalar_first):
    """NumPy's answer; beside a bfloat16 array an exact Python int/float/bool is weak (NEP 50,
    which ml_dtypes' bfloat16 does not take part in): it is cast to bfloat16 first."""
    if arr.dtype == BF16 and type(s) in (int, float, bool):
        s = BF16.type(s)
    return ufunc(s, arr) if scalar_first else ufunc(arr, s)


@pytest.mark.parametrize("tdtype,requires_grad",
                         [(d, False) for d in TENSOR_DTYPES]
                         + [(d, True) for d in TENSOR_DTYPES if d.kind == "f"],
                         ids=lambda v: v.name if isinstance(v, np.dtype) else f"grad={v}")
@pytest.mark.parametrize("s", SCALARS, ids=lambda s: f"{type(s).__name__}")
@pytest.mark.parametrize("scalar_first", [False, True])
def test_scalar_strength_matches_numpy(tdtype, s, scalar_first, requires_grad):
    arr = np.array([1, 3], tdtype)
    for name, ufunc in BINARY.items():
        x = gg.tensor(arr, dtype=tdtype, requires_grad=requires_grad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            want = _reference(ufunc, arr, s, scalar_first)
            got = getattr(gg, name)(s, x) if scalar_first else getattr(gg, name)(x, s)
        assert got.dtype == want.dtype, (f"{name}({'s, x' if scalar_first else 'x, s'}) with "
                                         f"{tdtype} and {type(s).__name__}: got {got.dtype}, "
                                         f"expected {want.dtype}")
        np.testing.assert_array_equal(got.numpy(), want)


def test_bf16_times_numpy_float64_is_float64():
    x = gg.tensor(np.array([1.0, 3.0], BF16), dtype=BF16, requires_grad=True)
    y = x * np.float64(1.0 / 3)
    assert y.dtype == np.float64 and y.tolist()[0] == 1.0 / 3
    assert (x * (1.0 / 3)).dtype == BF16  # a Python float stays weak


SCALAR_FIRST = {
    "add": (gg.add, np.add), "subtract": (gg.subtract, np.subtract),
    "multiply": (gg.multiply, np.multiply), "divide": (gg.divide, np.divide),
    "floor_divide": (gg.floor_divide, np.floor_divide), "power": (gg.power, np.power),
    "maximum": (gg.maximum, np.maximum), "minimum": (gg.minimum, np.minimum),
    "less": (gg.less, np.less), "less_equal": (gg.less_equal, np.less_equal),
    "greater": (gg.greater, np.greater), "greater_equal": (gg.greater_equal, np.greater_equal),
    "equal": (gg.equal, np.equal), "not_equal": (gg.not_equal, np.not_equal),
    "//": (operator.floordiv, np.floor_divide), "-": (operator.sub, np.subtract),
    "/": (operator.truediv, np.divide), "**": (operator.pow, np.power),
    "<": (operator.lt, np.less), "==": (operator.eq, np.equal),
}


@pytest.mark.parametrize("tdtype", [BF16, np.dtype("float16"), np.dtype("float32"),
                                    np.dtype("int32")], ids=lambda d: d.name)
@pytest.mark.parametrize("s", [3, 2.0], ids=["int", "float"])
def test_scalar_first_operand(tdtype, s):
    arr = np.array([1, 2, 5], tdtype)
    for name, (fn, ufunc) in SCALAR_FIRST.items():
        x = gg.tensor(arr, dtype=tdtype)
        want = _reference(ufunc, arr, s, scalar_first=True)
        if name in ("/", "divide") and tdtype.kind == "i":
            want = want.astype(np.result_type(want, np.float32))  # (engine int / int rule)
        got = fn(s, x)
        assert got.dtype == want.dtype, f"{s!r} {name} {tdtype}: {got.dtype} vs {want.dtype}"
        np.testing.assert_allclose(got.numpy().astype(np.float64), want.astype(np.float64),
                                   rtol=1e-6)


UNARY = ["exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "negative", "sigmoid", "relu",
         "square", "log1p", "expm1", "floor", "sign"]
NUMBERS = [2, 2.0, True, np.float32(0.5), np.float64(0.5), np.int8(2), np.int64(3),
           BF16.type(0.5)]


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("v", NUMBERS, ids=lambda v: f"{type(v).__name__}({v})")
def test_unary_of_a_number_is_unary_of_a_0d_tensor(name, v):
    fn = getattr(gg, name)
    ref = gg.tensor(np.asarray(v), dtype=np.asarray(v).dtype)
    try:
        want = fn(ref)
    except TypeError as e:  # (e.g. negative of a bool): the same error for the number
        with pytest.raises(type(e)):
            fn(v)
        return
    got = fn(v)
    assert got.shape == () and got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_exp_of_python_numbers_follows_numpy():
    for v in (2, 2.0):
        r = gg.exp(v)
        assert r.dtype == np.float64 and r.item() == np.exp(v)
    assert abs(gg.exp(True).item() - np.e) < 1e-6  # bool: the engine's float32
