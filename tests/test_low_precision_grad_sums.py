"""Sums inside backward (and a few forwards) of 16-bit floats accumulate in float32.

NumPy adds bfloat16 (ml_dtypes) in bfloat16 everywhere and float16 in float16 along any axis
but the innermost: a sum of 5000 ones is then 256 (bfloat16) or 2048 (float16).  Every
gradient that sums -- a broadcast operand, tile/repeat, repeated indices, a linear layer's
bias, einsum's size-1 dims -- and trace's forward must instead give the float32 sum rounded
once to the 16-bit dtype.  Each case compares with float64 NumPy on the same inputs.
"""
from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg

pytest.importorskip("ml_dtypes")

N = 5000
DTYPES = ("bfloat16", "float16")


def close(got, want, dt):
    got = got.numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    assert got.dtype == np.dtype(gg.dtypes.as_dtype(dt)), got.dtype
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=1e-2)


def leaf(shape, dt, value=1.0):
    return gg.tensor(np.full(shape, value).astype(gg.dtypes.as_dtype(dt)), requires_grad=True)


def ones(shape, dt):
    return gg.tensor(np.ones(shape).astype(gg.dtypes.as_dtype(dt)))


CASES = {  # name: (the op on leaf b of shape (3,), b's gradient through .sum())
    "add_broadcast": (lambda b, dt: ones((N, 3), dt) + b, N),
    "mul_broadcast": (lambda b, dt: ones((N, 3), dt) * b, N),
    "where_broadcast": (lambda b, dt: gg.where(ones((N, 3), dt) > 0, b, ones((N, 3), dt)), N),
    "broadcast_to": (lambda b, dt: gg.broadcast_to(b, (N, 3)), N),
    "tile_rows": (lambda b, dt: gg.tile(b.reshape(1, 3), (N, 1)), N),
    "repeat": (lambda b, dt: gg.repeat(b, N), N),
    "repeat_axis0": (lambda b, dt: gg.repeat(b.reshape(1, 3), N, axis=0), N),
    "getitem_repeated": (lambda b, dt: b[np.zeros(N, dtype=np.int64)], [N, 0, 0]),
    "take_repeated": (lambda b, dt: gg.take(b, np.zeros(N, dtype=np.int64)), [N, 0, 0]),
    "einsum_size1": (lambda b, dt: gg.einsum("ij,ij->ij", ones((N, 3), dt), b.reshape(1, 3)), N),
    "einsum_summed": (lambda b, dt: gg.einsum("ij,kj->ij", ones((N, 3), dt), b.reshape(1, 3)), N),
}


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_sum_accumulates_in_float32(name, dt):
    f, want = CASES[name]
    b = leaf(3, dt)
    f(b, dt).sum().backward()
    close(b.grad, np.broadcast_to(np.asarray(want, dtype=np.float64), (3,)), dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_linear_bias_gradient_under_autocast(dt):
    x = gg.ones(N, 4)
    W, b = gg.zeros(4, 3, requires_grad=True), gg.zeros(3, requires_grad=True)
    with gg.autocast(dtype=dt):
        gg.linear(x, W, b).sum().backward()
    assert b.grad.dtype == np.float32 and W.grad.dtype == np.float32
    np.testing.assert_allclose(b.grad.numpy(), np.full(3, N), rtol=1e-2)
    np.testing.assert_allclose(W.grad.numpy(), np.full((4, 3), N), rtol=1e-2)


@pytest.mark.parametrize("dt", DTYPES)
def test_linear_bias_gradient_in_16_bits(dt):
    x, W, b = ones((N, 4), dt), leaf((4, 3), dt, 0.0), leaf(3, dt, 0.0)
    gg.linear(x, W, b, activation="relu").sum().backward()  # relu'(0) = 0: check identity too
    gg.linear(x, W, b).sum().backward()
    close(b.grad, np.full(3, N), dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_trace_forward_accumulates_in_float32(dt):
    n = 2000
    x = gg.tensor((np.eye(n) * 1.5).astype(gg.dtypes.as_dtype(dt)))
    close(gg.trace(x), 1.5 * n, dt)
    import gpugrad.numpy as gnp
    close(gnp.trace(x), 1.5 * n, dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_create_graph_gradient_sums_too(dt):
    b = leaf(3, dt)
    (gb,) = gg.autograd.grad((ones((N, 3), dt) * b * b).sum(), [b], create_graph=True)
    close(gb, np.full(3, 2.0 * N), dt)


@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("spec, n_ops, want", [("ij->j", 1, [N] * 3), ("ij,j->", 2, 3 * N),
                                               ("ij,ij->j", 2, [N] * 3)])
def test_einsum_forward_accumulates_in_float32(spec, n_ops, want, dt, ac):
    """einsum is a lower-precision op with float32 accumulation (under autocast too, where
    float32 operands are cast to the autocast dtype first)."""
    src = np.ones((N, 3), np.float32) if ac else np.ones((N, 3)).astype(gg.dtypes.as_dtype(dt))
    ops = [gg.tensor(src), gg.tensor(src[0] if spec == "ij,j->" else src)][:n_ops]
    with gg.autocast(dtype=dt, enabled=ac):
        r = gg.einsum(spec, *ops)
    close(r, np.asarray(want, dtype=np.float64), dt)
