"""In-place operations on tensors: ``+=`` and friends, ``x[k] = v``, ``fill_``, ``copy_``,
``clamp_``.

In-place operators write into the tensor's memory, so views and NumPy arrays sharing it see
the change.  When the graph is involved they are computed out of place by the op set and
written back: the tensor then stands for the new node, and its version counter moves on, so a
node that saved the old value raises at backward instead of giving a wrong gradient.  On a leaf
that requires grad (or a view of one) they raise at once.

Two rules keep the gradient right through the write:

* A write into a (basic-index) view re-links every base up the chain as
  ``base = setitem(base, key, view)``, whatever the op: ``+=``, ``fill_``, ``copy_`` of a
  constant, ``x[k] = v``.  Where a constant was written the gradient is zero.
* The old value is copied, once, when a node recorded for this write needs it: the op's own
  node (``y *= x`` reads the old ``y`` for ``x``'s gradient) or a node of an operand that read
  it (``s -= s.max(axis=1, keepdims=True)``: Max read ``s``).  No copy when nothing reads it
  (``+=``, ``-=``, ``/=``, ``fill_``).  Any other node that saved the old value still raises
  at backward, as in PyTorch: one used apart from this write, the op that computed the tensor
  when it saved its answer (``exp``), one that read a partly overlapping view.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> y = x * 2
>>> y += 1
>>> y *= x
>>> y.sum().backward(); x.grad.tolist()
[5.0, 9.0]
"""
from __future__ import annotations

import collections
import numbers

import numpy as np

from . import autograd as _autograd
from . import _tensor_ops as _operators
from . import ops as _ops
from .backend import get_array_module, is_cupy_array
from .tensor import Tensor, as_tensor

__all__ = ["install"]

# operator -> the op computing it out of place
_INPLACE = {
    "__iadd__": _ops.add, "__isub__": _ops.subtract, "__imul__": _ops.multiply,
    "__itruediv__": _ops.divide, "__ipow__": _ops.power, "__imatmul__": _ops.matmul,
    "__ifloordiv__": _ops.floor_divide, "__imod__": _ops.remainder,
    "__iand__": _operators.AND, "__ior__": _operators.OR, "__ixor__": _operators.XOR,
}
_ALIASES = {"add_": "__iadd__", "sub_": "__isub__", "mul_": "__imul__", "div_": "__itruediv__",
            "pow_": "__ipow__"}


def _shallow(self):
    t = Tensor._make(self.data, self.requires_grad)
    t._node = self._node
    t._vc = self._vc
    return t

def _check_inplace(self):
    if not _autograd.is_grad_enabled():
        return
    base, node = self, self._node
    while (node is not None and node.view and node.parents[0] is not None
           and node.parents[0]._vc is self._vc):  # a view
        base = node.parents[0]
        node = node.pnodes[0]
    if node is None and base.requires_grad:
        what = "a leaf tensor" if base is self else "a view of a leaf tensor"
        raise RuntimeError(f"{what} that requires grad is being used in an in-place "
                           "operation; wrap the update in gpugrad.no_grad() or use an "
                           "out-of-place op")

def _inplace(self, op, *others, direct=None):
    """``self = op(self, *others)`` written into self's memory; the graph is rewired.

    ``direct(self)``, when given, does the write itself where no graph is recorded."""
    self._check_inplace()
    others_grad = any(isinstance(o, Tensor) and o.requires_grad for o in others)
    old = None
    if _autograd.is_grad_enabled() and (self.requires_grad or others_grad):
        if _autograd._is_stale(self):
            _autograd._refresh(self, "an in-place operation")
        old = self._node
        res = op(self._shallow(), *others)
        _check_fits(self, res)
        if res._node is not None:
            _keep_old_value(self, res._node)
        _write(self, res)
        self._node = res._node
        self.requires_grad = res.requires_grad
    elif direct is not None:
        direct(self)
    else:
        with _autograd.no_grad():
            res = op(self, *others)
        _check_fits(self, res)
        _write(self, res)
    self._vc[0] += 1
    if self._node is not None:
        self._node._out_ver = self._vc[0]  # self is current; other views of it are stale
        self._node._written = self._vc     # its answer lives in this memory
    _commit_to_bases(self, old)
    return self

def zero_(self):
    """Fill with zeros in place.

    >>> import gpugrad as gg
    >>> gg.ones(2).zero_().tolist()
    [0.0, 0.0]
    """
    return self.fill_(0)

def fill_(self, value):
    """Fill with ``value`` (a number or a 0-d tensor) in place; in a graph, the old value's
    gradient is zero and a tensor ``value`` gets the sum of the gradient.

    >>> import gpugrad as gg
    >>> gg.zeros(2).fill_(3).tolist()
    [3.0, 3.0]
    """
    if isinstance(value, Tensor) and value.ndim:
        raise ValueError(f"fill_ takes a number or a 0-d tensor, got a tensor of shape "
                         f"{value.shape}; use copy_ to write a tensor")

    def direct(t):
        t.data[...] = value.data if isinstance(value, Tensor) else value

    return self._inplace(lambda a, v: _ops.setitem(a, Ellipsis, v), value, direct=direct)

def copy_(self, src):
    """Copy ``src`` into this tensor in place (broadcasting), differentiably.

    >>> import gpugrad as gg
    >>> t = gg.zeros(2); t.copy_(gg.tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    src = src if isinstance(src, Tensor) else as_tensor(src, device=self.device)

    def cast(a, b):
        return b if b.dtype == a.dtype else _ops.astype(b, a.dtype)

    def direct(t):
        _autograd._check_devices((t, src))
        t.data[...] = cast(t, src).data

    return self._inplace(lambda a, b: _ops.setitem(a, Ellipsis, cast(a, b)), src,
                         direct=direct)

def clamp_(self, min=None, max=None):
    """Limit the values to ``[min, max]`` in place (bounds may be numbers or tensors).

    >>> import gpugrad as gg
    >>> gg.tensor([-1.0, 0.5, 2.0]).clamp_(0, 1).tolist()
    [0.0, 0.5, 1.0]
    """
    return self._inplace(_ops.clip, min, max)

def __setitem__(self, key, value):
    self._check_inplace()
    self._inplace(lambda a, v: _ops.setitem(a, key, v), value)


def _view_link(node):
    """The basic-index node that says whose memory a tensor lives in (kept across in-place
    rewiring in ``_view_link``), or None."""
    if node is None or type(node).__name__ == "GetItemBasic":
        return node
    return getattr(node, "_view_link", None)


def _commit_to_bases(t, old):
    """``t`` (a basic-index view, ``old`` its node before an in-place write) changed its base's
    memory: rewire each base up the chain as ``base = setitem(base, key, t)`` so the base's
    gradient sees the write (``y[k] *= 2`` and ``row = y[0]; row += 1`` stay correct).  A
    write that left ``t`` without a node (a non-differentiable op) goes in as a constant, and
    ``t`` becomes a view of its base again, re-derived from it when next used."""
    link = _view_link(old)
    if link is None:
        return
    first, view = link, t
    if t._node is not None:
        t._node._view_link = link                # t still lives in its base's memory
    committed = False
    while (link is not None and link.parents[0] is not None and link.parents[0]._vc is t._vc
           and link.parents[0].requires_grad):
        base = link.parents[0]
        before = base._node                      # None: a leaf (guarded by _check_inplace)
        if before is None:
            break
        prior = Tensor._make(base.data, True)    # the base as its node last computed it
        prior._node, prior._vc = before, [before._out_ver]
        value = t._shallow() if t._node is not None else Tensor._make(t.data)
        res = _ops.setitem(prior, link.key, value)
        base._node = res._node
        base._node._out_ver, base._node._written = base._vc[0], base._vc
        link = _view_link(before)
        base._node._view_link = link
        t = base
        committed = True
    if committed and view._node is None:
        view._node, view.requires_grad = first, True  # stale: re-derived from its base


def _check_fits(t, res):
    if res.data.shape != t.data.shape:
        raise RuntimeError(f"in-place result of shape {res.shape} cannot be written into a "
                           f"tensor of shape {t.shape}")
    if res.data.dtype != t.data.dtype and not np.can_cast(res.data.dtype, t.data.dtype,
                                                          "same_kind"):
        raise TypeError(f"in-place result of dtype {res.dtype.name} cannot be cast to the "
                        f"tensor's dtype {t.dtype.name}")


def _write(t, res):
    if res.data is not t.data:
        t.data[...] = res.data


# ---------------------------------------------------------------- keeping the old value
class _Unkeepable(Exception):
    """A node holds the written memory in a form that cannot be swapped for a copy."""


# node attributes that are bookkeeping, not what its backward reads
_BOOKKEEPING = frozenset(("parents", "pnodes", "needs", "_vcs", "_hooks", "_retain",
                          "grad_out", "_in_ids", "_out_id", "_out_ver", "_freed",
                          "_complex", "_view_link", "_written"))
_PLAIN = (type(None), numbers.Number, str, bytes, slice, type(Ellipsis), np.generic,
          np.dtype, type, range, _autograd.Function)


# at most this many nodes are searched for readers of the old value (a reader further away
# than that keeps its version check, so it raises at backward: never a wrong gradient)
_SEARCH_LIMIT = 1024


def _keep_old_value(t, start):
    """Before ``t`` is overwritten: give the nodes reached from ``start`` (the write's own
    nodes, then its operands') that read ``t``'s current value a private copy of it, so that
    the write does not invalidate them.  Nothing is copied when no such node reads it.

    The search stops at ``t``'s node and its bases' (:func:`_family`): what was recorded
    before them cannot have read the current value, and they themselves (an op that saved
    its answer, as exp does) keep raising, as in PyTorch."""
    vc, ver = t._vc, t._vc[0]
    seen = _family(t)
    hits, queue, budget = [], collections.deque([start]), _SEARCH_LIMIT
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
    out, node = set(), t._node
    while node is not None and id(node) not in out:
        out.add(id(node))
        link = node if node.view else _view_link(node)
        if link is None or link.parents[0] is None or link.parents[0]._vc is not t._vc:
            break
        if link.pnodes[0] is not None:
            out.add(id(link.pnodes[0]))
        node = link.parents[0]._node
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
                if id(p.data) in found or (i < len(n._in_ids) and n._in_ids[i] in found):
                    return
                continue
            standins[i] = p
        in_ids = list(n._in_ids)
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
        n._in_ids = tuple(id(new[k]) if k in new else k for k in in_ids)
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


def _inplace_operator(op):
    def method(self, other):
        return self._inplace(op, other)
    return method


def install(Tensor):
    """Attach the in-place methods and operators to ``Tensor``."""
    for name in ("_shallow", "_check_inplace", "_inplace", "zero_", "fill_", "copy_",
                 "clamp_", "__setitem__"):
        setattr(Tensor, name, globals()[name])
    Tensor.clip_ = clamp_
    for name, op in _INPLACE.items():
        setattr(Tensor, name, _inplace_operator(op))
    for alias, name in _ALIASES.items():
        setattr(Tensor, alias, getattr(Tensor, name))
