"""The optimizer base class: parameter groups, flat buffers, state dicts.

On construction an optimizer packs its parameters into one flat data buffer and one flat
gradient buffer per (device, dtype) -- each parameter's ``.data`` becomes a view of it, and
autograd writes each parameter's gradient straight into its slice of the gradient buffer --
so that ``step()`` runs one fused kernel per parameter group and buffer instead of one
small op per parameter.  Create the optimizer *after* ``model.to(device/dtype)``.

A ``.grad`` you keep keeps its values, as in PyTorch: ``zero_grad()`` (set_to_none) gives a
kept gradient its own copy, or moves the buffer if its array is held, before the buffer is
reused; when nothing is kept nothing is copied.  ``zero_grad(set_to_none=False)`` zeroes
the same tensors in place (holders see zeros, as in PyTorch).

A parameter whose ``.grad`` is None in a step is skipped exactly as PyTorch skips it (no
weight decay, no momentum or moment update); such a step falls back to one kernel call per
parameter for that group.

>>> import gpugrad as gg
>>> model = gg.nn.Linear(3, 2)
>>> opt = gg.optim.SGD(model.parameters(), lr=0.1)
>>> model.weight.data.base is model.bias.data.base      # both live in one flat buffer
True
"""
from __future__ import annotations

import numbers

from .. import backend
from ..nn.state_dict import StateDictError
from ..tensor import Tensor
from ._flat import FlatBuffer

__all__ = ["Optimizer", "StateDictError"]


class _Required:
    def __repr__(self):
        return "<required>"


required = _Required()


class Optimizer:
    """Base class: subclasses set ``_array_state`` (names of per-parameter arrays) and
    implement ``_update(group, flat, lo, hi, members, whole)``, which updates the parameters
    ``members`` (indices into ``flat``) of one group; ``whole`` says they are all of the
    group's parameters in ``flat``, i.e. exactly the range ``[lo, hi)``.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(2))
    >>> opt = gg.optim.SGD([{"params": [p], "lr": 0.5}], lr=0.1)
    >>> opt.param_groups[0]["lr"]
    0.5
    """

    _array_state: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of tensors or of dicts, got a single "
                            "Tensor; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self._add_group(g)
        self._layout()

    # ------------------------------------------------------------ groups and layout
    def _add_group(self, group):
        if not isinstance(group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(group).__name__}")
        group = dict(group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        params = list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        mine = set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("optimizer can only optimize leaf tensors (not results of "
                                 "operations); use a Parameter or tensor.detach()")
            if p.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating tensors, got dtype "
                                f"{p.dtype.name}")
            if id(p) in seen or id(p) in mine:
                raise ValueError("some parameters appear more than once (in one group or in "
                                 "several); each parameter may be optimized once")
            mine.add(id(p))
        group["params"] = params
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {k!r}")
            group.setdefault(k, v)
        self._check_hyper(group)
        self.param_groups.append(group)

    def _check_hyper(self, group):
        """Validate one group's hyper-parameters (subclasses extend)."""
        lr = group.get("lr")
        if not isinstance(lr, numbers.Real) or not lr >= 0:
            raise ValueError(f"invalid learning rate: expected a number >= 0, got {lr!r}")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest).

        >>> import gpugrad as gg
        >>> a, b = gg.nn.Parameter(gg.zeros(1)), gg.nn.Parameter(gg.zeros(1))
        >>> opt = gg.optim.SGD([a], lr=0.1); opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        self._add_group(param_group)
        self._layout()

    def _layout(self):
        """(Re)pack every parameter into flat buffers, carrying data, grads and state over."""
        order = [p for g in self.param_groups for p in g["params"]]
        by_key = {}
        for p in order:
            by_key.setdefault((p.device, p.dtype), []).append(p)
        self._flats = [FlatBuffer(ps) for ps in by_key.values()]
        where = {}
        for flat in self._flats:
            for i, p in enumerate(flat.params):
                where[id(p)] = (flat, i)
                st = self.state.get(p)
                for name in self._array_state:
                    if st is not None and name in st:
                        view = flat.state_view(name, i)
                        with flat.device._activated():
                            flat.xp.copyto(view, st[name].data if isinstance(st[name], Tensor)
                                           else st[name])
                        st[name] = view
        self._segments = []
        for g in self.param_groups:
            segs = {}
            for p in g["params"]:
                flat, i = where[id(p)]
                segs.setdefault(id(flat), (flat, []))[1].append(i)
            out = []
            for flat, idx in segs.values():
                lo, hi = flat.span(idx[0])[0], flat.span(idx[-1])[1]
                out.append((flat, lo, hi, idx))
            self._segments.append(out)

    # ------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter (None, or zeros in place).

        >>> import gpugrad as gg
        >>> p = gg.nn.Parameter(gg.ones(2)); opt = gg.optim.SGD([p], lr=1.0)
        >>> p.sum().backward(); opt.zero_grad(); p.grad is None
        True
        """
        if set_to_none:
            for flat in self._flats:                 # a gradient still held keeps its values
                with flat.device._activated():
                    flat.clear_grads()
            return
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    p.grad.data[...] = 0               # in place, as PyTorch: holders see zeros

    def step(self, closure=None):
        """Update every parameter from its gradient; returns ``closure()``'s loss if given.

        >>> import gpugrad as gg
        >>> p = gg.nn.Parameter(gg.ones(2)); opt = gg.optim.SGD([p], lr=0.5)
        >>> (p * p).sum().backward(); opt.step(); p.tolist()
        [0.0, 0.0]
        """
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        for group, segments in zip(self.param_groups, self._segments):
            for flat, lo, hi, idx in segments:
                with flat.device._activated():
                    self._step_segment(group, flat, lo, hi, idx)
        return loss

    def _step_segment(self, group, flat, lo, hi, idx):
        """One group's parameters of one flat buffer: gradients in, one fused update."""
        has = []
        for i in idx:
            flat.sync(i)
            has.append(flat.take_grad(i))
        if not any(has):
            return
        members = [i for i, h in zip(idx, has) if h]
        self._update(group, flat, lo, hi, members, len(members) == len(idx))
        for i in members:
            flat.params[i]._vc[0] += 1

    def _update(self, group, flat, lo, hi, members, whole):  # pragma: no cover - abstract
        raise NotImplementedError

    def _param_state(self, p):
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {}
        return st

    # ------------------------------------------------------------ state dicts
    def _indexed(self):
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict:
        """``{"state": {index: {name: value}}, "param_groups": [{hyper..., "params": [index]}]}``
        (PyTorch's layout; parameters are numbered in group order; arrays are tensors that
        share memory with the optimizer -- save them, or copy them to keep a snapshot).

        >>> import gpugrad as gg
        >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(2))], lr=0.1, momentum=0.9)
        >>> opt.state_dict()["param_groups"][0]["params"]
        [0]
        """
        params = self._indexed()
        state = {}
        for i, p in enumerate(params):
            st = self.state.get(p)
            if st:
                state[i] = {k: (Tensor._make(v) if hasattr(v, "shape") and
                                not isinstance(v, Tensor) else v) for k, v in st.items()}
        groups, start = [], 0
        for g in self.param_groups:
            d = {k: v for k, v in g.items() if k != "params"}
            d["params"] = list(range(start, start + len(g["params"])))
            start += len(g["params"])
            groups.append(d)
        return {"state": state, "param_groups": groups}

    def check_state_dict(self, state_dict) -> None:
        """Validate an optimizer state dict against this optimizer without changing it;
        raise :class:`StateDictError` naming what does not fit.

        >>> import gpugrad as gg
        >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(2))], lr=0.1)
        >>> opt.check_state_dict(opt.state_dict())
        """
        self._resolve(state_dict)

    def _resolve(self, sd):
        name = type(self).__name__
        if not isinstance(sd, dict) or "state" not in sd or "param_groups" not in sd:
            raise StateDictError(f"cannot load into {name}: expected a dict with 'state' and "
                                 f"'param_groups', got "
                                 f"{sorted(sd) if isinstance(sd, dict) else type(sd).__name__}")
        groups = sd["param_groups"]
        if not isinstance(groups, (list, tuple)) or len(groups) != len(self.param_groups):
            n = len(groups) if isinstance(groups, (list, tuple)) else groups
            raise StateDictError(f"cannot load into {name}: the state dict has {n} parameter "
                                 f"groups, the optimizer has {len(self.param_groups)}")
        mapping = {}
        for gi, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            ids = saved.get("params") if isinstance(saved, dict) else None
            if not isinstance(ids, (list, tuple)) or len(ids) != len(mine["params"]):
                got = len(ids) if isinstance(ids, (list, tuple)) else ids
                raise StateDictError(f"cannot load into {name}: parameter group {gi} has "
                                     f"{got} parameters in the state dict, "
                                     f"{len(mine['params'])} in the optimizer")
            for i, p in zip(ids, mine["params"]):
                mapping[i] = p
        state = sd["state"]
        if not isinstance(state, dict):
            raise StateDictError(f"cannot load into {name}: expected 'state' to be a dict, got "
                                 f"{type(state).__name__}")
        resolved = []
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
                if k in self._array_state:
                    arr = v.data if isinstance(v, Tensor) else v
                    if not hasattr(arr, "shape") or tuple(arr.shape) != tuple(p.shape):
                        got = tuple(arr.shape) if hasattr(arr, "shape") else type(v).__name__
                        raise StateDictError(f"cannot load into {name}: state {k!r} of "
                                             f"parameter {key!r} has shape {got}, the "
                                             f"parameter has shape {tuple(p.shape)}")
                    clean[k] = arr
                else:
                    clean[k] = self._check_scalar_state(k, v, key)
            missing = [k for k in self._required_state(p, entry) if k not in entry]
            if missing:
                raise StateDictError(f"cannot load into {name}: state of parameter {key!r} "
                                     f"lacks {missing}")
            resolved.append((p, clean))
        return resolved

    def _check_scalar_state(self, key, value, pid):
        raise StateDictError(f"cannot load into {type(self).__name__}: unknown state {key!r} "
                             f"for parameter {pid!r}")

    def _required_state(self, p, entry):
        return ()

    def load_state_dict(self, state_dict) -> None:
        """Restore hyper-parameters and state; everything is validated before anything
        changes.  Arrays are moved to each parameter's device and dtype.

        >>> import gpugrad as gg
        >>> p = gg.nn.Parameter(gg.zeros(2)); opt = gg.optim.Adam([p], lr=0.1)
        >>> p.sum().backward(); opt.step()
        >>> opt2 = gg.optim.Adam([p], lr=0.5); opt2.load_state_dict(opt.state_dict())
        >>> opt2.param_groups[0]["lr"], opt2.state[p]["step"]
        (0.1, 1)
        """
        resolved = self._resolve(state_dict)
        staged = []
        for p, clean in resolved:
            dev = p.device
            staged.append((p, {k: (backend.to_device(v, dev) if k in self._array_state else v)
                               for k, v in clean.items()}))
        for saved, mine in zip(state_dict["param_groups"], self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = list(v) if isinstance(v, tuple) else v
            for k in ("betas",):
                if k in mine:
                    mine[k] = tuple(mine[k])
        where = {id(p): (flat, i) for flat in self._flats for i, p in enumerate(flat.params)}
        self.state = {}
        for p, clean in staged:
            flat, i = where[id(p)]
            st = self.state[p] = {}
            for k, v in clean.items():
                if k in self._array_state:
                    view = flat.state_view(k, i)
                    with flat.device._activated():
                        flat.xp.copyto(view, backend.to_device(v, flat.device), casting="unsafe")
                    st[k] = view
                else:
                    st[k] = v

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
