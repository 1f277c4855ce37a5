"""Bounds of integer index arrays on CUDA.

NumPy raises IndexError for an index array holding a value outside ``[-n, n)``; CuPy wraps it
around instead (``x[[1, 3]]`` of a 3-element ``x`` reads ``x[1], x[0]``, and
``x[[1, 3]] = 10`` writes ``x[0]``).  A check on the host would stop the device's queue at
every lookup, so on CUDA each index array is checked on the device: a deferred check
(:mod:`gpugrad.device_checks`) raises NumPy's IndexError ("index 3 is out of bounds for axis
0 with size 3", the first bad index of the first failing check) at the next synchronization,
or at once with ``GPUGRAD_SYNC_CHECKS=1``.  Until then no op computes a wrapped answer:

* a read (getitem, ``take``, ``take_along_axis``, a gather) is NaN wherever a float result
  came from a bad index (an integer result cannot be poisoned; reading any value raises);
  the gradient it sends back through a bad index is NaN (it lands at index 0 of that axis),
  so an optimizer step cannot quietly train on a wrapped row;
* a write (``x[idx] = v``, setitem, ``put``, ``.flat``, ``add.at``) writes nothing at a bad
  position -- the other positions are written, the wrapped place keeps its value -- and the
  gradient of a value that was dropped is NaN.

Python ints beside index arrays, and a non-empty index into an empty axis, are checked on
the host at once.  On the CPU none of this runs (NumPy raises at once); in a step
:func:`gpugrad.compile` records, the checks are part of each replay (no host read).

>>> import numpy as np
>>> safe_read((np.array([1, 5]),), (3,), np) is None   # NumPy: nothing to do
True
"""
from __future__ import annotations

import functools

import numpy as np

from .. import backend, capture_hooks as _capture, device_checks

__all__ = ["check", "check_values", "safe_read", "safe_write", "write_target", "poisoned",
           "padded", "in_slot", "unpadded", "pad_grad", "unpad_grad"]


def _span(k):
    """How many axes key component ``k`` indexes."""
    if k is None or k is Ellipsis or type(k) is bool:
        return 0
    return k.ndim if getattr(k, "dtype", None) == np.bool_ else 1


def _parts(key, ndim):
    """(position in ``key``, axis) for each component of tuple ``key`` that indexes an axis."""
    rest, axis = ndim - sum(_span(k) for k in key), 0
    for i, k in enumerate(key):
        if k is Ellipsis:
            axis += rest
            continue
        if _span(k):
            yield i, axis
            axis += _span(k)


def _error(axis, n):
    return lambda v: IndexError(f"index {v} is out of bounds for axis {axis} with size {n}")


def _bad(k, n):
    return (k >= n) if k.dtype.kind == "u" else (k < -n) | (k >= n)


def _int_arrays(key, shape):
    """[(position, axis, size, array)] for the integer index arrays in tuple ``key``."""
    out = []
    for i, axis in _parts(key, len(shape)):
        k = key[i]
        if axis < len(shape) and hasattr(k, "dtype") and k.dtype.kind in "iu":
            out.append((i, axis, shape[axis], k))
    return out


def check(key, shape, sources=None):
    """Check the bounds of each integer index array in prepared tuple ``key`` into a CUDA
    array of ``shape`` (deferred: see the module's text); IndexError at once for a Python
    int beside them out of range, or an index into an empty axis.  ``sources``: {position:
    the Tensor that component came from} (a recorded step reads it from the replay)."""
    for i, axis in _parts(key, len(shape)):
        k, n = key[i], shape[axis] if axis < len(shape) else None
        if type(k) is int and n is not None and not -n <= k < n:
            raise _error(axis, n)(k)
    for i, axis, n, k in _int_arrays(key, shape):
        check_values(k, axis, n, (sources or {}).get(i, k))


def check_values(k, axis, n, source=None):
    """Check that integer array ``k`` indexes an axis of size ``n`` (axis ``axis`` in the
    message); in a recorded step, again at each replay (``source``: ``k`` or its Tensor)."""
    if n == 0 and k.size:
        raise _error(axis, 0)(int(k.reshape(-1)[0]))   # (an error: the read is no cost)
    with backend.on_device_of(k):
        device_checks.check(_bad(k, n), k, ("index", axis, n), _error(axis, n))
    if _capture._on and _capture.active() is not None:
        _capture.check(functools.partial(check_values, axis=axis, n=n),
                       k if source is None else source)


def safe_read(key, shape, xp):
    """For a read ``x[key]`` of a CUDA array of ``shape``: None where ``key`` holds no
    integer array (or ``xp`` is NumPy); else ``(key', bad)``: ``key`` with each bad index
    replaced by 0, and a boolean array, broadcastable to the result, True where any index
    was bad."""
    if xp is np:
        return None
    parts = _int_arrays(key, shape)
    if not parts:
        return None
    key, zkey = list(key), list(key)
    zshape = [1] * len(shape)
    for i, axis, n, k in parts:
        bad = _bad(k, n)
        key[i] = xp.where(bad, 0, k)
        zkey[i] = bad.astype(np.int8)
        zshape[axis] = 2
    checked = {p[0] for p in parts}
    for i, c in enumerate(zkey):            # the other components, on axes of length 1
        if i in checked:
            continue
        if isinstance(c, slice):
            zkey[i] = slice(None)
        elif type(c) is int:
            zkey[i] = 0
    z = xp.ones(zshape, np.bool_)           # True unless every index is good
    z[(0,) * len(shape)] = False
    return tuple(key), z[tuple(zkey)]


def safe_write(key, shape, xp):
    """For a write ``x[key] = v`` into a CUDA array of ``shape``: None where ``key`` holds no
    integer array (or ``xp`` is NumPy); else ``(key', axis)``: ``key`` for ``x`` padded by
    one slot along ``axis`` (:func:`padded`), each write with a bad index sent to that slot."""
    if xp is np:
        return None
    parts = _int_arrays(key, shape)
    if not parts:
        return None
    key, anybad = list(key), None
    for i, axis, n, k in parts:
        bad = _bad(k, n)
        key[i] = xp.where(bad, 0, k)
        anybad = bad if anybad is None else anybad | bad
    i, axis, n, _ = parts[0]   # (a negative index counts from n, not from the slot)
    k = key[i].astype(np.int64)
    key[i] = xp.where(anybad, n, xp.where(k < 0, k + n, k))
    return tuple(key), axis


def write_target(a, key):
    """For a raw in-place write ``xp_ufunc.at(target, key', v)`` into CUDA array ``a`` (a
    copy the caller owns) at raw ``key``: ``(target, key', done)``, the key prepared and
    checked (deferred), a bad index's write sent to a padded slot; ``done(target)`` gives
    the written values in ``a``'s shape."""
    from .index_keys import _prepare_key

    xp = backend.get_array_module(a)
    key = _prepare_key(key, a)[0]
    safe = safe_write(key, a.shape, xp)
    if safe is None:
        return a, key, lambda t: t
    key, axis = safe
    return padded(xp, a, axis), key, lambda t: unpadded(xp, t, axis)


def _fill(dtype):
    return np.nan if np.dtype(dtype).kind in "fc" else 0


def poisoned(a, bad):
    """``a`` (array or Tensor) with NaN where ``bad`` (float and complex dtypes only)."""
    from ..tensor import Tensor

    if np.dtype(a.dtype).kind not in "fc":
        return a
    if isinstance(a, Tensor):
        from .elementwise import where
        return where(bad if isinstance(bad, Tensor) else Tensor._make(bad), np.nan, a)
    bad = bad.data if isinstance(bad, Tensor) else bad
    return backend.get_array_module(a).where(bad, np.nan, a).astype(a.dtype, copy=False)


def padded(xp, a, axis, fill=0):
    """A copy of array ``a`` with one more slot at the end of ``axis``, holding ``fill``."""
    shape = list(a.shape)
    shape[axis] += 1
    out = xp.empty(shape, a.dtype)
    lead = (slice(None),) * axis
    out[lead + (slice(0, a.shape[axis]),)] = a
    out[lead + (slice(a.shape[axis], None),)] = fill
    return out


def in_slot(xp, shape, axis):
    """A boolean array of (padded) ``shape``, True in the last slot of ``axis``."""
    mask = xp.zeros(tuple(n if d == axis else 1 for d, n in enumerate(shape)), np.bool_)
    mask[(0,) * axis + (-1,)] = True
    return xp.broadcast_to(mask, shape)


def unpadded(xp, a, axis):
    """Array ``a`` without the last slot of ``axis`` (C-contiguous)."""
    return xp.ascontiguousarray(a[(slice(None),) * axis + (slice(0, a.shape[axis] - 1),)])


def pad_grad(g, axis):
    """Gradient ``g`` (array or Tensor) padded as :func:`padded` pads, NaN in the new slot
    (a gradient read back from it, through a dropped write, is NaN)."""
    from ..tensor import Tensor

    if not isinstance(g, Tensor):
        return padded(backend.get_array_module(g), g, axis, _fill(g.dtype))
    from .join import concatenate

    shape = list(g.shape)
    shape[axis] = 1
    slot = Tensor._make(g.device.xp.full(shape, _fill(g.dtype), g.dtype))
    return concatenate([g, slot], axis)


def unpad_grad(g, axis):
    """Gradient ``g`` (array or Tensor) without the slot :func:`pad_grad` added."""
    from ..tensor import Tensor

    if not isinstance(g, Tensor):
        return unpadded(backend.get_array_module(g), g, axis)
    return g[(slice(None),) * axis + (slice(0, g.shape[axis] - 1),)]
