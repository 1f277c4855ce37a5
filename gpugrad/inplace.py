"""In-place operations on tensors: ``+=`` and friends, ``x[k] = v``, ``fill_``, ``copy_``,
``clamp_``.

In-place operators write into the tensor's memory, so views and NumPy arrays sharing it see
the change.  When the graph is involved they are computed out of place by the op set and
written back: the tensor then stands for the new node, and its version counter moves on, so a
node that saved the old value raises at backward instead of giving a wrong gradient.  On a leaf
that requires grad (or a view of one) they raise at once.

Two rules keep the gradient right through the write:

* A write into a view (basic index, transpose, reshape, flip) re-links every base up the
  chain as ``base = setitem(base, key, view)`` (:mod:`gpugrad.view_writeback`), whatever
  the op: ``+=``, ``fill_``, ``copy_`` of a constant, ``x[k] = v``.  Where a constant was
  written the gradient is zero.  A base that is not in the graph (a constant: its views
  record no node, only a link to it) joins the graph this way when a value that requires
  grad is written, as in PyTorch; its other views are recorded as views of it when next
  used.  A view made under ``no_grad()`` follows PyTorch's rules instead: such a write
  through it, or its use after its base changed while its base requires grad, raises.
* The old value is copied, once, when a recorded node needs it (copy-on-write,
  :mod:`gpugrad.old_values`): the node that computed it and saved its answer (``p = exp(s);
  p /= p.sum()``), the op's own node (``y *= x`` reads the old ``y`` for ``x``'s gradient),
  a node of an operand that read it (``s -= s.max(axis=1, keepdims=True)``: Max read ``s``)
  or any other live node that read it (``q = p * x; p += 1``; ``y = p * v; v[1:3] += 1`` with
  ``v`` a constant, written outside any graph too: :mod:`gpugrad.saved_readers`).  No copy
  when nothing reads it (``+=``, ``-=``, ``/=`` on a value no node saved).  A parameter
  written under ``no_grad`` (or by an optimizer) after a node read it still raises at
  backward, as in PyTorch, saying what to write instead.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> y = x * 2
>>> y += 1
>>> y *= x
>>> y.sum().backward(); x.grad.tolist()
[5.0, 9.0]
>>> a = gg.zeros(3)
>>> v = a[1:]
>>> v += x                     # a, a constant, now computes from x
>>> (a * a).sum().backward(); x.grad.tolist()
[7.0, 13.0]
"""
from __future__ import annotations

import numbers

import numpy as np

from . import autograd as _autograd
from . import capture_hooks as _capture
from . import _tensor_ops as _operators
from . import ops as _ops
from .ops import index as _index
from ._tensor_hooks import move_retain
from .old_values import keep_old_value
from .saved_readers import PENDING as _PENDING  # (live readers, or a marker)
from . import anomaly as _anomaly, autocast_state as _ac
from .autocast_state import _state as _amp
from .ops._fast import _NUMBERS, _binary_data, in_graph
from .ops.fast_index import plain_key
from .ops.setitem_rules import holds_array as _holds_array
from .tensor import Tensor, as_tensor
from .view_links import _NO_GRAD_VIEW, _WRITE, _view_in_graph, _view_root
from .view_writeback import commit_to_bases as _commit_to_bases
from .view_writeback import refuse_ambiguous_write as _refuse_ambiguous_write
from .view_writeback import writes_through_overlap as _writes_through_overlap
from .write_log import basic_key as _basic_key, log_write as _log_write, written as _written
from .write_log import key_span as _key_span, view_key as _view_key
from .zero_d import stands_for_scalar

_ndarray = np.ndarray
_gm = _autograd._gm  # the calling thread's grad mode: _gm.enabled

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

def _check_inplace(self, others_grad=False):
    """Refuse a write (of a value that requires grad: ``others_grad``) that the graph cannot
    follow: into a leaf that requires grad, or a view of one, or through a view made under
    no_grad where the result would require grad (PyTorch's rules)."""
    if not _autograd.is_grad_enabled():
        return
    base = self
    if self._node is None and self._view is not None:  # a view that recorded no node
        root, ver = _view_root(self._view)
        if ver is not None and (others_grad or root.requires_grad):
            raise RuntimeError(_NO_GRAD_VIEW.format(_WRITE))
        while base._view is not None and not base.requires_grad:
            base = base._view.parents[0]
    node = base._node
    while (node is not None and node.view and node.parents[0] is not None
           and node.parents[0]._vc is self._vc):  # a view
        base = node.parents[0]
        node = node.pnodes[0]
    if node is None and base.requires_grad:
        what = "a leaf tensor" if base is self else "a view of a leaf tensor"
        raise RuntimeError(f"{what} that requires grad is being used in an in-place "
                           "operation: its gradient would be lost; copy it first (x = "
                           "x.copy()) or use an out-of-place op (x = x - y); to change a "
                           "parameter's values, wrap the update in gpugrad.no_grad()")

def _inplace(self, op, *others, direct=None, key=None, span=None):
    """``self = op(self, *others)`` written into self's memory; the graph is rewired.

    ``direct(self)``, when given, does the write itself where no graph is recorded; ``key``,
    a basic key, says the write touched only ``self[key]``, ``span`` (an advanced key's
    :func:`~gpugrad.write_log.key_span`) only that memory (:mod:`gpugrad.write_log`)."""
    others_grad = any(in_graph(o) for o in others)
    self._check_inplace(others_grad)
    old = None
    grad = _autograd.is_grad_enabled()
    if grad and self._view is not None and not self.requires_grad:
        _view_in_graph(self)                 # its base may have joined the graph since
    if grad and (self.requires_grad or others_grad):
        if _autograd._is_stale(self):
            _autograd._refresh(self, "an in-place operation")
        _refuse_ambiguous_write(self)        # (before anything is written)
        old = self._node
        res = op(self._shallow(), *others)
        _check_fits(self, res)
        keep_old_value(self, res._node)      # (the nodes that read the value get a copy)
        _write(self, res)
        self._node = res._node
        self.requires_grad = res.requires_grad
        move_retain(self, old)
    elif direct is not None and not _capture._on:  # (gpugrad.compile: through _write)
        if _PENDING or self._node is not None:
            keep_old_value(self)             # (a node may read the value: it gets a copy)
        _writing(self, direct, self)
    else:
        with _autograd.no_grad():
            res = op(self, *others)
        _check_fits(self, res)
        if _PENDING or self._node is not None:
            keep_old_value(self)
        _write(self, res)
    self._vc[0] += 1
    if type(self.data) is np.ndarray:
        _log_write(self._vc, span if span is not None else self.data if key is None else
                   _written(self.data, key))
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
    d = self.data
    if type(d) is _ndarray and self._node is None and not self.requires_grad and \
            type(self) is Tensor and not _capture._on:
        k = key if type(key) is slice else plain_key(key)
        if k is not None:        # NumPy's own write where _inplace would make just it
            tv = type(value)
            if tv in _NUMBERS:
                v = value
            elif tv is Tensor and type(value.data) is _ndarray and (
                    _view_of_constant(value) or not in_graph(value)):
                v = value.data
            elif tv is _ndarray or tv in _SEQ and not _holds_array(value):
                v = value        # (a list: NumPy's own assignment converts it, once)
            else:
                v = None
            if v is not None and (self._view is None or _constant_view(self)):
                if _PENDING:  # a node may read the value: it gets a copy
                    keep_old_value(self)
                try:             # (_writing, inline)
                    d[k] = v
                except (IndexError, TypeError, ValueError):
                    raise
                except BaseException:
                    self._vc[0] += 1
                    raise
                self._vc[0] += 1
                if self._view is not None:
                    _commit_to_bases(self, None)
                return
    # the part written, for the write log (NumPy arrays) and a write through overlapping
    # windows; a 0-d tensor key is read as its int on NumPy arrays outside gpugrad.compile's
    # recording (which refuses a host read: a replay writes a key of Python values again)
    numpy = type(self.data) is np.ndarray
    basic = _basic_key(key, numpy and not _capture._on)
    if basic is not None and key is not Ellipsis and getattr(self.data.flags, "writeable", 1) \
            and (self._view is not None or self._node is not None) and \
            _writes_through_overlap(self):
        # (overlapping windows: a write of the one window keyed, a view even of one element)
        self[_view_key(self.data, basic)][...] = value
        return
    self._check_inplace()
    direct = _numpy_write(key, value) if numpy else None
    span = _key_span(self.data, key) if numpy and basic is None else None  # (before writing:
    self._inplace(lambda a, v: _ops.setitem(a, key, v), value, direct=direct, key=basic,
                  span=span)                                   # the key may be what's written)


_SEQ = (list, tuple)


def _view_of_constant(t):
    """True for ``t``, a view that recorded no node, taken straight from a tensor that is no
    view and does not require grad (``a[1:-1] = a[2:]``): ``in_graph(t)``'s answer, False,
    without walking the chain of views."""
    link = t._view
    if link is None or t.requires_grad:
        return False
    base = link.parents[0]
    return base._view is None and not base.requires_grad


def _constant_view(t):
    """True when a write of a constant into ``t``, a view that recorded no node, is a write
    into memory only, as ``__setitem__``'s own path finds: grad mode is off, or no tensor up
    its chain of views, to its root, requires grad or has a node (a view of a leaf that
    requires grad, ``p = W[1:].requires_grad_()``, is refused by that path)."""
    if not _gm.enabled:
        return True
    link = t._view
    while True:
        b = link.parents[0]
        if b is None or b.requires_grad or b._node is not None:
            return False
        link = b._view
        if link is None:
            return True


def _numpy_write(key, value):
    """``x[key] = value`` with no graph on the CPU: NumPy's own assignment into x's memory,
    O(key) (the op path copies the whole array), with setitem's key and value rules; NumPy's
    last write wins on repeated indices, as SetItem's answer."""
    def write(t):
        k = _index._prepare_key(key, t.data)[0]
        v = value
        if type(v) in _SEQ and not _holds_array(v):  # NumPy's own assignment: its checks,
            t.data[k] = v                            # one conversion, its warnings
            return
        if not isinstance(v, (numbers.Number, np.generic)):
            v = _index.setitem_value(_index.numpy_value(t.data, k, v), t)  # (setitem_rules)
            _autograd._check_devices((t, v))
            v = v.data
        t.data[k] = v
    return write


class InplaceShapeError(ValueError, RuntimeError):
    """An in-place result that does not fit its tensor's shape: a ValueError, as NumPy raises
    (``a += b`` with ``b`` not broadcastable to ``a``), and a RuntimeError, as PyTorch does."""


def _check_fits(t, res):
    if res.data.shape != t.data.shape:
        raise InplaceShapeError(f"in-place result of shape {res.shape} cannot be written into "
                                f"a tensor of shape {t.shape}")
    if res.data.dtype != t.data.dtype and not np.can_cast(res.data.dtype, t.data.dtype,
                                                          "same_kind"):
        raise TypeError(f"in-place result of dtype {res.dtype.name} cannot be cast to the "
                        f"tensor's dtype {t.dtype.name}")


def _writing(t, write, *args):
    """``write(*args)``, which writes into tensor ``t``'s memory.  NumPy refuses a bad key,
    shape or cast (IndexError, ValueError, TypeError) before it writes; anything raised after
    it may have written (np.errstate's FloatingPointError, a warning turned error) moves
    ``t``'s version first, so a node that saved ``t`` sees the write (and backward raises)
    instead of reading the new values as the old."""
    try:
        write(*args)
    except (IndexError, TypeError, ValueError):
        raise
    except BaseException:
        t._vc[0] += 1
        raise


def _setall(d, v):
    d[...] = v


def _write(t, res):
    if res.data is not t.data:
        _writing(t, _setall, t.data, res.data)
        if _capture._on:                 # gpugrad.compile records the write (a replay makes it)
            _capture.write(t, res.data)


# in-place operators that a plain tensor computes as NumPy's ufunc with out= (see below)
_UFUNCS = {"__iadd__": np.add, "__isub__": np.subtract, "__imul__": np.multiply,
           "__itruediv__": np.true_divide}


def _inplace_operator(op, ufunc=None, augmented=False):
    """The in-place method of ``op`` (``add_``); with ``augmented``, the operator (``+=``),
    which answers NotImplemented for a 0-d tensor standing for a NumPy scalar, so that Python
    computes ``s + x`` out of place and rebinds the name, as for the immutable scalar
    (:mod:`gpugrad.zero_d`)."""
    if ufunc is None:
        def method(self, other):
            if augmented and self.data.ndim == 0 and stands_for_scalar(self):
                return NotImplemented
            return self._inplace(op, other)
        return method

    def method(self, other):
        if augmented and self.data.ndim == 0 and stands_for_scalar(self):
            return NotImplemented
        # a NumPy-backed tensor outside any graph (no node, no grad; not a view, or a view
        # whose write is one into memory only: see __setitem__) with a plain operand (see
        # ops._fast): ``ufunc(a, b, out=a)`` writes what _inplace would, as NumPy does; a
        # refusal (a cast or shape NumPy will not make, before writing) takes _inplace for
        # its error.  An error raised after the write (np.errstate's FloatingPointError, a
        # warning turned error) leaves NumPy's written values, so the version moves first.
        # A view (C-contiguous: each element once, as _inplace's out-of-place answer written
        # back has it) is written the same way, logged and committed to its bases as there.
        if self._node is None and not self.requires_grad and type(self) is Tensor and not (
                _capture._on or _anomaly._on or _ac._on and _amp.dtype is not None) and (
                self._view is None or self.data.flags.c_contiguous and _constant_view(self)):
            ab = _binary_data(self, other, True)
            if ab is not None:
                if _PENDING:  # a node may read the value: it gets a copy
                    keep_old_value(self)
                try:
                    ufunc(ab[0], ab[1], out=ab[0])
                except (TypeError, ValueError):
                    pass
                except BaseException:
                    self._vc[0] += 1
                    raise
                else:
                    self._vc[0] += 1
                    if self._view is not None:
                        _log_write(self._vc, ab[0])
                        _commit_to_bases(self, None)
                    return self
        return self._inplace(op, other)
    return method


def install(Tensor):
    """Attach the in-place methods and operators to ``Tensor``."""
    for name in ("_shallow", "_check_inplace", "_inplace", "zero_", "fill_", "copy_",
                 "clamp_", "__setitem__"):
        setattr(Tensor, name, globals()[name])
    Tensor.clip_ = clamp_
    for name, op in _INPLACE.items():
        setattr(Tensor, name, _inplace_operator(op, _UFUNCS.get(name), True))
    for alias, name in _ALIASES.items():  # (add_, mul_, ...: always in place)
        setattr(Tensor, alias, _inplace_operator(_INPLACE[name], _UFUNCS.get(name)))
