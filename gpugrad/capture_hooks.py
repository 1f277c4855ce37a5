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
_trees = itertools.count(1)
tree_version = 0             # moves on at every change of a module's children, parameters or
#                              buffers: recorded steps look at their modules' trees again


class CaptureError(RuntimeError):
    """A step cannot be captured: it reads a value on the host, uses a feature the recorder
    cannot replay, or its arrays changed under a recorded step."""


def active():
    """The recorder of the calling thread, or None (also None in every other thread).

    >>> active() is None
    True
    """
    return getattr(_state, "recorder", None) if _on else None


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


def module_called(module):
    """``module`` was called (its ``training`` flag may steer what the step does)."""
    r = active()
    if r is not None:
        r.module_called(module)


def mode_changed():
    """A ``Module.train()``/``eval()`` call: recorded steps check their modules' flags again."""
    global mode_version
    mode_version = next(_modes)


def structure_changed():
    """A module's child modules, parameters or buffers were set, replaced or deleted:
    recorded steps check the module trees they depend on again."""
    global tree_version
    tree_version = next(_trees)
