"""gg.compile and in-place writes whose key or old value is computed inside the step: a
boolean mask or an index array made by a recorded call is this call's at each replay (forward
and gradient), the old value an ``out=`` write overwrites is copied again at each replay, a
returned ``p.grad`` survives ``p.grad = None``; what cannot be replayed is refused by name."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import nn, optim
from gpugrad.capture import CaptureError


def _inputs(n=4, shape=(6, 3), seed=0):
    rng = np.random.default_rng(seed)
    return [gg.tensor(rng.standard_normal(shape).astype(np.float32)) for _ in range(n)]


def _twins(body, inputs):
    """body(w) -> step(x) returning (loss, grad of w); eager and compiled twins must agree
    bit for bit at every call, the inputs differing from call to call."""
    w1, w2 = (nn.Parameter(gg.tensor(np.linspace(-1, 1, 3, dtype=np.float32)))
              for _ in range(2))
    eager, step = body(w1), gg.compile(body(w2))
    for i, x in enumerate(inputs):
        a, b = eager(x), step(x)
        for u, v in zip(a, b):
            assert np.array_equal(u.numpy(), v.numpy()), f"call {i}: eager {a} compiled {b}"
    assert step.recordings == 1
    return step


def _with_grad(write):
    def body(w):
        def step(x):
            h = x * w
            write(h)
            loss = (h * h).sum()
            loss.backward()
            g = w.grad * 1.0
            w.grad = None
            return loss, g
        return step
    return body


def _scale_positive(h):
    h[h > 0] *= 10


def _zero_large(h):
    h[h > 0.5] = 0


def _zero_argmax(h):
    h[gg.arange(h.shape[0]), h.argmax(axis=1)] = 0


def _mask_and_index(h):
    h[h[:, 0] > 0, [2]] *= 3          # a mask mixed with an integer array


def _maximum_out(h):
    gnp.maximum(h, 0, out=h)


@pytest.mark.parametrize("write", [_scale_positive, _zero_large, _zero_argmax,
                                   _mask_and_index, _maximum_out])
def test_a_key_computed_in_the_step_is_this_calls(write):
    _twins(_with_grad(write), _inputs())


def test_maximum_out_after_linear_gets_this_calls_gradient():
    def make():
        lin = nn.Linear(1, 1, bias=False)
        with gg.no_grad():
            lin.weight.fill_(1.0)

        def step(x):
            h = lin(x)
            gnp.maximum(h, 0, out=h)
            h.sum().backward()
            g = lin.weight.grad * 1.0
            lin.weight.grad = None
            return g
        return step
    eager, step = make(), gg.compile(make())
    for x in ([[1.0], [2.0]], [[-1.0], [3.0]], [[0.5], [-2.0]]):
        e, c = eager(gg.tensor(x)), step(gg.tensor(x))
        assert np.array_equal(e.numpy(), c.numpy()), (x, e.tolist(), c.tolist())


def test_training_with_inplace_writes_matches_eager():
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((8, 6)).astype(np.float32) for _ in range(4)]
    ys = [rng.integers(0, 3, 8) for _ in range(4)]

    def run(compiled):
        gg.manual_seed(0)
        model = nn.Linear(6, 3)
        opt = optim.SGD(model.parameters(), lr=0.1)

        def s(x, y):
            h = model(x)
            gnp.maximum(h, 0, out=h)
            h[h > 0.5] *= 2
            loss = nn.functional.cross_entropy(h, y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss
        f = gg.compile(s) if compiled else s
        losses = [f(gg.tensor(x), gg.tensor(y)).item() for x, y in zip(xs, ys)]
        return losses, model.weight.numpy()
    (le, we), (lc, wc) = run(False), run(True)
    assert le == lc
    assert np.array_equal(we, wc)


def test_an_index_array_made_with_numpy_is_refused():
    w = nn.Parameter(gg.ones(3))

    def step(x):
        h = x * w
        h[h.data > 0] = 0                    # NumPy on .data: a replay could not follow it
        return h.sum()
    with pytest.raises(CaptureError, match="index"):
        gg.compile(step)(gg.tensor([1.0, -1.0, 1.0]))


def test_returned_grad_survives_grad_set_to_none():
    w = nn.Parameter(gg.ones(3))

    def step(x):
        loss = (x * w).sum()
        loss.backward()
        g = w.grad
        w.grad = None
        return loss, g
    f = gg.compile(step)
    for x in ([1.0, 2.0, 3.0], [4.0, -5.0, 6.0], [0.0, 1.0, 0.5]):
        loss, g = f(gg.tensor(x))
        assert g.tolist() == x and loss.item() == pytest.approx(sum(x))
        assert w.grad is None


def test_grad_scaler_is_refused_by_name():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    scaler = gg.amp.GradScaler()

    @gg.compile
    def step(x):
        with gg.autocast(dtype="float16"):
            loss = model(x).sum()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss
    with pytest.raises(CaptureError, match="GradScaler") as e:
        step(gg.ones(2, 3))
    assert "bf16" in str(e.value) or "bfloat16" in str(e.value)


def test_a_boolean_mask_makes_the_tape_value_dependent():
    w = nn.Parameter(gg.ones(3))

    def masked(x):
        h = x * w
        h[h > 0] = 0
        return h.sum()

    def plain(x):
        h = x * w
        h[:, 0] = 0
        return h.sum()
    x = gg.ones(2, 3)
    f, g = gg.compile(masked), gg.compile(plain)
    f(x), g(x)
    (entry_f,), (entry_g,) = f._tapes.values(), g._tapes.values()
    assert entry_f.tape.dynamic and not entry_g.tape.dynamic  # CUDA: call by call, no graphs
