"""What ``gpugrad.numpy.random`` records while :func:`gpugrad.compile` records a step: the
calls that reset a stream (``seed``, ``set_state``, a Generator's ``bit_generator.state =
...`` and ``bit_generator.advance(n)``) become host calls (``capture_hooks.host_call``) that
each replay makes again, in order with the draws, so a replay takes the numbers the
uncompiled step takes; and every draw (:func:`drawn`) becomes a recorded draw that each
replay makes again from the stream as it is then.

>>> import numpy as np
>>> bg = RecordedBitGenerator(np.random.PCG64(0)); type(bg.state)
<class 'dict'>
"""
from __future__ import annotations

import numpy as _np

from .. import backend, capture_hooks
from . import _fallback as F

__all__ = ["RecordedBitGenerator", "drawn"]


class RecordedBitGenerator:
    """A ``gpugrad.numpy.random.Generator``'s ``bit_generator`` while a step is recorded: NumPy's own for
    reads, with ``state = ...`` and ``advance(n)`` recorded so each replay resets the stream
    at the same point (``jumped()`` makes a new one and changes nothing)."""

    def __init__(self, bit_generator):
        object.__setattr__(self, "_bg", bit_generator)

    def __getattr__(self, name):
        if name == "advance":
            return lambda delta: capture_hooks.host_call(_advance, self._bg, delta)
        return getattr(self._bg, name)

    def __setattr__(self, name, value):
        if name != "state":
            raise AttributeError(f"cannot set {name!r} of a bit generator")
        capture_hooks.host_call(_set_bit_state, self._bg, value)


def _set_bit_state(bg, state):
    bg.state = state


def _advance(bg, delta):
    bg.advance(delta)


def drawn(src, name, args, kwargs):
    """``src._answer(name, args, kwargs)`` (NumPy's or CuPy's draw) as tensors; while
    ``gpugrad.compile`` records a step, a recorded draw that each replay draws again from
    ``src``'s stream as it is then (CaptureError for a draw a replay could not make again:
    one from host arrays, or a scalar: pass ``size=``)."""
    if not (capture_hooks._on and capture_hooks.active() is not None):
        return F.wrap_result(src._answer(name, args, kwargs))
    where = f"gpugrad.numpy.random.{name}"
    if getattr(src, "_in_step", False):
        raise capture_hooks.CaptureError(
            f"{where} draws from a Generator made inside a step gpugrad.compile is recording "
            f"(default_rng(...) in the step): a replay would go on drawing from the one made "
            f"at recording; make the Generator outside the step")
    if any(isinstance(a, _np.ndarray) or backend.is_cupy_array(a)
           for a in F._leaves((args, kwargs))):
        raise capture_hooks.CaptureError(
            f"{where} got an array argument inside a step gpugrad.compile is recording; "
            f"draw standard values with size= and scale them with tensor ops "
            f"(loc + scale * standard_normal(size))")
    out = capture_hooks.draw(src, _draw_again, name, args, kwargs)
    if not hasattr(out, "shape") or isinstance(out, _np.generic):
        raise capture_hooks.CaptureError(
            f"{where} drew a scalar inside a step gpugrad.compile is recording, which a replay "
            f"cannot draw again; pass size= for an array")
    return F.wrap_result(out)


def _draw_again(src, name, args, kwargs):
    return src._answer(name, args, kwargs)
