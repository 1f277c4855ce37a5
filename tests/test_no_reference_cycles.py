"""No reference cycles: what a training step, a higher-order gradient, a captured step or a
swapped NumPy program leaves behind is freed by reference counting alone, at once -- not at
the next garbage collection (tensors held by a cycle keep their memory, on a GPU too, until
the collector happens to run).  Each scenario runs once to warm caches, then again with the
collector saving everything it finds unreachable; it must find nothing."""
import collections
import contextlib
import gc
import io

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import nn, optim

from test_examples_dropin import STEMS, load


def cyclic_garbage(fn):
    """{type name: count} of the objects only the cycle collector could free after ``fn()``."""
    fn()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        fn()
        gc.collect()
        found = collections.Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return dict(found)


def _mlp_step(compiled=False):
    gg.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = gg.randn(4, 8), gg.tensor([0, 1, 2, 1])

    def step(x, y):
        opt.zero_grad()
        loss = gg.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    run = gg.compile(step) if compiled else step

    def fn():
        for _ in range(3):
            run(x, y)
    return fn


def test_training_step_leaves_no_cycles():
    assert cyclic_garbage(_mlp_step()) == {}


def test_captured_step_leaves_no_cycles():
    assert cyclic_garbage(_mlp_step(compiled=True)) == {}


def test_higher_order_gradient_leaves_no_cycles():
    def fn():
        x = gg.tensor([0.5, 1.5, -2.0], dtype="float64", requires_grad=True)
        w = gg.tensor([[1.0, 2.0, 0.5]], dtype="float64", requires_grad=True)
        y = (gg.tanh(x * w) @ x).sum() + (x.exp() * x).sum()
        y.backward(create_graph=True)   # (a gradient with a graph held by its own leaf is a
        g, x.grad, w.grad = x.grad, None, None  # cycle, in PyTorch too: the test lets go)
        g.sum().backward()
        assert x.grad.shape == (3,) and w.grad is not None
    assert cyclic_garbage(fn) == {}


def test_inplace_idioms_under_grad_leave_no_cycles():
    def loss(W, X):
        s = X @ W
        s -= gnp.max(s, axis=1, keepdims=True)
        e = gnp.exp(s)
        e /= gnp.sum(e, axis=1, keepdims=True)
        h = X @ W
        h[h < 0] = 0
        gnp.maximum(h, 0, out=h)
        return gnp.sum(e) + gnp.sum(h)

    X = gnp.asarray(np.random.default_rng(0).standard_normal((5, 4)))
    W = gnp.asarray(np.random.default_rng(1).standard_normal((4, 4)))
    assert cyclic_garbage(lambda: gg.grad(loss)(W, X)) == {}


@pytest.mark.parametrize("requires_grad", [False, True])
def test_array_of_tensors_leaves_no_cycles(requires_grad):
    X = gg.ones((4, 2), dtype="float64", requires_grad=requires_grad)
    assert cyclic_garbage(lambda: gnp.array([X[1], [X[2], X[3]][0]])) == {}


@pytest.mark.parametrize("stem", STEMS)
def test_swapped_numpy_program_leaves_no_cycles(stem):
    mod = load(stem, "gpugrad")

    def fn():
        with contextlib.redirect_stdout(io.StringIO()):
            mod.main()
    assert cyclic_garbage(fn) == {}
