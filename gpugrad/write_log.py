"""Which memory an in-place write touched, so that backward can tell a saved input that the
write missed from one it changed.

A version counter (``tensor._vc``, shared by a tensor and its views) moves on with every
in-place write; a node that saved an input checks at backward that the version is the one it
saw.  A recurrence written into a preallocated buffer (``h[t] = tanh(W @ h[t - 1])``) moves
it at every step, though no step writes the row an earlier node saved.  Writes made through
:mod:`gpugrad.inplace` on the CPU log the byte range they wrote into the counter list (after
its version, ``vc[0]``); backward lets a node through when every write since its version is
logged and none reaches the memory of the inputs it saved.  Any write not logged (NumPy's own
fast write, an optimizer step, a CUDA array, an advanced key) keeps the old rule: it raises.

>>> import numpy as np
>>> vc = [0]
>>> buf = np.zeros((3, 2))
>>> vc[0] += 1; log_write(vc, buf[2])
>>> writes_missed(vc, 0, [buf[0]]), writes_missed(vc, 0, [buf[1:]])
(True, False)
"""
from __future__ import annotations

import operator

import numpy as np

from .tensor import Tensor

__all__ = ["basic_key", "log_write", "writes_missed", "written"]

_LIMIT = 4096  # entries kept per counter (older writes count as not logged)
_bounds = np.lib.array_utils.byte_bounds
_ndarray = np.ndarray


def log_write(vc, region):
    """Record that the write which moved ``vc`` to its current version wrote ``region`` (a
    NumPy view of the memory written); anything else is not logged."""
    if type(region) is not _ndarray:
        return
    lo, hi = _bounds(region)
    vc.append((vc[0], lo, hi))
    if len(vc) > _LIMIT + 1:
        del vc[1:len(vc) - _LIMIT]


def writes_missed(vc, ver, arrays) -> bool:
    """True when every write that moved ``vc`` past version ``ver`` is logged and none wrote
    into the memory of ``arrays`` (NumPy arrays a node saved)."""
    if len(vc) == 1 or not arrays:
        return False
    writes = {e[0]: e for e in vc[1:] if e[0] > ver}
    if len(writes) != vc[0] - ver:
        return False
    spans = []
    for a in arrays:
        if type(a) is not _ndarray:
            return False
        spans.append(_bounds(a))
    return not any(lo < ahi and alo < hi for _, lo, hi in writes.values() for alo, ahi in spans)


def written(d, key):
    """The view of array ``d`` that basic ``key`` writes (one element: a 1-element view)."""
    r = d[key]
    return r if type(r) is np.ndarray else d[(key if type(key) is tuple else (key,)) + (None,)]


def basic_key(key):
    """``key`` with plain ints for integer scalars (``for t in np.arange(T)`` gives 0-d
    tensors) when it holds only integers and slices (its element read is a view of the
    memory written), else None."""
    ks = key if type(key) is tuple else (key,)
    out = []
    for k in ks:
        if type(k) is slice or type(k) is int:
            out.append(k)
        elif isinstance(k, np.integer) or (isinstance(k, Tensor) and k.ndim == 0 and
                                           k.dtype.kind in "iu"):
            out.append(operator.index(k))
        else:
            return None
    return tuple(out) if type(key) is tuple and out else out[0] if out else None
