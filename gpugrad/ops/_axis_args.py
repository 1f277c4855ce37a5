"""Integer arguments as NumPy takes them: axes, and counts (repeats, shifts, sections).

One place decides what an ``axis=`` (or ``axes=``, ``axis1=``, ``source=``) may be, for the
ops, the Tensor methods, ``gpugrad.numpy`` and ``gpugrad.array_api`` alike:

* an ``int``, a NumPy integer, or anything with ``__index__`` (a 0-d integer tensor or
  array) is an axis;
* a float, a string or None (where None does not mean "all axes") is a TypeError;
* a boolean is a TypeError under NumPy's C-level axis converter (``sum``, ``cumsum``,
  ``argsort``, ``take``, ``concatenate``, ... -- ``strict=True``, the default); functions
  NumPy writes in Python (``sort``, ``flip``, ``moveaxis``, ``swapaxes``, ``diff``, ...) take
  ``operator.index`` of it, so Python's ``True`` counts as 1 and ``numpy.True_`` (which has
  no ``__index__``) is refused (``strict=False``).  The array API standard asks for ints:
  its functions refuse both booleans.

Counts NumPy computes with (``repeat``'s repeats, ``roll``'s shift, ``split``'s sections,
``tile``'s reps) go through :func:`int_cast`: Python's ``int()`` of a number, as NumPy's
own code does, so ``1.0`` and ``True`` are 1 and None or a non-number string is refused.

>>> normalize_axis(-1, 3), normalize_axis((0, -1), 3), normalize_axis(None, 2)
((2,), (0, 2), (0, 1))
>>> axis_index(True, 2, strict=False)
1
>>> try:
...     axis_index(True, 2)
... except TypeError as e:
...     print(e)
axis: expected an integer, got bool (True)
"""
from __future__ import annotations

import operator

import numpy as np

_AxisError = np.exceptions.AxisError
_BOOLS = (bool, np.bool_)


def axis_index(a, ndim=None, what="axis", *, strict=True):
    """``a`` as one axis: an int in ``[0, ndim)`` (negative values count from the end), or
    the plain int when ``ndim`` is None.  TypeError naming ``what`` for anything that is not
    an integer (a float, a string, None; a boolean when ``strict``), numpy's AxisError for
    an axis out of range.

    >>> axis_index(-1, 4), axis_index(np.int64(1), 2)
    (3, 1)
    """
    if type(a) is not int:
        if isinstance(a, _BOOLS) and (strict or type(a) is not bool):
            raise TypeError(f"{what}: expected an integer, got bool ({a!r})")
        try:
            a = operator.index(a)
        except TypeError:
            raise TypeError(f"{what}: expected an integer, got {type(a).__name__} "
                            f"({a!r})") from None
    if ndim is None:
        return a
    if (a not in (0, -1)) if ndim == 0 else not -ndim <= a < ndim:  # (0-d: axis 0 or -1)
        raise _AxisError(f"{what} {a} is out of bounds for a tensor of dimension {ndim}")
    return a % ndim if ndim else 0


def is_one_axis(axis) -> bool:
    """True when ``axis`` names one axis (an integer-like or a boolean), False for a
    sequence of axes."""
    return isinstance(axis, (int, np.integer, np.bool_)) or (
        not isinstance(axis, (tuple, list)) and hasattr(axis, "__index__")
        and getattr(axis, "ndim", 0) == 0)


def normalize_axis(axis, ndim, what="axis", *, strict=True):
    """``axis`` -- None (every axis), one axis or a sequence of axes -- as a tuple of distinct
    non-negative ints below ``ndim``.  TypeError for a non-integer axis (see
    :func:`axis_index`), AxisError for one out of range, ValueError for a repeated axis.

    >>> normalize_axis([1, 0], 2)
    (1, 0)
    """
    if axis is None:
        return tuple(range(ndim))
    if is_one_axis(axis):
        return (axis_index(axis, ndim, what, strict=strict),)
    try:
        axes = tuple(axis)
    except TypeError:
        raise TypeError(f"{what}: expected None, an integer or a sequence of integers, got "
                        f"{type(axis).__name__} ({axis!r})") from None
    out = tuple(axis_index(a, ndim, what, strict=strict) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {what} {axis!r}")
    return out


def axis_arg(axis, what="axis", *, strict=True):
    """``axis`` checked (not bounded) for passing on: None, an int or a tuple of ints.

    >>> axis_arg(np.int64(0)), axis_arg([0, 1])
    (0, (0, 1))
    """
    if axis is None:
        return None
    if is_one_axis(axis):
        return axis_index(axis, None, what, strict=strict)
    try:
        return tuple(axis_index(a, None, what, strict=strict) for a in axis)
    except TypeError as e:
        if "expected an integer" in str(e):
            raise
        raise TypeError(f"{what}: expected None, an integer or a tuple of integers, got "
                        f"{type(axis).__name__} ({axis!r})") from None


def int_cast(v, what):
    """A count NumPy computes with, as Python's ``int(v)`` gives it (``1.0`` and ``True``
    are 1, ``'2'`` is 2); TypeError naming ``what`` for None, a complex number or any other
    non-number, ValueError for NaN or a string that is not a number.  An array or tensor
    must hold one integer (NumPy refuses to cast a float array to counts).

    >>> int_cast(2.0, "shift"), int_cast(np.True_, "shift")
    (2, 1)
    """
    if type(v) is int:
        return v
    if hasattr(v, "ndim") and not isinstance(v, np.generic):  # an array or a tensor
        return axis_index(v, None, what, strict=False)
    try:
        return int(v)
    except TypeError:
        raise TypeError(f"{what}: expected an integer, got {type(v).__name__} "
                        f"({v!r})") from None


def is_sequence(v) -> bool:
    """True for a list, a tuple or an array/tensor of at least one dimension: several
    values where one integer could also stand."""
    return isinstance(v, (list, tuple)) or getattr(v, "ndim", 0) > 0


def repeat_counts(repeats, what="repeat: repeats"):
    """``repeats`` as NumPy's ``repeat`` casts it, a NumPy integer array (0-d or 1-D): numbers
    and lists are cast to integers (``1.0`` and ``True`` are 1, a float is truncated); an
    array or tensor must hold integers or booleans already.  TypeError naming ``what`` for
    None or anything else that is not a count.

    >>> repeat_counts(2.0).tolist(), repeat_counts([1, True]).tolist()
    (2, [1, 1])
    """
    from ..backend import is_cupy_array
    from ..tensor import Tensor

    from .. import capture_hooks

    if isinstance(repeats, Tensor) and capture_hooks.is_recording():
        raise capture_hooks.CaptureError(
            f"{what}: counts from a tensor are read on the host, which a step gpugrad.compile "
            f"records cannot follow (the output's shape depends on them); pass Python ints "
            f"or run the step uncompiled")
    data = repeats.data if isinstance(repeats, Tensor) else repeats
    if is_cupy_array(data):
        data = data.get()  # (counts are read on the host)
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "iub":
            raise TypeError(f"{what}: expected integers, got an array of dtype "
                            f"{data.dtype.name}")
        return data.astype(np.intp)
    arr = np.asarray(data)
    if arr.dtype.kind in "iub":
        return arr.astype(np.intp)
    if arr.dtype.kind not in "fUS":
        raise TypeError(f"{what}: expected an integer or a sequence of integers, got "
                        f"{type(repeats).__name__} ({repeats!r})")
    with np.errstate(invalid="ignore"):
        return arr.astype(np.intp)
