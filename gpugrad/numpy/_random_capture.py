"""What ``gpugrad.numpy.random`` records while :func:`gpugrad.compile` records a step: the
calls that reset a stream (``seed``, ``set_state``, a Generator's ``bit_generator.state =
...`` and ``bit_generator.advance(n)``) become host calls (``capture_hooks.host_call``) that
each replay makes again, in order with the draws, so a replay takes the numbers the
uncompiled step takes.

>>> import numpy as np
>>> bg = RecordedBitGenerator(np.random.PCG64(0)); type(bg.state)
<class 'dict'>
"""
from __future__ import annotations

from .. import capture_hooks

__all__ = ["RecordedBitGenerator"]


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
