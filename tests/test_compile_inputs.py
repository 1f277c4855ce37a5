"""gg.compile keys a call by its inputs exactly: a static argument by its type and value (1 and
1.0, 0.0 and -0.0, 2.0 and np.float32(2) are different steps), and inputs that are one object,
share a version counter or share memory replay as the uncompiled step sees them; an input that
shares memory with a parameter the step reads is refused."""
import numpy as np
import pytest
from conftest import DEVICES, FAKE_CUDA

import gpugrad as gg
from gpugrad import nn, optim
from gpugrad.capture import CaptureError


def _same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        a.numpy(), b.numpy()) and np.array_equal(np.signbit(a.numpy().real),
                                                 np.signbit(b.numpy().real))


@pytest.mark.parametrize("x_dtype, values", [
    ("int32", [1, 1.0, True, 1]),                       # int / float / bool promote apart
    ("float16", [2.0, np.float32(2.0), np.float64(2.0), 2.0]),   # NumPy scalars promote
    ("float32", [0.0, -0.0, 0.0]),                       # 1 / -0.0 is -inf
    ("float32", [2.0, 2 + 0j, 2.0]),                     # complex promotes
    ("int32", [(1, 2), (1.0, 2), (1, 2)]),               # inside a tuple too
])
def test_static_arguments_equal_in_python_are_different_steps(x_dtype, values):
    def f(x, s):
        if isinstance(s, tuple):
            return x * s[0] + s[1]
        return (1 / x) * s if x.dtype.kind == "f" else x * s
    x = gg.tensor(np.arange(1, 5).astype(x_dtype))
    step = gg.compile(f)
    for s in values:
        assert _same(step(x, s), f(x, s)), s


def test_a_nan_static_argument_replays_instead_of_recording_each_call():
    f = lambda x, s: x * s                               # noqa: E731
    step = gg.compile(f)
    x = gg.tensor(np.ones(3, np.float32))
    for _ in range(3):
        assert np.isnan(step(x, float("nan")).numpy()).all()
    assert step.recordings == 1


def _aliased_step(device="cpu"):
    gg.manual_seed(0)
    m = nn.Linear(4, 4).to(device)
    opt = optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        x.add_(1.0)                                     # y sees it when it shares memory
        loss = nn.functional.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        return loss
    return m, step


def _inputs(kind, seed, device="cpu"):
    a = np.random.default_rng(seed).standard_normal((6, 4)).astype(np.float32)
    if kind == "same tensor":
        t = gg.tensor(a[:4], device=device)
        return t, t
    if kind == "same array":
        d = gg.tensor(a[:4], device=device).data       # one memory, two version counters
        return gg.Tensor._make(d), gg.Tensor._make(d)
    if kind == "overlapping views":
        base = gg.tensor(a, device=device)
        return base[0:4], base[2:6]
    if kind == "reversed views":
        base = gg.tensor(a, device=device)
        return base[3::-1], base[5:1:-1]
    base = gg.tensor(a, device=device)
    return base[0:4], gg.tensor(a[2:6], device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["same tensor", "same array", "overlapping views",
                                  "reversed views", "separate"])
def test_inputs_sharing_memory_are_written_as_the_uncompiled_step_writes(kind, device):
    m1, eager = _aliased_step(device)
    m2, body = _aliased_step(device)
    step = gg.compile(body, cuda_graphs=not FAKE_CUDA)   # (the stand-in has no CUDA graphs)
    for i in range(5):
        xe, ye = _inputs(kind, i, device)
        xc, yc = _inputs(kind, i, device)
        a, b = eager(xe, ye), step(xc, yc)
        assert _same(a, b), (kind, i, a.item(), b.item())
        assert _same(xe, xc) and _same(ye, yc)
    assert np.array_equal(m1.weight.numpy(), m2.weight.numpy())
    assert step.recordings == 1


def test_aliasing_is_part_of_the_key():
    m1, eager = _aliased_step()
    m2, body = _aliased_step()
    step = gg.compile(body)
    for i, kind in enumerate(["separate", "same tensor", "separate", "overlapping views",
                              "same tensor"]):
        a = eager(*_inputs(kind, i))
        b = step(*_inputs(kind, i))
        assert _same(a, b), (kind, i)
    assert step.recordings == 3


def test_a_view_of_a_modified_input_needed_by_backward_gets_its_old_value_as_uncompiled():
    w = nn.Parameter(gg.ones(4))

    def f(x, y):
        z = (y * w).sum()
        x.add_(1.0)                                     # y's values were saved for dW
        z.backward()
        return z

    base = gg.tensor(np.arange(6, dtype=np.float32))
    f(base[0:4], base[2:6])                             # dW is the old y
    assert w.grad.tolist() == [2.0, 3.0, 4.0, 5.0] and base.tolist()[2:4] == [3.0, 4.0]
    w.grad = None
    step = gg.compile(f)
    step(gg.tensor(np.arange(4, dtype=np.float32)), gg.tensor(np.ones(4, np.float32)))
    w.grad = None
    base = gg.tensor(np.arange(6, dtype=np.float32))
    step(base[0:4], base[2:6])
    assert w.grad.tolist() == [2.0, 3.0, 4.0, 5.0] and base.tolist()[2:4] == [3.0, 4.0]


def test_an_input_sharing_memory_with_a_parameter_is_refused():
    m = nn.Linear(4, 4)
    opt = optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.mse_loss(m(y), y)
        loss.backward()
        opt.step()
        return loss, (x * 1).sum()                    # x: the updated weight, uncompiled

    y = gg.ones(4, 4)
    compiled = gg.compile(step)
    with pytest.raises(CaptureError, match=r"input 0 .* shares memory with .*\(4, 4\)"):
        compiled(m.weight.detach(), y)
    w0 = m.weight.numpy().copy()
    compiled(gg.tensor(w0), y)                          # a copy: fine, records
    w1 = m.weight.numpy().copy()
    with pytest.raises(CaptureError, match="shares memory"):
        compiled(m.weight.detach(), y)                  # and at a replay, before it runs
    assert np.array_equal(m.weight.numpy(), w1)


def test_a_keyword_argument_named_like_the_alias_key_is_an_input():
    step = gg.compile(lambda x, aliases: x * aliases)
    x = gg.tensor(np.arange(3, dtype=np.float32))
    assert np.array_equal(step(x, aliases=x).numpy(), (x * x).numpy())
    assert np.array_equal(step(x, aliases=2.0).numpy(), (x * 2.0).numpy())
