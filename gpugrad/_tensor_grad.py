"""``Tensor.grad``: the gradient slot, checked when assigned (as PyTorch checks it).

Backward adds a leaf's gradients into its ``.grad`` in place, so a gradient the user assigns
must be one that in-place addition treats right: None, or a :class:`~gpugrad.Tensor` of the
tensor's exact shape, dtype and device, whose elements are distinct writable memory apart
from the tensor's own data (a broadcast view would sum every element into one, a read-only
array refuses the write, an alias of the data would change the tensor itself).  A gradient
that records a graph (``backward(create_graph=True)`` leaves one) is added out of place, so
only its shape, dtype and device are checked.

Errors: TypeError when the value is not a Tensor (nor None); RuntimeError naming the
tensor's shape, dtype or device and what came, for everything else.

>>> import gpugrad as gg
>>> x = gg.zeros(2, requires_grad=True)
>>> x.grad = gg.ones(2); x.grad
tensor([1., 1.])
>>> x.grad = gg.ones(3)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
RuntimeError: assigned grad has shape (3,), but the tensor has shape (2,): ...
"""
from __future__ import annotations

import operator

import numpy as np

from .backend import array_device

__all__ = ["install"]

_Tensor = None  # gpugrad.Tensor, set by install


def _overlaps(a) -> bool:
    """Whether two elements of array ``a`` may share memory (a zero stride, as of a broadcast,
    or strides that interleave).  Contiguous arrays answer at once."""
    if a.size <= 1 or a.flags.c_contiguous or a.flags.f_contiguous:
        return False
    span = a.itemsize  # bytes covered by the dimensions with the smaller strides
    for stride, n in sorted((abs(s), n) for s, n in zip(a.strides, a.shape) if n > 1):
        if stride < span:
            return True
        span += stride * (n - 1)
    return False


def check_grad(t, g) -> None:
    """Raise unless ``g`` may become tensor ``t``'s ``.grad`` (see the module's text)."""
    if not isinstance(g, _Tensor):
        raise TypeError(f"assigned grad expected to be a Tensor or None, got "
                        f"{type(g).__name__}")
    if g is t:
        raise RuntimeError("a tensor cannot be assigned as its own grad")
    d, x = g.data, t.data
    if d.shape != x.shape:
        raise RuntimeError(f"assigned grad has shape {tuple(d.shape)}, but the tensor has shape "
                           f"{tuple(x.shape)}: a gradient must have the tensor's exact shape")
    if d.dtype != x.dtype:
        raise RuntimeError(f"assigned grad has dtype {d.dtype}, but the tensor has dtype "
                           f"{x.dtype}: cast it first (g.astype('{x.dtype}'))")
    if type(d) is not type(x) or type(x) is not np.ndarray:
        if array_device(d) != array_device(x):
            raise RuntimeError(f"assigned grad is on {array_device(d)}, but the tensor is on "
                               f"{array_device(x)}: move it first (g.to('{array_device(x)}'))")
    if g.requires_grad or isinstance(d, np.generic):  # added out of place: kept as it is
        return
    what = None
    if not getattr(d.flags, "writeable", True):
        what = "is read-only"
    elif _overlaps(d):
        what = "has elements that share memory (a broadcast or zero-stride view)"
    elif d is x or (type(d) is np.ndarray and type(x) is np.ndarray
                    and np.may_share_memory(d, x) and np.shares_memory(d, x)):
        what = "shares memory with the tensor's own data"
    if what is not None:
        raise RuntimeError(f"assigned grad of shape {tuple(d.shape)} {what}; backward adds "
                           f"into .grad in place: assign a copy (g.clone())")


def _set_grad(t, g):
    if g is not None:
        check_grad(t, g)
    t._grad = g


def install(Tensor) -> None:
    """Make ``Tensor.grad`` the checked view of the ``_grad`` slot (the engine's hot paths
    read ``_grad`` itself)."""
    global _Tensor
    _Tensor = Tensor
    Tensor.grad = property(operator.attrgetter("_grad"), _set_grad, doc=(
        "The gradient accumulated by backward: None, or a Tensor of this tensor's shape, "
        "dtype and device (checked when assigned; see gpugrad._tensor_grad)."))
