"""Shared fixtures: the ``device`` parameter (cpu always, cuda when a GPU is present), a fixed
seed per test, and a clean default device and grad mode around every test.

CUDA tests carry the ``cuda`` marker and skip where CUDA is unusable, each with the reason
(CuPy missing, CuPy failing to import, the CUDA runtime failing, a probe kernel failing). On a
machine where ``nvidia-smi`` lists a GPU, that reason is a broken install, not a CPU-only
machine: a run that selected CUDA tests then fails at the end, naming the reason
(``GPUGRAD_TEST_ALLOW_CUDA_SKIP=1`` accepts the skips, for a deliberate CPU-only run).
"""
import os

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import backend

# GPUGRAD_FAKE_CUDA=1: a NumPy-backed CuPy stand-in (fake_cupy.py) plays cuda:0, so that the
# ``cuda`` tests run on a CPU-only machine and show device mixing (a CPU constant meeting a CUDA
# tensor, a host array meeting a CUDA array) as a real GPU would.  The fused kernels run their
# NumPy (cpu) versions on the fake arrays; tests that need real CUDA kernels skip.
FAKE_CUDA = os.environ.get("GPUGRAD_FAKE_CUDA", "") not in ("", "0")
# tests of the raw CUDA kernels (CuPy ElementwiseKernel/RawModule, cuBLAS), not of device handling
REAL_CUDA_ONLY_FILES = ("test_kernels_cuda.py", "test_kernels_nvrtc.py")


def _install_fake_cuda():
    import importlib

    import fake_cupy

    from gpugrad import kernels

    fake_cupy.install()                   # ``import cupy`` now gives the fake
    backend._cupy, backend._cupy_checked, backend._cupy_error = None, False, None

    from gpugrad import special

    def normal_cdf(x):                    # special's CuPy ElementwiseKernel: its NumPy twin
        return fake_cupy.wrap(special.normal_cdf(fake_cupy.host(x)))

    special._normal_cdf_cuda = lambda: normal_cdf
    cpu = importlib.import_module("gpugrad.kernels.cpu")
    real_backend = kernels._backend

    class CpuKernelsOnFakeArrays:
        """kernels.cpu's functions, called with the NumPy arrays inside the fake ones (in-place
        outputs write through); what they return is wrapped back."""

        def __getattr__(self, name):
            fn = getattr(cpu, name)

            def call(*args, **kwargs):
                un = [fake_cupy.host(a) if fake_cupy.is_fake(a) else a for a in args]
                kw = {k: fake_cupy.host(v) if fake_cupy.is_fake(v) else v
                      for k, v in kwargs.items()}
                return fake_cupy.wrap_result(fn(*un, **kw))
            return call

    on_fake = CpuKernelsOnFakeArrays()

    def _backend(*arrays):
        given = [a for a in arrays if a is not None]
        if given and all(fake_cupy.is_fake(a) for a in given):
            return on_fake
        return real_backend(*arrays)

    kernels._backend = _backend
    # autocast bfloat16's GEMMs (kernels/cublas_bf16.py): the NumPy reference of its device
    # calls, which reads the fake arrays' memory by pointer as cuBLAS would
    from gpugrad.kernels import bf16_host, cublas_bf16
    cublas_bf16.use_device_ops(bf16_host.HostDevice(fake_cupy))
    # cross_entropy's fused CUDA kernels (kernels/cross_entropy.cu) need a real GPU: its array
    # path runs instead
    from gpugrad.ops import logits
    if hasattr(logits, "_fused"):
        logits._fused = lambda a, dtype=None: False


if FAKE_CUDA:
    _install_fake_cuda()

CUDA_REASON = gg.cuda.unavailable_reason(probe=True)
HAS_CUDA = CUDA_REASON is None
SKIP_REASON = f"CUDA unavailable: {CUDA_REASON}"
CUDA_SKIP = pytest.mark.skipif(not HAS_CUDA, reason=SKIP_REASON)

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA_SKIP])]


def gpu_hidden_on_purpose(environ=os.environ) -> bool:
    """CUDA_VISIBLE_DEVICES set to hide every GPU, or the skips explicitly accepted."""
    hidden = environ.get("CUDA_VISIBLE_DEVICES")
    return (environ.get("GPUGRAD_TEST_ALLOW_CUDA_SKIP", "") not in ("", "0")
            or (hidden is not None and hidden.strip() in ("", "-1", "NoDevFiles")))


def cuda_run_problem(reason, n_cuda_tests, gpus, environ=os.environ):
    """Why this run must fail (GPUs listed by nvidia-smi, CUDA tests selected, CUDA unusable),
    or None."""
    if reason is None or not n_cuda_tests or not gpus or gpu_hidden_on_purpose(environ):
        return None
    return (f"nvidia-smi lists {len(gpus)} GPU(s) ({gpus[0]}) but CUDA is unusable in gpugrad, "
            f"so the {n_cuda_tests} selected CUDA test(s) skipped: {reason}. Fix the CuPy/CUDA "
            "install, or set GPUGRAD_TEST_ALLOW_CUDA_SKIP=1 to accept the skips.")


def pytest_configure(config):
    config.addinivalue_line("markers", "real_cuda: needs a real GPU (CUDA kernels, cuBLAS, "
                            "DLPack to other libraries); skipped under GPUGRAD_FAKE_CUDA=1")


def pytest_report_header(config):
    if FAKE_CUDA:
        return "gpugrad CUDA: FAKE (GPUGRAD_FAKE_CUDA=1: NumPy-backed CuPy stand-in on cuda:0)"
    return f"gpugrad CUDA: {'available' if HAS_CUDA else SKIP_REASON}"


def pytest_collection_modifyitems(config, items):
    """Any test marked ``cuda`` skips where CUDA is unusable, with the reason; under the fake
    CUDA, tests that need a real GPU skip."""
    if FAKE_CUDA:
        skip = pytest.mark.skip(reason="needs a real GPU (GPUGRAD_FAKE_CUDA=1)")
        for item in items:
            if (item.get_closest_marker("real_cuda") is not None
                    or item.path.name in REAL_CUDA_ONLY_FILES):
                item.add_marker(skip)
    if HAS_CUDA:
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


def pytest_sessionfinish(session, exitstatus):
    """A GPU is visible but every CUDA test skipped: fail the run, saying why."""
    if HAS_CUDA or exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return
    n_cuda = sum(item.get_closest_marker("cuda") is not None for item in session.items)
    problem = cuda_run_problem(CUDA_REASON, n_cuda, backend.nvidia_smi_gpus() if n_cuda else [])
    if problem is not None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_sep("=", "CUDA unusable on a GPU machine", red=True, bold=True)
            reporter.write_line(problem, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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
def applies(monkeypatch):
    """A list that gets one entry per graph-node call (``Function.apply``)."""
    calls = []
    orig = gg.autograd.Function.apply.__func__

    def counting(cls, *args, **kwargs):
        calls.append(cls.__name__)
        return orig(cls, *args, **kwargs)
    monkeypatch.setattr(gg.autograd.Function, "apply", classmethod(counting))
    return calls


@pytest.fixture
def host():
    """The NumPy reference of autocast bfloat16's CUDA calls (kernels/bf16_host.py) installed
    as the device calls, on plain NumPy arrays."""
    from gpugrad.kernels import cublas_bf16 as kb
    from gpugrad.kernels.bf16_host import HostDevice
    dev = HostDevice(np)
    prev = kb.use_device_ops(dev)
    yield dev
    kb.use_device_ops(prev)


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
