"""gg.compile: a gradient that reaches a 0-d tensor (a NumPy scalar inside the backward pass)
is each call's, and ``.grad`` assignments made inside the step (``w.grad = None`` before
backward, a gradient set by hand, a leaf made in the step) are replayed in order."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim


def _inputs(shape=(3,), calls=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) * 10 ** i for i in range(calls)]


def _flat(v):
    if isinstance(v, (tuple, list)):
        return [y for x in v for y in _flat(x)]
    return [None if v is None else v.numpy() if isinstance(v, gg.Tensor) else v]


def _twins(make, xs, between=None):
    """make() -> (step, leaves); the eager step and the compiled twin of a second make() are
    called on the same data: every returned value and every leaf's value and ``.grad`` must
    be equal bit for bit, call after call."""
    eager, e_leaves = make()
    body, c_leaves = make()
    step = gg.compile(body)
    for i, x in enumerate(xs):
        if between is not None:
            between(e_leaves)
            between(c_leaves)
        a, b = _flat(eager(gg.tensor(x))), _flat(step(gg.tensor(x)))
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert (u is None) == (v is None), f"call {i}: eager {u} compiled {v}"
            if u is not None:
                assert u.dtype == v.dtype and np.array_equal(u, v), \
                    f"call {i}: eager {u} compiled {v}"
        for p, q in zip(e_leaves, c_leaves):
            assert np.array_equal(p.numpy(), q.numpy())
            assert (p.grad is None) == (q.grad is None), f"call {i}: .grad {p.grad} {q.grad}"
            if p.grad is not None:
                assert np.array_equal(p.grad.numpy(), q.grad.numpy()), \
                    f"call {i}: .grad eager {p.grad} compiled {q.grad}"
    assert step.recordings == 1
    return step


def _clear(leaves):
    for p in leaves:
        p.grad = None


def _scalar_leaf():
    s = gg.tensor(np.float32(1.5), requires_grad=True)

    def step(x):
        loss = (x * s).sum()
        loss.backward()
        return loss, s.grad
    return step, [s]


def _multiplier(kind):
    def make():
        w = gg.tensor(np.arange(1.0, 13.0, dtype=np.float32).reshape(3, 4) / 7,
                      requires_grad=True)

        def step(x):
            m = {"sum": w.sum, "mean": w.mean, "item": lambda: w[0, 0]}[kind]()
            loss = ((x @ w) * m).sum()
            loss.backward()
            return loss, w.grad, m
        return step, [w]
    return make


@pytest.mark.parametrize("make", [_scalar_leaf, _multiplier("sum"), _multiplier("mean"),
                                  _multiplier("item")],
                         ids=["0-d leaf", "w.sum()", "w.mean()", "w[0,0]"])
def test_a_gradient_through_a_0d_tensor_is_each_calls(make):
    _twins(make, _inputs(), between=_clear)


def test_a_0d_gradient_accumulates_over_calls_as_eagerly():
    _twins(_scalar_leaf, _inputs())               # .grad never cleared: a running sum


@pytest.mark.parametrize("kind", ["tensor", "Parameter"])
def test_grad_set_to_none_before_backward_is_replayed(kind):
    def make():
        w = (nn.Parameter(gg.ones(3)) if kind == "Parameter"
             else gg.tensor(np.ones(3, np.float32), requires_grad=True))

        def step(x):
            w.grad = None
            loss = (x * w).sum()
            loss.backward()
            return loss, w.grad
        return step, [w]
    _twins(make, _inputs())


def test_grad_set_to_none_between_two_backwards_is_replayed():
    def make():
        w = nn.Parameter(gg.ones(3))

        def step(x):
            (x * w).sum().backward()
            first = w.grad * 1.0
            w.grad = None
            (x * x * w).sum().backward()
            return first, w.grad
        return step, [w]
    _twins(make, _inputs())


def test_a_grad_set_by_hand_is_replayed_before_the_optimizer_reads_it():
    def make():
        w = nn.Parameter(gg.ones(3))
        opt = optim.SGD([w], lr=0.5)

        def step(x):
            w.grad = x * 2.0                      # a gradient computed in the step
            opt.step()
            (x * w).sum().backward()              # then accumulated into by backward
            return w.grad
        return step, [w]
    _twins(make, _inputs())


def test_a_leaf_made_in_the_step_starts_without_a_gradient():
    def make():
        def step(x):
            a = gg.ones(3, requires_grad=True)
            (x * a).sum().backward()
            return a.grad
        return step, []
    _twins(make, _inputs())


@pytest.mark.parametrize("value, match", [
    (lambda x: x, "an input of the step"),
    (lambda x: gg.tensor(np.ones(3, np.float32)), "no recorded gpugrad call made")])
def test_a_grad_set_to_what_a_replay_cannot_follow_is_refused(value, match):
    w = nn.Parameter(gg.ones(3))

    @gg.compile
    def step(x):
        w.grad = value(x)
        (x * w).sum().backward()
        return w.grad
    with pytest.raises(gg.CaptureError, match=match):
        step(gg.ones(3))
