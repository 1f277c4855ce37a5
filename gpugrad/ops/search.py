"""Non-differentiable array calls whose answers depend on values (often their shapes too):
``nonzero``, ``argwhere``, ``flatnonzero`` and :func:`values_call` for any such NumPy/CuPy
call (``unique``, ``searchsorted``, ``isin``, ``bincount`` ...).

Each runs as a graph node without a gradient, so a captured step (:func:`gpugrad.compile`)
computes it again at each replay from the replay's arrays, as it does ``x[mask]``; a result
whose shape follows the values makes a CUDA replay run call by call.

>>> import gpugrad as gg
>>> from gpugrad.ops.search import nonzero, flatnonzero
>>> [i.tolist() for i in nonzero(gg.tensor([[0, 1], [2, 0]]))]
[[0, 1], [1, 0]]
>>> flatnonzero(gg.tensor([0.0, 3.0, 0.0, 1.0])).tolist()
[1, 3]
"""
from __future__ import annotations

import numpy as np

from .. import capture_hooks
from ..autograd import Function
from ..backend import get_array_module
from ..node_record import is_array as _is_array
from ..tensor import Tensor
from ..zero_d import scalar_tensor
from ._util import tensor_arg

__all__ = ["values_call", "nonzero", "argwhere", "flatnonzero"]


class ValuesCall(Function):
    """``fn(xp, *arrays)`` (its item ``part`` when not None); no gradient."""

    differentiable = False

    def forward(self, *arrays, fn, part):
        xp = get_array_module(*[a for a in arrays if _is_array(a)])
        r = fn(xp, *arrays)
        return r if part is None else r[part]


def values_call(fn, *args):
    """``fn(xp, *raw_args)`` on the raw arrays of ``args`` (Tensors, arrays, numbers),
    its array results wrapped as Tensors without a gradient; a tuple result gives a tuple.

    Eagerly this is one plain call.  While a captured step is being recorded, each result
    is a graph node the replay computes again (non-array results become 0-d tensors, so
    they are replayed too); ``fn`` must then depend only on its arguments.

    >>> import gpugrad as gg
    >>> values_call(lambda xp, a: xp.unique(a, return_counts=True), gg.tensor([2, 1, 2]))[1]
    tensor([1, 2])
    """
    raw = [a.data if isinstance(a, Tensor) else a for a in args]
    r = fn(get_array_module(*[a for a in raw if _is_array(a)]), *raw)
    if not capture_hooks.is_recording():
        return _wrap(r)
    parts = range(len(r)) if isinstance(r, tuple) else (None,)
    out = tuple(ValuesCall.apply(*args, fn=fn, part=i) for i in parts)
    capture_hooks.value_shaped()
    return out if isinstance(r, tuple) else out[0]


def _wrap(r):
    if isinstance(r, tuple):
        return tuple(_wrap(v) for v in r)
    if _is_array(r):
        return Tensor._make(r)
    if isinstance(r, list):
        return [_wrap(v) for v in r]
    if isinstance(r, np.generic):
        return scalar_tensor(r)
    return r


def _not_0d(x, name):
    x = tensor_arg(x)
    if x.ndim == 0:
        raise ValueError(f"{name}: calling nonzero on 0d arrays is not allowed; use "
                         f"atleast_1d(x).nonzero()")
    return x


def nonzero(x):
    """Indices (int64) of the nonzero elements of ``x``: a tuple, one 1-D tensor per axis,
    in C order.  ValueError for a 0-d ``x`` (as NumPy).

    >>> import gpugrad as gg
    >>> nonzero(gg.tensor([0, 3, 0, 4]))[0].tolist()
    [1, 3]
    """
    return values_call(lambda xp, v: tuple(xp.nonzero(v)), _not_0d(x, "nonzero"))


def argwhere(x):
    """Indices (int64) of the nonzero elements, one row each: shape ``(n, x.ndim)``.

    >>> import gpugrad as gg
    >>> argwhere(gg.tensor([[0, 1], [1, 0]])).tolist()
    [[0, 1], [1, 0]]
    """
    return values_call(lambda xp, v: xp.argwhere(v), tensor_arg(x))


def flatnonzero(x):
    """Indices (int64) of the nonzero elements of ``x`` raveled: shape ``(n,)``.

    >>> import gpugrad as gg
    >>> flatnonzero(gg.tensor([[0, 1], [1, 0]])).tolist()
    [1, 2]
    """
    return values_call(lambda xp, v: xp.flatnonzero(v), tensor_arg(x))
