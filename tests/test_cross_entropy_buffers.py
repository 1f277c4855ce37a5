"""One formula for softmax cross-entropy (gpugrad.ops.cross_entropy_xp): the op and the CPU replay
of a compiled step run the same array functions, and with preallocated buffers those give the
same bits as without -- on ignored rows, all-ignored batches, infinite logits, label smoothing,
float32 and float64 -- while allocating nothing of the logits' size."""
import tracemalloc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim
from gpugrad.ops import cross_entropy_xp as ce
from gpugrad.ops.logits import CrossEntropy

N, C = 12, 7


def _case(kind, dtype, seed=0):
    """Logits (N, C) of ``dtype`` and int64 targets for one kind of batch."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, C)) * 4).astype(dtype)
    t = rng.integers(0, C, N)
    if kind == "ignored":
        t[[0, 5, 6]] = -100
    elif kind == "all_ignored":
        t[:] = -100
    elif kind == "inf":
        x[1, 3] = np.inf                      # one +inf: that class takes all the weight
        x[2, :2] = np.inf                     # two tied at +inf: no limit, NaN
        x[4, :] = -np.inf                     # all -inf: uniform
        x[7, t[7]] = -np.inf                  # the target masked: an infinite loss
    return x, t


def _bits(a):
    a = np.asarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def _op(x, t, reduction, eps, g):
    node = CrossEntropy()
    ans = node.forward(x, t, reduction=reduction, label_smoothing=eps)
    (grad, _) = node.backward(g)
    return ans, grad


KINDS = ["plain", "ignored", "all_ignored", "inf"]


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction,eps", [("mean", 0.0), ("sum", 0.0), ("mean", 0.1),
                                           ("none", 0.0), ("none", 0.25)])
def test_buffered_forward_and_backward_give_the_ops_bits(kind, dtype, reduction, eps):
    x, t = _case(kind, dtype)
    g = np.array(0.75, dtype) if reduction != "none" else \
        np.linspace(-1, 2, N).astype(dtype)
    want_ans, want_grad = _op(x, t, reduction, eps, g)
    out = ce.Buffers(N, C, x.dtype, t.dtype)
    for garbage in (np.nan, 7.0):              # buffers written twice: nothing read stale
        for name in ("m", "s", "probs", "total", "lse", "loss", "w", "grad"):
            getattr(out, name).fill(garbage)
        safe_t, valid, bad = ce.targets(x, t, -100, out)
        assert bad is None and safe_t is out.safe_t and valid is out.valid
        ans, probs, count, _ = ce.forward(x, safe_t, valid, None, reduction, eps, out)
        assert probs is out.probs
        grad = ce.backward(g, probs, safe_t, valid, count, None, reduction, eps, out)
        assert grad is out.grad
        assert _bits(ans) == _bits(want_ans)
        assert _bits(grad) == _bits(want_grad)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("kind", ["plain", "inf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_row_counting_as_the_replay_passes_it_gives_the_ops_bits(kind, dtype):
    x, t = _case(kind, dtype, seed=1)             # no ignored row: valid=None, as the replay
    g = np.array(1.0, dtype)
    for reduction in ("mean", "sum"):
        want_ans, want_grad = _op(x, t, reduction, 0.0, g)
        out = ce.Buffers(N, C, x.dtype, t.dtype, grad=False)
        np.copyto(out.safe_t, t)
        ans, probs, count, _ = ce.forward(x, out.safe_t, None, None, reduction, 0.0, out)
        grad = ce.backward(g, probs, out.safe_t, np.ones(N, bool), count, None, reduction, 0.0,
                           out)
        assert _bits(ans) == _bits(want_ans) and _bits(grad) == _bits(want_grad)


def test_buffered_calls_allocate_nothing_of_the_logits_size():
    n, c = 256, 512
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((n, c)).astype(np.float32), rng.integers(0, c, n)
    t[::3] = -100
    out = ce.Buffers(n, c, x.dtype, t.dtype)
    g = np.array(1.0, np.float32)

    def call():
        safe_t, valid, _ = ce.targets(x, t, -100, out)
        _, probs, count, _ = ce.forward(x, safe_t, valid, None, "mean", 0.0, out)
        ce.backward(g, probs, safe_t, valid, count, None, "mean", 0.0, out)
    call()
    tracemalloc.start()
    try:
        call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes // 8, (peak, x.nbytes)


def test_targets_zero_the_ignored_rows_and_keep_the_target_dtype():
    t = np.array([3, -100, 0, 2], np.int32)
    safe_t, valid, bad = ce.targets(np.zeros((4, 5)), t, -100)
    assert bad is None and safe_t.dtype == np.int32
    assert safe_t.tolist() == [3, 0, 0, 2] and valid.tolist() == [True, False, True, True]


def _twins(dtype, ignore_index=-100):
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((5, C)).astype(dtype)

    def make():
        W = nn.Parameter(gg.tensor(W0.copy()))
        opt = optim.SGD([W], lr=0.1)

        def body(x, y):
            loss = nn.functional.cross_entropy(gg.linear(x, W), y, ignore_index=ignore_index)
            loss.backward(); opt.step(); opt.zero_grad()
            return loss
        return W, body
    return make() + make()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_step_runs_the_ops_formula_and_matches_it_bit_for_bit(dtype, monkeypatch):
    calls = []
    for name in ("forward", "backward"):
        fn = getattr(ce, name)

        def spy(*args, _fn=fn, _name=name, **kwargs):
            out = args[-1] if args else None
            calls.append((_name, isinstance(out, ce.Buffers)))
            return _fn(*args, **kwargs)
        monkeypatch.setattr(ce, name, spy)
    W1, eager, W2, body = _twins(dtype)
    step = gg.compile(body)
    rng = np.random.default_rng(4)
    for kind in ("plain", "ignored", "all_ignored", "plain", "inf"):   # inf last: W turns NaN
        x = rng.standard_normal((N, 5)).astype(dtype)
        if kind == "inf":
            x[3] = [np.inf, 0, 0, 0, 0]           # infinite logits in row 3 (W's first row)
        _, t = _case(kind, dtype, seed=5)
        a, b = eager(gg.tensor(x), gg.tensor(t)), step(gg.tensor(x), gg.tensor(t))
        assert _bits(a.numpy()) == _bits(b.numpy())
        assert _bits(W1.numpy()) == _bits(W2.numpy())   # W - lr * gradient: the same gradient
    assert step.recordings == 1
    replayed = [name for name, buffered in calls if buffered]
    assert replayed.count("forward") >= 4 and replayed.count("backward") >= 4
    assert ("forward", False) in calls and ("backward", False) in calls   # the eager op


@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_a_bad_target_beside_ignored_rows_raises_at_replay_as_the_op_does(ignore_index):
    _, eager, W, body = _twins(np.float32, ignore_index)
    step = gg.compile(body)
    x = gg.ones(N, 5)
    good = np.zeros(N, np.int64)
    good[1] = ignore_index
    step(x, gg.tensor(good))
    before = W.numpy().copy()
    for bad in (-1, C, -7):
        y = good.copy()
        y[[4, 9]] = [bad, C + 3]                    # the first bad one is named
        with pytest.raises(IndexError) as info:
            eager(x, gg.tensor(y))
        assert f"got {bad}" in str(info.value)
        with pytest.raises(IndexError) as again:
            step(x, gg.tensor(y))
        assert str(again.value) == str(info.value)
        assert np.array_equal(W.numpy(), before)
