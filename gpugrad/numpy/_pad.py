"""``gpugrad.numpy.pad``: NumPy's ``pad``, differentiable in the modes gpugrad has ('constant',
with one value or per-axis ``(before, after)`` values, and the index modes 'edge', 'reflect',
'symmetric', 'wrap'); other modes and keywords ('mean', 'linear_ramp', ``stat_length``,
``reflect_type``, a function as ``mode``) are NumPy's own answer outside a recorded graph and
NotImplementedError (:class:`~gpugrad.numpy._core.Unsupported`) inside one.  A
``constant_values`` entry that is a 0-d tensor in a graph gets its gradient (the sum of the
gradient over the elements it fills).

>>> import gpugrad.numpy as gnp
>>> gnp.pad(gnp.array([1.0, 2.0]), (1, 2), constant_values=(-1, 9)).tolist()
[-1.0, 1.0, 2.0, 9.0, 9.0]
"""
from __future__ import annotations

import numpy as _np

from .. import ops
from ..ops._fast import in_graph
from ..tensor import Tensor
from . import _core as C

__all__ = ["pad"]

_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def pad(array, pad_width, mode="constant", **kwargs):
    """Pad an array: ``mode`` 'constant' (``constant_values`` one number, a ``(before,
    after)`` pair, or one pair per axis, as NumPy's), 'edge', 'reflect', 'symmetric' or
    'wrap'; differentiable.  Other modes and keywords: NumPy's answer outside a recorded
    graph, NotImplementedError inside one.

    >>> import gpugrad.numpy as gnp
    >>> gnp.pad(gnp.array([1.0]), 1).tolist()
    [0.0, 1.0, 0.0]
    """
    cv = kwargs.pop("constant_values", 0)
    if callable(mode) or mode not in _MODES or kwargs:
        what = f"mode={mode!r}" if callable(mode) or mode not in _MODES else \
            ", ".join(f"{k}=" for k in sorted(kwargs))
        raise C.Unsupported(f"gpugrad.numpy.pad: {what} is not supported; expected mode "
                            f"{', '.join(map(repr, _MODES))} (and constant_values)")
    x = C.tensor(array)
    if mode != "constant" or not isinstance(cv, (list, tuple)) and not in_graph(cv) and \
            _np.ndim(cv) == 0:
        return ops.pad(x, pad_width, mode=mode, constant_values=cv)
    return _constant_pairs(x, pad_width, cv)


def _as_pairs(values, ndim):
    """NumPy's ``_as_pairs(values, ndim)`` (one value, a ``(before, after)`` pair, or one pair
    per axis), done on the positions of the values so that 0-d tensors among them stay
    tensors: ``ndim`` pairs of values."""
    leaves = []

    def index(v):
        if isinstance(v, (list, tuple)) or getattr(v, "ndim", 0):
            return [index(u) for u in v]  # (a tensor with dimensions: its 0-d elements)
        leaves.append(v)
        return len(leaves) - 1

    ind = _np.array(index(values))
    if ind.size == 1:
        pairs = [(ind.flat[0],) * 2] * ndim
    elif ind.size == 2 and ind.shape != (2, 1):
        pairs = [(ind.flat[0], ind.flat[1])] * ndim
    else:
        pairs = _np.broadcast_to(ind, (ndim, 2)).tolist()
    return [(leaves[a], leaves[b]) for a, b in pairs]


def _constant_pairs(x, pad_width, values):
    """NumPy's 'constant' pad with ``values`` given per side (and per axis), or one value
    that is a tensor in a graph: one side of one axis at a time, in NumPy's order, so a
    corner takes the later axis' value, as NumPy's."""
    pw = _np.asarray(pad_width.numpy() if isinstance(pad_width, Tensor) else pad_width)
    try:
        pw = _np.broadcast_to(pw, (x.ndim, 2))
        vals = _as_pairs(values, x.ndim)
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} and constant_values {values!r} must "
                         f"each be one value, a (before, after) pair or one pair per "
                         f"dimension of a tensor of shape {x.shape}") from None
    if pw.dtype.kind not in "iu" or (pw < 0).any():
        raise (TypeError if pw.dtype.kind not in "iu" else ValueError)(
            f"pad: pad_width must be non-negative integers, got {pad_width!r}")
    for ax in range(x.ndim):
        for side in (0, 1):
            if pw[ax, side]:
                w = [(0, 0)] * x.ndim
                w[ax] = (int(pw[ax, 0]), 0) if side == 0 else (0, int(pw[ax, 1]))
                x = _pad_side(x, w, vals[ax][side])
    return x


def _pad_side(x, w, value):
    """``x`` padded by widths ``w`` with ``value``: a number, or a 0-d tensor (which gets its
    gradient in a graph: :func:`gpugrad.ops.pad`)."""
    if isinstance(value, Tensor) and not in_graph(value):
        value = value.item()
    return ops.pad(x, w, constant_values=value)
