"""NumPy's verdict on a Python value written by ``x[key] = value``: lists, tuples (nested,
ragged), strings, bytes and None are judged by NumPy's own assignment on a stand-in of
``x``'s shape and dtype that owns no memory, so the value is accepted, converted and
broadcast -- or refused with NumPy's exception type -- exactly as NumPy would (``[7]`` into
a 0-d array is a ValueError; ``'7'`` into a float array is 7.0; ``None`` is NaN).

>>> import numpy as np
>>> numpy_value(np.zeros(()), (), "7")
array(7.)
>>> numpy_value(np.zeros(()), Ellipsis, [7])  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
ValueError: setting an array element with a sequence. ...
"""
from __future__ import annotations

import numpy as np

__all__ = ["numpy_value", "holds_array"]

_JUDGED = (list, tuple, str, bytes, type(None))


_PLAIN = frozenset((int, float, bool, complex, str, bytes, type(None)))


def holds_array(v) -> bool:
    """True when ``v`` is, or a list/tuple in it holds, an array or tensor (not a scalar).

    >>> holds_array([[1.0, 2.0], (3, None)]), holds_array([1.0, np.zeros(2)])
    (False, True)
    """
    if isinstance(v, (list, tuple)):
        if _PLAIN.issuperset(map(type, v)):  # (the usual case: numbers, in one C pass)
            return False
        return any(holds_array(e) for e in v)
    return hasattr(v, "shape") and not isinstance(v, np.generic)


_holds_array = holds_array


def _on_device(key):
    """True when ``key`` holds a GPU array (NumPy cannot index with it without a copy)."""
    if isinstance(key, tuple):
        return any(_on_device(k) for k in key)
    return hasattr(key, "__cuda_array_interface__")


_BASIC = (int, slice, type(Ellipsis), type(None), np.integer)


def _basic(key):
    """True for a key of ints, slices, None and Ellipsis (alone or in a tuple): writing
    through it is writing into the view it selects (array and boolean keys have rules of
    their own, which the stand-in's assignment applies)."""
    if isinstance(key, tuple):
        return all(isinstance(k, _BASIC) and type(k) is not bool for k in key)
    return isinstance(key, _BASIC) and type(key) is not bool


def numpy_value(data, key, value):
    """``value`` for a write into raw array ``data`` at (prepared) ``key``: a Python list,
    tuple, string, bytes or None is converted by NumPy's own assignment, once, into an array
    of the shape ``data[key]`` has (raising what NumPy raises, warning once where it warns);
    a string, bytes or None comes back as NumPy's 0-d array of ``data``'s dtype.  Anything
    else (numbers, arrays, tensors, lists holding tensors) is returned as it is; a write into
    one element gives NumPy's 0-d answer.  A key holding GPU arrays is not judged (no host
    copy): setitem's own conversion applies; for a CuPy ``data`` a list is judged on the host
    and handed back as it is (setitem converts it on the device).

    Shapes: the selection's, ``data[key].shape``; dtype: ``data.dtype``.  Errors: NumPy's own
    (ValueError for a sequence into one element, TypeError for complex into real, ...).
    """
    if not isinstance(value, _JUDGED) or _holds_array(value) or _on_device(key):
        return value
    host = np.empty((), data.dtype)  # (a CuPy array is judged on the host the same way)
    # a stand-in of data's shape and dtype over one element of memory (all strides 0)
    stand_in = np.ndarray(data.shape, data.dtype, host, 0, (0,) * data.ndim)
    if isinstance(value, (list, tuple)) and type(data) is np.ndarray and _basic(key):
        shape = stand_in[key].shape
        if shape:   # NumPy's assignment of the list, into memory of the selection's shape
            out = np.empty(shape, data.dtype)
            out[...] = value
            return out
    stand_in[key] = value  # NumPy's checks and conversions; writes one element of memory
    if np.ndim(stand_in[key]) == 0:  # one element: NumPy's scalar rules (bool([7, 8]) ...)
        return host
    if isinstance(value, (list, tuple)):
        return value
    return np.asarray(value, dtype=data.dtype)
