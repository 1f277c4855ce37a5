"""Work on cuda:1 runs on device 1 whatever device is current: every op's forward and backward
and every kernel dispatch make their operands' device current (on a real multi-GPU machine
this keeps allocations, launches and cuBLAS handles on the right device; the CuPy stand-in
of GPUGRAD_FAKE_CUDA=1 has two devices and refuses a launch on the wrong one)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim

pytestmark = pytest.mark.cuda


def _needs_two():
    if gg.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")


def _train(device, steps=3):
    gg.manual_seed(0)
    model = nn.MLP([5, 7, 3], activation="gelu").to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = gg.tensor(rng.standard_normal((6, 5)).astype(np.float32), device=device)
    y = gg.tensor(rng.integers(0, 3, 6), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = gg.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, [p.numpy() for p in model.parameters()]


def test_a_training_step_on_cuda1_with_cuda0_current_matches_the_cpu():
    _needs_two()
    cpu_losses, cpu_params = _train("cpu")
    cupy = gg.backend._import_cupy()
    with cupy.cuda.Device(0):
        losses, params = _train("cuda:1")
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-5)
    for a, b in zip(params, cpu_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_second_order_on_cuda1_with_cuda0_current():
    _needs_two()
    cupy = gg.backend._import_cupy()
    x0 = np.array([0.3, -1.2, 2.0])
    expected = np.diag(6 * x0)
    with cupy.cuda.Device(0):
        h = gg.hessian(lambda x: (x ** 3).sum())(gg.tensor(x0, device="cuda:1"))
        assert h.device == "cuda:1"
        np.testing.assert_allclose(h.numpy(), expected, rtol=1e-12)
