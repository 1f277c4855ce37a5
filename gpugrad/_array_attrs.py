"""More of NumPy's ``ndarray`` attributes on :class:`gpugrad.Tensor`, with NumPy's meaning:

* ``a.shape = s`` -- reshape in place: the same tensor now reads its memory in shape ``s``
  (``-1`` inferred); NumPy's AttributeError where that needs a copy (a transposed view).
  In a graph the tensor stands for the reshape of its old value, as after an in-place op;
  a leaf that requires grad refuses (RuntimeError): its gradient would change shape.
* ``a.base`` -- None for a tensor owning its memory; for a view, the tensor owning the
  memory it reads (the first up its chain of views: ``a.reshape(2, 3)[0].base is a``, as
  NumPy collapses bases); NumPy's own base object where the memory is not a tensor's.
* ``a.setflags(write=, align=, uic=)`` -- NumPy's, on the tensor's array.
* ``a.choose(choices, out=None, mode='raise')`` -- :func:`gpugrad.numpy.choose`.

>>> import gpugrad as gg
>>> a = gg.arange(6.0); b = a.reshape(2, 3)
>>> b.base is a, a.base
(True, None)
>>> a.shape = (3, 2); a.tolist()
[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
"""
from __future__ import annotations

import operator

import numpy as np

from . import ops
from .ops._fast import in_graph


def _shape_arg(shape):
    if isinstance(shape, (list, tuple)):
        return tuple(operator.index(n) for n in shape)
    return (operator.index(shape),)


def _set_shape(self, shape):
    """``a.shape = shape``: see the module docstring."""
    shape = _shape_arg(shape)
    probe = self.data.view()
    probe.shape = shape  # NumPy's checks and errors (AttributeError: a copy would be needed)
    if not (self.requires_grad or in_graph(self)):
        self.data = probe
        return
    if self._node is None:
        raise RuntimeError(f"cannot set the shape of a leaf tensor that requires grad (to "
                           f"{probe.shape} from {self.shape}): its gradient would change "
                           f"shape; use x.reshape({probe.shape}) out of place")
    r = ops.reshape(self._shallow(), probe.shape)
    self.data, self._node, self.requires_grad = r.data, r._node, r.requires_grad


def _get_shape(self):
    return self.data.shape


def _parent_view(t):
    """The tensor ``t`` is a view of (sharing its memory and version counter), or None."""
    link = t._view if t._view is not None else t._node
    if link is None or not getattr(link, "view", False):
        return None
    parents = getattr(link, "parents", ())
    p = parents[0] if parents else None
    return p if p is not None and getattr(p, "_vc", None) is t._vc else None


def _base(self):
    """NumPy's ``a.base``: see the module docstring."""
    own = getattr(self.data, "base", None)
    if own is None:
        return None
    t = self
    while (p := _parent_view(t)) is not None:
        t = p
        if getattr(t.data, "base", None) is None:
            return t
    return own


def _setflags(self, write=None, align=None, uic=None):
    """NumPy's ``a.setflags``, on the tensor's array."""
    self.data.setflags(write=write, align=align, uic=uic)


def _choose(self, choices, out=None, mode="raise"):
    """NumPy's ``a.choose(choices, out, mode)`` (see :func:`gpugrad.numpy.choose`)."""
    return np.choose(self, choices, out=out, mode=mode)  # (gpugrad.numpy's, by dispatch)


def install(Tensor):
    """Attach ``shape`` (with its setter), ``base``, ``setflags`` and ``choose``."""
    Tensor.shape = property(_get_shape, _set_shape, doc=Tensor.shape.__doc__)
    Tensor.base = property(_base)
    Tensor.setflags = _setflags
    Tensor.choose = _choose
