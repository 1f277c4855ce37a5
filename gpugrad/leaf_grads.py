"""Adding gradients into leaves' ``.grad``: in place, one thread at a time.

A leaf's first gradient of a pass becomes its ``.grad`` (``t._new_grad``: an owned copy, or,
for a :class:`~gpugrad.nn.Parameter` an optimizer manages, its slice of the optimizer's flat
gradient buffer); later ones are added in place.  Every addition holds :data:`leaf_lock`, as
PyTorch's AccumulateGrad holds a mutex: backward passes in several threads may share a leaf,
and NumPy releases the GIL inside ``+=``, so unlocked additions would lose updates.  A node
whose backward writes a leaf's first gradient straight into the buffer view (``grad_into``)
claims the view until the gradient is delivered; another pass reaching the leaf meanwhile
starts its ``.grad`` as a copy of its own, into which the claimed view is added after.

>>> import threading, gpugrad as gg
>>> w = gg.zeros(3, requires_grad=True)
>>> def work():
...     for _ in range(50):
...         (w * 1.0).sum().backward()
>>> ts = [threading.Thread(target=work) for _ in range(4)]
>>> _ = [t.start() for t in ts]; _ = [t.join() for t in ts]
>>> w.grad
tensor([200., 200., 200.])
"""
from __future__ import annotations

import threading

import numpy as np

from . import backend
from .ops._util import cast_grad
from .tensor import Tensor

__all__ = ["leaf_lock"]

leaf_lock = threading.RLock()  # held by every addition into a leaf's .grad
_lock, _unlock = leaf_lock.acquire, leaf_lock.release
_claimed = set()  # id(leaf) whose buffer view a node's backward is writing into now


def _grad_buffers(n, claim=False):
    """{input index: array} for leaf inputs of ``n`` whose first gradient of this pass can be
    computed straight into the optimizer's flat-buffer view (no hooks, no gradient yet, no
    other pass writing there).  With ``claim`` the views are claimed until :func:`_unclaim`."""
    out = {}
    with leaf_lock:
        for i in n.grad_into:
            p = n.parents[i]
            if (n.needs[i] and n.pnodes[i] is None and p._grad is None and not p._hooks
                    and id(p) not in _claimed):
                view = getattr(p, "_grad_view", None)
                if view is not None and view.shape == p.data.shape and \
                        type(view) is type(p.data):
                    out[i] = view
                    if claim:
                        _claimed.add(id(p))
    return out


def _unclaim(n, claims):
    """Node ``n``'s gradients are delivered (or its backward raised): its views are free."""
    with leaf_lock:
        for i in claims:
            _claimed.discard(id(n.parents[i]))


def _first_grad(t, g):
    """Leaf ``t``'s first gradient, ``g`` (the caller holds :data:`leaf_lock`): into its
    optimizer's buffer view (``t._new_grad``), unless another pass is writing there now."""
    if _claimed and id(t) in _claimed and g is not getattr(t, "_grad_view", None):
        return Tensor._make(g.copy())
    return t._new_grad(g)


def _accumulate(t, g, create_graph=False):
    """Add gradient ``g`` (an array, or a Tensor) into leaf ``t``'s ``.grad``, cast to its
    dtype and moved to its device; a gradient that records a graph is added out of place."""
    if isinstance(g, Tensor):
        if not g.requires_grad:  # nothing recorded: the plain path (and its flat buffers)
            g = g.data
        else:  # a gradient with a graph (create_graph): kept with its graph, as a copy of
            # its own (PyTorch clones it too): the same tensor may flow to another leaf, a
            # retained non-leaf or back to the caller, and an in-place change of one .grad
            # (clip_grad_norm_) must not change the others
            with leaf_lock:
                t.grad = g.clone() if t.grad is None else t.grad + g
            return
    if g.dtype != t.data.dtype:
        g = cast_grad(g, t.data.dtype)
    leaf = t.data
    if isinstance(g, np.generic):  # a NumPy scalar from a 0-d op: the leaf's 0-d array
        g = np.asarray(g)
    if type(g) is np.ndarray and type(leaf) is np.ndarray:  # the CPU: no device to mind
        _add_to_grad(t, g)
        return
    if type(g) is not type(leaf) or (type(g) is not np.ndarray and g.device != leaf.device):
        g = backend.to_device(g, backend.array_device(leaf))  # the leaf's device, as PyTorch
    with backend.on_device_of(leaf):
        _add_to_grad(t, g)


def _add_to_grad(t, g, report=True):
    """Add array ``g`` (the leaf's dtype, on its device) into leaf ``t``'s ``.grad``.  With
    ``report=False`` (no gpugrad.compile recording listens) a first gradient is put in the
    slot directly: it is the engine's own array, which ``.grad``'s assignment check passes."""
    _lock()
    try:
        grad = t._grad
        if grad is None:
            if report:
                t.grad = _first_grad(t, g)
            else:
                t._grad = _first_grad(t, g)
        elif grad.requires_grad:  # the kept gradient records a graph: add, never overwrite
            t.grad = grad + Tensor._make(g)
        else:
            d = grad.data
            d += g            # in place (no rebinding: a recording sees no write by NumPy)
            if d is not grad.data:
                grad.data = d   # (a NumPy scalar: a new object)
    finally:
        _unlock()
