"""Work on cuda:1 runs on device 1 whatever device is current: every op's forward and backward
and every kernel dispatch make their operands' device current (on a real multi-GPU machine
this keeps allocations, launches and cuBLAS handles on the right device; the CuPy stand-in
of GPUGRAD_FAKE_CUDA=1 has two devices and refuses a launch on the wrong one)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim




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


@pytest.mark.cuda
def test_a_training_step_on_cuda1_with_cuda0_current_matches_the_cpu():
    _needs_two()
    cpu_losses, cpu_params = _train("cpu")
    cupy = gg.backend._import_cupy()
    with cupy.cuda.Device(0):
        losses, params = _train("cuda:1")
    np.testing.assert_allclose(losses, cpu_losses, rtol=1e-5)
    for a, b in zip(params, cpu_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.cuda
def test_second_order_on_cuda1_with_cuda0_current():
    _needs_two()
    cupy = gg.backend._import_cupy()
    x0 = np.array([0.3, -1.2, 2.0])
    expected = np.diag(6 * x0)
    with cupy.cuda.Device(0):
        h = gg.hessian(lambda x: (x ** 3).sum())(gg.tensor(x0, device="cuda:1"))
        assert h.device == "cuda:1"
        np.testing.assert_allclose(h.numpy(), expected, rtol=1e-12)


@pytest.mark.cuda
def test_leaf_gradients_land_on_their_own_device():
    """Model-parallel: a layer on cuda:0 feeding one on cuda:1 gets its gradient on cuda:0;
    a leaf on cuda:1 whose loss is computed on the CPU gets it on cuda:1 (as PyTorch)."""
    _needs_two()
    w0 = gg.tensor(np.ones((2, 2)), device="cuda:0", requires_grad=True)
    w1 = gg.tensor(np.full((2, 2), 2.0), device="cuda:1", requires_grad=True)
    x = gg.tensor(np.eye(2), device="cuda:0")
    ((x @ w0).to("cuda:1") @ w1).sum().backward()
    assert w0.grad.device == "cuda:0" and w1.grad.device == "cuda:1"
    np.testing.assert_allclose(w0.grad.numpy(), np.full((2, 2), 4.0))
    w = gg.tensor([1.0, 2.0], device="cuda:1", requires_grad=True)
    cupy = gg.backend._import_cupy()
    with cupy.cuda.Device(0):
        ((w * 2).cpu() ** 2).sum().backward()
        assert w.grad.device == "cuda:1"
        np.testing.assert_allclose((w - 0.1 * w.grad).numpy(), [0.2, 0.4])


def test_a_zero_d_parameter_gets_a_zero_d_array_gradient():
    p = gg.nn.Parameter(gg.tensor(2.0))
    (p * 30).backward()
    assert isinstance(p.grad.data, np.ndarray) and p.grad.shape == () and p.grad.item() == 30.0


@pytest.mark.cuda
def test_optimizer_state_loads_onto_cuda1_with_cuda0_current():
    _needs_two()
    cupy = gg.backend._import_cupy()
    p = nn.Parameter(gg.tensor([1.0, 2.0], device="cuda:1"))
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    state = opt.state_dict()
    q = nn.Parameter(gg.tensor([1.0, 2.0], device="cuda:1"))
    opt2 = optim.Adam([q], lr=0.1)
    with cupy.cuda.Device(0):
        opt2.load_state_dict(state)
        (q * q).sum().backward()
        opt2.step()
    assert q.device == "cuda:1"
