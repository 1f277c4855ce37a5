"""State dicts of modules: checking one against a module (every missing, unexpected and
mis-shaped entry named on one line) and loading it in place without half-updates.

:class:`~gpugrad.nn.Module` exposes these as ``check_state_dict`` / ``load_state_dict``.
``to_torch_state_dict`` / ``from_torch_state_dict`` convert to and from PyTorch's layout
(``nn.Linear`` weights are ``(out_features, in_features)``, gpugrad's the transpose).

>>> import gpugrad as gg
>>> a, b = gg.nn.Linear(2, 3), gg.nn.Linear(2, 3)
>>> load_state_dict(b, a.state_dict())
IncompatibleKeys(missing_keys=[], unexpected_keys=[])
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from .. import backend
from ..tensor import Tensor

__all__ = ["StateDictError", "IncompatibleKeys", "check_state_dict", "load_state_dict",
           "to_torch_state_dict", "from_torch_state_dict"]

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


# ---------------------------------------------------------------- PyTorch's layout
def _host(value):
    """A NumPy copy of a gpugrad tensor, a NumPy/CuPy array or a torch tensor."""
    import numpy as np

    if isinstance(value, Tensor):
        return np.array(value.numpy(), copy=True)
    if hasattr(value, "detach") and hasattr(value, "cpu"):        # a torch tensor
        return value.detach().cpu().numpy().copy()
    if backend.is_cupy_array(value):
        return value.get()
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        raise StateDictError(f"expected tensors or arrays in the state dict, got "
                             f"{type(value).__name__}")
    return np.array(value, copy=True)


def _torch_layout(module, prefix="", torch_prefix=""):
    """``(gpugrad key, PyTorch key, is a Linear weight, tensor)`` for every entry of
    ``module``'s state dict, in order, as PyTorch lists them: a module reused in several
    places (``Sequential(lin, ReLU(), lin)``) appears under each of its names.  In a
    Sequential whose children are numbered 0, 1, ..., a Linear with a fused activation takes
    two PyTorch slots (``nn.Linear`` then the activation)."""
    from .containers import Sequential
    from .linear import Linear

    for store, skip in ((module._parameters, ()), (module._buffers, module._non_persistent)):
        for name, t in store.items():
            if t is not None and name not in skip:
                yield (prefix + name, torch_prefix + name,
                       isinstance(module, Linear) and name == "weight", t)
    children = list(module._modules.items())
    numbered = isinstance(module, Sequential) and \
        [name for name, _ in children] == [str(i) for i in range(len(children))]
    slot = 0
    for name, child in children:
        if child is None:
            continue
        torch_name = str(slot) if numbered else name
        yield from _torch_layout(child, f"{prefix}{name}.", f"{torch_prefix}{torch_name}.")
        slot += 2 if numbered and isinstance(child, Linear) and child.activation else 1


def _heuristic_layout(state):
    return [(k, k, (k == "weight" or k.endswith(".weight")) and len(getattr(v, "shape", ())) == 2,
             v) for k, v in state.items()]


def to_torch_state_dict(model_or_state, numpy: bool = False) -> OrderedDict:
    """A gpugrad model's weights in PyTorch's ``nn.Linear`` layout, for
    ``torch_model.load_state_dict(...)``.

    gpugrad's Linear weight is ``(in_features, out_features)`` (``y = x @ W + b``); PyTorch's
    is ``(out_features, in_features)`` (``y = x @ W.T + b``): every Linear weight is
    transposed, biases are kept.  Given a **model**, keys are renamed for a
    ``torch.nn.Sequential`` that spells each fused activation as its own module: gpugrad's
    ``MLP([4, 16, 3])`` (keys ``0.*``, ``1.*``) maps onto
    ``torch.nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))`` (keys ``0.*``,
    ``2.*``); Dropout and separate activation modules keep their slot.  Given a **state
    dict**, keys are kept and every 2-D ``weight`` / ``*.weight`` entry is transposed.

    Returns an OrderedDict of new (contiguous, unshared) ``torch.Tensor``s of the same dtypes,
    or of NumPy arrays with ``numpy=True`` (no PyTorch needed).  Raises ImportError when
    PyTorch is missing and ``numpy`` is False; StateDictError for a non-array entry.

    >>> import gpugrad as gg
    >>> sd = to_torch_state_dict(gg.nn.MLP([4, 16, 3]), numpy=True)
    >>> [(k, v.shape) for k, v in sd.items()]
    [('0.weight', (16, 4)), ('0.bias', (16,)), ('2.weight', (3, 16)), ('2.bias', (3,))]
    """
    from .module import Module

    if isinstance(model_or_state, Module):
        layout = list(_torch_layout(model_or_state))
    elif hasattr(model_or_state, "items"):
        layout = _heuristic_layout(model_or_state)
    else:
        raise TypeError(f"to_torch_state_dict: expected a gpugrad Module or a state dict, got "
                        f"{type(model_or_state).__name__}")
    out = OrderedDict()
    for _, torch_key, is_weight, value in layout:
        arr = _host(value)
        out[torch_key] = arr.T.copy() if is_weight else arr
    if numpy:
        return out
    try:
        import torch
    except ImportError:
        raise ImportError("to_torch_state_dict needs PyTorch to return torch tensors (pip "
                          "install torch), or pass numpy=True for NumPy arrays") from None
    return OrderedDict((k, torch.from_numpy(v)) for k, v in out.items())


def from_torch_state_dict(state, model=None) -> OrderedDict:
    """The inverse of :func:`to_torch_state_dict`: a PyTorch state dict (or a ``torch.nn``
    module) in gpugrad's layout, as NumPy arrays for ``model.load_state_dict(...)``.

    Every Linear weight ``(out_features, in_features)`` is transposed to gpugrad's
    ``(in_features, out_features)``.  With ``model`` (the gpugrad module to load into), keys
    follow the same renaming as :func:`to_torch_state_dict` (PyTorch's ``2.weight`` of
    ``Sequential(Linear, ReLU, Linear)`` is gpugrad's ``1.weight`` of ``MLP([...])``), and
    the result is checked against ``model``; without it, keys are kept and every 2-D
    ``weight`` entry is transposed.  A tensor the model shares between several places (a
    module reused in a Sequential, a tied weight) has one PyTorch key per place, as PyTorch
    lists them; all of them must hold the same values.

    Raises StateDictError naming every missing or unexpected PyTorch key, every shape that
    does not fit ``model``, and the keys of a shared tensor that hold different values.

    >>> import gpugrad as gg
    >>> sd = to_torch_state_dict(gg.nn.MLP([4, 16, 3]), numpy=True)
    >>> model = gg.nn.MLP([4, 16, 3])
    >>> model.load_state_dict(from_torch_state_dict(sd, model))
    IncompatibleKeys(missing_keys=[], unexpected_keys=[])
    """
    if callable(getattr(state, "state_dict", None)) and not hasattr(state, "items"):
        state = state.state_dict()                       # a torch.nn.Module
    if not hasattr(state, "items"):
        raise StateDictError(f"from_torch_state_dict: expected a state dict (a mapping of "
                             f"names to tensors), got {type(state).__name__}")
    if model is None:
        return OrderedDict((k, _host(state[k]).T.copy() if is_weight else _host(state[k]))
                           for k, _, is_weight, _ in _heuristic_layout(state))
    entries = list(_torch_layout(model))
    layout = {torch_key: (key, is_weight) for key, torch_key, is_weight, _ in entries}
    missing = [k for k in layout if k not in state]
    unexpected = [k for k in state if k not in layout]
    if missing or unexpected:
        parts = [f"missing keys {missing}"] if missing else []
        parts += [f"unexpected keys {unexpected}"] if unexpected else []
        raise StateDictError(f"cannot convert the PyTorch state dict for "
                             f"{type(model).__name__}: {'; '.join(parts)} (expected PyTorch "
                             f"keys {list(layout)})")
    values, source = {}, {}                 # by tensor: a shared one is reached repeatedly
    for key, torch_key, is_weight, t in entries:
        arr = _host(state[torch_key])
        if is_weight and arr.ndim != 2:
            raise StateDictError(f"from_torch_state_dict: {torch_key!r} is a Linear weight; "
                                 f"expected 2 dimensions, got shape {arr.shape}")
        arr = arr.T.copy() if is_weight else arr
        seen = values.get(id(t))
        if seen is not None and (seen.shape != arr.shape or not _same_values(seen, arr)):
            raise StateDictError(
                f"from_torch_state_dict: {source[id(t)]!r} and {torch_key!r} are one shared "
                f"tensor of the {type(model).__name__} but hold different values in the "
                f"PyTorch state dict; expected equal tensors")
        values.setdefault(id(t), arr)
        source.setdefault(id(t), torch_key)
    out = OrderedDict((key, values[id(t)]) for key, t in state_targets(model).items()
                      if id(t) in values)
    check_state_dict(model, out)
    return out


def _same_values(a, b):
    import numpy as np

    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"))
