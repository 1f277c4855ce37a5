"""gg.compile: a recorded training step replays bit for bit like the eager one on the CPU,
re-records on a new signature, refuses what it cannot replay; the CUDA graph plan's shape."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import capture_hooks, nn, optim
from gpugrad.capture import CaptureError
from gpugrad.capture.cuda_graph import GraphReplay, segments

SIZES = [16, 32, 24, 5]


def _setup(act, opt, loss, seed=0):
    gg.manual_seed(seed)
    model = nn.MLP(SIZES, activation=act)
    ps = list(model.parameters())
    o = {"sgd": lambda: optim.SGD(ps, lr=0.05, momentum=0.9),
         "adam": lambda: optim.Adam(ps, lr=1e-2),
         "adamw": lambda: optim.AdamW(ps, lr=1e-2, weight_decay=0.1)}[opt]()

    def step(x, y):
        out = model(x)
        if loss == "ce":
            l = nn.functional.cross_entropy(out, y)
        else:
            l = nn.functional.mse_loss(out, y)
        l.backward()
        o.step()
        o.zero_grad()
        return l
    return model, o, step


def _batches(loss, n=4, rows=8, seed=1):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal((rows, SIZES[0])).astype(np.float32) for _ in range(n)]
    if loss == "ce":
        ys = [rng.integers(0, SIZES[-1], rows) for _ in range(n)]
    else:
        ys = [rng.standard_normal((rows, SIZES[-1])).astype(np.float32) for _ in range(n)]
    return xs, ys


@pytest.mark.parametrize("act,opt,loss", [("relu", "sgd", "ce"), ("gelu", "adam", "ce"),
                                          ("relu", "adamw", "mse"), ("gelu", "sgd", "mse")])
def test_bit_for_bit_with_eager_over_20_steps(act, opt, loss):
    m1, _, eager = _setup(act, opt, loss)
    m2, _, body = _setup(act, opt, loss)
    step = gg.compile(body)
    xs, ys = _batches(loss)
    for i in range(20):
        x, y = gg.tensor(xs[i % 4]), gg.tensor(ys[i % 4])
        a, b = eager(x, y), step(x, y)
        assert np.array_equal(a.numpy(), b.numpy()), f"loss differs at step {i}"
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert np.array_equal(p.numpy(), q.numpy())
    assert step.recordings == 1
    assert not b.requires_grad          # a replay returns a result, not a graph


def test_replay_makes_no_graph_nodes(monkeypatch):
    _, _, body = _setup("relu", "sgd", "ce")
    step = gg.compile(body)
    xs, ys = _batches("ce")
    step(gg.tensor(xs[0]), gg.tensor(ys[0]))
    calls = []
    monkeypatch.setattr(gg.autograd.Function, "apply",
                        classmethod(lambda cls, *a, **k: calls.append(cls)))
    step(gg.tensor(xs[1]), gg.tensor(ys[1]))
    assert calls == []


def test_new_shape_records_again_and_old_one_still_replays():
    m1, _, eager = _setup("relu", "sgd", "ce")
    _, _, body = _setup("relu", "sgd", "ce")
    step = gg.compile(body)
    small, big = _batches("ce", rows=8), _batches("ce", rows=12, seed=2)
    for i in range(3):
        for xs, ys in (small, big):
            x, y = gg.tensor(xs[i]), gg.tensor(ys[i])
            assert np.array_equal(eager(x, y).numpy(), step(x, y).numpy())
    assert step.recordings == 2


def test_learning_rate_schedule_is_followed():
    _, o1, eager = _setup("relu", "sgd", "ce")
    _, o2, body = _setup("relu", "sgd", "ce")
    step = gg.compile(body)
    xs, ys = _batches("ce")
    for i in range(6):
        for o in (o1, o2):
            o.param_groups[0]["lr"] = 0.05 / (i + 1)
        x, y = gg.tensor(xs[i % 4]), gg.tensor(ys[i % 4])
        assert np.array_equal(eager(x, y).numpy(), step(x, y).numpy())


def test_module_zero_grad_at_start_of_step():
    gg.manual_seed(0)
    models = [nn.Linear(4, 2) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [optim.SGD(m.parameters(), lr=0.1) for m in models]

    def body(m, o):
        def step(x):
            m.zero_grad()
            l = (m(x) ** 2).mean()
            l.backward()
            o.step()
            return l
        return step
    eager, step = body(models[0], opts[0]), gg.compile(body(models[1], opts[1]))
    x = gg.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    for _ in range(4):
        assert np.array_equal(eager(x).numpy(), step(x).numpy())


@pytest.mark.parametrize("read", [lambda l: l.item(), lambda l: float(l), lambda l: bool(l > 0),
                                  lambda l: l.numpy(), lambda l: l.tolist()])
def test_host_reads_are_refused_while_recording(read):
    model = nn.Linear(3, 1)

    def step(x):
        l = model(x).sum()
        read(l)
        return l
    with pytest.raises(CaptureError, match="host"):
        gg.compile(step)(gg.ones(2, 3))
    assert gg.ones(1).item() == 1.0          # outside a recording, reads work again
    assert capture_hooks.active() is None


@pytest.mark.parametrize("inp", [np.array([1.0, 2.0]), np.array(3.0)], ids=["1-d", "0-d"])
def test_numpy_scalar_made_outside_ops_is_refused(inp):
    # NumPy arithmetic on a raw ndarray input: a replay would return the first call's number
    with pytest.raises(CaptureError, match="NumPy float64 that no recorded gpugrad call"):
        gg.compile(lambda x: (x * 3.0).sum())(inp)


@pytest.mark.parametrize("shape", [(4, 3), (1, 1)])
def test_array_made_outside_ops_is_refused(shape):
    model = nn.Linear(shape[1], 3)

    def step(x):
        h = model(x)
        return (h * gg.tensor(h.data * 2)).sum()     # NumPy on .data: frozen if replayed
    with pytest.raises(CaptureError, match="no recorded gpugrad call made"):
        gg.compile(step)(gg.ones(*shape))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(TypeError, match="callable"):
        gg.compile(3)
    step = gg.compile(lambda x, opts: x.sum())
    with pytest.raises(TypeError, match="hashable"):
        step(gg.ones(2), [1])
    with pytest.raises(CaptureError, match="requires grad"):
        step(gg.ones(2, requires_grad=True), 1)
    with pytest.raises(CaptureError, match="create_graph"):
        w = gg.ones(2, requires_grad=True)
        gg.compile(lambda x: (w * x).sum().backward(create_graph=True))(gg.ones(2))


def test_rebound_parameter_records_again():
    lin = nn.Linear(2, 1)
    step = gg.compile(lambda x: lin(x).sum())
    x = gg.ones(1, 2)
    step(x)
    lin.weight.data = lin.weight.data * 2            # new array: the tape's guard fails
    expected = float((x.numpy() @ lin.weight.numpy() + lin.bias.numpy()).sum())
    assert step(x).item() == pytest.approx(expected)
    assert step.recordings == 2


# ------------------------------------------------------------------ the CUDA graph plan
class _FakeGraph:
    def __init__(self, log):
        self.log = log

    def launch(self, stream=None):
        self.log.append("launch")


class _FakeStream:
    def __init__(self, log, **kw):
        self.log = log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def begin_capture(self):
        self.log.append("begin")

    def end_capture(self):
        self.log.append("end")
        return _FakeGraph(self.log)

    def record(self, event=None):
        return object()

    def wait_event(self, event):
        self.log.append("wait")


def _fake_cupy(log):
    import contextlib
    import types
    cuda = types.SimpleNamespace(
        Stream=lambda **kw: _FakeStream(log, **kw),
        MemoryPool=lambda: types.SimpleNamespace(malloc=None),
        using_allocator=lambda malloc: contextlib.nullcontext(),
        get_current_stream=lambda: _FakeStream(log))
    return types.SimpleNamespace(cuda=cuda)


def test_cuda_graph_plan_captures_array_runs_and_calls_host_entries_live():
    from gpugrad.capture.tape import Tape
    ran = []
    entries = [("array", lambda env: ran.append("a1"), ()),
               ("array", lambda env: ran.append("a2"), ()),
               ("host", lambda env: ran.append("h"), ()),
               ("array", lambda env: env.__setitem__(0, np.ones(2)), ())]
    assert [k for k, _ in segments(entries)] == ["array", "host", "array"]
    log = []
    rep = GraphReplay(Tape(entries, 1, []), [], ("slot", 0), cp=_fake_cupy(log))
    out = rep.run([])                                  # the capture run
    assert log.count("begin") == 2 and log.count("end") == 2 and log.count("launch") == 2
    assert ran == ["a1", "a2", "h"] and np.array_equal(out.numpy(), np.ones(2))
    log.clear(), ran.clear()
    rep.run([])                                        # a replay: launches, host calls
    assert "begin" not in log and log.count("launch") == 2 and ran == ["h"]
    assert log[0] == "wait" and log[-1] == "wait"      # stream-ordered, no host sync


def test_create_graph_refusal_says_what_to_do():
    w = gg.nn.Parameter(gg.ones(3))

    def step(x):
        loss = (w * x).sum()
        loss.backward(create_graph=True)
        return loss
    with pytest.raises(CaptureError, match="create_graph=True.*call the step uncompiled"):
        gg.compile(step)(gg.ones(3))
