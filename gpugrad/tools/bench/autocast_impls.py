"""Mixed-precision implementations of the MLP workloads of ``gpugrad bench``: the same step
as ``gpugrad`` / ``torch`` (same weights, batch, loss, SGD with momentum), with its forward
pass under autocast -- float32 master weights, 16-bit products:

- ``gpugrad-bf16``: ``gg.autocast(dtype="bfloat16")`` (on CUDA: cuBLAS bfloat16 GEMMs with
  float32 results, as :class:`gpugrad.amp.autocast` documents).
- ``torch-bf16``: ``torch.autocast(device, dtype=torch.bfloat16)`` (eager).
- ``gpugrad-fp16``: ``gg.autocast(dtype="float16")`` + ``gg.amp.GradScaler``.
- ``torch-fp16``: ``torch.autocast(device, dtype=torch.float16)`` + ``torch.amp.GradScaler``.

They run on the CPU too (bfloat16 through ml_dtypes there: slow, meant for tests with small
batches).  Named only on request (``gpugrad bench --impls gpugrad-bf16 torch-bf16 ...``), not
by default.  Their agreement with the float32 reference is checked to :data:`TOLERANCES`
(16-bit products move losses and updates far more than float32 rounding does), and they must
also differ from it by more than float32 rounding (:func:`ran_in_16_bits`: an implementation
whose autocast silently did nothing would otherwise pass); ratios of
each gpugrad one to its torch peer are reported as ``gpugrad-bf16/torch-bf16`` and
``gpugrad-fp16/torch-fp16`` (:func:`peer_ratios`).

>>> from gpugrad.tools.bench.workloads import WORKLOADS, make_impls
>>> impls = make_impls(WORKLOADS["W2"], "cpu", names=["gpugrad-fp16"], batch=8)
>>> impls["gpugrad-fp16"].step(); impls["gpugrad-fp16"].loss() > 0
True
"""
from __future__ import annotations

from gpugrad.tools.bench.workloads import GpugradMLP, TorchMLP

__all__ = ["AUTOCAST_IMPLS", "CLASSES", "TOLERANCES", "MIN_DIFFERENCE", "tolerances",
           "ran_in_16_bits", "peer_ratios"]

AUTOCAST_IMPLS = ("gpugrad-bf16", "torch-bf16", "gpugrad-fp16", "torch-fp16")

# (loss, update) relative tolerances against the float32 NumPy reference after a few steps.
# bfloat16 keeps 8 significant bits (2**-9 = 2e-3 per rounding) and float16 11 bits; measured
# on W1/W2 (CPU, batch 8-64, 3 steps): losses 1.3e-4 (bf16) and 1e-5 (fp16), updates 0.044
# (bf16) and 0.028 (fp16) at most.
TOLERANCES = {"bf16": (1e-2, 0.15), "fp16": (5e-3, 0.08)}
# (loss, update) relative differences from the float32 reference that only 16-bit products
# make: measured on W1/W2 (CPU, batch 8-64, 3 steps), float32 implementations differ by 1e-7
# (losses) and 4e-6 (updates) at most, the 16-bit ones by at least 2.3e-6 and 8e-3.
MIN_DIFFERENCE = (1e-6, 5e-3)


def tolerances(name, loss_rtol, update_rtol):
    """(loss, update) tolerances of implementation ``name``: :data:`TOLERANCES` for the
    mixed-precision ones, the given float32 ones for the others.

    >>> tolerances("torch-bf16", 1e-4, 1e-2), tolerances("torch", 1e-4, 1e-2)
    ((0.01, 0.15), (0.0001, 0.01))
    """
    kind = name.rsplit("-", 1)[-1] if name in AUTOCAST_IMPLS else None
    return TOLERANCES.get(kind, (loss_rtol, update_rtol))


def ran_in_16_bits(name, loss_err, update_err) -> bool:
    """True unless ``name`` is a mixed-precision implementation whose largest relative loss
    and update differences from the float32 reference are both within float32 rounding
    (:data:`MIN_DIFFERENCE`): its products then did not run in 16 bits.

    >>> ran_in_16_bits("gpugrad-bf16", 1e-4, 0.03), ran_in_16_bits("gpugrad-bf16", 0.0, 1e-6)
    (True, False)
    >>> ran_in_16_bits("gpugrad", 0.0, 0.0)                  # float32: nothing to show
    True
    """
    if name not in AUTOCAST_IMPLS:
        return True
    return loss_err > MIN_DIFFERENCE[0] or update_err > MIN_DIFFERENCE[1]


def peer_ratios(medians: dict) -> dict:
    """{"gpugrad-X/torch-X": ratio} for each precision X timed for both libraries.

    >>> peer_ratios({"gpugrad-bf16": 1.0, "torch-bf16": 2.0, "torch": 1.0})
    {'gpugrad-bf16/torch-bf16': 0.5}
    """
    out = {}
    for kind in ("bf16", "fp16"):
        a, b = medians.get(f"gpugrad-{kind}"), medians.get(f"torch-{kind}")
        if a is not None and b:
            out[f"gpugrad-{kind}/torch-{kind}"] = a / b
    return out


def _update(loss, opt, scaler):
    """Backward, optimizer step (through ``scaler`` for float16) and ``zero_grad``: one
    sequence for gpugrad and torch, whose GradScalers share PyTorch's API.  Returns ``loss``."""
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    opt.zero_grad()
    return loss


class GpugradAutocast(GpugradMLP):
    """The ``gpugrad`` step with its forward pass and loss under ``gg.autocast``."""
    dtype = "bfloat16"

    def __init__(self, wl, device, data):
        super().__init__(wl, device, data)
        import gpugrad as gg
        self.gg = gg
        self.scaler = gg.amp.GradScaler() if self.dtype == "float16" else None

    def step(self):
        with self.gg.autocast(dtype=self.dtype):
            loss = self.ce(self.model(self.x), self.y)
        self._loss = _update(loss, self.opt, self.scaler)


class GpugradBF16(GpugradAutocast):
    name, dtype = "gpugrad-bf16", "bfloat16"


class GpugradFP16(GpugradAutocast):
    name, dtype = "gpugrad-fp16", "float16"


class TorchAutocast(TorchMLP):
    """The ``torch`` step with its forward pass and loss under ``torch.autocast``."""
    dtype = "bfloat16"

    def __init__(self, wl, device, data):
        super().__init__(wl, device, data)
        torch = self.torch
        self.tdtype = getattr(torch, self.dtype)
        self.scaler = torch.amp.GradScaler(device) if self.dtype == "float16" else None

    def step(self):
        torch = self.torch
        with torch.autocast(device_type=self.device, dtype=self.tdtype):
            loss = self.ce(self.model(self.x), self.y)
        self._loss = _update(loss, self.opt, self.scaler)


class TorchBF16(TorchAutocast):
    name, dtype = "torch-bf16", "bfloat16"


class TorchFP16(TorchAutocast):
    name, dtype = "torch-fp16", "float16"


CLASSES = {"gpugrad-bf16": GpugradBF16, "torch-bf16": TorchBF16, "gpugrad-fp16": GpugradFP16,
           "torch-fp16": TorchFP16}
