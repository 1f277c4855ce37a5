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

__all__ = ["basic_key", "log_write", "view_key", "writes_missed", "written"]

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
    into the memory of ``arrays`` (NumPy arrays a node saved).  Every logged entry past
    ``ver`` is checked, two at one version too (two threads' ``vc[0] += 1`` may lose one)."""
    moved = vc[0] - ver
    if len(vc) <= moved or not arrays:  # fewer entries than writes: some were not logged
        return False
    spans = []
    for a in arrays:
        if type(a) is not _ndarray:
            return False
        spans.append(_bounds(a))
    versions, lows, highs = _table(vc)
    later = versions > ver
    seen = np.bincount(versions[later] - (ver + 1), minlength=moved)
    if seen.size != moved or not seen.all():  # a version with no entry: an unlogged write
        return False
    lows, highs = lows[later], highs[later]
    return not any(np.any((lows < ahi) & (highs > alo)) for alo, ahi in spans)


_tables = {}  # id(vc) -> (vc, its length, its last entry, versions, lows, highs): backward
#               checks many nodes against one log, which is converted to arrays once


def _table(vc):
    """The entries of ``vc``'s log as three int64 arrays (version, low byte, high byte)."""
    c = _tables.get(id(vc))
    if c is not None and c[0] is vc and c[1] == len(vc) and c[2] is vc[-1]:
        return c[3:]     # (a write appends a new last entry; one dropped comes with one)
    entries = vc[1:]
    e = np.array(entries, dtype=np.int64).reshape(-1, 3)
    if len(_tables) >= 8:
        _tables.clear()
    _tables[id(vc)] = (vc, len(entries) + 1, entries[-1], e[:, 0], e[:, 1], e[:, 2])
    return e[:, 0], e[:, 1], e[:, 2]


def written(d, key):
    """The view of array ``d`` that basic ``key`` writes (one element: a 1-element view)."""
    r = d[key]
    return r if type(r) is _ndarray else d[(key if type(key) is tuple else (key,)) + (None,)]


def view_key(d, key):
    """Basic ``key`` of array ``d`` as a key whose read is a view of the memory it writes:
    ``key`` itself, or, where it picks one element (NumPy's read is then a scalar, a copy),
    ``key`` with a new axis (a 1-element view)."""
    if type(d[key]) is _ndarray:
        return key
    return (key if type(key) is tuple else (key,)) + (None,)


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
