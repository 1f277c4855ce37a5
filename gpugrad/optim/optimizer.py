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

from .. import capture_hooks, dtypes, validate
from ..nn.state_dict import StateDictError
from ..tensor import Tensor
from . import _restore
from ._flat import FlatBuffer
from .param_state import ParamState

__all__ = ["Optimizer", "StateDictError"]


class _Required:
    def __repr__(self):
        return "<required>"


required = _Required()

_LABELS = {"lr": "lr (the learning rate)"}


class Optimizer:
    """Base class: subclasses set ``_array_state`` (names of per-parameter arrays) and
    ``_hyper`` (each hyper-parameter's checker; see :mod:`gpugrad.validate`), and implement
    ``_update(group, flat, lo, hi, members, whole)``, which updates the parameters
    ``members`` (indices into ``flat``) of one group; ``whole`` says they are all of the
    group's parameters in ``flat``, i.e. exactly the range ``[lo, hi)``.

    Hyper-parameters are checked by the same table wherever they come from: the
    constructor, a parameter group's own values, :meth:`add_param_group` and
    :meth:`load_state_dict`.  A wrong type (``lr="fast"``, ``lr=True``) raises TypeError; NaN,
    infinity or a value out of range raises ValueError; a key that is not a hyper-parameter
    of this optimizer (nor ``initial_lr``, which schedulers add) raises ValueError.

    :meth:`step` and :meth:`load_state_dict` are all-or-nothing: everything is checked
    before anything is written, so after an error the parameters, the state and the
    parameter groups are exactly as they were.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(2))
    >>> opt = gg.optim.SGD([{"params": [p], "lr": 0.5}], lr=0.1)
    >>> opt.param_groups[0]["lr"]
    0.5
    >>> gg.optim.SGD([p], lr=float("inf"))
    Traceback (most recent call last):
    ...
    ValueError: SGD: expected lr (the learning rate) to be a finite real number >= 0, got inf
    """

    _array_state: tuple = ()
    _hyper: dict = {"lr": validate.real(low=0), "initial_lr": validate.real(low=0)}

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_hyper({k: v for k, v in defaults.items() if v is not required})
        self.param_groups = []
        self.state = ParamState()  # by identity: see param_state.py
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
        where = f"parameter group {len(self.param_groups)}"
        if not params:
            raise ValueError(f"{type(self).__name__}: {where} has no parameters; expected at "
                             f"least one tensor in its 'params'")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        mine = set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("optimizer can only optimize leaf tensors (not results of "
                                 "operations); use a Parameter or tensor.detach()")
            if p.dtype.kind != "f" and dtypes.is_floating(p.dtype):  # bfloat16
                raise TypeError(f"optimizers keep float32 or float64 master weights and cannot "
                                f"update a {p.dtype.name} parameter in place: keep the "
                                f"parameter float32 and train under gpugrad.autocast("
                                f"dtype='bfloat16') (the forward's products run in bfloat16)")
            if p.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating tensors, got dtype "
                                f"{p.dtype.name}")
            if id(p) in seen or id(p) in mine:
                raise ValueError("some parameters appear more than once (in one group or in "
                                 "several); each parameter may be optimized once")
            mine.add(id(p))
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {k!r}")
            group.setdefault(k, v)
        clean = self._check_hyper(group, where)
        clean["params"] = params
        self.param_groups.append(clean)

    def _check_hyper(self, group: dict, where: str = "") -> dict:
        """The hyper-parameters of ``group`` (its ``params`` left out), each checked by this
        class's ``_hyper`` table and normalized (``betas`` a tuple); TypeError or ValueError
        naming the first that does not pass.  Used by the constructor, add_param_group and
        load_state_dict alike; changes nothing."""
        owner = f"{type(self).__name__}" + (f" ({where})" if where else "")
        table = self._hyper
        clean = {}
        for k, v in group.items():
            if k == "params":
                continue
            check = table.get(k)
            if check is None:
                raise ValueError(f"{owner}: unknown hyper-parameter {k!r}; expected some of "
                                 f"{', '.join(sorted(table))}")
            clean[k] = check(v, _LABELS.get(k, k), owner)
        self._check_combination(clean, owner)
        return clean

    def _check_combination(self, group: dict, owner: str) -> None:
        """Checks across one group's (already checked) hyper-parameters; subclasses extend."""

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
        if capture_hooks.is_recording():  # recording: a replay
            return capture_hooks.host_call(self.zero_grad, set_to_none)  # calls it again
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
        if capture_hooks.is_recording():  # recording: a replay
            return capture_hooks.host_call(self.step, closure)  # calls it again
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        # everything is checked before anything is written: a bad gradient in the last
        # group leaves the first group's parameters where they were
        plans = [[flat.check_step(idx, self._describe) for flat, _, _, idx in segments]
                 for segments in self._segments]
        for group, segments, plan in zip(self.param_groups, self._segments, plans):
            for (flat, lo, hi, idx), (members, pending) in zip(segments, plan):
                if members or pending:
                    with flat.device._activated():
                        self._step_segment(group, flat, lo, hi, idx, members, pending)
        for flat in self._flats:
            flat.low_step_done()
        return loss

    def _step_segment(self, group, flat, lo, hi, idx, members, pending):
        """One group's parameters of one flat buffer (checked by ``flat.check_step``):
        rebound data and outside gradients copied in, then one fused update."""
        for i in pending:
            flat.sync(i)
            flat.take_grad(i)
        if not members:
            return
        low = flat.low_for_step()    # 16-bit copies autocast reads: written in the same pass
        self._low = None if low is None else low.data
        try:
            self._update(group, flat, lo, hi, members, len(members) == len(idx))
        finally:
            self._low = None
        params = flat.params
        for i in members:
            params[i]._vc[0] += 1
            if low is not None:
                low.written(i, params[i], only_current=self._found_inf is not None)

    # set by GradScaler around step() on a device: a 1-element bool array; where it is set
    # the fused kernels write nothing (the step is skipped without a host read)
    _found_inf = None
    _low = None

    def _low_part(self, a, b):
        """The 16-bit copies of flat range [a, b) for the kernels (None when not kept)."""
        return None if self._low is None else self._low[a:b]

    def _count_spans(self, flat, members, whole, host_count):
        """Kernel spans over ``members`` of ``flat`` when step counts live on the device:
        ``[(a, b, i, j)]``, flat range [a, b) and parameter indices [i, j) sharing one count
        (the whole range when all counts are known equal, else one per parameter).  A
        parameter whose count is not on the device yet gets ``host_count(i)`` there."""
        counts, tok = flat.step_counts(), flat.count_token
        for i in members:
            if tok[i] is None:
                counts[i:i + 1] = host_count(i)
                tok[i] = ("host", host_count(i))
        groups = [members] if whole and len({tok[i] for i in members}) == 1 else \
            [[i] for i in members]
        out = []
        for g in groups:
            shared = object()          # counts of g move together from here on
            for i in g:
                tok[i] = shared
            out.append((flat.span(g[0])[0], flat.span(g[-1])[1], g[0], g[-1] + 1))
        return out

    def _advance_counts(self, counts):
        """counts += 1, or += 1 where the found-inf flag is clear (on the device)."""
        found = self._found_inf
        counts += 1 if found is None else (~found).astype(counts.dtype)

    def _describe(self, p) -> str:
        """``p`` as error messages name it: its index in the state dict, its group."""
        k = 0
        for gi, g in enumerate(self.param_groups):
            for j, q in enumerate(g["params"]):
                if q is p:
                    return (f"{type(self).__name__} parameter {k} (param_groups[{gi}]"
                            f"['params'][{j}])")
                k += 1
        return f"{type(self).__name__} parameter of shape {tuple(p.shape)}"

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
        _restore.stage(self, state_dict)

    def _check_scalar_state(self, key, value, pid):
        raise StateDictError(f"cannot load into {type(self).__name__}: unknown state {key!r} "
                             f"for parameter {pid!r}; expected some of "
                             f"{', '.join(self._array_state)}")

    def _required_state(self, p, entry):
        return ()

    def load_state_dict(self, state_dict) -> None:
        """Restore hyper-parameters and state, all or nothing: the hyper-parameters pass
        the constructor's checks (see :meth:`_check_hyper`), each state array must be a
        floating array of its parameter's shape with finite values (it is moved to the
        parameter's device and dtype), and nothing changes unless everything passes
        (:class:`StateDictError` names what did not).

        >>> import gpugrad as gg
        >>> p = gg.nn.Parameter(gg.zeros(2)); opt = gg.optim.Adam([p], lr=0.1)
        >>> p.sum().backward(); opt.step()
        >>> opt2 = gg.optim.Adam([p], lr=0.5); opt2.load_state_dict(opt.state_dict())
        >>> opt2.param_groups[0]["lr"], opt2.state[p]["step"]
        (0.1, 1)
        >>> sd = opt.state_dict(); sd["param_groups"][0]["lr"] = -5
        >>> opt2.load_state_dict(sd)
        Traceback (most recent call last):
        ...
        gpugrad.nn.state_dict.StateDictError: cannot load into Adam (parameter group 0): ... got -5
        """
        _restore.apply(self, _restore.stage(self, state_dict))
        for flat in self._flats:                 # device step counts restart from the state
            if flat.count_token is not None:
                flat.count_token = [None] * len(flat.params)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)
