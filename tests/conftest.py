"""Shared fixtures: the ``device`` parameter (cpu always, cuda when a GPU is present), a fixed
seed per test, and a clean default device and grad mode around every test."""
import numpy as np
import pytest

import gpugrad as gg

HAS_CUDA = gg.cuda.is_available()
CUDA_SKIP = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU with CuPy available")

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA_SKIP])]


def pytest_collection_modifyitems(config, items):
    """Any test marked ``cuda`` skips cleanly where there is no GPU."""
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason="no CUDA GPU with CuPy available")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(params=DEVICES)
def device(request):
    """Every available device: "cpu", and "cuda" where a GPU is present."""
    return request.param


@pytest.fixture(autouse=True)
def _seed_and_restore():
    """Seed gpugrad's generators; restore the grad mode and default device afterwards."""
    gg.manual_seed(0)
    was_enabled = gg.is_grad_enabled()
    default = gg.get_default_device()
    yield
    gg.set_grad_enabled(was_enabled)
    gg.set_default_device(default)


@pytest.fixture
def rng():
    """A NumPy generator for reference data (independent of gpugrad's own generators)."""
    return np.random.default_rng(1234)


def to_numpy(x):
    """A CPU NumPy copy of a tensor or array (CuPy arrays come back from the GPU)."""
    if isinstance(x, gg.Tensor):
        return x.numpy()
    if hasattr(x, "get"):
        return x.get()
    return np.asarray(x)
