"""``Parameter``: a tensor that a :class:`~gpugrad.nn.Module` owns and an optimizer updates.

A parameter is a leaf tensor with ``requires_grad=True``.  An optimizer may give it a
*gradient view* (a slice of one flat gradient buffer per dtype and device): the autograd
engine then writes the parameter's first gradient of a step straight into that slice, so the
fused optimizer step reads all gradients from one contiguous array with no gather.

The slice is reused step after step, but a ``.grad`` handed to the user keeps its values
(PyTorch's contract): when ``.grad`` is set to None or to another tensor, a gradient Tensor
still held elsewhere gets its own copy, and the optimizer's buffer is told (it moves to a
fresh buffer if the old memory is still held as an array or a view).  Nothing is copied
when nobody holds the old gradient.  ``zero_grad(set_to_none=False)`` zeroes the same
tensor in place and backward accumulates into it, as in PyTorch.

>>> import gpugrad as gg
>>> w = gg.nn.Parameter(gg.zeros(2, 3))
>>> w.requires_grad, w.is_leaf, w.shape
(True, True, (2, 3))
"""
from __future__ import annotations

import sys

from ..backend import array_device, get_array_module
from ..tensor import Tensor, _to_array

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A trainable tensor: a leaf that requires grad (unless told otherwise).

    ``Parameter(t)`` shares ``t``'s array (no copy), as PyTorch does; lists and NumPy data
    are copied into a new float32 (or their own floating dtype) array.

    >>> import gpugrad as gg
    >>> p = Parameter(gg.ones(2))
    >>> (p * 3).sum().backward(); p.grad
    tensor([3., 3.])
    """

    __slots__ = ("_grad_view", "_grad_home")

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            arr = _to_array([], "float32", None)
        elif isinstance(data, Tensor):
            arr = data.data
        else:
            arr = _to_array(data, None, None)
        self.data = arr
        self.grad = None
        self._node = None
        # on a tensor's memory: its version counter, so a write through either is seen
        self._vc = data._vc if isinstance(data, Tensor) else [0]
        self._hooks = None
        self._grad_view = None
        self._grad_home = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data, requires_grad=False):
        t = super()._make(data, requires_grad)
        if cls is Parameter:
            t._grad_view = None
            t._grad_home = None
        return t

    def __setattr__(self, name, value):
        if name != "grad":
            object.__setattr__(self, name, value)
            return
        old = getattr(self, "grad", None)
        object.__setattr__(self, "grad", value)
        if old is None:
            return
        view = getattr(self, "_grad_view", None)
        if (view is None or getattr(old, "data", None) is not view
                or (value is not None and getattr(value, "data", None) is view)):
            return
        # the gradient in the view was retired: the view will be written again
        del view
        if sys.getrefcount(old) > _NAME_REFS:     # the old Tensor is held: its own copy
            with array_device(old.data)._activated():
                old.data = old.data.copy()
        del old
        home = self._grad_home
        home = home() if home is not None else None
        if home is not None:
            home.grad_retired(self)               # the buffer checks its own memory
        elif sys.getrefcount(self._grad_view) > _SLOT_REFS:
            self._grad_view = None                # a view set by hand, held: drop it

    def _new_grad(self, g):
        """The first gradient of a step: written into the optimizer's flat-buffer view when
        one is assigned (and still matches), else an owned copy."""
        view = self._grad_view
        if g is view:                       # backward already wrote into the buffer
            return Tensor._make(view)
        if view is not None and view.shape == g.shape and type(view) is type(g):
            get_array_module(view).copyto(view, g)
            return Tensor._make(view)
        return Tensor._make(g.copy())

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        # keep the arrays as they are (copy.deepcopy of a GPU model stays on the GPU)
        grad = None if self.grad is None else self.grad.data
        return (_rebuild_parameter, (self.data, self.requires_grad, grad))


class _Probe:
    __slots__ = ("v",)


def _slot_refs() -> int:
    """``sys.getrefcount(obj.slot)`` of an object held by that slot alone."""
    probe = _Probe()
    probe.v = object()
    return sys.getrefcount(probe.v)


def _name_refs() -> int:
    """``sys.getrefcount(name)`` of an object held by that local name alone."""
    probe = object()
    return sys.getrefcount(probe)


_SLOT_REFS = _slot_refs()
_NAME_REFS = _name_refs()


def _rebuild_parameter(data, requires_grad, grad):
    p = Parameter(Tensor._make(data), requires_grad=requires_grad)
    p.grad = None if grad is None else Tensor._make(grad)
    return p
