"""``Tensor.flat``: NumPy's ``flatiter`` over a tensor -- the elements in C order, read
differentiably and assigned in place (recorded like ``t[...] = v``).

Assignments follow NumPy's flat rules: the values are read flat and repeat cyclically to
fill the positions (``t.flat[:4] = [9, 8]`` writes 9, 8, 9, 8; ``t.flat = 3`` fills ``t``;
extra values are ignored).  A tensor key computed in a step :func:`gpugrad.compile` records
(``t.flat[argmax(x)] = v``) is turned into per-axis indices with tensor ops, so each replay
follows the key of that call.

>>> import gpugrad as gg
>>> t = gg.zeros((2, 3)); t.flat[:4] = [9.0, 8.0]; t.tolist()
[[9.0, 8.0, 9.0], [8.0, 0.0, 0.0]]
>>> it = t.flat; next(it).tolist(), it.index, it.coords
(9.0, 1, (0, 1))
"""
from __future__ import annotations

import numpy as np

from . import capture_hooks, ops
from .backend import is_cupy_array
from .ops.flat_writes import cycled, flat_index
from .ops.index import _holds_tensor

__all__ = ["FlatIter", "set_flat"]


def _host_key(key):
    """A key as NumPy understands it (tensors and CuPy arrays read back to the host)."""
    from .tensor import Tensor

    key = key.data if isinstance(key, Tensor) else key
    return key.get() if is_cupy_array(key) else key


def _positions(t, key):
    """``(index, count, shape)``: the key into ``t`` that selects its flat positions ``key``,
    how many there are, and the shape of the selection (None where values decide)."""
    from .tensor import Tensor

    if isinstance(key, Tensor) and t.ndim and capture_hooks.is_recording():
        if key.dtype == np.bool_:
            if key.shape != (t.size,):
                raise IndexError(f"flat: a boolean key must have shape ({t.size},), got "
                                 f"shape {key.shape}")
            return (ops.reshape(key, t.shape),), None, None
        if key.dtype.kind not in "iu":
            raise IndexError(f"flat: only integers, slices and integer or boolean arrays are "
                             f"valid indices, got a tensor of dtype {key.dtype}")
        return flat_index(t.shape, key), key.size, key.shape
    shape, dev = t.shape, t.device
    idx, pos = _host_positions(shape, dev, _host_key(key))
    if capture_hooks._on and not isinstance(key, Tensor) and not hasattr(key, "shape"):
        for a in idx:                # a static key (int, slice, list): constants a replay
            if hasattr(a, "shape"):  # makes again, of its values now (a list changed in
                capture_hooks.constant(a.copy().copy, a)  # place later is not read again)
    return idx, pos.size, pos.shape


def _host_positions(shape, dev, key):
    """(per-axis index arrays on device ``dev``, flat positions) of host key ``key`` into a
    tensor of ``shape``."""
    pos = np.arange(int(np.prod(shape)))[key]
    idx = np.unravel_index(pos, shape)
    if dev.type != "cpu":
        idx = tuple(dev.xp.asarray(i) for i in idx)
    return idx, pos


def _cycled(value, count, shape, like):
    """``value`` read flat and repeated cyclically to ``count`` elements in ``shape``, converted
    for a write into ``like`` (NumPy's flat assignment: see :func:`gpugrad.ops.flat_writes.cycled`);
    a single value is left to the write, which broadcasts and converts it."""
    from .tensor import Tensor

    if isinstance(value, Tensor):
        if value.ndim == 0 or (value.size == count and value.shape == shape):
            return value
    elif not isinstance(value, (list, tuple)) and np.ndim(value) == 0:
        return value
    if count is None:
        if not isinstance(value, Tensor) and not _holds_tensor(value) and np.size(value) == 1:
            return value
        raise capture_hooks.CaptureError(
            "t.flat[mask] = values with a boolean tensor mask inside a step gpugrad.compile "
            "records: how the values repeat depends on the mask's count; assign a single "
            "value or use t[mask] = values")
    v = cycled(value, count, like)
    if v is None:
        raise ValueError(f"flat: cannot assign {count} elements from an empty sequence")
    return ops.reshape(v, shape)


class FlatIter:
    """``t.flat``: the elements in C order; indexing reads (differentiably, always a copy as
    NumPy's) and assigns into ``t`` in place (values repeat cyclically, as NumPy's).
    Iterating steps through the elements (``index``: the next flat position, ``coords``:
    its per-axis index).

    >>> import gpugrad as gg
    >>> t = gg.zeros((2, 2)); t.flat[3] = 1.0; t.flat[:].tolist()
    [0.0, 0.0, 0.0, 1.0]
    """

    def __init__(self, base):
        self.base = base
        self.index = 0

    @property
    def coords(self):
        """The per-axis index of position :attr:`index`."""
        return tuple(int(i) for i in np.unravel_index(self.index, self.base.shape))

    def __len__(self):
        return self.base.size

    def __iter__(self):
        return self

    def __next__(self):
        if self.index >= self.base.size:
            raise StopIteration
        r = self.base[self.coords]
        self.index += 1
        return r

    def __getitem__(self, key):
        r = ops.ravel(self.base)[key]
        return ops.copy(r) if r._vc is self.base._vc else r  # (NumPy's: always a copy)

    def __setitem__(self, key, value):
        idx, count, shape = _positions(self.base, key)
        self.base[idx] = _cycled(value, count, shape, self.base)

    def copy(self):
        """A 1-D copy of the elements (NumPy's ``flatiter.copy``)."""
        return ops.copy(ops.ravel(self.base))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(ops.ravel(self.base), dtype=dtype)


def set_flat(t, value):
    """``t.flat = value``: every element, from ``value`` read flat and repeated cyclically."""
    FlatIter(t)[...] = value
