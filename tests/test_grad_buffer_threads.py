"""A fused linear node's backward writes a parameter's first gradient straight into the
optimizer's flat-buffer view that its own pass claimed -- never into a view another thread's
pass claimed on the same node (two retained passes over one graph, different seeds)."""
import threading

import numpy as np

import gpugrad as gg
import gpugrad.backward_pass as bp
import gpugrad.ops.nn as nn_ops
from gpugrad.ops.nn import Linear


def test_a_retained_pass_does_not_write_into_another_threads_claimed_buffer(monkeypatch):
    rng = np.random.default_rng(0)
    layer = gg.nn.Linear(4, 3)
    gg.optim.SGD(layer.parameters(), lr=0.1)          # gives W its flat-buffer view
    x = gg.tensor(rng.standard_normal((5, 4)).astype("f4"))
    loss = layer(x).sum()

    # the interleaving that mixed them up: A claims the view; B claims nothing and hands its
    # (empty) buffers to the node; A hands its own; both backward calls then read the node's
    # buffers before either kernel writes
    ev = {k: threading.Event() for k in ("a_claimed", "b_handed", "a_handed", "a_read",
                                         "b_done")}
    real_buffers, real_backward = bp._grad_buffers, Linear.backward
    real_kernel = nn_ops.kernels.linear_act_backward

    def wait(k):
        assert ev[k].wait(10), k

    def buffers(n, claim=False):
        me = threading.current_thread().name
        if me == "B":
            wait("a_claimed")
        out = real_buffers(n, claim)
        if me == "A":
            ev["a_claimed"].set()
            wait("b_handed")
        return out

    def backward(self, g):
        if threading.current_thread().name == "B":
            ev["b_handed"].set()
            wait("a_handed")
        else:
            ev["a_handed"].set()
        return real_backward(self, g)

    def kernel(*args, **kw):
        if threading.current_thread().name == "B":
            wait("a_read")
            try:
                return real_kernel(*args, **kw)
            finally:
                ev["b_done"].set()
        ev["a_read"].set()
        wait("b_done")
        return real_kernel(*args, **kw)

    monkeypatch.setattr(bp, "_grad_buffers", buffers)
    monkeypatch.setattr(Linear, "backward", backward)
    monkeypatch.setattr(nn_ops.kernels, "linear_act_backward", kernel)
    errors = []

    def run(seed):
        try:
            loss.backward(gg.tensor(np.float32(seed)), retain_graph=True)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
    ts = [threading.Thread(target=run, args=(s,), name=nm) for nm, s in (("A", 1.0), ("B", 2.0))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not errors, errors
    monkeypatch.undo()

    # the same two seeds, one after the other
    W = layer.weight
    got = W.grad.numpy().copy()
    W.grad = None
    loss.backward(gg.tensor(np.float32(3.0)), retain_graph=True)
    np.testing.assert_allclose(got, W.grad.numpy(), rtol=1e-6)
