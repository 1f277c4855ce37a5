"""Views that recorded no node.  A view op records no node when no gradient is needed (its
base is a constant) or grad mode is off; the view keeps that op's node as a link to its base
(``t._view``), so that a later write into the shared memory can re-link the base
(:func:`gpugrad.view_writeback.commit_to_bases`), and the view can be recorded once its base has
joined the graph (:func:`_view_in_graph`).  A view made under no_grad is refused, as in
PyTorch, where its use would be ambiguous.

>>> import gpugrad as gg
>>> w = gg.zeros(3); v = w[1:]; _ = w.requires_grad_()
>>> _view_in_graph(v), v.requires_grad
(True, True)
"""
from __future__ import annotations

import copy

from . import autograd as _autograd

_NO_GRAD_VIEW = ("a view was created in no_grad mode and {}; this is ambiguous, so it is "
                 "refused (as in PyTorch): make the view and the in-place write both inside "
                 "the no_grad() block or both outside it, or clone() the view")
_WRITE = "is being modified in place with grad mode enabled"
_USE = ("its base or another view of its base has been modified in place since (and its "
        "base requires grad), so it is being used with grad mode enabled")


def _view_root(link):
    """(root, version) for ``link`` (a ``Tensor._view``): the first tensor up the chain of such
    links that has none itself, and, when a link of the chain was made under no_grad, the
    memory's version then (the nearest one's), else None.  Memoized on the links."""
    todo = []
    while link._chain is None:
        todo.append(link)
        up = link.parents[0]._view
        if up is None:
            break
        link = up
    root, ver = link._chain or (link.parents[0], None)
    for link in reversed(todo):
        ver = link._ng_ver if link._ng_ver is not None else ver
        link._chain = (root, ver)
    return root, ver


def _view_in_graph(t):
    """For ``t``, a view that recorded no node: True, after recording it (and each such view
    between it and its base) as the view it is, when its base has joined the graph since it
    was made; False when ``t`` stays a constant.  Raises for a view made under no_grad whose
    memory was written since while its base requires grad (PyTorch's rule)."""
    root, ver = _view_root(t._view)
    if not root.requires_grad:
        return False
    if ver is not None:
        if t._vc[0] != ver:
            raise RuntimeError(_NO_GRAD_VIEW.format(_USE))
        return False
    chain = []
    while not t.requires_grad:
        chain.append(t)
        t = t._view.parents[0]
    if _autograd._is_stale(t):
        _autograd._refresh(t, type(chain[-1]._view).__name__)
    for v in reversed(chain):
        _record_view(v)
    return True


def _record_view(v):
    """Record ``v`` as the view of its base (which requires grad) that its link says it is."""
    link = v._view
    base = link.parents[0]
    n = copy.copy(link)
    n.pnodes, n.needs, n._vcs = (base._node,), (True,), []
    n._out_ver, n._in_arrays, n._out_id = v._vc[0], [base.data], id(v.data)
    n._complex = base.data.dtype if base.data.dtype.kind == "c" else False
    v._node, v.requires_grad = n, True
