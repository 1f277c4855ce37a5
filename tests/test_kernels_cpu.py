"""gpugrad.kernels on NumPy arrays (the Numba + BLAS path) against kernels.reference."""
import sys

import numpy as np
import pytest

from gpugrad import kernels
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
    rng = np.random.default_rng(hash((act, shape, bias)) % 2**32)
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


def test_linear_large_rows_split_over_threads():
    rng = np.random.default_rng(2)
    x, W, b = layer(rng, (1031, 33, 65), np.float32)       # > one chunk per thread
    y, z = kernels.linear_act_forward(x, W, b, "silu")
    dy = randn(rng, y.shape, np.float32)
    grads = kernels.linear_act_backward(dy, x, W, y, z, "silu")
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


def test_linear_float16_falls_back_to_reference():
    rng = np.random.default_rng(5)
    x, W, b = layer(rng, (7, 5, 3), np.float16)
    y, z = kernels.linear_act_forward(x, W, b, "gelu")
    assert y.dtype == np.float16
    assert_close(y, reference.linear_act_forward(x, W, b, "gelu")[0])
    dx, dW, db = kernels.linear_act_backward(np.ones_like(y), x, W, y, z, "gelu")
    assert dx.dtype == dW.dtype == db.dtype == np.float16


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
