"""Helpers of :meth:`gpugrad.autograd.Function.apply` and of the in-place machinery for the
links a recorded node keeps: which tensor a view lives in, whether a computed tensor went
stale (its memory was written after its node computed it), and what a node lets go of once
its backward has run.

Kept apart from :mod:`gpugrad.autograd` so that the node itself stays short; nothing here
imports :class:`~gpugrad.tensor.Tensor` (``Function.apply`` hands over what it already knows).

>>> import numpy as np
>>> a = np.zeros(4)
>>> is_view_of(a[1:], a), is_view_of(a.copy(), a)
(True, False)
"""
from __future__ import annotations

import copy

import numpy as np

from ._tensor_hooks import move_retain

__all__ = ["is_array", "distinct_arrays", "is_view_of", "is_stale", "refresh", "view_link",
           "release_arrays", "WRITABLE_VIEWS", "NOT_ARRAY_TYPES"]

_ndarray = np.ndarray
# types whose values are never arrays (NumPy or CuPy): checked before a slower hasattr
NOT_ARRAY_TYPES = frozenset([type(None), type(Ellipsis), bool, int, float, complex, str, tuple,
                             list, dict, range, slice]
                            + [type(np.dtype(c)) for c in "?bhilqBHILQefdFD"]   # dtypes
                            + [np.dtype(c).type for c in "?bhilqBHILQefdFD"])   # scalars


def is_array(v) -> bool:
    """True for a NumPy or CuPy array (not a NumPy scalar).

    >>> is_array(np.zeros(1)), is_array(np.float64(1.0)), is_array([1.0])
    (True, False, False)
    """
    return type(v) is _ndarray or hasattr(v, "__cuda_array_interface__")


def release_arrays(d) -> None:
    """Delete from a node's attribute dict ``d`` every value that is an array (NumPy or CuPy:
    an op's saved shift, mask or buffer); other values (shapes, flags, tuples) stay.

    >>> d = {"mask": np.zeros(2), "shape": (2,)}
    >>> release_arrays(d); d
    {'shape': (2,)}
    """
    if NOT_ARRAY_TYPES.issuperset(map(type, d.values())):  # (the usual case: one pass in C)
        return
    drop = None
    for k, v in d.items():
        t = type(v)
        if t is _ndarray or (t not in NOT_ARRAY_TYPES and hasattr(v, "__cuda_array_interface__")):
            if drop is None:
                drop = [k]
            else:
                drop.append(k)
    if drop is not None:
        for k in drop:
            del d[k]


def distinct_arrays(args, arrays) -> None:
    """Give each distinct input Tensor its own array object: two Tensors that share one array
    (``x`` and ``x.detach()``, a Parameter made from a tensor) reach forward as separate
    views, so that create_graph can tell which saved array is which input.  ``arrays[i]`` is
    ``args[i].data`` for a Tensor and ``args[i]`` itself for anything else, so an input is a
    Tensor exactly when ``args[i] is not arrays[i]``; ``arrays`` is changed in place.

    >>> a = np.zeros(2)
    >>> class T: data = a
    >>> x, y = T(), T()
    >>> arrays = [a, a]; distinct_arrays((x, y), arrays)
    >>> arrays[0] is a, arrays[1] is a, arrays[1].base is a
    (True, False, True)
    """
    if len(arrays) == 2:
        if arrays[0] is arrays[1] and args[0] is not args[1] and args[1] is not arrays[1]:
            arrays[1] = arrays[1].view()
        return
    if len(set(map(id, arrays))) == len(arrays):  # (the usual case: all distinct)
        return
    seen = {}
    for i, a in enumerate(args):
        if a is not arrays[i]:
            other = seen.setdefault(id(arrays[i]), a)
            if other is not a:
                arrays[i] = arrays[i].view()


def is_view_of(out, a) -> bool:
    """True when array ``out`` shares ``a``'s memory as a view (NumPy and CuPy keep the owner,
    or ``a`` itself, in ``.base``); False for a copy, as a reshape sometimes must make.
    CuPy's ``as_strided`` makes its view on ``a``'s memory pointer, with no ``.base``: a CuPy
    ``out`` without one is a view when its elements lie in ``a``'s memory (two allocations
    never overlap)."""
    b = out.base
    if b is None:
        return type(out) is not _ndarray and hasattr(out, "__cuda_array_interface__") and \
            _device_within(out, a)
    # (NumPy's as_strided leaves a DummyArray, whose own base is ``a``, as the view's base)
    return b is a or b is a.base or getattr(b, "base", None) is a


def _device_within(out, a) -> bool:
    """True when CuPy array ``out`` (of one element or more) lies in ``a``'s memory."""
    if not out.size or not a.size:
        return False
    (lo, hi), (alo, ahi) = _device_bounds(out), _device_bounds(a)
    return alo <= lo and hi <= ahi


def _device_bounds(x):
    lo = hi = x.data.ptr
    for n, s in zip(x.shape, x.strides):
        lo, hi = lo + min(0, (n - 1) * s), hi + max(0, (n - 1) * s)
    return lo, hi + x.itemsize


def is_stale(t) -> bool:
    """True when tensor ``t``'s memory was written in place (through a view of it, its base, or
    a detached alias) after its node computed it."""
    n = t._node
    return n is not None and n._out_ver is not None and n._out_ver != t._vc[0]


def refresh(t, user) -> None:
    """Re-link stale tensor ``t`` before it is used (by ``user``, named in errors): a view is
    re-derived from its base's current node (as NumPy semantics say its value now is);
    anything else raises RuntimeError."""
    n = t._node
    if not n.view:  # written in place: still a view when it lives in its base's memory
        link = view_link(n, t)
        if link is not None and link.parents[0] is not None and link.parents[0]._vc is t._vc:
            return _rederive(t, link, user)
        raise RuntimeError(
            f"an input of {user} (computed by {n.name}) shares memory with a tensor that was "
            f"modified by an in-place operation after it was computed (a view of it, or its "
            f"base); its gradient can no longer be tracked: clone() the tensor before "
            f"modifying it, or use out-of-place operations")
    base = n.parents[0]
    if base is None:  # the view's graph was freed by backward: nothing to re-derive it from
        raise RuntimeError(
            f"an input of {user} is a view of a tensor that was modified in place after a "
            f"backward pass freed its graph; clone() the view, or recompute it")
    if is_stale(base):
        refresh(base, user)
    fresh = copy.copy(n)  # view nodes keep only shapes/keys: a shallow copy is a new node
    fresh.pnodes = (base._node,) + tuple(n.pnodes[1:])
    fresh._out_ver, fresh._freed = t._vc[0], False
    t._node = fresh
    move_retain(t, n)


def _rederive(t, link, user):
    """``t``, written in place through view node ``link`` (its node is now the write's) and
    gone stale since (a write into its base or into an overlapping view), as the view of its
    base's current node that ``link`` says it is (``a, b = y[0:2], y[1:3]; a *= 2; b += 1``:
    ``a`` is ``y[0:2]`` of the ``y`` that ``b``'s write made)."""
    base = link.parents[0]
    if is_stale(base):
        refresh(base, user)
    fresh = copy.copy(link)
    fresh.parents, fresh.pnodes, fresh.needs = (base,), (base._node,), (True,)
    fresh._vcs, fresh._in_arrays, fresh._out_id = [], [base.data], id(t.data)
    fresh._out_ver, fresh._freed = t._vc[0], False
    fresh._complex = base.data.dtype if base.data.dtype.kind == "c" else False
    old, t._node = t._node, fresh
    move_retain(t, old)


WRITABLE_VIEWS = frozenset(("GetItemBasic", "Transpose", "Reshape", "Flip", "AsStrided",
                            "RealView", "ImagView"))


def view_link(node, t=None):
    """The view node (basic index, transpose, reshape, flip, real, imag) whose base tensor ``t`` (computed
    by ``node``) lives in: ``node``, ``node._view_link`` (kept across in-place rewiring), or
    ``t._view``, the link a view op that recorded no node left (on the tensor: no cycle)."""
    if node is not None and type(node).__name__ in WRITABLE_VIEWS:
        return node
    link = getattr(node, "_view_link", None)
    if link is None and t is not None and type(t._view).__name__ in WRITABLE_VIEWS:
        return t._view
    return link
