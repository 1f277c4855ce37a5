"""Sorting and partitioning: ``sort``, ``argsort``, ``partition``, ``argpartition``.

The values are differentiable (the gradient is un-permuted by the saved index); the index
ops have no gradient.  ``kind=`` takes NumPy's algorithm names: on the CPU the answer is
NumPy's own, ties included ('quicksort' -- NumPy's default, an introsort -- and 'heapsort'
are not stable, so equal elements come out in NumPy's order, not in input order).  Without
``kind`` the engine's ``sort``/``argsort`` are stable (as ``torch.sort(stable=True)``).
CuPy sorts stably whatever the kind, and its partition arrangement is its own.

>>> import gpugrad as gg
>>> x = gg.tensor([2.0, 1.0, 2.0, 1.0, 2.0])
>>> gg.argsort(x).tolist()
[1, 3, 0, 2, 4]
>>> from gpugrad.ops.sorting import partition
>>> partition(x, 2).tolist()
[1.0, 1.0, 2.0, 2.0, 2.0]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._axis_args import axis_index
from ._util import tensor_arg, xp_of

__all__ = ["sort", "argsort", "partition", "argpartition"]

_KINDS = {"q": "quicksort", "h": "heapsort", "m": "stable", "s": "stable"}


def sort_kind(kind=None, stable=None):
    """NumPy's sort algorithm for ``kind=``/``stable=``: 'quicksort', 'heapsort' or 'stable'
    (None when neither is given).  As NumPy, a kind is read from its first letter
    ('mergesort' is 'stable'), and giving both is a ValueError.

    >>> sort_kind("mergesort"), sort_kind(stable=True), sort_kind()
    ('stable', 'stable', None)
    """
    if kind is not None and stable is not None:
        raise ValueError("`kind` and keyword parameters can't be provided at the same time. "
                         "Use only one of them.")
    if stable is not None:
        return "stable" if stable else None
    if kind is None:
        return None
    name = _KINDS.get(kind[:1].lower()) if isinstance(kind, str) else None
    if name is None:
        raise ValueError(f"sort kind must be one of 'quick', 'heap', or 'stable' (got {kind!r})")
    return name


def _argsort(xp, x, axis, descending, kind):
    if x.dtype.char == "E":  # ml_dtypes' bfloat16: NumPy sorts it without NaN last
        x = x.astype(np.float32)
    if not descending:
        return xp.argsort(x, axis=axis, kind=kind if xp is np else None)
    # descending (stable): sort the reversed array, reverse back, map the indices
    n = x.shape[axis]
    idx = xp.flip(xp.argsort(xp.flip(x, axis), axis=axis, kind="stable"), axis)
    return (n - 1) - idx


def _matching_permutation(xp, x, values, axis):
    """An index ``p`` with ``take_along_axis(x, p) == values`` (``values`` a permutation of
    ``x`` along ``axis``): equal values are paired in order via two stable sorts."""
    if x.dtype.char == "E":  # bfloat16: as _argsort
        x, values = x.astype(np.float32), values.astype(np.float32)
    sx = xp.argsort(x, axis=axis, kind="stable")
    sv = xp.argsort(values, axis=axis, kind="stable")
    p = xp.empty_like(sx)
    xp.put_along_axis(p, sv, sx, axis=axis)
    return p


class Sort(Function):
    """Values in sorted (``kth`` None) or partitioned order; the gradient un-permutes."""

    twice_differentiable = True  # a permutation by a saved (constant) index

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis, descending, kind=None, kth=None):
        xp = xp_of(x)
        self.axis = axis
        if kth is not None:
            values = xp.partition(x, kth, axis=axis)
            self.saved = (_matching_permutation(xp, x, values, axis),)
            return values
        idx = _argsort(xp, x, axis, descending, "stable" if kind is None else kind)
        self.saved = (idx,)
        if kind not in (None, "stable") and x.dtype.kind in "fc" and xp is np:
            # NumPy's unstable sort orders -0.0/0.0 (and NaN payloads) its own way
            return xp.sort(x, axis=axis, kind=kind)
        return xp.take_along_axis(x, idx, axis=axis)

    def backward(self, g):  # un-permute: the inverse permutation of idx
        (idx,) = self.saved
        xp = xp_of(g)
        inv = xp.argsort(idx, axis=self.axis)
        return (xp.take_along_axis(g, inv, axis=self.axis),)


class ArgSort(Function):
    differentiable = False

    def forward(self, x, axis, descending, kind, kth=None):
        xp = xp_of(x)
        if kth is not None:
            return xp.argpartition(x, kth, axis=axis)
        return _argsort(xp, x, axis, descending, kind)


def _sort_args(x, axis, name="sort", strict=False):
    # strict: refuse a boolean axis (NumPy's argsort, argpartition); sort and partition take
    # operator.index of it (True is axis 1), as NumPy's do
    x = tensor_arg(x)
    if axis is None:
        from . import ravel

        return ravel(x), 0
    if x.ndim == 0:
        raise np.exceptions.AxisError(f"{name}: axis {axis} is out of bounds for a 0-d tensor")
    return x, axis_index(axis, x.ndim, strict=strict)  # one axis: a sequence is refused


def _kind(descending, stable, kind):
    if descending:  # NumPy has no descending sort: it is always the stable one
        sort_kind(kind)
        return "stable"
    return sort_kind(kind) if kind is not None else ("stable" if stable else "quicksort")


def sort(x, axis=-1, descending=False, stable=True, *, kind=None):
    """Sorted copy along ``axis`` (flattened when None); the gradient is un-permuted.
    Stable unless ``stable=False`` or a NumPy ``kind`` ('quicksort', 'heapsort', 'stable',
    'mergesort') is given, which gives NumPy's exact answer on the CPU.

    A descending sort is always stable.  Raises ValueError for an unknown kind, AxisError
    for a 0-d tensor with an axis.

    >>> import gpugrad as gg
    >>> gg.sort(gg.tensor([[3, 1], [0, 2]]), descending=True).tolist()
    [[3, 1], [2, 0]]
    """
    x, ax = _sort_args(x, axis)
    k = _kind(descending, stable, kind)
    return Sort.apply(x, axis=ax, descending=bool(descending), kind=None if k == "stable" else k)


def argsort(x, axis=-1, descending=False, stable=True, *, kind=None):
    """Indices (int64) that sort ``x`` along ``axis`` (flattened when None; no gradient).
    Stable by default; ``stable=False`` or ``kind=`` as in :func:`sort`.

    >>> import gpugrad as gg
    >>> gg.argsort(gg.tensor([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
    >>> import numpy as np
    >>> x = np.array([1, 1, 1, 0] * 5)  # ties: NumPy's introsort order, not input order
    >>> (gg.argsort(gg.tensor(x), kind="quicksort").numpy() == np.argsort(x)).all()
    np.True_
    """
    x, ax = _sort_args(x, axis, "argsort", strict=True)
    return ArgSort.apply(x, axis=ax, descending=bool(descending),
                         kind=_kind(descending, stable, kind))


def _kth(x, kth, axis, strict=False):
    x, ax = _sort_args(x, axis, "partition", strict)
    n = x.shape[ax]
    kind = np.asarray(kth).dtype.kind
    if kind == "b":  # (NumPy's own errors)
        raise ValueError("Booleans unacceptable as partition index")
    if kind not in "iu":
        raise TypeError(f"Partition index must be integer, got {kth!r}")
    for k in np.atleast_1d(np.asarray(kth)).ravel():
        if x.size and not -n <= int(k) < n:  # (NumPy lets any kth pass on an empty array)
            raise ValueError(f"kth(={int(k)}) out of bounds ({n})")
    return x, ax, (int(kth) if np.ndim(kth) == 0 else tuple(int(k) for k in np.ravel(kth)))


def partition(x, kth, axis=-1):
    """A copy with the ``kth`` element(s) in sorted position, smaller ones before and larger
    after, in NumPy's arrangement on the CPU (CuPy's on CUDA); differentiable.

    ``kth``: an int or a sequence of ints; ValueError when out of range.

    >>> import gpugrad as gg
    >>> partition(gg.tensor([3.0, 1.0, 2.0]), 1)[1].item()
    2.0
    """
    x, ax, k = _kth(x, kth, axis)
    return Sort.apply(x, axis=ax, descending=False, kth=k)


def argpartition(x, kth, axis=-1):
    """Indices (int64) that partition ``x`` around ``kth`` (NumPy's ``argpartition``; no
    gradient).  Note NumPy's ``partition`` and ``argpartition`` arrange ties and the sides
    differently: ``take_along_axis(x, argpartition(x, k))`` need not equal ``partition``.

    >>> import gpugrad as gg
    >>> argpartition(gg.tensor([3.0, 1.0, 2.0]), 0)[0].item()
    1
    """
    x, ax, k = _kth(x, kth, axis, strict=True)
    return ArgSort.apply(x, axis=ax, descending=False, kind=None, kth=k)
