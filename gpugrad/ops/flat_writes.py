"""Writes at flat (C-order) positions, as NumPy's ``put`` and flat assignment make them: one
:func:`put` behind both ``Tensor.put`` and ``gpugrad.numpy.put``; :func:`cycled`, the values
repeated to fill the positions (``put``, ``putmask``, ``place``, ``fill_diagonal``,
``t.flat[k] = v``); :func:`flat_index`, flat positions held in a tensor turned into per-axis
indices with tensor ops, so a step :func:`gpugrad.compile` records follows them.

Each write is an assignment ``a[index] = values`` (``Tensor.__setitem__``): differentiable, and
at a repeated position the last write stands and alone receives the gradient (NumPy's put).

>>> import gpugrad as gg
>>> a = gg.zeros(4, dtype="float64"); put(a, [5, -6], [1.0, 2.0], mode="wrap"); a.tolist()
[0.0, 1.0, 2.0, 0.0]
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend, capture_hooks
from ..backend import is_cupy_array
from ..tensor import Tensor
from . import index_bounds

__all__ = ["put", "cycled", "flat_index"]

# NumPy's clip modes, by name and by number (NPY_CLIP 0, NPY_WRAP 1, NPY_RAISE 2; None: raise)
_MODES = {"raise": "raise", "wrap": "wrap", "clip": "clip", None: "raise",
          0: "clip", 1: "wrap", 2: "raise"}


def put(a, indices, values, mode="raise"):
    """``a.flat[indices] = values`` in place, as ``numpy.put``: ``values`` repeat cyclically
    to fit ``indices`` (empty ``values`` write nothing); ``mode`` ``'raise'`` (IndexError out
    of range), ``'wrap'`` or ``'clip'``.  Indices convert as NumPy's put converts them (an
    integer or boolean array; a float or uint64 array is NumPy's TypeError; a list of numbers
    by value), values as NumPy's assignment converts them (OverflowError for 300 into int8).
    A refused put writes nothing.  A tensor ``indices`` computed in a step
    :func:`gpugrad.compile` records is followed by each replay (no host read).
    """
    m = _MODES.get(mode) if isinstance(mode, (str, int, type(None))) else None
    if m is None:
        raise ValueError(f"put: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    if isinstance(indices, Tensor) and a.ndim and capture_hooks.is_recording():
        key = _recorded_key(indices)
        idx, count = flat_index(a.shape, key, m), key.size
    else:
        i = _host_indices(indices)
        idx, count = None, i.size
    if a.size == 0 and count:
        raise IndexError(f"put: cannot replace elements of an empty array (given {count} "
                         f"indices)")
    if not count:
        return None
    if isinstance(values, (numbers.Number, np.generic)):  # one number: converted once (NumPy's
        v = _static(values, a)                            # checks), the write broadcasts it
    else:
        v = cycled(values, count, a)
    if v is None:   # (empty values: NumPy writes nothing, whatever the indices)
        return None
    if idx is None:
        idx = _host_index(a, i, m, indices)
    if a.ndim == 0:   # (every index is position 0: the last write stands)
        a[()] = v[(count - 1) % v.shape[0]]
        return None
    a[idx] = v
    return None


def cycled(values, count, like):
    """``values`` read flat and repeated cyclically to ``count`` elements, as a 1-D tensor for
    a write into ``like``; None for empty ``values``.  Numbers and lists convert as NumPy's
    assignment converts them, each number straight to ``like``'s dtype (OverflowError for 300
    into int8, TypeError for a complex number into a real dtype -- never a wrapped integer or
    a dropped imaginary part); lists holding tensors are stacked (differentiable); arrays and
    tensors keep their dtype (the write casts them, as NumPy's)."""
    from .index import _holds_tensor, setitem_value
    from .layout import astype, tile
    from .ravel import ravel

    if isinstance(values, (list, tuple)) and _holds_tensor(values) or hasattr(values, "shape") \
            and not isinstance(values, np.generic):
        v = ravel(setitem_value(values, like))
    else:
        v = _static(values, like)
    if v.dtype != like.dtype and (v.dtype.kind != "c" or like.dtype.kind == "c"):
        v = astype(v, like.dtype)   # (complex into real: left to the write's own rule)
    n = v.shape[0]
    if n == count or n == 0:
        return v if n else None
    return (tile(v, -(-count // n)) if count > n else v)[:count]


def _static(values, like):
    """Static ``values`` (numbers, lists of numbers) as a 1-D tensor of ``like``'s dtype on
    its device, converted by NumPy (each number straight to the dtype); a constant that a
    step :func:`gpugrad.compile` records makes again."""
    arr = np.asarray(values, dtype=like.dtype).ravel()
    if like.device.type != "cpu":
        arr = backend.to_device(arr, like.device)
    if capture_hooks._on:
        kept = arr.copy()
        capture_hooks.constant(kept.copy, arr)
    return Tensor._make(arr)


def flat_index(shape, key, mode="raise"):
    """Per-axis index tensors into an array of ``shape`` for the flat positions held in
    integer tensor ``key``, made with tensor ops (a recorded step follows the key).  ``mode``
    as :func:`put`'s: with ``'raise'`` a position out of range raises NumPy's IndexError
    (naming the flat position; on CUDA at the next synchronization) and becomes index
    ``shape[0]`` on axis 0, which the write refuses (on CUDA: drops)."""
    from .. import ops

    size = int(np.prod(shape))
    bad = None
    if mode == "wrap":
        k = ops.remainder(key, size)
    elif mode == "clip":
        k = ops.clip(key, 0, size - 1)
    else:   # NumPy's IndexError for the flat position (on CUDA deferred: index_bounds)
        index_bounds.check_values(key.data, 0, size, key)
        bad = ops.logical_or(ops.less(key, -size), ops.greater_equal(key, size))
        k = ops.where(ops.less(key, 0), ops.add(key, size), key)
    idx, stride = [], size
    for axis, n in enumerate(shape):
        stride //= n if n else 1
        q = ops.floor_divide(k, stride) if stride != 1 else k
        if axis == 0:
            idx.append(q if bad is None else ops.where(bad, shape[0], q))
        else:
            idx.append(ops.remainder(q, n))
    return tuple(idx)


def _recorded_key(key):
    """Integer tensor ``key`` raveled, checked as NumPy's put checks an index array (its dtype
    must cast safely to intp: booleans are 0 and 1), without reading its values."""
    from .layout import astype
    from .ravel import ravel

    _check_index_dtype(key.dtype)
    return ravel(astype(key, np.intp) if key.dtype == np.bool_ else key)


def _host_indices(indices):
    """``indices`` as a 1-D intp NumPy array, converted as NumPy's put converts them: an array
    (or tensor) must cast safely to intp; numbers and lists convert by value (1.5 is 1)."""
    if isinstance(indices, Tensor):
        indices = indices.detach().numpy()
    elif is_cupy_array(indices):
        indices = indices.get()
    if isinstance(indices, np.ndarray):
        _check_index_dtype(indices.dtype)
    return np.asarray(indices, dtype=np.intp).ravel()


def _check_index_dtype(dtype):
    if not np.can_cast(dtype, np.intp, "safe"):
        raise TypeError(f"put: indices must be integers or booleans: cannot cast array data "
                        f"from {np.dtype(dtype)!r} to {np.dtype(np.intp)!r} according to the "
                        f"rule 'safe'")


def _host_index(a, i, mode, key):
    """The per-axis index arrays (on ``a``'s device) of host positions ``i`` under ``mode``;
    IndexError (NumPy's message) for the first position out of range under ``'raise'``.
    A static ``key`` (not an array) makes them constants a recorded step makes again."""
    n, shape, dev = a.size, a.shape, a.device

    def make():
        if not shape:   # (0-d: every position is the one element)
            return ()
        j = i % n if mode == "wrap" else np.clip(i, 0, n - 1) if mode == "clip" else i % n
        idx = np.unravel_index(j, shape)
        return tuple(dev.xp.asarray(x) for x in idx) if dev.type != "cpu" else idx

    if mode == "raise":
        out = (i < -n) | (i >= n)
        if out.any():
            raise IndexError(f"index {i[out][0]} is out of bounds for axis 0 with size {n}")
    idx = make()
    if capture_hooks._on and not isinstance(key, Tensor) and not hasattr(key, "shape"):
        for axis, x in enumerate(idx):
            capture_hooks.constant(lambda axis=axis: make()[axis], x)
    return idx
