"""Anomaly detection: the first NaN or Inf of a forward or backward pass raises
:class:`AnomalyError`, naming the op and where in your code it was created.

``detect_anomaly()`` is a context manager and a decorator; ``set_detect_anomaly(mode)`` is the
global switch (it returns the previous mode).  Like grad mode, the setting belongs to the
thread that makes it, and a new thread starts with it off.  It is off by default, and off it
costs one module attribute read per op and per backward pass.

While it is on:

* every op checks its floating (real or complex) output.  An output with NaN or Inf raises
  when the op's inputs were all finite: the error names the op that *produced* the bad value
  (``log(-1)``, ``0 / 0``, ``exp(1000)``), its inputs' shapes and dtypes, and the line of your
  code that called it.  An op whose input already held NaN/Inf only propagates it and does
  not raise: values that enter as data (a ``-inf`` attention mask, a NaN in a dataset) are
  not reported in the forward pass, and a NaN made while detection was off is not pinned on a
  later op.
* every recorded node remembers the traceback of its creation: the innermost frames outside
  gpugrad's library modules (the tools, such as ``gpugrad train``'s loop, count as user code).
* after each node's backward (``Tensor.backward``, ``gpugrad.autograd.grad``, ``gpugrad.grad``
  and the other transforms, ``create_graph`` and higher orders included), every gradient it
  returns is checked; NaN or Inf raises, naming the op, its inputs, the index of the bad
  gradient and the forward traceback where the node was created.  Any other error raised by
  a node's backward gets that traceback as a note.

``check_nan=False`` keeps the tracebacks (and the notes) but checks no values.

Checking a CuPy array synchronizes with the GPU (``bool(xp.isfinite(a).all())`` waits for the
result), once per op and per gradient, so a run with detection on is slower on a GPU as well
as on the CPU: turn it on to find a NaN, not for training.  In-place operators are ops too and
are checked; writes that are not computed by an op (``fill_``/``copy_`` of a given value, an
optimizer step) are not.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, -1.0], requires_grad=True)
>>> with gg.autograd.detect_anomaly():
...     gg.log(x)  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
gpugrad.anomaly.AnomalyError: Log produced nan (1 of 2 values) in its output ...
"""
from __future__ import annotations

import cmath
import functools
import linecache
import os
import sys
import threading

import numpy as np

from .dtypes import is_inexact

__all__ = ["AnomalyError", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]


class AnomalyError(RuntimeError):
    """A NaN or Inf found by anomaly detection.

    Attributes: ``op`` (the op's name, e.g. ``"Log"``), ``phase`` (``"forward"`` or
    ``"backward"``), ``index`` (the input whose gradient was bad, in a backward error),
    ``filename`` and ``lineno`` (the user's line that created the op, when known) and
    ``backward_of`` (for an op run by a ``create_graph`` backward: the name of the node whose
    gradient it was computing).
    """

    def __init__(self, message, op=None, phase=None, index=None, filename=None, lineno=None,
                 backward_of=None):
        super().__init__(message)
        self.op, self.phase, self.index = op, phase, index
        self.filename, self.lineno, self.backward_of = filename, lineno, backward_of


class _State(threading.local):
    enabled = False   # each thread starts with detection off
    check_nan = True
    node = None       # the node whose backward runs on Tensors (create_graph) in this thread


_state = _State()
# how many threads have detection on: the gate every op reads (a module attribute is read
# several times faster than a thread-local one); the thread's own switch decides past it
_on = 0
_lock = threading.Lock()


def _set(enabled, check_nan):
    global _on
    if enabled != _state.enabled:
        with _lock:
            _on += 1 if enabled else -1
    _state.enabled, _state.check_nan = enabled, check_nan


def is_anomaly_enabled() -> bool:
    """True when anomaly detection is on (in this thread).

    >>> is_anomaly_enabled()
    False
    """
    return _state.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """True when anomaly detection is on and checks values for NaN/Inf (in this thread).

    >>> with detect_anomaly(check_nan=False):
    ...     is_anomaly_enabled(), is_anomaly_check_nan_enabled()
    (True, False)
    """
    return _state.enabled and _state.check_nan


def set_detect_anomaly(mode: bool, check_nan: bool = True) -> bool:
    """Turn anomaly detection on or off in this thread; returns the previous mode.

    >>> set_detect_anomaly(True)
    False
    >>> set_detect_anomaly(False)
    True
    """
    prev = _state.enabled
    _set(bool(mode), bool(check_nan))
    return prev


class detect_anomaly:
    """Context manager and decorator: anomaly detection is on inside, and the previous
    setting comes back on exit (as ``torch.autograd.detect_anomaly``).

    >>> with detect_anomaly():
    ...     is_anomaly_enabled()
    True
    >>> @detect_anomaly()
    ... def step():
    ...     return is_anomaly_enabled()
    >>> step(), is_anomaly_enabled()
    (True, False)
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)
        self._prev = []

    def __enter__(self):
        self._prev.append((_state.enabled, _state.check_nan))
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self._prev.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


# ---------------------------------------------------------------- values
def _finite(a) -> bool:
    """True when array ``a`` (NumPy or CuPy, any dtype) holds no NaN or Inf.  On a CuPy array
    this waits for the GPU."""
    if not is_inexact(a.dtype):      # (bfloat16, kind 'V', is checked too)
        return True
    if type(a) is np.ndarray or isinstance(a, np.generic):
        return bool(np.isfinite(a).all())
    from .backend import get_array_module
    return bool(get_array_module(a).isfinite(a).all())


def _what(a) -> str:
    """``"nan"``, ``"inf"`` or ``"nan and inf"``, with how many of how many values."""
    from .backend import get_array_module
    xp = np if type(a) is np.ndarray or isinstance(a, np.generic) else get_array_module(a)
    n_nan, n_inf = int(xp.isnan(a).sum()), int(xp.isinf(a).sum())
    kind = " and ".join(k for k, n in (("nan", n_nan), ("inf", n_inf)) if n)
    return f"{kind} ({n_nan + n_inf} of {a.size} values)"


def _array_of(v):
    data = getattr(v, "data", None)
    if hasattr(data, "dtype") and hasattr(data, "shape") and hasattr(v, "_vc"):
        return data  # a Tensor
    if hasattr(v, "dtype") and hasattr(v, "shape"):
        return v
    return None


def _all_finite(values, depth=0) -> bool:
    """True when no tensor, array or number among ``values`` (lists searched) is NaN/Inf."""
    for v in values:
        a = _array_of(v)
        if a is not None:
            if not _finite(a):
                return False
        elif isinstance(v, (float, complex)):
            if not cmath.isfinite(v):
                return False
        elif isinstance(v, (list, tuple)) and depth < 2:
            if not _all_finite(v, depth + 1):
                return False
    return True


def _describe(v) -> str:
    a = _array_of(v)
    if a is not None:
        kind = "tensor" if a is not v else "array"
        grad = ", requires grad" if getattr(v, "requires_grad", False) else ""
        return f"{kind} of shape {tuple(a.shape)}, dtype {a.dtype}{grad}"
    if isinstance(v, (list, tuple)) and any(_array_of(x) is not None for x in v):
        return f"{type(v).__name__} of [" + "; ".join(_describe(x) for x in v) + "]"
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _inputs(args, kwargs=None) -> str:
    lines = [f"    input {i}: {_describe(a)}" for i, a in enumerate(args)]
    lines += [f"    {k}={_describe(v)}" for k, v in (kwargs or {}).items()]
    return "\n".join(lines) if lines else "    (no inputs)"


# ---------------------------------------------------------------- where an op was created
_MAX_FRAMES = 10   # user frames kept per node (the innermost ones)
_WALK = 96         # frames looked at, at most
_FALLBACK = 6      # library frames kept when no user frame is found
_APP = ("__main__.py",)  # gpugrad's programs (this and gpugrad/tools/): their frames are user code
_library = {}      # filename -> True for gpugrad's library modules
_roots = None


def _is_library(filename) -> bool:
    global _roots
    if _roots is None:
        here = os.path.dirname(os.path.abspath(__file__))
        roots = [here + os.sep]
        kernels = sys.modules.get("gpugrad.kernels")  # installed from its own folder
        if kernels is not None and getattr(kernels, "__file__", None):
            roots.append(os.path.dirname(os.path.abspath(kernels.__file__)) + os.sep)
        _roots = (here + os.sep, tuple(roots))
    pkg, roots = _roots
    path = os.path.abspath(filename)
    if not path.startswith(roots):
        return False
    if path.startswith(pkg + "tools" + os.sep):   # the tools layer: gpugrad's own programs
        return False
    return not (os.path.dirname(path) + os.sep == pkg and os.path.basename(path) in _APP)


def _stack(skip=2):
    """The innermost frames outside gpugrad's library, innermost first, as
    (filename, line, function) -- or, when there is none, the innermost library frames."""
    f = sys._getframe(skip)
    user, lib = [], []
    n = 0
    while f is not None and n < _WALK:
        code = f.f_code
        fn = code.co_filename
        is_lib = _library.get(fn)
        if is_lib is None:
            is_lib = _library[fn] = _is_library(fn)
        if not is_lib:
            user.append((fn, f.f_lineno, code.co_name))
            if len(user) == _MAX_FRAMES:
                break
        elif not user and len(lib) < _FALLBACK:
            lib.append((fn, f.f_lineno, code.co_name))
        f = f.f_back
        n += 1
    return tuple(user or lib)


def _site(frames):
    """``(filename, line)`` where the op was created, and a one-line description of it."""
    if not frames:
        return None, None, "an unknown place"
    fn, ln, name = frames[0]
    src = linecache.getline(fn, ln).strip()
    return fn, ln, f"{fn}:{ln}, in {name}" + (f": {src}" if src else "")


def _format_stack(frames, indent="  "):
    out = []
    for fn, ln, name in reversed(frames):
        out.append(f'{indent}File "{fn}", line {ln}, in {name}')
        src = linecache.getline(fn, ln).strip()
        if src:
            out.append(f"{indent}  {src}")
    return "\n".join(out)


def _creation(name, trace, depth=0):
    """The text saying where node ``name`` with anomaly record ``trace`` was created."""
    if trace is None:
        return (f"{name} was created before anomaly detection was turned on, so where is not "
                f"known: turn it on before the forward pass.")
    frames, parent = trace
    text = (f"{name} was created at {_site(frames)[2]}\n"
            f"Traceback of its creation (most recent call last; gpugrad's own frames left "
            f"out):\n{_format_stack(frames)}")
    if parent is not None and depth < 4:
        text += (f"\n{name} was recorded by the backward of {parent[0]} (create_graph=True).\n"
                 + _creation(*parent, depth + 1))
    return text


def _location(trace):
    """(filename, line) of the user's line in anomaly record ``trace``, following the nodes
    whose backward recorded it back to a forward pass."""
    for _ in range(8):
        if trace is None:
            return None, None
        frames, parent = trace
        if parent is None:
            return _site(frames)[:2]
        trace = parent[1]
    return None, None


# ---------------------------------------------------------------- the hooks
def after_forward(node, out, args, kwargs, record):
    """Called by ``Function.apply`` (detection on) with the forward's answer ``out``: check it,
    and keep the creation traceback on a recorded ``node``."""
    if _state.check_nan and not _finite(out) and _all_finite(args) and \
            _all_finite(kwargs.values()):
        _raise_forward(node, out, args, kwargs)
    if record:
        parent = _state.node  # (its name and record: the node itself would keep its arrays)
        node._anomaly = (_stack(3), None if parent is None else (parent.name, parent._anomaly))


def _raise_forward(node, out, args, kwargs):
    frames = _stack(4)
    parent = _state.node
    msg = (f"{node.name} produced {_what(out)} in its output (shape {tuple(out.shape)}, dtype "
           f"{out.dtype}) from finite inputs:\n{_inputs(args, kwargs)}\n")
    if parent is not None:
        filename, lineno = _location(parent._anomaly)
        msg += (f"It ran in the backward of {parent.name} (create_graph=True), computing "
                f"{parent.name}'s gradient.\n" + _creation(parent.name, parent._anomaly))
    else:
        filename, lineno, where = _site(frames)
        msg += (f"The op was called at {where}\nTraceback of the call (most recent call "
                f"last; gpugrad's library frames left out):\n{_format_stack(frames)}")
    phase = "forward" if parent is None else "backward"
    raise AnomalyError(msg, op=node.name, phase=phase, filename=filename, lineno=lineno,
                       backward_of=None if parent is None else parent.name)


def after_backward(node, grads, g):
    """Called by the backward pass (detection on) with the gradients ``grads`` that
    ``node.backward`` returned for its inputs."""
    if not _state.check_nan:
        return
    for i, (pg, need) in enumerate(zip(grads, node.needs)):
        if pg is None or not need:
            continue
        a = _array_of(pg)
        if a is None:
            a = np.asarray(pg)
        if _finite(a):
            continue
        ga = _array_of(g)
        incoming = "" if ga is None or _finite(ga) else (
            " The gradient it received was already non-finite (a non-finite gradient "
            "given to backward, or one returned by a hook).")
        filename, lineno = _location(node._anomaly)
        msg = (f"The backward of {node.name} returned {_what(a)} in the gradient for its input "
               f"{i} (shape {tuple(a.shape)}, dtype {a.dtype}).{incoming}\n"
               f"{node.name}'s inputs:\n{_inputs(node.parents)}\n"
               f"{_creation(node.name, node._anomaly)}")
        raise AnomalyError(msg, op=node.name, phase="backward", index=i, filename=filename,
                           lineno=lineno)


def note_backward_error(exc, node):
    """Add to ``exc`` (raised by ``node``'s backward, detection on) where the node was made."""
    if isinstance(exc, AnomalyError) or not hasattr(exc, "add_note"):
        return
    exc.add_note(f"(anomaly detection) raised by the backward of {node.name}. "
                 + _creation(node.name, node._anomaly))
