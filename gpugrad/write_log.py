"""Which memory an in-place write touched, so that backward can tell a saved input that the
write missed from one it changed.

A version counter (``tensor._vc``, shared by a tensor and its views) moves on with every
in-place write; a node that saved an input checks at backward that the version is the one it
saw.  A recurrence written into a preallocated buffer (``h[t] = tanh(W @ h[t - 1])``) moves
it at every step, though no step writes the row an earlier node saved.  Writes made through
:mod:`gpugrad.inplace` on the CPU log the byte range they wrote into the counter list (after
its version, ``vc[0]``); backward lets a node through when every write since its version is
logged and none reaches the memory of the inputs it saved.  Any write not logged (NumPy's own
fast write, an optimizer step, a CUDA array) keeps the old rule: it raises.  A write with an
advanced key (integer rows ``h[[t]]``, a boolean mask, ``h.flat[k]``, ``np.put``) logs the
byte range from its lowest to its highest element (:func:`key_span`).  Inside a step
:func:`gpugrad.compile` records, a key whose arrays a replay computes again from the call's
values (not a constant of the recording) may write other elements at the next call: it logs
its whole array, and a node that only its own elements missed raises CaptureError, naming
what to write instead (:mod:`gpugrad.capture.write_spans`).

>>> import numpy as np
>>> vc = [0]
>>> buf = np.zeros((3, 2))
>>> vc[0] += 1; log_write(vc, buf[2])
>>> writes_missed(vc, 0, [buf[0]]), writes_missed(vc, 0, [buf[1:]])
(True, False)
"""
from __future__ import annotations

import ctypes
import operator

import numpy as np

from . import capture_hooks as _capture
from .tensor import Tensor

__all__ = ["basic_key", "key_span", "log_write", "view_key", "writes_missed", "written"]

_LIMIT = 4096  # entries kept per counter, at least (older writes count as not logged)
_byte_bounds = np.lib.array_utils.byte_bounds
_ndarray = np.ndarray


def _bounds(a, _at=ctypes.c_char.from_buffer, _address=ctypes.addressof):
    """NumPy's ``byte_bounds(a)`` (the first byte of array ``a``'s memory, and one past its
    last), read through the buffer protocol for a writable C-contiguous array (whose bytes
    are the ``a.nbytes`` from its first: the common case, a fraction of byte_bounds' cost);
    any other array, which the protocol refuses, through byte_bounds.

    >>> buf = np.zeros((3, 2))
    >>> _bounds(buf[1]) == _byte_bounds(buf[1]), _bounds(buf[:, 1]) == _byte_bounds(buf[:, 1])
    (True, True)
    """
    try:
        lo = _address(_at(a))
    except (TypeError, ValueError, BufferError):  # (read-only, not C-contiguous, empty)
        return _byte_bounds(a)
    return lo, lo + a.nbytes


def log_write(vc, region):
    """Record that the write which moved ``vc`` to its current version wrote ``region`` (a
    NumPy view of the memory written, or a span from :func:`key_span`); anything else is not
    logged."""
    if type(region) is _Span:
        lo, hi = region.span
        if region.whole is not None:   # (a recorded step's key a replay computes again)
            _capture.dynamic_write(vc, region.whole, region.span)
            lo, hi = region.whole
    elif type(region) is not _ndarray:
        return
    else:
        lo, hi = _bounds(region)
    vc.append((vc[0], lo, hi))
    if len(vc) > _LIMIT + _LIMIT // 8:   # (trimmed in batches: one entry at a time would
        del vc[1:len(vc) - _LIMIT]        # move the whole list at every write)


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
    """Basic ``key`` (ints and slices, as :func:`basic_key` gives) of array ``d`` (NumPy or
    CuPy) as a key whose read is a view of the memory it writes: ``key`` itself, or, where it
    picks one element (NumPy's read, and a tensor's, is then a scalar copy), ``key`` with a
    new axis (a 1-element view)."""
    ks = key if type(key) is tuple else (key,)
    if len(ks) == d.ndim and all(type(k) is int for k in ks):
        return ks + (None,)
    return key


def basic_key(key, tensors=True):
    """``key`` with plain ints for integer scalars (``for t in np.arange(T)`` gives 0-d
    tensors; with ``tensors`` False, a key holding a tensor gives None: its value is not
    read) when it holds only integers and slices (its element read is a view of the memory
    written), else None."""
    ks = key if type(key) is tuple else (key,)
    out = []
    for k in ks:
        if type(k) is slice or type(k) is int:
            out.append(k)
        elif isinstance(k, np.integer) or (tensors and isinstance(k, Tensor) and k.ndim == 0
                                           and k.dtype.kind in "iu"):
            out.append(operator.index(k))
        else:
            return None
    return tuple(out) if type(key) is tuple and out else out[0] if out else None


class _Span:
    """The byte range ``span`` an advanced-key write reaches; ``whole``: the bounds of the
    array written, logged instead inside a recording where the key may change per call."""
    __slots__ = ("span", "whole")

    def __init__(self, span, whole=None):
        self.span, self.whole = span, whole


_EMPTY = (0, 0)   # a write of no element: a span that overlaps nothing


def key_span(d, key):
    """The memory that ``d[key] = v`` writes into NumPy array ``d``, for :func:`log_write`:
    from its lowest to its highest element (a bounding range: what lies between counts as
    written), for a key as NumPy reads it -- ints, slices, None, Ellipsis, booleans, integer
    arrays, lists and tensors, boolean masks.  None where the key is not one of these or does
    not fit ``d`` (the write is then logged as one of all of ``d``).  Inside a step
    :func:`gpugrad.compile` records, a key the recording cannot show to be constant gives
    the whole of ``d`` (see the module).

    >>> buf = np.zeros((4, 3))
    >>> key_span(buf, [2]).span == _bounds(buf[2])
    True
    """
    span = _span(d, key)
    if span is None:
        return None
    if _capture._on and not _capture.static_key(key):
        return _Span(span, _bounds(d))
    return _Span(span)


def _span(d, key):
    ks = list(key) if type(key) is tuple else [key]
    for i, k in enumerate(ks):
        if isinstance(k, Tensor):
            ks[i] = k = k.data
        if isinstance(k, (list, range)):
            try:
                k = np.asarray(k)
            except (TypeError, ValueError):
                return None
            ks[i] = k if k.size else k.astype(np.intp)   # ([]: NumPy's empty index)
        elif not (k is None or k is Ellipsis or type(k) in (slice, bool, _ndarray)
                  or isinstance(k, (int, np.integer, np.bool_))):
            return None
    if any(type(k) is _ndarray and k.dtype.kind not in "iub" for k in ks):
        return None
    used = sum(k.ndim if type(k) is _ndarray and k.dtype.kind == "b" else
               0 if k is None or k is Ellipsis or isinstance(k, (bool, np.bool_)) else 1
               for k in ks)
    if used > d.ndim or sum(k is Ellipsis for k in ks) > 1:
        return None
    lo = hi = axis = 0
    empty = d.size == 0                        # (a write of no element: checked on)
    adv = []                                   # (index array, stride) of the advanced part
    for k in ks:
        if k is None:
            continue
        if k is Ellipsis:
            rest = d.ndim - used
            for n, s in zip(d.shape[axis:axis + rest], d.strides[axis:axis + rest]):
                if n == 0:
                    empty = True
                lo, hi = lo + min(0, (n - 1) * s), hi + max(0, (n - 1) * s)
            axis += rest
            continue
        if isinstance(k, (bool, np.bool_)) or type(k) is _ndarray and k.dtype.kind == "b":
            k = np.asarray(k)
            if k.ndim == 0:                   # (True: a new axis; False: no element)
                empty = empty or not k
                continue
            if k.shape != d.shape[axis:axis + k.ndim]:
                return None
            adv += list(zip(np.nonzero(k), d.strides[axis:axis + k.ndim]))
            axis += k.ndim
            continue
        n, s = d.shape[axis], d.strides[axis]
        if type(k) is slice:
            r = range(n)[k]
            if r:
                a, b = r[0] * s, r[-1] * s
                lo, hi = lo + min(a, b), hi + max(a, b)
            else:
                empty = True
        else:
            ix = np.asarray(k, dtype=np.int64) if type(k) is _ndarray else \
                np.int64(operator.index(k))
            ix = np.where(ix < 0, ix + n, ix)
            if ix.size and (ix.min() < 0 or ix.max() >= n):
                return None                   # (NumPy's IndexError comes from the write)
            adv.append((ix, s))
        axis += 1
    for n, s in zip(d.shape[axis:], d.strides[axis:]):
        if n == 0:
            empty = True
        lo, hi = lo + min(0, (n - 1) * s), hi + max(0, (n - 1) * s)
    if adv:
        try:
            parts = np.broadcast_arrays(*[ix for ix, _ in adv])
        except ValueError:
            return None
        off = sum(ix.astype(np.int64) * s for ix, (_, s) in zip(parts, adv))
        if off.size == 0:
            return _EMPTY
        lo, hi = lo + int(off.min()), hi + int(off.max())
    if empty:
        return _EMPTY
    base = d.__array_interface__["data"][0]
    return base + lo, base + hi + d.itemsize
