"""Backward passes in several threads over one graph: which pass runs a node, and when the
node is freed.  A pass without ``retain_graph`` takes each node it runs (a second such pass
raises :data:`FREED_MSG` there, as PyTorch's does) and frees it once no other pass is inside
it: the last pass to leave a taken node frees it.  Retained passes share nodes freely.

>>> from gpugrad.autograd import Function
>>> n = Function()
>>> enter(n, retain_graph=False); leave(n, retain_graph=False); n._freed
True
"""
from __future__ import annotations

import threading

from .released_inputs import _released_input

__all__ = ["FREED_MSG", "enter", "leave"]

FREED_MSG = ("trying to backward through the graph a second time (or to use saved values "
             "after they were freed); call backward(retain_graph=True) the first time")

_node_lock = threading.Lock()
_TAKEN = 1 << 40  # Function._claim: passes inside + _TAKEN once a pass without retain_graph took it


def enter(n, retain_graph):
    """A pass starts running node ``n``; RuntimeError(FREED_MSG) if it is freed, or taken by
    a pass without ``retain_graph`` (which this pass becomes, when it retains nothing)."""
    with _node_lock:
        c = n._claim
        if c >= _TAKEN or n._freed:
            raise RuntimeError(FREED_MSG)
        n._claim = c + (1 if retain_graph else _TAKEN + 1)


def leave(n, retain_graph, failed=False):
    """A pass is done with node ``n`` (``failed``: it raised, and takes nothing); the last
    pass to leave a taken node frees it: its saved arrays, then its inputs."""
    with _node_lock:
        c = n._claim - (1 if retain_graph or not failed else _TAKEN + 1)
        if c != _TAKEN:          # others inside, or not taken: nothing to free yet
            n._claim = c
            return
        n._release()  # (it sets _freed: later passes raise)
        n._claim = 0  # a copy of the freed node (gpugrad.node_record.refresh) is free to run
    # the graph above n is done with: let go of its inputs' arrays (activations, the batch),
    # so a caller that keeps `loss` keeps no step's data alive
    n.parents = tuple(map(_released_input, n.parents, n.pnodes))
