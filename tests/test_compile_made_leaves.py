"""gg.compile: a leaf made inside the step starts each replay without a gradient, whichever way
it was made -- an op's answer cut from the graph in place (``Function.apply`` made it),
``detach()`` (``Tensor._make``), a ``Parameter`` of a computed tensor -- while a
leaf from before the call keeps accumulating, as in the uncompiled step.  The recorder learns
of a tensor made in the step from its constructor's ``data`` assignment (no ``.grad``
assignment is made for a new tensor's None)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn


def _leaf(kind, h):
    if kind == "detach_":
        return (h * 1.0).detach_().requires_grad_()
    if kind == "detach":
        return h.detach().requires_grad_()
    return nn.Parameter(h.detach())


@pytest.mark.parametrize("kind", ["detach_", "detach", "Parameter"])
def test_a_leaf_made_in_the_step_gets_only_this_calls_gradient(kind):
    w = gg.tensor(np.arange(1.0, 4.0, dtype=np.float32), requires_grad=True)
    w_eager = gg.tensor(np.arange(1.0, 4.0, dtype=np.float32), requires_grad=True)

    def body(w):
        def step(x):
            a = _leaf(kind, x * 2.0)
            (a * a * w).sum().backward()
            return a.grad, w.grad
        return step

    eager, step = body(w_eager), gg.compile(body(w))
    rng = np.random.default_rng(0)
    for i in range(4):
        x = rng.standard_normal(3).astype(np.float32)
        (ga, gw), (ca, cw) = eager(gg.tensor(x)), step(gg.tensor(x))
        assert np.array_equal(ga.numpy(), 4.0 * x * w_eager.numpy())   # d/da a^2 w = 2 a w
        assert np.array_equal(ca.numpy(), ga.numpy()), f"call {i}: {kind} leaf's .grad"
        assert np.array_equal(cw.numpy(), gw.numpy()), f"call {i}: w.grad accumulates"
    assert step.recordings == 1


def test_a_tensor_made_in_the_step_is_reported_once_per_construction():
    """Every construction path reports to the recorder through ``data``, and only tensors made
    while recording are fresh (a tensor from before the call is not)."""
    from gpugrad import capture_hooks
    from gpugrad.capture import host_reads
    from gpugrad.capture.tape import Recorder

    before = gg.ones(2)
    seen = []

    class Watch(Recorder):
        def tensor_made(self, t):
            seen.append(t)
            super().tensor_made(t)
    rec = Watch()
    old = gg.ones(2, requires_grad=True)
    with host_reads.refused(), capture_hooks.recording(rec):
        y = old * 2.0                      # Function.apply
        d = y.detach()                     # Tensor._make
        t = gg.Tensor(y.detach())          # Tensor.__init__
        before.data = y.data               # an assignment, not a construction
    ids = {id(v) for v in seen}
    assert {id(y), id(d), id(t)} <= ids
    assert id(before) not in ids and id(old) not in ids
    assert {id(y), id(d), id(t)} <= rec.fresh and id(before) not in rec.fresh
