"""Memory a tensor shares with an array the caller holds: a NumPy (or CuPy) array used as an
operand (``x * c``, ``M @ x``, ``np.where(mask, x, 0)``) or wrapped without a copy
(``gpugrad.numpy.asarray(a)``, ``as_tensor``, ``from_numpy``).

The caller may write into such an array with NumPy itself -- a scratch buffer refilled in a
loop, ``c[...] = ...`` -- which no version counter sees, and two tensors made on the same
array count versions apart.  A node that read the memory and read it again at backward
would then compute the gradient of the new values, silently.  So a tensor made on a
caller's array counts versions on a :class:`Borrowed` counter (views of it share it), and a
node recorded on such a tensor -- one whose backward reads it and that takes no gradient for
it -- runs its forward on a private copy (:func:`private_inputs`): what it reads at backward
is the value its forward read, as NumPy's semantics say.  A tensor that takes a gradient
(a leaf made on a caller's array) keeps its memory: the gradient has to reach it.  A step
:func:`gpugrad.compile` records keeps the memory too (a replay reads its own values).

>>> import numpy as np, gpugrad as gg
>>> c = np.array([1.0, 2.0]); x = gg.tensor([3.0, 4.0], dtype="float64", requires_grad=True)
>>> y = (x * c).sum(); c[...] = 100.0          # NumPy's own write after the op
>>> y.backward(); x.grad.tolist()
[1.0, 2.0]
"""
from __future__ import annotations

from . import capture_hooks
from .tensor import Tensor, _wrap

__all__ = ["Borrowed", "borrow", "private_inputs"]


class Borrowed(list):
    """The version counter (``Tensor._vc``: ``[version, logged writes...]``) of a tensor made
    on memory that a caller's array holds."""
    __slots__ = ()


def borrow(arr) -> Tensor:
    """A tensor of array ``arr`` (NumPy or CuPy, a plain array of a supported dtype), sharing
    its memory, which the caller may still write: no copy is made.

    >>> import numpy as np
    >>> a = np.zeros(2); t = borrow(a); a[0] = 5.0; t.tolist()
    [5.0, 0.0]
    """
    t = _wrap(arr)
    t._vc = Borrowed((0,))
    return t


def private_inputs(node, args, arrays, needs):
    """``(args, arrays)`` for recording ``node`` (whose forward has not run): each input whose
    tensor counts versions on a :class:`Borrowed` counter, that ``node`` reads at backward
    (``saved_inputs``) and takes no gradient for, replaced by a constant tensor of a copy of
    its array.  The same lists when there is none, or while gpugrad.compile records."""
    if capture_hooks._on:
        return args, arrays
    found = [i for i, a in enumerate(args) if not needs[i] and isinstance(a, Tensor)
             and type(a._vc) is Borrowed]
    if not found:
        return args, arrays
    try:
        read = set(node.saved_inputs(needs))
    except AttributeError:   # (an op that tells after its forward ran: every input)
        read = set(found)
    found = [i for i in found if i in read]
    if not found:
        return args, arrays
    swap, arrays = list(args), list(arrays)
    for i in found:
        arrays[i] = arrays[i].copy()
        swap[i] = _wrap(arrays[i])
    return tuple(swap), arrays
