"""Shape ops: reshape, transpose, broadcast (ravel, flatten and the column-major reshape are
in ravel.py, join and split in join.py, indexing in index.py, pad/flip/tile/casts in
layout.py).

Each op's forward and backward sit side by side.  Ops whose answer is a view of their input
(reshape, transpose, basic slicing, flip, broadcast_to) set ``view = True`` so the version
counter is shared; ops whose backward needs no input data say so in ``saved_inputs``.
Many public functions are compositions (``squeeze`` is a reshape, ``take`` is an index).

>>> import gpugrad as gg
>>> x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
>>> y = reshape(x, 3, 2)[1:]
>>> y.backward(gg.tensor([[1.0, 1.0], [1.0, 1.0]]))
>>> x.grad.tolist()
[[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from ..autograd import Function, unbroadcast
from ..backend import is_cupy_array
from ..borrowed import borrow
from ..tensor import Tensor, as_tensor
from ._axis_args import axis_index, is_one_axis, normalize_axis
from ._fast import plain_operand, plain_view
from ._util import tensor_arg, xp_of

__all__ = ["reshape", "squeeze", "expand_dims", "flatten", "ravel", "transpose", "permute", "swapaxes", "moveaxis", "broadcast_to", "expand", "concatenate", "stack", "split", "cat", "unsqueeze"]


# ================================================================ helpers
def _coerce(v, like=None):
    """A Tensor from ``v``: arrays are wrapped as they are, lists go to ``like``'s device."""
    if isinstance(v, Tensor):
        return v
    if isinstance(v, np.ndarray) or is_cupy_array(v):
        return borrow(v)
    return as_tensor(v, device=like.device if isinstance(like, Tensor) else None)


def _axis(a, ndim, strict=False):
    """One axis as a non-negative int, validated against ``ndim`` (:mod:`._axis_args`;
    ``strict``: a boolean is refused, else Python's True is axis 1 as in NumPy's Python
    functions)."""
    return axis_index(a, ndim, strict=strict)


def _axes(axis, ndim, strict=False):
    """An int, a sequence of ints or None (all axes) as a tuple of distinct axes."""
    return normalize_axis(axis, ndim, strict=strict)


def _ints(args, what):
    """Varargs or one sequence of ints (``f(x, 2, 3)`` or ``f(x, (2, 3))``) as a tuple."""
    if len(args) == 1 and not isinstance(args[0], numbers.Integral) and not (
            isinstance(args[0], Tensor) and args[0].ndim == 0):  # (a 1-D tensor: a sequence)
        args = args[0]
    try:
        out = tuple(operator.index(n) for n in args)
        if any(isinstance(n, (bool, np.bool_)) for n in args):
            raise TypeError  # (NumPy refuses booleans as sizes and axes)
        return out
    except TypeError:
        raise TypeError(f"{what}: expected integers, got {args!r}") from None


def _resolve_shape(shape, in_shape):
    """Fill in one -1 of a reshape target; ValueError when the sizes cannot match."""
    size = math.prod(in_shape)
    unknown = [i for i, n in enumerate(shape) if n == -1]
    known = math.prod(n for n in shape if n != -1)
    ok = len(unknown) <= 1 and all(n >= -1 for n in shape)
    if ok and unknown:
        ok = known != 0 and size % known == 0
        if ok:
            shape = shape[:unknown[0]] + (size // known,) + shape[unknown[0] + 1:]
    if not ok or math.prod(shape) != size:
        raise ValueError(f"cannot reshape tensor of shape {tuple(in_shape)} into shape "
                         f"{tuple(shape)}")
    return shape


def _inverse(perm):
    return tuple(int(i) for i in np.argsort(perm))


class _NoSave(Function):
    """Base for ops whose backward reads no input data (only shapes, axes or keys)."""

    def saved_inputs(self, needs):
        return ()


# ================================================================ reshape family
class Reshape(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True
    view = True

    order = "C"  # the index order the elements are read and placed in ('F': column-major)

    def forward(self, x, shape, order="C", ravel=False):
        # ravel: NumPy's ravel, a view only of a C-contiguous input (else a copy)
        self.in_shape = x.shape
        if ravel and not x.flags.c_contiguous:
            return x.flatten()
        if order == "C":
            return x.reshape(shape)
        self.order = order
        return x.reshape(shape, order=order)

    def backward(self, g):
        if self.order == "C":
            return (g.reshape(self.in_shape),)
        return (g.reshape(self.in_shape, order=self.order),)


def reshape(x, *shape, order="C"):
    """Give ``x`` a new shape with the same number of elements; one size may be -1.  The
    elements are read and placed in ``order``: 'C' (row-major), 'F' (column-major) or 'A'
    ('F' when ``x`` is Fortran-contiguous and not C-contiguous).  A view of ``x`` where
    NumPy's reshape gives one, else a copy.  TypeError for a size that is not an integer
    (a float, a bool), ValueError when the sizes cannot match.

    >>> import gpugrad as gg
    >>> reshape(gg.arange(6.0), 2, -1).shape
    (2, 3)
    >>> reshape(gg.arange(6.0), (3, 2), order="F").tolist()
    [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    """
    if order != "C":
        return _reshape_order(x, shape, order)
    d = plain_operand(x)
    if d is not None:  # no graph: NumPy's reshape (anything it refuses takes the op's path)
        s = shape[0] if len(shape) == 1 and type(shape[0]) is tuple else shape
        if _all_ints(s):
            try:
                out = d.reshape(s)
            except (ValueError, TypeError):
                out = None
            if out is not None:
                return plain_view(x, d, out, Reshape, {"in_shape": d.shape})
    x = tensor_arg(x)
    return Reshape.apply(x, shape=_resolve_shape(_ints(shape, "reshape"), x.shape))


def _all_ints(s):
    """True when every entry of tuple ``s`` is a Python int (the fast paths' shapes)."""
    for n in s:
        if type(n) is not int:
            return False
    return True


def _reshaped(x, d, shape):
    """The no-graph answer of ``Reshape.apply(x, shape=shape)`` (``d``: x's plain array)."""
    return plain_view(x, d, d.reshape(shape), Reshape, {"in_shape": d.shape})


def squeeze(x, axis=None):
    """Remove axes of size 1 (all of them, or those named by ``axis``).

    >>> import gpugrad as gg
    >>> squeeze(gg.zeros((1, 3, 1)), axis=0).shape
    (3, 1)
    """
    d = plain_operand(x)
    if d is not None:
        if axis is None:
            return _reshaped(x, d, tuple([n for n in d.shape if n != 1]))
        if type(axis) is int and -d.ndim <= axis < d.ndim and d.shape[axis] == 1:
            a = axis % d.ndim
            return _reshaped(x, d, d.shape[:a] + d.shape[a + 1:])
    x = tensor_arg(x)
    if axis is None:
        return Reshape.apply(x, shape=tuple(n for n in x.shape if n != 1))
    if not x.ndim:  # NumPy's 0-d rule: axis 0 or -1 (as one int), or ()
        if is_one_axis(axis):
            axis_index(axis, 0)
        elif len(tuple(axis)):
            raise np.exceptions.AxisError(tuple(axis)[0], 0)
        return Reshape.apply(x, shape=())
    axes = _axes(axis, x.ndim, strict=True)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"cannot squeeze axis {a} of size {x.shape[a]} (tensor of shape "
                             f"{x.shape}); only axes of size 1 can be squeezed")
    return Reshape.apply(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in axes))


def expand_dims(x, axis):
    """Insert axes of size 1 at the positions ``axis`` (int or tuple) of the result.

    >>> import gpugrad as gg
    >>> expand_dims(gg.zeros(3), -1).shape
    (3, 1)
    """
    d = plain_operand(x)
    if d is not None and type(axis) is int and -d.ndim - 1 <= axis <= d.ndim:
        a = axis % (d.ndim + 1)
        return _reshaped(x, d, d.shape[:a] + (1,) + d.shape[a:])
    x = tensor_arg(x)
    n = 1 if isinstance(axis, (numbers.Integral, Tensor)) else len(tuple(axis))
    axes = _axes(axis, x.ndim + n)
    dims = iter(x.shape)
    return Reshape.apply(x, shape=tuple(1 if i in axes else next(dims)
                                        for i in range(x.ndim + n)))


unsqueeze = expand_dims


# ================================================================ axis permutations
class Transpose(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True
    view = True

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g):
        return (g.transpose(_inverse(self.axes)),)


_REVERSED = [tuple(range(n - 1, -1, -1)) for n in range(33)]  # (the default permutations)
_RANGES = [list(range(n)) for n in range(65)]


def _perm(axes, shape, what):
    nd = len(shape)
    ax = tuple(axis_index(a, None, f"{what}: axes") for a in axes)  # (NumPy refuses bools)
    norm = [a + nd if a < 0 else a for a in ax]
    bad = [a for a in ax if not -nd <= a < nd]
    if bad and len(ax) == nd:  # (NumPy's error for an axis out of range: AxisError)
        raise np.exceptions.AxisError(
            f"{what}: axes {ax} are not a permutation of the {nd} dimensions of a tensor of "
            f"shape {tuple(shape)}: axis {bad[0]} is out of bounds")
    if sorted(norm) != list(range(nd)):
        raise ValueError(f"{what}: axes {ax} are not a permutation of the {nd} dimensions of a "
                         f"tensor of shape {tuple(shape)}")
    return tuple(norm)


def transpose(x, axes=None, *more):
    """Permute the axes (reverse them when ``axes`` is None); NumPy's ``transpose``.

    >>> import gpugrad as gg
    >>> transpose(gg.zeros((2, 3, 4)), (1, 0, 2)).shape
    (3, 2, 4)
    """
    d = plain_operand(x)
    if d is not None and not more:
        if axes is None:
            nd = d.ndim
            perm = _REVERSED[nd] if nd < len(_REVERSED) else tuple(range(nd - 1, -1, -1))
            return plain_view(x, d, d.transpose(), Transpose, {"axes": perm})
        if type(axes) is tuple and len(axes) == d.ndim and _all_ints(axes) and \
                sorted(axes) == _RANGES[d.ndim]:
            return plain_view(x, d, d.transpose(axes), Transpose, {"axes": axes})
    x = tensor_arg(x)
    if more:
        axes = (axes,) + more
    elif isinstance(axes, numbers.Integral) or isinstance(axes, Tensor) and axes.ndim == 0:
        axes = (axes,)
    elif isinstance(axes, Tensor):  # an integer array of axes, as NumPy takes it
        axes = tuple(axes.tolist())
    if axes is None:
        axes = tuple(range(x.ndim - 1, -1, -1))
    return Transpose.apply(x, axes=_perm(axes, x.shape, "transpose"))


def permute(x, *axes):
    """Torch-style ``permute(x, 2, 0, 1)`` (or a tuple): the result's axis i is ``x``'s axes[i].

    >>> import gpugrad as gg
    >>> permute(gg.zeros((2, 3, 4)), 2, 0, 1).shape
    (4, 2, 3)
    """
    x = tensor_arg(x)
    return Transpose.apply(x, axes=_perm(_ints(axes, "permute"), x.shape, "permute"))


def swapaxes(x, axis1, axis2):
    """Exchange two axes.

    >>> import gpugrad as gg
    >>> swapaxes(gg.zeros((2, 3, 4)), 0, -1).shape
    (4, 3, 2)
    """
    d = plain_operand(x)
    if d is not None and type(axis1) is int and type(axis2) is int and \
            -d.ndim <= axis1 < d.ndim and -d.ndim <= axis2 < d.ndim:
        a, b = axis1 % d.ndim, axis2 % d.ndim
        perm = list(range(d.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        perm = tuple(perm)
        return plain_view(x, d, d.transpose(perm), Transpose, {"axes": perm})
    x = tensor_arg(x)
    a, b = _axis(axis1, x.ndim), _axis(axis2, x.ndim)
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return Transpose.apply(x, axes=tuple(perm))


def moveaxis(x, source, destination):
    """Move axes ``source`` to positions ``destination`` keeping the others in order.

    >>> import gpugrad as gg
    >>> moveaxis(gg.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    x = tensor_arg(x)
    if source is None or destination is None:
        raise TypeError(f"moveaxis: expected integer axes, got source={source!r} and "
                        f"destination={destination!r}")
    src, dst = _axes(source, x.ndim), _axes(destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source and destination must name the same number of axes, "
                         f"got {source!r} and {destination!r}")
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Transpose.apply(x, axes=tuple(order))


# ================================================================ broadcasting
class BroadcastTo(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True
    view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        return xp_of(x).broadcast_to(x, shape)

    def backward(self, g):
        return (unbroadcast(g, self.in_shape),)


def broadcast_to(x, shape):
    """A read-only view of ``x`` broadcast to ``shape`` (NumPy rules).

    >>> import gpugrad as gg
    >>> broadcast_to(gg.tensor([1.0, 2.0]), (3, 2)).shape
    (3, 2)
    """
    x = tensor_arg(x)
    shape = _ints((shape,), "broadcast_to")
    lead = len(shape) - x.ndim
    if lead < 0 or any(n < 0 for n in shape) or any(
            m not in (1, n) for m, n in zip(x.shape, shape[lead:])):
        raise ValueError(f"cannot broadcast tensor of shape {x.shape} to shape {shape}")
    return BroadcastTo.apply(x, shape=shape)


def expand(x, *sizes):
    """Torch-style broadcast: ``expand(x, 4, -1)``; -1 keeps that dimension's size.

    >>> import gpugrad as gg
    >>> expand(gg.zeros((3, 1)), 2, -1, 5).shape
    (2, 3, 5)
    """
    x = tensor_arg(x)
    sizes = _ints(sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: expected at least {x.ndim} sizes for a tensor of shape "
                         f"{x.shape}, got {sizes}")
    if -1 in sizes[:lead]:
        raise ValueError(f"expand: -1 is not allowed for the new leading dimensions, got {sizes}")
    shape = sizes[:lead] + tuple(m if n == -1 else n for m, n in zip(x.shape, sizes[lead:]))
    return broadcast_to(x, shape)


# ravel, flatten and reshape's 'F'/'A' orders live in ravel.py (re-exported here)
from .ravel import _reshape_order, flatten, ravel  # noqa: E402,F401

# joining and splitting live in join.py (re-exported here, their first home)
from .join import Concatenate, Stack, cat, concatenate, split, stack  # noqa: E402,F401
