"""The recorder of a captured step and the tape it leaves: the step's array-level calls in
order, each reading earlier results by slot number, replayed with no Tensor or graph node made.

A *slot* is an array the step itself computed (a node's output, a gradient, a sum of two);
any other array a call reads -- a parameter, an input buffer, a constant made by the step --
is held by reference and read live at replay, so in-place updates (the optimizer's) are seen.
Entries are "array" calls (a node's forward or backward, a gradient sum or cast) or "host"
calls that also change Python state (a gradient handed to a leaf, an optimizer's ``step`` or
``zero_grad``): a CUDA replay captures runs of array calls as graphs and makes host calls
between them.
"""
from __future__ import annotations

import numpy as np

from .. import backward_pass, capture_hooks
from ..capture_hooks import CaptureError
from ..ops._util import cast_grad
from ..tensor import Tensor

__all__ = ["Recorder", "Tape", "CaptureError"]


def _is_array(a):
    return type(a) is np.ndarray or hasattr(a, "__cuda_array_interface__")


class Tape:
    """A recorded step: ``entries`` [(kind, fn(env), slots to let go of after it)],
    ``nslots`` slots, and the guards [(tensor, array)] that must still hold
    (``tensor.data is array``) for a replay."""

    def __init__(self, entries, nslots, guards):
        self.entries = entries
        self.nslots = nslots
        self.guards = guards

    def valid(self) -> bool:
        """True when every tensor the step read by reference still holds the recorded array."""
        for t, a in self.guards:
            if t.data is not a:
                return False
        return True

    def replay(self):
        """Run every entry once; returns the slot values (``env``)."""
        env = [None] * self.nslots
        for _, fn, free in self.entries:
            fn(env)
            for k in free:           # its last reader ran: free the memory, drop the view
                env[k] = None
        return env


class Recorder:
    """Listens to :mod:`gpugrad.capture_hooks` during one eager call of the step and builds
    its :class:`Tape`.  ``inputs`` are the static input buffers (read by reference)."""

    def __init__(self, inputs=()):
        self.entries = []
        self.reads = []          # per entry: the slots it reads
        self.writer = {}         # slot -> the entry that writes it
        self.slot = {}           # id(array) -> slot
        self.keep = []           # every array seen: ids stay unique while recording
        self.guards = {}         # id(tensor) -> (tensor, array)
        self.static = {id(a) for a in inputs}
        self.pending = []        # (leaf, slot) whose .grad array is known after _deliver
        self.nslots = 0
        self.keep.extend(inputs)

    # ------------------------------------------------------------ slots and references
    def _new_slot(self, a):
        k = self.nslots
        self.nslots += 1
        self.writer[k] = len(self.entries)       # the entry about to be appended
        self.slot[id(a)] = k
        self.keep.append(a)
        return k

    def _flush(self):
        for t, k in self.pending:
            if t.grad is not None:
                self.slot[id(t.grad.data)] = k
                self.keep.append(t.grad.data)
        self.pending = []

    def _ref(self, a, where, tensor=None):
        """(slot, None) for an array the step computed, else (-1, value) held by reference."""
        if _is_array(a):
            k = self.slot.get(id(a))
            if k is not None:
                return k, None
            if tensor is not None:
                self.guards.setdefault(id(tensor), (tensor, a))
            elif id(a) not in self.static and a.size > 1:
                raise CaptureError(
                    f"{where} got an array of shape {a.shape} that no recorded gpugrad op "
                    f"computed (NumPy code on .data, or a random mask such as dropout's): a "
                    f"replay would reuse its recorded values; compute it with gpugrad ops on "
                    f"Tensors, or pass it to the compiled step as an input")
            self.keep.append(a)
        return -1, a

    def _append(self, kind, fn, reads):
        self.entries.append((kind, fn))
        self.reads.append([k for k in reads if k >= 0])

    # ------------------------------------------------------------ hooks (capture_hooks)
    def forward(self, node, args, arrays, kwargs, raw, out, anchored):
        self._flush()
        if not anchored:           # made from numbers only: a constant of the step
            return
        where = f"{type(node).__name__}.forward"
        spec = [self._ref(a.data, where, a) if isinstance(a, Tensor) else self._ref(a, where)
                for a in args]
        kw = {k: self._ref(v, where) for k, v in kwargs.items()}
        o = self._new_slot(out)
        convert = out is not raw
        fwd = node.forward

        def run(env):
            r = fwd(*[env[k] if k >= 0 else v for k, v in spec],
                    **{n: env[k] if k >= 0 else v for n, (k, v) in kw.items()})
            env[o] = np.asarray(r) if convert else r
        self._append("array", run, [k for k, _ in spec] + [k for k, _ in kw.values()])

    def backward(self, node, g, in_grads, retain):
        self._flush()
        if node._hooks or node._retain is not None:
            raise CaptureError(f"a tensor hook or retain_grad() on the output of {node.name} "
                               f"inside a compiled step: hooks are not replayed; register "
                               f"them outside, or call the step uncompiled")
        gk, gv = self._ref(g, f"{node.name}.backward")
        outs = [self._new_slot(r) if _is_array(r) or isinstance(r, np.generic) else -1
                for r in in_grads]
        into = bool(node.grad_into)
        grad_buffers = backward_pass._grad_buffers

        def run(env):
            if into:               # dW straight into the optimizer's buffer, as _run does
                node.grad_out = grad_buffers(node)
            res = node.backward(env[gk] if gk >= 0 else gv)
            node.grad_out = None
            if not retain:
                node._release()
            for k, r in zip(outs, res):
                if k >= 0:
                    env[k] = r
        self._append("array", run, [gk])

    def add(self, a, b, out, inplace):
        self._flush()
        (ka, va), (kb, vb) = self._ref(a, "a gradient sum"), self._ref(b, "a gradient sum")
        o = self._new_slot(out)

        def run(env):
            x = env[ka] if ka >= 0 else va
            y = env[kb] if kb >= 0 else vb
            if inplace:
                x += y
                env[o] = x
            else:
                env[o] = x + y
        self._append("array", run, [ka, kb])

    def cast(self, g, out):
        self._flush()
        k, v = self._ref(g, "a gradient cast")
        o = self._new_slot(out)
        dtype = out.dtype

        def run(env):
            env[o] = cast_grad(env[k] if k >= 0 else v, dtype)
        self._append("array", run, [k])

    def leaf(self, t, g):
        self._flush()
        if t._hooks or id(t) in backward_pass._post_hooks:
            raise CaptureError("a gradient hook on a leaf tensor inside a compiled step: hooks "
                               "are not replayed; remove it, or call the step uncompiled")
        k, v = self._ref(g, "a leaf's gradient")
        o = self.nslots
        self.nslots += 1
        self.writer[o] = len(self.entries)
        self.pending.append((t, o))
        deliver = backward_pass._deliver

        def run(env):
            deliver(t, env[k] if k >= 0 else v, None, True, False)
            env[o] = t.grad.data if t.grad is not None else None
        self._append("host", run, [k])

    def backward_pass(self, capture, create_graph):
        self._flush()
        if capture is not None:
            raise CaptureError("gpugrad.grad() inside a compiled step is not supported: use "
                               "loss.backward() and read the parameters' .grad")
        if create_graph:
            raise CaptureError("backward(create_graph=True) inside a compiled step is not "
                               "supported (higher-order gradients run eagerly)")

    def host_call(self, fn, args, kwargs):
        self._flush()
        name = getattr(fn, "__qualname__", repr(fn))
        if any(callable(a) for a in args):
            raise CaptureError(f"{name} with a closure inside a compiled step: call the "
                               f"closure's work inside the step instead")
        self._append("host", lambda env: fn(*args, **kwargs), [])

    # ------------------------------------------------------------ the result
    def tape(self, spec) -> Tape:
        """The finished tape for output ``spec`` (:meth:`output_spec`): each slot is let go
        of after its last reader, so a replay holds no more memory than the eager step (and
        no extra view of an optimizer's gradient buffer).  Forgets the recording's arrays."""
        self._flush()
        last = dict(self.writer)                                    # unread: freed at once
        last.update((k, len(self.entries)) for k in _spec_slots(spec))   # outputs: kept
        for i, reads in enumerate(self.reads):
            for k in reads:
                if last.get(k, -1) < len(self.entries):
                    last[k] = i
        free = [[] for _ in self.entries]
        for k, i in last.items():
            if i < len(self.entries):
                free[i].append(k)
        entries = [(kind, fn, tuple(f)) for (kind, fn), f in zip(self.entries, free)]
        tape = Tape(entries, self.nslots, list(self.guards.values()))
        self.keep = []
        return tape

    def output_spec(self, value):
        """How to rebuild the step's return value from a replay's slots: a Tensor the step
        computed becomes ``("slot", k)``; containers are walked; anything else is returned
        as it was recorded (a constant)."""
        if isinstance(value, Tensor) and _is_array(value.data):
            k = self.slot.get(id(value.data))
            return ("slot", k) if k is not None else ("const", value)
        if isinstance(value, (tuple, list)):
            return (type(value).__name__, [self.output_spec(v) for v in value])
        if isinstance(value, dict):
            return ("dict", {k: self.output_spec(v) for k, v in value.items()})
        if isinstance(value, (bool, int, float, complex, str, type(None))):
            return ("const", value)
        raise CaptureError(f"a compiled step returned a {type(value).__name__}; expected "
                           f"Tensors, numbers, None, or tuples/lists/dicts of them")


def _spec_slots(spec):
    kind, v = spec
    if kind == "slot":
        return [v]
    if kind == "dict":
        v = list(v.values())
    elif kind not in ("tuple", "list"):
        return []
    return [k for s in v for k in _spec_slots(s)]


def build_output(spec, env):
    """The step's return value for one replay (fresh Tensors over the replay's arrays)."""
    kind, v = spec
    if kind == "slot":
        return Tensor._make(env[v])
    if kind == "const":
        return v
    if kind == "dict":
        return {k: build_output(s, env) for k, s in v.items()}
    items = [build_output(s, env) for s in v]
    return tuple(items) if kind == "tuple" else items

