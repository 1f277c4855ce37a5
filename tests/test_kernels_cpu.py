"""gpugrad.kernels on NumPy arrays (the Numba + BLAS path) against kernels.reference."""
import math
import sys
import zlib

import numba
import numpy as np
import pytest

from gpugrad import kernels
from gpugrad.kernels import cpu as kernels_cpu
from gpugrad.kernels import reference

ACTS = kernels.ACTIVATIONS
DTYPES = [np.float32, np.float64]
SHAPES = [(1, 1, 1), (7, 129, 7), (129, 7, 129)]     # (N, in, out): odd, no tile multiples
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12, np.dtype(np.float16): 2e-3}


def assert_close(actual, expected):
    """Relative to the magnitude of ``expected`` (so near-zero entries don't dominate)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    tol = TOL[expected.dtype]
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


def randn(rng, shape, dtype, scale=1.0):
    a = rng.standard_normal(shape) * scale
    a[a == 0] = 0.5                                    # random, never zeros
    return a.astype(dtype)


def stable_seed(*key):
    """A seed that is the same in every run (``hash()`` of a string changes with PYTHONHASHSEED)."""
    return zlib.crc32(repr(key).encode())


def spy_kernel_launches(monkeypatch):
    """Record every Numba kernel launch of kernels/cpu.py as (kind, parallel, nchunks): kind is
    "forward"/"backward" (epilogues), "sgd" or "adam"; parallel tells the threaded kernel from
    its single-threaded twin; nchunks is the number of row chunks it was asked to split into."""
    calls = []

    def record(kernel, kind, parallel):
        def launch(*args):
            calls.append((kind, parallel, args[-1]))
            return kernel(*args)
        return launch

    def spy(factory_name, kinds):
        real = getattr(kernels_cpu, factory_name)

        def factory(*args):
            made = real(*args)
            many = isinstance(made, tuple)
            wrapped = [record(k, kind, bool(args[-1]))
                       for k, kind in zip(made if many else (made,), kinds)]
            return tuple(wrapped) if many else wrapped[0]
        monkeypatch.setattr(kernels_cpu, factory_name, factory)

    spy("_epilogues", ("forward", "backward"))
    spy("_sgd_kernel", ("sgd",))
    spy("_adam_kernel", ("adam",))
    return calls


def needs_threads():
    if numba.get_num_threads() < 2:
        pytest.skip("Numba runs with one thread here: the threaded kernels cannot be exercised")


def assert_ran_threaded(calls, kind):
    """Some launch of ``kind`` ran the parallel kernel, split over >= 2 chunks, and none of
    ``kind`` took the single-threaded twin."""
    mine = [c for c in calls if c[0] == kind]
    assert mine, f"no {kind} kernel was launched: {calls}"
    assert all(parallel and nchunks >= 2 for _, parallel, nchunks in mine), mine


def layer(rng, shape, dtype):
    n, k, m = shape
    return (randn(rng, (n, k), dtype), randn(rng, (k, m), dtype, k ** -0.5),
            randn(rng, (m,), dtype))


# ------------------------------------------------------------------------------ linear layer

@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_backward_match_reference(act, dtype, shape, bias):
    rng = np.random.default_rng(stable_seed(act, shape, bias))
    x, W, b = layer(rng, shape, dtype)
    b = b if bias else None
    y, z = kernels.linear_act_forward(x, W, b, act)
    y_ref, z_ref = reference.linear_act_forward(x, W, b, act)
    assert_close(y, y_ref)
    assert (z is None) == (z_ref is None) == (not kernels.needs_preactivation(act))
    if z is not None:
        assert_close(z, z_ref)

    dy = randn(rng, y.shape, dtype)
    dy_before = dy.copy()
    grads = kernels.linear_act_backward(dy, x, W, y, z, act)
    grads_ref = reference.linear_act_backward(dy, x, W, y_ref, z_ref, act)
    for g, g_ref in zip(grads, grads_ref):
        assert_close(g, g_ref)
    np.testing.assert_array_equal(dy, dy_before)


@pytest.mark.parametrize("act", ["identity", "relu", "gelu"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_noncontiguous_inputs(act, dtype):
    rng = np.random.default_rng(1)
    x = randn(rng, (129, 14), dtype)[:, ::2]               # strided columns
    W = randn(rng, (9, 7), dtype).T[:, 1:]                 # transposed view: (7, 8), F-order
    b = randn(rng, (16,), dtype)[::2]
    y, z = kernels.linear_act_forward(x, W, b, act)
    y_ref, z_ref = reference.linear_act_forward(x, W, b, act)
    assert_close(y, y_ref)
    dy = randn(rng, (8, 129), dtype).T                     # transposed gradient
    for g, g_ref in zip(kernels.linear_act_backward(dy, x, W, y, z, act),
                        reference.linear_act_backward(dy, x, W, y_ref, z_ref, act)):
        assert_close(g, g_ref)


def test_linear_large_rows_split_over_threads(monkeypatch):
    needs_threads()
    launches = spy_kernel_launches(monkeypatch)
    rng = np.random.default_rng(2)
    x, W, b = layer(rng, (8209, 33, 65), np.float32)       # > one chunk per thread
    y, z = kernels.linear_act_forward(x, W, b, "silu")
    dy = randn(rng, y.shape, np.float32)
    grads = kernels.linear_act_backward(dy, x, W, y, z, "silu")
    assert_ran_threaded(launches, "forward")               # the parallel path really ran
    assert_ran_threaded(launches, "backward")
    y_ref, z_ref = reference.linear_act_forward(x, W, b, "silu")
    assert_close(y, y_ref)
    for g, g_ref in zip(grads, reference.linear_act_backward(dy, x, W, y_ref, z_ref, "silu")):
        assert_close(g, g_ref)


@pytest.mark.parametrize("act", ["identity", "tanh", "gelu_tanh"])
@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False), (False, False, True),
                                   (False, False, False)])
def test_linear_backward_returns_only_needed_grads(act, needs):
    rng = np.random.default_rng(3)
    x, W, b = layer(rng, (7, 5, 3), np.float64)
    y, z = kernels.linear_act_forward(x, W, b, act)
    dy = randn(rng, y.shape, np.float64)
    ref = reference.linear_act_backward(dy, x, W, y, z, act)
    got = kernels.linear_act_backward(dy, x, W, y, z, act, needs_input_grad=needs)
    for need, g, g_ref in zip(needs, got, ref):
        if need:
            assert_close(g, g_ref)
        else:
            assert g is None


def test_linear_leaky_relu_slope_and_empty_batch():
    rng = np.random.default_rng(4)
    x, W, b = layer(rng, (7, 5, 3), np.float32)
    y, _ = kernels.linear_act_forward(x, W, b, "leaky_relu", negative_slope=0.2)
    assert_close(y, reference.linear_act_forward(x, W, b, "leaky_relu", 0.2)[0])
    dy = randn(rng, y.shape, np.float32)
    dx, dW, db = kernels.linear_act_backward(dy, x, W, y, None, "leaky_relu", 0.2)
    for g, g_ref in zip((dx, dW, db),
                        reference.linear_act_backward(dy, x, W, y, None, "leaky_relu", 0.2)):
        assert_close(g, g_ref)
    y0, _ = kernels.linear_act_forward(x[:0], W, b, "relu")
    dx0, dW0, db0 = kernels.linear_act_backward(y0, x[:0], W, y0, None, "relu")
    assert y0.shape == (0, 3) and dx0.shape == (0, 5)
    assert not dW0.any() and not db0.any()


def _np_gelu_layer64(x, W, b, dy):
    """y = gelu(x @ W + b) and its (dx, dW, db), by hand in float64 (independent of the kernels)."""
    x, W, b, dy = (a.astype(np.float64) for a in (x, W, b, dy))
    z = x @ W + b
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    dz = dy * (cdf + z * pdf)
    return z * cdf, (dz @ W.T, x.T @ dz, dz.sum(axis=0))


def test_linear_float16_falls_back_to_reference(monkeypatch):
    launches = spy_kernel_launches(monkeypatch)
    rng = np.random.default_rng(5)
    x, W, b = layer(rng, (7, 5, 3), np.float16)
    y, z = kernels.linear_act_forward(x, W, b, "gelu")
    dy = randn(rng, y.shape, np.float16)
    grads = kernels.linear_act_backward(dy, x, W, y, z, "gelu")
    assert launches == []                                  # float16 never reaches Numba
    y64, grads64 = _np_gelu_layer64(x, W, b, dy)
    assert y.dtype == np.float16
    for got, expected in zip((y,) + grads, (y64,) + grads64):
        assert got.dtype == np.float16 and got.shape == expected.shape
        # float16 rounding of the inputs' products: a few ulps of the output's magnitude
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(got.astype(np.float64), expected, rtol=4e-3, atol=4e-3 * scale)


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_relu_gradient_at_zero_follows_the_op(act):
    """At z == 0 the fused kernels use the op's rule (gg.relu: 0; gg.leaky_relu: the slope,
    both as PyTorch), not the other one-sided derivative."""
    z = np.array([[-1.0, 0.0, 2.0], [0.0, -0.0, 3.0]])
    dy = np.array([[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]])
    slope = 0.0 if act == "relu" else 0.25
    expected = np.where(z > 0, dy, slope * dy)
    y = kernels.act_forward(z, act, negative_slope=0.25)
    np.testing.assert_array_equal(kernels.act_backward(dy, y, z, act, negative_slope=0.25),
                                  expected)
    x, W = z.copy(), np.eye(3)                                          # x @ W == z
    y, zz = kernels.linear_act_forward(x, W, None, act, negative_slope=0.25)
    dx, _, db = kernels.linear_act_backward(dy, x, W, y, zz, act, negative_slope=0.25)
    np.testing.assert_array_equal(dx, expected)
    np.testing.assert_array_equal(db, expected.sum(axis=0))


# ------------------------------------------------------------------------------- activations

@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (129,), (7, 3, 5)])
def test_act_forward_backward_match_reference(act, dtype, shape):
    rng = np.random.default_rng(6)
    z = randn(rng, shape, dtype, 3.0)
    y = kernels.act_forward(z, act)
    assert_close(y, reference.act_forward(z, act))
    dy = randn(rng, shape, dtype)
    assert_close(kernels.act_backward(dy, y, z, act), reference.act_backward(dy, y, z, act))


@pytest.mark.parametrize("act", ["relu", "sigmoid", "gelu"])
def test_act_forward_out_in_place_and_strided(act):
    rng = np.random.default_rng(7)
    z = randn(rng, (9, 10), np.float64, 3.0)
    expected = reference.act_forward(z, act)
    zt = z.T.copy().T                                      # F-ordered copy of z
    out = np.empty((10, 9)).T                              # non-contiguous out
    assert kernels.act_forward(zt, act, out=out) is out
    assert_close(out, expected)
    assert kernels.act_forward(z, act, out=z) is z         # in place
    assert_close(z, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_values_stay_finite_and_nan_propagates(dtype):
    z = np.array([-1e4, -80.0, 80.0, 1e4, np.nan], dtype)
    for act in ("gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "relu", "leaky_relu"):
        y = kernels.act_forward(z, act)
        assert np.isfinite(y[:4]).all(), act
        assert np.isnan(y[4]), act
        np.testing.assert_allclose(y[:4], reference.act_forward(z, act)[:4], rtol=TOL[y.dtype])


def test_reference_erf_without_scipy(monkeypatch):
    z = np.linspace(-4, 4, 17)
    with_scipy = reference.erf(z)
    monkeypatch.setitem(sys.modules, "scipy.special", None)     # import now raises ImportError
    without = reference.erf(z)
    assert without.dtype == z.dtype
    np.testing.assert_allclose(without, with_scipy, rtol=1e-14, atol=1e-15)
