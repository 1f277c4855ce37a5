"""Indexing ops: basic and advanced getitem (scatter-add backward for repeated indices),
out-of-place setitem, take and take_along_axis.

Every backward here is itself made of graph nodes when it runs on Tensors (``create_graph``):
getitem's is a :class:`Scatter` (scatter-add where indices repeat), whose backward is a
getitem again; setitem's is a setitem of zeros and a getitem.  So any order of derivative
goes through indexing.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> getitem(x, [0, 0, 2]).sum().backward()
>>> x.grad.tolist()
[2.0, 0.0, 1.0]
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend, capture_hooks as _capture, dtypes
from ..autograd import unbroadcast
from ..backend import is_cupy_array
from ..tensor import Tensor
from ..wide_sum import add_at_wide
from .setitem_rules import numpy_value
from ._util import cast_grad, python_constant, tensor_arg, xp_of
from . import index_bounds
from .shape import (
    _axis,
    _coerce,
    _NoSave,
    ravel,
)

__all__ = ["getitem", "setitem", "take", "take_along_axis"]


# ================================================================ indexing
from .index_keys import _index_array, _prepare_key, _raw_key  # noqa: E402,F401
from .index_keys import owned_key, refuse_scalar_view  # noqa: E402


def _scatter(g, key, shape, accumulate):
    """A zeros array of ``shape`` with ``g`` written at ``key``, added where the key repeats a
    position when ``accumulate``: the adjoint of ``x[key]`` (raw arrays)."""
    xp = xp_of(g)
    gx = xp.zeros(shape, g.dtype)
    if accumulate:
        add_at_wide(xp, gx, key, g)  # 16-bit floats: added in float32
    else:
        gx[key] = g
    return gx


class GetItemBasic(_NoSave):
    """Integers, slices, None and Ellipsis: the answer is a view -- but one element picked by
    integers alone is a 0-d copy, as NumPy's scalar is; backward is a :class:`Scatter` (so
    higher orders alternate slice and scatter)."""
    complex_grad = True  # linear in its input: g passes unconjugated

    twice_differentiable = True
    view = True

    def forward(self, x, key):
        self.in_shape, self.key = x.shape, key
        out = x[key]
        if (getattr(out, "base", None) is not None and len(key) == x.ndim
                and all(type(k) is int for k in key)):
            out = out.copy()  # CuPy's x[i, j] is a 0-d view; NumPy's a scalar
        return out

    def backward(self, g):
        if isinstance(g, Tensor):
            return (Scatter.apply(g, key=self.key, shape=self.in_shape, accumulate=False,
                                  advanced=False),)
        gx = xp_of(g).zeros(self.in_shape, g.dtype)
        gx[self.key] = g
        return (gx,)


class GetItemAdvanced(_NoSave):
    """Integer or boolean arrays: a copy; backward scatter-adds (a :class:`Scatter`) so repeats
    accumulate.  A recorded node keeps its own copy of the key's arrays (``idx[0] = 2`` after
    ``y = x[idx]`` moves neither ``y`` nor its gradient: :func:`owned_key`)."""
    complex_grad = True  # linear in its input: g passes unconjugated

    twice_differentiable = True

    def forward(self, x, key, accumulate):
        self.in_shape, self.accumulate = x.shape, accumulate
        if self.needs[0]:       # recorded: backward reads the key as it is now
            key = owned_key(key)
        safe = None if type(x) is np.ndarray else \
            index_bounds.safe_read(key, x.shape, xp_of(x))  # CUDA: bad indices -> NaN
        if safe is None:
            self.saved = (key, None)
            return x[key]
        key, bad = safe
        self.saved = (key, bad)
        return index_bounds.poisoned(x[key], bad)

    def backward(self, g):
        key, bad = self.saved
        if bad is not None:   # (a bad index's gradient: NaN, not added to a wrapped row)
            g = index_bounds.poisoned(g, bad)
        if isinstance(g, Tensor):
            return (Scatter.apply(g, key=_raw_key(key), shape=self.in_shape,
                                  accumulate=self.accumulate, advanced=True, checked=True),)
        return (_scatter(g, key, self.in_shape, self.accumulate),)


class Scatter(_NoSave):
    """``zeros(shape)`` with ``g`` written (``accumulate``: added) at ``key``: the backward of
    getitem, as a node of its own so a gradient through getitem can be differentiated again.
    Its backward is the gather ``g[key]`` (a getitem node), whose backward is this again."""
    complex_grad = True  # linear in its input: g passes unconjugated

    twice_differentiable = True

    def forward(self, g, key, shape, accumulate, advanced, checked=False):
        xp, self.pad = xp_of(g), None
        safe = None if checked or not advanced or xp is np else \
            index_bounds.safe_write(key, shape, xp)
        if safe is not None:  # CUDA: a bad index's write goes to a slot past the end
            key, self.pad = safe
            shape = shape[:self.pad] + (shape[self.pad] + 1,) + shape[self.pad + 1:]
        if advanced and self.needs[0]:   # recorded: backward reads the key as it is now
            key = owned_key(key)
        self.key, self.accumulate, self.advanced = key, accumulate, advanced
        out = _scatter(g, key, shape, accumulate)
        return out if self.pad is None else index_bounds.unpadded(xp, out, self.pad)

    def backward(self, g):
        if self.pad is not None:  # the dropped writes' gradient: NaN
            g = index_bounds.pad_grad(g, self.pad)
        if not isinstance(g, Tensor):
            return (g[self.key],)
        if self.advanced:
            return (GetItemAdvanced.apply(g, key=self.key, accumulate=self.accumulate),)
        return (GetItemBasic.apply(g, key=self.key),)


def getitem(x, key):
    """``x[key]`` with NumPy semantics: basic indexing gives a view, integer/boolean arrays
    (tensors, lists, arrays) a copy whose gradient accumulates over repeated indices.

    >>> import gpugrad as gg
    >>> x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> getitem(x, [0, 0, 2]).backward(gg.ones(3))
    >>> x.grad.tolist()
    [2.0, 0.0, 1.0]
    """
    x = tensor_arg(x)
    if _capture._on and _capture.active() is not None:
        refuse_scalar_view(key, x.ndim)   # (a 0-d integer tensor key: index_keys.scalar_key)
    key, advanced, accumulate = _prepare_key(key, x.data)
    if advanced:
        return GetItemAdvanced.apply(x, key=key, accumulate=accumulate)
    return GetItemBasic.apply(x, key=key)


class SetItem(_NoSave):
    """Out of place ``x[key] = value``: a new array; ``Tensor.__setitem__`` writes it back.

    Where integer-array indices repeat a position, the last write (in C order over the
    indexing result, as NumPy does) wins, on every device, and only the surviving writes get a
    gradient.  The winners are found from element ids -- by assignment on NumPy, whose last
    write wins; by a scatter-max on CuPy, whose order of repeated writes is unspecified -- and
    every write of a position then carries its winner's value, so the answer is NumPy's
    whatever order the device writes in, and the forward and the gradient agree.  The base's
    gradient is zero exactly at the written positions.
    """
    complex_grad = True  # linear in its input: g passes unconjugated

    twice_differentiable = True

    def forward(self, x, value, key, repeats):
        self.vshape, self.vdtype = getattr(value, "shape", ()), getattr(value, "dtype", None)
        if self.needs[0] or self.needs[1]:   # recorded: backward reads the key as it is now
            key = owned_key(key)
        xp, self.pad = xp_of(x), None
        safe = None if xp is np else index_bounds.safe_write(key, x.shape, xp)
        if safe is not None:  # CUDA: a write at a bad index goes to a slot past the end
            key, self.pad = safe
            out = x = index_bounds.padded(xp, x, self.pad)
        else:
            out = x.copy()
        win = None
        if repeats and (self.needs[1] or (xp is not np and getattr(value, "size", 1) > 1)):
            sel = xp.broadcast_to(xp.zeros((), np.int8), x.shape)[key].shape
            n = int(np.prod(sel))
            itype = np.int32 if n < 2**31 else np.int64
            ids = xp.arange(n, dtype=itype).reshape(sel)
            if xp is np:
                pos = xp.full(x.shape, -1, itype)
                pos[key] = ids                    # raises IndexError before anything changes
                src = pos[key]                    # for each write, the one that survives
            else:                                 # the largest id: NumPy's last write
                at = xp.arange(x.size, dtype=np.int64).reshape(x.shape)[key]   # IndexError
                pos = xp.full(x.size, -1, itype)     # int32 (atomicMax) unless n >= 2**31
                _scatter_max(xp, pos, at.reshape(-1), ids.reshape(-1))
                src = pos[at]
            win = src == ids
            if getattr(value, "size", 1) > 1:     # repeats of one position get its winner
                value = xp.take(_broadcast_value(value, sel).reshape(-1), src)
        if win is not None and self.pad is not None:  # a dropped write's gradient: NaN
            win = win | index_bounds.in_slot(xp, x.shape, self.pad)[key]
        self.saved = (key, win)
        out[key] = value
        return out if self.pad is None else index_bounds.unpadded(xp, out, self.pad)

    def backward(self, g):
        key, win = self.saved
        if isinstance(g, Tensor):  # create_graph: the saved index arrays arrive as constants
            key = _raw_key(key)
            win = None if win is None else win.data
        if self.pad is not None:  # the dropped writes' values get NaN
            g = index_bounds.pad_grad(g, self.pad)
        gx = gv = None
        if self.needs[0]:
            gx = _zero_at(g, key)
            if self.pad is not None:
                gx = index_bounds.unpad_grad(gx, self.pad)
        if self.needs[1]:
            gv = g[key]
            if win is not None:  # only the surviving writes get a gradient
                gv = _zero_at(gv, ~win) if isinstance(gv, Tensor) else xp_of(g).where(win, gv, 0)
            if gv.ndim < len(self.vshape):
                gv = gv.reshape((1,) * (len(self.vshape) - gv.ndim) + gv.shape)
            gv = cast_grad(unbroadcast(gv, self.vshape), self.vdtype)  # (a real value: real part)
        return gx, gv


def _zero_at(g, key):
    """``g`` with zeros written at ``key`` (a copy).  On Tensors it is a :class:`SetItem` node,
    whose gradient is the same zeroing again, so every order is differentiable."""
    if isinstance(g, Tensor):
        return SetItem.apply(g, 0, key=key, repeats=False)
    out = np.array(g) if isinstance(g, np.generic) else g.copy()  # (0-d math: a NumPy scalar)
    out[key] = 0
    return out


def _broadcast_value(value, shape):
    """``value`` broadcast to the indexing result's ``shape``, as assignment broadcasts it
    (leading axes of length 1 beyond ``shape`` are dropped)."""
    extra = value.ndim - len(shape)
    if extra > 0 and all(n == 1 for n in value.shape[:extra]):
        value = value.reshape(value.shape[extra:])
    try:
        return xp_of(value).broadcast_to(value, shape)
    except ValueError:
        raise ValueError(f"setitem: a value of shape {value.shape} cannot be broadcast to "
                         f"the indexed shape {shape}") from None


def setitem(x, key, value):
    """A new tensor equal to ``x`` with ``x[key] = value`` (NumPy semantics; ``x`` untouched).
    Where integer-array indices repeat a position the last write wins, and only it gets a
    gradient.

    >>> import gpugrad as gg
    >>> setitem(gg.zeros(3), 1, 5.0).tolist()
    [0.0, 5.0, 0.0]
    >>> v = gg.tensor([10.0, 20.0], requires_grad=True)
    >>> y = setitem(gg.zeros(3), [0, 0], v)
    >>> y.sum().backward()
    >>> y.tolist(), v.grad.tolist()
    ([20.0, 0.0, 0.0], [0.0, 1.0])
    """
    x = tensor_arg(x)
    key, _, repeats = _prepare_key(key, x.data)
    if not isinstance(value, (numbers.Number, np.generic)):
        value = setitem_value(numpy_value(x.data, key, value), x)  # (setitem_rules.py)
        if not (x.dtype.kind in "fc" or dtypes.is_floating(x.dtype)):
            value = value.detach()  # a cast to integers or bools: no gradient (as astype)
    return SetItem.apply(x, value, key=key, repeats=repeats)


def _holds_tensor(v):
    return isinstance(v, Tensor) or (isinstance(v, (list, tuple))
                                     and any(_holds_tensor(e) for e in v))


def setitem_value(value, x):
    """The Tensor ``x[key] = value`` writes: a list or tuple of numbers is converted as NumPy
    converts it for the assignment, each number straight to ``x``'s dtype (so ``[0.1]`` into
    float64 stays 0.1, ``[2**40]`` into int32 raises OverflowError, never a detour through
    float32); tensors and arrays are taken as they are."""
    if isinstance(value, (list, tuple)):
        if not _holds_tensor(value):
            arr = np.asarray(value, dtype=x.dtype)
            return python_constant(Tensor._make(arr if x.device.type == "cpu" else
                                                backend.to_device(arr, x.device)))
        return _stacked(value, x)
    return _coerce(value, x)


def _stacked(value, x):
    """A list or tuple holding tensors (``x[k] = [t, 1.0]``) as one tensor, stacked level by
    level so the graph is kept, each element at ``x``'s dtype as the assignment casts it (a
    number never goes through the default float32; a complex tensor into a real ``x`` is
    left to setitem's own rule)."""
    from .join import stack
    from .layout import astype

    if isinstance(value, (list, tuple)):
        if not _holds_tensor(value):
            return setitem_value(value, x)
        return stack([_stacked(v, x) for v in value])
    if isinstance(value, Tensor):
        v = value
    elif isinstance(value, np.generic) or not hasattr(value, "shape"):  # a number
        v = setitem_value([value], x).reshape(())
    else:                                                               # an array
        v = _coerce(value, x)
    if v.dtype == x.dtype or (v.dtype.kind == "c" and x.dtype.kind != "c"):
        return v
    return astype(v, x.dtype)


def take(x, indices, axis=None):
    """Elements of ``x`` at integer ``indices`` along ``axis`` (of the flattened ``x`` when None).

    >>> import gpugrad as gg
    >>> take(gg.tensor([[1, 2], [3, 4]]), [1, 1], axis=1).tolist()
    [[2, 2], [4, 4]]
    """
    x = tensor_arg(x)
    kind = getattr(getattr(indices, "dtype", None), "kind", "i")
    if kind not in "iu":
        raise IndexError(f"take: indices must be integers, got {indices.dtype.name}")
    if axis is None:
        return getitem(ravel(x), indices)
    return getitem(x, (slice(None),) * _axis(axis, x.ndim, strict=True) + (indices,))


def take_along_axis(x, indices, axis):
    """Pick values along ``axis`` at ``indices`` of the same ndim (as argsort/argmax give).

    >>> import gpugrad as gg
    >>> take_along_axis(gg.tensor([[10, 30], [40, 20]]), gg.tensor([[1], [0]]), 1).tolist()
    [[30], [40]]
    """
    x = tensor_arg(x)
    xp = xp_of(x.data)
    idx = _index_array(indices if isinstance(indices, (Tensor, list, tuple, np.ndarray))
                       or is_cupy_array(indices) else [indices], x.data, xp)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"take_along_axis: indices must be integers, got {idx.dtype.name}")
    if axis is None:
        x, axis = ravel(x), 0
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices and tensor must have the same number of "
                         f"dimensions, got {idx.ndim} and {x.ndim}")
    ax = _axis(axis, x.ndim)

    def ramp(d, n):
        r = xp.arange(n).reshape(tuple(-1 if e == d else 1 for e in range(x.ndim)))
        if _capture._on:  # gpugrad.compile: a constant the replay makes too
            _capture.constant(lambda: xp.arange(n).reshape(r.shape), r)
        return r
    key = tuple(idx if d == ax else ramp(d, n) for d, n in enumerate(x.shape))
    if xp is not np and idx.dtype.kind in "iu":  # CuPy wraps a bad index: checked (deferred)
        index_bounds.check_values(idx, ax, x.shape[ax],
                                  indices if isinstance(indices, Tensor) else idx)
    return GetItemAdvanced.apply(x, key=key, accumulate=True)




def _scatter_max(xp, a, idx, values):
    """a[idx] = max(a[idx], values) with repeated indices (CuPy's maximum.at where it has it;
    cupyx.scatter_max, deprecated since, otherwise)."""
    at = getattr(xp.maximum, "at", None)
    if at is not None:
        at(a, idx, values)
    else:
        import cupyx
        cupyx.scatter_max(a, idx, values)
