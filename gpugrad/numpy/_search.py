"""Selections whose result shape depends on values: ``compress``, ``extract`` and the
multi-key sort ``lexsort``.  Values stay differentiable (they are taken from the input by
index); the indices are computed as a captured step (``gpugrad.compile``) replays them.

>>> import gpugrad.numpy as gnp
>>> x = gnp.array([[1.0, -2.0], [3.0, -4.0]])
>>> gnp.extract(x > 0, x).tolist(), gnp.compress([False, True], x, axis=1).tolist()
([1.0, 3.0], [[-2.0], [-4.0]])
"""
from __future__ import annotations

import numpy as _np

from .. import ops
from ..ops import search
from ..tensor import Tensor
from . import _core as C

__all__ = ["compress", "extract", "lexsort"]


def compress(condition, a, axis=None, out=None):
    """The slices of ``a`` along ``axis`` (of ``a`` raveled when None) where the 1-D
    ``condition`` is nonzero (differentiable in ``a``).  A shorter ``condition`` leaves the
    rest out; a true entry past the end raises IndexError; a condition of 2 or more
    dimensions raises ValueError (as NumPy).

    >>> import gpugrad.numpy as gnp
    >>> gnp.compress([True, False, True], gnp.array([1.0, 2.0, 3.0])).tolist()
    [1.0, 3.0]
    """
    x = C.tensor(a)
    cond = C.tensor(condition, x)
    if cond.ndim != 1:
        raise ValueError("condition must be a 1-d array")
    if axis is None:
        x, axis = ops.ravel(x), 0
    return C.out(ops.take(x, search.flatnonzero(cond), axis=axis), out, "compress")


def extract(condition, arr):
    """The elements of ``arr`` (raveled) where ``condition`` (raveled) is nonzero, as
    ``take(ravel(arr), nonzero(ravel(condition))[0])`` (differentiable in ``arr``).

    >>> import gpugrad.numpy as gnp
    >>> x = gnp.arange(6.0).reshape(2, 3); gnp.extract(x % 2 == 0, x).tolist()
    [0.0, 2.0, 4.0]
    """
    x = C.tensor(arr)
    return ops.take(ops.ravel(x), search.flatnonzero(ops.ravel(C.tensor(condition, x))), axis=0)


def lexsort(keys, axis=-1):
    """Indices (int64) that sort by several keys, the LAST key primary (NumPy's stable
    ``lexsort``; no gradient).  ``keys``: a sequence of same-shape arrays, or a 2-D+ array
    whose first axis indexes the keys; TypeError when empty.

    >>> import gpugrad.numpy as gnp
    >>> gnp.lexsort(([3, 1, 2], [1, 0, 1])).tolist()
    [1, 2, 0]
    """
    if isinstance(keys, Tensor):
        if keys.ndim == 0:
            raise TypeError("need sequence of keys with len > 0 in lexsort")
        keys = list(keys) if keys.ndim > 1 else [keys]
    keys = list(keys)
    if not keys:
        raise TypeError("need sequence of keys with len > 0 in lexsort")
    like = next((k for k in keys if isinstance(k, Tensor)), None)
    ts = [C.tensor(k, like) for k in keys]
    return C.nograd(lambda xp, *ks: _lexsort(xp, ks, axis), *ts)


def _lexsort(xp, ks, axis):
    if xp is _np:
        return _np.lexsort(ks, axis=axis)
    if axis not in (-1, ks[0].ndim - 1):  # CuPy sorts along the last axis only
        raise NotImplementedError(f"lexsort: axis={axis} on a GPU (CuPy sorts along the last "
                                  f"axis only)")
    return xp.lexsort(xp.stack(ks))
