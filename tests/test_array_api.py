"""The array API namespace walked against the 2023.12 standard's function list: every
function exists with the standard's signature; values, promotion, dtypes and inspection."""
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.array_api as xp

U = "(x, /)"
B = "(x1, x2, /)"
UNARY = ["abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "bitwise_invert", "ceil",
         "conj", "cos", "cosh", "exp", "expm1", "floor", "imag", "isfinite", "isinf", "isnan",
         "log", "log1p", "log2", "log10", "logical_not", "negative", "positive", "real",
         "round", "sign", "signbit", "sin", "sinh", "square", "sqrt", "tan", "tanh", "trunc"]
BINARY = ["add", "atan2", "bitwise_and", "bitwise_left_shift", "bitwise_or",
          "bitwise_right_shift", "bitwise_xor", "copysign", "divide", "equal", "floor_divide",
          "greater", "greater_equal", "hypot", "less", "less_equal", "logaddexp", "logical_and",
          "logical_or", "logical_xor", "maximum", "minimum", "multiply", "not_equal", "pow",
          "remainder", "subtract"]
RED = "(x, /, *, axis=None, keepdims=False)"
SPEC = {
    # creation
    "arange": "(start, /, stop=None, step=1, *, dtype=None, device=None)",
    "asarray": "(obj, /, *, dtype=None, device=None, copy=None)",
    "empty": "(shape, *, dtype=None, device=None)",
    "empty_like": "(x, /, *, dtype=None, device=None)",
    "eye": "(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None)",
    "from_dlpack": "(x, /, *, device=None, copy=None)",
    "full": "(shape, fill_value, *, dtype=None, device=None)",
    "full_like": "(x, /, fill_value, *, dtype=None, device=None)",
    "linspace": "(start, stop, /, num, *, dtype=None, device=None, endpoint=True)",
    "meshgrid": "(*arrays, indexing='xy')", "ones": "(shape, *, dtype=None, device=None)",
    "ones_like": "(x, /, *, dtype=None, device=None)", "tril": "(x, /, *, k=0)",
    "triu": "(x, /, *, k=0)", "zeros": "(shape, *, dtype=None, device=None)",
    "zeros_like": "(x, /, *, dtype=None, device=None)",
    # data type functions
    "astype": "(x, dtype, /, *, copy=True, device=None)", "can_cast": "(from_, to, /)",
    "finfo": "(type, /)", "iinfo": "(type, /)", "isdtype": "(dtype, kind)",
    "result_type": "(*arrays_and_dtypes)",
    # elementwise (besides the unary/binary ones)
    "clip": "(x, /, min=None, max=None)",
    # indexing, linear algebra
    "take": "(x, indices, /, *, axis=None)", "matmul": B, "matrix_transpose": U,
    "tensordot": "(x1, x2, /, *, axes=2)", "vecdot": "(x1, x2, /, *, axis=-1)",
    # manipulation
    "broadcast_arrays": "(*arrays)", "broadcast_to": "(x, /, shape)",
    "concat": "(arrays, /, *, axis=0)", "expand_dims": "(x, /, axis=0)",
    "flip": "(x, /, *, axis=None)", "moveaxis": "(x, source, destination, /)",
    "permute_dims": "(x, /, axes)", "repeat": "(x, repeats, /, *, axis=None)",
    "reshape": "(x, /, shape, *, copy=None)", "roll": "(x, /, shift, *, axis=None)",
    "squeeze": "(x, /, axis)", "stack": "(arrays, /, *, axis=0)", "tile": "(x, repetitions, /)",
    "unstack": "(x, /, *, axis=0)",
    # searching, sets, sorting
    "argmax": RED, "argmin": RED, "nonzero": U,
    "searchsorted": "(x1, x2, /, *, side='left', sorter=None)",
    "where": "(condition, x1, x2, /)", "unique_all": U, "unique_counts": U,
    "unique_inverse": U, "unique_values": U,
    "argsort": "(x, /, *, axis=-1, descending=False, stable=True)",
    "sort": "(x, /, *, axis=-1, descending=False, stable=True)",
    # statistical, utility
    "cumulative_sum": "(x, /, *, axis=None, dtype=None, include_initial=False)",
    "max": RED, "mean": RED, "min": RED,
    "prod": "(x, /, *, axis=None, dtype=None, keepdims=False)",
    "std": "(x, /, *, axis=None, correction=0.0, keepdims=False)",
    "sum": "(x, /, *, axis=None, dtype=None, keepdims=False)",
    "var": "(x, /, *, axis=None, correction=0.0, keepdims=False)", "all": RED, "any": RED,
    "__array_namespace_info__": "()",
}
SPEC.update({n: U for n in UNARY})
SPEC.update({n: B for n in BINARY})
LINALG = {
    "cholesky": "(x, /, *, upper=False)", "cross": "(x1, x2, /, *, axis=-1)", "det": U,
    "diagonal": "(x, /, *, offset=0)", "eigh": U, "eigvalsh": U, "inv": U, "matmul": B,
    "matrix_norm": "(x, /, *, keepdims=False, ord='fro')", "matrix_power": "(x, n, /)",
    "matrix_rank": "(x, /, *, rtol=None)", "matrix_transpose": U, "outer": B,
    "pinv": "(x, /, *, rtol=None)", "qr": "(x, /, *, mode='reduced')", "slogdet": U,
    "solve": B, "svd": "(x, /, *, full_matrices=True)", "svdvals": U,
    "tensordot": "(x1, x2, /, *, axes=2)", "trace": "(x, /, *, offset=0, dtype=None)",
    "vecdot": "(x1, x2, /, *, axis=-1)",
    "vector_norm": "(x, /, *, axis=None, keepdims=False, ord=2)",
}
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64", "complex64", "complex128"]
CONSTANTS = {"e": np.e, "inf": np.inf, "pi": np.pi, "newaxis": None}
ARRAY_ATTRS = ["dtype", "device", "mT", "ndim", "shape", "size", "T"]
ARRAY_METHODS = [
    "__abs__", "__add__", "__and__", "__array_namespace__", "__bool__", "__complex__",
    "__dlpack__", "__dlpack_device__", "__eq__", "__float__", "__floordiv__", "__ge__",
    "__getitem__", "__gt__", "__index__", "__int__", "__invert__", "__le__", "__lshift__",
    "__lt__", "__matmul__", "__mod__", "__mul__", "__ne__", "__neg__", "__or__", "__pos__",
    "__pow__", "__rshift__", "__setitem__", "__sub__", "__truediv__", "__xor__", "to_device",
    "__iadd__", "__radd__", "__iand__", "__rand__", "__ilshift__", "__rlshift__",
    "__irshift__", "__rrshift__", "__ixor__", "__rxor__", "__ior__", "__ror__"]


@pytest.mark.parametrize("name", sorted(SPEC))
def test_function_exists_with_standard_signature(name):
    fn = getattr(xp, name)
    assert callable(fn) and fn.__doc__, name
    assert str(inspect.signature(fn)) == SPEC[name]


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_extension_signature(name):
    fn = getattr(xp.linalg, name)
    assert str(inspect.signature(fn)) == LINALG[name]


def test_dtypes_constants_and_array_object():
    assert xp.__array_api_version__ == "2023.12"
    for name in DTYPES:
        assert getattr(xp, name) == np.dtype(name if name != "bool" else "bool")
    for name, value in CONSTANTS.items():
        assert getattr(xp, name) is value or getattr(xp, name) == value
    assert np.isnan(xp.nan)
    x = xp.asarray([[1.0, 2.0]])
    for a in ARRAY_ATTRS:
        getattr(x, a)
    for m in ARRAY_METHODS:
        assert callable(getattr(x, m)), m
    assert x.mT.shape == (2, 1) and x.size == 2 and x.device == xp.__array_namespace_info__().default_device()
    for name in DTYPES:  # every dtype can be made and round-trips
        assert xp.zeros(2, dtype=getattr(xp, name)).dtype == getattr(xp, name)


def test_inspection_namespace():
    info = xp.__array_namespace_info__()
    assert info.capabilities() == {"boolean indexing": True, "data-dependent shapes": True}
    assert info.default_dtypes() == {"real floating": xp.float64, "complex floating": xp.complex128,
                                     "integral": xp.int64, "indexing": xp.int64}
    assert info.devices()[0] == "cpu" and info.default_device() == "cpu"
    assert set(info.dtypes()) == set(DTYPES)
    assert set(info.dtypes(kind="unsigned integer")) == {"uint8", "uint16", "uint32", "uint64"}
    assert set(info.dtypes(kind=("bool", "real floating"))) == {"bool", "float32", "float64"}
    assert xp.isdtype(xp.int8, "integral") and not xp.isdtype(xp.int8, "real floating")
    assert xp.isdtype(xp.float32, xp.float32) and xp.isdtype(xp.complex64, "numeric")
    with pytest.raises(ValueError):
        xp.isdtype(xp.int8, "whatever")


# the standard's promotion table for arrays of one kind (mixed kinds are unspecified)
PROMOTION = [("int8", "uint8", "int16"), ("int16", "uint8", "int16"), ("int32", "uint16", "int32"),
             ("int64", "uint32", "int64"), ("uint8", "uint16", "uint16"), ("uint32", "uint64", "uint64"),
             ("int8", "int64", "int64"), ("float32", "float64", "float64"),
             ("float32", "complex64", "complex64"), ("float64", "complex64", "complex128"),
             ("bool", "bool", "bool"), ("int8", "uint16", "int32"), ("int16", "uint32", "int64")]


@pytest.mark.parametrize("a,b,want", PROMOTION)
def test_type_promotion_table(a, b, want):
    x, y = xp.ones(2, dtype=getattr(xp, a)), xp.ones(2, dtype=getattr(xp, b))
    assert xp.result_type(x, y) == getattr(xp, want)
    ops = ["equal"] if a == "bool" else ["add", "multiply"]
    for op in ops:
        r = getattr(xp, op)(x, y)
        assert r.dtype == (xp.bool if op == "equal" else getattr(xp, want))
    assert (x + y).dtype == getattr(xp, want) or a == "bool"


@pytest.mark.parametrize("dtype,scalar", [("float32", 2.0), ("float32", 2), ("int8", 3),
                                          ("uint8", 1), ("float64", 1.5), ("bool", True),
                                          ("complex64", 1.0)])
def test_python_scalars_take_the_array_dtype(dtype, scalar):
    x = xp.ones(2, dtype=getattr(xp, dtype))
    op = (lambda a, b: a & b) if dtype == "bool" else (lambda a, b: a * b)
    assert op(x, scalar).dtype == x.dtype
    assert op(scalar, x).dtype == x.dtype


def test_statistical_dtypes_follow_the_standard():
    assert xp.sum(xp.ones(2, dtype=xp.int8)).dtype == xp.int64
    assert xp.sum(xp.ones(2, dtype=xp.uint16)).dtype == xp.uint64
    assert xp.sum(xp.ones(2, dtype=xp.float32)).dtype == xp.float32
    assert xp.prod(xp.ones(2, dtype=xp.int32)).dtype == xp.int64
    assert xp.sum(xp.ones(2, dtype=xp.float32), dtype=xp.float64).dtype == xp.float64
    assert xp.cumulative_sum(xp.ones(2, dtype=xp.int8)).dtype == xp.int64
    for f in (xp.ceil, xp.floor, xp.trunc, xp.round):
        assert f(xp.asarray([1, 2], dtype=xp.int16)).dtype == xp.int16
    assert xp.linalg.trace(xp.ones((2, 2), dtype=xp.int8)).dtype == xp.int64


def test_values_against_numpy():
    a = np.array([[3.0, -1.0, 2.0], [0.5, 4.0, -2.0]])
    x = xp.asarray(a)
    cases = [
        (xp.concat([x, x], axis=1), np.concatenate([a, a], 1)),
        (xp.permute_dims(x, (1, 0)), a.T), (xp.reshape(x, (3, 2)), a.reshape(3, 2)),
        (xp.stack([x, x]), np.stack([a, a])), (xp.expand_dims(x, axis=1), a[:, None]),
        (xp.squeeze(x[:, :1], axis=1), a[:, 0]), (xp.flip(x, axis=1), a[:, ::-1]),
        (xp.roll(x, 1, axis=1), np.roll(a, 1, 1)), (xp.tile(x, (1, 2)), np.tile(a, (1, 2))),
        (xp.repeat(x, 2, axis=0), np.repeat(a, 2, 0)), (xp.moveaxis(x, 0, 1), a.T),
        (xp.broadcast_to(x[0], (2, 3)), np.broadcast_to(a[0], (2, 3))),
        (xp.take(x, xp.asarray([2, 0]), axis=1), a[:, [2, 0]]),
        (xp.sort(x, axis=1, descending=True), -np.sort(-a, 1)),
        (xp.argsort(x, axis=0), np.argsort(a, 0, kind="stable")),
        (xp.std(x, axis=0, correction=1), a.std(0, ddof=1)), (xp.var(x), a.var()),
        (xp.mean(x, axis=1, keepdims=True), a.mean(1, keepdims=True)),
        (xp.max(x, axis=0), a.max(0)), (xp.min(x), a.min()), (xp.prod(x, axis=1), a.prod(1)),
        (xp.cumulative_sum(x, axis=1), a.cumsum(1)),
        (xp.cumulative_sum(x, axis=0, include_initial=True), np.vstack([np.zeros(3), a.cumsum(0)])),
        (xp.clip(x, min=0.0, max=2.5), np.clip(a, 0, 2.5)), (xp.clip(x, min=x[0]), np.maximum(a, a[0])),
        (xp.where(x > 0, x, xp.zeros_like(x)), np.where(a > 0, a, 0)),
        (xp.matmul(x, xp.matrix_transpose(x)), a @ a.T), (xp.vecdot(x, x), (a * a).sum(-1)),
        (xp.tensordot(x, x, axes=([1], [1])), a @ a.T), (xp.tril(x), np.tril(a)),
        (xp.linalg.vector_norm(x, ord=1), np.abs(a).sum()),
        (xp.linalg.vector_norm(x, axis=1, ord=3), np.linalg.norm(a, 3, axis=1)),
        (xp.linalg.matrix_norm(x, ord="nuc"), np.linalg.norm(a, "nuc")),
        (xp.linalg.matrix_norm(x, ord=-1), np.linalg.norm(a, -1)),
        (xp.linalg.cross(x, x[::-1]), np.cross(a, a[::-1])), (xp.linalg.outer(x[0], x[1]), np.outer(a[0], a[1])),
        (xp.linalg.svdvals(x), np.linalg.svd(a, compute_uv=False)),
        (xp.linalg.pinv(x), np.linalg.pinv(a)), (xp.linalg.diagonal(x, offset=1), np.diagonal(a, 1)),
        (xp.searchsorted(xp.asarray([1.0, 2.0]), x), np.searchsorted([1.0, 2.0], a)),
        (xp.asarray(xp.meshgrid(x[0], x[1][:2])[0]), np.meshgrid(a[0], a[1][:2])[0]),
    ]
    for got, want in cases:
        assert isinstance(got, gg.Tensor)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-7, atol=1e-12)
    assert len(xp.unstack(x, axis=1)) == 3
    assert [t.shape for t in xp.broadcast_arrays(x, x[0])] == [(2, 3), (2, 3)]
    assert [t.tolist() for t in xp.nonzero(x > 2)] == [[0, 1], [0, 1]]
    assert xp.argmax(x, axis=1, keepdims=True).tolist() == [[0], [1]]
    assert xp.all(x > -5).item() and not xp.any(x > 5).item()


def test_sets_and_stable_descending_sort():
    x = xp.asarray([[3, 1], [3, np.nan if False else 2]])
    r = xp.unique_all(x)
    assert r.values.tolist() == [1, 2, 3] and r.counts.tolist() == [1, 1, 2]
    assert r.inverse_indices.shape == x.shape and r.indices.tolist() == [1, 3, 0]
    assert xp.unique_inverse(x).inverse_indices.tolist() == [[2, 0], [2, 1]]
    assert xp.unique_counts(x).counts.tolist() == [1, 1, 2]
    f = xp.asarray([np.nan, 1.0, np.nan])
    assert xp.unique_values(f).shape == (3,)  # NaNs are distinct
    assert xp.argsort(xp.asarray([1, 2, 1, 2]), descending=True).tolist() == [1, 3, 0, 2]


def test_creation_and_errors():
    assert xp.asarray([1, 2]).dtype == xp.int64 and xp.asarray(1.5).dtype == xp.float64
    assert xp.asarray(True).dtype == xp.bool and xp.asarray(1j).dtype == xp.complex128
    assert xp.full((2,), 1.0).dtype == xp.float64 and xp.full((1,), 1).dtype == xp.int64
    assert xp.eye(2, 3, k=1).tolist() == [[0, 1, 0], [0, 0, 1]]
    assert xp.linspace(0, 1, 3, endpoint=False).tolist() == [0, 1 / 3, 2 / 3]
    assert xp.arange(3, dtype=xp.float32).dtype == xp.float32
    with pytest.raises(ValueError, match="copy=False"):
        xp.asarray([1.0], copy=False)
    with pytest.raises(ValueError, match="axis is required"):
        xp.take(xp.ones((2, 2)), xp.asarray([0]))
    assert xp.can_cast(xp.int8, xp.float32) and not xp.can_cast(xp.float64, xp.int64)
    assert xp.finfo(xp.float32).bits == 32 and xp.iinfo(xp.uint8).max == 255
    assert xp.finfo(xp.ones(1, dtype=xp.float32)).eps == np.finfo(np.float32).eps
    assert xp.astype(xp.ones(2), xp.int32).dtype == xp.int32
    y = xp.ones(2)
    assert xp.astype(y, xp.float64, copy=False) is y


def test_gradients_through_the_namespace():
    a = np.array([[1.5, -0.3, 0.7], [0.2, 1.1, -0.9]])
    funcs = [lambda t: xp.sum(xp.exp(t) * xp.sin(t)), lambda t: xp.linalg.vector_norm(t),
             lambda t: xp.mean(xp.sort(t, axis=1, descending=True)[:, :2]),
             lambda t: xp.linalg.matrix_norm(t, ord="nuc"), lambda t: xp.std(t, correction=1),
             lambda t: xp.sum(xp.cumulative_sum(t, axis=1) ** 2),
             lambda t: xp.sum(xp.logaddexp(t, xp.flip(t, axis=1))),
             lambda t: xp.linalg.det(xp.matmul(t, xp.matrix_transpose(t))),
             lambda t: xp.sum(xp.clip(t, min=-0.5, max=1.0) * xp.hypot(t, 1.0))]
    for f in funcs:
        gg.gradcheck(f, [a])


def test_array_api_consumer_accepts_tensors():
    """scikit-learn (through its vendored array_api_compat) runs on gpugrad tensors."""
    pytest.importorskip("sklearn")
    code = (
        "import numpy as np, sklearn, gpugrad as gg\n"
        "from sklearn.externals.array_api_compat import array_namespace\n"
        "import gpugrad.array_api as xp\n"
        "a = np.random.default_rng(0).standard_normal((30, 4))\n"
        "t = gg.tensor(a)\n"
        "assert array_namespace(t) is xp\n"
        "sklearn.set_config(array_api_dispatch=True)\n"
        "from sklearn.preprocessing import MinMaxScaler\n"
        "from sklearn.decomposition import PCA\n"
        "r = MinMaxScaler().fit_transform(t)\n"
        "assert isinstance(r, gg.Tensor)\n"
        "np.testing.assert_allclose(r.numpy(), (a - a.min(0)) / (a.max(0) - a.min(0)))\n"
        "p = PCA(n_components=2, svd_solver='full').fit_transform(t)\n"
        "assert isinstance(p, gg.Tensor) and p.shape == (30, 2)\n")
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
