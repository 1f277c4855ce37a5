"""The gradient buffers the engine hands one backward call: for a node whose backward can
write an input's gradient straight into a given array (``Function.grad_into``, the fused
linear layers), the views of the optimizer's flat gradient buffer that the running pass
claimed (:func:`gpugrad.leaf_grads._grad_buffers`).  They are kept per thread, not on the
node: passes in several threads may run one node's backward at the same time (a graph kept
with ``retain_graph``), each with the views its own pass claimed.

>>> from gpugrad.autograd import Function
>>> n, view = Function(), object()
>>> hand_buffers(n, {1: view}); grad_buffer(n, 1) is view, grad_buffer(n, 0)
(True, None)
>>> hand_buffers(n, None); grad_buffer(n, 1) is None
True
"""
from __future__ import annotations

import threading

__all__ = ["grad_buffer", "hand_buffers"]

_handed = threading.local()  # .buffers: (node, {input index: view}) of this thread's call


def hand_buffers(n, buffers):
    """Give node ``n``'s next backward call in this thread ``buffers`` ({input index: array});
    None takes them back (after the call, also when it raised)."""
    _handed.buffers = None if buffers is None else (n, buffers)


def grad_buffer(n, i):
    """The array handed to node ``n``'s running backward (in this thread) for input ``i``'s
    gradient, or None: the backward then allocates that gradient itself."""
    h = getattr(_handed, "buffers", None)
    return h[1].get(i) if h is not None and h[0] is n else None
