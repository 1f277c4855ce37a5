"""Fused kernels against the plain ``xp`` reference, measured in the same run (pytest-benchmark).

    pytest bench/test_bench_kernels.py --benchmark-group-by=group --benchmark-columns=min,mean,rounds

Groups: a 512 x 1024 -> 2048 float32 layer's forward + backward (relu, gelu), and one SGD
(momentum) / Adam step over a flat 6.3M-element float32 buffer. Each group compares "fused"
(gpugrad.kernels) with "reference" (gpugrad.kernels.reference); the ratio of their times is the
speedup. Runs on CuPy arrays too when GPUGRAD_BENCH_DEVICE=cuda.
"""
import os

import numpy as np
import pytest

from gpugrad import kernels
from gpugrad.kernels import reference

if os.environ.get("GPUGRAD_BENCH_DEVICE") == "cuda":
    xp = pytest.importorskip("cupy")

    def sync():
        xp.cuda.get_current_stream().synchronize()
else:
    xp = np

    def sync():
        pass

IMPLS = {"fused": kernels, "reference": reference}
FLAT = 6_300_000


def run(benchmark, fn):
    def timed():
        fn()
        sync()
    benchmark.pedantic(timed, rounds=7, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_linear_forward_backward(benchmark, impl, act):
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.standard_normal((512, 1024), np.float32))
    W = xp.asarray(rng.standard_normal((1024, 2048), np.float32) * 1024 ** -0.5)
    b = xp.asarray(rng.standard_normal(2048, np.float32))
    dy = xp.asarray(rng.standard_normal((512, 2048), np.float32))
    k = IMPLS[impl]

    def step():
        y, z = k.linear_act_forward(x, W, b, act)
        return k.linear_act_backward(dy, x, W, y, z, act)

    benchmark.group = f"linear 512x1024->2048 fwd+bwd {act}"
    run(benchmark, step)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_optimizer_step(benchmark, impl, optimizer):
    rng = np.random.default_rng(1)
    param = xp.asarray(rng.standard_normal(FLAT, np.float32))
    grad = xp.asarray(rng.standard_normal(FLAT, np.float32))
    a, b, c = xp.zeros_like(param), xp.zeros_like(param), xp.zeros_like(param)
    k = IMPLS[impl]
    if optimizer == "sgd":
        def step():
            k.sgd_update(param, grad, a, lr=1e-3, momentum=0.9, weight_decay=1e-4)
    else:
        def step():
            k.adam_update(param, grad, a, b, step=10, lr=1e-3, weight_decay=1e-2, decoupled=True,
                          max_exp_avg_sq=c)
    benchmark.group = f"{optimizer} step over {FLAT / 1e6:.1f}M float32"
    run(benchmark, step)
