"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both work in place on ``.grad`` arrays on any device, under that device (work on ``cuda:1``
runs on device 1 whatever device is current), and never synchronize the GPU (the norm stays
a device scalar) unless ``error_if_nonfinite`` asks for a check.

Norms never overflow in a gradient's own low precision: each gradient's norm accumulates in
at least float32 (float64 for float64 gradients, and always on the CPU), the total in the
widest of those, and each gradient is then scaled in its own dtype.  Complex gradients count
by their absolute values (as in PyTorch).

>>> import gpugrad as gg
>>> p = gg.nn.Parameter(gg.zeros(2)); p.grad = gg.tensor([3.0, 4.0])
>>> clip_grad_norm_([p], max_norm=1.0).item()
5.0
>>> [round(v, 4) for v in p.grad.tolist()]
[0.6, 0.8]
"""
from __future__ import annotations

import math

import numpy as np

from .. import capture_hooks
from ..backend import array_device, get_array_module, on_device_of
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    """The gradient tensors of ``parameters`` (those without one are skipped), each holding an
    array: a NumPy scalar (``np.generic``) gradient is replaced by the equal 0-d array, so that
    in-place work on it reaches the gradient."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    out = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected tensors (parameters), got {type(p).__name__}")
        g = p.grad
        if g is None:
            continue
        if isinstance(g.data, np.generic):
            g.data = np.array(g.data)
        out.append(g)
    return out


def _listed(parameters):
    """``parameters`` as a list (a generator is read once, at recording)."""
    return parameters if isinstance(parameters, Tensor) else list(parameters)


def _accumulation_dtype(g, dev):
    """float64 on the CPU and for 64-bit (real or complex) gradients, else float32."""
    if dev.type == "cpu" or g.dtype.itemsize >= (16 if g.dtype.kind == "c" else 8):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def _result_dtype(grads):
    """The dtype of the returned norm: the widest real dtype of the gradients, at least
    float32 (a float16 gradient's norm can exceed float16's range)."""
    wide = any(g.dtype.itemsize >= (16 if g.dtype.kind == "c" else 8) for g in grads)
    return np.dtype(np.float64 if wide else np.float32)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their total ``norm_type``-norm is at most
    ``max_norm``; returns the total norm before clipping (PyTorch's semantics: the scale is
    ``min(1, max_norm / (norm + 1e-6))``), as float32 or float64 (the widest of the
    gradients' real dtypes, at least float32), on the gradients' device.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(3)); p.grad = gg.tensor([1.0, -2.0, 2.0])
    >>> clip_grad_norm_(p, 10.0).item(), p.grad.tolist()
    (3.0, [1.0, -2.0, 2.0])
    >>> h = gg.nn.Parameter(gg.zeros(2, dtype="float16"))
    >>> h.grad = gg.tensor([300.0, 4.0], dtype="float16")
    >>> round(clip_grad_norm_(h, 1.0).item(), 2), [round(v, 3) for v in h.grad.tolist()]
    (300.03, [1.0, 0.013])
    """
    if capture_hooks.is_recording():  # gpugrad.compile: each
        return capture_hooks.host_call(clip_grad_norm_, _listed(parameters), max_norm,  # replay
                                       norm_type, error_if_nonfinite)                   # clips
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: expected max_norm >= 0, got {max_norm!r}")
    norm_type = float(norm_type)
    if not (norm_type > 0):
        raise ValueError(f"clip_grad_norm_: expected norm_type > 0 or inf, got {norm_type!r}")
    tensors = _grads(parameters)
    if not tensors:  # no device to take it from: the default one (PyTorch: torch.tensor(0.0))
        from ..creation import zeros
        return zeros((), dtype="float32")
    grads = [t.data for t in tensors]
    dev = array_device(grads[0])
    devices = [array_device(g) for g in grads]
    if any(d != dev for d in devices):
        seen = sorted({str(d) for d in devices})
        raise ValueError(f"clip_grad_norm_: expected all gradients on one device, got "
                         f"gradients on {', '.join(seen)}")
    xp = get_array_module(grads[0])
    total_dtype = np.dtype(np.float64 if dev.type == "cpu" else _result_dtype(grads))
    with on_device_of(grads[0]):
        per = []
        for g in grads:
            acc = _accumulation_dtype(g, dev)
            if g.size == 0:
                per.append(xp.zeros((), dtype=total_dtype))
                continue
            a = xp.abs(g)                       # real for complex gradients; a copy
            if math.isinf(norm_type):
                part = a.max()                  # exact in any dtype
            else:
                a = a.astype(acc, copy=False)
                if norm_type == 2.0:
                    part = (a * a).sum()
                elif norm_type == 1.0:
                    part = a.sum()
                else:
                    part = (a ** norm_type).sum()
            per.append(part.astype(total_dtype))
        parts = xp.stack(per)
        if math.isinf(norm_type):
            total = parts.max()
        elif norm_type == 1.0:
            total = parts.sum()
        elif norm_type == 2.0:
            total = xp.sqrt(parts.sum())
        else:
            total = parts.sum() ** (1.0 / norm_type)
        if error_if_nonfinite and not bool(xp.isfinite(total)):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                               f"gradients is non-finite ({float(total)}); pass "
                               f"error_if_nonfinite=False to clip anyway")
        coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
        for g in grads:
            if g.dtype.kind == "f" and g.dtype.itemsize < 4:  # float16: one rounding
                xp.multiply(g, coef.astype(np.float32), out=g)
            else:
                g *= coef.astype(g.dtype)
        result = xp.asarray(total.astype(_result_dtype(grads)))
    return Tensor._make(result)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place (real gradients
    only: complex numbers have no order).

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(2)); p.grad = gg.tensor([-5.0, 0.5])
    >>> clip_grad_value_([p], 1.0); p.grad.tolist()
    [-1.0, 0.5]
    """
    if capture_hooks.is_recording():  # gpugrad.compile
        return capture_hooks.host_call(clip_grad_value_, _listed(parameters), clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: expected clip_value >= 0, got {clip_value!r}")
    tensors = _grads(parameters)
    for t in tensors:
        if t.data.dtype.kind == "c":
            raise TypeError(f"clip_grad_value_: complex gradients ({t.data.dtype}) cannot be "
                            f"clamped; use clip_grad_norm_")
    for t in tensors:
        g = t.data
        # a bound beyond a float16 gradient's range casts to inf, clamping nothing (no warning)
        with on_device_of(g), np.errstate(over="ignore"):
            get_array_module(g).clip(g, -clip_value, clip_value, out=g)
