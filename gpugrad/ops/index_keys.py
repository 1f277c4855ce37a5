"""Index keys as NumPy reads them, prepared for the indexing ops (:mod:`gpugrad.ops.index`):
ints and objects with ``__index__``, slices, None, Ellipsis, booleans, and arrays -- tensors,
ndarrays, and lists, tuples, ranges or any other sequence NumPy converts -- on the indexed
tensor's device; boolean masks beside integer arrays checked against the axes they cover.

>>> import gpugrad as gg
>>> _prepare_key((range(2), 1), gg.zeros((3, 3)).data)[0][0].tolist()
[0, 1]
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from .. import backend, capture_hooks as _capture
from ..backend import DeviceMismatchError, array_device, is_cupy_array
from ..tensor import Tensor
from ._util import xp_of
from . import index_bounds

def _index_array(k, x, xp):
    """An index component that is an array (Tensor, ndarray) or is read as one (a list, tuple,
    range or any other sequence NumPy converts), on ``x``'s device."""
    if isinstance(k, Tensor):
        arr = k.data
    elif isinstance(k, np.ndarray) or is_cupy_array(k):
        arr = k
    else:
        arr = _list_index(k)
    if arr.dtype.kind not in "iub":
        read = f" (an array read from a {type(k).__name__})" if arr is not k and not \
            isinstance(k, Tensor) else ""
        raise IndexError(f"tensor indices must be integers or booleans, got "
                         f"{arr.dtype.name}{read}")
    if xp is not np and isinstance(arr, np.ndarray) and not isinstance(k, Tensor):
        arr = backend.to_device(arr, array_device(x))
    elif is_cupy_array(arr) != is_cupy_array(x) or (xp is not np and arr.device != x.device):
        raise DeviceMismatchError(f"expected the index on {array_device(x)}, got it on "
                                  f"{array_device(arr)}")
    if _capture._on and not isinstance(k, Tensor) and not isinstance(k, np.ndarray) \
            and not is_cupy_array(k):  # gpugrad.compile: a constant key (list, range, ...),
        kept = arr.copy()              # its values now (a list changed in place later is not
        _capture.constant(kept.copy, arr)   # read again: Python runs once, at recording)
    return arr


def _list_index(k):
    """NumPy's array for a sequence used as an index: ``np.asarray(k)``, an empty one as intp
    (``[]``, ``range(0)``, ``[[]]``), as NumPy's indexing reads it."""
    arr = np.asarray(k)
    return arr.astype(np.intp) if arr.size == 0 else arr


def is_int_scalar_array(a, *, gpu=False) -> bool:
    """True for a 0-d NumPy array of an integer dtype (what a CPU tensor holds for an integer
    NumPy would give as a scalar); with ``gpu=True``, for a 0-d integer CuPy array too.

    >>> is_int_scalar_array(np.array(3)), is_int_scalar_array(np.array([3]))
    (True, False)
    """
    return (type(a) is np.ndarray or gpu and is_cupy_array(a)) and not a.ndim and \
        a.dtype.kind in "iu"


def scalar_key(k, x=None):
    """The int a 0-d integer tensor ``k`` holds, when it stands for a NumPy scalar in a key
    (into array ``x``, when given), else None.  gpugrad.numpy returns 0-d tensors where NumPy
    returns integer scalars (iterating an integer array, ``argmax``, integer random draws),
    and NumPy reads a scalar key as an integer: ``X[i]`` is then a view, and ``X[i][j] = v``
    writes into ``X`` -- as PyTorch reads ``a[torch.tensor(2)]``.  On every device: on CUDA
    the int is read to the host (one synchronization, as PyTorch's CUDA indexing does); a
    CUDA key into an array on another device stays a key, which :func:`_index_array` refuses
    (DeviceMismatchError).  Not inside a gg.compile recording in this thread (reading the
    value there would freeze it into the tape): there, and for a 0-d ndarray, the key stays
    an index array, as NumPy reads an array (a copy; a write with it is the same write, and a
    recorded read that would be a view eagerly is refused: :func:`refuse_scalar_view`).

    >>> import gpugrad as gg
    >>> scalar_key(gg.tensor(2)), scalar_key(gg.tensor(2.0)), scalar_key(2)
    (2, None, None)
    """
    if type(k) is not Tensor or _capture._on and _capture.active() is not None:
        return None
    a = k.data
    if not is_int_scalar_array(a, gpu=True):
        return None
    if x is not None and is_cupy_array(a) and (not is_cupy_array(x) or a.device != x.device):
        return None
    return int(a)    # (a CuPy array: read to the host)


def refuse_scalar_view(key, ndim):
    """CaptureError for a read ``x[key]`` (``x`` of ``ndim`` axes) recorded by gg.compile
    whose key holds a 0-d integer tensor (on any device) and is otherwise basic, unless it
    picks one element: uncompiled, the tensor reads as its int and the answer is a view of ``x``
    (writes through it reach ``x``); recorded, it stays an index array and the answer a copy
    -- the compiled step would differ silently.  (One element is a copy either way.)"""
    parts = key if type(key) is tuple else (key,)
    found, ints = False, 0
    for c in parts:
        if type(c) is Tensor:
            if not is_int_scalar_array(c.data, gpu=True):
                return
            found, ints = True, ints + 1
        elif isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_)):
            ints += 1
        elif not (c is None or c is Ellipsis or isinstance(c, slice)):
            return
    if found and not (ints == len(parts) == ndim):
        raise _capture.CaptureError(
            "a 0-d integer tensor is used as an index inside a step gpugrad.compile is "
            "recording: uncompiled it reads as the int it holds (x[i] is a view of x, as "
            "NumPy's x[int]), which a replay cannot read again. Index with a Python int "
            "(pass int(i) as a static argument), or with a 1-element index (x[i[None]][0] "
            "is a copy)")


def _prepare_key(key, x):
    """Normalize an index for array ``x``: (key tuple, advanced?, needs scatter-add?).

    Basic keys get a trailing Ellipsis, so that a partial integer index gives a view -- except
    a key of only integers, one per dimension: it picks one element, which NumPy returns as a
    scalar copy (``old = x[i]; x[i] = v`` leaves ``old`` as it was), and so does getitem.
    Advanced keys with integer arrays have their boolean masks turned into integer arrays so
    backward can scatter-add (repeated indices accumulate).
    """
    if not isinstance(key, tuple):
        key = (key,)
    xp = xp_of(x)
    out, advanced, int_arrays, sources = [], False, False, None
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, slice):
            out.append(k)
        elif isinstance(k, (bool, np.bool_)):
            out.append(bool(k))
            advanced = True
        elif isinstance(k, numbers.Integral):
            out.append(int(k))
        elif (i := scalar_key(k, x)) is not None:   # a 0-d integer tensor: the int it holds
            out.append(i)
        elif isinstance(k, (Tensor, np.ndarray, list, tuple)) or is_cupy_array(k):
            arr = _index_array(k, x, xp)
            if xp is not np and isinstance(k, Tensor):  # (a recorded step reads it again)
                sources = sources or {}
                sources[len(out)] = k
            out.append(arr)
            advanced = True
            int_arrays = int_arrays or arr.dtype.kind != "b"
        elif isinstance(k, (float, np.floating, complex, np.complexfloating, str, bytes)):
            name = np.dtype(type(k)).name if isinstance(k, np.generic) else type(k).__name__
            raise IndexError(f"tensor indices must be integers or booleans, got {name}")
        elif (i := _as_index(k)) is not None:  # any other integer-like object: an int
            out.append(i)
        else:  # a range or any other sequence: an array, as NumPy reads it (or IndexError)
            arr = _index_array(k, x, xp)
            out.append(arr)
            advanced = True
            int_arrays = int_arrays or arr.dtype.kind != "b"
    if not advanced:
        element = len(out) == x.ndim and all(type(k) is int for k in out)
        if not element and not any(k is Ellipsis for k in out):
            out.append(Ellipsis)
        return tuple(out), False, False
    if int_arrays:
        _check_masks(out, x.shape)
        if xp is not np:  # CuPy wraps a bad index around: checked on the device (deferred)
            index_bounds.check(out, x.shape, sources)
        expanded = []
        for k in out:
            if hasattr(k, "dtype") and k.dtype.kind == "b" and k.ndim:
                rows = k.nonzero()
                if _capture._on:  # gpugrad.compile: a replay expands its own mask
                    _capture.derived(lambda m: m.nonzero(), (k,), rows)
                expanded.extend(rows)
            else:
                expanded.append(k)
        out = expanded
    return tuple(out), True, int_arrays


def _as_index(k):
    """``operator.index(k)``, or None where ``k`` has no ``__index__`` or refuses it: NumPy
    tries ``__index__`` first on any object that is not an ndarray and, where that fails,
    reads the object as an array (so ``torch.tensor([0, 2])`` indexes as ``[0, 2]``, while
    ``torch.tensor([2])`` and ``torch.tensor(True)`` are the integers 2 and 1)."""
    if not hasattr(k, "__index__"):
        return None
    try:
        return operator.index(k)
    except Exception:  # NumPy clears any error of __index__ and tries the array reading
        return None


def _check_masks(key, shape):
    """IndexError, as NumPy's, where a boolean array in ``key`` (a prepared key that also
    holds integer arrays, so masks become their nonzero rows) does not match the axes it
    covers: expanded, it would silently pick different elements than NumPy's mask.  The
    Ellipsis stands for the axes the other parts leave, so the parts after it are aligned to
    the end of ``shape``."""
    def span(k):
        if k is None or k is Ellipsis or type(k) is bool:
            return 0
        return k.ndim if hasattr(k, "dtype") and k.dtype.kind == "b" else 1
    axis = 0
    for i, k in enumerate(key):
        if k is Ellipsis:
            axis = max(axis, len(shape) - sum(span(c) for c in key[i + 1:]))
            continue
        if hasattr(k, "dtype") and k.dtype.kind == "b" and k.ndim:
            for d, m in enumerate(k.shape):
                if axis + d < len(shape) and shape[axis + d] != m:
                    raise IndexError(f"boolean index did not match indexed array along axis "
                                     f"{axis + d}; size of axis is {shape[axis + d]} but size "
                                     f"of corresponding boolean axis is {m}")
        axis += span(k)


def owned_key(key):
    """``key`` (a prepared key: a tuple, or one array) with a copy of each index array in it,
    for a node that reads the key again at backward: the caller's array (a tensor's, a NumPy
    array) may be written after the indexing read it (``y = x[idx]; idx[0] = 2``), and the
    gradient is the one of the elements read then.  Ints, slices, None and Ellipsis are kept
    as they are.

    >>> k = np.array([0, 2]); own = owned_key((k, slice(None)))
    >>> k[0] = 1; own[0].tolist()
    [0, 2]
    """
    if type(key) is not tuple:      # (one component: a mask or an index array)
        return _owned(key)
    return tuple(_owned(k) for k in key)


def _owned(k):
    return k.copy() if hasattr(k, "shape") and hasattr(k, "copy") else k


def _raw_key(key):
    """``key`` with any Tensor component back as its array: under ``create_graph`` the engine
    hands a backward the index arrays it saved as constant Tensors, and indexing wants arrays."""
    if not isinstance(key, tuple):  # one component (a mask, an index array): not its rows
        key = (key,)
    return tuple(k.data if isinstance(k, Tensor) else k for k in key)
