"""The ``axis`` argument of gpugrad.numpy's reductions, checked as NumPy checks it --
including NumPy's rule for a 0-d input, where a ufunc reduction (``sum``, ``max``, ...) takes
axis 0 or -1 and reduces nothing, and every other function raises AxisError.

>>> import gpugrad as gg
>>> reduce_axis(-1, gg.tensor(2.0)) is None, reduce_axis((1, 0))
(True, (1, 0))
"""
from __future__ import annotations

import numpy as _np

from . import _core as C

__all__ = ["reduce_axis"]


def reduce_axis(axis, x=None, ufunc=True, one=False):
    """``axis`` checked as NumPy checks it: None, an integer or a tuple of integers.  For a
    0-d ``x`` as NumPy takes it there: a ufunc reduction (``ufunc``: sum, max, ...) takes
    axis 0 or -1 and reduces nothing (None here); any other axis raises AxisError, and a
    tuple raises TypeError for a one-axis function (``one``: argmax, cumsum)."""
    if axis is None:
        return axis
    if x is not None and not x.ndim:
        return _axis_0d(axis, ufunc, one)
    if isinstance(axis, tuple):
        return tuple(C.index(a, "axis") for a in axis)
    try:
        return C.index(axis, "axis")
    except TypeError:
        raise TypeError(f"{type(axis).__name__!r} object cannot be interpreted as an integer; "
                        f"expected axis as None, an int or a tuple of ints") from None


def _axis_0d(axis, ufunc, one):
    if isinstance(axis, tuple) or not hasattr(axis, "__index__"):
        if one:
            raise TypeError(f"{type(axis).__name__!r} object cannot be interpreted as an "
                            f"integer")
        axes = tuple(reduce_axis(a) for a in axis)
        if axes:
            raise _np.exceptions.AxisError(axes[0], 0)
        return axes
    a = reduce_axis(axis)
    if ufunc and a in (0, -1):
        return None
    raise _np.exceptions.AxisError(a, 0)
