"""A compiled step checks argument values as the uncompiled call does: an op that checks them
outside its node's forward (cross_entropy/nll_loss targets, one_hot indices) records the
check, and ops whose forward checks (indexing) keep raising there.  A bad value raises the
same error (type and message) at a replay, leaves the weights and the optimizer's state as
they were, and later valid calls still match the uncompiled step bit for bit."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim

N, C, D = 6, 4, 3
GOOD = np.array([0, 1, 2, 3, 0, 1])


def _ce(**kw):
    return lambda z, y: nn.functional.cross_entropy(z, y, **kw)


def _nll(z, y):
    return nn.functional.nll_loss(gg.log_softmax(z, axis=1), y)


def _one_hot(z, y):
    return ((z - gg.one_hot(y, C, dtype=z.dtype)) ** 2).sum()


def _take_along(z, y):
    return gg.take_along_axis(z, y.reshape(-1, 1), 1).sum()


def _getitem(z, y):
    return z[:, y].sum()


# name: (loss of (logits, targets), logits dtype)
MEMBERS = {
    "ce_smoothing": (_ce(label_smoothing=0.1), np.float32),
    "ce_none": (_ce(reduction="none"), np.float32),
    "ce_mean_planned": (_ce(), np.float32),
    "ce_sum_ignore0": (_ce(reduction="sum", ignore_index=0), np.float64),
    "ce_float16": (_ce(), np.float16),
    "ce_float64_smoothing": (_ce(label_smoothing=0.2), np.float64),
    "nll_loss": (_nll, np.float32),
    "one_hot": (_one_hot, np.float32),
    "take_along_axis": (_take_along, np.float32),
    "getitem": (_getitem, np.float32),
}


def _make(loss_fn, dt):
    W = nn.Parameter(gg.tensor(np.random.default_rng(0).standard_normal((D, C)).astype(dt)))
    opt = optim.SGD([W], lr=0.1, momentum=0.9)

    def body(x, y):
        loss = loss_fn(gg.linear(x, W), y)
        if loss.ndim:
            loss = loss.sum()
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    return W, opt, body


def _error(fn, *args):
    try:
        fn(*args)
    except Exception as e:   # noqa: BLE001 -- the error itself is compared
        return type(e), str(e)
    return None


def _momentum(opt, W):
    return opt.state.get(W, {}).get("momentum_buffer")


@pytest.mark.parametrize("bad", [-1, C, -3, C + 5])
@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_bad_value_raises_as_uncompiled_and_updates_nothing(name, bad):
    loss_fn, dt = MEMBERS[name]
    x = gg.tensor(np.random.default_rng(1).standard_normal((N, D)).astype(dt))
    good = gg.tensor(GOOD)
    W1, opt1, eager = _make(loss_fn, dt)
    W2, opt2, body = _make(loss_fn, dt)
    step = gg.compile(body)
    for _ in range(2):
        assert step(x, good).numpy().tobytes() == eager(x, good).numpy().tobytes()
    y = GOOD.copy()
    y[2] = bad
    want = _error(eager, x, gg.tensor(y))
    if name in ("take_along_axis", "getitem") and bad < 0 and bad >= -C:
        assert want is None          # NumPy wraps a negative index: a valid call there
        return
    assert want is not None and want[0] is IndexError
    W_before, m_before = W2.numpy().copy(), np.array(_momentum(opt2, W2).data)
    assert _error(step, x, gg.tensor(y)) == want
    assert step.recordings == 1
    assert W2.numpy().tobytes() == W_before.tobytes()
    assert np.array(_momentum(opt2, W2).data).tobytes() == m_before.tobytes()
    assert W2.grad is None or not np.any(W2.grad.numpy())
    for _ in range(2):                # later valid calls: still the uncompiled step's bits
        assert step(x, good).numpy().tobytes() == eager(x, good).numpy().tobytes()
        assert W2.numpy().tobytes() == W1.numpy().tobytes()


def test_check_is_recorded_for_each_target_and_reads_the_replay_targets():
    # the target is computed in the step (y + 0): the check reads the replay's slot
    W, opt, body = _make(_ce(label_smoothing=0.1), np.float32)
    step = gg.compile(lambda x, y: body(x, y + 0))
    x = gg.ones(N, D)
    step(x, gg.tensor(GOOD))
    with pytest.raises(IndexError, match=r"cross_entropy: target values must be in \[0, 4\) "
                                         r"\(or ignore_index=-100\), got -1"):
        step(x, gg.tensor(GOOD - 1))


def test_one_hot_compiled_matches_uncompiled_and_infers_classes():
    f = gg.compile(lambda y: gg.one_hot(y) * 2)
    for y in ([0, 2], [1, 1], [3, 0]):
        got, want = f(gg.tensor(y)), gg.one_hot(gg.tensor(y)) * 2
        assert got.shape == want.shape and got.numpy().tobytes() == want.numpy().tobytes()
    with pytest.raises(IndexError, match=r"one_hot: expected indices in \[0, 1\), got values "
                                         r"in \[-1, 0\]"):
        f(gg.tensor([0, -1]))
