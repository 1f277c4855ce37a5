"""The old value of memory that an in-place write overwrites, kept for the graph nodes that
read it.

An in-place op (:mod:`gpugrad.inplace`) computes its result out of place and writes it back.
A node recorded for that write -- the op's own (``y *= x`` reads the old ``y`` for ``x``'s
gradient) or an operand's (``s -= s.max(axis=1, keepdims=True)``: Max read ``s``) -- may
have saved the very array the write overwrites.  :func:`keep_old_value` finds such nodes
and swaps, in each, the overwritten array for a private copy of its old value (one copy,
made on first need, shared by value but not by identity: nodes tell their inputs apart by
``id``), and drops their version check of it.  Nothing is copied when nothing reads it.

A node that holds the memory in any other form (a partly overlapping view, something it
cannot look inside), one recorded before the current value, or the node that computed the
value and saved its answer (``exp``) is left as it is: its version check raises at backward,
as in PyTorch -- never a wrong gradient.
"""
from __future__ import annotations

import collections
import numbers

import numpy as np

from . import autograd as _autograd
from .autograd import _view_link
from .backend import get_array_module, is_cupy_array
from .tensor import Tensor

__all__ = ["keep_old_value"]


class _Unkeepable(Exception):
    """A node holds the written memory in a form that cannot be swapped for a copy."""


# node attributes that are bookkeeping, not what its backward reads
_BOOKKEEPING = frozenset(("parents", "pnodes", "needs", "_vcs", "_hooks", "_retain",
                          "grad_out", "_in_arrays", "_out_id", "_out_ver", "_freed",
                          "_complex", "_view_link", "_written", "_ng_ver", "_chain"))
_PLAIN = (type(None), numbers.Number, str, bytes, slice, type(Ellipsis), np.generic,
          np.dtype, type, range, _autograd.Function)


def keep_old_value(t, start, limit):
    """Before ``t`` is overwritten: give the nodes reached from ``start`` (the write's own
    nodes, then its operands') that read ``t``'s current value a private copy of it, so that
    the write does not invalidate them.  Nothing is copied when no such node reads it.  At
    most ``limit`` nodes are searched: a reader further away keeps its version check, so it
    raises at backward (never a wrong gradient).

    The search stops at ``t``'s node and its bases' (:func:`_family`): what was recorded
    before them cannot have read the current value, and they themselves (an op that saved
    its answer, as exp does) keep raising, as in PyTorch."""
    vc, ver = t._vc, t._vc[0]
    seen = _family(t)
    hits, queue, budget = [], collections.deque([start]), limit
    while queue and budget:
        n = queue.popleft()
        if n is None or id(n) in seen or n._freed:
            continue
        seen.add(id(n))
        budget -= 1
        reads = False
        for v, w in n._vcs:
            if v is vc:
                if w != ver:
                    break               # read an older value: recorded before this one
                reads = True
        else:
            if reads:
                hits.append(n)
            elif _lives_in_older(n, vc, ver):
                continue                # recorded before the current value (so all above)
            queue.extend(n.pnodes)
    if hits:
        old = _OldValue(t.data)
        for n in hits:
            old.give(n, vc, ver)


def _lives_in_older(n, vc, ver):
    """True when node ``n``'s answer lives in the memory counted by ``vc`` (a view of it, or a
    write into it) at a version older than ``ver``: ``n`` was recorded before that value."""
    if n._out_ver is None or n._out_ver == ver:
        return False
    if n.view:
        return n.parents[0] is not None and n.parents[0]._vc is vc
    return getattr(n, "_written", None) is vc


def _family(t):
    """ids of ``t``'s node and of its bases' current nodes (all computed the memory a write
    into ``t`` changes)."""
    out, base, node = set(), t, t._node
    while node is not None and id(node) not in out:
        out.add(id(node))
        link = node if node.view else _view_link(node, base)
        if link is None or link.parents[0] is None or link.parents[0]._vc is not t._vc:
            break
        if link.pnodes and link.pnodes[0] is not None:  # (none: a link that recorded none)
            out.add(id(link.pnodes[0]))
        base = link.parents[0]
        node = base._node
    return out


class _OldValue:
    """The value of array ``data`` before a write, copied on first need; each node that
    read ``data`` gets its own array object of it (nodes tell their inputs apart by id)."""

    def __init__(self, data):
        self.data, self.copy = data, None
        buf = data
        while getattr(buf, "base", None) is not None and hasattr(buf.base, "shape"):
            buf = buf.base                        # the whole buffer data is part of
        self.buffer = buf
        self.xp = get_array_module(data)

    def _aliases(self, a):
        return (is_cupy_array(a) == is_cupy_array(self.buffer)
                and bool(self.xp.may_share_memory(a, self.buffer)))

    def _exact(self, a):
        d = self.data
        return a is d or (is_cupy_array(a) == is_cupy_array(d) and a.shape == d.shape
                          and a.dtype == d.dtype and a.strides == d.strides
                          and _ptr(a) == _ptr(d))

    def _fresh(self, avoid, keep):
        """A new array object holding the old value whose id is not in ``avoid``."""
        if self.copy is None:
            self.copy = self.data.copy()
        while True:
            a = self.copy.view()
            keep.append(a)                         # alive, so the next try gets a new id
            if id(a) not in avoid:
                return a

    def give(self, n, vc, ver):
        """Swap, in node ``n``, every array that is ``data`` for the old value (parents too,
        for create_graph), and drop its check of (``vc``, ``ver``).  Left as it is (so it
        raises at backward) when it holds any other view of the written buffer."""
        found = {}                                 # id(array) -> array: what n read of data
        try:
            for name, v in vars(n).items():
                if name not in _BOOKKEEPING:
                    self._scan(v, found)
        except _Unkeepable:
            return
        standins = {}                              # position -> an input that was data
        for i, p in enumerate(n.parents):
            if not (isinstance(p, Tensor) and self._exact(p.data)):
                continue                           # (a partial view it read stopped the scan)
            if n.pnodes[i] is None and n.needs[i]:  # a leaf that gets a gradient stays
                if id(p.data) in found or (i < len(n._in_arrays)
                                           and id(n._in_arrays[i]) in found):
                    return
                continue
            standins[i] = p
        in_ids = [id(a) for a in n._in_arrays]
        moved = set(found) | {in_ids[i] for i in standins if i < len(in_ids)}
        avoid = {k for k in in_ids + [n._out_id] if k not in moved}
        keep, new = [], {}
        for k in moved:
            new[k] = self._fresh(avoid, keep)
        for name, v in list(vars(n).items()):
            if name not in _BOOKKEEPING:
                setattr(n, name, self._swap(v, new))
        parents = list(n.parents)
        for i, p in standins.items():
            a = new[in_ids[i]] if i < len(in_ids) else self._fresh(avoid, keep)
            pn = n.pnodes[i]
            s = Tensor._make(a, p.requires_grad)
            s._node = pn
            s._vc = [pn._out_ver if pn is not None and pn._out_ver is not None else 0]
            parents[i] = s
        n.parents = tuple(parents)
        n._in_arrays = [new[id(a)] if id(a) in new else a for a in n._in_arrays]
        if n._out_id in new:
            n._out_id = id(new[n._out_id])
        n._vcs = [(v, w) for v, w in n._vcs if not (v is vc and w == ver)]

    def _scan(self, v, found):
        if isinstance(v, (tuple, list)):
            for x in v:
                self._scan(x, found)
        elif isinstance(v, dict):
            for x in v.values():
                self._scan(x, found)
        elif isinstance(v, Tensor):
            if self._aliases(v.data):
                raise _Unkeepable
        elif isinstance(v, np.ndarray) or is_cupy_array(v):
            if self._aliases(v):
                if not self._exact(v):
                    raise _Unkeepable
                found[id(v)] = v
        elif not isinstance(v, _PLAIN):
            raise _Unkeepable                      # something we cannot look inside

    def _swap(self, v, new):
        if isinstance(v, (tuple, list)):
            out = [self._swap(x, new) for x in v]
            if all(a is b for a, b in zip(out, v)):
                return v
            return type(v)(out) if type(v) in (tuple, list) else type(v)(*out)
        if isinstance(v, dict):
            return {k: self._swap(x, new) for k, x in v.items()}
        if (isinstance(v, np.ndarray) or is_cupy_array(v)) and id(v) in new:
            return new[id(v)]
        return v


def _ptr(a):
    return a.data.ptr if is_cupy_array(a) else a.__array_interface__["data"][0]
