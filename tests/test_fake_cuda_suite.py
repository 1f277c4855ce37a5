"""Every CUDA-marked test, run once more in a child pytest on the NumPy-backed CuPy stand-in
(``GPUGRAD_FAKE_CUDA=1``, see fake_cupy.py and conftest.py), so that CI -- which has no GPU --
catches the kind of bug that only shows on a device: a constant, index or result made on the
CPU and mixed with CUDA tensors. What the stand-in cannot show (kernels, numerics, streams) is
the GPU run's job (bench/gpu_check.sh)."""
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import FAKE_CUDA

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.mark.skipif(FAKE_CUDA, reason="already running on the stand-in")
def test_cuda_marked_tests_pass_on_the_cupy_stand_in():
    env = dict(os.environ, GPUGRAD_FAKE_CUDA="1")
    env.pop("GPUGRAD_DEVICE", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-m", "cuda", "-x", "--tb=short", "tests"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = "\n".join(proc.stdout.splitlines()[-40:])
    assert proc.returncode == 0, f"GPUGRAD_FAKE_CUDA=1 pytest -m cuda tests failed:\n{tail}\n{proc.stderr[-2000:]}"
    assert " passed" in tail and " failed" not in tail
