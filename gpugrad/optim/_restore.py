"""Restoring an optimizer from a state dict in two phases: :func:`stage` checks everything
and prepares every value (arrays moved to their parameter's device and dtype) without
touching the optimizer; :func:`apply` then writes, and nothing it does can fail on the
input.  So a load that raises leaves the optimizer exactly as it was.

The hyper-parameters of each group go through the optimizer's own ``_check_hyper`` -- the
checks its constructor applies -- and each state array must be a floating array of its
parameter's shape whose values stay finite in the parameter's dtype.

>>> import gpugrad as gg
>>> p = gg.nn.Parameter(gg.zeros(2)); opt = gg.optim.SGD([p], lr=0.1, momentum=0.9)
>>> sd = opt.state_dict(); sd["param_groups"][0]["momentum"] = -1
>>> stage(opt, sd)
Traceback (most recent call last):
...
gpugrad.nn.state_dict.StateDictError: cannot load into SGD (parameter group 0): ... got -1
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..nn.state_dict import StateDictError
from ..tensor import Tensor
from .param_state import ParamState

__all__ = ["stage", "apply"]


def stage(opt, sd):
    """``(groups, state)``: each group's checked hyper-parameters, and ``(param, {name:
    value})`` for each parameter with state (arrays on the parameter's device and dtype);
    :class:`StateDictError` naming the first thing that does not fit.  Changes nothing.
    """
    name = type(opt).__name__
    if not isinstance(sd, dict) or "state" not in sd or "param_groups" not in sd:
        raise StateDictError(f"cannot load into {name}: expected a dict with 'state' and "
                             f"'param_groups', got "
                             f"{sorted(sd) if isinstance(sd, dict) else type(sd).__name__}")
    extra = sorted(str(k) for k in sd if k not in ("state", "param_groups"))
    if extra:  # (PyTorch ignores them; here a key this optimizer never writes is a mistake)
        raise StateDictError(f"cannot load into {name}: unknown key(s) {', '.join(extra)}; "
                             f"expected only 'state' and 'param_groups'")
    groups = _stage_groups(opt, sd["param_groups"], name)
    mapping = {}
    for gi, (saved, mine) in enumerate(zip(sd["param_groups"], opt.param_groups)):
        for i, p in zip(saved["params"], mine["params"]):
            if i in mapping:
                raise StateDictError(f"cannot load into {name}: parameter id {i!r} appears "
                                     f"more than once in the state dict's param_groups")
            mapping[i] = p
    state = sd["state"]
    if not isinstance(state, dict):
        raise StateDictError(f"cannot load into {name}: expected 'state' to be a dict, got "
                             f"{type(state).__name__}")
    staged = []
    for key, entry in state.items():
        p = mapping.get(key)
        if p is None:
            raise StateDictError(f"cannot load into {name}: state for parameter {key!r}, "
                                 f"which no parameter group lists")
        if not isinstance(entry, dict):
            raise StateDictError(f"cannot load into {name}: expected a dict of state for "
                                 f"parameter {key!r}, got {type(entry).__name__}")
        clean = {}
        for k, v in entry.items():
            if k in opt._array_state:
                clean[k] = _stage_array(v, p, f"{name}: state {k!r} of parameter {key!r}")
            else:
                clean[k] = opt._check_scalar_state(k, v, key)
        missing = [k for k in opt._required_state(p, entry) if k not in entry]
        if missing:
            raise StateDictError(f"cannot load into {name}: state of parameter {key!r} "
                                 f"lacks {missing}")
        staged.append((p, clean))
    return groups, staged


def _stage_groups(opt, groups, name):
    if not isinstance(groups, (list, tuple)) or len(groups) != len(opt.param_groups):
        n = len(groups) if isinstance(groups, (list, tuple)) else groups
        raise StateDictError(f"cannot load into {name}: the state dict has {n} parameter "
                             f"groups, the optimizer has {len(opt.param_groups)}")
    out = []
    for gi, (saved, mine) in enumerate(zip(groups, opt.param_groups)):
        if not isinstance(saved, dict):
            raise StateDictError(f"cannot load into {name}: expected parameter group {gi} to "
                                 f"be a dict, got {type(saved).__name__}")
        ids = saved.get("params")
        if not isinstance(ids, (list, tuple)) or len(ids) != len(mine["params"]):
            got = len(ids) if isinstance(ids, (list, tuple)) else ids
            raise StateDictError(f"cannot load into {name}: parameter group {gi} has "
                                 f"{got} parameters in the state dict, "
                                 f"{len(mine['params'])} in the optimizer")
        for i in ids:
            if isinstance(i, bool) or not isinstance(i, numbers.Integral):
                raise StateDictError(f"cannot load into {name}: expected integer parameter "
                                     f"ids in parameter group {gi}, got {i!r}")
        merged = {k: v for k, v in mine.items() if k != "params"}
        merged.update((k, v) for k, v in saved.items() if k != "params")
        try:
            out.append(opt._check_hyper(merged, f"parameter group {gi}"))
        except (TypeError, ValueError) as exc:
            raise StateDictError(f"cannot load into {exc}") from None
    return out


def _stage_array(v, p, where):
    arr = v.data if isinstance(v, Tensor) else v
    dtype, shape = getattr(arr, "dtype", None), getattr(arr, "shape", None)
    if shape is None or getattr(dtype, "kind", None) is None:
        raise StateDictError(f"cannot load into {where} is a {type(v).__name__}; expected an "
                             f"array of shape {tuple(p.shape)}")
    if tuple(shape) != tuple(p.shape):
        raise StateDictError(f"cannot load into {where} has shape {tuple(shape)}, the "
                             f"parameter has shape {tuple(p.shape)}")
    if dtype.kind != "f":
        raise StateDictError(f"cannot load into {where} has dtype {dtype}; expected a "
                             f"floating dtype (the parameter is {p.dtype})")
    dev = p.device
    arr = backend.to_device(arr, dev)
    with dev._activated(), np.errstate(over="ignore"):       # an overflow is refused below
        if arr.dtype != p.dtype:
            arr = arr.astype(p.dtype)
        finite = bool(dev.xp.isfinite(arr).all())
    if not finite:
        cast = "" if dtype == p.dtype else f" (as {p.dtype}, from {dtype})"
        raise StateDictError(f"cannot load into {where} has NaN or infinite values{cast}; "
                             f"expected finite values")
    return arr


def apply(opt, staged) -> None:
    """Write what :func:`stage` prepared: group hyper-parameters, then the state (arrays
    copied into the flat state buffers)."""
    groups, state = staged
    for mine, clean in zip(opt.param_groups, groups):
        mine.update(clean)
    where = {id(p): (flat, i) for flat in opt._flats for i, p in enumerate(flat.params)}
    opt.state = ParamState()
    for p, clean in state:
        flat, i = where[id(p)]
        st = opt.state[p] = {}
        for k, v in clean.items():
            if k in opt._array_state:
                view = flat.state_view(k, i)
                with flat.device._activated():
                    flat.xp.copyto(view, v)
                st[k] = view
            else:
                st[k] = v
