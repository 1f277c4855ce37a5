"""The inputs of a captured step: a call's signature (the key of its tape) and the static
buffers a replay copies the inputs into.

An array input (a Tensor's array, a NumPy or CuPy array) is keyed by its shape, dtype,
device *and strides*: several results read the memory layout -- ``ravel(x, 'K')``,
``x.flatten('K')``, ``reshape(x, -1, order='A')``, ``copy(x)``, ``array(x)``,
``x.copy('K')``, ``zeros_like(x)``, ``astype``, and a reduction's summation order -- so a
C-ordered, a Fortran-ordered and a strided (transposed, sliced, reversed, broadcast) input
each get their own tape.  The key holds the layout (:func:`_layout`: C, F, or the strides in
bytes -- the dtype is in the key too -- with those of length-1 axes left out): two arrays of
one shape and dtype with the same layout read alike, whatever their offsets in their parents.

The static buffer of an input has the input's strides too (:func:`static_buffer`): a
C-ordered buffer would give a Fortran input's replay the C answer.  Any other argument is
keyed by value (static: a new value records again).

>>> import numpy as np
>>> a = np.zeros((2, 3))
>>> signature((a,), {})[0] == signature((np.asfortranarray(a),), {})[0]
False
>>> static_buffer(a.T).strides == a.T.strides
True
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..capture_hooks import CaptureError
from ..tensor import Tensor

__all__ = ["signature", "static_buffer", "is_array"]


def is_array(a) -> bool:
    """True for a NumPy or CuPy array."""
    return isinstance(a, np.ndarray) or backend.is_cupy_array(a)


def signature(args, kwargs):
    """``(key, [input arrays])`` of one call: arrays (and Tensors' arrays) by shape, dtype,
    strides and device, the rest by value (hashable, else TypeError); CaptureError for an
    input Tensor that requires grad."""
    key, arrays = [], []
    for name, a in list(enumerate(args)) + sorted(kwargs.items()):
        d = a.data if isinstance(a, Tensor) else a
        if isinstance(a, Tensor) or is_array(d):
            if isinstance(a, Tensor) and a.requires_grad:
                raise CaptureError(f"input {name!r} of a compiled step requires grad; "
                                   f"inputs are data (gradients go to the tensors the step "
                                   f"closes over, such as a model's parameters)")
            key.append((name, type(a).__name__, d.shape, d.dtype, _layout(d),  # (NumPy: CPU)
                        "cpu" if type(d) is np.ndarray else str(backend.array_device(d))))
            arrays.append(d)
        else:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"argument {name!r} of a compiled step is a "
                                f"{type(a).__name__}: expected Tensors, arrays or hashable "
                                f"values (which are static: a new value records again)")
            key.append((name, "static", a))
    return tuple(key), arrays


def _layout(d):
    """The part of array ``d``'s strides that can change a result: "C" or "F" for a contiguous
    array (NumPy's flags ignore axes of length 1, and an empty array is both), else the
    strides with those of length-1 axes set to 0 -- so a column sliced from matrices of
    different widths, a single element or an empty slice keys alike and records once."""
    f = d.flags
    if f.c_contiguous:
        return "C"
    if f.f_contiguous:
        return "F"
    return tuple(0 if n == 1 else s for n, s in zip(d.shape, d.strides))


def static_buffer(d):
    """A copy of array ``d`` with ``d``'s shape, dtype and strides (C, Fortran, permuted,
    negative or zero strides alike), on its device: what a replay copies each call's input
    into.  Strides that are not whole elements: a copy in ``d``'s order ('K')."""
    xp = backend.get_array_module(d)
    with backend.on_device_of(d):
        item = d.dtype.itemsize
        if d.flags.c_contiguous:
            buf = xp.empty(d.shape, d.dtype)
        elif d.flags.f_contiguous:
            buf = xp.empty(d.shape, d.dtype, order="F")
        elif item and not any(s % item for s in d.strides):
            buf = _strided_empty(xp, d.shape, d.dtype, [s // item for s in d.strides])
        else:
            return xp.array(d, copy=True)
        buf[...] = d
        return buf


def _strided_empty(xp, shape, dtype, strides):
    """An uninitialized array of ``shape`` whose strides are ``strides`` elements (any sign,
    zero included), over a base just large enough."""
    lo = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    hi = sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
    base = xp.empty(hi - lo + 1, dtype)
    item = base.dtype.itemsize
    if xp is np:
        from numpy.lib.stride_tricks import as_strided
    else:
        from cupy.lib.stride_tricks import as_strided
    return as_strided(base[-lo:], shape, tuple(s * item for s in strides))
