"""pytest-benchmark: per-op overhead, the cost of one tiny op (adding two 1-element tensors)
forward and backward, gpugrad against PyTorch eager on the CPU, in the same run.

Not part of the default test run (testpaths = tests):

    .venv/bin/python -m pytest bench/test_bench_overhead.py

The table's "tiny-op" groups read as a comparison; the ratio gpugrad / torch is the overhead
figure to report (lower is better).  The forward-only group isolates graph recording.
"""
import importlib.util

import pytest

import gpugrad as gg

HAS_TORCH = importlib.util.find_spec("torch") is not None
IMPLS = ["gpugrad", pytest.param("torch", marks=pytest.mark.skipif(
    not HAS_TORCH, reason="PyTorch is not installed"))]


def _tiny(impl):
    """(a, b, seed) for ``impl``: two 1-element leaves that require grad and a seed gradient."""
    if impl == "torch":
        import torch

        torch.set_num_threads(1)
        return (torch.tensor([1.0], requires_grad=True), torch.tensor([2.0], requires_grad=True),
                torch.ones(1))
    return (gg.tensor([1.0], requires_grad=True), gg.tensor([2.0], requires_grad=True),
            gg.ones(1))


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_add_forward_backward(benchmark, impl):
    a, b, seed = _tiny(impl)
    benchmark.group = "tiny-op: a + b, forward + backward (1 element)"

    def step():
        (a + b).backward(seed)
    benchmark.pedantic(step, rounds=3000, warmup_rounds=200)
    assert a.grad.tolist() == b.grad.tolist() and a.grad.tolist()[0] >= 1.0


@pytest.mark.parametrize("impl", IMPLS)
def test_tiny_add_forward(benchmark, impl):
    a, b, _ = _tiny(impl)
    benchmark.group = "tiny-op: a + b, forward only, recording the graph (1 element)"
    out = benchmark.pedantic(lambda: a + b, rounds=3000, warmup_rounds=200)
    assert out.requires_grad and out.tolist() == [3.0]
