"""TF32 for ``gpugrad bench --precision high``: each implementation's float32 GEMMs run on
TF32 tensor cores, through its own library's switch, around each of its steps only (so that
interleaved implementations do not leak the setting into each other):

- gpugrad (``gpugrad``, ``fused``, ``unfused``): a ``gpugrad.kernels.matmul_precision`` block
  (the calling thread's setting only).
- torch: ``torch.backends.cuda.matmul.allow_tf32``.
- numpy/gemm (CuPy on CUDA): CuPy's float32 compute type (its ``CUPY_TF32`` setting).
- jax: the ``jax-tf32`` implementation (``precision="high"`` in its matmuls), chosen by
  ``make_impls``.

On the CPU "high" changes nothing (no library here has TF32 there); it is recorded as asked.
"""
from __future__ import annotations

import contextlib

import numpy as np

PRECISIONS = ("highest", "high")


def _gpugrad(precision):
    from gpugrad import kernels
    return kernels.matmul_precision(precision)   # this thread only, restored on exit


@contextlib.contextmanager
def _torch(precision):
    import torch
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = precision == "high"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


@contextlib.contextmanager
def _cupy(precision):
    from cupy._core import _routines_linalg as linalg
    old = linalg.get_compute_type(np.dtype(np.float32))
    linalg.set_compute_type(np.dtype(np.float32), linalg.COMPUTE_TYPE_TF32
                            if precision == "high" else linalg.COMPUTE_TYPE_DEFAULT)
    try:
        yield
    finally:
        linalg.set_compute_type(np.dtype(np.float32), old)


_SWITCHES = {"gpugrad": _gpugrad, "fused": _gpugrad, "unfused": _gpugrad, "torch": _torch,
             "numpy": _cupy, "gemm": _cupy}


class AtPrecision:
    """``impl`` whose ``step`` runs under its library's precision switch; everything else is
    ``impl``'s own."""

    def __init__(self, impl, switch, precision):
        self._impl, self._switch, self._precision = impl, switch, precision

    def step(self):
        with self._switch(self._precision):
            self._impl.step()

    def __getattr__(self, name):
        return getattr(self._impl, name)


def at_precision(impls: dict, device: str, precision: str) -> dict:
    """``impls`` ({name: implementation}) with each step run at ``precision``.

    >>> at_precision({"numpy": object()}, "cpu", "high")["numpy"].__class__.__name__
    'object'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"expected a precision in {PRECISIONS}, got {precision!r}")
    if precision == "highest" or device != "cuda":
        return impls
    return {n: AtPrecision(im, _SWITCHES[n], precision) if n in _SWITCHES else im
            for n, im in impls.items()}
