"""float16 reductions, normalizers and losses accumulate in float32 and return float16.

Each case compares the float16 result (forward and gradient) against float64 NumPy on the
same float16 inputs, within float16 output rounding (an ulp or two, subnormals included).
"""
from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg

F16 = np.float16
N = 70_000  # more than float16's largest finite value, 65504
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # inherent


def close16(got, want):
    """``got`` (a float16 tensor or array) equals float64 ``want`` rounded to float16."""
    got = got.numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    assert got.dtype == F16, got.dtype
    want16 = np.asarray(want, dtype=np.float64).astype(F16).astype(np.float64)
    np.testing.assert_allclose(got.astype(np.float64), want16, rtol=2e-3, atol=2.0 ** -23)


def leaf(a):
    return gg.tensor(np.asarray(a, dtype=F16), requires_grad=True)


def f64(t):
    return t.numpy().astype(np.float64)


def softmax64(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ================================================================ the reported cases
def test_mean_of_many_float16_ones():
    x = leaf(np.ones(N))
    y = gg.mean(x)
    y.backward()
    assert y.dtype == F16 and y.item() == 1.0
    close16(x.grad, np.full(N, 1.0 / N))
    assert x.grad.numpy().min() > 0


def test_cross_entropy_over_many_float16_rows(rng):
    logits = leaf(rng.standard_normal((N, 4)))
    t = rng.integers(0, 4, N)
    loss = gg.cross_entropy(logits, gg.tensor(t))
    loss.backward()
    a = f64(logits)
    logp = np.log(softmax64(a))
    close16(loss, -logp[np.arange(N), t].mean())
    onehot = np.eye(4)[t]
    close16(logits.grad, (softmax64(a) - onehot) / N)


def test_var_of_many_float16_normals(rng):
    x = leaf(rng.standard_normal(N))
    y = gg.var(x)
    y.backward()
    a = f64(x)
    close16(y, a.var())
    close16(x.grad, 2 * (a - a.mean()) / N)


@pytest.mark.parametrize("fn", ["var", "std"])
def test_var_std_of_large_close_float16_values(fn):
    x = leaf([40000, 40000, 40032])
    y = getattr(gg, fn)(x)
    y.backward()
    a = f64(x)
    close16(y, getattr(np, fn)(a))
    assert abs(gg.var(x).item() - 227.56) < 0.2
    d = (a - a.mean()) / 3
    close16(x.grad, 2 * d if fn == "var" else d / a.std())


def test_norm_of_float16_values_whose_squares_overflow():
    x = leaf([300, 301, 302])
    y = gg.norm(x)
    y.backward()
    a = f64(x)
    close16(y, np.linalg.norm(a))
    close16(x.grad, a / np.linalg.norm(a))


# ================================================================ every reduction
def test_sum_accumulates_in_float32():
    x = leaf(np.full(N, 0.5))
    y = gg.sum(x)
    close16(y, N * 0.5)
    y.backward()
    close16(x.grad, np.ones(N))
    close16(gg.sum(leaf(np.ones((N, 2))), axis=0), [N, N])  # overflows to inf, as it must
    x = leaf(np.full((2, N), 0.25))
    close16(gg.sum(x, axis=1, keepdims=True), [[N / 4], [N / 4]])


def test_mean_along_an_axis(rng):
    x = leaf(rng.standard_normal((N, 2)) + 100)
    y = gg.mean(x, axis=0, keepdims=True)
    (y * gg.tensor(np.array([[1.0, 3.0]], F16))).sum().backward()
    close16(y, f64(x).mean(axis=0, keepdims=True))
    close16(x.grad, np.broadcast_to([1.0 / N, 3.0 / N], (N, 2)))


def test_std_of_many_float16_values(rng):
    x = leaf(rng.standard_normal(N) * 3 + 50)
    y = gg.std(x, ddof=1)
    y.backward()
    a = f64(x)
    close16(y, a.std(ddof=1))
    close16(x.grad, (a - a.mean()) / ((N - 1) * a.std(ddof=1)))


@pytest.mark.parametrize("ord", [None, 1, np.inf])
def test_vector_norms(rng, ord):
    a = rng.uniform(-2, 2, N).astype(F16)
    x = leaf(a)
    y = gg.norm(x, ord)
    y.backward()
    a = a.astype(np.float64)
    close16(y, np.linalg.norm(a, ord))
    if ord is None:
        close16(x.grad, a / np.linalg.norm(a))
    elif ord == 1:
        close16(x.grad, np.sign(a))
    else:
        hit = np.abs(a) == np.abs(a).max()
        close16(x.grad, np.sign(a) * hit / hit.sum())


def test_norm_along_an_axis():
    x = leaf([[300, 400], [3, 4]])
    y = gg.norm(x, axis=1)
    y.sum().backward()
    close16(y, [500, 5])
    close16(x.grad, [[0.6, 0.8], [0.6, 0.8]])


def test_logsumexp(rng):
    x = leaf(rng.standard_normal(N))
    y = gg.logsumexp(x)
    y.backward()
    a = f64(x)
    close16(y, np.log(np.exp(a).sum()))
    close16(x.grad, softmax64(a))
    z = leaf(np.zeros((2, N)))
    close16(gg.logsumexp(z, axis=1), [np.log(N)] * 2)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_over_a_long_axis(rng, name):
    a16 = rng.standard_normal((2, N)).astype(F16)
    up = rng.standard_normal((2, N)).astype(F16)
    x = leaf(a16)
    y = getattr(gg, name)(x, axis=1)
    y.backward(gg.tensor(up))
    a, g = a16.astype(np.float64), up.astype(np.float64)
    s = softmax64(a, axis=1)
    if name == "softmax":
        close16(y, s)
        close16(x.grad, s * (g - (g * s).sum(axis=1, keepdims=True)))
    else:
        close16(y, np.log(s))
        close16(x.grad, g - s * g.sum(axis=1, keepdims=True))


def test_prod_with_overflowing_partial_products():
    x = leaf([300, 300, 0.01])
    y = gg.prod(x)
    y.backward()
    a = f64(x)
    close16(y, a.prod())
    close16(x.grad, [a[1] * a[2], a[0] * a[2], a[0] * a[1]])  # the last is inf in float16


def test_cumsum_and_cumprod():
    x = leaf(np.ones(5000))
    y = gg.cumsum(x)
    y.backward(gg.tensor(np.ones(5000, F16)))
    close16(y, np.arange(1, 5001))
    close16(x.grad, np.arange(5000, 0, -1))
    x = leaf([300, 300, 0.01, 2])
    y = gg.cumprod(x)
    y.backward(gg.tensor(np.array([1, 0, 1, 1], F16)))
    a = f64(x)
    close16(y, np.cumprod(a))
    # d/dx_k of cp_0 + cp_2 + cp_3
    want = [a[1] * a[2] * (1 + a[3]) + 1, a[0] * a[2] * (1 + a[3]), a[0] * a[1] * (1 + a[3]),
            a[0] * a[1] * a[2]]
    close16(x.grad, want)


# ================================================================ losses
def test_nll_loss(rng):
    lp = leaf(-rng.uniform(0, 3, (N, 3)))
    t = rng.integers(0, 3, N)
    loss = gg.nll_loss(lp, gg.tensor(t))
    loss.backward()
    a = f64(lp)
    close16(loss, -a[np.arange(N), t].mean())
    close16(lp.grad, -np.eye(3)[t] / N)


def test_mse_loss_with_squares_that_overflow_float16(rng):
    a16 = np.zeros(N, F16)
    a16[:4] = [300, -300, 260, 1]
    x, t = leaf(a16), gg.tensor(np.zeros(N, F16))
    loss = gg.mse_loss(x, t)
    loss.backward()
    a = a16.astype(np.float64)
    close16(loss, (a * a).mean())
    close16(x.grad, 2 * a / N)
    assert gg.mse_loss(x, t, reduction="sum").dtype == F16


def test_bce_with_logits(rng):
    a16 = rng.standard_normal(N).astype(F16)
    t16 = (rng.random(N) < 0.5).astype(F16)
    x = leaf(a16)
    loss = gg.binary_cross_entropy_with_logits(x, gg.tensor(t16))
    loss.backward()
    a, t = a16.astype(np.float64), t16.astype(np.float64)
    close16(loss, (np.logaddexp(0, a) - t * a).mean())
    close16(x.grad, (1 / (1 + np.exp(-a)) - t) / N)


def test_loss_modules_in_float16(rng):
    logits = leaf(rng.standard_normal((N, 3)))
    t = rng.integers(0, 3, N)
    loss = gg.nn.CrossEntropyLoss(label_smoothing=0.1)(logits, gg.tensor(t))
    a = f64(logits)
    logp = np.log(softmax64(a))
    ref = (-(0.9 * logp[np.arange(N), t]) - 0.1 / 3 * logp.sum(axis=1)).mean()
    close16(loss, ref)
    loss.backward()
    close16(logits.grad, (softmax64(a) - 0.9 * np.eye(3)[t] - 0.1 / 3) / N)


def test_results_keep_float16():
    x = leaf(np.ones((3, 4)))
    for y in (gg.sum(x), gg.mean(x, axis=1), gg.var(x, axis=0), gg.std(x), gg.norm(x),
              gg.logsumexp(x, axis=1), gg.softmax(x), gg.log_softmax(x), gg.prod(x),
              gg.cumsum(x, axis=1), gg.cumprod(x, axis=0)):
        assert y.dtype == F16


def test_on_every_device(device, rng):
    """The reported cases on each available device (CuPy takes the same paths)."""
    x = gg.tensor(np.ones(N, F16), device=device, requires_grad=True)
    gg.mean(x).backward()
    close16(x.grad.numpy(), np.full(N, 1.0 / N))
    a16 = rng.standard_normal((N, 3)).astype(F16)
    t = rng.integers(0, 3, N)
    logits = gg.tensor(a16, device=device, requires_grad=True)
    loss = gg.cross_entropy(logits, gg.tensor(t, device=device))
    loss.backward()
    a = a16.astype(np.float64)
    close16(loss.numpy(), -np.log(softmax64(a))[np.arange(N), t].mean())
    close16(logits.grad.numpy(), (softmax64(a) - np.eye(3)[t]) / N)
    v = gg.tensor(np.array([40000, 40000, 40032], F16), device=device)
    close16(gg.var(v).numpy(), np.var([40000.0, 40000.0, 40032.0]))
    close16(gg.norm(gg.tensor(np.array([300, 301, 302], F16), device=device)).numpy(),
            np.linalg.norm([300.0, 301.0, 302.0]))
