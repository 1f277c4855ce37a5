"""In-place operations on tensors: ``+=`` and friends, ``x[k] = v``, ``fill_``, ``copy_``.

In-place operators write into the tensor's memory, so views and NumPy arrays sharing it see
the change.  When the graph is involved they are computed out of place by the op set and
written back: the tensor then stands for the new node, and its version counter moves on, so a
node that saved the old value raises at backward instead of giving a wrong gradient.  On a leaf
that requires grad (or a view of one) they raise at once.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> y = x * 2
>>> y += 1
>>> y.sum().backward(); x.grad.tolist()
[2.0, 2.0]
"""
from __future__ import annotations

import numpy as np

from . import autograd as _autograd
from . import _tensor_ops as _operators
from . import ops as _ops
from .tensor import Tensor, as_tensor

__all__ = ["install"]

# operator -> the op computing it out of place
_INPLACE = {
    "__iadd__": _ops.add, "__isub__": _ops.subtract, "__imul__": _ops.multiply,
    "__itruediv__": _ops.divide, "__ipow__": _ops.power, "__imatmul__": _ops.matmul,
    "__ifloordiv__": _ops.floor_divide, "__imod__": _ops.remainder,
    "__iand__": _operators.AND, "__ior__": _operators.OR, "__ixor__": _operators.XOR,
}
_ALIASES = {"add_": "__iadd__", "sub_": "__isub__", "mul_": "__imul__", "div_": "__itruediv__"}


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

def _inplace(self, op, other):
    """``self = op(self, other)`` writing into self's memory; the graph is rewired."""
    self._check_inplace()
    other_grad = isinstance(other, Tensor) and other.requires_grad
    old = None
    if _autograd.is_grad_enabled() and (self.requires_grad or other_grad):
        if _autograd._is_stale(self):
            _autograd._refresh(self, "an in-place operation")
        old = self._node
        res = op(self._shallow(), other)
        _assign_result(self, res)
        self._node = res._node
        self.requires_grad = res.requires_grad
    else:
        with _autograd.no_grad():
            res = op(self, other)
        _assign_result(self, res)
    self._vc[0] += 1
    if self._node is not None:
        self._node._out_ver = self._vc[0]  # self is current; other views of it are stale
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
    """Fill with ``value`` in place (the tensor leaves the graph).

    >>> import gpugrad as gg
    >>> gg.zeros(2).fill_(3).tolist()
    [3.0, 3.0]
    """
    self._check_inplace()
    self.data[...] = value
    self._vc[0] += 1
    if self._node is not None:
        self._node, self.requires_grad = None, False
    return self

def copy_(self, src):
    """Copy ``src`` into this tensor in place (broadcasting), differentiably.

    >>> import gpugrad as gg
    >>> t = gg.zeros(2); t.copy_(gg.tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    src = src if isinstance(src, Tensor) else as_tensor(src, device=self.device)
    return self._inplace(lambda a, b: _ops.broadcast_to(_ops.astype(b, a.dtype), a.shape), src)

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
    gradient sees the write (``y[k] *= 2`` and ``row = y[0]; row += 1`` stay correct)."""
    link = _view_link(old)
    if link is None or t._node is None:
        return
    t._node._view_link = link                    # t still lives in its base's memory
    while (link is not None and link.parents[0] is not None and link.parents[0]._vc is t._vc
           and link.parents[0].requires_grad):
        base = link.parents[0]
        before = base._node                      # None: a leaf (guarded by _check_inplace)
        if before is None:
            return
        prior = Tensor._make(base.data, True)    # the base as its node last computed it
        prior._node, prior._vc = before, [before._out_ver]
        res = _ops.setitem(prior, link.key, t._shallow())
        base._node = res._node
        base._node._out_ver = base._vc[0]
        link = _view_link(before)
        base._node._view_link = link
        t = base


def _assign_result(t, res):
    if res.data.shape != t.data.shape:
        raise RuntimeError(f"in-place result of shape {res.shape} cannot be written into a "
                           f"tensor of shape {t.shape}")
    if res.data.dtype != t.data.dtype and not np.can_cast(res.data.dtype, t.data.dtype,
                                                          "same_kind"):
        raise TypeError(f"in-place result of dtype {res.dtype.name} cannot be cast to the "
                        f"tensor's dtype {t.dtype.name}")
    if res.data is not t.data:
        t.data[...] = res.data

def _inplace_operator(op):
    def method(self, other):
        return self._inplace(op, other)
    return method


def install(Tensor):
    """Attach the in-place methods and operators to ``Tensor``."""
    for name in ("_shallow", "_check_inplace", "_inplace", "zero_", "fill_", "copy_",
                 "__setitem__"):
        setattr(Tensor, name, globals()[name])
    for name, op in _INPLACE.items():
        setattr(Tensor, name, _inplace_operator(op))
    for alias, name in _ALIASES.items():
        setattr(Tensor, alias, getattr(Tensor, name))
