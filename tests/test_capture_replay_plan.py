"""The CPU replay plan of gg.compile (gpugrad.capture.cpu_plan): fused linear layers called
straight on preallocated buffers, bit for bit what the uncompiled step computes -- losses,
weights, gradients, optimizer state -- with no buffer handed out that a later replay
overwrites, and no new activation-sized arrays per replay."""
import re
import tracemalloc

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim

N_CALLS = 6


def _batches(n, rows, cols, classes, seed=0):
    rng = np.random.default_rng(seed)
    return [(gg.tensor(rng.standard_normal((rows, cols)).astype(np.float32) * (1 + i / 4)),
             gg.tensor(rng.integers(0, classes, rows))) for i in range(n)]


def _mlp_twin(sizes, activation, make_opt):
    gg.manual_seed(0)
    model = nn.MLP(sizes, activation=activation)
    opt = make_opt(model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def _arrays(model, opt):
    """Every weight, .grad and optimizer-state array, copied."""
    out = []
    for p in model.parameters():
        out += [p.numpy().copy(), None if p.grad is None else p.grad.numpy().copy()]
        for k in sorted(opt.state.get(p, {})):
            v = opt.state[p][k]
            out.append(v.numpy().copy() if isinstance(v, gg.Tensor) else v)
    return out


def _equal(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        if isinstance(u, np.ndarray):
            assert u.dtype == v.dtype and np.array_equal(u, v)
        else:
            assert u == v


def _planned_layers(step):
    """How many fused-layer steps the recorded tape's plan runs itself."""
    (entry,) = step._tapes.values()
    names = []
    for fn, _ in entry.tape.steps:
        inner = dict(zip(fn.__code__.co_freevars,
                         [c.cell_contents for c in fn.__closure__ or ()])).get("steps")
        names += [f.__qualname__ for f, _ in inner] if inner else [fn.__qualname__]
    return sum("_Layer" in n for n in names)


OPTIMIZERS = {
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.05),
}


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_mlp_replays_equal_the_uncompiled_step_bit_for_bit(opt_name, activation):
    sizes = [12, 32, 24, 5]
    m1, o1, eager = _mlp_twin(sizes, activation, OPTIMIZERS[opt_name])
    m2, o2, body = _mlp_twin(sizes, activation, OPTIMIZERS[opt_name])
    step = gg.compile(body)
    for x, y in _batches(N_CALLS, 16, sizes[0], sizes[-1]):
        a, b = eager(x, y), step(x, y)
        assert a.numpy().tobytes() == b.numpy().tobytes()
        _equal(_arrays(m1, o1), _arrays(m2, o2))
    assert step.recordings == 1 and _planned_layers(step) == 2 * (len(sizes) - 1)


def test_returned_intermediates_and_losses_are_each_calls_own():
    rng = np.random.default_rng(1)
    W1 = gg.nn.Parameter(gg.tensor(rng.standard_normal((6, 16)).astype(np.float32)))
    b1 = gg.nn.Parameter(gg.zeros(16))
    W2 = gg.nn.Parameter(gg.tensor(rng.standard_normal((16, 3)).astype(np.float32)))
    opt = optim.SGD([W1, b1, W2], lr=0.1, momentum=0.5)

    def body(x, y):
        h = gg.linear(x, W1, b1, activation="tanh")
        logits = gg.linear(h, W2)
        loss = nn.functional.cross_entropy(logits, y)
        loss.backward(); opt.step(); opt.zero_grad()
        return loss, h, h[:2], logits.reshape(-1)

    start = [p.numpy().copy() for p in (W1, b1, W2)]
    data = _batches(4, 8, 6, 3, seed=2)
    expected = [tuple(t.numpy().copy() for t in body(x, y)) for x, y in data]
    for p, s in zip((W1, b1, W2), start):
        p.data[...] = s
    opt.state.clear()
    step = gg.compile(body)
    kept = [step(x, y) for x, y in data]          # held across later replays
    for got, want in zip(kept, expected):
        for g, w in zip(got, want):
            assert np.array_equal(g.numpy(), w)
    assert len({float(k[0].item()) for k in kept}) == len(kept)      # each call's own loss
    assert not np.shares_memory(kept[1][1].numpy(), kept[2][1].numpy())


def test_gradients_held_by_the_user_keep_their_values():
    rng = np.random.default_rng(3)

    def make():
        z = gg.tensor(rng.standard_normal((8, 5)).astype(np.float32), requires_grad=True)
        layer = nn.Linear(5, 7)
        opt = optim.SGD(layer.parameters(), lr=0.1)

        def body(x):
            z.grad = None
            opt.zero_grad()
            loss = (gg.linear(z * x, layer.weight, layer.bias, activation="relu") ** 2).mean()
            loss.backward(); opt.step()
            return loss
        return z, layer, body

    gg.manual_seed(0)
    z1, l1, eager = make()
    rng = np.random.default_rng(3)
    gg.manual_seed(0)
    z2, l2, step = make()
    step = gg.compile(step)
    xs = [gg.full((8, 5), 1.0 + i) for i in range(4)]
    held1, held2 = [], []
    for x in xs:
        eager(x); step(x)
        held1.append((z1.grad, l1.weight.grad, l1.bias.grad))
        held2.append((z2.grad, l2.weight.grad, l2.bias.grad))
    for a, b in zip(held1, held2):                 # checked after every call was made
        for u, v in zip(a, b):
            assert np.array_equal(u.numpy(), v.numpy())
    assert not np.array_equal(held2[0][0].numpy(), held2[-1][0].numpy())


def test_a_layer_output_read_twice_sums_its_gradients_as_eagerly():
    def make():
        gg.manual_seed(0)
        a, b, c = nn.Linear(4, 8), nn.Linear(8, 3), nn.Linear(8, 3)
        ps = list(a.parameters()) + list(b.parameters()) + list(c.parameters())
        opt = optim.SGD(ps, lr=0.1, momentum=0.9)

        def body(x, y):
            h = gg.relu(a(x))
            loss = nn.functional.cross_entropy(b(h) + c(h), y)
            loss.backward(); opt.step(); opt.zero_grad()
            return loss
        return ps, body

    p1, eager = make()
    p2, body = make()
    step = gg.compile(body)
    for x, y in _batches(4, 10, 4, 3, seed=4):
        assert np.array_equal(eager(x, y).numpy(), step(x, y).numpy())
    for u, v in zip(p1, p2):
        assert np.array_equal(u.numpy(), v.numpy())


def test_a_large_epilogue_split_by_threads_matches():
    # 2048 x 256 outputs: the epilogues split their rows by the thread count
    sizes = [8, 256, 3]
    m1, o1, eager = _mlp_twin(sizes, "silu", OPTIMIZERS["sgd_momentum"])
    m2, o2, body = _mlp_twin(sizes, "silu", OPTIMIZERS["sgd_momentum"])
    step = gg.compile(body)
    for x, y in _batches(3, 2048, sizes[0], sizes[-1], seed=5):
        assert np.array_equal(eager(x, y).numpy(), step(x, y).numpy())
    _equal(_arrays(m1, o1), _arrays(m2, o2))


def test_a_replay_allocates_no_activation_sized_arrays():
    sizes, rows = [64, 256, 256, 10], 64
    _, _, body = _mlp_twin(sizes, "relu", OPTIMIZERS["sgd_momentum"])
    step = gg.compile(body)
    data = _batches(3, rows, sizes[0], sizes[-1], seed=6)
    for x, y in data:                               # record, then warm up
        step(x, y)
    activation = rows * 256 * 4
    tracemalloc.start()
    try:
        peaks = []
        for x, y in data:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            step(x, y)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
    assert max(peaks) < activation // 4, (peaks, activation)


def _ce_twins(reduction, ignore_index=-100):
    rng = np.random.default_rng(7)
    W0 = (np.abs(rng.standard_normal((5, 4))) + 0.1).astype(np.float32)

    def make():
        W = gg.nn.Parameter(gg.tensor(W0.copy()))
        opt = optim.SGD([W], lr=0.1)

        def body(x, y):
            loss = nn.functional.cross_entropy(gg.linear(x, W), y, reduction=reduction,
                                               ignore_index=ignore_index)
            loss.backward(); opt.step(); opt.zero_grad()
            return loss
        return W, body
    return make() + make()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_ignored_rows_and_infinite_logits_match(reduction):
    W1, eager, W2, body = _ce_twins(reduction)
    step = gg.compile(body)
    rng = np.random.default_rng(8)
    xs = [rng.standard_normal((6, 5)).astype(np.float32) for _ in range(4)]
    xs[-1][0] = [np.inf, 0, 0, 0, 0]                 # a row of +inf logits: the op's limits
    ys = [rng.integers(0, 4, 6) for _ in xs]
    ys[1][[0, 3]] = -100                             # ignored rows
    ys[2][:] = -100                                  # all rows ignored
    for x, y in zip(xs, ys):
        a, b = eager(gg.tensor(x), gg.tensor(y)), step(gg.tensor(x), gg.tensor(y))
        assert np.array_equal(a.numpy(), b.numpy(), equal_nan=True)
        assert np.array_equal(W1.numpy(), W2.numpy(), equal_nan=True)
    assert step.recordings == 1


def test_a_bad_target_at_replay_raises_as_the_uncompiled_call_and_writes_nothing():
    _, eager, W, body = _ce_twins("mean")
    step = gg.compile(body)
    x = gg.ones(6, 5)
    step(x, gg.tensor(np.zeros(6, np.int64)))
    before = W.numpy().copy()
    for bad in (-1, 4):
        y = gg.tensor(np.array([0, 1, bad, 2, 3, 0]))
        with pytest.raises(IndexError, match=r"target values must be in \[0, 4\)") as info:
            eager(x, y)
        with pytest.raises(IndexError, match=re.escape(str(info.value))):
            step(x, y)
        assert np.array_equal(W.numpy(), before)


def test_cross_entropy_with_a_class_as_ignore_index_matches():
    W1, eager, W2, body = _ce_twins("mean", ignore_index=2)
    step = gg.compile(body)
    rng = np.random.default_rng(9)
    for i in range(4):
        x, y = rng.standard_normal((6, 5)).astype(np.float32), rng.integers(0, 4, 6)
        y[i] = 2                                     # at least one row of the ignored class
        a, b = eager(gg.tensor(x), gg.tensor(y)), step(gg.tensor(x), gg.tensor(y))
        assert np.array_equal(a.numpy(), b.numpy())
    assert np.array_equal(W1.numpy(), W2.numpy())


def test_a_weight_shared_by_two_layers_gets_both_gradients():
    def make():
        gg.manual_seed(0)
        W, b = nn.Parameter(gg.randn(4, 4) * 0.5), nn.Parameter(gg.zeros(4))
        opt = optim.SGD([W, b], lr=0.1, momentum=0.9)

        def body(x, y):
            h = gg.linear(x, W, b, activation="relu")
            loss = nn.functional.cross_entropy(gg.linear(h, W), y)
            loss.backward(); opt.step(); opt.zero_grad()
            return loss
        return W, body

    W1, eager = make()
    W2, body = make()
    step = gg.compile(body)
    for x, y in _batches(4, 8, 4, 4, seed=10):
        assert np.array_equal(eager(x, y).numpy(), step(x, y).numpy())
        assert np.array_equal(W1.numpy(), W2.numpy())
    assert _planned_layers(step) == 4
