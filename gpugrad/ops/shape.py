"""Shape ops: reshape, transpose, broadcast, join and split (indexing is in index.py,
pad/flip/tile/casts in layout.py).

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
from ..tensor import Tensor, as_tensor
from ._util import cast_grad, tensor_arg, xp_of

__all__ = ["reshape", "squeeze", "expand_dims", "flatten", "ravel", "transpose", "permute", "swapaxes", "moveaxis", "broadcast_to", "expand", "concatenate", "stack", "split", "cat", "unsqueeze"]


# ================================================================ helpers
def _coerce(v, like=None):
    """A Tensor from ``v``: arrays are wrapped as they are, lists go to ``like``'s device."""
    if isinstance(v, Tensor):
        return v
    if isinstance(v, np.ndarray) or is_cupy_array(v):
        return Tensor._make(v)
    return as_tensor(v, device=like.device if isinstance(like, Tensor) else None)


def _axis(a, ndim):
    """One axis as a non-negative int, validated against ``ndim``."""
    a = operator.index(a)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
    return a % ndim


def _axes(axis, ndim):
    """An int, a sequence of ints or None (all axes) as a tuple of distinct axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (numbers.Integral, Tensor)) else tuple(axis)
    out = tuple(_axis(a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}")
    return out


def _ints(args, what):
    """Varargs or one sequence of ints (``f(x, 2, 3)`` or ``f(x, (2, 3))``) as a tuple."""
    if len(args) == 1 and not isinstance(args[0], numbers.Integral) and not (
            isinstance(args[0], Tensor) and args[0].ndim == 0):  # (a 1-D tensor: a sequence)
        args = args[0]
    try:
        return tuple(operator.index(n) for n in args)
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

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.in_shape),)


def reshape(x, *shape):
    """Give ``x`` a new shape with the same number of elements; one size may be -1.

    >>> import gpugrad as gg
    >>> reshape(gg.arange(6.0), 2, -1).shape
    (2, 3)
    """
    x = tensor_arg(x)
    return Reshape.apply(x, shape=_resolve_shape(_ints(shape, "reshape"), x.shape))


def squeeze(x, axis=None):
    """Remove axes of size 1 (all of them, or those named by ``axis``).

    >>> import gpugrad as gg
    >>> squeeze(gg.zeros((1, 3, 1)), axis=0).shape
    (3, 1)
    """
    x = tensor_arg(x)
    if axis is None:
        return Reshape.apply(x, shape=tuple(n for n in x.shape if n != 1))
    axes = _axes(axis, x.ndim)
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
    x = tensor_arg(x)
    n = 1 if isinstance(axis, (numbers.Integral, Tensor)) else len(tuple(axis))
    axes = _axes(axis, x.ndim + n)
    dims = iter(x.shape)
    return Reshape.apply(x, shape=tuple(1 if i in axes else next(dims)
                                        for i in range(x.ndim + n)))


unsqueeze = expand_dims


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


def ravel(x):
    """The elements of ``x`` as a 1-D tensor (row-major order).

    >>> import gpugrad as gg
    >>> ravel(gg.tensor([[1, 2], [3, 4]])).tolist()
    [1, 2, 3, 4]
    """
    x = tensor_arg(x)
    return Reshape.apply(x, shape=(x.size,))


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


def _perm(axes, shape, what):
    nd = len(shape)
    try:
        ax = tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"{what}: expected integer axes, got {axes!r}") from None
    norm = [a + nd if a < 0 else a for a in ax]
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
    x = tensor_arg(x)
    if more:
        axes = (axes,) + more
    elif isinstance(axes, (numbers.Integral, Tensor)):
        axes = (axes,)
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


# ================================================================ joining and splitting
def _tensor_list(tensors, what):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{what}: expected a list or tuple of tensors, got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{what}: expected a non-empty sequence of tensors, got none")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    return [_coerce(t, like) for t in tensors]


class Concatenate(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True

    def forward(self, *arrays, axis):
        self.axis = axis
        self.sizes = [a.shape[axis] for a in arrays]
        self.dtypes = [a.dtype for a in arrays]
        return xp_of(arrays[0]).concatenate(arrays, axis=axis)

    def backward(self, g):
        out, start, key = [], 0, [slice(None)] * g.ndim
        for n, need, dt in zip(self.sizes, self.needs, self.dtypes):
            key[self.axis] = slice(start, start + n)
            out.append(cast_grad(g[tuple(key)], dt) if need else None)
            start += n
        return tuple(out)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``axis=None`` flattens them first).

    >>> import gpugrad as gg
    >>> concatenate([gg.zeros((2, 3)), gg.ones((1, 3))]).shape
    (3, 3)
    """
    ts = _tensor_list(tensors, "concatenate")
    if axis is None:
        ts, axis = [ravel(t) for t in ts], 0
    if any(t.ndim == 0 for t in ts):
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use "
                         "stack")
    ax = _axis(axis, ts[0].ndim)
    for t in ts[1:]:
        if t.ndim != ts[0].ndim or any(m != n for i, (m, n) in enumerate(zip(t.shape, ts[0].shape))
                                       if i != ax):
            raise ValueError(f"concatenate: all tensors must have the same shape except along "
                             f"axis {ax}, got {ts[0].shape} and {t.shape}")
    return Concatenate.apply(*ts, axis=ax)


cat = concatenate


class Stack(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True

    def forward(self, *arrays, axis):
        self.axis = axis
        self.dtypes = [a.dtype for a in arrays]
        return xp_of(arrays[0]).stack(arrays, axis=axis)

    def backward(self, g):
        key = [slice(None)] * g.ndim
        out = []
        for i, (need, dt) in enumerate(zip(self.needs, self.dtypes)):
            key[self.axis] = i
            out.append(cast_grad(g[tuple(key)], dt) if need else None)
        return tuple(out)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis.

    >>> import gpugrad as gg
    >>> stack([gg.zeros(3), gg.ones(3)], axis=1).shape
    (3, 2)
    """
    ts = _tensor_list(tensors, "stack")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: all tensors must have the same shape, got {ts[0].shape} "
                             f"and {t.shape}")
    return Stack.apply(*ts, axis=_axis(axis, ts[0].ndim + 1))


def split(x, indices_or_sections, axis=0):
    """Split into a list of views: N equal sections, or at the given indices (NumPy's split).

    >>> import gpugrad as gg
    >>> [p.shape for p in split(gg.zeros((5, 2)), [1, 3])]
    [(1, 2), (2, 2), (2, 2)]
    """
    x = tensor_arg(x)
    ax = _axis(axis, x.ndim)
    n = x.shape[ax]
    if isinstance(indices_or_sections, (numbers.Integral, Tensor)):
        k = operator.index(indices_or_sections)
        if k <= 0:
            raise ValueError(f"split: the number of sections must be positive, got {k}")
        if n % k:
            raise ValueError(f"split: axis {ax} of size {n} cannot be split into {k} equal "
                             f"sections (tensor of shape {x.shape})")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + list(_ints((indices_or_sections,), "split")) + [n]
    from .index import GetItemBasic

    head = (slice(None),) * ax
    return [GetItemBasic.apply(x, key=head + (slice(s, e), Ellipsis))
            for s, e in zip(bounds[:-1], bounds[1:])]
