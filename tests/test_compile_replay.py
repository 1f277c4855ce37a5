"""gg.compile replays what the uncompiled step does, call after call, or refuses at recording:
gradient clipping, in-place writes, random draws, schedulers, training modes, returned
gradients, threads, rebound globals, autocast."""
import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim
from gpugrad.capture import CaptureError


def _data(n=4, rows=8, cols=4, out=2, seed=0):
    rng = np.random.default_rng(seed)
    return [(gg.tensor(rng.standard_normal((rows, cols)).astype(np.float32) * (i + 1)),
             gg.tensor(rng.standard_normal((rows, out)).astype(np.float32))) for i in range(n)]


def _same(a, b):
    if isinstance(a, (tuple, list)):
        return all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, gg.Tensor):
        return np.array_equal(a.numpy(), b.numpy())
    return a == b


def _twins(make, data, calls=None):
    """make() -> (model, step); the eager and the compiled twin, called on the same data:
    every result and the final weights must be equal, bit for bit."""
    gg.manual_seed(0)
    m1, eager = make()
    gg.manual_seed(0)
    m2, body = make()
    step = gg.compile(body)
    for i, args in enumerate(calls or data):
        gg.manual_seed(100 + i)
        a = eager(*args)
        gg.manual_seed(100 + i)
        b = step(*args)
        assert _same(a, b), f"call {i}: eager {a} compiled {b}"
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(p.numpy(), q.numpy())
    return step


def test_clip_grad_norm_and_value_are_replayed():
    def make():
        m = nn.Linear(4, 2)
        opt = optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            loss = nn.functional.mse_loss(m(x), y)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(m.parameters(), 0.5)
            nn.utils.clip_grad_value_(m.parameters(), 0.01)
            opt.step()
            opt.zero_grad()
            return loss, norm
        return m, step
    step = _twins(make, _data())
    assert step.recordings == 1


def test_inplace_writes_outside_the_graph_are_replayed():
    def make():
        m = nn.Linear(4, 2)
        ema = [p.detach().clone() for p in m.parameters()]

        def step(x, y):
            t = y * 1
            t.add_(1)                              # a non-grad intermediate
            loss = nn.functional.mse_loss(m(x), t)
            loss.backward()
            with gg.no_grad():
                for p, s in zip(m.parameters(), ema):
                    p -= 0.1 * p.grad              # SGD by hand, as in micrograd
                    p.grad = None
                    s.mul_(0.9).add_(p * 0.1)      # an exponential moving average
            return loss, ema[0] * 1
        return m, step
    _twins(make, _data())


def test_writes_into_an_input_reach_the_callers_tensor():
    @gg.compile
    def f(x):
        x.mul_(2)
        x[:, 0] = 0
        return x.sum()
    for v in (1.0, 2.0, 3.0):
        x = gg.full((2, 3), v)
        assert f(x).item() == 8 * v
        assert x.tolist() == [[0.0, 2 * v, 2 * v]] * 2


def test_random_tensors_and_dropout_draw_anew_from_the_same_stream():
    def make():
        m = nn.Linear(4, 2)

        def step(x, y):
            noise = gg.randn(*x.shape) * 0.1 + gg.rand(1)
            h = nn.functional.dropout(m(x + noise), p=0.5)
            return h.sum(), nn.functional.dropout(gg.ones(1), 0.5)   # a 1-element mask too
        return m, step
    gg.manual_seed(1)
    step = _twins(make, _data())
    outs = {step(*_data(1)[0])[0].item() for _ in range(4)}   # no reseeding: fresh draws
    assert len(outs) == 4


def test_scheduler_step_inside_is_replayed():
    gg.manual_seed(0)
    m = nn.Linear(4, 2)
    opt = optim.SGD(m.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    @gg.compile
    def step(x, y):
        nn.functional.mse_loss(m(x), y).backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    for x, y in _data():
        step(x, y)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 4)


def test_train_eval_toggle_records_again():
    gg.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))
    f = gg.compile(lambda x: m(x).sum())
    x = gg.ones(8, 4)
    for mode in ("eval", "train", "eval", "train"):
        getattr(m, mode)()
        gg.manual_seed(7)
        a = f(x).item()
        gg.manual_seed(7)
        assert a == m(x).sum().item(), mode
    assert f.recordings == 2                   # one tape per mode, kept


def test_returned_grad_is_this_calls():
    def make():
        m = nn.Linear(4, 2)
        opt = optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            nn.functional.mse_loss(m(x), y).backward()
            g = m.weight.grad
            opt.step()
            opt.zero_grad()
            return g
        return m, step
    _twins(make, _data())


def test_two_threads_share_one_compiled_function():
    gg.manual_seed(0)
    m = nn.MLP([16, 32, 4])
    f = gg.compile(lambda x, y: nn.functional.mse_loss(m(x), y))
    ins = _data(2, rows=32, cols=16, out=4)
    refs = [f(*a).item() for a in ins]
    bad = []

    def worker(k):
        for _ in range(150):
            v = f(*ins[k]).item()
            if v != refs[k]:
                bad.append(v)
    ts = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert bad == [] and f.recordings == 1


T = gg.ones(4, 2)
SCALE = 1.0


def test_rebound_global_tensor_or_number_records_again():
    global T, SCALE

    @gg.compile
    def f(x):
        return ((x - T) ** 2).sum() * SCALE
    x = gg.zeros(4, 2)
    assert f(x).item() == 8.0
    T = gg.full((4, 2), 3.0)
    assert f(x).item() == 72.0
    T[...] = 2.0                               # in place: read as it is at each call
    assert f(x).item() == 32.0
    SCALE = 0.5
    assert f(x).item() == 16.0
    assert f.recordings == 3
    T, SCALE = gg.ones(4, 2), 1.0


def test_autocast_bfloat16_inside_a_compiled_step():
    pytest.importorskip("ml_dtypes")

    def make():
        m = nn.Linear(4, 2)
        opt = optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            with gg.autocast(dtype="bfloat16"):
                loss = nn.functional.mse_loss(m(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss
        return m, step
    _twins(make, _data())
