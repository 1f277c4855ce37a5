"""gg.compile and NumPy arithmetic in place on a tensor's array (``p.data -= lr * p.grad.data``,
``p.grad.data *= 0.5``): NumPy writes are not recorded, so a replay would silently skip them
(the parameters would stop training after the first call).  The recording refuses them with
CaptureError, naming what to write instead; gradient accumulation (the engine's own in-place
sums) and gpugrad's in-place ops still replay bit for bit."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim
from gpugrad.capture import CaptureError

rng = np.random.default_rng(0)
X = rng.standard_normal((8, 6)).astype(np.float32)
Y = rng.integers(0, 3, 8)


def _model():
    gg.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 10), nn.Tanh(), nn.Linear(10, 3))


def _update_param_data(m):
    for p in m.parameters():
        p.data -= 0.1 * p.grad.data


def _scale_grad_data(m):
    for p in m.parameters():
        p.grad.data *= 0.5


def _divide_param_data(m):
    m[0].weight.data /= 2.0


@pytest.mark.parametrize("raw", [_update_param_data, _scale_grad_data, _divide_param_data])
def test_numpy_arithmetic_in_place_on_data_is_refused(raw):
    m = _model()
    y = gg.tensor(Y)

    def body(x):
        loss = gg.cross_entropy(m(x), y)
        loss.backward()
        raw(m)
        for p in m.parameters():
            p.grad = None
        return loss
    step = gg.compile(body)
    with pytest.raises(CaptureError, match=r"\.data") as e:
        step(gg.tensor(X))
    assert "no_grad" in str(e.value)          # says what to write instead
    assert step.recordings == 0


def test_the_same_update_with_gpugrad_ops_replays_bit_for_bit():
    y = gg.tensor(Y)

    def make(m):
        def body(x):
            loss = gg.cross_entropy(m(x), y)
            loss.backward()
            with gg.no_grad():
                for p in m.parameters():
                    p -= 0.1 * p.grad
                    p.grad *= 0.5              # (a tensor op on the gradient: recorded)
            return loss
        return body
    m1, m2 = _model(), _model()
    eager, step = make(m1), gg.compile(make(m2))
    for i in range(4):
        assert eager(gg.tensor(X)).item() == step(gg.tensor(X)).item()
        for p, q in zip(m1.parameters(), m2.parameters()):
            assert np.array_equal(p.numpy(), q.numpy()), f"call {i}"
    assert step.recordings == 1


def test_gradients_accumulating_over_calls_still_replay():
    """The engine adds a new gradient into an existing ``.grad`` in place (not a user write)."""
    y = gg.tensor(Y)

    def make(m, o):
        def body(x):
            loss = gg.cross_entropy(m(x), y)
            loss.backward()
            return loss
        return body
    m1, m2 = _model(), _model()
    o1, o2 = optim.SGD(m1.parameters(), lr=0.1), optim.SGD(m2.parameters(), lr=0.1)
    eager, step = make(m1, o1), gg.compile(make(m2, o2))
    for i in range(6):
        eager(gg.tensor(X)), step(gg.tensor(X))
        if i % 3 == 2:
            o1.step(), o2.step()
            o1.zero_grad(set_to_none=False), o2.zero_grad(set_to_none=False)
        for p, q in zip(m1.parameters(), m2.parameters()):
            assert np.array_equal(p.grad.numpy(), q.grad.numpy()), f"call {i}"
            assert np.array_equal(p.numpy(), q.numpy())
    assert step.recordings == 1


def test_outside_a_recording_data_arithmetic_is_untouched():
    p = gg.nn.Parameter(gg.ones(3))
    p.data -= 0.5
    assert p.tolist() == [0.5, 0.5, 0.5]
