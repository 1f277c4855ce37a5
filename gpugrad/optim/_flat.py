"""Flat buffers: all parameters of one (device, dtype) as views into one contiguous array.

An optimizer lays its parameters out in one data buffer and one gradient buffer per device
and dtype (in parameter-group order, so each group's parameters of that key form one
contiguous range); state buffers (momentum, Adam moments) share the layout.  The fused
update kernels then make one pass over a range instead of one small op per parameter.
"""
from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["FlatBuffer"]


class FlatBuffer:
    """Parameters ``params`` (all of one device and dtype) packed into flat arrays.

    ``data[offsets[i]:offsets[i+1]]`` holds parameter i; ``views[i]`` / ``grad_views[i]``
    are its data and gradient reshaped to the parameter's shape; state buffers are made on
    demand by :meth:`state`.

    >>> import gpugrad as gg
    >>> ps = [gg.nn.Parameter(gg.ones(2, 2)), gg.nn.Parameter(gg.zeros(3))]
    >>> fb = FlatBuffer(ps)
    >>> fb.data.shape, ps[0].data.base is fb.data
    ((7,), True)
    """

    def __init__(self, params):
        first = params[0]
        self.device = first.device
        self.dtype = first.dtype
        self.xp = self.device.xp
        self.params = list(params)
        self.index = {id(p): i for i, p in enumerate(self.params)}
        sizes = [int(p.data.size) for p in self.params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).tolist()
        total = self.offsets[-1]
        with self.device._activated():
            self.data = self.xp.empty(total, self.dtype)
            self.grad = self.xp.zeros(total, self.dtype)
        self.views, self.grad_views = [], []
        self._state = {}
        for i, p in enumerate(self.params):
            lo, hi = self.offsets[i], self.offsets[i + 1]
            view = self.data[lo:hi].reshape(p.shape)
            self.xp.copyto(view, p.data)
            p.data = view
            gview = self.grad[lo:hi].reshape(p.shape)
            self.views.append(view)
            self.grad_views.append(gview)
            if hasattr(p, "_grad_view"):
                p._grad_view = gview
            if p.grad is not None:
                self.xp.copyto(gview, p.grad.data)
                p.grad = _wrap(gview)

    def span(self, i):
        """(lo, hi) of parameter i in the flat arrays."""
        return self.offsets[i], self.offsets[i + 1]

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

    def sync(self, i):
        """Make parameter i's data the flat view again if it was rebound; error if it moved."""
        p, view = self.params[i], self.views[i]
        if p.data is view:
            return
        d = p.data
        if (tuple(d.shape) != tuple(view.shape) or d.dtype != view.dtype
                or backend.array_device(d) != self.device):
            raise RuntimeError(
                f"a parameter of shape {tuple(view.shape)} changed to {tuple(d.shape)} "
                f"{d.dtype} on {backend.array_device(d)} after the optimizer was created (it "
                f"holds {self.dtype} on {self.device}); create the optimizer after "
                f"model.to(device/dtype)")
        self.xp.copyto(view, d)
        p.data = view

    def take_grad(self, i) -> bool:
        """Put parameter i's gradient into the flat gradient buffer; False when it has none."""
        p, gview = self.params[i], self.grad_views[i]
        g = p.grad
        if g is None:
            return False
        if g.data is not gview:
            if tuple(g.shape) != tuple(gview.shape):
                raise RuntimeError(f"a gradient of shape {tuple(g.shape)} was assigned to a "
                                   f"parameter of shape {tuple(gview.shape)}")
            self.xp.copyto(gview, backend.to_device(g.data, self.device), casting="unsafe")
            p.grad = _wrap(gview)
        return True


def _wrap(arr):
    from ..tensor import Tensor

    return Tensor._make(arr)
