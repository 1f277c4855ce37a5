"""NumPy's functions that write into their first argument -- ``copyto``, ``fill_diagonal``,
``putmask``, ``place`` and ``put`` -- as assignments to the tensor (``Tensor.__setitem__``),
so they are differentiable: the written values' gradients flow to where they came from, the
overwritten elements get none, and a node that saved the old values raises at backward
instead of reading the new ones.  Values, casting rules and errors are NumPy's (the same
assignment on the same elements); a view writes into its base.

A destination that is not a tensor (a NumPy array) takes NumPy's own function through the
non-graph fallback (:mod:`gpugrad.numpy._fallback`).

>>> import gpugrad as gg, gpugrad.numpy as gnp
>>> x = gnp.array([[1.0, 2.0], [3.0, 4.0]])
>>> w = gg.tensor([5.0, 6.0], dtype="float64", requires_grad=True)
>>> y = x * 1.0
>>> gnp.fill_diagonal(y, w)
>>> y.tolist()
[[5.0, 2.0], [3.0, 6.0]]
>>> (y * y).sum().backward(); w.grad.tolist()
[10.0, 12.0]
"""
from __future__ import annotations

import numpy as _np

from .. import backend, ops
from ..ops import flat_writes
from ..tensor import Tensor
from . import _core as C
from . import _fallback

__all__ = ["copyto", "fill_diagonal", "putmask", "place", "put"]


def _is_number(v) -> bool:
    """A Python number (NumPy's scalars are arrays to its casting rules)."""
    return isinstance(v, (int, float, complex)) and not isinstance(v, _np.generic)


def _converted(values, like):
    """``values`` as a tensor for a write into ``like``.  Python numbers, and lists or tuples
    holding no tensor, go straight to ``like``'s dtype as NumPy converts them for a write:
    OverflowError for an integer that does not fit (300 into int8 never wraps to 44),
    TypeError for a complex number into a real dtype (never a dropped imaginary part)."""
    if _is_number(values) or isinstance(values, (list, tuple)) and not C.holds_tensor(values):
        arr = _np.asarray(values, dtype=like.dtype)
        return C.const(arr if like.device.type == "cpu" else backend.to_device(arr, like.device))
    return C.tensor(values, like)


def _cycled(values, n, like):
    """The first ``n`` elements of ``values`` (raveled) repeated as often as needed, as
    NumPy's ``putmask``/``place``/``put`` repeat a short ``values`` (differentiable); None
    for empty ``values`` (NumPy's ``put``, ``putmask`` and ``fill_diagonal`` write nothing
    then)."""
    return flat_writes.cycled(_converted(values, like), n, like)


def _mask(name, mask, a):
    """``mask`` as a boolean array of ``a``'s shape (on its device); ValueError naming
    ``name`` unless it has ``a``'s size (NumPy's check: the shape may differ)."""
    m = C.tensor(mask, a)
    if m.size != a.size:
        raise ValueError(f"{name}: mask and data must be the same size, got a mask of shape "
                         f"{m.shape} for data of shape {a.shape}")
    return m.detach().data.astype(bool).reshape(a.shape)


def copyto(dst, src, casting="same_kind", where=True):
    """``dst[...] = src`` (broadcast to ``dst``'s shape) where ``where`` is true, as
    ``numpy.copyto``: TypeError when ``src``'s dtype cannot be cast to ``dst``'s under
    ``casting`` (``'same_kind'`` by default: float into an integer tensor raises).

    >>> import gpugrad.numpy as gnp
    >>> d = gnp.zeros(3); gnp.copyto(d, gnp.array([1.0, 2.0, 3.0]), where=[True, False, True])
    >>> d.tolist()
    [1.0, 0.0, 3.0]
    """
    if not isinstance(dst, Tensor):
        return _fallback.call_named("copyto", (dst, src), {"casting": casting, "where": where})
    if _is_number(src):   # NumPy's rule for a Python number: its kind is checked, then
        kind = _np.result_type(src, dst.dtype)   # its value converts straight to dst's dtype
        if not _np.can_cast(kind, dst.dtype, casting=casting):
            raise TypeError(f"Cannot cast scalar from {kind!r} to {dst.dtype!r} according "
                            f"to the rule {casting!r}")
        s = _converted(src, dst)
    else:
        s = C.tensor(src, dst)
        if not _np.can_cast(s.dtype, dst.dtype, casting=casting):
            raise TypeError(f"Cannot cast array data from {s.dtype!r} to {dst.dtype!r} "
                            f"according to the rule {casting!r}")
    s = ops.broadcast_to(s, dst.shape) if s.shape != dst.shape else s
    if where is True:
        dst[...] = s
        return None
    mask = C.tensor(where, dst)
    if mask.dtype != _np.bool_:
        raise TypeError(f"copyto: where must be booleans, got {mask.dtype}")
    mask = ops.broadcast_to(mask, dst.shape).detach().data
    dst[mask] = s[mask]
    return None


def fill_diagonal(a, val, wrap=False):
    """Write ``val`` (repeated along the diagonal when shorter) on the main diagonal of ``a``
    (2-D, or N-D with all sides equal), as ``numpy.fill_diagonal``; ``wrap`` continues the
    diagonal below a tall matrix every ``ncols + 1`` rows.  ValueError for 1-D input or
    unequal sides (N-D).

    >>> import gpugrad.numpy as gnp
    >>> a = gnp.zeros((2, 2)); gnp.fill_diagonal(a, 7.0); a.tolist()
    [[7.0, 0.0], [0.0, 7.0]]
    """
    if not isinstance(a, Tensor):
        return _fallback.call_named("fill_diagonal", (a, val), {"wrap": wrap})
    where = _np.zeros(a.shape, bool)
    _np.fill_diagonal(where, True, wrap=wrap)   # NumPy's own choice of positions and errors
    pos = _np.nonzero(where)
    v = _cycled(val, pos[0].shape[0], a)
    if v is not None:   # (empty val: NumPy writes nothing)
        a[pos] = v
    return None


def putmask(a, mask, values):
    """``a.flat[n] = values.flat[n % values.size]`` wherever ``mask.flat[n]`` is true, as
    ``numpy.putmask`` (``values`` is indexed by position in ``a``, not by count of trues;
    empty ``values`` write nothing).

    >>> import gpugrad.numpy as gnp
    >>> a = gnp.arange(4.0); gnp.putmask(a, a > 1, gnp.array([10.0, 20.0])); a.tolist()
    [0.0, 1.0, 10.0, 20.0]
    """
    if not isinstance(a, Tensor):
        return _fallback.call_named("putmask", (a, mask, values), {})
    m = _mask("putmask", mask, a)
    v = _cycled(values, a.size, a)
    if v is not None:   # (empty values: NumPy writes nothing)
        a[m] = v.reshape(a.shape)[m]
    return None


def place(arr, mask, vals):
    """The first ``k`` of ``vals`` (repeated when shorter) written where ``mask`` is true
    (``k`` trues, in C order), as ``numpy.place``; ValueError when ``vals`` is empty and
    ``mask`` has a true entry.

    >>> import gpugrad.numpy as gnp
    >>> a = gnp.arange(4.0); gnp.place(a, a > 1, [7.0]); a.tolist()
    [0.0, 1.0, 7.0, 7.0]
    """
    if not isinstance(arr, Tensor):
        return _fallback.call_named("place", (arr, mask, vals), {})
    m = _mask("place", mask, arr)
    k = int(m.sum())
    if k:
        v = _cycled(vals, k, arr)
        if v is None:
            raise ValueError(f"place: cannot insert from an empty array of values into "
                             f"{k} places where the mask is true")
        arr[m] = v
    return None


def put(a, ind, v, mode="raise"):
    """``a.flat[ind] = v`` (``v`` repeated when shorter than ``ind``; at a repeated index
    the last write stands), as ``numpy.put``.  ``mode``: ``'raise'`` (IndexError out of
    range), ``'wrap'`` or ``'clip'``.  One op with ``Tensor.put``
    (:func:`gpugrad.ops.flat_writes.put`): a tensor ``ind`` computed in a step
    :func:`gpugrad.compile` records is followed by each replay.

    >>> import gpugrad.numpy as gnp
    >>> a = gnp.zeros(4); gnp.put(a, [0, -1], [1.0, 2.0]); a.tolist()
    [1.0, 0.0, 0.0, 2.0]
    """
    if not isinstance(a, Tensor):
        return _fallback.call_named("put", (a, ind, v), {"mode": mode})
    return flat_writes.put(a, ind, v, mode)
