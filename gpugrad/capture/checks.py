"""Value checks in a captured step: an op that checks its arguments' values outside its
node's forward (``cross_entropy``/``nll_loss`` check that each class target is in [0, C) or
``ignore_index`` in the Python wrapper, before the node runs) reports the check with
:func:`gpugrad.capture_hooks.check`, and the tape calls it again at the same point of each
replay: a bad value raises the uncompiled call's error (same type, same message) before
the backward pass and the optimizer's step, so nothing is updated -- where the node's
forward alone would wrap a target of -1 to class C - 1.

On the CPU the check is an array entry (the CPU plan may keep it in a sequential BLAS
block); on CUDA a host entry, since a deferred check (:mod:`gpugrad.device_checks`) keeps
Python state that a CUDA graph would not replay.

>>> import numpy as np, gpugrad as gg
>>> from gpugrad import nn, optim
>>> W = nn.Parameter(gg.zeros(3, 4)); opt = optim.SGD([W], lr=0.1)
>>> def body(x, y):
...     loss = gg.cross_entropy(gg.linear(x, W), y, label_smoothing=0.1)
...     loss.backward(); opt.step(); opt.zero_grad(); return loss
>>> step = gg.compile(body); _ = step(gg.ones(2, 3), gg.tensor([0, 1]))
>>> step(gg.ones(2, 3), gg.tensor([0, -1]))
Traceback (most recent call last):
...
IndexError: cross_entropy: target values must be in [0, 4) (or ignore_index=-100), got -1
"""
from __future__ import annotations

from ..backend import is_cupy_array
from ..tensor import Tensor

__all__ = ["ValueChecks"]


class ValueChecks:
    """The part of :class:`~gpugrad.capture.tape.Recorder` that records value checks."""

    def check(self, fn, args):
        """``fn(*args)`` checked values and passed: a replay calls it again here, on the
        replay's arrays (an argument the step computed is read from its slot; an input
        buffer or a tensor from before the call by reference)."""
        self._flush()
        where = f"the value check {getattr(fn, '__qualname__', None) or fn!r}"
        spec = [self._ref(a.data, where, a) if isinstance(a, Tensor) else self._ref(a, where)
                for a in args]
        cuda = any(is_cupy_array(a.data if isinstance(a, Tensor) else a) for a in args)

        def run(env):
            fn(*[env[k] if k >= 0 else v for k, v in spec])
        self._append("host" if cuda else "array", run, [k for k, _ in spec], ("check",))
