"""0-d tensors that stand for NumPy scalars, and what ``+=`` does to them.

NumPy answers a reduction, an element read or an op on 0-d operands with a *scalar*, which is
immutable: ``m = spins.sum(); history.append(m); m += 2`` binds ``m`` to a new value and
leaves ``history[0]`` alone.  gpugrad answers with a 0-d tensor (it carries the gradient);
where NumPy's answer was a scalar, the tensor is marked where it is made (:func:`scalar_tensor`
for a NumPy scalar wrapped outside an op, ``Function.apply`` for an op whose forward answered
one, :func:`mark_scalar` for a function whose op made a 0-d array of it), and an augmented
operator on it computes out of place and returns the new tensor, as the scalar's does, with
the scalar's dtype promotion (``int_sum += 0.5`` is a float).

Every other tensor keeps the in-place update seen through every alias, as NumPy's arrays and
PyTorch's tensors have it: a 0-d tensor made as an array or tensor (``np.array(2.0)``,
``np.zeros(())``, ``gg.tensor(1.0)``, ``gg.zeros(())``), a view (it writes into its base), a
copy (``clone``, ``copy.deepcopy``, a loaded checkpoint), a leaf that requires grad and a
subclass such as ``Parameter``.  The explicit in-place methods (``add_``, ``mul_``, ...)
always write in place.  On CUDA, CuPy answers with 0-d arrays, not scalars, so its results
update in place (CuPy's semantics).

>>> import gpugrad.numpy as gnp
>>> m = gnp.arange(4.0).sum(); kept = m; m += 1
>>> float(kept), float(m)
(6.0, 7.0)
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor

__all__ = ["scalar_tensor", "mark_scalar", "stands_for_scalar"]


def scalar_tensor(r, _new=object.__new__, _asarray=np.asarray):
    """A 0-d tensor of NumPy scalar ``r`` (an op's answer), marked as standing for it:
    ``tensor._wrap`` inline (element reads are this call; keep the two alike)."""
    t = _new(Tensor)
    t.data = _asarray(r)
    t._grad = None
    t.requires_grad = False
    t._node = None
    t._vc = [0]
    t._hooks = None
    t._view = None
    t._scalar = True
    return t


def mark_scalar(t):
    """Op answer ``t`` (a tensor the op just made), marked as standing for a NumPy scalar
    when it is 0-d on the CPU: for a function NumPy answers with a scalar whose op made a
    0-d array (``inner`` through ``tensordot``, ``quantile`` through ``where``).  On CUDA
    left unmarked (CuPy answers 0-d arrays)."""
    if type(t.data) is np.ndarray and t.data.ndim == 0:
        t._scalar = True
    return t


def carry_scalar(src, out):
    """``out``, made from ``src`` by a method NumPy's scalar answers with a scalar
    (``astype``, ``copy``, ``real``), marked when ``src`` stands for one."""
    if out is not src and getattr(src, "_scalar", False):
        mark_scalar(out)
    return out


def stands_for_scalar(t) -> bool:
    """True when tensor ``t`` is 0-d and stands for a NumPy scalar: ``+=`` rebinds.  (Only
    answers are marked, never a view an op makes of an array: one of several results kept
    in one buffer, as ``slogdet``'s, may be a view and still stand for a scalar.)"""
    return t.data.ndim == 0 and getattr(t, "_scalar", False) and type(t) is Tensor and \
        not (t._node is None and t.requires_grad)
