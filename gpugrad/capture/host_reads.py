"""Refusing host reads while a step is recorded: ``item()``, ``float(t)``, ``bool(t)``,
``int(t)``, ``tolist()``, ``numpy()``, ``np.asarray(t)`` on a Tensor raise
:class:`~gpugrad.capture_hooks.CaptureError` in the recording thread (a replay could not
follow a Python decision taken on a value).  The Tensor methods are wrapped only while some
thread records, and the wrappers check the calling thread, so other threads are untouched.

While recording, every array put into a tensor (``Tensor(...)``, ``gg.tensor(...)``,
``t.data = a``) is also reported to the recorder (``Recorder.assigned``), which refuses such an
array when an op later reads it unless a recorded call made it -- a tensor's constructor puts
its array first, so this is also how the recorder learns of each tensor made in the step
(``Recorder.tensor_made``: its ``.grad`` starts as None).  A tensor's own array put back
(``p.data -= lr * p.grad.data``: NumPy arithmetic in place, which no replay would repeat)
raises CaptureError.  Also reported: every ``t.grad = g``
(``Recorder.grad_set`` before, ``Recorder.grad_assigned`` after), so that the gradient the
backward pass handed to a leaf is known before the step rebinds ``p.grad``, and the step's own
assignments are replayed (:mod:`gpugrad.capture.grads`).
"""
from __future__ import annotations

import contextlib
import threading

from .. import capture_hooks
from ..capture_hooks import CaptureError
from ..tensor import Tensor
from .grads import _being_made

_READS = ("item", "tolist", "numpy", "__array__", "__bool__", "__float__", "__int__",
          "__index__", "__complex__")
_lock = threading.Lock()
_depth = 0
_saved = {}


def _reporting(slot):
    """A ``data`` property over the slot descriptor that reports assignments in a recording
    thread to its recorder."""
    get, put = slot.__get__, slot.__set__

    def set_data(t, a):
        r = capture_hooks.active()
        if r is not None and not _being_made(t) and _holds(get, t, a):
            _refuse_numpy_write(t, a)
        put(t, a)
        if r is not None:
            if _being_made(t):  # a constructor (Tensor(), _make, Function.apply) sets data first
                r.tensor_made(t)
            r.assigned(t, a)
    return property(lambda t: get(t, Tensor), set_data, slot.__delete__, slot.__doc__)


def _holds(get, t, a):
    try:
        return get(t, Tensor) is a
    except AttributeError:    # (no array yet)
        return False


def _refuse_numpy_write(t, a):
    """``t.data = t.data`` in a recording thread: what ``p.data -= lr * p.grad.data`` (NumPy
    arithmetic in place on a tensor's array) leaves -- a write that no recorded call made, so
    a replay would silently skip it."""
    raise CaptureError(
        f"t.data -= ... (or +=, *=, /=: NumPy arithmetic in place on the array of a tensor of "
        f"shape {tuple(a.shape)}) inside a step that gpugrad.compile records: NumPy writes are "
        f"not recorded, so every replay would skip this one. Write it with gpugrad ops on the "
        f"tensor -- `with gg.no_grad(): p -= lr * p.grad` (or p.sub_(...), p.grad.mul_(0.5)) -- "
        f"or run the step uncompiled")


def _reporting_grad(slot):
    """A ``grad`` property over the slot descriptor that tells the recorder of the calling
    thread before and after each assignment, so that a leaf's gradient handed over by the
    backward pass is known even when the step sets ``p.grad = None`` right after."""
    get, put = slot.__get__, slot.__set__

    def set_grad(t, g):
        r = capture_hooks.active()
        if r is not None:
            r.grad_set(t)
        put(t, g)
        if r is not None:
            r.grad_assigned(t)
    return property(lambda t: get(t, Tensor), set_grad, slot.__delete__, slot.__doc__)


def _refusing(name, orig):
    def read(self, *args, **kwargs):
        if capture_hooks.active() is not None:
            call = f"Tensor.{name}()" if not name.startswith("__") else f"{name[2:-2]}(tensor)"
            raise CaptureError(
                f"{call} reads a value on the host while gpugrad.compile records the step: a "
                f"replay runs the recorded calls and cannot follow Python decisions taken on "
                f"values (as in jax.jit, Python control flow is traced once). Return the "
                f"tensor from the step and read it after the call, or run the step uncompiled")
        return orig(self, *args, **kwargs)
    read.__name__ = name
    read.__doc__ = orig.__doc__
    return read


@contextlib.contextmanager
def refused():
    """While the block runs, host reads of a Tensor in a recording thread raise.

    >>> import gpugrad as gg
    >>> with refused(): gg.ones(1).item()
    1.0
    """
    global _depth
    with _lock:
        if _depth == 0:
            for name in _READS:
                orig = Tensor.__dict__.get(name)
                if orig is not None:
                    _saved[name] = orig
                    setattr(Tensor, name, _refusing(name, orig))
            _saved["data"] = Tensor.__dict__["data"]
            Tensor.data = _reporting(_saved["data"])
            _saved["grad"] = Tensor.__dict__["grad"]
            Tensor.grad = _reporting_grad(_saved["grad"])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for name, orig in _saved.items():
                    setattr(Tensor, name, orig)
                _saved.clear()
