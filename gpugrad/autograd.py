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

import numpy as np

from . import anomaly, backend, capture_hooks, grad_mode
from . import dtypes as _dtypes
from .anomaly import (AnomalyError, detect_anomaly, is_anomaly_check_nan_enabled,  # noqa: F401
                      is_anomaly_enabled, set_detect_anomaly)  # noqa: F401
from .backend import DeviceMismatchError, array_device, is_cupy_array
from .node_record import distinct_arrays as _distinct_arrays, is_stale as _is_stale
from .node_record import is_view_of as _is_view_of, refresh as _refresh, release_arrays
from .node_record import NOT_ARRAY_TYPES
from .wide_sum import sum_wide
from .borrowed import Borrowed as _Borrowed, private_inputs as _private_inputs
from .node_record import view_link as _view_link  # noqa: F401  (inplace, old_values import it)
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401

__all__ = [
    "Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "backward", "grad", "unbroadcast", "detect_anomaly", "set_detect_anomaly",
    "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "AnomalyError",
]

_gm = grad_mode._state  # the recording flag of the calling thread: _gm.enabled
_an = anomaly._state    # anomaly detection in the calling thread: _an.enabled
_ndarray = np.ndarray
_new = object.__new__
_NO_NEEDS = ((), (False,), (False, False), (False, False, False))  # a node recording nothing
_GRAD_KIND = _dtypes.GRAD_KIND  # dtype class -> "f"/"c": what can require grad
_grad_kind = _dtypes.grad_kind
_PLAIN = NOT_ARRAY_TYPES - {tuple, list}  # values that hold no array, nor an array's base


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
        g = sum_wide(g, axis=tuple(range(lead)))  # 16-bit floats: added in float32
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = sum_wide(g, axis=axes, keepdims=True)
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
    grad_into = ()   # input indices whose gradient backward can write into a buffer the engine
    #                  hands it (gpugrad.handed_buffers)

    parents = ()
    pnodes = ()    # the parents' nodes when this node was made (in-place ops rewire tensors)
    needs = ()
    saved = ()
    _vcs = ()
    _hooks = None
    _retain = None
    _freed = False
    _claim = 0  # backward passes running it now, + node_claims._TAKEN once one that
    #             does not retain the graph took it (gpugrad.node_claims)
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
        self._freed = True
        release_arrays(self.__dict__)

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the inputs' arrays and link the result into the graph."""
        enabled = _gm.enabled
        tracked = enabled and cls.differentiable  # (a graph can be recorded at all)
        arrays = []
        needs = []
        pnodes = []
        any_needs = devs = anchored = stale = cplx = False  # anchored: an input has a device
        borrowed = False  # a constant input in memory a caller's array holds (gpugrad.borrowed)
        for a in args:
            if isinstance(a, Tensor):
                anchored = True
                d = a.data
                arrays.append(d)
                r = a.requires_grad
                if not r and tracked and a._view is not None:
                    c = a._view._chain  # (its root, ...) once known: see gpugrad.inplace
                    if c is None or c[0].requires_grad:
                        r = _view_in_graph(a)  # its base may have joined the graph since
                needs.append(r)
                if r:
                    any_needs = True
                    k = _GRAD_KIND.get(type(d.dtype)) or _grad_kind(d.dtype)
                    if k == "c":
                        cplx = d.dtype
                elif type(a._vc) is _Borrowed:
                    borrowed = True
                if type(d) is not _ndarray:
                    devs = True
                pn = a._node
                pnodes.append(pn)
                if pn is not None and pn._out_ver != a._vc[0] and pn._out_ver is not None:
                    stale = True
            else:
                arrays.append(a)
                needs.append(False)
                pnodes.append(None)
                if type(a) is _ndarray:
                    anchored = True
                elif type(a) not in NOT_ARRAY_TYPES and hasattr(a, "__cuda_array_interface__"):
                    devs = devs or is_cupy_array(a)
                    anchored = True
        node = cls()
        guard = None
        if devs:
            dev = _check_devices(args)
            if dev is not None and dev.type == "cuda":
                node._cuda_index = dev.index
                guard = backend.cuda_guard(dev.index)
        record = any_needs and tracked
        if record:
            if stale:
                for a in args:
                    if isinstance(a, Tensor) and _is_stale(a):
                        _refresh(a, cls.__name__)
                pnodes = [a._node if isinstance(a, Tensor) else None for a in args]
            node.needs = tuple(needs)
            if borrowed and not cls.view:  # memory a caller's array holds: a private copy
                args, arrays = _private_inputs(node, args, arrays, needs)
            if len(arrays) > 1 and (len(arrays) > 2 or arrays[0] is arrays[1]):
                _distinct_arrays(args, arrays)
        else:
            node.needs = _NO_NEEDS[len(needs)] if len(needs) < 4 else (False,) * len(needs)
        if guard is not None:  # another device is current: run on the operands'
            with guard:
                out = raw = node.forward(*arrays, **kwargs)
        elif kwargs:
            out = raw = node.forward(*arrays, **kwargs)
        else:
            out = raw = node.forward(*arrays)
        if type(out) is not _ndarray and (not hasattr(out, "shape") or isinstance(out, np.generic)):
            out = np.asarray(out)
        if not anchored and type(out) is _ndarray:  # numbers only: a new value, and new
            dev = backend.get_default_device()       # values go to the default device
            if dev.type != "cpu":
                out = backend.to_device(out, dev)
        if capture_hooks._on:  # gpugrad.compile is recording a step (else one attribute read)
            capture_hooks.forward(node, args, arrays, kwargs, raw, out, anchored)
        if anomaly._on and _an.enabled:  # detect_anomaly: check the answer, keep where the
            # node was made (off in every thread, this is one module attribute read)
            anomaly.after_forward(node, out, args, kwargs, record)
        t = _new(Tensor)  # Tensor._make(out), inline
        t.data = out
        if out is not raw and isinstance(raw, np.generic):
            t._scalar = True  # (NumPy answered a scalar: see zero_d.py)
        t._grad = t._hooks = t._view = None  # (the slot: no check for a new tensor's None)
        base = out.base if type(out) is _ndarray else getattr(out, "base", None)
        is_view = cls.view
        view = is_view and isinstance(args[0], Tensor) \
            and _is_view_of(out, arrays[0])  # (a reshape may have had to copy; CuPy's
        #                                      as_strided is a view with no base)
        shared = view
        if view:
            vc = args[0]._vc
        elif not is_view and base is not None and (alias := _aliased(out, args)) is not None:
            vc = alias._vc  # an answer in an input's memory (einsum's 'ij->ji' is a view):
            shared = True   # a write into either is a write into both
        else:
            vc = [0]
        t._vc = vc
        if record:
            node.parents = args
            node.pnodes = tuple(pnodes)
            vcs = []  # (counter, version) of each input whose data backward reads
            reads = False  # True: one of them is no parameter (gpugrad.saved_readers)
            for i in node.saved_inputs(needs):
                a = args[i]
                if isinstance(a, Tensor):
                    c = a._vc
                    vcs.append((c, c[0]))
                    if a._node is not None or not a.requires_grad:
                        reads = True
            sv = node.saved
            if cls.saves_output or (sv and _reads_answer(sv, raw)):  # it reads its answer
                vcs.append((vc, vc[0]))
                reads = reads or shared  # (else found through its tensor at a write)
            if vcs:
                node._vcs = vcs
                if reads:  # a write may have to give it a copy of what it read
                    _add_reader(_ref(node))
                    if len(_PENDING) > _LIMIT[0]:
                        _prune_readers()
            node._out_ver = vc[0]
            if cplx is not False:
                node._complex = cplx
            node._in_arrays = arrays  # which saved array is which input (create_graph)
            node._out_id = id(raw)  # what forward returned (and may have saved): a
            # NumPy scalar for 0-d math, whose id is valid while `saved` holds it
            t._node = node
            t.requires_grad = True
        else:
            t._node = None
            t.requires_grad = False
            if view:
                node.parents = args  # the link to the base, should a write through t need it
                t._view = node
                if not enabled:
                    node._ng_ver = vc[0]
        return t


def _reads_answer(saved, raw):
    """``old_values._saves_answer(saved, raw)``, answered without its general walk in the
    usual case: a new NumPy answer (no ``.base``), which only ``saved`` holding it or a view
    of it can reach, and saved values that are NumPy arrays, None or plain numbers."""
    if type(raw) is not _ndarray or raw.base is not None:
        return _saves_answer(saved, raw)
    for v in saved:
        t = type(v)
        if t is _ndarray:
            if v is raw or v.base is raw:
                return True
        elif t not in _PLAIN:  # a tuple, a list, a CuPy array, another object
            return _saves_answer(saved, raw)
    return False


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


from .tensor import Tensor  # noqa: E402  (Tensor needs this module's Function)
from .backward_pass import _run  # noqa: E402  (the pass needs Function and Tensor)
from .view_links import _view_in_graph  # noqa: E402  (views without a node, and their bases)
from .old_values import _aliased, _saves_answer  # noqa: E402  (what a node read)
from .saved_readers import PENDING as _PENDING, LIMIT as _LIMIT, add as _add_reader  # noqa: E402
from .saved_readers import prune as _prune_readers, ref as _ref  # noqa: E402
from .backward_entry import backward, grad  # noqa: E402,F401  (the public entry points)
