"""Joining and splitting: concatenate (cat), stack, split -- each op's forward and backward
side by side (re-exported by :mod:`gpugrad.ops.shape`).

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> stack([x, x * 2]).sum().backward(); x.grad.tolist()
[3.0, 3.0]
"""
from __future__ import annotations


from ..tensor import Tensor
from ._axis_args import int_cast
from ._util import cast_grad, tensor_arg, xp_of
from .shape import _axis, _coerce, _ints, _NoSave, ravel

__all__ = ["concatenate", "cat", "stack", "split", "Concatenate", "Stack"]


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
    ax = _axis(axis, ts[0].ndim, strict=True)  # (NumPy's concatenate refuses a boolean)
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


def _has_len(v):
    """NumPy's test for split points rather than a number of sections."""
    try:
        len(v)
    except TypeError:
        return False
    return True


def split(x, indices_or_sections, axis=0):
    """Split into a list of views: N equal sections, or at the given indices (NumPy's split).

    >>> import gpugrad as gg
    >>> [p.shape for p in split(gg.zeros((5, 2)), [1, 3])]
    [(1, 2), (2, 2), (2, 2)]
    """
    x = tensor_arg(x)
    ax = _axis(axis, x.ndim)
    n = x.shape[ax]
    if not _has_len(indices_or_sections):
        # a number of sections: NumPy computes with it (1.0 and True are one section)
        k = int_cast(indices_or_sections, "split: sections")
        if k <= 0:
            raise ValueError(f"split: the number of sections must be positive, got {k}")
        if n % k or k != indices_or_sections:
            raise ValueError(f"split: axis {ax} of size {n} cannot be split into {k} equal "
                             f"sections (tensor of shape {x.shape})")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + list(_ints((indices_or_sections,), "split")) + [n]
    from .index import GetItemBasic

    head = (slice(None),) * ax
    return [GetItemBasic.apply(x, key=head + (slice(s, e), Ellipsis))
            for s, e in zip(bounds[:-1], bounds[1:])]
