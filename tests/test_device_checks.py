"""Deferred checks of GPU values (gpugrad.device_checks): the folding and raising logic, run
with NumPy arrays standing in for the device's; and the immediate CPU path of the losses."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import device_checks as dc


@pytest.fixture(autouse=True)
def _clean():
    dc.reset()
    yield
    dc.reset()


def _err(v):
    return IndexError(f"bad value {v}")


def test_immediate_on_numpy_names_the_first_bad_value():
    with pytest.raises(IndexError, match="bad value 7"):
        dc.check(np.array([False, True, True]), np.array([1, 7, 9]), ("k",), _err)
    dc.check(np.array([False, False]), np.array([1, 2]), ("k",), _err)     # nothing bad: silent
    dc.check(np.zeros(0, bool), np.zeros(0, int), ("k",), _err)


def test_deferred_checks_fold_per_key_keep_the_first_hit_and_raise_once():
    dc._defer(np.array([False, False]), np.array([1, 2]), ("k",), _err, np, 0)
    dc._defer(np.array([False, True]), np.array([3, 4]), ("k",), _err, np, 0)     # first hit
    dc._defer(np.array([True, False]), np.array([5, 6]), ("k",), _err, np, 0)
    assert dc.pending() == 1                       # folded: memory stays bounded
    with pytest.raises(IndexError, match="bad value 4"):
        dc.raise_pending()
    assert dc.pending() == 0
    dc.raise_pending()                             # forgotten once raised


def test_deferred_checks_that_pass_raise_nothing_and_are_cleared():
    for _ in range(100):
        dc._defer(np.array([False]), np.array([1]), ("k",), _err, np, 0)
    assert dc.pending() == 1
    dc.raise_pending()
    assert dc.pending() == 0


def test_sync_points_raise_pending_errors():
    dc._defer(np.array([True]), np.array([-3]), ("k",), _err, np, 0)
    with pytest.raises(IndexError, match="bad value -3"):
        gg.tensor(2.0).item()


def test_sync_checks_switch_makes_every_check_immediate():
    old = dc.set_sync_checks(True)
    try:
        assert dc._sync is True
    finally:
        dc.set_sync_checks(old)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_out_of_range_targets_raise_on_the_cpu_at_once(loss):
    f = getattr(gg, loss)
    x = gg.tensor(np.zeros((3, 4), np.float32), requires_grad=True)
    for bad in (4, -1, 100):
        with pytest.raises(IndexError, match=rf"\[0, 4\).*got {bad}"):
            f(x, gg.tensor([0, bad, 1]))
    assert np.isfinite(f(x, gg.tensor([0, -100, 3])).item())      # ignore_index is fine


def test_status_buffers_report_a_kernel_failure_once_and_reset():
    dc.reset()
    buf = dc.status_buffer(("ce",), _err, np, 0)
    assert buf.dtype == np.uint64 and buf.tolist() == [0, 0] and dc.pending() == 1
    dc.raise_pending()                                 # nothing failed
    assert dc.pending() == 0
    buf = dc.status_buffer(("ce",), _err, np, 0)       # the same buffer, armed again
    buf[0], buf[1] = 1, np.int64(-7).astype(np.uint64)  # what the kernel writes
    with pytest.raises(IndexError, match="bad value -7"):
        dc.raise_pending()
    assert buf.tolist() == [0, 0] and dc.pending() == 0


@pytest.mark.cuda
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_bad_target_on_a_gpu_poisons_the_loss_and_the_gradient(loss, reduction):
    """Between the bad batch and the error, nothing trains on it: its rows' loss and gradient
    are NaN, so an optimizer step cannot quietly move the weights toward class 0."""
    f = getattr(gg, loss)
    x = gg.tensor(np.zeros((3, 4), np.float32), device="cuda", requires_grad=True)
    out = f(x, gg.tensor([0, 9, 1], device="cuda"), reduction=reduction)
    out.sum().backward()
    with pytest.raises(IndexError, match="got 9"):
        out.numpy()
    grad = x.grad.numpy()
    assert np.isnan(grad[1]).all() if loss == "cross_entropy" else np.isnan(grad[1]).any()
    assert np.isnan(out.numpy()).any()


@pytest.mark.cuda
def test_sync_checks_raise_at_once_on_a_gpu():
    old = dc.set_sync_checks(True)
    try:
        x = gg.tensor(np.zeros((2, 3), np.float32), device="cuda")
        with pytest.raises(IndexError, match="got 5"):
            gg.cross_entropy(x, gg.tensor([0, 5], device="cuda"))
    finally:
        dc.set_sync_checks(old)
    assert dc.pending() == 0


def test_pending_checks_belong_to_their_thread():
    """Another thread's sync neither raises nor clears this thread's pending error."""
    import threading
    dc._defer(np.array([True]), np.array([42]), ("k",), _err, np, 0)
    seen = []

    def other():
        gg.tensor(1.0).item()                       # nothing pending here: no error
        seen.append(dc.pending())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [0] and dc.pending() == 1
    with pytest.raises(IndexError, match="bad value 42"):
        dc.raise_pending()
