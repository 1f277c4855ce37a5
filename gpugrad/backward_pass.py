"""The backward pass: gradients from the roots to the leaves, in dependency order.

Iterative (no recursion: graphs of any depth), each node's gradient summed before its
backward runs, saved arrays freed once used (unless ``retain_graph``), leaf gradients
accumulated in place, one thread at a time (:mod:`gpugrad.leaf_grads`).  With
``create_graph`` every backward runs on Tensors and records a graph of its own
(:func:`_backward_graph`).  The public entry points are
:func:`gpugrad.autograd.backward` and :func:`gpugrad.autograd.grad`.
"""
from __future__ import annotations

import copy
import weakref

import numpy as np

from . import anomaly, backend, capture_hooks
from .autograd import _is_stale, _refresh
from .grad_mode import enable_grad
from .node_claims import FREED_MSG as _FREED_MSG, enter as _enter, leave as _leave  # noqa: F401
from .leaf_grads import _accumulate, _add_to_grad, _grad_buffers, _unclaim  # noqa: F401
from .handed_buffers import hand_buffers as _hand_buffers
from .ops._util import cast_grad
from .released_inputs import ReleasedInput, _released_input  # noqa: F401  (its old home)
from .tensor import Tensor
from .write_log import writes_missed as _writes_missed
from .old_values import modified_message as _modified_message

_an = anomaly._state  # anomaly detection in the calling thread: _an.enabled
_ndarray = np.ndarray



def _saved_of(n, vc):
    """The input arrays of node ``n`` whose tensors count versions on ``vc``."""
    arrays = getattr(n, "_in_arrays", None)
    if arrays is None or n.parents is None:
        return ()
    return [a for p, a in zip(n.parents, arrays) if isinstance(p, Tensor) and p._vc is vc]


def _run(roots, capture=None, accumulate=True, retain_graph=False, create_graph=False):
    """Propagate gradients from ``roots`` [(tensor, gradient)] to the leaves.

    ``capture`` maps id(tensor) -> slot for tensors whose gradient is wanted
    (``autograd.grad``); with ``accumulate=False`` leaves are not touched.  Gradients are raw
    arrays, or Tensors that record a graph when ``create_graph`` (each node's backward then
    runs on Tensors: see :func:`_backward_graph`).  A leaf with hooks gets its gradients
    summed over the pass, and its hooks run once, on the total.
    """
    check = anomaly._on and _an.enabled  # detect_anomaly: check each node's gradients
    recording = capture_hooks._on  # gpugrad.compile (only this thread's recorder listens,
    if recording:                  # and it starts before the pass or not at all)
        capture_hooks.backward_pass(capture, create_graph)
    # a NumPy gradient for a CPU leaf without hooks is added right here (see _deliver_leaf)
    plain = capture is None and accumulate and not create_graph and not recording
    grads = {}
    deps = {}
    stack = []
    hooked = {}  # id(leaf) -> [leaf, summed gradient] for leaves whose hooks run at the end
    leaf_roots = []
    # post-accumulate hooks: id(leaf) -> gradients still to come in this pass
    pending = {} if _post_hooks and accumulate and capture is None else None
    for t, g in roots:
        if _is_stale(t):
            _refresh(t, "backward")
        n = t._node
        if n is None:
            leaf_roots.append((t, g))
            continue
        if n in grads:
            grads[n] = grads[n] + g
        else:
            grads[n] = g
            stack.append(n)
    # count, for each node, how many consumers will send it a gradient; refuse up front a
    # node that cannot run, so that a failed pass leaves no partial gradient behind
    seen = set(stack)
    walk = list(stack)
    while walk:
        n = walk.pop()
        if (n._complex and not n.complex_grad) or (create_graph and not n.twice_differentiable):
            _refuse(n, create_graph)
        if pending is not None:
            _count_leaves(n, pending)
        for pn in n.pnodes:
            if pn is not None:
                deps[pn] = deps.get(pn, 0) + 1
                if pn not in seen:
                    seen.add(pn)
                    walk.append(pn)
    for t, g in leaf_roots:
        _deliver_leaf(t, g, capture, accumulate, hooked, create_graph)
        if pending is not None and id(t) in _post_hooks and id(t) not in hooked:
            _run_post_hooks(t)
    ready = []
    for n in stack:
        if not deps.get(n):
            ready.append(n)
    owned = set()
    while ready:
        n = ready.pop()
        g = grads.pop(n, None)
        owned.discard(n)
        claims = None
        if g is not None:
            _enter(n, retain_graph)  # (a second pass without retain_graph raises here)
            try:
                if n._hooks:
                    g = _call_hooks(n._hooks, g, create_graph)
                if n._retain is not None:
                    rt = n._retain()
                    if rt is not None:
                        _accumulate(rt, g, create_graph)
                if capture is not None and id(n) in capture:
                    capture[id(n)] = g if capture[id(n)] is None else capture[id(n)] + g
            except BaseException:
                _leave(n, retain_graph, failed=True)
                raise
            # None on the CPU, or when the node's CUDA device is current
            guard = None if n._cuda_index is None else backend.cuda_guard(n._cuda_index)
            if guard is not None:
                guard.__enter__()
            try:
                for vc, ver in n._vcs:
                    if vc[0] != ver and not _writes_missed(vc, ver, _saved_of(n, vc)):
                        if recording:    # (a write a replay may make elsewhere: CaptureError)
                            capture_hooks.write_refused(n, vc, ver, _saved_of(n, vc))
                        raise RuntimeError(_modified_message(n, vc, ver))
                if create_graph:
                    in_grads = _backward_graph(n, g, check)
                elif n.grad_into and accumulate and capture is None:
                    _hand_buffers(n, claims := _grad_buffers(n, True))
                    try:
                        in_grads = n.backward(g)
                    finally:
                        _hand_buffers(n, None)  # this call only: no view outlives it
                else:
                    in_grads = n.backward(g)
                if recording and not create_graph:
                    capture_hooks.backward(n, g, in_grads, retain_graph)
                if check:
                    anomaly.after_backward(n, in_grads, g)
            except Exception as e:
                if claims:
                    _unclaim(n, claims)
                if check:
                    anomaly.note_backward_error(e, n)  # where n was created
                _leave(n, retain_graph, failed=True)
                raise
            finally:
                if guard is not None:
                    guard.__exit__(None, None, None)
        else:
            in_grads = (None,) * len(n.parents)
        try:  # (a raise while its gradients are handed on: n ran, and is let go of)
            for p, pn, pg, need in zip(n.parents, n.pnodes, in_grads, n.needs):
                if not need:
                    continue
                if pn is None:
                    if pg is not None:
                        if (plain and type(pg) is _ndarray and not p._hooks and p.requires_grad
                                and type(p.data) is _ndarray and pg.dtype == p.data.dtype):
                            _add_to_grad(p, pg, False)  # where _deliver_leaf would end up
                        else:
                            _deliver_leaf(p, pg, capture, accumulate, hooked, create_graph)
                    if pending and id(p) in pending:
                        _leaf_done(p, pending, hooked)
                    continue
                if pg is not None:
                    if pg.shape != p.data.shape:
                        raise RuntimeError(f"internal: {n.name} returned a gradient of shape "
                                           f"{pg.shape} for an input of shape {p.data.shape}")
                    if pg.dtype != p.data.dtype:  # promoted downstream: back to the input's dtype
                        src, pg = pg, cast_grad(pg, p.data.dtype)
                        if recording:
                            capture_hooks.cast(src, pg)
                    cur = grads.get(pn)
                    if cur is None:
                        grads[pn] = pg
                    elif pn in owned:
                        prev = cur
                        cur += pg
                        grads[pn] = cur  # 0-d math gives immutable NumPy scalars: store it back
                        if recording:
                            capture_hooks.add(prev, pg, cur, True)
                    else:
                        grads[pn] = cur + pg
                        if recording:
                            capture_hooks.add(cur, pg, grads[pn], False)
                        if not create_graph:  # a recorded sum is never updated in place
                            owned.add(pn)
                left = deps[pn] - 1
                deps[pn] = left
                if left == 0:
                    ready.append(pn)
        finally:
            if claims:
                _unclaim(n, claims)
            if g is not None:
                _leave(n, retain_graph)
    for t, g in hooked.values():  # leaf hooks: once per pass, on the total gradient
        _deliver(t, _call_hooks(t._hooks, g, create_graph), capture, accumulate, create_graph)
        if pending is not None and id(t) in _post_hooks:
            _run_post_hooks(t)


# ---------------------------------------------------------------- post-accumulate hooks
_post_hooks = {}  # id(leaf) -> (weakref to the leaf, [hook, ...])


def register_post_accumulate_grad_hook(t, hook):
    """Call ``hook(t)`` in every backward pass that accumulates into leaf ``t``'s ``.grad``,
    as soon as the pass has added its last gradient to it (while the rest of the pass still
    runs; PyTorch's ``Tensor.register_post_accumulate_grad_hook``).  Returns a handle with
    ``remove()``.  Not called by ``gpugrad.grad`` (which leaves ``.grad`` alone)."""
    if t._node is not None or not t.requires_grad:
        raise RuntimeError("post-accumulate-grad hooks can only be registered on leaf tensors "
                           "that require grad")
    key = id(t)
    entry = _post_hooks.get(key)
    if entry is None or entry[0]() is not t:
        entry = _post_hooks[key] = (weakref.ref(t, lambda _, k=key: _post_hooks.pop(k, None)),
                                    [])
    entry[1].append(hook)
    return _PostHookHandle(key, hook)


class _PostHookHandle:
    def __init__(self, key, hook):
        self.key, self.hook = key, hook

    def remove(self):
        entry = _post_hooks.get(self.key)
        if entry is not None and self.hook in entry[1]:
            entry[1].remove(self.hook)
            if not entry[1]:
                del _post_hooks[self.key]


def _count_leaves(n, pending):
    """Count the gradients node ``n`` will send to leaves that have post-accumulate hooks."""
    for p, pn, need in zip(n.parents, n.pnodes, n.needs):
        if pn is None and need and id(p) in _post_hooks:
            pending[id(p)] = pending.get(id(p), 0) + 1


def _leaf_done(t, pending, hooked):
    """One of leaf ``t``'s gradients of this pass arrived: run its post-accumulate hooks
    after the last (for a leaf with hooks, after its total is delivered at the end)."""
    left = pending[id(t)] - 1
    pending[id(t)] = left
    if left == 0 and id(t) not in hooked:
        _run_post_hooks(t)


def _run_post_hooks(t):
    entry = _post_hooks.get(id(t))
    if entry is not None and entry[0]() is t:
        for h in list(entry[1]):
            h(t)


def _refuse(n, create_graph):
    """Raise, naming the op: node ``n``'s backward cannot give a right answer here."""
    if n._complex and not n.complex_grad:
        raise NotImplementedError(
            f"the gradient of {n.name} with respect to a complex input ({n._complex}) is not "
            f"implemented (its formula is checked for real inputs only); take real and "
            f"imaginary parts first (gpugrad.real / gpugrad.imag)")
    if create_graph and not n.twice_differentiable:
        raise RuntimeError(
            f"the backward of {n.name} is not differentiable: it cannot run with "
            f"create_graph=True, so higher-order gradients through {n.name} are not "
            f"available" + getattr(n, "create_graph_advice", ""))  # an op's own advice


def _as_tensors(v, n, sub):
    """Node ``n``'s saved value ``v`` for :func:`_backward_graph`: an input's array as that
    input (``sub``: id of array -> tensor), the forward's answer as a tensor produced by ``n``
    (added to ``sub``), any other array as a constant tensor; tuples and lists rebuilt.  (A
    function of its own, not a closure: a recursive closure is a reference cycle.)"""
    if isinstance(v, (tuple, list)):
        return type(v)(_as_tensors(x, n, sub) for x in v)
    if isinstance(v, Tensor) or not hasattr(v, "shape"):
        return v
    t = sub.get(id(v))
    if t is not None:
        return t
    if id(v) == n._out_id:  # the forward's answer: a Tensor that n itself produced
        t = Tensor._make(np.asarray(v) if isinstance(v, np.generic) else v, requires_grad=True)
        t._node, t._vc = n, [n._out_ver]
        sub[id(v)] = t
        return t
    return v if isinstance(v, np.generic) else Tensor._make(v)


def _backward_graph(n, g, check=False):
    """Run node ``n``'s backward on Tensors, so that it records a graph (``create_graph``).

    The formula is the node's one ``backward``: its saved arrays are handed to it as the
    Tensors they came from (an input's array as that input, the forward's answer as a Tensor
    produced by ``n`` itself) and ``xp_of`` of a Tensor is the Tensor namespace.  Any other
    saved array is a constant of the formula (an index, a mask), which is what an op that
    sets ``twice_differentiable`` promises.
    """
    sub = {id(a): p for a, p in zip(n._in_arrays, n.parents) if isinstance(p, Tensor)}
    node = copy.copy(n)  # the saved arrays are swapped on a copy: n itself stays as it was
    node.saved = _as_tensors(n.saved, n, sub)
    if not isinstance(g, Tensor):
        g = Tensor._make(g)
    if check:  # detect_anomaly: the ops recorded now were made by n's backward
        prev, _an.node = _an.node, n
    try:
        with enable_grad():
            out = node.backward(g)
    except (AttributeError, TypeError) as e:
        raise RuntimeError(f"the backward of {n.name} could not run on Tensors "
                           f"(create_graph=True): {e}") from e
    finally:
        if check:
            _an.node = prev
    return tuple(r if r is None or isinstance(r, Tensor) else Tensor._make(r) for r in out)


def _deliver_leaf(t, g, capture, accumulate, hooked, create_graph):
    """Hand leaf ``t`` its gradient ``g``, or, when ``t`` has hooks, add ``g`` to its total
    for the pass (the hooks see the total, once)."""
    if t._hooks:
        if (capture is not None and id(t) in capture) or (accumulate and t.requires_grad):
            slot = hooked.get(id(t))
            if slot is None:
                hooked[id(t)] = [t, g]
            else:
                slot[1] = slot[1] + g
        return
    _deliver(t, g, capture, accumulate, create_graph)


def _deliver(t, g, capture, accumulate, create_graph):
    if capture_hooks._on and capture is None and accumulate and t.requires_grad:
        capture_hooks.leaf(t, g)
    if g.dtype != t.data.dtype:
        g = cast_grad(g, t.data.dtype)
    if capture is not None and id(t) in capture:
        prev = capture[id(t)]
        capture[id(t)] = g if prev is None else prev + g
        return
    if accumulate and t.requires_grad:
        _accumulate(t, g, create_graph)


def _call_hooks(hooks, g, create_graph=False):
    """Run ``hooks`` on gradient ``g`` in registration order, each on the previous one's
    answer.  The list is read once, first: a hook that removes itself or adds another
    changes the next pass, not this one (PyTorch's rule)."""
    for h in tuple(hooks):
        r = h(g if isinstance(g, Tensor) else Tensor._make(g))
        if r is not None:
            r = _hook_result(h, r, g)
            if create_graph:
                g = r if isinstance(r, Tensor) else Tensor._make(r)
            else:
                g = r.data if isinstance(r, Tensor) else r
    return g


def _hook_result(h, r, g):
    """Hook ``h``'s answer ``r`` for gradient ``g``, checked: the same shape and device, and
    no complex value for a real gradient (its imaginary part would be dropped); a real
    dtype other than the gradient's is cast to it."""
    name = getattr(h, "__qualname__", None) or type(h).__name__
    d = r.data if isinstance(r, Tensor) else r
    gd = g.data if isinstance(g, Tensor) else g
    if not hasattr(d, "shape") or not hasattr(d, "dtype"):
        raise TypeError(f"hook {name!r} returned a {type(r).__name__}; expected a Tensor (or "
                        f"None) of shape {tuple(gd.shape)}")
    if tuple(d.shape) != tuple(gd.shape):
        raise RuntimeError(f"hook {name!r} changed the gradient's shape: expected "
                           f"{tuple(gd.shape)}, got {tuple(d.shape)}")
    if d.dtype.kind == "c" and gd.dtype.kind != "c":
        raise RuntimeError(f"hook {name!r} returned a {d.dtype} gradient for a {gd.dtype} "
                           f"tensor: a complex gradient of a real tensor has no meaning here "
                           f"(take its real part in the hook)")
    if type(d) is not type(gd) and backend.array_device(d) != backend.array_device(gd):
        raise RuntimeError(f"hook {name!r} returned a gradient on {backend.array_device(d)}; "
                           f"expected it on {backend.array_device(gd)}")
    if anomaly._on and _an.enabled and _an.check_nan and not anomaly._finite(d) \
            and anomaly._finite(gd):
        raise anomaly.AnomalyError(
            f"hook {name!r} returned {anomaly._what(d)} in a gradient of shape "
            f"{tuple(gd.shape)} from a finite one", op=name, phase="backward")
    if d.dtype != gd.dtype:
        r = r.astype(gd.dtype) if isinstance(r, Tensor) else d.astype(gd.dtype)
    return r
