"""The engine's side of captured steps (:func:`gpugrad.compile`): where a recorder listens.

While a step is being recorded in this thread, the engine reports each array-level call that
makes up the step -- a node's forward (``Function.apply``), a node's backward, the sums and
casts of gradients in the backward pass, a gradient handed to a leaf, and host calls that
update state (an optimizer's ``step``/``zero_grad``, ``Module.zero_grad``, a scheduler's
``step``, gradient clipping), an in-place write into a tensor's memory, a random draw, and
each module called -- to the recorder installed with :func:`recording`.  Outside a recording each hook is one read of the
module attribute ``_on`` (0), so the eager path pays nothing measurable.

>>> _on
0
"""
from __future__ import annotations

import contextlib
import itertools
import threading

__all__ = ["CaptureError", "recording", "active"]

_on = 0                      # how many threads are recording now (0: every hook is off)
_lock = threading.Lock()     # guards _on: threads start and end recordings concurrently
_state = threading.local()   # .recorder: the recorder of the calling thread, or None
_modes = itertools.count(1)
mode_version = 0             # moves on at every Module.train()/eval(): recorded steps look
#                              at the training flags of the modules they called again
_tree_lock = threading.Lock()  # guards the three below
tree_version = 0             # moves on as each change of a module's children, parameters,
#                              buffers or tensor attributes starts and as it ends: recorded
#                              steps look at their modules' trees again
anonymous_version = 0        # tree_version at the last change that named no module
_changing = 0                # changes under way (started, not ended)


class CaptureError(RuntimeError):
    """A step cannot be captured: it reads a value on the host, uses a feature the recorder
    cannot replay, or its arrays changed under a recorded step."""


def active():
    """The recorder of the calling thread, or None (also None in every other thread).

    >>> active() is None
    True
    """
    return getattr(_state, "recorder", None) if _on else None


def is_recording() -> bool:
    """True while :func:`gpugrad.compile` records a step in the calling thread.

    >>> is_recording()
    False
    """
    return bool(_on) and active() is not None


@contextlib.contextmanager
def recording(recorder):
    """Install ``recorder`` for the calling thread for the duration of the block; nested
    recordings are refused.

    >>> class Nop: pass
    >>> with recording(Nop()): active() is not None
    True
    """
    global _on
    if getattr(_state, "recorder", None) is not None:
        raise CaptureError("a compiled step called another compiled step while it was being "
                           "recorded; call the inner function uncompiled")
    _state.recorder = recorder
    with _lock:
        _on += 1
    try:
        yield recorder
    finally:
        with _lock:
            _on -= 1
        _state.recorder = None


# ------------------------------------------------------------------ hooks the engine calls
def forward(node, args, arrays, kwargs, raw, out, anchored):
    """``Function.apply`` ran ``node.forward(*arrays, **kwargs)`` -> ``raw`` (``out`` after
    conversion to an array); ``args`` are the Tensors/values it was called with."""
    r = active()
    if r is not None:
        r.forward(node, args, arrays, kwargs, raw, out, anchored)


def backward(node, g, in_grads, retain):
    """The backward pass ran ``node.backward(g)`` -> ``in_grads``."""
    r = active()
    if r is not None:
        r.backward(node, g, in_grads, retain)


def add(a, b, out, inplace):
    """The backward pass summed two gradients: ``out = a + b`` (``a += b`` when inplace)."""
    r = active()
    if r is not None:
        r.add(a, b, out, inplace)


def cast(g, out):
    """The backward pass cast gradient ``g`` to its input's dtype: ``out``."""
    r = active()
    if r is not None:
        r.cast(g, out)


def leaf(t, g):
    """The backward pass is about to hand gradient ``g`` to leaf ``t`` (``_deliver``)."""
    r = active()
    if r is not None:
        r.leaf(t, g)


def backward_pass(capture, create_graph):
    """A backward pass starts (``capture``: ``autograd.grad``'s slots, or None)."""
    r = active()
    if r is not None:
        r.backward_pass(capture, create_graph)


def host_call(fn, *args, **kwargs):
    """Record ``fn(*args, **kwargs)``, a call that changes state on the host (an optimizer's
    ``step``), as one entry that a replay makes again as it is; then run it with recording
    paused, so that its parts are not recorded a second time.  Returns what ``fn`` returns
    (a Tensor or array it returns is the replay's own at each replay).  Call it only while
    :func:`active` is not None."""
    r = _state.recorder
    _state.recorder = None
    try:
        out = fn(*args, **kwargs)
    finally:
        _state.recorder = r
    r.host_call(fn, args, kwargs, out)
    return out


def draw(generator, fn, *args):
    """Record the random draw ``fn(generator, *args)`` (an array) as an entry that draws again
    from the same generator at each replay -- the default generator of its device as it is
    then (after ``manual_seed``), or the very ``Generator`` object given -- so a replay takes
    the same numbers from the same stream as the uncompiled step.  Returns the array.
    Call it only while :func:`active` is not None."""
    r = _state.recorder
    _state.recorder = None
    try:
        out = fn(generator, *args)
    finally:
        _state.recorder = r
    r.draw(generator, fn, args, out)
    return out


def constant(make, out):
    """A creation function (``zeros``, ``full``, ``arange``...) made array ``out`` from static
    arguments; ``make()`` makes it again (a replay makes a new one, as the step does)."""
    r = active()
    if r is not None:
        r.constant(make, out)


def derived(fn, args, outs):
    """Arrays ``outs`` (a tuple) were computed as ``fn(*args)`` from arrays ``args`` outside
    any op (a boolean mask's expansion into index arrays): a replay computes them again."""
    r = active()
    if r is not None:
        r.derived(fn, args, outs)


def check(fn, *args):
    """An op checked the values of ``args`` (Tensors or arrays) outside its node's forward --
    ``fn(*args)`` raises the op's error for a bad value (a class target out of range): a
    replay calls it again at this point, before the calls that follow (so a bad value raises
    the uncompiled call's error and nothing is updated).  Call it after the check passed."""
    r = active()
    if r is not None:
        r.check(fn, args)


def value_shaped():
    """The node just recorded made an array whose shape depends on values (``nonzero``,
    ``unique``): a replay on CUDA runs call by call, as for a boolean mask."""
    r = active()
    if r is not None:
        r.dynamic = True


def old_value(data, nodes):
    """Before an in-place write into array ``data``, graph ``nodes`` that read its value got
    a private copy of it (:func:`gpugrad.old_values.keep_old_value`)."""
    r = active()
    if r is not None:
        r.old_value(data, nodes)


def write(t, src):
    """Tensor ``t``'s memory was overwritten in place with array ``src``
    (``t.data[...] = src``: an in-place operator or ``x[k] = v``)."""
    r = active()
    if r is not None:
        r.write(t, src)


def static_key(key) -> bool:
    """True unless a recording in this thread finds that index ``key`` may write other
    elements at a replay (an array it holds is computed from the call's values)."""
    r = active()
    return r is None or r.static_key(key)


def dynamic_write(vc, whole, span):
    """The write that moved version counter ``vc`` reached bytes ``span`` with a key a replay
    computes again; it was logged as ``whole`` (:mod:`gpugrad.capture.write_spans`)."""
    r = active()
    if r is not None:
        r.dynamic_write(vc, whole, span)


def write_refused(node, vc, ver, arrays):
    """Backward is about to refuse ``node``: a write logged after version ``ver`` of ``vc``
    may reach ``arrays``, which it saved.  The recorder raises CaptureError instead when the
    write was logged whole only because a replay may write other elements."""
    r = active()
    if r is not None:
        r.write_refused(node, vc, ver, arrays)


def module_called(module):
    """``module`` was called (its ``training`` flag may steer what the step does)."""
    r = active()
    if r is not None:
        r.module_called(module)


def mode_changed():
    """A ``Module.train()``/``eval()`` call: recorded steps check their modules' flags again."""
    global mode_version
    mode_version = next(_modes)


def structure_changing(module=None):
    """``module``'s child modules, parameters, buffers or tensor attributes are about to be
    set, replaced or deleted; :func:`structure_changed` follows (in a ``finally``).  A
    recording that overlaps a change made by another thread is not trusted
    (:func:`changed_elsewhere`)."""
    global tree_version, _changing
    with _tree_lock:
        tree_version += 1
        _changing += 1
        if module is not None:
            module.__dict__["_tree_version"] = (tree_version, threading.get_ident())
    _state.changes = getattr(_state, "changes", 0) + 1


def structure_changed(module=None, *, begun=False):
    """``module``'s (None: some module's) child modules, parameters, buffers or tensor
    attributes were set, replaced or deleted: recorded steps check the module trees they
    depend on again -- each module in them by its own version (``module.__dict__
    ["_tree_version"]``: the :data:`tree_version` of its last change and the thread that made
    it), or every tree again after a change that named no module.  ``begun``:
    :func:`structure_changing` was called before the change (else this marks a change
    already made)."""
    global tree_version, anonymous_version, _changing
    with _tree_lock:
        tree_version += 1
        if begun:
            _changing -= 1
        if module is None:
            anonymous_version = tree_version
        else:
            module.__dict__["_tree_version"] = (tree_version, threading.get_ident())
    _state.changes = getattr(_state, "changes", 0) + 1


class structure_change:
    """``with structure_change(module):`` around a change of ``module``'s tree:
    :func:`structure_changing` before it, :func:`structure_changed` after (also when the
    change raises)."""
    __slots__ = ("module",)

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        structure_changing(self.module)

    def __exit__(self, *exc):
        structure_changed(self.module, begun=True)
        return False


def changes_mark():
    """A mark for :func:`changed_elsewhere`: (:data:`tree_version`, this thread's changes)."""
    return tree_version, getattr(_state, "changes", 0)


def changed_elsewhere(mark, modules=None) -> bool:
    """True when another thread changed the structure of one of ``modules`` (None: of any
    module) since ``mark`` was taken (by :func:`changes_mark` in this thread), or is
    changing a module's structure now.

    >>> m = changes_mark(); structure_changing(); structure_changed(begun=True)
    >>> changed_elsewhere(m)
    False
    """
    version, own = mark
    with _tree_lock:
        moved, under_way, anonymous = tree_version - version, _changing, anonymous_version
    if under_way > 0:
        return True
    if modules is None or anonymous > version:     # (a change that named no module)
        return moved > getattr(_state, "changes", 0) - own
    me = threading.get_ident()
    for m in modules:
        v = m.__dict__.get("_tree_version")
        if v is not None and v[0] > version and v[1] != me:
            return True
    return False
