"""The precision settings of a training loop (``gpugrad train --precision``).

- ``fp32``: float32 throughout (the default).
- ``tf32``: float32 weights and activations; CUDA products on TF32 tensor cores
  (a ``matmul_precision("high")`` block of the running thread for the run); the same as fp32
  on the CPU.
- ``bf16``: :class:`~gpugrad.amp.autocast` in bfloat16 (needs ``ml_dtypes``), float32 master
  weights, no loss scaling (bfloat16 has float32's range).  On CUDA the products are cuBLAS
  bfloat16 GEMMs whose results stay float32 (CuPy has no bfloat16 dtype: float32 sums of
  products of the bfloat16-rounded inputs; see :class:`~gpugrad.amp.autocast`); such a step
  cannot be captured by ``gpugrad.compile`` yet (``gpugrad train`` refuses ``--compile``).
- ``fp16``: autocast in float16 with a :class:`~gpugrad.amp.GradScaler`.

>>> p = precision_setup("fp16")
>>> p.dtype.name, p.scaler is not None
('float16', True)
"""
from __future__ import annotations

import contextlib

from .. import dtypes, kernels
from .autocast_mode import autocast
from .grad_scaler import GradScaler

__all__ = ["PRECISIONS", "Precision", "precision_setup"]

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


class Precision:
    """One training loop's precision: enter it around the run (``tf32`` sets the calling
    thread's matmul precision and restores it on exit); wrap each forward pass in :meth:`autocast`; call
    :meth:`backward` and :meth:`step` in place of ``loss.backward()`` and ``opt.step()``."""

    def __init__(self, name, device_type="cpu"):
        if name not in PRECISIONS:
            raise ValueError(f"precision: expected one of {PRECISIONS}, got {name!r}")
        self.name = name
        self.dtype = {"bf16": dtypes.as_dtype("bfloat16") if name == "bf16" else None,
                      "fp16": dtypes.float16}.get(name)
        self.scaler = GradScaler() if name == "fp16" else None
        self._block = None

    def __enter__(self):
        # tf32: a matmul_precision block of the calling thread (other threads, and the
        # process-wide setting, keep theirs)
        self._block = kernels.matmul_precision("high") if self.name == "tf32" else None
        if self._block is not None:
            self._block.__enter__()
        return self

    def __exit__(self, *exc):
        block, self._block = self._block, None
        if block is not None:
            block.__exit__(*exc)
        return False

    def autocast(self):
        """The context for a forward pass (autocast in bf16/fp16, else nothing)."""
        return autocast(self.dtype) if self.dtype is not None else contextlib.nullcontext()

    def backward(self, loss):
        """``loss.backward()``, scaled under fp16."""
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def unscale_(self, optimizer):
        """Under fp16, the scaler's ``unscale_`` (before gradient clipping or statistics);
        else nothing."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer):
        """``optimizer.step()``; under fp16 through the scaler (skipping inf/NaN steps),
        followed by its update."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()


def precision_setup(name="fp32", device_type="cpu") -> Precision:
    """The :class:`Precision` for ``name`` (one of :data:`PRECISIONS`) on ``device_type``.
    ValueError for an unknown name; TypeError for bf16 without ml_dtypes.

    >>> precision_setup("fp16").autocast()
    autocast(dtype='float16', enabled=True)
    """
    return Precision(name, device_type)
