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
from . import ops as _ops
from .autograd import _view_link
from .tensor import Tensor
from ._tensor_hooks import move_retain
from .view_links import _record_view

__all__ = ["commit_to_bases"]


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


def _put_back(link, prior, value):
    """``prior`` (a base) with the elements that view node ``link`` shows set to ``value``."""
    kind = type(link).__name__
    if kind == "GetItemBasic":
        return _ops.setitem(prior, link.key, value)
    if kind in ("RealView", "ImagView"):   # the other part stays as it was
        re, im = (value, _ops.imag(prior)) if kind == "RealView" else (_ops.real(prior), value)
        return _ops.astype(_ops.add(re, _ops.multiply(im, 1j)), prior.dtype)
    if kind == "AsStrided":  # (gpugrad.numpy.lib.stride_tricks): its elements' flat positions
        pos = link.unique_positions()  # (a NumPy key: setitem moves it to prior's device)
        flat = _ops.setitem(_ops.reshape(prior, (-1,)), (pos,), _ops.reshape(value, (-1,)))
        return _ops.reshape(flat, prior.shape)
    if kind == "Transpose":
        value = _ops.transpose(value, tuple(int(i) for i in np.argsort(link.axes)))
    elif kind == "Reshape":
        value = _ops.reshape(value, link.in_shape, order=link.order)
    else:  # Flip: its own inverse
        value = _ops.flip(value, link.axis)
    return _ops.setitem(prior, Ellipsis, value)

