"""``numpy.lib.stride_tricks`` on tensors: :func:`as_strided` and :func:`sliding_window_view`
give NumPy's views (the same memory, strides and ``writeable`` flag) and are differentiable:
the gradient of each input element is the sum over the view's elements that read its memory
(im2col built with either differentiates through the patches, overlapping or not).

In a recorded graph the view must read only the input's own memory (NumPy lets
``as_strided`` reach past it: the gradient would belong to memory that is no element of the
input; ValueError there).  A ``writeable`` view is writable as NumPy's, also when its input
is in a graph: a write through it re-links the input (:mod:`gpugrad.view_writeback`) --
the overlap-add ``win = sliding_window_view(y, n, writeable=True)[::hop]; win[i] += f``
writes one window at a time, each element once -- and a write that shows an element twice
(``win[0:2] += f`` over overlapping windows, which NumPy's docs warn against) raises
RuntimeError before writing, since which write wins is ambiguous.
``gpugrad.numpy.lib.stride_tricks`` holds these; its other names are NumPy's
(``broadcast_to`` and ``broadcast_arrays`` gpugrad.numpy's).  On a GPU the view is CuPy's,
which has no read-only arrays (nor a ``.base``: it is told a view by its memory).

>>> import gpugrad, gpugrad.numpy as np
>>> x = np.arange(5.0)
>>> sliding_window_view(x, 3).tolist()
[[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]
>>> gpugrad.grad(lambda x: np.sum(sliding_window_view(x, 3)))(x).tolist()
[1.0, 2.0, 3.0, 2.0, 1.0]
"""
from __future__ import annotations

import numbers

import numpy as _np

from .. import ops
from ..autograd import Function
from ..backend import array_device, to_device
from ..ops.index import Scatter
from ..tensor import Tensor
from ..wide_sum import add_at_wide
from . import _core as C

__all__ = ["as_strided", "sliding_window_view"]


def _offsets(shape, strides):
    """Byte offset of each element (C order) of an array of ``shape`` and ``strides``."""
    off = _np.zeros((), _np.int64)
    for n, s in zip(shape, strides):
        off = off[..., None] + _np.arange(n, dtype=_np.int64) * s
    return off


def _c_contiguous(shape, strides, itemsize):
    step = itemsize
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != step:
            return False
        step *= n
    return True


def positions(in_shape, in_strides, itemsize, shape, strides):
    """For each element of the view ``as_strided(x, shape, strides)`` (an array of
    ``shape``), the flat C-order index of the element of ``x`` (``in_shape``,
    ``in_strides``) whose memory it reads; ValueError where it reads memory that is no
    element of ``x``, or where elements of ``x`` share memory."""
    out = _offsets(shape, strides)
    size = int(_np.prod(in_shape))
    if size and _c_contiguous(in_shape, in_strides, itemsize):
        pos, rem = _np.divmod(out, itemsize)
        bad = (rem != 0) | (pos < 0) | (pos >= size)
    else:
        mine = _offsets(in_shape, in_strides).ravel()
        order = _np.argsort(mine, kind="stable")
        srt = mine[order]
        if srt.size > 1 and _np.any(srt[1:] == srt[:-1]):
            raise ValueError(f"as_strided of a tensor whose elements share memory (shape "
                             f"{tuple(in_shape)}, strides {tuple(in_strides)}) in a recorded "
                             f"graph: which element's gradient is ambiguous; copy it first")
        at = _np.minimum(_np.searchsorted(srt, out), max(srt.size - 1, 0))
        bad = srt[at] != out if srt.size else _np.ones(out.shape, bool)
        pos = order[at] if srt.size else _np.zeros(out.shape, _np.int64)
    if bad.any():
        i = tuple(int(k) for k in _np.argwhere(bad)[0])
        raise ValueError(f"as_strided(shape={tuple(shape)}, strides={tuple(strides)}) reads "
                         f"memory outside its input (shape {tuple(in_shape)}, strides "
                         f"{tuple(in_strides)}) at view index {i}: in a recorded graph the "
                         f"view must read only the input's own elements")
    return pos


class AsStrided(Function):
    """NumPy's ``as_strided`` view; backward adds each element of ``g`` into the input
    element whose memory it read (:func:`positions`)."""
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True
    view = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, shape, strides, writeable):
        self.in_shape, self.in_strides, self.itemsize = x.shape, x.strides, x.itemsize
        self.shape, self.strides = shape, strides
        self.pos = self._twice = None
        if any(self.needs):  # refuse at once a view the gradient cannot follow
            self._positions()
        if isinstance(x, _np.ndarray):
            return _np.lib.stride_tricks.as_strided(x, shape, strides, writeable=writeable)
        from ..backend import get_array_module
        return get_array_module(x).lib.stride_tricks.as_strided(x, shape, strides)

    def _positions(self):
        # (None after forward; absent once _release let go of it: a node re-derived as a
        # copy of this one by a write, then replayed by gpugrad.compile, computes it again)
        if getattr(self, "pos", None) is None:
            self.pos = positions(self.in_shape, self.in_strides, self.itemsize, self.shape,
                                 self.strides)
        return self.pos

    def shows_twice(self):
        """True when the view shows some element of its input more than once (overlapping
        windows); computed once."""
        if self._twice is None:
            pos = self._positions().ravel()
            self._twice = bool(pos.size) and bool(
                _np.bincount(pos).max() > 1 if pos.min() >= 0 else
                _np.unique(pos).size != pos.size)
        return self._twice

    def unique_positions(self):
        """The positions, for a write through the view into its input (see
        :mod:`gpugrad.inplace`); RuntimeError for a view showing an element twice (NumPy's
        own docs warn against writing through one: the last write would silently win).  A
        write of a part of it whose elements are distinct (one window) goes in through
        that part (:func:`gpugrad.view_writeback.commit_to_bases`)."""
        pos = self._positions()
        if self.shows_twice():
            raise RuntimeError("a write through an as_strided view that shows an element "
                               "more than once, into a tensor in a recorded graph: which "
                               "write wins is ambiguous; write into the tensor itself")
        return pos

    def backward(self, g):
        pos = self._positions()
        size = int(_np.prod(self.in_shape))
        if isinstance(g, Tensor):
            if g.device.type != "cpu":
                pos = to_device(pos, g.device)
            flat = Scatter.apply(g, key=(pos,), shape=(size,), accumulate=True, advanced=True)
            return (ops.reshape(flat, self.in_shape),)
        if not isinstance(g, _np.ndarray):
            pos = to_device(pos, array_device(g))
        if type(g) is _np.ndarray and g.dtype == _np.float64 and pos.min(initial=0) >= 0:
            # (NumPy's add.at, in the same order, many times faster)
            gx = _np.bincount(pos.ravel(), weights=g.ravel(), minlength=size)
            return (gx.reshape(self.in_shape),)
        from ..ops._util import xp_of
        xp = xp_of(g)
        gx = xp.zeros(size, g.dtype)
        add_at_wide(xp, gx, (pos,), g)
        return (gx.reshape(self.in_shape),)


def _ints(v, what):
    if isinstance(v, numbers.Integral) or getattr(v, "ndim", None) == 0:  # (a 0-d integer too)
        return (C.index(v, what),)
    return tuple(C.index(k, what) for k in v)


def as_strided(x, shape=None, strides=None, subok=False, writeable=True):
    """NumPy's ``as_strided``: a view of ``x``'s memory with the given ``shape`` and
    ``strides`` (in bytes; ``x``'s by default), differentiable (see the module)."""
    x = C.tensor(x)
    shape = x.shape if shape is None else _ints(shape, "as_strided: shape")
    strides = x.data.strides if strides is None else _ints(strides, "as_strided: strides")
    if len(shape) != len(strides):
        raise ValueError(f"as_strided: shape {shape} and strides {strides} have different "
                         f"lengths")
    return AsStrided.apply(x, shape=shape, strides=strides, writeable=bool(writeable))


def sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    """NumPy's ``sliding_window_view``: the windows of ``window_shape`` over ``axis`` (all
    axes by default), a read-only view unless ``writeable``; differentiable."""
    x = C.tensor(x)
    window_shape = _ints(window_shape, "sliding_window_view: window_shape")
    if any(w < 0 for w in window_shape):
        raise ValueError("`window_shape` cannot contain negative values")
    if axis is None:
        axis = tuple(range(x.ndim))
        if len(window_shape) != len(axis):
            raise ValueError(f"Since axis is `None`, must provide window_shape for all "
                             f"dimensions of `x`; got {len(window_shape)} window_shape "
                             f"elements and `x.ndim` is {x.ndim}.")
    else:
        axis = _np.lib.array_utils.normalize_axis_tuple(axis, x.ndim, allow_duplicate=True)
        if len(window_shape) != len(axis):
            raise ValueError(f"Must provide matching length window_shape and axis; got "
                             f"{len(window_shape)} window_shape elements and {len(axis)} "
                             f"axes elements.")
    st = x.data.strides
    out_strides = st + tuple(st[a] for a in axis)
    shape = list(x.shape)
    for a, w in zip(axis, window_shape):
        if shape[a] < w:
            raise ValueError("window shape cannot be larger than input array shape")
        shape[a] -= w - 1
    return as_strided(x, tuple(shape) + window_shape, out_strides, writeable=writeable)
