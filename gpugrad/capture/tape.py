"""The recorder of a captured step and the tape it leaves: the step's array-level calls in
order, each reading earlier results by slot number, replayed with no Tensor or graph node made.

A *slot* is an array a recorded call made: a node's output, a gradient, a sum of two, a random
draw, a creation function's constant, what a host call (gradient clipping) returned.  Any
other array a call reads must be one of these, or it is refused with :class:`CaptureError`:

* a static input buffer (the step's Tensor/array arguments, copied in at each call);
* the array of a tensor that existed before the recording began -- a parameter, a module's
  buffer, an optimizer's state, a tensor the step closes over -- read by reference, so a
  replay sees its value then (in-place updates included); a replay checks that each such
  tensor still holds the recorded array (else the step records again).

An array put into a tensor during the recording by anything else -- ``gg.tensor(x.data * 2)``,
``Tensor(np_array)``, ``t.data = ...`` -- or handed to an op as a raw array is refused, of any
size: a replay could only reuse its recorded values.

Entries are "array" calls (a node's forward or backward, a gradient sum or cast, a constant, an
in-place write into the step's own arrays, an op's value check: :mod:`~gpugrad.capture.checks`)
or "host" calls that also change Python state or draw random numbers (a gradient handed to a
leaf, an optimizer's ``step``/``zero_grad``, a scheduler's ``step``, gradient clipping, a
draw, an in-place write into a parameter, which moves its version counter): a CUDA replay
captures runs of array calls as graphs and makes host calls between them.
"""
from __future__ import annotations

import numpy as np

from .. import backward_pass, old_values, random as _random
from ..autocast_state import _LowCopy, low_copy
from ..backend import is_cupy_array
from ..capture_hooks import CaptureError
from ..handed_buffers import hand_buffers
from ..node_record import is_array as _is_array
from ..ops._util import cast_grad
from ..tensor import Tensor
from . import cpu_plan
from .checks import ValueChecks
from .grads import GradAssignments
from .guards import TensorGuards
from .inputs import _may_share
from .keys import dynamic, key_ref, key_value
from .write_spans import WriteSpans
from .outputs import _is_value, build_output, output_spec, spec_slots

__all__ = ["Recorder", "Tape", "CaptureError", "build_output"]


def _holder():
    """``hold(r)``: ``r`` itself on the CPU; on CUDA the same array at every call (``r`` is
    copied into the first one), so that CUDA graphs captured to read it read the new value."""
    box = [None]

    def hold(r):
        if not is_cupy_array(r):
            return r
        b = box[0]
        if b is None or b.shape != r.shape or b.dtype != r.dtype:
            box[0] = r
            return r
        b[...] = r
        return b
    return hold


class Tape:
    """A recorded step: ``entries`` [(kind, fn(env), slots to let go of after it)],
    ``nslots`` slots, the guards that must still hold for a replay (each tensor read by
    reference holds its array and ``requires_grad``; no new gradient hook: a
    :class:`~gpugrad.capture.guards.TensorGuards`), and ``written``: the ids of the input buffers
    the step writes into (copied back to the caller's arrays after a replay)."""

    def __init__(self, entries, nslots, guards, written=frozenset(), dynamic=False, steps=None):
        self.entries = entries
        self.nslots = nslots
        self.guards = guards if isinstance(guards, TensorGuards) else TensorGuards(guards)
        self.written = written
        self.dynamic = dynamic   # shapes depend on values: replayed call by call on CUDA
        self.steps = steps       # the CPU replay's prebound calls [(fn(env), free)], or None

    def valid(self) -> bool:
        """True when every tensor the step read by reference still holds the recorded array
        and ``requires_grad``; CaptureError for a gradient hook added since the recording."""
        return self.guards.check()

    def replay(self):
        """Run every entry once (the prebound ``steps`` where the tape has them: the same
        calls, see :mod:`gpugrad.capture.cpu_plan`); returns the slot values (``env``)."""
        env = [None] * self.nslots
        steps = self.steps
        if steps is None:
            steps = [(fn, free) for _, fn, free in self.entries]
        for fn, free in steps:
            fn(env)
            for k in free:           # its last reader ran: free the memory, drop the view
                env[k] = None
        return env


class Recorder(GradAssignments, ValueChecks, WriteSpans):
    """Listens to :mod:`gpugrad.capture_hooks` during one eager call of the step and builds
    its :class:`Tape`.  ``inputs`` are the static input buffers (read by reference);
    ``known`` arrays of tensors that existed before the call (parameters the step reaches)."""

    def __init__(self, inputs=(), known=()):
        self.entries = []
        self.reads = []          # per entry: the slots it reads
        self.writer = {}         # slot -> the entry that writes it
        self.slot = {}           # id(array) -> slot
        self.keep = list(inputs) + list(known)   # every array seen: ids stay unique
        self.guards = {}         # id(tensor) -> (tensor, array, requires_grad at first read)
        self.leaves = {}         # id(leaf) -> leaf, every leaf handed a gradient
        self.inputs, self.static = list(inputs), {id(a) for a in inputs}
        self.known = {id(a) for a in known}
        self.made = {}           # id(array) -> array put into a tensor by unrecorded code
        self.written = set()     # ids of input buffers written in place
        self.modules = {}        # id(module) -> module, every module called
        self.pending = []        # (leaf, slot) whose .grad array is known after _deliver
        self.grad_objs = {}      # id(a leaf's .grad tensor) -> the slot holding that tensor
        self.nslots = 0
        self.dynamic = False     # shapes depend on values (a boolean mask): no CUDA graphs
        self.meta = []           # per entry: what it is, for the CPU plan (cpu_plan), or None
        self.arrays = {}         # slot -> the array the recording made for it
        self._init_grads()       # .grad assignments (gpugrad.capture.grads)

    # ------------------------------------------------------------ slots and references
    def _new_slot(self, a):
        k = self.nslots
        self.nslots += 1
        self.writer[k] = len(self.entries)       # the entry about to be appended
        self.slot[id(a)] = k
        self.arrays[k] = a
        self.keep.append(a)
        return k

    def _flush(self):
        for t, k in self.pending:
            if t.grad is not None:
                self.slot[id(t.grad.data)] = k
                self.grad_objs[id(t.grad)] = k + 1      # the .grad tensor itself
                self.keep += [t.grad.data, t.grad]
        self.pending = []

    def _ref(self, a, where, tensor=None):
        """(slot, None) for an array the step computed, else (-1, value) held by reference
        (an input buffer, a tensor from before the call, a non-array value); CaptureError
        for any other array."""
        if not _is_array(a):
            k = self.slot.get(id(a)) if _is_value(a) else None
            return (k, None) if k is not None else (-1, a)
        k = self.slot.get(id(a))
        if k is not None:
            return k, None
        if id(a) not in self.static:
            if tensor is None or id(a) in self.made:
                raise CaptureError(
                    f"{where} got an array of shape {a.shape} ({a.dtype}) that no recorded "
                    f"gpugrad call made (NumPy code on .data, gg.tensor()/Tensor() of NumPy "
                    f"values made inside the step, or a raw array handed to an op): a replay "
                    f"would reuse its recorded values. Compute it with gpugrad ops on "
                    f"Tensors, make it outside the step (a tensor made before the call is "
                    f"read as it is at each call), or pass it to the compiled step as an input")
            self.guards.setdefault(id(tensor), (tensor, a, tensor.requires_grad))
            self.known.add(id(a))
        self.keep.append(a)
        return -1, a

    def _append(self, kind, fn, reads, meta=None):
        self.entries.append((kind, fn))
        self.reads.append([k for k in reads if k >= 0])
        self.meta.append(meta)

    # ------------------------------------------------------------ hooks (capture_hooks)
    def assigned(self, t, a):
        """Array ``a`` was put into tensor ``t`` during the recording (``t.data = a``)."""
        if _is_array(a):
            i = id(a)
            if i not in self.slot and i not in self.static and i not in self.known:
                self.made[i] = a

    def forward(self, node, args, arrays, kwargs, raw, out, anchored):
        self._flush()
        if not anchored:           # made from numbers only: a constant, made anew each time
            o = self._new_slot(out)
            self._append("array", lambda env: env.__setitem__(o, out.copy()), [])
            return
        where = f"{type(node).__name__}.forward"
        if type(node) is _LowCopy:  # autocast's 16-bit copy of a parameter: refreshed (or
            w = args[0]             # reused) as the uncompiled step would, at each replay
            self._ref(w.data, where, w)
            o, dt, hold = self._new_slot(out), out.dtype, _holder()
            self._append("host", lambda env: env.__setitem__(o, hold(low_copy(w, dt))), [])
            return
        spec = [self._ref(a.data, where, a) if isinstance(a, Tensor) else self._ref(a, where)
                for a in args]
        kw = {k: key_ref(self, v, where) for k, v in kwargs.items()}
        self.dynamic = self.dynamic or dynamic(kwargs.get("key"))
        o = self._new_slot(out)
        convert = out is not raw
        fwd = node.forward

        def run(env):
            r = fwd(*[env[k] if k >= 0 else v for k, v in spec],
                    **{n: key_value(env, k, v) for n, (k, v) in kw.items()})
            env[o] = np.asarray(r) if convert else r
        self._append("array", run, [k for k, _ in spec]
                     + [s for k, v in kw.values() for s in (v[1] if k == -2 else [k])],
                     ("forward", node, spec, o, kwargs))

    def backward(self, node, g, in_grads, retain):
        self._flush()
        if node._hooks or node._retain is not None:
            raise CaptureError(f"a tensor hook or retain_grad() on the output of {node.name} "
                               f"inside a compiled step: hooks are not replayed; register "
                               f"them outside, or call the step uncompiled")
        gk, gv = self._ref(g, f"{node.name}.backward")
        outs = [self._new_slot(r) if _is_array(r) or _is_value(r) else -1 for r in in_grads]
        into = bool(node.grad_into)
        grad_buffers = backward_pass._grad_buffers

        def run(env):
            if into:               # dW straight into the optimizer's buffer, as _run does
                hand_buffers(node, grad_buffers(node))
                try:
                    res = node.backward(env[gk] if gk >= 0 else gv)
                finally:
                    hand_buffers(node, None)
            else:
                res = node.backward(env[gk] if gk >= 0 else gv)
            if not retain:
                node._release()
            for k, r in zip(outs, res):
                if k >= 0:
                    env[k] = r
        self._append("array", run, [gk], ("backward", node, gk, gv, outs, retain))

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
        self._append("array", run, [ka, kb], ("add",))

    def cast(self, g, out):
        self._flush()
        k, v = self._ref(g, "a gradient cast")
        o = self._new_slot(out)
        dtype = out.dtype

        def run(env):
            env[o] = cast_grad(env[k] if k >= 0 else v, dtype)
        self._append("array", run, [k], ("cast",))

    def leaf(self, t, g):
        self._flush()
        if t._hooks or id(t) in backward_pass._post_hooks:
            raise CaptureError("a gradient hook on a leaf tensor inside a compiled step: hooks "
                               "are not replayed; remove it, or call the step uncompiled")
        k, v = self._ref(g, "a leaf's gradient")
        o = self.nslots                     # o: the .grad array, o + 1: the .grad tensor
        self.nslots += 2
        self.writer[o] = self.writer[o + 1] = len(self.entries)
        self.pending.append((t, o))
        self.leaves[id(t)] = t
        reset = self._delivery_starts(t)    # a tensor made in the step: from None each time
        deliver = backward_pass._deliver

        def run(env):
            if reset:
                t.grad = None
            deliver(t, env[k] if k >= 0 else v, None, True, False)
            g = t.grad
            env[o], env[o + 1] = (None, None) if g is None else (g.data, g)
        self._append("host", run, [k], ("leaf",))

    def backward_pass(self, capture, create_graph):
        self._flush()
        if capture is not None:
            raise CaptureError("gpugrad.grad() inside a compiled step is not supported: use "
                               "loss.backward() and read the parameters' .grad")
        if create_graph:
            raise CaptureError("backward(create_graph=True) inside a compiled step is not "
                               "supported (higher-order gradients are not recorded): call "
                               "the step uncompiled")

    def host_call(self, fn, args, kwargs, out):
        """``fn(*args, **kwargs)`` ran (returning ``out``): a replay calls it again; a Tensor
        argument the step computed is passed as the replay's, a Tensor or array it returned
        becomes a slot."""
        self._flush()
        name = getattr(fn, "__qualname__", None) or getattr(getattr(fn, "func", None),
                                                            "__qualname__", repr(fn))
        if any(callable(a) for a in args):
            raise CaptureError(f"{name} with a closure inside a compiled step: call the "
                               f"closure's work inside the step instead")
        spec = [self._arg(a) for a in args]
        kspec = {n: self._arg(a) for n, a in kwargs.items()}
        data = out.data if isinstance(out, Tensor) else out
        o = self._new_slot(data) if _is_array(data) or _is_value(data) else -1
        hold = _holder()

        def run(env):
            r = fn(*[Tensor._make(env[k]) if k >= 0 else v for k, v in spec],
                   **{n: Tensor._make(env[k]) if k >= 0 else v for n, (k, v) in kspec.items()})
            if o >= 0:
                env[o] = hold(r.data if isinstance(r, Tensor) else r)
        self._append("host", run, [k for k, _ in spec] + [k for k, _ in kspec.values()])

    def _arg(self, a):
        if isinstance(a, Tensor):
            k = self.slot.get(id(a.data))
            if k is not None:
                return k, None
        return -1, a

    def draw(self, generator, fn, args, out):
        """A random draw ``fn(generator, *args) -> out``: a replay draws again."""
        self._flush()
        o = self._new_slot(out)
        gen, hold = _random.replay_generator(generator), _holder()
        self._append("host", lambda env: env.__setitem__(o, hold(fn(gen(), *args))), [])

    def constant(self, make, out):
        """A creation function's array ``out``: a replay makes it anew with ``make()``."""
        self._flush()
        o = self._new_slot(out)
        self._append("array", lambda env: env.__setitem__(o, make()), [], ("constant",))

    def derived(self, fn, args, outs):
        """Arrays ``outs`` = ``fn(*args)`` (an index key's expansion): made again by a replay."""
        self._flush()
        spec = [self._ref(a, "an index key") for a in args]
        slots = [self._new_slot(a) for a in outs]
        self.dynamic = True

        def run(env):
            for k, r in zip(slots, fn(*[env[k] if k >= 0 else v for k, v in spec])):
                env[k] = r
        self._append("array", run, [k for k, _ in spec])

    def old_value(self, data, nodes):
        """``nodes`` got a copy of ``data``'s old value before a write: so at each replay."""
        self._flush()
        k, v = self._ref(data, "an in-place write's old value")
        renew = old_values.renew_old_value

        def run(env):
            renew(env[k] if k >= 0 else v, nodes)
        self._append("array", run, [k], ("old_value", nodes))

    def write(self, t, src):
        """``t.data[...] = src``: a replay writes too (into a parameter: as a host call that
        also moves its version counter, as the uncompiled write does)."""
        self._flush()
        where = "an in-place write"
        dk, dv = self._ref(t.data, where, t)
        sk, sv = self._ref(src, where)
        self.written.update(id(b) for b in self.inputs if _may_share(t.data, b))   # (views too)
        live = dk < 0 and id(dv) not in self.static

        def run(env):
            d = env[dk] if dk >= 0 else dv
            d[...] = env[sk] if sk >= 0 else sv
            if live:
                t._vc[0] += 1
        self._append("host" if live else "array", run, [dk, sk])

    def module_called(self, module):
        self.modules.setdefault(id(module), module)

    # ------------------------------------------------------------ the result
    def output_spec(self, value, inputs=None):
        """How to rebuild the step's return value from a replay (:func:`output_spec`)."""
        self._flush()
        return output_spec(self, value, inputs)

    def tape(self, spec) -> Tape:
        """The finished tape for output ``spec`` (:meth:`output_spec`): each slot is let go
        of after its last reader, so a replay holds no more memory than the eager step (and
        no extra view of an optimizer's gradient buffer).  Forgets the recording's arrays."""
        self._flush()
        last = dict(self.writer)                                    # unread: freed at once
        last.update((k, len(self.entries)) for k in spec_slots(spec))   # outputs: kept
        for i, reads in enumerate(self.reads):
            for k in reads:
                if last.get(k, -1) < len(self.entries):
                    last[k] = i
        free = [[] for _ in self.entries]
        for k, i in last.items():
            if i < len(self.entries):
                free[i].append(k)
        entries = [(kind, fn, tuple(f)) for (kind, fn), f in zip(self.entries, free)]
        steps = None if self.dynamic else cpu_plan.build(self, entries, set(spec_slots(spec)))
        tape = Tape(entries, self.nslots, TensorGuards.of(self.guards, self.leaves),
                    frozenset(self.written), self.dynamic, steps)
        self.keep, self.made, self.fresh, self.arrays, self.meta = [], {}, set(), {}, []
        return tape
