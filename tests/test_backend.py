"""Devices and array modules: parsing, the default device (environment variable, context
managers), CUDA availability and its errors, get_array_module/to_device, device mismatch."""
import contextlib
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import backend

HAS_CUDA = gg.cuda.is_available()


# ---------------------------------------------------------------- a stand-in for CuPy
class FakeCupyArray:
    """What gpugrad reads from a cupy.ndarray: the defining module's name and ``.device.id``.
    Nothing here computes; it lets the device checks run on a CPU-only machine."""

    def __init__(self, device_id=0, shape=(2,)):
        self.device = types.SimpleNamespace(id=device_id)
        self.shape, self.ndim, self.dtype = shape, len(shape), np.dtype("float32")


FakeCupyArray.__module__ = "cupy._core.core"


def fake_cupy_module(n_devices, count_error=None, kernel_error=None):
    """A CuPy whose runtime counts ``n_devices`` GPUs (None: the no-device error), or raises
    ``count_error``; its arrays are NumPy's, and its kernels raise ``kernel_error`` if given."""
    def count():
        if count_error is not None:
            raise count_error
        if n_devices is None:
            raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
        return n_devices

    def arange(*args, **kwargs):
        if kernel_error is not None:
            raise kernel_error
        return np.arange(*args, **kwargs)
    runtime = types.SimpleNamespace(getDeviceCount=count)
    cuda = types.SimpleNamespace(runtime=runtime, Device=lambda index: contextlib.nullcontext())
    return types.SimpleNamespace(__name__="cupy", cuda=cuda, arange=arange, float32=np.float32,
                                 asnumpy=np.asarray)


@pytest.fixture
def cupy_state(monkeypatch):
    """Install a simulated CuPy import outcome: ``cupy_state(module_or_None, error)``."""
    def install(module, error=None):
        monkeypatch.setattr(backend, "_cupy_checked", True)
        monkeypatch.setattr(backend, "_cupy", module)
        monkeypatch.setattr(backend, "_cupy_error", error)
        monkeypatch.setattr(backend, "_warned", set())
    return install


# ---------------------------------------------------------------- parsing
@pytest.mark.parametrize("spec, expected", [
    ("cpu", ("cpu", None)), ("CPU", ("cpu", None)), ("cuda", ("cuda", 0)), ("gpu", ("cuda", 0)),
    ("cuda:0", ("cuda", 0)), ("cuda:3", ("cuda", 3)), (" cuda:1 ", ("cuda", 1)),
    (gg.Device("cuda", 2), ("cuda", 2)),
])
def test_device_parsing(spec, expected):
    d = gg.device(spec)
    assert (d.type, d.index) == expected
    assert str(d) == ("cpu" if d.type == "cpu" else f"cuda:{d.index}")
    assert d == gg.device(str(d)) and hash(d) == hash(gg.device(str(d)))


def test_device_repr_equality_and_xp():
    assert repr(gg.device("cpu")) == "device(type='cpu')"
    assert repr(gg.device("cuda:1")) == "device(type='cuda', index=1)"
    assert gg.device("cpu") == "cpu" and gg.device("cuda") == "cuda:0"
    assert gg.device("cuda:0") != gg.device("cuda:1") and gg.device("cpu") != "cuda"
    assert gg.device("cpu").xp is np
    assert gg.device(None) == gg.get_default_device()


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cuda:-1", "", 3, "cpu:1x"])
def test_bad_device_specs(spec):
    with pytest.raises(ValueError, match=r"expected a device like 'cpu', 'cuda' or 'cuda:0', "
                                         r"got " + repr(spec).replace("(", r"\(")):
        gg.device(spec)
    with pytest.raises(ValueError, match="device type must be 'cpu' or 'cuda', got 'tpu'"):
        gg.Device("tpu")
    with pytest.raises(ValueError, match="the cpu device has no index, got cpu:2"):
        gg.Device("cpu", 2)


# ---------------------------------------------------------------- the default device
def _run_python(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k != "GPUGRAD_DEVICE"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=120)


def test_env_var_picks_the_default_device():
    code = ("import gpugrad as gg\n"
            "print(repr(gg.get_default_device()))\n"
            "with gg.default_device('cpu'):\n"
            "    print(gg.zeros(1).device)\n"
            "try:\n"
            "    t = gg.zeros(1)\n"
            "    print('made', t.device)\n"
            "except gg.CudaUnavailableError as e:\n"
            "    print('unavailable')\n")
    out = _run_python(code, GPUGRAD_DEVICE="cuda:0")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == "device(type='cuda', index=0)" and lines[1] == "cpu"
    assert lines[2] == ("made cuda:0" if HAS_CUDA else "unavailable")
    out = _run_python("import gpugrad as gg; print(gg.zeros(1).device)")
    assert out.stdout.strip() == "cpu"               # unset: the CPU
    out = _run_python("import gpugrad as gg; gg.zeros(1)", GPUGRAD_DEVICE="tpu")
    assert out.returncode != 0
    assert "GPUGRAD_DEVICE" in out.stderr and "'tpu'" in out.stderr


def test_default_device_context_managers():
    assert gg.get_default_device() == "cpu"
    with gg.default_device("cpu") as d:
        assert d == "cpu" and gg.zeros(1).device == "cpu"
    with gg.device("cuda:1"):                        # a Device is a context manager too
        assert gg.get_default_device() == "cuda:1"
        with gg.default_device("cpu"):               # nested: the innermost wins
            assert gg.get_default_device() == "cpu" and gg.tensor([1.0]).device == "cpu"
        assert gg.get_default_device() == "cuda:1"
    assert gg.get_default_device() == "cpu"
    with pytest.raises(KeyError):
        with gg.default_device("cuda"):
            raise KeyError("restored even on errors")
    assert gg.get_default_device() == "cpu"
    gg.set_default_device("cuda:1")
    try:
        assert gg.get_default_device() == "cuda:1"
    finally:
        gg.set_default_device("cpu")


# ---------------------------------------------------------------- CUDA availability
def test_cuda_questions_never_raise():
    assert isinstance(gg.cuda.is_available(), bool)
    n = gg.cuda.device_count()
    assert isinstance(n, int) and n >= 0 and (n > 0) == gg.cuda.is_available()


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised where CUDA is missing")
def test_cuda_tensor_without_cuda_raises_a_helpful_error():
    with pytest.raises(gg.CudaUnavailableError) as info:
        gg.tensor([1.0], device="cuda")
    msg = str(info.value)
    assert gg.cuda.unavailable_reason() in msg and "pip install gpugrad[cuda12]" in msg \
        or "no GPU is visible" in msg
    for make in (lambda: gg.zeros(2, device="cuda:0"), lambda: gg.tensor([1.0]).to("cuda"),
                 lambda: gg.tensor([1.0]).cuda(), lambda: backend.to_device(np.ones(2), "cuda"),
                 lambda: gg.randn(2, device="cuda")):
        with pytest.raises(gg.CudaUnavailableError, match="CUDA device requested"):
            make()
    assert isinstance(gg.CudaUnavailableError("x"), RuntimeError)


def test_cuda_error_when_cupy_is_missing(cupy_state):
    cupy_state(None, ImportError("No module named 'cupy'"))
    assert gg.cuda.is_available() is False and gg.cuda.device_count() == 0
    with pytest.raises(gg.CudaUnavailableError,
                       match=r"CuPy is not installed \(No module named 'cupy'\); .*"
                             r"pip install gpugrad\[cuda12\]"):
        gg.zeros(3, device="cuda")


def test_cuda_error_when_no_gpu_is_visible(cupy_state):
    cupy_state(fake_cupy_module(None))               # CuPy imports, the driver finds no GPU
    assert gg.cuda.is_available() is False and gg.cuda.device_count() == 0
    with pytest.raises(gg.CudaUnavailableError, match="no GPU is visible to CuPy"):
        gg.zeros(3, device="cuda")
    cupy_state(fake_cupy_module(1))                  # one GPU: cuda:3 does not exist
    assert gg.cuda.is_available() is True and gg.cuda.device_count() == 1
    with pytest.raises(gg.CudaUnavailableError,
                       match=r"expected a CUDA device index in \[0, 1\), got cuda:3"):
        gg.device("cuda:3").xp


# ---------------------------------------------------------------- a broken CUDA install
def test_missing_cupy_and_no_gpu_are_quiet(cupy_state):
    cupy_state(None, ModuleNotFoundError("No module named 'cupy'", name="cupy"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gg.cuda.unavailable_reason(probe=True) == "CuPy is not installed (No module named 'cupy')"
        cupy_state(fake_cupy_module(None))
        assert gg.cuda.unavailable_reason() == (
            "no GPU is visible to CuPy (RuntimeError: cudaErrorNoDevice: no CUDA-capable device "
            "is detected)")
        cupy_state(fake_cupy_module(0))
        assert gg.cuda.unavailable_reason() == "no GPU is visible to CuPy (it counts 0 devices)"
        cupy_state(fake_cupy_module(2))
        assert gg.cuda.unavailable_reason(probe=True) is None and gg.cuda.device_count() == 2


BROKEN_IMPORTS = {
    "ImportError": "raise ImportError('libcudart.so.12: cannot open shared object file: "
                   "No such file or directory')",
    "RuntimeError": "raise RuntimeError('CuPy failed to load libnvrtc.so.12')",
    "ModuleNotFoundError": "import cupy_backends_missing_piece",   # inside CuPy: not absence
}


@pytest.mark.parametrize("kind", BROKEN_IMPORTS)
def test_cupy_that_fails_to_import_warns_and_says_why(kind, tmp_path, monkeypatch, cupy_state):
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text(BROKEN_IMPORTS[kind] + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cupy", raising=False)
    cupy_state(None)
    monkeypatch.setattr(backend, "_cupy_checked", False)       # detect again, for real
    with pytest.warns(RuntimeWarning, match=f"CuPy is installed but failed to import, so CUDA "
                                            f"is unavailable \\({kind}: ") as record:
        assert gg.cuda.is_available() is False
    assert len(record) == 1
    reason = gg.cuda.unavailable_reason()
    assert reason.startswith(f"CuPy is installed but failed to import ({kind}: ")
    assert str(backend._cupy_error) in reason
    with pytest.raises(gg.CudaUnavailableError) as info:
        gg.zeros(2, device="cuda")
    assert reason in str(info.value) and "reinstall CuPy" in str(info.value)


def test_cuda_runtime_failure_warns_and_says_why(cupy_state):
    error = RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient for "
                         "CUDA runtime version")
    cupy_state(fake_cupy_module(1, count_error=error))
    with pytest.warns(RuntimeWarning, match="CuPy imported but the CUDA runtime failed "
                                            r"\(RuntimeError: cudaErrorInsufficientDriver"):
        assert gg.cuda.device_count() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # warned once, not every call
        assert gg.cuda.is_available() is False
        reason = gg.cuda.unavailable_reason()
    assert reason == f"CuPy imported but the CUDA runtime failed (RuntimeError: {error})"
    with pytest.raises(gg.CudaUnavailableError, match="cudaErrorInsufficientDriver"):
        gg.tensor([1.0], device="cuda")


def test_probe_catches_a_cupy_that_counts_gpus_but_cannot_run(cupy_state):
    error = RuntimeError("nvrtc: error: invalid value for --gpu-architecture (-arch)")
    cupy_state(fake_cupy_module(1, kernel_error=error))
    assert gg.cuda.unavailable_reason() is None                  # counting alone: looks fine
    with pytest.warns(RuntimeWarning, match="a kernel on cuda:0 failed"):
        reason = gg.cuda.unavailable_reason(probe=True)
    assert reason == f"CuPy sees 1 GPU(s) but a kernel on cuda:0 failed (RuntimeError: {error})"


def fake_nvidia_smi(bindir, stdout, status=0):
    bindir.mkdir(exist_ok=True)
    script = bindir / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '%s\\n' '{stdout}'\nexit {status}\n")
    script.chmod(0o755)
    return bindir


GPU_LINE = "GPU 0: NVIDIA H200 (UUID: GPU-00000000-1111-2222-3333-444444444444)"


def test_nvidia_smi_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path / "ok", GPU_LINE)))
    assert backend.nvidia_smi_gpus() == [GPU_LINE]
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path / "bad", "NVIDIA-SMI has failed "
                                                   "because it couldn't communicate", status=9)))
    assert backend.nvidia_smi_gpus() == []
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path / "status", GPU_LINE, status=9)))
    assert backend.nvidia_smi_gpus() == []                       # a listing with a failure
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path / "none", "No devices were found")))
    assert backend.nvidia_smi_gpus() == []
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert backend.nvidia_smi_gpus() == []


def test_run_problem_only_when_a_gpu_is_visible_and_cuda_tests_ran():
    from conftest import cuda_run_problem
    reason = "CuPy is installed but failed to import (ImportError: libcudart.so.12)"
    problem = cuda_run_problem(reason, 3, [GPU_LINE], environ={})
    assert problem.startswith(f"nvidia-smi lists 1 GPU(s) ({GPU_LINE}) but CUDA is unusable")
    assert "3 selected CUDA test(s) skipped: " + reason in problem
    assert cuda_run_problem(None, 3, [GPU_LINE], environ={}) is None      # CUDA works
    assert cuda_run_problem(reason, 0, [GPU_LINE], environ={}) is None    # no CUDA test ran
    assert cuda_run_problem(reason, 3, [], environ={}) is None            # a CPU-only machine
    for environ in ({"CUDA_VISIBLE_DEVICES": ""}, {"CUDA_VISIBLE_DEVICES": "-1"},
                    {"GPUGRAD_TEST_ALLOW_CUDA_SKIP": "1"}):
        assert cuda_run_problem(reason, 3, [GPU_LINE], environ=environ) is None, environ
    assert cuda_run_problem(reason, 3, [GPU_LINE], environ={"CUDA_VISIBLE_DEVICES": "0"})


def test_a_gpu_machine_with_a_broken_cupy_fails_the_run(tmp_path):
    """End to end: a CuPy that cannot import and an nvidia-smi that lists a GPU. The CUDA test
    skips with the import error as its reason, and the run fails naming it."""
    (tmp_path / "site" / "cupy").mkdir(parents=True)
    (tmp_path / "site" / "cupy" / "__init__.py").write_text(
        "raise ImportError('libcudart.so.12: cannot open shared object file')\n")
    bindir = fake_nvidia_smi(tmp_path / "bin", GPU_LINE)
    env = {k: v for k, v in os.environ.items()
           if k not in ("GPUGRAD_TEST_ALLOW_CUDA_SKIP", "CUDA_VISIBLE_DEVICES", "GPUGRAD_DEVICE")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), env.get("PYTHONPATH", "")]))
    here = Path(__file__).resolve()
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
           f"{here}::test_real_gpu_round_trip_and_mismatch"]
    out = subprocess.run(cmd, env=env, cwd=here.parents[1], capture_output=True, text=True,
                         timeout=300)
    reason = ("CUDA unavailable: CuPy is installed but failed to import (ImportError: "
              "libcudart.so.12: cannot open shared object file)")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "SKIPPED [1] tests/test_backend.py" in out.stdout and reason in out.stdout
    assert f"nvidia-smi lists 1 GPU(s) ({GPU_LINE}) but CUDA is unusable" in out.stdout
    assert "RuntimeWarning: gpugrad: CuPy is installed but failed to import" in out.stdout
    env["GPUGRAD_TEST_ALLOW_CUDA_SKIP"] = "1"                      # skips accepted on purpose
    out = subprocess.run(cmd, env=env, cwd=here.parents[1], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0 and reason in out.stdout, out.stdout + out.stderr


# ---------------------------------------------------------------- arrays and devices
def test_get_array_module_and_array_device(cupy_state):
    assert gg.get_array_module(np.zeros(2)) is np
    assert gg.get_array_module(gg.tensor([1.0]), 3.0, None) is np
    assert gg.get_array_module() is np
    assert backend.array_device(np.zeros(1)) == "cpu"
    assert not backend.is_cupy_array(np.zeros(1))
    fake_mod = fake_cupy_module(2)
    cupy_state(fake_mod)
    arr = FakeCupyArray(device_id=1)
    assert backend.is_cupy_array(arr)
    assert backend.array_device(arr) == "cuda:1"
    assert gg.get_array_module(np.zeros(1), arr) is fake_mod
    assert gg.get_array_module(gg.Tensor._make(arr)) is fake_mod
    assert gg.Tensor._make(arr).device == gg.device("cuda:1")


def test_to_device_on_cpu():
    a = np.arange(3.0)
    assert backend.to_device(a, "cpu") is a          # already there: no copy
    b = backend.to_device([1, 2], gg.device("cpu"))
    assert isinstance(b, np.ndarray) and b.tolist() == [1, 2]
    t = gg.tensor([1.0, 2.0], requires_grad=True)
    assert gg.to_device(t, "cpu") is t


def test_device_mismatch_names_both_devices():
    cpu = gg.tensor([1.0, 2.0], requires_grad=True)
    gpu1 = gg.Tensor._make(FakeCupyArray(device_id=1))
    gpu0 = gg.Tensor._make(FakeCupyArray(device_id=0))
    # raised before any computation: the fake arrays cannot compute
    with pytest.raises(gg.DeviceMismatchError, match=r"expected all tensors on one device, got "
                                                     r"cpu and cuda:1"):
        gg.add(cpu, gpu1)
    with pytest.raises(gg.DeviceMismatchError, match="got cuda:1 and cpu"):
        gg.multiply(gpu1, cpu)
    with pytest.raises(gg.DeviceMismatchError, match="got cuda:0 and cuda:1"):
        gg.add(gpu0, gpu1)
    with pytest.raises(gg.DeviceMismatchError, match="got cpu and cuda:0"):
        gg.autograd._check_devices([np.zeros(2), FakeCupyArray(0)])
    gg.autograd._check_devices([FakeCupyArray(1), gpu1, 2.0])   # one device: fine
    assert isinstance(gg.DeviceMismatchError("x"), RuntimeError)


# ---------------------------------------------------------------- on a real GPU
@pytest.mark.cuda
def test_real_gpu_round_trip_and_mismatch():
    x = gg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    assert x.device == "cuda:0" and gg.get_array_module(x.data) is not np
    y = (x * x).sum()
    y.backward()
    assert x.grad.device == "cuda:0" and x.grad.numpy().tolist() == [2.0, 4.0]
    c = gg.tensor([1.0, 2.0], requires_grad=True)
    moved = c.to("cuda")
    (moved * 3).sum().backward()                     # the gradient comes back to the CPU
    assert c.grad.device == "cpu" and c.grad.tolist() == [3.0, 3.0]
    with pytest.raises(gg.DeviceMismatchError, match="got cuda:0 and cpu"):
        x + gg.tensor([1.0, 1.0])
    with pytest.raises(TypeError, match="call .cpu"):
        np.asarray(x)
