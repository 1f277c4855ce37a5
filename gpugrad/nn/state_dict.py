"""State dicts of modules: checking one against a module (every missing, unexpected and
mis-shaped entry named on one line) and loading it in place without half-updates.

:class:`~gpugrad.nn.Module` exposes these as ``check_state_dict`` / ``load_state_dict``.

>>> import gpugrad as gg
>>> a, b = gg.nn.Linear(2, 3), gg.nn.Linear(2, 3)
>>> load_state_dict(b, a.state_dict())
IncompatibleKeys(missing_keys=[], unexpected_keys=[])
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend
from ..tensor import Tensor

__all__ = ["StateDictError", "IncompatibleKeys", "check_state_dict", "load_state_dict"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(RuntimeError):
    """A state dict does not fit the module or optimizer (missing, unexpected or mis-shaped
    entries); the message names each on one line.

    >>> import gpugrad as gg
    >>> gg.nn.Linear(2, 2).load_state_dict({})
    Traceback (most recent call last):
    ...
    gpugrad.nn.state_dict.StateDictError: cannot load the state dict into Linear: missing keys ...
    """


def state_targets(module) -> OrderedDict:
    """The tensors a state dict fills: parameters and persistent buffers by dotted name."""
    targets = OrderedDict()
    for mod_prefix, mod in module.named_modules():
        for store, skip in ((mod._parameters, ()), (mod._buffers, mod._non_persistent)):
            for name, t in store.items():
                if t is not None and name not in skip:
                    targets[f"{mod_prefix}.{name}" if mod_prefix else name] = t
    return targets


def check_state_dict(module, state_dict, strict: bool = True) -> IncompatibleKeys:
    """Validate ``state_dict`` against ``module`` without changing anything; raise
    :class:`StateDictError` naming every problem (missing and unexpected keys only when
    ``strict``; shape and dtype-kind mismatches always).

    >>> import gpugrad as gg
    >>> check_state_dict(gg.nn.Linear(2, 2), {"weight": gg.zeros(2, 2)}, strict=False)
    IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])
    """
    if not hasattr(state_dict, "items"):
        raise StateDictError(f"expected a state dict (a mapping of names to tensors), got "
                             f"{type(state_dict).__name__}")
    targets = state_targets(module)
    missing = [k for k in targets if k not in state_dict]
    unexpected = [k for k in state_dict if k not in targets]
    problems = []
    for key, t in targets.items():
        if key not in state_dict:
            continue
        value = state_dict[key]
        arr = value.data if isinstance(value, Tensor) else value
        if not hasattr(arr, "shape") or not hasattr(arr, "dtype"):
            problems.append(f"{key!r}: expected an array, got {type(value).__name__}")
        elif tuple(arr.shape) != tuple(t.shape):
            problems.append(f"shape mismatch for {key!r}: the model has {tuple(t.shape)}, "
                            f"the state dict has {tuple(arr.shape)}")
        elif arr.dtype.kind not in "fiub" or (t.dtype.kind == "f") != (arr.dtype.kind == "f"):
            problems.append(f"dtype mismatch for {key!r}: the model has {t.dtype.name}, "
                            f"the state dict has {arr.dtype.name}")
    if strict:
        head = [f"missing keys {missing}"] if missing else []
        head += [f"unexpected keys {unexpected}"] if unexpected else []
        problems = head + problems
    if problems:
        raise StateDictError(f"cannot load the state dict into {type(module).__name__}: "
                             + "; ".join(problems))
    return IncompatibleKeys(missing, unexpected)


def load_state_dict(module, state_dict, strict: bool = True) -> IncompatibleKeys:
    """Check, then copy every entry into ``module``'s tensors in place (moved to their device,
    cast to their dtype); on any problem nothing is changed."""
    result = check_state_dict(module, state_dict, strict)
    targets = state_targets(module)
    staged = []
    for key, t in targets.items():
        if key in state_dict:
            value = state_dict[key]
            arr = value.data if isinstance(value, Tensor) else value
            arr = backend.to_device(arr, t.device)
            staged.append((t, arr))
    for t, arr in staged:  # all moved and validated: now write
        backend.get_array_module(t.data).copyto(t.data, arr, casting="unsafe")
        t._vc[0] += 1
    return result
