"""Data types: names, specs, the rules for new tensors, promotion, and gradient dtypes."""
import itertools

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import dtypes


def test_dtype_objects_are_numpy_dtypes():
    for name in ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                 "complex64", "complex128"]:
        dt = getattr(gg, name)
        assert isinstance(dt, np.dtype) and dt == np.dtype(name) and dt.name == name
    assert gg.bool == gg.bool_ == np.dtype(bool)
    assert gg.half == gg.float16 and gg.double == gg.float64 and gg.long == gg.int64
    assert gg.float32 == np.float32                  # compares with NumPy's scalar types too


@pytest.mark.parametrize("spec, expected", [
    ("float32", "float32"), ("float64", "float64"), ("f4", "float32"), ("int32", "int32"),
    (np.float64, "float64"), (np.dtype("int16"), "int16"), (gg.float16, "float16"),
    (float, "float64"), (int, "int64"), (bool, "bool"), ("bool", "bool"), ("uint8", "uint8"),
    (complex, "complex128"), ("float", "float64"), ("complex", "complex128"), ("int", "int64"),
    ("complex64", "complex64"),
])
def test_as_dtype(spec, expected):
    assert dtypes.as_dtype(spec) == np.dtype(expected)


def test_as_dtype_rejects():
    assert dtypes.as_dtype(None) is None
    with pytest.raises(TypeError, match="unsupported dtype datetime64"):
        dtypes.as_dtype("datetime64[s]")
    with pytest.raises(TypeError, match="expected a dtype such as 'float32'"):
        dtypes.as_dtype("not-a-dtype")
    with pytest.raises(TypeError, match="unsupported dtype object"):
        dtypes.as_dtype(object)


def test_a_byte_swapped_dtype_is_named_as_such():
    # (it said "unsupported dtype float64; expected one of ..., float64, ...")
    for spec in (">f8", ">i4") if np.little_endian else ("<f8", "<i4"):
        with pytest.raises(TypeError, match=r"non-native byte order") as e:
            dtypes.as_dtype(spec)
        assert np.dtype(spec).str in str(e.value)


def test_is_floating_and_defaults():
    assert dtypes.is_floating("float16") and dtypes.is_floating(np.float64)
    assert not dtypes.is_floating("int64") and not dtypes.is_floating(bool)
    assert dtypes.default_dtype_for(1.0) == np.float32
    assert dtypes.default_dtype_for([1, 2]) == np.int64
    assert dtypes.default_dtype_for([[1, 2.5]]) == np.float32
    assert dtypes.default_dtype_for(True) == np.bool_
    assert dtypes.default_dtype_for(1j) == np.complex64
    assert dtypes.default_dtype_for(np.zeros(1)) is None      # arrays keep their dtype


@pytest.mark.parametrize("make, dtype", [
    (lambda: gg.zeros(2), "float32"), (lambda: gg.ones(2), "float32"),
    (lambda: gg.empty(2), "float32"), (lambda: gg.eye(2), "float32"),
    (lambda: gg.full((2,), 3), "int64"), (lambda: gg.full((2,), 3.0), "float32"),
    (lambda: gg.full((2,), False), "bool"), (lambda: gg.arange(3), "int64"),
    (lambda: gg.arange(3.0), "float32"), (lambda: gg.arange(0, 1, 0.5), "float32"),
    (lambda: gg.linspace(0, 1, 3), "float32"), (lambda: gg.rand(2), "float32"),
    (lambda: gg.randn(2), "float32"), (lambda: gg.randint(5, size=2), "int64"),
    (lambda: gg.randn(2, dtype="float16"), "float16"),
    (lambda: gg.zeros_like(gg.tensor(np.zeros(2, np.int16))), "int16"),
    (lambda: gg.ones_like(gg.ones(2), dtype="float64"), "float64"),
])
def test_creation_dtypes(make, dtype):
    assert make().dtype == np.dtype(dtype)


NUMERIC = ["float16", "float32", "float64", "int8", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("a, b", list(itertools.combinations_with_replacement(NUMERIC, 2)))
def test_tensor_tensor_promotion_follows_numpy(a, b):
    x, y = np.ones(2, a), np.ones(2, b)
    expected = np.result_type(x, y)
    for op, npop in ((gg.add, np.add), (gg.multiply, np.multiply), (gg.maximum, np.maximum)):
        if expected == np.bool_ and npop is np.add:
            continue
        out = op(gg.tensor(x), gg.tensor(y))
        assert out.dtype == npop(x, y).dtype, (op, a, b)
    assert (gg.tensor(x) < gg.tensor(y)).dtype == np.bool_


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "int64", "uint8"])
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_python_scalars_are_weak(dtype, scalar):
    x = np.ones(3, dtype)
    assert (gg.tensor(x) * scalar).dtype == (x * scalar).dtype
    assert (scalar + gg.tensor(x)).dtype == (scalar + x).dtype
    if np.dtype(dtype).kind == "f":
        assert (gg.tensor(x) * scalar).dtype == np.dtype(dtype)    # never upcast a float


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_gradients_come_back_in_the_leaf_dtype(dtype):
    x = gg.tensor(np.array([0.5, 1.5], dtype), requires_grad=True)
    w = gg.tensor(np.array([2.0, 3.0]), requires_grad=True)          # float64
    y = (gg.exp(x) * 2.0 + gg.tanh(x) * w).sum()
    assert y.dtype == np.result_type(np.dtype(dtype), np.float64)
    y.backward()
    assert x.grad.dtype == np.dtype(dtype) and w.grad.dtype == np.float64
    ref = np.exp([0.5, 1.5]) * 2 + (1 - np.tanh([0.5, 1.5]) ** 2) * [2.0, 3.0]
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64), ref,
                               rtol={"float16": 5e-3, "float32": 1e-6, "float64": 1e-12}[dtype])


def test_float_ops_keep_float32():
    x = gg.randn(4, 3, requires_grad=True)
    outs = [gg.exp(x), gg.sigmoid(x), gg.gelu(x), gg.softplus(x), x.mean(), x.var(), x.std(),
            gg.logsumexp(x, axis=1), gg.softmax(x), gg.log_softmax(x), x @ x.T, x / 3,
            gg.cross_entropy(x, gg.tensor([0, 1, 2, 0])), gg.mse_loss(x, x * 0),
            gg.linear(x, gg.ones(3, 2), gg.zeros(2), activation="gelu")]
    for o in outs:
        assert o.dtype == np.float32, o
