"""The old value of memory that an in-place write overwrites, kept for the graph nodes that
read it (copy-on-write of saved values).

An in-place op (:mod:`gpugrad.inplace`) computes its result out of place and writes it back;
a write outside any graph writes directly.  A node recorded before that write may have saved
the very memory the write overwrites: the node that computed the value and saved its answer
(``p = exp(s); p /= p.sum()``: Exp reads ``p`` in its backward), the write's own node (``y *=
x`` reads the old ``y`` for ``x``'s gradient), an operand's (``s -= s.max(axis=1,
keepdims=True)``: Max read ``s``), or any other node that read it, however far from the
write in the graph (``y = p * v; v[1:3] += 1`` with ``v`` a constant: Multiply read ``v``;
``q = p * x; p += 1``).  Readers are found through the written tensor's node and its bases',
back from the write's node, and through the live nodes filed per version counter
(:mod:`gpugrad.saved_readers`).  :func:`keep_old_value` swaps, in each, every array it holds
of that memory (the value itself, a view of it, its base) for a copy of its old value (made
on first need, a new array object per node: nodes tell their inputs apart by ``id``), and
drops their version check of it.  Nothing is copied when nothing reads it (``+=``, ``-=``).

What still raises at backward, naming the op (never a wrong gradient): a node that holds the
memory in a form that cannot be swapped (inside a Tensor, an object it cannot look inside),
or that reads it through a leaf that gets a gradient; and a parameter (a leaf that requires
grad) written under ``no_grad`` or by an optimizer after a node read it -- run backward before
the update, or update a copy (``w = w - lr * g``).  Writes that bypass the tensor (NumPy's
own, into ``t.data`` or the array a tensor was made on) are not seen: see
:mod:`gpugrad.borrowed`.
"""
from __future__ import annotations

import collections
import numbers

import numpy as np

from . import autograd as _autograd
from . import capture_hooks as _capture
from . import saved_readers as _readers
from .autograd import _view_link
from .backend import get_array_module, is_cupy_array
from .tensor import Tensor

__all__ = ["keep_old_value", "renew_old_value"]

_ndarray = np.ndarray
# at most this many nodes are searched back from a write's node for readers of the old value
_SEARCH_LIMIT = 1024


class _Unkeepable(Exception):
    """A node holds the written memory in a form that cannot be swapped for a copy."""


# node attributes that are bookkeeping, not what its backward reads
_BOOKKEEPING = frozenset(("parents", "pnodes", "needs", "_vcs", "_hooks", "_retain",
                          "_in_arrays", "_out_id", "_out_ver", "_freed",
                          "_complex", "_view_link", "_written", "_ng_ver", "_chain"))
_PLAIN = (type(None), numbers.Number, str, bytes, slice, type(Ellipsis), np.generic,
          np.dtype, type, range, _autograd.Function)


def keep_old_value(t, start=None, limit=_SEARCH_LIMIT):
    """Before ``t`` is overwritten: give every live node that read ``t``'s current value a
    private copy of it, so that the write does not invalidate them: ``t``'s node and its
    bases' (:func:`_family`) when they saved their answer (as exp does), the nodes filed as
    reading ``t``'s memory (:mod:`gpugrad.saved_readers`), and those reached back from
    ``start`` (the write's own node, then its operands') within ``limit`` nodes.  Nothing is
    copied when no node reads it.  A node that holds the memory in a form that cannot be
    swapped keeps its version check, so it raises at backward (never a wrong gradient).

    >>> import gpugrad as gg
    >>> x, c = gg.tensor([1.0, 2.0], requires_grad=True), gg.tensor([3.0, 4.0])
    >>> y = (x * c).sum()
    >>> keep_old_value(c); c.data[:] = 0    # (what ``c[:] = 0`` does)
    >>> y.backward(); x.grad.tolist()
    [3.0, 4.0]
    """
    vc, ver = t._vc, t._vc[0]
    family = _family(t)
    hits = {k: n for k, n in family.items() if not n._freed and _checks(n, vc, ver)}
    if start is not None:
        _search(start, vc, ver, set(family), hits, limit)
    for n in _readers.take(vc):
        if _checks(n, vc, ver):
            hits[id(n)] = n
    if hits:
        old = _OldValue(t.data)
        given = [n for n in hits.values() if old.give(n, vc, ver)]
        if _capture._on and given:   # gpugrad.compile: a replay copies its own old value
            _capture.old_value(t.data, given)


def modified_message(n, vc, ver):
    """The error for node ``n``, which read counter ``vc`` at version ``ver``, found
    overwritten at backward: what to write instead (a parameter updated before backward, a
    write no copy could be kept for).

    >>> import gpugrad as gg
    >>> w = gg.tensor([1.0], requires_grad=True)
    >>> y = w * w
    >>> with gg.no_grad():
    ...     w -= 1
    >>> print(modified_message(y._node, w._vc, 0))  # doctest: +ELLIPSIS
    one of the arrays ... of Multiply was modified ...: expected version 0, got version 1; a
    parameter updated before backward: run backward first, or update a copy (w = w - lr * g)
    """
    head = (f"one of the arrays needed to compute the gradient of {n.name} was modified by "
            f"an in-place operation: expected version {ver}, got version {vc[0]}; ")
    if any(isinstance(p, Tensor) and p._vc is vc and p.requires_grad and p._node is None
           for p in (n.parents or ())):
        return head + ("a parameter updated before backward: run backward first, or update "
                       "a copy (w = w - lr * g)")
    return head + "use an out-of-place operation (x = x + y) instead"


def _search(start, vc, ver, seen, hits, limit):
    """Add to ``hits`` ({id: node}) the nodes reached back from ``start`` (at most ``limit``) that read
    ``vc`` at version ``ver``; the search stops at a node recorded before that value."""
    queue, budget = collections.deque([start]), limit
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
                hits[id(n)] = n
            elif _lives_in_older(n, vc, ver):
                continue                # recorded before the current value (so all above)
            queue.extend(n.pnodes)


def renew_old_value(data, nodes):
    """A captured step's replay of :func:`keep_old_value`: before array ``data`` is written
    again, swap in each of ``nodes`` (those given a copy at recording, whose forwards ran
    again since) every array it holds of ``data``'s memory for a copy of its value now."""
    old = _OldValue(data)
    for n in nodes:
        found, keep = {}, []
        for name, v in vars(n).items():
            if name not in _BOOKKEEPING:
                old._scan(v, found)
        new = {k: old._fresh(a, (), keep) for k, a in found.items()}
        for name, v in list(vars(n).items()):
            if name not in _BOOKKEEPING:
                setattr(n, name, old._swap(v, new))


def _saves_answer(saved, raw):
    """True when ``saved`` (a node's saved values, tuples looked into once) holds the forward's
    answer ``raw``, a view of it, or its base: backward then reads memory that an in-place
    write into the answer changes, so the node needs the answer's version checked (or, at the
    write, a copy of the old value: :func:`keep_old_value`).  Found from what the node
    saved, not from a per-op flag, so no op can forget it; a few identity tests per node."""
    rb = raw.base if type(raw) is _ndarray else getattr(raw, "base", None)
    for v in saved:
        if v is raw:
            return True
        if v is None:
            continue
        # an array's owner (None for numbers, and for an array that owns its memory)
        b = v.base if type(v) is _ndarray else getattr(v, "base", None)
        if b is not None:
            if b is raw or b is rb:
                return True
        elif rb is not None and v is rb:
            return True
        elif (type(v) is tuple or type(v) is list) and _saves_answer(v, raw):
            return True
    return False


def _aliased(out, args):
    """The input Tensor whose memory array ``out`` (not a declared view's answer, with a
    ``base``) lies in, or None."""
    b = out.base
    for a in args:
        if isinstance(a, Tensor):
            d = a.data
            if b is d or (d.base is not None and b is d.base):
                return a
    return None


def _lives_in_older(n, vc, ver):
    """True when node ``n``'s answer lives in the memory counted by ``vc`` (a view of it, or a
    write into it) at a version older than ``ver``: ``n`` was recorded before that value."""
    if n._out_ver is None or n._out_ver == ver:
        return False
    if n.view:
        return n.parents[0] is not None and n.parents[0]._vc is vc
    return getattr(n, "_written", None) is vc


def _family(t):
    """{id: node} for ``t``'s node and its bases' current nodes (all computed the memory a
    write into ``t`` changes)."""
    out, base, node, bases = {}, t, t._node, set()
    while node is not None and id(base) not in bases:
        bases.add(id(base))
        out[id(node)] = node
        link = node if node.view else _view_link(node, base)
        if link is None or link.parents[0] is None or link.parents[0]._vc is not t._vc:
            break
        if link.pnodes and link.pnodes[0] is not None:  # (none: a link that recorded none)
            out[id(link.pnodes[0])] = link.pnodes[0]
        base = link.parents[0]
        node = base._node
    return out


def _checks(n, vc, ver):
    """True when node ``n`` checks counter ``vc`` at version ``ver`` (it read that value)."""
    return any(v is vc and w == ver for v, w in n._vcs)


class _OldValue:
    """The value of the memory of array ``data`` before a write, copied on first need: each
    array a node read of that memory (``data`` itself, a view of it, its base) is swapped for
    a copy of its own old value, a new array object per node (nodes tell their inputs apart
    by id)."""

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

    def _fresh(self, a, avoid, keep):
        """A new array object holding ``a``'s old value whose id is not in ``avoid``."""
        if self._exact(a):
            if self.copy is None:
                self.copy = self.data.copy()
            make = self.copy.view
        else:                                      # a view of the memory, or its base
            c = a.copy()
            make = c.view
        while True:
            b = make()
            keep.append(b)                         # alive, so the next try gets a new id
            if id(b) not in avoid:
                return b

    def give(self, n, vc, ver):
        """Swap, in node ``n``, every array that holds the written memory for a copy of its
        old value (parents too, for create_graph), and drop its check of (``vc``, ``ver``).
        Left as it is (so it raises at backward) when it holds the memory in a form that
        cannot be swapped (inside a Tensor, an object it cannot look inside) or reads it
        through a leaf that gets a gradient.  True when it was swapped."""
        found = {}                                 # id(array) -> array: what n read of it
        try:
            for name, v in vars(n).items():
                if name not in _BOOKKEEPING:
                    self._scan(v, found)
        except _Unkeepable:
            return False
        standins = {}                              # position -> an input in the memory
        for i, p in enumerate(n.parents):
            if not (isinstance(p, Tensor) and self._aliases(p.data)):
                continue
            if n.pnodes[i] is None and n.needs[i]:  # a leaf that gets a gradient stays
                if id(p.data) in found or (i < len(n._in_arrays)
                                           and id(n._in_arrays[i]) in found):
                    return False
                continue
            standins[i] = p
        in_ids = [id(a) for a in n._in_arrays]
        for i in standins:
            if i < len(in_ids):
                found.setdefault(in_ids[i], n._in_arrays[i])
        avoid = {k for k in in_ids + [n._out_id] if k not in found}
        keep, new = [], {}
        for k, a in found.items():
            new[k] = self._fresh(a, avoid, keep)
        for name, v in list(vars(n).items()):
            if name not in _BOOKKEEPING:
                setattr(n, name, self._swap(v, new))
        parents = list(n.parents)
        for i, p in standins.items():
            a = new[in_ids[i]] if i < len(in_ids) else self._fresh(p.data, avoid, keep)
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
        return True

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
