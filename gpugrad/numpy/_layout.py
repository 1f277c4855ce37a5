"""Memory layout for the ``gpugrad.numpy`` creation and copy functions: NumPy's ``order=``
argument ('C', 'F', 'A', 'K'; parsed by :func:`gpugrad.ops._order.order_arg`, re-exported
here) and the layout NumPy gives a new array made like another.

A layout here is 'C' (row-major), 'F' (column-major) or a tuple of axes, outermost first
(the dense layout NumPy's order 'K' makes for an input that is neither C- nor
F-contiguous: its axes sorted by decreasing stride, ties in axis order).

>>> import numpy
>>> x = numpy.zeros((2, 3, 4)).transpose(2, 0, 1)
>>> order_arg("f"), layout(x, "K"), layout(x, "A"), layout(x.T, "K")
('F', (1, 2, 0), 'C', (1, 0, 2))
"""
from __future__ import annotations

from .. import ops
from ..ops._order import order_arg  # noqa: F401 -- NumPy's order= spellings, one parser


def layout(arr, order, shape=None):
    """The layout NumPy gives a new array made like array ``arr`` (``empty_like``,
    ``copy``, ``array``) in ``order`` ('C', 'F', 'A' or 'K'), of ``shape`` (``arr``'s by
    default): 'C', 'F', or the axes outermost first.

    >>> import numpy
    >>> layout(numpy.zeros((2, 3), order="F"), "K"), layout(numpy.zeros((2, 3)), "A")
    ('F', 'C')
    """
    if order in ("C", "F"):
        return order
    flags = arr.flags
    if order == "A":
        return "F" if flags.f_contiguous and not flags.c_contiguous else "C"
    if shape is not None and len(shape) != arr.ndim or flags.c_contiguous or arr.ndim <= 1:
        return "C"
    if flags.f_contiguous:
        return "F"
    st = arr.strides  # NumPy's stride sort (PyArray_CreateSortedStridePerm): stable
    return tuple(sorted(range(arr.ndim), key=lambda i: -abs(st[i])))


def satisfies(arr, lay) -> bool:
    """True when array ``arr`` already has layout ``lay`` (a tuple of axes: dense, the
    strides decreasing in that order)."""
    if lay == "C":
        return arr.flags.c_contiguous
    if lay == "F":
        return arr.flags.f_contiguous
    return arr.transpose(lay).flags.c_contiguous


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def new(make, shape, lay):
    """``make(shape, order)`` (``xp.zeros`` and the like) in layout ``lay``: an array of
    ``shape``; a tuple ``lay`` is made in that axis order, then transposed back."""
    if lay in ("C", "F"):
        return make(shape, lay)
    return make(tuple(shape[p] for p in lay), "C").transpose(_inverse(lay))


def copy(t, lay):
    """A differentiable copy of tensor ``t`` in layout ``lay`` ('C', 'F', 'A', 'K' as
    ``ndarray.copy``, or a tuple of axes: a transposed copy, transposed back)."""
    if type(lay) is str:
        return ops.copy(t) if lay == "C" else ops.copy(t, order=lay)
    return ops.transpose(ops.copy(ops.transpose(t, lay)), _inverse(lay))
