"""Reverse-mode automatic differentiation: the graph node and the entry points
(:func:`backward`, :func:`grad`).

A :class:`Function` is one node of the graph.  Subclasses define ``forward`` and ``backward``
on raw arrays (NumPy or CuPy) side by side, save the least they need on ``self``, and are
called through ``Function.apply`` with tensors.  The backward pass itself
(:mod:`gpugrad.backward_pass`) is iterative (no recursion, so graphs of any depth work),
runs nodes in dependency order, frees each node's saved arrays once used (unless
``retain_graph``), and accumulates into leaves in place; with ``create_graph=True`` it runs
each node's one backward on Tensors, so gradients can be differentiated again.

Graph nodes hold their input tensors; tensors hold their producing node; nothing points
back from a node to its output, so there are no reference cycles to leak.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4.])
"""
from __future__ import annotations

import copy

import numpy as np

from . import anomaly, backend, capture_hooks, grad_mode
from .anomaly import (AnomalyError, detect_anomaly, is_anomaly_check_nan_enabled,  # noqa: F401
                      is_anomaly_enabled, set_detect_anomaly)  # noqa: F401
from .backend import DeviceMismatchError, array_device, is_cupy_array
from .backend import get_array_module as _xp
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401

__all__ = [
    "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "backward", "grad", "unbroadcast", "detect_anomaly", "set_detect_anomaly",
    "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "AnomalyError",
]

_gm = grad_mode._state  # the recording flag of the calling thread: _gm.enabled
_an = anomaly._state    # anomaly detection in the calling thread: _an.enabled


# ---------------------------------------------------------------- broadcasting
def unbroadcast(g, shape):
    """Sum gradient ``g`` down to ``shape``: the reverse of NumPy broadcasting.

    >>> unbroadcast(np.ones((2, 3)), (3,))
    array([2., 2., 2.])
    >>> unbroadcast(np.ones((2, 3)), (2, 1)).shape
    (2, 1)
    """
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


# ---------------------------------------------------------------- the node
class Function:
    """A graph node: ``forward`` and ``backward`` on raw arrays, called via ``apply``.

    ``forward(self, *inputs, **params)`` receives arrays (and any non-tensor inputs as
    given) and returns one array.  ``backward(self, g)`` returns one gradient per positional
    input (None where ``self.needs[i]`` is False), already reduced to that input's shape.
    Class attributes tune bookkeeping: ``view = True`` when the output shares memory with
    input 0; ``saves_output = True`` when backward reads the forward's answer from elsewhere
    than ``saved`` (an answer, or a view of it, in ``saved`` is found without the flag).

    >>> class Square(Function):
    ...     def forward(self, x):
    ...         self.saved = (x,)
    ...         return x * x
    ...     def backward(self, g):
    ...         (x,) = self.saved
    ...         return (2 * x * g,)
    >>> import gpugrad as gg
    >>> t = gg.tensor(3.0, requires_grad=True)
    >>> Square.apply(t).backward(); t.grad.item()
    6.0
    """

    view = False
    saves_output = False
    differentiable = True
    _cuda_index = None            # the CUDA device of the node's operands (None: the CPU)
    twice_differentiable = False  # True once backward is checked to record a graph on Tensors
    complex_grad = False  # True once backward is checked against PyTorch on complex inputs
    grad_into = ()   # input indices whose gradient backward can write into a given buffer
    grad_out = None  # {index: buffer} set by the engine just before backward

    parents = ()
    pnodes = ()    # the parents' nodes when this node was made (in-place ops rewire tensors)
    needs = ()
    saved = ()
    _vcs = ()
    _hooks = None
    _retain = None
    _freed = False
    _out_ver = None  # the output's version when this node made it (stale views are refused)
    _out_id = None   # id() of the output array (create_graph hands it to backward as a Tensor)
    _in_arrays = ()  # the input arrays handed to forward, per position (the inputs' own)
    _complex = False  # the complex dtype of an input that needs a gradient, if any
    _ng_ver = None   # a view op's node kept as a link (Tensor._view), made under no_grad:
    _chain = None    # the memory's version then; (root, version), memoized (gpugrad.inplace)
    _anomaly = None  # under detect_anomaly: (creation frames, (name, _anomaly) of the node
    #                  whose create_graph backward made it, or None)

    # which positional inputs' data backward reads; override for finer tracking
    def saved_inputs(self, needs):
        return range(len(needs))

    def forward(self, *args, **kwargs):  # pragma: no cover - every op overrides
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, g):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} has no gradient")

    @property
    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name}Backward>"

    def _release(self):
        """Let go of every array the node holds for its backward: ``saved``, the inputs'
        arrays, and any array an op kept on ``self`` beside them (a shift, a mask)."""
        self.saved = ()
        self._in_arrays = ()
        self.grad_out = None
        self._freed = True
        d = self.__dict__
        for k in [k for k, v in d.items() if _is_array(v)]:
            del d[k]

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the inputs' arrays and link the result into the graph."""
        arrays = []
        needs = []
        pnodes = []
        any_needs = False
        devs = None
        anchored = False  # an input that has a device (a Tensor or an array)
        stale = None
        cplx = False
        enabled = _gm.enabled
        for a in args:
            if isinstance(a, Tensor):
                anchored = True
                d = a.data
                arrays.append(d)
                r = a.requires_grad
                if not r and a._view is not None and enabled and cls.differentiable:
                    c = a._view._chain  # (its root, ...) once known: see gpugrad.inplace
                    if c is None or c[0].requires_grad:
                        r = _view_in_graph(a)  # its base may have joined the graph since
                needs.append(r)
                any_needs = any_needs or r
                if r and d.dtype.kind == "c":
                    cplx = d.dtype
                if type(d) is not np.ndarray:
                    devs = True
                pn = a._node
                pnodes.append(pn)
                if pn is not None and pn._out_ver != a._vc[0] and pn._out_ver is not None:
                    stale = True
            else:
                arrays.append(a)
                needs.append(False)
                pnodes.append(None)
                if hasattr(a, "__cuda_array_interface__") or (type(a) is np.ndarray):
                    devs = devs or is_cupy_array(a)
                    anchored = True
        node = cls()
        guard = None
        if devs:
            dev = _check_devices(args)
            if dev is not None and dev.type == "cuda":
                node._cuda_index = dev.index
                guard = backend.cuda_guard(dev.index)
        record = any_needs and enabled and cls.differentiable
        if record and stale:
            for a in args:
                if isinstance(a, Tensor) and _is_stale(a):
                    _refresh(a, cls.__name__)
            pnodes = [a._node if isinstance(a, Tensor) else None for a in args]
        node.needs = tuple(needs) if record else (False,) * len(needs)
        if record and len(arrays) > 1 and (len(arrays) > 2 or arrays[0] is arrays[1]):
            _distinct_arrays(args, arrays)
        if guard is None:
            out = raw = node.forward(*arrays, **kwargs)
        else:                                 # another device is current: run on the operands'
            with guard:
                out = raw = node.forward(*arrays, **kwargs)
        if not hasattr(out, "shape") or isinstance(out, np.generic):
            out = np.asarray(out)
        if not anchored and type(out) is np.ndarray:  # numbers only: a new value, and new
            dev = backend.get_default_device()       # values go to the default device
            if dev.type != "cpu":
                out = backend.to_device(out, dev)
        if capture_hooks._on:  # gpugrad.compile is recording a step (else one attribute read)
            capture_hooks.forward(node, args, arrays, kwargs, raw, out, anchored)
        if anomaly._on and _an.enabled:  # detect_anomaly: check the answer, keep where the
            # node was made (off in every thread, this is one module attribute read)
            anomaly.after_forward(node, out, args, kwargs, record)
        t = Tensor._make(out)
        alias = None if cls.view or getattr(out, "base", None) is None else _aliased(out, args)
        if alias is not None:  # an answer in an input's memory (einsum's 'ij->ji' is a view):
            t._vc = alias._vc  # a write into either is a write into both
        if record:
            node.parents = args
            node.pnodes = tuple(pnodes)
            vcs = [(args[i]._vc, args[i]._vc[0]) for i in node.saved_inputs(needs)
                   if isinstance(args[i], Tensor)]
            if cls.view and _is_view_of(out, arrays[0]):  # (a reshape may have had to copy)
                t._vc = args[0]._vc
            sv = node.saved
            if cls.saves_output or (sv and _saves_answer(sv, raw)):  # it reads its answer
                vcs.append((t._vc, t._vc[0]))
            node._vcs = vcs
            node._out_ver = t._vc[0]
            node._complex = cplx
            node._in_arrays = arrays  # which saved array is which input (create_graph)
            node._out_id = id(raw)  # what forward returned (and may have saved): a
            # NumPy scalar for 0-d math, whose id is valid while `saved` holds it
            t._node = node
            t.requires_grad = True
        elif cls.view and isinstance(args[0], Tensor) and _is_view_of(out, arrays[0]):
            t._vc = args[0]._vc
            node.parents = args  # the link to the base, should a write through t need it
            t._view = node
            if not enabled:
                node._ng_ver = t._vc[0]
        return t


def _is_array(v):
    """True for a NumPy or CuPy array (not a NumPy scalar)."""
    return type(v) is np.ndarray or hasattr(v, "__cuda_array_interface__")


def _distinct_arrays(args, arrays):
    """Give each distinct input Tensor its own array object: two Tensors that share one array
    (``x`` and ``x.detach()``, a Parameter made from a tensor) reach forward as separate
    views, so that create_graph can tell which saved array is which input."""
    if len(arrays) == 2:
        if arrays[0] is arrays[1] and args[0] is not args[1] and isinstance(args[1], Tensor):
            arrays[1] = arrays[1].view()
        return
    seen = {}
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            other = seen.setdefault(id(arrays[i]), a)
            if other is not a:
                arrays[i] = arrays[i].view()


def _is_view_of(out, a):
    """True when array ``out`` shares ``a``'s memory as a view (NumPy and CuPy keep the owner,
    or ``a`` itself, in ``.base``); False for a copy, as a reshape sometimes must make."""
    b = out.base
    return b is not None and (b is a or b is a.base)


def _is_stale(t):
    """True when ``t``'s memory was written in place (through a view of it, its base, or a
    detached alias) after its node computed it."""
    n = t._node
    return n is not None and n._out_ver is not None and n._out_ver != t._vc[0]


def _refresh(t, user):
    """Re-link stale tensor ``t`` before it is used: a view is re-derived from its base's
    current node (as NumPy semantics say its value now is); anything else is an error."""
    n = t._node
    if not n.view:
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
    if _is_stale(base):
        _refresh(base, user)
    fresh = copy.copy(n)  # view nodes keep only shapes/keys: a shallow copy is a new node
    fresh.pnodes = (base._node,) + tuple(n.pnodes[1:])
    fresh._out_ver, fresh._freed = t._vc[0], False
    t._node = fresh


_WRITABLE_VIEWS = frozenset(("GetItemBasic", "Transpose", "Reshape", "Flip"))


def _view_link(node, t=None):
    """The view node (basic index, transpose, reshape, flip) whose base tensor ``t`` (computed
    by ``node``) lives in: ``node``, ``node._view_link`` (kept across in-place rewiring), or
    ``t._view``, the link a view op that recorded no node left (on the tensor: no cycle)."""
    if node is not None and type(node).__name__ in _WRITABLE_VIEWS:
        return node
    link = getattr(node, "_view_link", None)
    if link is None and t is not None and type(t._view).__name__ in _WRITABLE_VIEWS:
        return t._view
    return link


def _check_devices(args):
    seen = None
    for a in args:
        d = a.data if isinstance(a, Tensor) else a
        if isinstance(d, np.ndarray) or is_cupy_array(d):
            dev = array_device(d)
            if seen is None:
                seen = dev
            elif dev != seen:
                raise DeviceMismatchError(
                    f"expected all tensors on one device, got {seen} and {dev}; "
                    f"move one with .to({str(seen)!r}) first")
    return seen


# ---------------------------------------------------------------- the public entry points
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into leaves.

    With ``create_graph=True`` the backward pass is itself recorded, so the gradients it
    leaves in ``.grad`` can be differentiated again; ``retain_graph`` defaults to
    ``create_graph`` (as in PyTorch).

    >>> import gpugrad as gg
    >>> a = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> backward([(a * 3).sum()])
    >>> a.grad
    tensor([3., 3.])
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if retain_graph is None:
        retain_graph = create_graph
    with _on_roots_device(tensors):
        roots = [(t, _seed_grad(t, g, create_graph)) for t, g in zip(tensors, grad_tensors)]
        _run(roots, retain_graph=retain_graph, create_graph=create_graph)


def _on_roots_device(tensors):
    """The first output's CUDA device made current for a backward pass (its seeds and
    accumulations); each node's own backward runs on its operands' device anyway."""
    for t in tensors:
        if isinstance(t, Tensor):
            return backend.on_device_of(t.data)
    return backend.on_device_of(None)


def _seed_grad(t, g, create_graph=False):
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor to differentiate, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError("the tensor does not require grad and has no grad_fn: nothing to "
                           "differentiate (create inputs with requires_grad=True)")
    if g is None:
        if t.data.dtype.kind == "c":
            raise RuntimeError(f"grad can be implicitly created only for real scalar outputs, "
                               f"got {t.dtype}: differentiate gpugrad.real(y) or "
                               f"gpugrad.imag(y), or pass gradient= (as PyTorch requires)")
        if t.data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got "
                               f"shape {t.shape}: pass gradient= with that shape, or reduce "
                               f"with .sum() first")
        ones = _xp(t.data).ones_like(t.data)
        if capture_hooks._on:  # gpugrad.compile: a constant the replay makes too
            capture_hooks.constant(lambda: _xp(ones).ones_like(ones), ones)
        return Tensor._make(ones) if create_graph else ones
    if create_graph and isinstance(g, Tensor) and g.requires_grad:  # d/d(grad_outputs) too
        if g.shape != t.shape:
            raise RuntimeError(f"gradient shape mismatch: expected {t.shape}, got {g.shape}")
        return g if g.dtype == t.dtype else g.astype(t.dtype)
    garr = g.data if isinstance(g, Tensor) else g
    if not hasattr(garr, "shape"):
        garr = np.asarray(garr, dtype=t.data.dtype)
    if garr.shape != t.data.shape:
        raise RuntimeError(f"gradient shape mismatch: expected {t.shape}, got {tuple(garr.shape)}")
    if type(garr) is not type(t.data):
        raise DeviceMismatchError(f"expected the gradient on {t.device}, got it on "
                                  f"{array_device(garr)}")
    garr = garr.astype(t.data.dtype, copy=False)
    return Tensor._make(garr) if create_graph else garr


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Return d(outputs)/d(inputs) (a tuple, one per input) without touching any ``.grad``.

    ``grad_outputs`` weights each output (the vector of a vector-Jacobian product; default
    ones for one-element outputs).  With ``create_graph=True`` the returned gradients carry a
    graph and can be differentiated again (Hessian-vector products, gradient penalties);
    ``retain_graph`` defaults to ``create_graph``.  An input the outputs do not depend on
    raises, or gives None with ``allow_unused=True``.  Same contract as
    ``torch.autograd.grad``.

    >>> import gpugrad as gg
    >>> x = gg.tensor(3.0, requires_grad=True)
    >>> (gx,) = grad(x * x, [x]); gx.item()
    6.0
    >>> (gx,) = grad(x ** 3, [x], create_graph=True)
    >>> grad(gx, [x])[0].item()  # d2/dx2 x**3 = 6x
    18.0
    """
    single_out = isinstance(outputs, Tensor)
    outs = [outputs] if single_out else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outs)
    else:
        grad_outputs = list(grad_outputs)
        if len(grad_outputs) != len(outs):
            raise ValueError(f"grad_outputs has {len(grad_outputs)} entries for "
                             f"{len(outs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    capture = {}
    keys = []
    for t in ins:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("every input of grad() must be a Tensor with requires_grad=True")
        key = id(t) if t._node is None else id(t._node)
        capture[key] = None
        keys.append(key)
    with _on_roots_device(outs):
        roots = [(t, _seed_grad(t, g, create_graph)) for t, g in zip(outs, grad_outputs)]
        _run(roots, capture=capture, accumulate=False, retain_graph=retain_graph,
             create_graph=create_graph)
    result = []
    for t, k in zip(ins, keys):
        g = capture[k]
        if g is None:
            if not allow_unused:
                raise RuntimeError("one of the inputs was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor._make(g))
    return tuple(result)


from .tensor import Tensor  # noqa: E402  (Tensor needs this module's Function)
from .backward_pass import _run  # noqa: E402  (the pass needs Function and Tensor)
from .inplace import _view_in_graph  # noqa: E402  (views without a node, and their bases)
from .old_values import _aliased, _saves_answer  # noqa: E402  (what a node read)
