"""Small helpers of :class:`gpugrad.nn.Module`: its empty stores, the check of a member's name,
and one parameter's ``zero_grad``."""
from __future__ import annotations

from collections import OrderedDict


def _init_stores(m):
    object.__setattr__(m, "_parameters", OrderedDict())
    object.__setattr__(m, "_buffers", OrderedDict())
    object.__setattr__(m, "_non_persistent", set())
    object.__setattr__(m, "_modules", OrderedDict())
    object.__setattr__(m, "training", True)


def _check_name(name, module):
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"expected a non-empty name without '.', got {name!r}")
    if hasattr(type(module), name):
        raise KeyError(f"{name!r} clashes with an attribute of {type(module).__name__}")


def _zero_grad(p, set_to_none):
    if p.grad is None:
        return
    if set_to_none:
        p.grad = None
    else:
        p.grad.data[...] = 0
