"""The driver's own list of GPUs (``nvidia-smi -L``), read without CuPy: a GPU listed here
while gpugrad finds CUDA unusable means a broken install (the test suite then fails instead
of skipping its CUDA tests).

>>> isinstance(nvidia_smi_gpus(), list)
True
"""
from __future__ import annotations

__all__ = ["nvidia_smi_gpus"]


def nvidia_smi_gpus() -> list:
    """The ``GPU i: ...`` lines of ``nvidia-smi -L`` ([] without it or when it fails): the
    driver's view, past CuPy. A GPU here while CUDA is unusable means a broken install."""
    import shutil  # noqa: PLC0415  (only when asked: not at gpugrad's import)
    import subprocess  # noqa: PLC0415

    exe = shutil.which("nvidia-smi")
    try:
        out = exe and subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    if not out or out.returncode != 0:
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip().startswith("GPU ")]
