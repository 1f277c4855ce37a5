"""The array API conformance kinds, each checked fast against NumPy 2 or the standard's text:
linear algebra on zero-size batches and empty matrices, reductions honoring ``dtype=``,
``cumulative_sum(include_initial=True)``, ``vecdot`` promotion, ``var``/``std`` without degrees
of freedom, ``expand_dims``'s positional axis, ``finfo``/``iinfo`` field types, per-matrix
``rtol`` arrays.  (The full data-apis ``array-api-tests`` run is described in the README.)
"""
import inspect

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.array_api as xp

LINALG = ["cholesky", "det", "diagonal", "eigh", "eigvalsh", "inv", "matrix_norm",
          "matrix_power", "matrix_rank", "pinv", "qr", "slogdet", "svd", "svdvals", "trace"]
SQUARE_ONLY = {"cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_power", "slogdet"}


def _cumulative_sum(a, axis=None, dtype=None, include_initial=False):
    """NumPy's cumulative_sum (NumPy >= 2.1), built from cumsum where NumPy lacks it."""
    if hasattr(np, "cumulative_sum"):
        return np.cumulative_sum(a, axis=axis, dtype=dtype, include_initial=include_initial)
    axis = 0 if axis is None else axis
    r = np.cumsum(a, axis=axis, dtype=dtype)
    if include_initial:
        shape = list(r.shape)
        shape[axis] = 1
        r = np.concatenate([np.zeros(shape, r.dtype), r], axis=axis)
    return r


def _parts(r):
    return tuple(r) if isinstance(r, tuple) else (r,)


@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 2, 2), (0, 0), (0, 3), (3, 0), (2, 0, 3)])
@pytest.mark.parametrize("name", LINALG)
def test_linalg_on_zero_size_batches_and_matrices(name, shape):
    if name in SQUARE_ONLY and shape[-1] != shape[-2]:
        pytest.skip("square matrices only")
    args = (2,) if name == "matrix_power" else ()
    a = np.zeros(shape)
    try:
        want = _parts(getattr(np.linalg, name)(a, *args))
    except ValueError:  # NumPy 2.0's matrix_rank of an empty matrix; later NumPy gives 0
        assert name == "matrix_rank"
        want = (np.zeros(shape[:-2], np.int64),)
    got = _parts(getattr(xp.linalg, name)(xp.asarray(a), *args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == np.shape(w), (name, shape)
        assert np.array_equal(g.numpy(), w)


def test_zero_size_batch_keeps_the_graph():
    x = gg.zeros((0, 3, 3), dtype="float64", requires_grad=True)
    w, v = xp.linalg.eigh(x)
    (xp.sum(w) + xp.sum(v)).backward()
    assert x.grad.shape == (0, 3, 3)


@pytest.mark.parametrize("rtol", [0.5, [0.1, 0.5, 0.95]])
def test_rtol_per_matrix(rtol):
    a = np.random.default_rng(0).standard_normal((3, 2, 4))
    r = xp.asarray(rtol) if isinstance(rtol, list) else rtol
    n = np.asarray(rtol) if isinstance(rtol, list) else rtol
    assert np.allclose(xp.linalg.pinv(xp.asarray(a), rtol=r).numpy(), np.linalg.pinv(a, rtol=n))
    assert xp.linalg.matrix_rank(xp.asarray(a), rtol=r).tolist() == \
        np.linalg.matrix_rank(a, rtol=n).tolist()


@pytest.mark.parametrize("fn", ["sum", "prod", "cumulative_sum"])
@pytest.mark.parametrize("src,dst", [("int8", "int8"), ("int8", "float32"), ("uint8", "int16"),
                                     ("float32", "float64"), ("int64", "uint8")])
def test_reductions_honor_dtype(fn, src, dst):
    a = np.array([100, 3, 7], dtype=src)
    got = getattr(xp, fn)(xp.asarray(a), dtype=getattr(xp, dst))
    ref = {"sum": np.sum, "prod": np.prod, "cumulative_sum": _cumulative_sum}[fn]
    want = ref(a.astype(dst), dtype=dst)  # in dst arithmetic: an int8 product wraps
    assert got.dtype == np.dtype(dst)
    assert np.array_equal(got.numpy(), want)


def test_trace_dtype_sums_in_dtype():
    a = np.full((2, 2), 1 + 2.0 ** -30, dtype=np.float32)
    got = xp.linalg.trace(xp.asarray(a), dtype=xp.float64)
    assert got.dtype == np.float64 and got.item() == float(a.astype(np.float64).trace())


def test_reduction_dtype_keeps_the_gradient():
    x = gg.tensor([1.0, 2.0, 3.0], dtype="float32", requires_grad=True)
    xp.prod(x, dtype=xp.float64).backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [6.0, 3.0, 2.0]


@pytest.mark.parametrize("shape,axis", [((0,), 0), ((2, 0), 1), ((0, 3), 0), ((2, 3), 1),
                                        ((3,), -1)])
def test_cumulative_sum_include_initial(shape, axis):
    a = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    got = xp.cumulative_sum(xp.asarray(a), axis=axis, include_initial=True)
    want = _cumulative_sum(a, axis=axis, include_initial=True)
    assert got.shape == want.shape and np.array_equal(got.numpy(), want)


def test_cumulative_sum_needs_axis_beyond_1d():
    with pytest.raises(ValueError, match="axis is required"):
        xp.cumulative_sum(xp.zeros((2, 2)))


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "float32", "complex64"])
@pytest.mark.parametrize("fn", [xp.vecdot, xp.linalg.vecdot])
def test_vecdot_keeps_the_promoted_dtype(fn, dtype):
    a = np.arange(6).reshape(2, 3)
    a = (a * (1 + 1j) if dtype.startswith("complex") else a).astype(dtype)
    got = fn(xp.asarray(a), xp.asarray(a))
    want = np.vecdot(a, a)  # NumPy 2's vecdot keeps the dtype and conjugates x1
    assert got.dtype == np.dtype(dtype) and np.allclose(got.numpy(), want)


@pytest.mark.parametrize("fn", ["var", "std"])
@pytest.mark.parametrize("shape,axis,correction", [((1,), None, 1), ((2,), None, 3),
                                                   ((2, 3), 1, 3), ((0,), None, 0),
                                                   ((2, 2), 0, 2.5)])
def test_var_std_without_degrees_of_freedom_are_nan(fn, shape, axis, correction):
    x = gg.tensor(np.ones(shape), requires_grad=True)
    r = getattr(xp, fn)(x, axis=axis, correction=correction)
    assert r.shape == np.sum(np.ones(shape), axis=axis).shape
    assert np.isnan(r.numpy()).all() and r.dtype == np.float64 and r.requires_grad


def test_var_with_degrees_of_freedom_matches_numpy():
    a = np.random.default_rng(1).standard_normal((3, 4))
    assert np.allclose(xp.var(xp.asarray(a), axis=1, correction=1).numpy(), a.var(axis=1, ddof=1))
    assert np.allclose(xp.std(xp.asarray(a), correction=0.5).numpy(), a.std(ddof=0.5))


def test_expand_dims_axis_positional_or_keyword():
    params = inspect.signature(xp.expand_dims).parameters
    assert params["axis"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert xp.expand_dims(xp.zeros(3), 0).shape == (1, 3)
    assert xp.expand_dims(xp.zeros(3), axis=-1).shape == (3, 1)


@pytest.mark.parametrize("dtype,real", [("float32", "float32"), ("float64", "float64"),
                                        ("complex64", "float32"), ("complex128", "float64")])
def test_finfo_fields_are_python_numbers(dtype, real):
    f = xp.finfo(getattr(xp, dtype))
    n = np.finfo(dtype)
    assert type(f.bits) is int and f.bits == n.bits and f.dtype == np.dtype(real)
    for k in ("eps", "max", "min", "smallest_normal"):
        assert type(getattr(f, k)) is float and getattr(f, k) == float(getattr(n, k))
    assert xp.finfo(xp.zeros(1, dtype=getattr(xp, dtype))) == f
    with pytest.raises(ValueError, match="floating-point dtype, got int8"):
        xp.finfo(xp.int8)


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int32", "uint64"])
def test_iinfo_fields_are_python_ints(dtype):
    i = xp.iinfo(getattr(xp, dtype))
    n = np.iinfo(dtype)
    assert (i.bits, i.max, i.min, i.dtype) == (n.bits, n.max, n.min, np.dtype(dtype))
    assert all(type(v) is int for v in (i.bits, i.max, i.min))
    with pytest.raises(ValueError, match="integer dtype, got float32"):
        xp.iinfo(xp.float32)
