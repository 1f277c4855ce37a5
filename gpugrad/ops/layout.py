"""Layout ops: pad, flip, roll, tile, repeat, and copies, casts and device moves.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> tile(x, 2).sum().backward()
>>> x.grad.tolist()
[2.0, 2.0]
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend, dtypes
from ..backend import array_device
from ..grad_mode import _state as _gm
from ..tensor import Tensor
from ._axis_args import axis_index, int_cast, is_sequence, repeat_counts
from ..wide_sum import sum_wide
from ._util import cast_grad, tensor_arg, xp_of
from .index import take
from .shape import (
    _axes,
    _axis,
    _NoSave,
    ravel,
)

__all__ = ["pad", "flip", "roll", "tile", "repeat", "copy", "astype", "to_device"]


# ================================================================ pad, flip, roll, tile, repeat
class PadConstant(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True

    def forward(self, x, pad_width, value):
        self.pw = pad_width
        return xp_of(x).pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, g):
        return (g[tuple(slice(b, n - a) for (b, a), n in zip(self.pw, g.shape))],)


_INDEX_MODES = ("edge", "reflect", "symmetric", "wrap")


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad with NumPy's ``pad_width`` forms (int, (before, after), or one pair per axis).

    Modes: 'constant', and the index modes 'edge', 'reflect', 'symmetric', 'wrap' (all
    differentiable; the index modes are gathers whose gradient scatter-adds).

    >>> import gpugrad as gg
    >>> pad(gg.tensor([1.0, 2.0]), (1, 2)).tolist()
    [0.0, 1.0, 2.0, 0.0, 0.0]
    """
    x = tensor_arg(x)
    pw = np.asarray(pad_width.numpy() if isinstance(pad_width, Tensor) else pad_width)
    if pw.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    try:
        pw = np.broadcast_to(pw, (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of shape {x.shape}; "
                         f"expected an int, a (before, after) pair, or one pair per "
                         f"dimension") from None
    if (pw < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    pw = tuple((int(b), int(a)) for b, a in pw)
    if mode == "constant":
        if isinstance(constant_values, Tensor):
            if constant_values.requires_grad and _gm.enabled:  # the value's gradient too
                return _pad_with_tensor(x, pw, constant_values)
            constant_values = constant_values.item()
        return PadConstant.apply(x, pad_width=pw, value=constant_values)
    if mode not in _INDEX_MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; expected 'constant' "
                                  f"or one of {', '.join(map(repr, _INDEX_MODES))}")
    for ax, (b, a) in enumerate(pw):
        if b or a:
            if x.shape[ax] == 0:
                raise ValueError(f"pad: cannot pad an empty axis {ax} in mode {mode!r}")
            idx = np.pad(np.arange(x.shape[ax]), (b, a), mode=mode)
            x = take(x, idx, axis=ax)
    return x


def _pad_with_tensor(x, pw, value):
    """'constant' pad with a 0-d tensor ``value`` that requires grad: ``where`` over a mask
    of the padded area, so the value gets the sum of the gradient there (cast to ``x``'s
    dtype first, as NumPy's assignment casts it)."""
    from .elementwise import where

    if value.ndim:
        raise ValueError(f"pad: constant_values must be a number or a 0-d tensor, got shape "
                         f"{value.shape}")
    xp = xp_of(x.data)
    mask = Tensor._make(xp.pad(xp.zeros(x.shape, dtype=bool), pw, constant_values=True))
    v = value if value.dtype == x.dtype else astype(value, x.dtype)
    return where(mask, v, PadConstant.apply(x, pad_width=pw, value=0))


class Flip(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True
    view = True

    def forward(self, x, axis):
        self.axis = axis
        return xp_of(x).flip(x, axis)

    def backward(self, g):
        return (xp_of(g).flip(g, self.axis),)


def flip(x, axis=None):
    """Reverse the order of elements along ``axis`` (all axes when None).

    >>> import gpugrad as gg
    >>> flip(gg.tensor([1, 2, 3])).tolist()
    [3, 2, 1]
    """
    x = tensor_arg(x)
    return Flip.apply(x, axis=_axes(axis, x.ndim))


class Roll(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True

    def forward(self, x, shift, axis):
        self.shift, self.axis = shift, axis
        return xp_of(x).roll(x, shift, axis)

    def backward(self, g):
        s = self.shift
        back = tuple(-v for v in s) if isinstance(s, tuple) else -s
        return (xp_of(g).roll(g, back, self.axis),)


def roll(x, shift, axis=None):
    """Shift elements cyclically along ``axis`` (over the flattened tensor when None).

    >>> import gpugrad as gg
    >>> roll(gg.tensor([1, 2, 3]), 1).tolist()
    [3, 1, 2]
    """
    x = tensor_arg(x)
    if axis is not None:
        axis = tuple(_axis(a, x.ndim) for a in axis) if is_sequence(axis) else \
            _axis(axis, x.ndim)
    # NumPy computes with int(shift): 1.0, True and '1' shift by one, None is refused
    shift = tuple(int_cast(s, "roll: shift") for s in shift) if is_sequence(shift) else \
        int_cast(shift, "roll: shift")
    if isinstance(shift, tuple) and isinstance(axis, tuple) and len(shift) != len(axis) \
            and len(shift) != 1 and len(axis) != 1:
        raise ValueError(f"roll: shift {shift} and axis {axis} must have the same length")
    return Roll.apply(x, shift=shift, axis=axis)


class Tile(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True

    def forward(self, x, reps):
        self.in_shape = x.shape
        d = max(x.ndim, len(reps))
        self.xs, self.rs = (1,) * (d - x.ndim) + x.shape, (1,) * (d - len(reps)) + reps
        return xp_of(x).tile(x, reps)

    def backward(self, g):
        inter = sum(((r, s) for r, s in zip(self.rs, self.xs)), ())
        g = sum_wide(g.reshape(inter), axis=tuple(range(0, len(inter), 2)))
        return (g.reshape(self.in_shape),)


def tile(x, reps):
    """Repeat the whole tensor ``reps`` times along each axis (NumPy's ``tile``).

    >>> import gpugrad as gg
    >>> tile(gg.tensor([1, 2]), 2).tolist()
    [1, 2, 1, 2]
    """
    x = tensor_arg(x)
    reps = tuple(reps) if is_sequence(reps) else (reps,)
    if all(isinstance(r, (numbers.Number, np.generic)) and r == 1 for r in reps):
        reps = (1,) * len(reps)  # (NumPy's shortcut: any reps equal to 1, 1.0 or True)
    else:  # (booleans count, as NumPy multiplies the shape by them)
        reps = tuple(int(r) if isinstance(r, (bool, np.bool_)) else
                     axis_index(r, None, "tile: reps") for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative, got {reps}")
    return Tile.apply(x, reps=reps)


class Repeat(_NoSave):
    """Each element repeated ``r`` times along ``axis`` (integer ``r``)."""
    complex_grad = True  # linear in its input: g passes unconjugated

    twice_differentiable = True

    def forward(self, x, repeats, axis):
        self.in_shape, self.r, self.axis = x.shape, repeats, axis
        return xp_of(x).repeat(x, repeats, axis)

    def backward(self, g):
        s, ax = self.in_shape, self.axis
        return (sum_wide(g.reshape(s[:ax] + (s[ax], self.r) + s[ax + 1:]), axis=ax + 1),)


def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times (an int, or one count per element along ``axis``).

    >>> import gpugrad as gg
    >>> repeat(gg.tensor([1, 2]), [1, 3]).tolist()
    [1, 2, 2, 2]
    """
    x = tensor_arg(x)
    if axis is None:
        x, axis = ravel(x), 0
    ax = _axis(axis, x.ndim, strict=True)
    n = x.shape[ax]
    reps = repeat_counts(repeats)
    if reps.ndim > 1:
        raise TypeError(f"repeat: repeats must be an int or a 1-D sequence of ints, got "
                        f"{repeats!r}")
    if (reps < 0).any():
        raise ValueError(f"repeat: repeats must be non-negative, got {repeats!r}")
    if reps.size == 1:
        return Repeat.apply(x, repeats=int(reps.reshape(())), axis=ax)
    if reps.size != n:
        raise ValueError(f"repeat: expected 1 or {n} repeat counts for axis {ax} of size {n}, "
                         f"got {reps.size}")
    return take(x, np.repeat(np.arange(n), reps), axis=ax)


# ================================================================ copies, casts, devices
class Copy(_NoSave):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True

    def forward(self, x, order="C"):
        return x.copy(order)

    def backward(self, g):
        return (g,)


_COPY_ORDERS = ("C", "F", "A", "K")


def copy(x, order="C"):
    """A differentiable copy that owns its memory, laid out in ``order`` as NumPy's
    ``ndarray.copy(order)``: 'C' (row-major), 'F' (column-major), 'A' ('F' for a
    Fortran-contiguous, not C-contiguous ``x``), 'K' (the axes in ``x``'s memory order).
    ValueError for another ``order``.

    >>> import gpugrad as gg
    >>> a = gg.tensor([1.0]); b = copy(a); b.data is a.data
    False
    >>> copy(gg.zeros((2, 3)), "F").data.flags.f_contiguous
    True
    """
    if order == "C":
        return Copy.apply(tensor_arg(x))
    if order not in _COPY_ORDERS:
        raise ValueError(f"copy: order must be one of 'C', 'F', 'A', 'K', got {order!r}")
    return Copy.apply(tensor_arg(x), order=order)


class Astype(_NoSave):
    twice_differentiable = True
    complex_grad = True  # the cast's gradient cast back (the real part for a real input)

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (cast_grad(g, self.in_dtype),)


class _AstypeNoGrad(Astype):
    differentiable = False


def astype(x, dtype):
    """Cast to ``dtype`` (a copy).  Float-to-float casts are differentiable (the gradient is
    cast back); casts to integer or bool dtypes give a tensor that does not require grad.

    >>> import gpugrad as gg
    >>> x = gg.tensor([1.5], requires_grad=True)
    >>> astype(x, "float64").requires_grad, astype(x, "int64").requires_grad
    (True, False)
    """
    x = tensor_arg(x)
    dt = dtypes.as_dtype(dtype)
    grad = dt.kind in "fc" or dtypes.is_floating(dt)  # is_floating: bfloat16 too
    return (Astype if grad else _AstypeNoGrad).apply(x, dtype=dt)


class ToDevice(_NoSave):
    twice_differentiable = True

    def forward(self, x, device):
        self.src = array_device(x)
        return backend.to_device(x, device)

    def backward(self, g):
        if isinstance(g, Tensor):  # create_graph: the move back is a node too
            return (to_device(g, self.src),)
        return (backend.to_device(g, self.src),)


def to_device(x, device):
    """Move ``x`` to ``device`` ('cpu', 'cuda', 'cuda:1', a Device); the gradient moves back.
    Returns ``x`` itself when it is already there.

    >>> import gpugrad as gg
    >>> t = gg.tensor([1.0]); to_device(t, "cpu") is t
    True
    """
    x = tensor_arg(x)
    dev = backend.device(device)
    if x.device == dev:
        return x
    return ToDevice.apply(x, device=dev)

