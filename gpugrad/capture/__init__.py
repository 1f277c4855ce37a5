"""Captured steps: ``step = gg.compile(train_step)`` records one call of a whole training step
-- forward, loss, backward, optimizer update -- then replays it.

The first call with a given input signature (shapes, dtypes, strides and devices of the
Tensor/array arguments, the values of the others: :mod:`gpugrad.capture.inputs`) runs the
step eagerly on static input buffers (in the inputs' layouts) while the engine reports
every array-level call it makes (:mod:`gpugrad.capture_hooks`): each node's forward and
backward, the gradient sums and casts of the backward pass, the gradients handed
to leaves, and the optimizer's ``step``/``zero_grad``.  Later calls copy their inputs into the
static buffers and replay that tape: on the CPU the same kernels in the same order (so the
results equal the uncompiled step bit for bit) with no Tensor, graph node or backward walk --
fused linear layers and cross-entropy as prebound kernel calls on buffers made once per tape
(:mod:`gpugrad.capture.cpu_plan`); on CUDA the runs of array calls are captured once as CUDA
graphs and launched (:mod:`gpugrad.capture.cuda_graph`).  Calls that change Python state run
live at each replay -- the optimizer's ``step``/``zero_grad``, a scheduler's ``step``,
gradient clipping, random draws (from the same generator, so the numbers equal the
uncompiled step's), in-place writes into parameters -- so a learning rate schedule or Adam's
step count is followed.

The rule, as in ``jax.jit``: Python runs once, at recording.  A replay does exactly what the
uncompiled step would, or the recording raises :class:`CaptureError`:

* refused: reading a value on the host -- ``item()``, ``float(t)``, ``bool(t)`` (an ``if`` on
  a tensor), ``tolist()``, ``numpy()`` -- an array that no recorded call made (NumPy code on
  ``.data`` put into a tensor; see :mod:`gpugrad.capture.tape` for what is read instead),
  NumPy arithmetic in place on a tensor's array (``p.data -= lr * p.grad.data``: no replay
  would repeat it; :mod:`gpugrad.capture.host_reads`), a tensor hook, ``gg.grad`` or ``create_graph``, an input sharing memory with a tensor the
  step reads by reference (a parameter); a gradient hook (``register_hook``,
  ``register_post_accumulate_grad_hook``) added after the recording to a leaf the step hands
  gradients to raises at the next call, before anything runs (remove it and the tape
  replays again);
* recorded again (:mod:`gpugrad.capture.guards`): a new signature (shapes, how inputs alias
  each other, non-tensor arguments by type and value: :mod:`gpugrad.capture.inputs`), a
  parameter rebound to a new array, a ``requires_grad`` changed on a
  tensor the step read (a layer frozen or unfrozen), a ``Module.train()``/``eval()`` that
  changed a called module's flag, a change in the module tree of a module the step called or
  reaches by name (a child module, parameter, buffer or Tensor-valued attribute set,
  replaced or deleted, a ``ModuleList`` item replaced: every tape is dropped; one made by
  another thread while the step records leaves that recording unkept), autocast entered or
  left around the call, a global or closure variable the step reads by name rebound
  (:mod:`gpugrad.capture.closure`);
* run uncompiled: a call with anomaly detection on (``detect_anomaly()``) or gradients off
  (``no_grad()``) in the calling thread runs the step as written, op by op -- anomaly checks
  included -- and records nothing; later calls replay as before;
* kept: the tapes of the ``max_recordings`` (8) most recently used signatures; an older one
  is dropped with its buffers (``evictions`` counts them), and records again if its signature
  comes back -- the first time, with a ``RuntimeWarning``: cycling through more signatures
  than ``max_recordings`` records at every call;
* not seen: a module attribute that is not a Tensor (``self.scale = 2.0``, a flag, a list)
  and any value reached through an attribute of a non-module (``cfg.lr``) is read once, at
  recording -- rebinding it later is not seen (make it a buffer or a step argument);
  a decision taken with NumPy on ``.data`` (``if loss.data > 1``) is taken once;
  a tensor the step stores outside itself (``store["loss"] = loss``) is the recording's and
  keeps its value -- only what the step returns (and the parameters' ``.grad``) is each call's
  (an input returned, or a view of one, is the caller's tensor or that view of it:
  :mod:`gpugrad.capture.outputs`); other NumPy writes into a tensor's array
  (``p.data[...] = v``) are not replayed;
  a module held in a Python list or by an object that is not a Module (not a child module
  or a ``ModuleList`` item) and replaced there, or a direct write into a module's
  ``_modules``/``_parameters``/``_buffers`` dicts.

An in-place write whose key the step computed (``h[h > 0] *= 10``, an ``argmax`` index) reads
the replay's key, in its forward and its gradient (:mod:`gpugrad.capture.keys`), and the copy
of an overwritten value that the graph still needs (``np.maximum(h, 0, out=h)``) is made again
at each replay.  A boolean mask makes shapes depend on values: on CUDA such a tape replays
call by call instead of as graphs.  ``GradScaler`` (dynamic loss scaling) is refused.

One call at a time per compiled step (a lock: its replays share static input buffers).

>>> import gpugrad as gg
>>> model = gg.nn.Linear(3, 1); opt = gg.optim.SGD(model.parameters(), lr=0.1)
>>> def train_step(x, y):
...     loss = gg.nn.functional.mse_loss(model(x), y)
...     loss.backward(); opt.step(); opt.zero_grad()
...     return loss
>>> step = gg.compile(train_step)
>>> x, y = gg.ones(4, 3), gg.zeros(4, 1)
>>> losses = [step(x, y).item() for _ in range(3)]   # records once, then replays
>>> losses[2] < losses[0]
True
"""
from __future__ import annotations

import functools
import threading
import warnings
from collections import OrderedDict

from .. import backend, capture_hooks
from ..autocast_state import _state as _amp_state
from ..capture_hooks import CaptureError
from ..tensor import Tensor
from . import closure, guards, host_reads
from .inputs import is_array, memory_map, refuse_shared, signature, static_inputs
from .outputs import recorded_output
from .tape import Recorder, build_output

__all__ = ["compile", "CompiledStep", "CaptureError", "training_step"]


_is_array = is_array


class CompiledStep:
    """A step function with recorded tapes, one per input signature (see :func:`compile`).

    ``recordings`` counts how many times the step was recorded; ``cuda_graphs`` says whether
    replays on CUDA launch graphs (else they make the recorded calls one by one);
    ``max_recordings`` how many tapes are kept (the least recently used one is dropped);
    ``evictions`` how many were dropped to keep that cap.

    >>> import gpugrad as gg
    >>> step = CompiledStep(lambda x: (x * 2).sum())
    >>> step(gg.ones(3)).item(), step(gg.ones(3)).item(), step.recordings
    (6.0, 6.0, 1)
    """

    def __init__(self, fn, cuda_graphs=True, max_recordings=8):
        if not callable(fn):
            raise TypeError(f"gpugrad.compile expects a callable step, got {type(fn).__name__}")
        if max_recordings is not None and (not isinstance(max_recordings, int) or isinstance(
                max_recordings, bool) or max_recordings < 1):
            raise ValueError(f"gpugrad.compile: max_recordings must be an int >= 1 or None "
                             f"(no limit), got {max_recordings!r}")
        self.fn = fn
        self.cuda_graphs = cuda_graphs
        self.max_recordings = max_recordings
        self.recordings = 0
        self._tapes = OrderedDict()      # key -> replay, least recently used first
        self._lock = threading.RLock()   # one call at a time: replays share static buffers
        self._bindings = None            # the step's globals/closure cells at recording
        self._modules = []               # every module a recording called
        self._mode_seen = None           # capture_hooks.mode_version when _modes was taken
        self._modes = ()                 # those modules' training flags
        self._roots = []                 # modules called or reached by name: trees guarded
        self._tree = None                # guards.module_tree(self._roots) when last checked
        self._tree_seen = None           # capture_hooks.tree_version then
        self.evictions = 0               # tapes dropped to keep max_recordings
        self._evicted = OrderedDict()    # the keys of those tapes (the newest _EVICTED_KEPT)
        self._signatures = set()         # hashes of the keys recorded
        self._warned = False             # the thrash warning was given
        functools.update_wrapper(self, fn, updated=())

    # ------------------------------------------------------------ signature and inputs
    @staticmethod
    def _split(args, kwargs):
        """(key, [input arrays], [input objects]) of one call
        (:func:`gpugrad.capture.inputs.signature`)."""
        return signature(args, kwargs)

    def __call__(self, *args, **kwargs):
        with self._lock:
            if guards.run_eagerly():             # anomaly detection on, or no_grad()
                return self.fn(*args, **kwargs)
            if self._bindings is not None and not closure.unchanged(self._bindings):
                self._forget()                   # a global or closed-over value was rebound
            if self._tree_seen != capture_hooks.tree_version:
                self._check_tree()               # a module's children/parameters changed
            key, arrays, objs = self._split(args, kwargs)
            key = (key, self._training_modes(), _amp_state.dtype)
            entry = self._tapes.get(key)
            if entry is None or not entry.valid():
                return self._record(key, args, kwargs, arrays, objs)
            refuse_shared(arrays, entry.memory, args, kwargs)
            self._tapes.move_to_end(key)
            out = entry.run(arrays, objs)
            _touch_written(entry, args, kwargs)
            return out

    def _forget(self):
        """Drop every tape (what they depend on changed); the next call records again."""
        self._tapes.clear()
        self._bindings, self._modules, self._mode_seen, self._roots = None, [], None, []
        self._tree = None
        self._evicted.clear()

    def _check_tree(self):
        """Look at the module trees again (by each module's version; taken again only when
        one moved); drop every tape if they changed."""
        seen = capture_hooks.tree_version
        if self._tree is not None and self._tree.unchanged():
            self._tree_seen = seen
            return
        tree = guards.module_tree(self._roots)
        if self._tree is not None and not guards.same_tree(tree, self._tree):
            self._forget()
            tree = guards.module_tree(())
        self._tree, self._tree_seen = tree, seen

    def _training_modes(self):
        """The ``training`` flags of the modules the recordings called (looked at again only
        after a ``Module.train()``/``eval()`` call somewhere): part of a tape's key."""
        if self._mode_seen != capture_hooks.mode_version:
            self._mode_seen = capture_hooks.mode_version
            self._modes = tuple(m.training for m in self._modules)
        return self._modes

    # ------------------------------------------------------------ recording
    def _record(self, key, args, kwargs, arrays, objs):
        bindings, known = closure.scan(self.fn)
        refuse_shared(arrays, memory_map(known), args, kwargs)
        shared = next((k[1] for k in key[0] if k[0] is None), None)   # (signature's)
        bufs, handed = static_inputs(objs, arrays, shared)   # (each in its input's layout)
        outs = iter(handed)
        s_args = [next(outs) if isinstance(a, Tensor) or _is_array(a) else a for a in args]
        s_kwargs = {k: next(outs) if isinstance(kwargs[k], Tensor) or _is_array(kwargs[k])
                    else kwargs[k] for k in sorted(kwargs)}       # _split's order
        rec = Recorder(bufs, known)
        roots = list(self._roots)
        mark = capture_hooks.changes_mark()
        with host_reads.refused(), capture_hooks.recording(rec):
            result = self.fn(*s_args, **s_kwargs)
        if self._tree is not None and not guards.same_tree(guards.module_tree(roots),
                                                           self._tree, attributes=False):
            self._tapes.clear()                  # the step changed a module tree: the other
            #                                      tapes read the old one
        spec = rec.output_spec(result, (bufs, handed))
        tape = rec.tape(spec)
        self.recordings += 1
        self._bindings = bindings
        seen = {id(m) for m in self._modules}
        self._modules += [m for i, m in rec.modules.items() if i not in seen]
        self._mode_seen = None
        reached = guards.modules_in([v for _, _, v in bindings] + closure.bound_objects(self.fn))
        seen = {id(m) for m in self._roots}
        self._roots += [m for m in self._modules + reached
                        if id(m) not in seen and not seen.add(id(m))]
        self._tree_seen = capture_hooks.tree_version
        self._tree = guards.module_tree(self._roots)
        # another thread changed a module while the step ran (or before the snapshot was
        # taken): the tape may hold the old one and the snapshot the new -- record again
        trusted = not capture_hooks.changed_elsewhere(mark, self._tree.modules)
        cuda = any(backend.is_cupy_array(b) for b in bufs) or _any_cupy(result)
        if cuda and self.cuda_graphs and not tape.dynamic:   # (a boolean mask: call by call)
            from .cuda_graph import GraphReplay
            entry = GraphReplay(tape, bufs, spec)
        else:
            entry = Replay(tape, bufs, spec)
        entry.memory = memory_map([a for _, a in tape.guards])
        key = (key[0], self._training_modes(), key[2])
        if trusted:
            self._keep(key, entry)
        else:
            self._forget()
        for buf, a in zip(bufs, arrays):     # an input the step wrote into: as eagerly
            if id(buf) in tape.written:
                a[...] = buf
        _touch_written(entry, args, kwargs)
        refuse_shared(arrays, entry.memory, args, kwargs)   # (a tensor the scan missed)
        return recorded_output(spec, result, (objs, arrays, bufs))

    def _keep(self, key, entry):
        """Keep ``entry`` for ``key``; drop the least recently used tape beyond
        ``max_recordings``; warn (once) when a signature whose tape was dropped came back."""
        self._signatures.add(hash(key))
        if self._evicted.pop(key, None) is not None and not self._warned:
            self._warned = True
            warnings.warn(
                f"gpugrad.compile: {getattr(self.fn, '__qualname__', 'the step')} recorded "
                f"again an input signature whose tape was dropped to keep max_recordings="
                f"{self.max_recordings} tapes ({len(self._signatures)} signatures seen so "
                f"far): calls that cycle through more signatures than max_recordings record "
                f"at every call, several times slower than a replay.  Raise max_recordings "
                f"(None: no limit) or call with fewer shapes (pad the batch); "
                f"step.evictions counts the dropped tapes", RuntimeWarning, stacklevel=4)
        self._tapes[key] = entry
        self._tapes.move_to_end(key)
        if self.max_recordings is not None and len(self._tapes) > self.max_recordings:
            old, _ = self._tapes.popitem(last=False)  # the least recently used, its buffers
            self.evictions += 1
            self._evicted[old] = True
            if len(self._evicted) > _EVICTED_KEPT:
                self._evicted.popitem(last=False)


_EVICTED_KEPT = 4096   # keys of dropped tapes remembered (to tell a cycle of signatures)


def _touch_written(entry, args, kwargs):
    """Move the version counter of each input Tensor the step wrote into (its array was
    written after the replay), as the uncompiled write would."""
    if entry.tape.written:
        ins = [a for a in list(args) + [kwargs[k] for k in sorted(kwargs)]
               if isinstance(a, Tensor) or _is_array(a)]
        moved = set()                        # a counter shared by two inputs: once
        for a, buf in zip(ins, entry.bufs):
            if id(buf) in entry.tape.written and isinstance(a, Tensor) and \
                    id(a._vc) not in moved:
                moved.add(id(a._vc))
                a._vc[0] += 1


def _any_cupy(v):
    if isinstance(v, Tensor):
        return backend.is_cupy_array(v.data)
    if isinstance(v, (tuple, list)):
        return any(_any_cupy(x) for x in v)
    if isinstance(v, dict):
        return any(_any_cupy(x) for x in v.values())
    return False


class Replay:
    """A tape with its static input buffers, replayed call by call (the CPU path)."""

    def __init__(self, tape, bufs, spec):
        self.tape, self.bufs, self.spec = tape, bufs, spec

    def valid(self):
        return self.tape.valid()

    def load(self, arrays):
        for buf, a in zip(self.bufs, arrays):
            if a is not buf:
                if type(a) is not type(buf):
                    raise TypeError(f"a compiled step recorded with {type(buf).__name__} "
                                    f"inputs got a {type(a).__name__}")
                buf[...] = a

    def run(self, arrays, objs=None):
        self.load(arrays)
        out = build_output(self.spec, self.tape.replay(), (objs, arrays, self.bufs))
        for buf, a in zip(self.bufs, arrays):     # an input the step wrote into
            if a is not buf and id(buf) in self.tape.written:
                a[...] = buf
        return out


def compile(fn=None, *, cuda_graphs=True, max_recordings=8):
    """Record one call of ``fn`` (a whole training step) and replay it on later calls.

    ``fn`` takes Tensors/arrays (data, copied into static buffers at each call) and hashable
    values (static); it may return Tensors, numbers, None, or tuples/lists/dicts of them
    (namedtuples and other subclasses come back as their type; an input returned, or a view
    of one, is the caller's tensor or that view of it).  A
    replay returns new Tensors (no graph: ``requires_grad`` False) over the replay's arrays
    -- on CUDA graphs, static arrays that the next call overwrites.  Raises
    :class:`CaptureError` when the step reads a value on the host or uses what a replay
    cannot follow (see the module docstring).  ``cuda_graphs=False`` replays CUDA steps
    call by call instead of as graphs.  ``max_recordings`` (an int >= 1, or None for no
    limit; ValueError otherwise) caps the tapes kept, one per input signature: a new one
    beyond it drops the least recently used (its buffers freed; that signature records
    again when it comes back).  Usable as a decorator.

    >>> import gpugrad as gg
    >>> @gg.compile
    ... def double_sum(x):
    ...     return (x * 2).sum()
    >>> double_sum(gg.ones(2)).item(), double_sum(gg.full((2,), 3.0)).item()
    (4.0, 12.0)
    """
    if fn is None:
        return lambda f: CompiledStep(f, cuda_graphs=cuda_graphs, max_recordings=max_recordings)
    return CompiledStep(fn, cuda_graphs=cuda_graphs, max_recordings=max_recordings)


def training_step(model, loss_fn, optimizer, precision=None):
    """A compiled ``(x, y) -> loss`` training step: zero_grad, forward (under the precision
    policy's autocast), loss, backward, optimizer step -- what ``gpugrad train --compile``
    replays.  ``precision`` is a :mod:`gpugrad.amp` policy (None: plain float32); a policy
    that reads values on the host (dynamic loss scaling) raises :class:`CaptureError` on the
    first call.

    >>> import gpugrad as gg
    >>> m = gg.nn.Linear(2, 1); opt = gg.optim.SGD(m.parameters(), lr=0.1)
    >>> step = training_step(m, gg.nn.MSELoss(), opt)
    >>> x, y = gg.ones(3, 2), gg.zeros(3, 1)
    >>> step(x, y).item() > step(x, y).item()
    True
    """
    import contextlib

    def body(x, y):
        optimizer.zero_grad()
        with precision.autocast() if precision is not None else contextlib.nullcontext():
            loss = loss_fn(model(x), y)
        if precision is None:
            loss.backward()
            optimizer.step()
        else:
            precision.backward(loss)
            precision.unscale_(optimizer)
            precision.step(optimizer)
        return loss
    return compile(body)
