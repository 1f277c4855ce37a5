"""Flat buffers: all parameters of one (device, dtype) as views into one contiguous array.

An optimizer lays its parameters out in one data buffer and one gradient buffer per device
and dtype (in parameter-group order, so each group's parameters of that key form one
contiguous range); state buffers (momentum, Adam moments) share the layout.  The fused
update kernels then make one pass over a range instead of one small op per parameter.
On CUDA each parameter starts ``ALIGN`` (256) bytes into the buffer times a whole number, as
cuBLAS's fastest (TMA-based) Hopper kernels want their operands aligned; the gaps start as
zeros and nothing reads them (an update may leave NaN there: Adam's 0 / (0 + eps) when eps
rounds to 0 in float16).  On the CPU parameters are packed back to back.

The gradient buffer is reused step after step, yet a ``.grad`` the user kept must keep its
values (PyTorch's contract).  When a parameter's ``.grad`` is retired (set to None or to
another tensor; see :class:`~gpugrad.nn.Parameter`), a kept gradient Tensor gets a copy of
its own slice, and if anything else still holds the memory -- the array, a view of it, a
view of the buffer -- every gradient view moves to a fresh buffer and the old one is left
to its holders.  Whether anything is held is a reference count, so a step where nothing
is kept copies nothing.

With ``gpugrad.autocast_state.fused_copies = True`` (off by default: it trusts that only
gpugrad writes the weights), a buffer of float32 weights under autocast also keeps their
16-bit copies (:class:`LowMirror`: one flat float16 or bfloat16 array in the same layout),
which the fused optimizer step writes in the same pass as the weights; autocast then reads a
parameter's copy from it while it is current (see :meth:`FlatBuffer.low_view`).  By default
autocast casts each parameter once per autocast region, as PyTorch does.
"""
from __future__ import annotations

import sys
import weakref

import numpy as np

from .. import autocast_state, backend

__all__ = ["FlatBuffer"]


class FlatBuffer:
    """Parameters ``params`` (all of one device and dtype) packed into flat arrays.

    ``data[lo:hi]`` with ``lo, hi = span(i)`` holds parameter i (on CUDA ``lo`` is a multiple
    of ``ALIGN`` bytes); ``views[i]`` / ``grad_views[i]`` are its data and gradient reshaped
    to the parameter's shape; state buffers are made on demand by :meth:`state`.

    >>> import gpugrad as gg
    >>> ps = [gg.nn.Parameter(gg.ones(2, 2)), gg.nn.Parameter(gg.zeros(3))]
    >>> fb = FlatBuffer(ps)
    >>> fb.span(1), fb.data.shape, ps[0].data.base is fb.data
    ((4, 7), (7,), True)
    """

    def __init__(self, params):
        first = params[0]
        self.device = first.device
        self.dtype = first.dtype
        self.xp = self.device.xp
        self.params = list(params)
        self.index = {id(p): i for i, p in enumerate(self.params)}
        itemsize = np.dtype(self.dtype).itemsize
        self.starts, self.ends = aligned_layout([int(p.data.size) for p in self.params],
                                                itemsize, ALIGN if self.device.type == "cuda"
                                                else itemsize)
        total = self.ends[-1]
        with self.device._activated():
            self.data = self.xp.zeros(total, self.dtype)          # zeros: the gaps stay 0
            self.views = []
            self._state = {}
            for i, p in enumerate(self.params):
                lo, hi = self.span(i)
                view = self.data[lo:hi].reshape(p.shape)
                self.xp.copyto(view, p.data)
                p.data = view
                self.views.append(view)
            self._fresh_grad()    # gradients already there are copied in by the first step
        self.low = None           # the 16-bit copies (a LowMirror), made when autocast asks
        self._counts = None       # step counts on the device (GradScaler's in-kernel skip)
        self.count_token = None
        for p in self.params:
            autocast_state.set_low_home(p, self)

    def _fresh_grad(self):
        """A new zeroed gradient buffer; every parameter's gradient view moves into it."""
        with self.device._activated():
            self.grad = self.xp.zeros(self.ends[-1], self.dtype)
        self.grad_views = []
        home = weakref.ref(self)
        for i, p in enumerate(self.params):
            lo, hi = self.span(i)
            gview = self.grad[lo:hi].reshape(p.shape)
            self.grad_views.append(gview)
            if hasattr(p, "_grad_view"):          # a Parameter: autograd writes into it
                p._grad_view = gview
                p._grad_home = home
        self._grad_refs = sys.getrefcount(self.grad)    # the buffer and its views

    def grad_retired(self, p) -> None:
        """Parameter ``p``'s gradient left its view (its ``.grad`` was set to something
        else) and the view will be written again: if the old gradient's memory is still
        held anywhere -- the view's array, or any view of the buffer -- move all gradient
        views to a fresh buffer and leave the old one to its holders (gradients still
        installed stay where they are until the next step copies them in)."""
        i = self.index.get(id(p))
        if i is None:
            return
        view = self.grad_views[i]
        if p._grad_view is view and (sys.getrefcount(view) > _NAME_REFS + 2   # list, slot
                                     or sys.getrefcount(self.grad) > self._grad_refs):
            del view
            self._fresh_grad()

    def clear_grads(self) -> None:
        """``p.grad = None`` for every parameter (``Optimizer.zero_grad``): the rule of
        :class:`~gpugrad.nn.Parameter` for a retired gradient, with the buffer's memory
        checked once for all parameters instead of once per parameter."""
        retired = False
        for p, view in zip(self.params, self.grad_views):
            g = p.grad
            if g is None:
                continue
            object.__setattr__(p, "grad", None)       # past Parameter's one-by-one check
            if g.data is view and getattr(p, "_grad_view", None) is view:
                retired = True
                if sys.getrefcount(g) > _NAME_REFS:   # the old Tensor is held: its own copy
                    with self.device._activated():
                        g.data = view.copy()
            g = None
        del view
        if retired and self._grad_held():
            self._fresh_grad()

    def _grad_held(self) -> bool:
        """Whether anything but this buffer and its parameters holds a gradient view or
        any view of the gradient buffer."""
        for i, p in enumerate(self.params):
            view = self.grad_views[i]
            ours = 2 if getattr(p, "_grad_view", None) is view else 1  # the list, the slot
            if sys.getrefcount(view) > _NAME_REFS + ours:
                return True
        return sys.getrefcount(self.grad) > self._grad_refs

    def span(self, i):
        """(lo, hi) of parameter i in the flat arrays."""
        return self.starts[i], self.ends[i]

    def state(self, name):
        """The flat state buffer ``name`` (zeros when first asked for)."""
        buf = self._state.get(name)
        if buf is None:
            with self.device._activated():
                buf = self._state[name] = self.xp.zeros(self.data.shape, self.dtype)
        return buf

    def state_view(self, name, i):
        """Parameter i's slice of state buffer ``name``, in the parameter's shape."""
        lo, hi = self.span(i)
        return self.state(name)[lo:hi].reshape(self.params[i].shape)

    def check_step(self, idx, describe):
        """Check parameters ``idx`` for a step, writing nothing: each one's data is still
        its flat view (or an array of the same shape, dtype and device put in its place),
        each gradient is None or a floating Tensor of the parameter's shape on its device.
        Returns ``(members, pending)``: the indices with a gradient, and those whose data
        or gradient must be copied into the flat buffers first (usually none: the check
        is two identity tests per parameter).  ``describe(param)`` names a parameter in
        errors: RuntimeError for a shape or device, TypeError for a type or dtype.
        """
        params, views, gviews = self.params, self.views, self.grad_views
        members, pending = [], []
        for i in idx:
            p = params[i]
            moved = p.data is not views[i]
            if moved:
                self._check_data(i, describe)
            g = p.grad
            if g is None:
                if moved:
                    pending.append(i)
                continue
            members.append(i)
            if moved or getattr(g, "data", None) is not gviews[i]:
                self._check_grad(i, g, describe)
                pending.append(i)
        return members, pending

    def _check_data(self, i, describe):
        p, view = self.params[i], self.views[i]
        d = p.data
        if (tuple(d.shape) != tuple(view.shape) or d.dtype != view.dtype
                or backend.array_device(d) != self.device):
            raise RuntimeError(
                f"{describe(p)}: a parameter of shape {tuple(view.shape)} changed to "
                f"{tuple(d.shape)} {d.dtype} on {backend.array_device(d)} after the optimizer "
                f"was created (it holds {self.dtype} on {self.device}); create the optimizer "
                f"after model.to(device/dtype)")

    def _check_grad(self, i, g, describe):
        from ..tensor import Tensor

        p, shape = self.params[i], tuple(self.views[i].shape)
        if not isinstance(g, Tensor):
            raise TypeError(f"{describe(p)}: expected .grad to be None or a Tensor, got "
                            f"{type(g).__name__}")
        d = g.data
        if d.dtype.kind != "f":
            raise TypeError(f"{describe(p)}: expected a floating gradient for a {self.dtype} "
                            f"parameter, got dtype {d.dtype}")
        if tuple(d.shape) != shape:
            raise RuntimeError(f"{describe(p)}: a gradient of shape {tuple(d.shape)} was "
                               f"assigned to a parameter of shape {shape}")
        if backend.array_device(d) != self.device:
            raise RuntimeError(f"{describe(p)}: a gradient on {backend.array_device(d)} was "
                               f"assigned to a parameter on {self.device}; expected the "
                               f"same device")

    def sync(self, i, describe=None):
        """Make parameter i's data the flat view again if it was rebound; error if it moved
        (as :meth:`check_step`)."""
        p, view = self.params[i], self.views[i]
        if p.data is view:
            return
        self._check_data(i, describe or _shape_of)
        self.xp.copyto(view, p.data)
        p.data = view
        if self.low is not None:
            self.low.ver[i] = None            # new values: the 16-bit copy is stale

    def take_grad(self, i, describe=None) -> bool:
        """Put parameter i's gradient into the flat gradient buffer; False when it has none.
        A gradient from outside the buffer is checked as :meth:`check_step` checks it."""
        p = self.params[i]
        g = p.grad
        if g is None:
            return False
        if getattr(g, "data", None) is self.grad_views[i]:
            return True
        self._check_grad(i, g, describe or _shape_of)
        gview = self.grad_views[i]
        ours = 2 if getattr(p, "_grad_view", None) is gview else 1
        if sys.getrefcount(gview) > _NAME_REFS + ours:   # an old gradient array is still out
            del gview
            self._fresh_grad()
            gview = self.grad_views[i]
        self.xp.copyto(gview, g.data, casting="same_kind")
        if hasattr(p, "_grad_view"):
            # a Parameter's .grad now lives in the buffer; its retirement is watched (a
            # plain tensor keeps its own gradient, which is copied in at every step)
            p.grad = _wrap(gview)
        return True


    # ------------------------------------------------ 16-bit copies and device step counts
    def low_view(self, p, dt):
        """Parameter ``p``'s ``dt`` (float16/bfloat16) copy as a view of the 16-bit mirror,
        cast into it only when stale (``p`` changed since other than by a fused step: its
        version counter moved, its data was rebound); None when the mirror cannot serve
        (``p``'s data is not its flat view, the buffer is not float32, bfloat16 on CUDA)."""
        i = self.index.get(id(p))
        dt = np.dtype(dt)
        if i is None or p.data is not self.views[i] or self.dtype != np.float32 or (
                dt.name == "bfloat16" and self.device.type != "cpu"):
            return None
        low = self.low
        if low is None or low.dtype != dt:
            low = self.low = LowMirror(self, dt)
        low.used = True
        if not low.current(i, p):
            if low.held():                    # an old copy is still read: leave it be
                low = self.low = LowMirror(self, dt)
                low.used = True
            with self.device._activated():
                low.views[i][...] = p.data.astype(dt)
            low.ver[i] = (p._vc, p._vc[0])
        return low.views[i]

    def low_for_step(self):
        """The 16-bit mirror the coming fused step writes, or None: dropped when autocast
        did not read it since the last step (see :meth:`low_step_done`), moved when an old
        copy is still held."""
        low = self.low
        if low is None:
            return None
        if not low.used:
            self.low = None
            return None
        if low.held():
            low = self.low = LowMirror(self, low.dtype)
            low.used = True
        return low

    def low_step_done(self) -> None:
        """An optimizer step (all its parameter groups) is over: the mirror is kept for the
        next one only if autocast reads it before."""
        if self.low is not None:
            self.low.used = False

    def step_counts(self):
        """Per-parameter step counts on the device (int64, zeros at first), and
        ``count_token``: parameters with equal tokens have equal counts."""
        if self._counts is None:
            with self.device._activated():
                self._counts = self.xp.zeros(len(self.params), np.int64)
            self.count_token = [None] * len(self.params)
        return self._counts


class LowMirror:
    """16-bit copies (float16, or ml_dtypes' bfloat16 on the CPU) of a float32 flat buffer's
    weights, in its layout: ``data`` (flat), ``views[i]`` (parameter i's shape), ``ver[i]``
    (the parameter's (version counter, version) when its copy was last written, or None)."""

    def __init__(self, flat, dtype):
        self.dtype = np.dtype(dtype)
        with flat.device._activated():
            self.data = flat.xp.zeros(flat.data.shape, self.dtype)
        self.views = [self.data[a:b].reshape(p.shape)
                      for p, a, b in zip(flat.params, flat.starts, flat.ends)]
        self.ver = [None] * len(self.views)
        self.used = False
        self._refs = sys.getrefcount(self.data)

    def current(self, i, p) -> bool:
        v = self.ver[i]
        return v is not None and v[0] is p._vc and v[1] == p._vc[0]

    def written(self, i, p, only_current=False) -> None:
        """Parameter i's copy was written by a step that moved ``p``'s version by one (with
        ``only_current``, a step that may have been skipped: a stale copy stays stale)."""
        v = self.ver[i]
        if not only_current:
            self.ver[i] = (p._vc, p._vc[0])
        elif v is not None and v[0] is p._vc and v[1] == p._vc[0] - 1:
            self.ver[i] = (p._vc, p._vc[0])
        else:
            self.ver[i] = None

    def held(self) -> bool:
        """Whether anything besides this mirror holds one of its copies (an autocast graph
        not yet run backward, a tensor kept): then a write in place would change it."""
        return (any(sys.getrefcount(v) > _NAME_REFS + 1 for v in self.views)
                or sys.getrefcount(self.data) > self._refs)


ALIGN = 256     # bytes


def aligned_layout(sizes, itemsize, align=ALIGN):
    """(starts, ends) of arrays of ``sizes`` elements packed in order into one buffer, each
    start a multiple of ``align`` bytes (``align`` a multiple of ``itemsize``).

    >>> aligned_layout([3, 0, 70, 1], 4)
    ([0, 64, 64, 192], [3, 64, 134, 193])
    """
    if align % itemsize:
        raise ValueError(f"expected an alignment that is a multiple of the item size "
                         f"{itemsize}, got {align}")
    step = align // itemsize
    starts, ends, at = [], [], 0
    for n in sizes:
        at = -(-at // step) * step
        starts.append(at)
        at += n
        ends.append(at)
    return starts, ends


def _name_refs() -> int:
    """``sys.getrefcount(name)`` of an object held by that local name alone."""
    probe = object()
    return sys.getrefcount(probe)


_NAME_REFS = _name_refs()


def _shape_of(p) -> str:
    return f"a parameter of shape {tuple(p.shape)}"


def _wrap(arr):
    from ..tensor import Tensor

    return Tensor._make(arr)
