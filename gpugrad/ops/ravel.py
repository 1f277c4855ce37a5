"""Reading a tensor's elements in an index order: ``ravel`` (orders 'C', 'F', 'A', 'K'),
``flatten`` (merge a run of axes) and :func:`~gpugrad.ops.shape.reshape`'s 'F'/'A' orders --
all a :class:`~gpugrad.ops.shape.Reshape` (a view where NumPy's answer is one), after a
transpose for the column-major and memory orders.  Re-exported by :mod:`gpugrad.ops.shape`.

>>> import gpugrad as gg
>>> x = gg.tensor([[1, 2], [3, 4]])
>>> ravel(x, "F").tolist(), flatten(gg.zeros((2, 3, 4)), 1).shape
([1, 3, 2, 4], (2, 12))
"""
from __future__ import annotations

import math

from ._fast import plain_operand, plain_view
from ._order import order_arg
from ._util import tensor_arg
from .shape import Reshape, _axis, _ints, _resolve_shape, reshape, transpose


def _reshape_order(x, shape, order):
    """:func:`reshape` in an ``order`` other than the literal 'C' (NumPy's spellings: see
    :func:`~gpugrad.ops._order.order_arg`; 'F' and 'A' always through the op)."""
    order = order_arg(order, "C", what="reshape")
    if order == "C":
        return reshape(x, *shape)
    x = tensor_arg(x)
    flags = x.data.flags
    if order == "A":
        order = "F" if flags.f_contiguous and not flags.c_contiguous else "C"
    shape = _resolve_shape(_ints(shape, "reshape"), x.shape)
    return Reshape.apply(x, shape=shape, order=order) if order == "F" else \
        Reshape.apply(x, shape=shape)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim..end_dim`` (inclusive) into one; a 0-d tensor becomes 1-D.

    >>> import gpugrad as gg
    >>> flatten(gg.zeros((2, 3, 4)), 1).shape
    (2, 12)
    """
    x = tensor_arg(x)
    if x.ndim == 0:
        return Reshape.apply(x, shape=(1,))
    s, e = _axis(start_dim, x.ndim), _axis(end_dim, x.ndim)
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim "
                         f"({end_dim}) for a tensor of shape {x.shape}")
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return Reshape.apply(x, shape=shape)


def memory_order(strides, shape):
    """The axes in the order ravel 'K' reads them, as NumPy's iterator sorts them: by
    decreasing absolute stride, an insertion sort from the last axis in which a zero stride
    (a broadcast axis, or one of length 1) compares with nothing -- so such axes, and ties,
    keep their C order (negative strides are not reversed).

    >>> memory_order((8, 24), (3, 2)), memory_order((0, 8), (3, 4)), memory_order((8, 0), (4, 3))
    ((1, 0), (0, 1), (0, 1))
    """
    st = [0 if n == 1 else abs(s) for s, n in zip(strides, shape)]
    perm = list(range(len(st)))[::-1]          # smallest stride first, from C order reversed
    for i0 in range(1, len(perm)):
        j0, pos = perm[i0], i0
        for i1 in range(i0 - 1, -1, -1):
            s0, s1 = st[j0], st[perm[i1]]
            if s0 and s1:                      # (a zero stride is ambiguous: look further)
                if s1 <= s0:
                    break
                pos = i1
        perm.insert(pos, perm.pop(i0))
    return tuple(perm[::-1])


def ravel(x, order="C"):
    """The elements of ``x`` as a 1-D tensor, read in ``order``: 'C' (row-major), 'F'
    (column-major), 'A' ('F' for a Fortran-contiguous, not C-contiguous ``x``), 'K' (memory
    order: axes by decreasing stride size, see :func:`memory_order`).  As NumPy's
    ``ravel``: a view of ``x`` when its memory already holds the elements in that order
    contiguously (order 'C': ``x`` is C-contiguous), else a copy.  ``order`` takes NumPy's
    spellings (None is 'C'; lower case, bytes: :func:`~gpugrad.ops._order.order_arg`);
    ValueError for another string, TypeError for another type.

    >>> import gpugrad as gg
    >>> ravel(gg.tensor([[1, 2], [3, 4]])).tolist(), ravel(gg.tensor([[1, 2], [3, 4]]), "F").tolist()
    ([1, 2, 3, 4], [1, 3, 2, 4])
    """
    if order == "C":
        d = plain_operand(x)
        if d is not None:  # NumPy's own ravel: a view of a C-contiguous array, else a copy
            return plain_view(x, d, d.ravel(), Reshape, {"in_shape": d.shape})
        x = tensor_arg(x)
        return Reshape.apply(x, shape=(x.size,), ravel=True)
    order = order_arg(order, "C")
    if order == "C":
        return ravel(x)
    x = tensor_arg(x)
    flags = x.data.flags
    if flags.c_contiguous and order != "F":
        return ravel(x)
    if order == "K":  # NumPy's memory order (its iterator's axis sort)
        perm = memory_order(x.data.strides, x.shape)
        return ravel(transpose(x, perm) if perm != tuple(range(x.ndim)) else x)
    if order == "A" and not flags.f_contiguous:
        return ravel(x)
    return ravel(transpose(x))  # column-major: the reversed axes, row-major
