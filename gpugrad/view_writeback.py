"""The write-back of an in-place write into a view: every base up the chain of views is
re-linked as ``base = setitem(base, key, view)`` (for a transpose, reshape, flip or a real /
imaginary part, the whole base with the view put back in its shape), so the base's gradient
sees the write.  :mod:`gpugrad.inplace` calls it after each in-place write.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> y = x * 1
>>> row = y[1:]
>>> row *= 3                     # y now computes as setitem(y, 1:, row * 3)
>>> y.sum().backward(); x.grad.tolist()
[1.0, 3.0]
"""
from __future__ import annotations

import numpy as np

from . import autograd as _autograd
from . import capture_hooks as _capture
from . import ops as _ops
from .autograd import _view_link
from .backend import to_device
from .tensor import Tensor
from ._tensor_hooks import move_retain
from .view_links import _record_view

__all__ = ["commit_to_bases", "refuse_ambiguous_write", "writes_through_overlap"]


def commit_to_bases(t, old):
    """``t`` (a view, ``old`` its node before an in-place write) changed its base's memory:
    rewire each base up the chain as ``base = setitem(base, key, t)`` (for a transpose,
    reshape or flip, the whole base is ``t`` put back in its shape) so the base's gradient
    sees the write (``y[k] *= 2`` and ``row = y[0]; row += 1`` stay correct).  A base that
    was not in the graph (a view of it recorded no node: ``t._view``) joins it, constant
    outside the view, when a value that requires grad was written.  A write that left ``t``
    without a node (a non-differentiable op) goes in as a constant, and ``t`` becomes a view
    of its base again, re-derived from it when next used."""
    link = _view_link(old, t)
    if link is None:
        return
    if not _autograd.is_grad_enabled():
        # a write under no_grad changes the memory, not the graph (PyTorch's rule): each base
        # keeps its node, which now stands for the current values
        while link is not None and link.parents[0] is not None and link.parents[0]._vc is t._vc:
            base = link.parents[0]
            if base._node is not None:
                base._node._out_ver = base._vc[0]
            link = _view_link(base._node, base)
        return
    first, view = link, t
    if t._node is not None and link is not t._view:
        t._node._view_link = link                # t still lives in its base's memory
    committed = False
    while link is not None and link.parents[0] is not None and link.parents[0]._vc is t._vc:
        base = link.parents[0]
        before = base._node
        if before is not None:
            prior = Tensor._make(base.data, True)    # the base as its node last computed it
            prior._node, prior._vc = before, [before._out_ver]
        elif base.requires_grad or t._node is None:
            break                # a leaf (refused by _check_inplace); a constant stays one
        else:
            prior = Tensor._make(base.data)          # a constant base joins the graph
        value = t._shallow() if t._node is not None else Tensor._make(t.data)
        through = _through_strided(link, base, before)
        if through is not None:  # into the strided view's own base, the view left stale
            link, base, before, prior, pos = through
            res = _put_flat(prior, pos, value)
        else:
            res = _put_back(link, prior, value)
        base._node, base.requires_grad = res._node, True
        move_retain(base, before)
        base._node._out_ver, base._node._written = base._vc[0], base._vc
        link = _view_link(before, base)
        if link is not None and link is not base._view:
            base._node._view_link = link
        t = base
        committed = True
    if committed and view._node is None:         # a view of its base again
        if first is view._view:
            _record_view(view)
        else:
            view._node, view.requires_grad = first, True  # stale: re-derived from its base


def writes_through_overlap(t) -> bool:
    """True when view ``t`` reaches its base through basic-index views of an as_strided view
    that shows an element more than once (``windows = sliding_window_view(y, n,
    writeable=True)[::hop]``): a write of ``t[key]`` must then go in as a write of that
    sub-view, whose own elements are distinct (see :func:`_through_strided`)."""
    link = _view_link(t._node, t)
    while type(link).__name__ == "GetItemBasic":
        base = link.parents[0]
        if base is None:
            return False
        link = _view_link(base._node, base)
    return type(link).__name__ == "AsStrided" and link.shows_twice()


def refuse_ambiguous_write(t) -> None:
    """Raise RuntimeError, before anything is written, for an in-place write into view ``t``
    that reaches its base through an as_strided view showing an element more than once
    (overlapping windows) and that itself shows an element more than once
    (``sliding_window_view(y, n, writeable=True)[0:2] += f``): which write wins is ambiguous.
    A contiguous ``t`` (one window: ``windows[i]``) shows each element once and passes at
    the cost of two flag reads."""
    d = t.data
    flags = d.flags
    if flags.c_contiguous or flags.f_contiguous or (t._node is None and t._view is None):
        return
    link = _view_link(t._node, t)
    while link is not None and type(link).__name__ != "AsStrided":
        base = link.parents[0]
        if base is None or base._vc is not t._vc:
            return
        link = _view_link(base._node, base)
    if link is None or not link.shows_twice():
        return
    off = np.zeros((), np.int64)
    for n, s in zip(d.shape, d.strides):
        off = off[..., None] + np.arange(n, dtype=np.int64) * s
    if np.unique(off).size != off.size:
        link.unique_positions()       # (its error, which names what to write instead)


def _through_strided(link, view, before):
    """A basic-index write into ``view``, an as_strided view that shows an element more than
    once (overlapping windows: ``sliding_window_view(y, n, writeable=True)[::hop][i] += f``),
    whose written elements are distinct in the strided view's base: that base's link, the
    base, its node, the base as its node computed it and the flat positions written.  None
    for any other write (the chain puts it back step by step, and raises where a strided
    view's write is ambiguous)."""
    keys = []
    up = link
    while type(up).__name__ == "GetItemBasic":  # (a chain of them: windows[::hop][i])
        keys.append(up.key)
        up = _view_link(before, view)
        if up is None or up.parents[0] is None or up.parents[0]._vc is not view._vc:
            return None
        view = up.parents[0] if type(up).__name__ == "GetItemBasic" else view
        before = view._node
    if not keys or type(up).__name__ != "AsStrided":
        return None
    if not up.shows_twice():
        return None
    pos = up._positions().reshape(up.shape)
    for key in reversed(keys):
        pos = pos[key]
    pos = pos.reshape(-1)
    if np.unique(pos).size != pos.size:
        return None
    base = up.parents[0]
    node = base._node
    if node is not None:
        prior = Tensor._make(base.data, True)
        prior._node, prior._vc = node, [node._out_ver]
    elif base.requires_grad:
        return None  # a leaf: refused by the in-place checks
    else:
        prior = Tensor._make(base.data)
    return up, base, node, prior, pos


def _put_back(link, prior, value):
    """``prior`` (a base) with the elements that view node ``link`` shows set to ``value``."""
    kind = type(link).__name__
    if kind == "GetItemBasic":
        return _ops.setitem(prior, link.key, value)
    if kind in ("RealView", "ImagView"):   # the other part stays as it was
        re, im = (value, _ops.imag(prior)) if kind == "RealView" else (_ops.real(prior), value)
        return _ops.astype(_ops.add(re, _ops.multiply(im, 1j)), prior.dtype)
    if kind == "AsStrided":  # (gpugrad.numpy.lib.stride_tricks): its elements' flat positions
        return _put_flat(prior, link.unique_positions(), value)
    if kind == "Transpose":
        value = _ops.transpose(value, tuple(int(i) for i in np.argsort(link.axes)))
    elif kind == "Reshape":
        value = _ops.reshape(value, link.in_shape, order=link.order)
    else:  # Flip: its own inverse
        value = _ops.flip(value, link.axis)
    return _ops.setitem(prior, Ellipsis, value)


def _put_flat(prior, pos, value):
    """``prior`` with its elements at flat C-order positions ``pos`` (a NumPy integer array
    of ``value``'s shape, distinct) set to ``value``: one SetItem node of ``prior``'s shape.
    (A reshape of a flat SetItem would leave the base computed by a Reshape node, which
    later writes would follow as if the base lived in that temporary's memory: a write
    through windows of a view, ``sliding_window_view(y[1:], n, writeable=True)``, then
    stopped short of ``y``.)  Inside a gpugrad.compile recording the key's arrays are
    recorded as constants: they follow from shapes and strides, which a replay shares."""
    value = _ops.reshape(value, (-1,))
    if prior.ndim == 0:
        return _ops.setitem(prior, Ellipsis, _ops.reshape(value, ()))
    pos = pos.reshape(-1)
    key = (pos,) if prior.ndim == 1 else tuple(np.unravel_index(pos, prior.shape))
    if prior.device.type != "cpu":
        key = tuple(to_device(k, prior.device) for k in key)
    if _capture._on:
        for k in key:
            _capture.constant(lambda k=k: k, k)
    return _ops.setitem(prior, key, value)
