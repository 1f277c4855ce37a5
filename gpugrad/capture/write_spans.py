"""Logged writes in a captured step: which elements an in-place write with an index key
reaches, when a replay may write others.

Uncompiled, backward lets a node through when every later write into the memory of an
input it saved is logged and misses that input (:mod:`gpugrad.write_log`): a recurrence
into a preallocated buffer, ``h[t] = tanh(W @ h[t - 1])``, differentiates.  A replay makes
no such check: it runs the recorded calls, so the recording's check must hold at every
call.  It does for a key the recording shows to be the same at each call -- Python ints,
slices, lists, and arrays that are constants of the recording (a creation function's, the
positions of a static ``.flat`` or ``np.put`` key) -- whose write is logged as at eager
speed.  A key computed from the call's values (an ``argmax``, a mask of the input, an
input array) may write other elements at the next call: its write is logged as one of its
whole array, and a node that only the key's own elements missed raises
:class:`CaptureError` at recording, naming what to write instead (uncompiled, that call
runs).

>>> import numpy as np, gpugrad as gg, gpugrad.numpy as gnp
>>> W = gg.nn.Parameter(gg.tensor(np.eye(2) * 0.5))
>>> def step(x):
...     h = gnp.zeros((3, 2)); h[0] = x
...     for t in (1, 2):
...         h[t] = gnp.tanh(W @ h[t - 1])
...     loss = gnp.sum(h[1] * h[2]); loss.backward(); return loss
>>> f, x = gg.compile(step), gg.tensor([1.0, 2.0])
>>> [f(x).item() for _ in range(2)] == [step(x).item()] * 2      # records, then replays
True
"""
from __future__ import annotations

from ..capture_hooks import CaptureError
from ..node_record import is_array as _is_array
from ..tensor import Tensor
from ..write_log import writes_missed

__all__ = ["WriteSpans"]


class WriteSpans:
    """The part of :class:`~gpugrad.capture.tape.Recorder` that tells a static index key
    from one a replay computes again, and refuses a node that a write with such a key
    missed only by the elements the recording wrote."""

    def static_key(self, key) -> bool:
        """True when index ``key`` writes the same elements at every replay: its parts are
        Python ints, slices, None, Ellipsis, booleans, lists or ranges of those, and arrays
        (or tensors' arrays, not written since they were made) that the recording made as
        constants."""
        for k in key if type(key) is tuple else (key,):
            if isinstance(k, Tensor):
                if k._vc[0] != 0 or not self._constant(k.data):
                    return False
            elif _is_array(k):
                if not self._constant(k):
                    return False
            elif isinstance(k, (list, tuple)) and any(
                    isinstance(e, (Tensor, list, tuple)) or _is_array(e) for e in k):
                if not self.static_key(tuple(k)):
                    return False
        return True

    def _constant(self, a) -> bool:
        k = self.slot.get(id(a))
        return k is not None and self.meta[self.writer[k]] == ("constant",)

    def dynamic_write(self, vc, whole, span):
        """The write that moved ``vc`` to its current version reached bytes ``span``, with a
        key a replay computes again: it is logged as ``whole`` (its array's bounds)."""
        self.__dict__.setdefault("_dynamic_spans", []).append((vc, vc[0], whole, span))

    def write_refused(self, node, vc, ver, arrays):
        """Backward refuses ``node`` (which saved ``arrays``, counting versions on ``vc``
        from ``ver``): CaptureError when the writes logged whole because of their keys
        missed ``arrays`` (uncompiled, it would run); else nothing (the eager error
        follows)."""
        own = {(v, whole): span for c, v, whole, span in self.__dict__.get("_dynamic_spans", ())
               if c is vc and v > ver}
        if not own:
            return
        eager = [vc[0]] + [(v, *own.get((v, (lo, hi)), (lo, hi))) for v, lo, hi in vc[1:]]
        if writes_missed(eager, ver, arrays):
            raise CaptureError(
                f"the gradient of {node.name} needs an array that a later in-place write "
                f"inside the compiled step wrote around: the write's index (x[idx] = v, "
                f"x.flat[idx] = v, np.put(x, idx, v)) is computed from the call's values or "
                f"inputs, so a replay may write other elements, over what {node.name} saved "
                f"(uncompiled, this call's write missed it). Index the write with Python "
                f"ints, slices or lists (h[t] = v, h[[t]] = v), or build the result out of "
                f"place (np.stack, np.concatenate, np.where)")
