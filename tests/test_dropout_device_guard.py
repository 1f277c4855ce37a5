"""Dropout masks are drawn and compared on the input's device: on cuda:1 with cuda:0 current,
``bernoulli_mask``, ``gg.dropout`` and ``nn.Dropout`` work (the CuPy stand-in of
GPUGRAD_FAKE_CUDA=1 has two devices and refuses a launch on the wrong one)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import backend, nn
from gpugrad import random as ggrandom

pytestmark = pytest.mark.cuda


def _needs_two():
    if gg.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")


def _cupy():
    return backend._import_cupy()


def test_bernoulli_mask_on_cuda1_with_cuda0_current():
    _needs_two()
    with _cupy().cuda.Device(0):
        m = ggrandom.bernoulli_mask((1000,), 0.3, "cuda:1")
        assert backend.array_device(m) == "cuda:1"
        assert str(m.dtype) == "bool"
        frac = float(m.sum()) / 1000
    assert 0.2 < frac < 0.4


def test_bernoulli_mask_with_an_explicit_generator_on_cuda1():
    _needs_two()
    g = ggrandom.Generator(7, device="cuda:1")
    with _cupy().cuda.Device(0):
        m = ggrandom.bernoulli_mask((50,), 0.5, generator=g)
        assert backend.array_device(m) == "cuda:1"


def test_dropout_on_cuda1_with_cuda0_current():
    _needs_two()
    with _cupy().cuda.Device(0):
        x = gg.ones((200,), device="cuda:1", requires_grad=True)
        y = gg.dropout(x, 0.5)
        assert y.device == "cuda:1"
        y.sum().backward()
        out, grad = y.numpy(), x.grad.numpy()
    assert set(np.unique(out)) <= {0.0, 2.0} and 0 < (out == 0).sum() < 200
    np.testing.assert_array_equal(grad, out)            # d/dx of x*mask*2 is mask*2


def test_nn_dropout_on_cuda1_with_cuda0_current_is_seeded():
    _needs_two()
    outs = []
    for _ in range(2):
        gg.manual_seed(3)
        with _cupy().cuda.Device(0):
            layer = nn.Dropout(0.25)
            x = gg.ones((4, 8), device="cuda:1")
            outs.append(layer(x).numpy())
            assert layer.eval()(x).device == "cuda:1"
    np.testing.assert_array_equal(outs[0], outs[1])
    assert set(np.unique(outs[0])) <= {0.0, np.float32(1 / 0.75)}
