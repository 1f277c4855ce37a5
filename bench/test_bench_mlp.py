"""pytest-benchmark suite: whole training steps (gpugrad vs PyTorch eager vs hand-written NumPy
vs the GEMM floor) and one fused vs unfused layer, on every available device.

Not part of the default test run (testpaths = tests). Save a baseline, then compare:

    .venv/bin/python -m pytest bench/test_bench_mlp.py --benchmark-autosave
    .venv/bin/python -m pytest bench/test_bench_mlp.py --benchmark-compare \
        --benchmark-compare-fail=median:10%

Each benchmark group holds one workload on one device, so the table reads as a comparison;
``--benchmark-compare`` shows each implementation against its own saved history.
"""
import importlib.util

import pytest

from gpugrad.tools.bench import workloads as bw
from gpugrad import cuda

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_CUDA = cuda.is_available()

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not HAS_CUDA, reason="no CUDA GPU with CuPy available"))]

W2 = bw.WORKLOADS["W2"]
# W1's shape at a quarter of its width and batch: the same kind of step, fast enough to repeat
W1_SMALL = bw.Workload("W1-small", "mlp", (1024, 512, 512, 10), {"cpu": 128, "cuda": 128},
                       ("cpu", "cuda"), {}, {}, "batch 128, MLP 1024-512-512-10")
LAYER_SMALL = bw.Workload("layer-1024", "layer", (1024, 1024), {"cpu": 256, "cuda": 1024},
                          ("cpu", "cuda"), {}, {}, "one 1024x1024 ReLU layer, fwd + bwd")


def _step_fn(wl, device, impl):
    if impl == "torch" and not HAS_TORCH:
        pytest.skip("PyTorch is not installed")
    if impl == "torch" and device == "cuda" and not bw.torch_cuda_available():
        pytest.skip("PyTorch has no CUDA here")
    im = bw.make_impls(wl, device, [impl])[impl]
    for _ in range(3):                                  # compile kernels, create optimizer state
        im.step()
    im.sync()
    if device == "cpu":
        return im.step

    def step():
        im.step()
        im.sync()
    return step


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("impl", bw.IMPLS)
def test_w2_step(benchmark, device, impl):
    """W2: batch 64, MLP 64-256-256-10, overhead-bound."""
    benchmark.group = f"W2 step ({device})"
    benchmark(_step_fn(W2, device, impl))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("impl", bw.IMPLS)
def test_w1_small_step(benchmark, device, impl):
    """W1-small: batch 128, MLP 1024-512-512-10, GEMM-bound."""
    benchmark.group = f"W1-small step ({device})"
    benchmark(_step_fn(W1_SMALL, device, impl))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("impl", bw.LAYER_IMPLS)
def test_layer_fwd_bwd(benchmark, device, impl):
    """One 1024x1024 ReLU layer forward + backward: fused vs unfused vs torch vs GEMM-only."""
    benchmark.group = f"layer 1024x1024 fwd+bwd ({device})"
    benchmark(_step_fn(LAYER_SMALL, device, impl))
