"""``GradScaler``: dynamic loss scaling for float16 training, with PyTorch's semantics.

float16 gradients underflow to zero below 6e-8; multiplying the loss by a large scale keeps
them representable.  Each step: ``scaler.scale(loss).backward()``, then ``scaler.step(opt)``
(unscales the gradients, and skips the update when any is inf or NaN), then
``scaler.update()`` (halves the scale after an overflow, doubles it after ``growth_interval``
clean steps in a row).

The scale, the growth counter and the found-inf flag are arrays on the parameters' device.
On the CPU ``step`` reads the flag (a free "sync"); on CUDA nothing reads it on the host, so
a step never waits for the GPU: gpugrad's SGD and Adam(W) hand the flag to their fused
kernels, which write nothing where it is set, and keep the counts that the update depends on
on the device (Adam's ``step`` becomes a 0-d device array, as in PyTorch's capturable Adam;
SGD's first-step flag likewise), so a skipped step changes no weight, buffer or count.  Other
optimizers' steps run and are undone on the device (every parameter and optimizer buffer
restored from a copy where the flag is set); their host-side counters do advance.

>>> import gpugrad as gg
>>> w = gg.nn.Parameter(gg.ones(2)); opt = gg.optim.SGD([w], lr=0.1)
>>> scaler = GradScaler(init_scale=1024.0)
>>> scaler.scale((w * w).sum()).backward()
>>> scaler.step(opt); scaler.update(); w.tolist(), scaler.get_scale()
([0.800000011920929, 0.800000011920929], 1024.0)
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import capture_hooks
from ..backend import array_device, get_array_module, to_device
from ..tensor import Tensor

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = 0, 1, 2


class GradScaler:
    """Dynamic loss scaling (``torch.amp.GradScaler``'s defaults and rules).

    ``init_scale`` 2**16, ``growth_factor`` 2.0, ``backoff_factor`` 0.5, ``growth_interval``
    2000; ``enabled=False`` turns every method into a pass-through (``scale`` returns its
    input, ``step`` just steps).  Errors: ValueError for a growth factor <= 1, a backoff
    factor outside (0, 1), a non-positive interval or scale; RuntimeError for ``unscale_``
    twice before ``update``, ``step`` with a closure, or ``step`` for an optimizer none of
    whose parameters has a gradient (then ``update`` with no other step: PyTorch's "No inf
    checks were recorded"); ValueError from ``unscale_``/``step``
    for a float16 gradient (as PyTorch: keep float32 parameters under float16 autocast).

    >>> GradScaler().state_dict()["scale"]
    65536.0
    """

    def __init__(self, device=None, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if not init_scale > 0:
            raise ValueError(f"GradScaler: expected init_scale > 0, got {init_scale!r}")
        if not growth_factor > 1.0:
            raise ValueError(f"GradScaler: expected growth_factor > 1, got {growth_factor!r}")
        if not 0.0 < backoff_factor < 1.0:
            raise ValueError(f"GradScaler: expected backoff_factor in (0, 1), got "
                             f"{backoff_factor!r}")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval,
                                                               numbers.Integral) \
                or growth_interval <= 0:
            raise ValueError(f"GradScaler: expected a positive int growth_interval, got "
                             f"{growth_interval!r}")
        self.device = device  # informational: the arrays follow the first scaled output
        self._init_scale = float(init_scale)
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._enabled = bool(enabled)
        self._scale = self._tracker = None      # 1-element arrays, made by the first scale()
        self._found = {}                        # id(optimizer) -> (found-inf array, stage)

    # ------------------------------------------------------------ scaling
    def _scale_on(self, like):
        """The scale (a 1-element array) on the device of array ``like``: made there by the
        first ``scale()``; a scale held elsewhere (restored by :meth:`load_state_dict`, which
        has no device to go by, or used before on another device) moves there with the
        growth counter, as PyTorch's scale follows its outputs.  Between an inf check and
        ``update()`` it stays put and a copy scales (the checks' flags live by it)."""
        dev = array_device(like)
        if self._scale is None:
            self._scale = to_device(np.full((1,), self._init_scale, dtype=np.float32), dev)
            self._tracker = to_device(np.zeros((1,), dtype=np.int32), dev)
        if array_device(self._scale) == dev:
            return self._scale
        if self._found:
            return to_device(self._scale, dev)
        self._scale, self._tracker = to_device(self._scale, dev), to_device(self._tracker, dev)
        return self._scale

    def scale(self, outputs):
        """``outputs`` (a tensor, or a list/tuple of them) times the current scale.

        >>> import gpugrad as gg
        >>> GradScaler(init_scale=4.0).scale(gg.tensor(1.5)).item()
        6.0
        """
        if not self._enabled:
            return outputs
        _refuse_in_capture("scale")
        if isinstance(outputs, Tensor):
            return outputs * Tensor._make(self._scale_on(outputs.data).reshape(()))
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TypeError(f"GradScaler.scale: expected a Tensor or a list/tuple of Tensors, got "
                        f"{type(outputs).__name__}")

    def _params(self, optimizer):
        return [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale in place (to clip them, say) and
        record whether any is inf/NaN.  At most once per optimizer between updates."""
        if not self._enabled:
            return
        _refuse_in_capture("unscale_")
        stage = self._found.get(id(optimizer), (None, _READY))[1]
        if stage == _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if stage == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        self._check_scaled("unscale_")
        params = self._params(optimizer)
        for p in params:   # checked before any gradient changes
            if p.grad.dtype == np.float16:
                raise ValueError(
                    f"GradScaler.unscale_: expected float32 (or bfloat16/float64) gradients, "
                    f"got a float16 gradient for a parameter of shape {tuple(p.shape)}: "
                    f"unscaled in float16 it would flush to zero below 6e-8 (as PyTorch: "
                    f"\"Attempting to unscale FP16 gradients\"). Keep float32 parameters and "
                    f"let autocast run the products in float16")
        xp = get_array_module(self._scale)
        found = xp.zeros((1,), dtype=bool)
        inv = (1.0 / self._scale.astype(np.float64)).astype(np.float32)
        for p in params:
            g = p.grad.data
            if g.dtype == np.float32:
                g *= inv
            else:   # bfloat16, float64: the product with the float32 1/scale, rounded once
                g[...] = g * inv
            found |= ~xp.isfinite(g).all()
        # no gradient: nothing checked (None), so step() refuses and update() counts none
        self._found[id(optimizer)] = (found if params else None, _UNSCALED)

    def step(self, optimizer, *args, **kwargs):
        """Unscale (unless :meth:`unscale_` did) and run ``optimizer.step()`` unless a
        gradient is inf/NaN; returns its result, or None when the step was skipped."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        _refuse_in_capture("step")
        if "closure" in kwargs or args:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        found, stage = self._found.get(id(optimizer), (None, _READY))
        if stage == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if stage == _READY:
            self.unscale_(optimizer)
            found = self._found[id(optimizer)][0]
        if found is None:
            raise RuntimeError("No inf checks were recorded for this optimizer: none of its "
                               "parameters has a gradient (expected "
                               "scaler.scale(loss).backward() before scaler.step)")
        self._found[id(optimizer)] = (found, _STEPPED)
        if get_array_module(found) is np:      # the CPU: reading the flag costs nothing
            return None if bool(found[0]) else optimizer.step()
        if getattr(optimizer, "_fused_found_inf", False):   # skipped inside its kernels
            optimizer._found_inf = found
            try:
                return optimizer.step()
            finally:
                optimizer._found_inf = None
        return _masked_step(optimizer, found)

    def update(self, new_scale=None) -> None:
        """Adjust the scale: times ``backoff_factor`` if any stepped optimizer found inf/NaN
        (the growth counter restarts), times ``growth_factor`` after ``growth_interval``
        clean steps; or set it to ``new_scale`` (a number or a 1-element tensor)."""
        if not self._enabled:
            return
        self._check_scaled("update")
        xp = get_array_module(self._scale)
        if new_scale is not None:
            v = new_scale.data if isinstance(new_scale, Tensor) else new_scale
            if getattr(v, "size", 1) != 1:
                raise ValueError(f"GradScaler.update: expected new_scale as a number or a "
                                 f"one element tensor, got shape {tuple(v.shape)}")
            self._scale[...] = xp.asarray(v, dtype=np.float32).reshape(-1)[:1] \
                if hasattr(v, "shape") else np.float32(v)
        else:
            flags = [f for f, _ in self._found.values() if f is not None]
            if not flags:
                raise RuntimeError("No inf checks were recorded prior to update.")
            found = flags[0]
            for f in flags[1:]:
                found = found | f
            grown = self._tracker + 1
            grow = (grown >= self._growth_interval) & ~found
            big, small = self._times(self._growth_factor), self._times(self._backoff_factor)
            new = xp.where(found, small, xp.where(grow & xp.isfinite(big), big, self._scale))
            self._tracker[...] = xp.where(found | grow, 0, grown)
            self._scale[...] = new
        self._found = {}

    def _times(self, factor):
        """The scale times ``factor`` as PyTorch computes it: in double, rounded once to
        float32 (inf past float32's range)."""
        with np.errstate(over="ignore"):
            return (self._scale.astype(np.float64) * factor).astype(np.float32)

    def _check_scaled(self, method):
        """PyTorch's check: no scale yet means no scale() call (nor load_state_dict) came
        first, so the gradients were never multiplied by it."""
        if self._scale is None:
            raise RuntimeError(f"GradScaler.{method}(): no scale yet -- call "
                               f"scaler.scale(loss).backward() first (the gradients were not "
                               f"scaled, so unscaling them would divide them by "
                               f"{self._init_scale:g})")

    # ------------------------------------------------------------ state
    def get_scale(self) -> float:
        """The current scale as a Python float (reads it from the device)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale[0])

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def is_enabled(self) -> bool:
        return self._enabled

    def _get_growth_tracker(self) -> int:
        return 0 if self._tracker is None else int(self._tracker[0])

    def state_dict(self) -> dict:
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval,
        _growth_tracker (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict) -> None:
        """Restore from :meth:`state_dict` (a PyTorch GradScaler's works too)."""
        if not self._enabled:
            return
        if not state_dict:
            raise RuntimeError("The source state dict is empty, possibly because it was "
                               "saved from a disabled instance of GradScaler.")
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval",
                   "_growth_tracker"} - set(state_dict)
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing {sorted(missing)}")
        self._init_scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        xp = np if self._scale is None else get_array_module(self._scale)
        self._scale = xp.full((1,), self._init_scale, dtype=np.float32)
        self._tracker = xp.full((1,), int(state_dict["_growth_tracker"]), dtype=np.int32)


def _masked_step(optimizer, found):
    """``optimizer.step()`` undone on the device where ``found`` is set: no host sync.  Every
    flat parameter buffer and optimizer state buffer is copied before the step and copied
    back under the flag after it (buffers the step created are zeroed under the flag)."""
    flats = getattr(optimizer, "_flats", None)
    if flats is None:
        raise TypeError(f"GradScaler: expected a gpugrad optimizer (with flat buffers) on "
                        f"CUDA, got {type(optimizer).__name__}")
    xp = get_array_module(found)
    saved = [(f, f.data.copy(), {k: v.copy() for k, v in f._state.items()}) for f in flats]
    out = optimizer.step()
    keep = found.reshape(())
    for f, data, states in saved:
        xp.copyto(f.data, data, where=keep)
        f.low = None           # its 16-bit copies may hold the undone step: made again on use
        for k, buf in f._state.items():
            old = states.get(k)
            xp.copyto(buf, old if old is not None else xp.zeros_like(buf), where=keep)
    return out


def _refuse_in_capture(method):
    """A clear refusal inside a step that gpugrad.compile records: dynamic loss scaling
    decides each step on values (the found-inf flag, the growth counter)."""
    if capture_hooks._on and capture_hooks.active() is not None:
        raise capture_hooks.CaptureError(
            f"GradScaler.{method}() inside a compiled step (gpugrad.compile): dynamic loss "
            f"scaling (float16) skips steps and changes its scale from values that a replay "
            f"cannot follow. Inside a compiled step train in float32 or bfloat16 (autocast "
            f"dtype='bfloat16', or --precision bf16, needs no scaler), or run the float16 "
            f"step with its GradScaler uncompiled")
