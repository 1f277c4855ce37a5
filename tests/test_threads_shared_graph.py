"""Several threads running backward over ONE graph at once.  With ``retain_graph`` each gets
the single-thread gradient; without it the first pass to reach a node takes it, and every
other pass raises the "backward through the graph a second time" RuntimeError (PyTorch's rule)
-- never another exception from a node freed under it, never a wrong gradient."""
import threading

import numpy as np
import pytest

import gpugrad as gg

N_THREADS = 6
ROUNDS = 15


def _graph(seed=0):
    rng = np.random.default_rng(seed)
    ws = [gg.tensor(rng.standard_normal((16, 16)) / 4, requires_grad=True) for _ in range(3)]
    x = gg.tensor(rng.standard_normal((32, 16)))
    y = gg.tensor(rng.integers(0, 16, 32))

    def loss():
        h = x
        for w in ws:
            h = gg.tanh(h @ w) * 1.5 + h
        return gg.cross_entropy(h, y)

    return ws, loss


def _race(target, args_per_thread):
    outcomes = [None] * len(args_per_thread)
    barrier = threading.Barrier(len(args_per_thread))

    def work(i):
        barrier.wait()
        try:
            outcomes[i] = ("ok", target(*args_per_thread[i]))
        except Exception as e:  # noqa: BLE001 -- the test sorts what came
            outcomes[i] = ("raised", e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(args_per_thread))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _check(outcomes, reference):
    for kind, value in outcomes:
        if kind == "ok":
            for g, r in zip(value, reference):
                np.testing.assert_array_equal(g.numpy(), r)
        else:
            assert isinstance(value, RuntimeError), repr(value)
            assert "second time" in str(value), repr(value)


def test_concurrent_passes_over_one_unretained_graph_raise_clearly():
    ws, loss = _graph()
    reference = [g.numpy().copy() for g in gg.autograd.grad(loss(), ws)]
    for _ in range(ROUNDS):
        out = loss()
        outcomes = _race(lambda: gg.autograd.grad(out, ws), [()] * N_THREADS)
        _check(outcomes, reference)
        assert sum(kind == "ok" for kind, _ in outcomes) >= 1


def test_retained_and_unretained_passes_over_one_graph():
    ws, loss = _graph(1)
    reference = [g.numpy().copy() for g in gg.autograd.grad(loss(), ws)]
    for _ in range(ROUNDS):
        out = loss()
        retain = [(True,)] * (N_THREADS - 1) + [(False,)]
        outcomes = _race(lambda r: gg.autograd.grad(out, ws, retain_graph=r), retain)
        _check(outcomes, reference)


def test_concurrent_retained_passes_all_agree():
    ws, loss = _graph(2)
    out = loss()
    reference = [g.numpy().copy() for g in gg.autograd.grad(out, ws, retain_graph=True)]
    for _ in range(3):
        outcomes = _race(lambda: gg.autograd.grad(out, ws, retain_graph=True),
                         [()] * N_THREADS)
        assert all(kind == "ok" for kind, _ in outcomes), outcomes
        _check(outcomes, reference)


def test_a_freed_graph_still_raises_after_the_race():
    ws, loss = _graph(3)
    out = loss()
    gg.autograd.grad(out, ws)
    with pytest.raises(RuntimeError, match="second time"):
        gg.autograd.grad(out, ws)


def test_a_pass_stopped_by_a_hook_leaves_the_node_runnable():
    # the hook on the root's node raises before anything is freed: the graph can run again
    x = gg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum() * 3
    calls = []

    def hook(g):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("stop")
        return g

    y.register_hook(hook)
    with pytest.raises(ValueError, match="stop"):
        y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 12.0])
