"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both work in place on ``.grad`` arrays on any device and never synchronize the GPU (the
norm stays a device scalar) unless ``error_if_nonfinite`` asks for a check.

>>> import gpugrad as gg
>>> p = gg.nn.Parameter(gg.zeros(2)); p.grad = gg.tensor([3.0, 4.0])
>>> clip_grad_norm_([p], max_norm=1.0).item()
5.0
>>> [round(v, 4) for v in p.grad.tolist()]
[0.6, 0.8]
"""
from __future__ import annotations

import math

from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    out = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected tensors (parameters), got {type(p).__name__}")
        if p.grad is not None:
            out.append(p.grad.data)
    return out


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their total ``norm_type``-norm is at most
    ``max_norm``; returns the total norm before clipping (PyTorch's semantics: the scale is
    ``min(1, max_norm / (norm + 1e-6))``).

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(3)); p.grad = gg.tensor([1.0, -2.0, 2.0])
    >>> clip_grad_norm_(p, 10.0).item(), p.grad.tolist()
    (3.0, [1.0, -2.0, 2.0])
    """
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: expected max_norm >= 0, got {max_norm!r}")
    norm_type = float(norm_type)
    if not (norm_type > 0):
        raise ValueError(f"clip_grad_norm_: expected norm_type > 0 or inf, got {norm_type!r}")
    grads = _grads(parameters)
    if not grads:  # no device to take it from: the default one (PyTorch: torch.tensor(0.0))
        from ..creation import zeros
        return zeros((), dtype="float32")
    xp = get_array_module(grads[0])
    dev = type(grads[0])
    if any(type(g) is not dev for g in grads):
        raise ValueError("clip_grad_norm_: expected all gradients on one device")
    if math.isinf(norm_type):
        per = [xp.abs(g).max() if g.size else xp.zeros((), g.dtype) for g in grads]
        total = xp.stack([p.astype(grads[0].dtype) for p in per]).max()
    else:
        per = [(xp.abs(g) ** norm_type).sum() if norm_type != 2.0 else (g * g).sum()
               for g in grads]
        total = xp.stack([p.astype(grads[0].dtype) for p in per]).sum() ** (1.0 / norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is non-finite ({float(total)}); pass "
                           f"error_if_nonfinite=False to clip anyway")
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= coef.astype(g.dtype)
    return Tensor._make(xp.asarray(total))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(2)); p.grad = gg.tensor([-5.0, 0.5])
    >>> clip_grad_value_([p], 1.0); p.grad.tolist()
    [-1.0, 0.5]
    """
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: expected clip_value >= 0, got {clip_value!r}")
    for g in _grads(parameters):
        get_array_module(g).clip(g, -clip_value, clip_value, out=g)
