"""Entries tied at +inf in the softmax family: the limit of softmax over entries that all grow
to +inf depends on how fast each grows, so it is undefined -- NaN for that whole slice (values
and gradients, first and second order), as PyTorch and JAX give.  One +inf keeps its limit,
an all -inf slice stays uniform, and the other slices of a batch are untouched.  So a float16
autocast step whose logits overflow reaches GradScaler as NaN: the step is skipped.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import gpugrad as gg

inf, nan = math.inf, math.nan

# row 0: two tied at +inf; row 1: finite; row 2: three tied; row 3: one +inf, -inf others;
# row 4: a masked (-inf) class; row 5: tied at +inf beside -inf
BATCH = np.array([[inf, inf, 0.0, 1.0], [0.5, -1.0, 2.0, 0.0], [inf, inf, inf, 3.0],
                  [-inf, inf, -inf, -inf], [1.0, -inf, 0.0, 2.0], [-inf, inf, inf, -inf]])
TIES = [0, 2, 5]
UP = np.linspace(-1.0, 2.0, BATCH.size).reshape(BATCH.shape)


def same(a, b):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=1e-12, atol=1e-12, equal_nan=True)


def _value_and_grad(f, x, up, device="cpu"):
    t = gg.tensor(x, device=device, requires_grad=True)
    y = f(t)
    y.backward(gg.tensor(up, device=device))
    return y.numpy(), t.grad.numpy()


def _per_row(f, x, up):
    """f applied to each row alone (a (1, C) batch): the batch's rows must not mix."""
    ys, gs = zip(*(_value_and_grad(f, x[i:i + 1], up[i:i + 1]) for i in range(len(x))))
    return np.concatenate(ys), np.concatenate(gs)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("transposed", [False, True])
def test_ties_make_their_slice_nan_and_leave_the_others(name, transposed):
    f = getattr(gg, name)
    x, up = (BATCH.T.copy(), UP.T.copy()) if transposed else (BATCH, UP)
    axis = 0 if transposed else 1
    y, g = _value_and_grad(lambda t: f(t, axis=axis), x, up)
    if transposed:
        y, g = y.T, g.T
    assert np.isnan(y[TIES]).all() and np.isnan(g[TIES]).all()
    ok = [i for i in range(len(BATCH)) if i not in TIES]
    assert not np.isnan(y[ok]).any() and not np.isnan(g[ok]).any()
    ry, rg = _per_row(lambda t: f(t, axis=1), BATCH[ok], UP[ok])
    same(y[ok], ry)
    same(g[ok], rg)
    same(y[3], [0.0, 1.0, 0.0, 0.0] if name == "softmax" else [-inf, 0.0, -inf, -inf])


def test_logsumexp_of_ties_is_inf_with_a_nan_gradient():
    y, g = _value_and_grad(lambda t: gg.logsumexp(t, axis=1), BATCH, UP[:, 0])
    same(y[TIES], [inf] * len(TIES))
    same(y[1], np.log(np.exp(BATCH[1]).sum()))
    same(y[3], inf)
    assert np.isnan(g[TIES]).all()
    same(g[3], [0.0, UP[3, 0], 0.0, 0.0])
    same(g[1], UP[1, 0] * np.exp(BATCH[1]) / np.exp(BATCH[1]).sum())


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_complex_logsumexp_keeps_its_limits_and_ties_are_nan():
    for row, value, grad in (([inf + 0j, 1.0], inf, [1.0, 0.0]),
                             ([-inf + 0j, -inf + 0j], -inf, [0.5, 0.5]),
                             ([inf + 0j, inf + 0j], inf, [nan, nan])):
        x = gg.tensor(np.array(row, np.complex128), requires_grad=True)
        y = gg.logsumexp(x)
        gg.real(y).backward()
        assert y.numpy() == value
        same(x.grad.numpy().real, grad)
        assert np.isnan(x.grad.numpy().imag).all() == np.isnan(grad).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_of_tied_rows_matches_torch(reduction, eps):
    """Tied rows NaN (loss and gradient), the others PyTorch's; an ignored tied row adds
    nothing to the loss (its gradient is NaN, as PyTorch's)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)) * 3
    x[1, [0, 2]] = inf                        # a tie at the target's row
    x[3, :] = [inf, inf, inf, -inf]           # a tie on an ignored row
    x[4, 1] = -inf                            # a masked class
    t = np.array([2, 0, 3, -100, 0])
    xt = gg.tensor(x, requires_grad=True)
    loss = gg.cross_entropy(xt, gg.tensor(t), reduction=reduction, label_smoothing=eps)
    tx = torch.tensor(x, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction,
                                           label_smoothing=eps)
    up = np.linspace(0.5, 1.5, 5) if reduction == "none" else np.array(1.0)
    loss.backward(gg.tensor(up))
    tl.backward(torch.tensor(up))
    same(loss.numpy(), tl.detach().numpy())
    same(xt.grad.numpy(), tx.grad.numpy())
    if reduction == "none":
        assert np.isnan(loss.numpy()[1]) and loss.numpy()[3] == 0.0
    assert np.isnan(xt.grad.numpy()[[1, 3]]).all()
    assert np.isfinite(xt.grad.numpy()[[0, 2, 4]]).all()


def test_cross_entropy_single_inf_keeps_its_limit():
    x = gg.tensor([[inf, 0.0, -inf], [inf, 0.0, -inf]], requires_grad=True)
    loss = gg.cross_entropy(x, gg.tensor([0, 1]), reduction="none")
    same(loss.numpy(), [0.0, inf])
    loss[0].backward()
    same(x.grad.numpy(), [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def _second(f, x, v):
    """d/dx of <df/dx, v>, through create_graph."""
    t = gg.tensor(x, requires_grad=True)
    (g,) = gg.autograd.grad(f(t), [t], create_graph=True)
    (h,) = gg.autograd.grad((g * gg.tensor(v)).sum(), [t])
    return g.numpy(), h.numpy()


SECOND = {
    "softmax": lambda t: (gg.softmax(t, axis=1) * gg.tensor(UP)).sum(),
    "log_softmax": lambda t: (gg.log_softmax(t, axis=1) * gg.tensor(UP)).sum(),
    "logsumexp": lambda t: (gg.logsumexp(t, axis=1) * gg.tensor(UP[:, 0])).sum(),
    "cross_entropy": lambda t: gg.cross_entropy(t, gg.tensor([1, 2, 0, 1, 3, 1]),
                                                reduction="sum", label_smoothing=0.1),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivatives_are_nan_on_tied_rows_only(name):
    v = np.cos(np.arange(BATCH.size)).reshape(BATCH.shape)
    g, h = _second(SECOND[name], BATCH, v)
    assert np.isnan(g[TIES]).all() and np.isnan(h[TIES]).all()
    ok = [i for i in range(len(BATCH)) if i not in TIES]
    assert np.isfinite(g[ok]).all() and np.isfinite(h[ok]).all()
    # each untied row as it is alone (the batch's rows do not mix)
    for i in ok:
        f = SECOND[name]
        rows = np.repeat(BATCH[i:i + 1], len(BATCH), axis=0)   # every row the same untied one
        gi, hi = _second(f, rows, np.repeat(v[i:i + 1], len(BATCH), axis=0))
        same(g[i], gi[i])
        same(h[i], hi[i])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_step_gives_the_eager_nan_on_tied_rows(dtype):
    """The CPU replay of gg.compile runs the same formula: a tie is NaN there too."""
    ws = []

    def make():
        w = np.zeros((3, 4), dtype)              # (in, out), as gg.linear takes it
        w[0] = [1.0, 1.0, -1.0, 0.5]             # x = [inf, 0, 0] ties classes 0, 1 and 3
        w[1:] = np.arange(8).reshape(2, 4) / 8
        W = gg.nn.Parameter(gg.tensor(w))
        ws.append(W)

        def body(x, y):
            loss = gg.nn.functional.cross_entropy(gg.linear(x, W), y, reduction="sum")
            loss.backward()
            return loss
        return body
    eager, step = make(), gg.compile(make())
    x = np.arange(15, dtype=dtype).reshape(5, 3) / 4
    y = np.array([0, 1, 3, 2, 0])
    for tied in (None, 2, None):
        xs = x.copy()
        if tied is not None:
            xs[tied] = [inf, 0.0, 0.0]
        for W in ws:
            W.grad = None
        a, b = eager(gg.tensor(xs), gg.tensor(y)), step(gg.tensor(xs), gg.tensor(y))
        assert np.isnan(a.item()) == (tied is not None)
        assert a.numpy().tobytes() == b.numpy().tobytes()
        assert np.isnan(ws[0].grad.numpy()).any() == (tied is not None)
        np.testing.assert_array_equal(ws[0].grad.numpy(), ws[1].grad.numpy())
    assert step.recordings == 1


def test_ties_on_every_device(device):
    """The array path on each device (CuPy, or the fake CUDA arrays, always takes it)."""
    x = np.array([[inf, 1.0, inf], [1.0, 2.0, 0.0], [inf, -inf, 0.0]])
    for f, shape in ((lambda t: gg.softmax(t, axis=1), (3, 3)),
                     (lambda t: gg.logsumexp(t, axis=1), (3,)),
                     (lambda t: gg.cross_entropy(t, gg.tensor([0, 1, 0], device=t.device),
                                                 reduction="none", label_smoothing=0.1), (3,))):
        y, g = _value_and_grad(f, x, np.ones(shape), device)
        cy, cg = _value_and_grad(f, x, np.ones(shape))
        same(y, cy)
        same(g, cg)
        assert np.isnan(g[0]).all() and np.isfinite(g[1:]).all()
        assert np.isnan(y[0]).all() or y[0] == inf        # logsumexp's value: +inf


def _overflowing_step(lin, opt, scaler, x, y, autocast, cross_entropy):
    opt.zero_grad()
    with autocast():
        loss = cross_entropy(lin(x), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return scaler.get_scale()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_float16_overflow_to_tied_infinities_makes_grad_scaler_skip():
    """Logits overflowing float16 to [inf, inf] give a NaN loss and gradients, so the scaler
    skips the step and halves the scale -- as torch.amp.GradScaler does on the same steps."""
    steps = [np.full((1, 2), 300.0), np.array([[0.01, -0.02]]), np.full((1, 2), 300.0)]
    y = np.array([0])
    lin = gg.nn.Linear(2, 2)
    lin.weight.data[...] = 300.0
    lin.bias.data[...] = 0.0
    opt = gg.optim.SGD(lin.parameters(), lr=0.1)
    scaler = gg.amp.GradScaler(init_scale=1024.0)
    scales, weights = [], []
    for xs in steps:
        scales.append(_overflowing_step(
            lin, opt, scaler, gg.tensor(xs, dtype="float32"), gg.tensor(y),
            lambda: gg.autocast(dtype="float16"), gg.cross_entropy))
        weights.append(lin.weight.numpy().copy())
    assert scales == [512.0, 512.0, 256.0]
    same(weights[0], np.full((2, 2), 300.0))            # skipped: unchanged, not NaN
    assert not np.array_equal(weights[1], weights[0])   # the clean step was taken
    same(weights[2], weights[1])
    try:
        import torch
    except ImportError:
        return
    tlin = torch.nn.Linear(2, 2)
    with torch.no_grad():
        tlin.weight.fill_(300.0)
        tlin.bias.zero_()
    topt = torch.optim.SGD(tlin.parameters(), lr=0.1)
    tscaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    tscales, tweights = [], []
    for xs in steps:
        tscales.append(_overflowing_step(
            tlin, topt, tscaler, torch.tensor(xs, dtype=torch.float32), torch.tensor(y),
            lambda: torch.autocast("cpu", dtype=torch.float16),
            torch.nn.functional.cross_entropy))
        tweights.append(tlin.weight.detach().numpy().copy())
    assert tscales == scales
    for w, tw in zip(weights, tweights):
        np.testing.assert_allclose(w, tw, rtol=1e-3)

