"""A loss reduced by ``"mean"`` over zero counted elements is NaN (0/0), as in PyTorch, never
0: cross_entropy and nll_loss with every target ``ignore_index`` or an empty batch (with label
smoothing too), mse_loss and binary_cross_entropy_with_logits over no elements -- on every
device, uncompiled and in a compiled step's CPU replay.  The gradient there is 0 (PyTorch's),
and ``"sum"`` is 0.  Values and gradients are compared with PyTorch (CPU)."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn.functional as F
from gpugrad import nn
from gpugrad.ops import cross_entropy_xp as ce
from conftest import DEVICES, FAKE_CUDA

torch = pytest.importorskip("torch")
TF = torch.nn.functional

C = 4
ALL_IGNORED = np.array([-100, -100, -100])
EMPTY = np.zeros(0, np.int64)


def _logits(n, dtype="float64"):
    return np.random.default_rng(0).standard_normal((n, C)).astype(dtype)


def _compare(gfn, tfn, x, *rest, device="cpu", rtol=1e-6):
    """gpugrad's loss and gradient (wrt ``x``) against PyTorch's, with no warning raised on
    the CPU (the NumPy-backed CuPy stand-in warns at 0/0 where CuPy does not)."""
    xt = torch.tensor(x, requires_grad=True)
    lt = tfn(xt, *[torch.tensor(r) for r in rest])
    lt.backward()
    xg = gg.tensor(x, requires_grad=True, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("error" if device == "cpu" else "ignore")
        lg = gfn(xg, *[gg.tensor(r, device=device) for r in rest])
        lg.backward()
    got = lg.cpu().numpy()
    assert got.dtype == x.dtype
    np.testing.assert_allclose(got, lt.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(xg.grad.cpu().numpy(), xt.grad.numpy(), rtol=rtol)
    return got


CASES = {   # name: (gpugrad's, PyTorch's, logits rows, targets)
    "ce all ignored": (F.cross_entropy, TF.cross_entropy, 3, ALL_IGNORED),
    "ce empty": (F.cross_entropy, TF.cross_entropy, 0, EMPTY),
    "ce smoothing all ignored": (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
                                 lambda x, t: TF.cross_entropy(x, t, label_smoothing=0.2),
                                 3, ALL_IGNORED),
    "ce smoothing empty": (lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2),
                           lambda x, t: TF.cross_entropy(x, t, label_smoothing=0.2), 0, EMPTY),
    "ce other ignore_index": (lambda x, t: F.cross_entropy(x, t, ignore_index=2),
                              lambda x, t: TF.cross_entropy(x, t, ignore_index=2),
                              2, np.array([2, 2])),
    "nll all ignored": (F.nll_loss, TF.nll_loss, 3, ALL_IGNORED),
    "nll empty": (F.nll_loss, TF.nll_loss, 0, EMPTY),
    "module all ignored": (nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), 3, ALL_IGNORED),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_mean_over_no_counted_rows_is_nan_with_zero_gradient(name, dtype, device):
    gfn, tfn, n, t = CASES[name]
    got = _compare(gfn, tfn, _logits(n, dtype), t, device=device)
    assert np.isnan(got)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["sum", "none"])
@pytest.mark.parametrize("name", ["ce all ignored", "ce empty", "nll all ignored"])
def test_sum_and_none_over_no_counted_rows_are_zeros(name, reduction, device):
    gfn, tfn, n, t = CASES[name]
    got = _compare(lambda x, t: gfn(x, t, reduction=reduction).sum(),
                   lambda x, t: tfn(x, t, reduction=reduction).sum(), _logits(n), t,
                   device=device)
    assert got == 0.0


@pytest.mark.parametrize("device", DEVICES)
def test_a_partly_ignored_batch_keeps_its_mean(device):
    """(the control: the rows that count are averaged, the ignored ones get no gradient; on
    CUDA nll_loss's NaN factor for bad targets leaves the good rows' gradients finite)"""
    t = np.array([1, -100, 3])
    for g, tf in [(F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)]:
        got = _compare(g, tf, _logits(3), t, device=device)
        assert np.isfinite(got)


ELEMENTWISE = {
    "mse": (F.mse_loss, TF.mse_loss),
    "bce_with_logits": (F.binary_cross_entropy_with_logits,
                        TF.binary_cross_entropy_with_logits),
    "bce_with_logits pos_weight": (
        lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=gg.tensor(2.0)),
        lambda x, t: TF.binary_cross_entropy_with_logits(x, t, pos_weight=torch.tensor(2.0))),
    "MSELoss": (nn.MSELoss(), torch.nn.MSELoss()),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss()),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(0,), (0, 3)])
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_losses_over_no_elements_are_nan(name, shape, device):
    if "pos_weight" in name and device != "cpu":
        pytest.skip("(the pos_weight tensor is made on the CPU)")
    gfn, tfn = ELEMENTWISE[name]
    for dtype in ("float32", "float64"):
        got = _compare(gfn, tfn, np.zeros(shape, dtype), np.zeros(shape, dtype), device=device)
        assert np.isnan(got)


def test_gradient_of_the_gradient_over_no_counted_rows_is_zero():
    """create_graph: cross_entropy's backward as a graph weights every row by 0 too."""
    x = gg.tensor(_logits(3), requires_grad=True)
    (gx,) = gg.autograd.grad(F.cross_entropy(x, gg.tensor(ALL_IGNORED)), [x], create_graph=True)
    np.testing.assert_array_equal(gx.numpy(), np.zeros((3, C)))
    (ggx,) = gg.autograd.grad((gx * gx).sum() + gx.sum(), [x])
    np.testing.assert_array_equal(ggx.numpy(), np.zeros((3, C)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_step_over_all_ignored_targets_is_nan_with_zero_gradient(dtype):
    """The CPU replay's planned cross-entropy (capture/cpu_cross_entropy.py) gives the
    uncompiled NaN and zero gradient, and a later batch with counted rows its own mean."""
    lin = nn.Linear(5, C, dtype=dtype)
    x = gg.tensor(np.random.default_rng(1).standard_normal((3, 5)).astype(dtype))

    def step(x, t):
        lin.zero_grad()
        loss = F.cross_entropy(lin(x), t)
        loss.backward()
        return loss

    compiled = gg.compile(step)
    for t in (ALL_IGNORED, np.array([1, -100, 2]), ALL_IGNORED):
        want = step(x, gg.tensor(t)).item()
        want_g = lin.weight.grad.numpy().copy()
        got = compiled(x, gg.tensor(t)).item()
        np.testing.assert_array_equal(lin.weight.grad.numpy(), want_g)
        if (t == -100).all():
            assert np.isnan(got) and np.isnan(want) and not want_g.any()
        else:
            assert got == want and np.isfinite(got)
    assert compiled.recordings == 1


@pytest.mark.cuda
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # (the stand-in's 0/0)
@pytest.mark.skipif(not FAKE_CUDA and not gg.cuda.is_available(), reason="needs CUDA")
def test_the_fused_kernels_reduction_of_no_counted_rows_is_nan_with_zero_weights():
    """The CUDA kernels (kernels/cross_entropy.cu) give each row's loss and ``valid`` as 0/1
    (NaN for a bad target); the mean and the row weights are these array functions."""
    import cupy

    valid = cupy.asarray(np.zeros(3, np.float32))
    count = ce.valid_count(valid, 3, np.dtype(np.float32))
    loss = ce.reduce_loss(cupy.asarray(np.zeros(3, np.float32)), count, "mean")
    assert np.isnan(float(loss))
    w = ce.row_weights(cupy.asarray(np.float32(1.0)), valid, count)
    np.testing.assert_array_equal(cupy.asnumpy(w), np.zeros(3, np.float32))
    bad = cupy.asarray(np.array([0.0, np.nan, 1.0], np.float32))   # a bad target: NaN
    count = ce.valid_count(bad, 3, np.dtype(np.float32))
    assert np.isnan(cupy.asnumpy(ce.row_weights(cupy.asarray(np.float32(1.0)), bad,
                                                count))).all()


def test_the_array_formulas_count_zero_rows_and_give_zero_weights():
    f32 = np.dtype(np.float32)
    none = np.zeros(3, bool)
    assert ce.valid_count(none, 3, f32) == 0 and ce.valid_count(None, 0, f32) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(ce.reduce_loss(np.zeros(3, np.float32), f32.type(0), "mean"))
        assert ce.reduce_loss(np.zeros(3, np.float32), f32.type(0), "sum") == 0
        w = ce.row_weights(np.float32(1.0), none, f32.type(0))
    np.testing.assert_array_equal(w, np.zeros(3, np.float32))
