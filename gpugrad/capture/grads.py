"""``.grad`` assignments in a captured step: each one the step makes is replayed, in order.

A replay hands each gradient to its leaf again (``_deliver``: the first one of a pass becomes
the leaf's ``.grad``, later ones are added into it), so the leaf's ``.grad`` must be, at that
moment, what it was in the uncompiled step.  Three things set it:

* the step itself (``w.grad = None`` before ``backward``, ``w.grad = h`` by hand, ``w.grad =
  None`` after it): an entry of the tape sets it again at each replay -- to None, to the
  replay's array of a tensor the step computed, to a leaf's replayed ``.grad`` tensor, or to a
  tensor from before the call; a tensor made from NumPy values in the step, or an input of
  the step, is refused with :class:`CaptureError`;
* a tensor made in the step (which starts with no gradient; its constructor's ``data``
  assignment reports it: :meth:`GradAssignments.tensor_made`): its first delivery starts from
  None at each replay too (the recorded tensor object is the one a replay hands gradients to);
* a host call (``zero_grad``), replayed as it is, and the delivery itself: nothing to add.

A ``.grad`` the step never sets keeps accumulating over calls, as in the uncompiled step.

>>> import gpugrad as gg
>>> w = gg.nn.Parameter(gg.ones(2))
>>> def step(x):
...     w.grad = None
...     (x * w).sum().backward()
...     return w.grad
>>> f = gg.compile(step)
>>> f(gg.ones(2)).tolist(), f(gg.full((2,), 5.0)).tolist()
([1.0, 1.0], [5.0, 5.0])
"""
from __future__ import annotations

from ..capture_hooks import CaptureError
from ..tensor import Tensor

__all__ = ["GradAssignments"]


class GradAssignments:
    """The part of :class:`~gpugrad.capture.tape.Recorder` that follows ``.grad``
    assignments (called by :mod:`gpugrad.capture.host_reads` before and after each one)."""

    def _init_grads(self):
        self.fresh = set()        # ids of tensors made during the recording, .grad untouched
        self.delivering = None    # the leaf the backward pass is handing a gradient to
        self.by_deliver = False   # the assignment under way is the delivery's own

    def tensor_made(self, t):
        """``t`` is being made during the recording (its constructor just set ``data``; its
        ``.grad`` slot starts as None without an assignment to report)."""
        self.fresh.add(id(t))

    def grad_set(self, t):
        """``t.grad`` is about to be assigned: note a gradient handed to it before."""
        if _being_made(t):
            return
        self.by_deliver = self.delivering is t and t.grad is None   # (_add_to_grad's first)
        self.delivering = None
        if t.grad is not None and any(p is t for p, _ in self.pending):
            self._flush()

    def grad_assigned(self, t):
        """``t.grad`` was just assigned: by a tensor's constructor (noted as made in the
        step), by the backward pass (its leaf entry replays it), or by the step (recorded)."""
        if _being_made(t):                # a constructor that assigns grad (Parameter's)
            self.fresh.add(id(t))
            return
        if self.by_deliver:
            self.by_deliver = False
            if t.grad is not None and any(p is t for p, _ in self.pending):
                self._flush()
            return
        self._flush()
        self.fresh.discard(id(t))
        g = t.grad
        if g is None:
            self._append("host", lambda env: setattr(t, "grad", None), [])
            return
        k = self.grad_objs.get(id(g))
        if k is not None:                 # a leaf's .grad tensor: the replay's
            self._append("host", lambda env: setattr(t, "grad", env[k]), [k])
            return
        d = g.data
        k = self.slot.get(id(d))
        if k is not None:                 # a tensor the step computed: over the replay's array
            self._append("host", lambda env: setattr(t, "grad", Tensor._make(env[k])), [k])
            return
        if id(d) in self.made or id(d) in self.static:
            what = "an input of the step" if id(d) in self.static else \
                "a tensor that no recorded gpugrad call made"
            raise CaptureError(f"a compiled step set a .grad of shape {d.shape} to {what}: a "
                               f"replay would reuse the recording's values; compute it with "
                               f"gpugrad ops inside the step")
        self._ref(d, "a .grad assignment", g)     # a tensor from before the call: itself
        self._append("host", lambda env: setattr(t, "grad", g), [])

    def _delivery_starts(self, t):
        """The backward pass hands leaf ``t`` a gradient: True when ``t`` was made in the
        step and nothing set its ``.grad`` yet (a replay starts it from None)."""
        self.delivering = t
        fresh = id(t) in self.fresh
        self.fresh.discard(id(t))
        return fresh


def _being_made(t):
    """True while ``t``'s constructor runs (it sets ``data`` and ``grad`` before its version
    counter)."""
    try:
        t._vc
    except AttributeError:
        return True
    return False
