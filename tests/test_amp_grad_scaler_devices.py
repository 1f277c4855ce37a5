"""GradScaler's scale follows the device of what it scales, as PyTorch's does: a scaler
restored with ``load_state_dict`` before its first ``scale()`` (resuming a run from a
checkpoint, which holds host numbers) then scales a CUDA loss, and gives the same steps,
scale and growth count as one restored and run on the CPU."""
from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg

STATE = {"scale": 1024.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2,
         "_growth_tracker": 1}


def _resumed_run(device, grads):
    w = gg.nn.Parameter(gg.tensor(np.linspace(-1, 1, 4, dtype=np.float32), device=device))
    opt = gg.optim.SGD([w], lr=0.1, momentum=0.9)
    scaler = gg.amp.GradScaler()
    scaler.load_state_dict(STATE)          # before any scale(): the checkpoint's numbers
    scales = []
    for g in grads:
        scaler.scale((w * gg.tensor(g, device=device)).sum()).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        scales.append((scaler.get_scale(), scaler.state_dict()["_growth_tracker"]))
    return np.asarray(w.detach().to("cpu").numpy()), scales


GRADS = [np.array([1.0, -2.0, 0.5, 3.0], np.float32), np.array([np.inf, 1, 1, 1], np.float32),
         np.array([0.25, 0.5, -1.0, 2.0], np.float32), np.array([1.0, 1.0, 1.0, 1.0], np.float32)]


def test_resumed_scaler_on_the_cpu_follows_pytorchs_rules():
    w, scales = _resumed_run("cpu", GRADS)
    # tracker 1 -> the clean first step reaches the interval (2): x2; inf: x0.5; then 1, 2
    assert scales == [(2048.0, 0), (1024.0, 0), (1024.0, 1), (2048.0, 0)]
    assert np.isfinite(w).all()


@pytest.mark.cuda
def test_scaler_restored_before_its_first_scale_scales_a_cuda_loss():
    cpu_w, cpu_scales = _resumed_run("cpu", GRADS)
    gpu_w, gpu_scales = _resumed_run("cuda", GRADS)
    assert gpu_scales == cpu_scales
    np.testing.assert_allclose(gpu_w, cpu_w, rtol=1e-6, atol=1e-7)


@pytest.mark.cuda
def test_scaler_used_on_the_cpu_then_on_cuda_moves_its_scale():
    """A scaler first run on the CPU, then for a model moved to CUDA: its scale and growth
    count go along, with their values."""
    scaler = gg.amp.GradScaler(init_scale=256.0, growth_interval=3)
    for device in ("cpu", "cuda"):
        w = gg.nn.Parameter(gg.ones(2, device=device))
        opt = gg.optim.SGD([w], lr=0.1)
        scaler.scale((w * w).sum()).backward()
        scaler.step(opt)
        scaler.update()
    assert scaler.get_scale() == 256.0 and scaler.state_dict()["_growth_tracker"] == 2
    np.testing.assert_allclose(np.asarray(w.detach().to("cpu").numpy()), [0.8, 0.8], rtol=1e-6)
