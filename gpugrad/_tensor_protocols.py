"""Tensor's Python protocols -- len, iteration, truth, number conversions, hashing,
round, ``in``, ``copy.copy``, ``copy.deepcopy``, pickle -- with the meaning NumPy's arrays and
scalars give them (a 0-d tensor stands where NumPy returns a scalar: it hashes by value,
rounds, converts).  :func:`install` puts them on :class:`gpugrad.Tensor`.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from . import device_checks as _dc
from . import ops as _ops
from . import transforms as _transforms
from .grad_mode import _state as _gm

_Tensor = None   # gpugrad.Tensor, set by install()
_ndarray = np.ndarray


def _item(self):
    """``self.item()``, for one element of NumPy data read here (a call chain less; a
    synchronization point all the same: a pending check raises)."""
    d = self.data
    if type(d) is not _ndarray or d.size != 1:
        return self.item()
    if _dc._armed:
        _dc.raise_pending()
    return d.item()


def __len__(self):
    if self.data.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.data.shape[0]

def __iter__(self):
    if self.data.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(self.data.shape[0]):
        yield self[i]

def __bool__(self):
    if self.data.size != 1:
        raise ValueError(f"the truth value of a tensor with {self.data.size} elements is "
                         f"ambiguous; use .any() or .all()")
    return bool(_item(self))

def _differentiated(self):
    """True when ``self`` is being differentiated by a transform evaluating its function."""
    return self.requires_grad and getattr(_transforms._depth, "n", 0) > 0 and _gm.enabled

def _refuse_in_transform(self, what):
    """TypeError when ``self`` is being differentiated by a transform evaluating its function
    (``gg.grad``, ``value_and_grad``, ``jacobian``, ...): a Python number made from it (by
    ``what``: ``float()``, ``math.exp``, ``%f``) computes outside the graph, so the gradient
    through it would silently be zero, as HIPS autograd and JAX refuse it.  Elsewhere
    (``loss.backward()`` code) the conversion reads the value, as PyTorch's does."""
    if _differentiated(self):
        raise TypeError(
            f"{what} of a tensor being differentiated (gpugrad.grad and the other transforms) "
            f"makes a Python number outside the graph, so the gradient through it would be "
            f"lost: compute with gpugrad.numpy's functions (np.exp(x), np.sqrt(x), x * 1.0 "
            f"instead of math.exp(x), math.sqrt(x), float(x)), or read the value on purpose "
            f"with x.item() (no gradient), for printing or control flow")


def __float__(self):
    _refuse_in_transform(self, "float() (math.*, %-formatting, numpy.float64())")
    return float(_item(self))

def __int__(self):
    return int(_item(self))

def __index__(self):
    if self.data.dtype.kind not in "iu" or self.data.size != 1:
        raise TypeError(f"only one-element integer tensors can be used as an index, got "
                        f"dtype {self.data.dtype.name} shape {self.shape}")
    return int(_item(self))

def __trunc__(self):
    """``math.trunc(t)`` of a 0-d real tensor: a Python int, as of NumPy's scalars."""
    if self.data.ndim or self.data.dtype.kind == "c":
        raise TypeError(f"math.trunc() needs a 0-d real tensor, got dtype "
                        f"{self.data.dtype.name} shape {self.shape}; use trunc(t)")
    return int(self.item())

def __floor__(self):
    """``math.floor(t)``: the int, as of NumPy's float scalars (piecewise constant: no
    gradient is lost, so it reads the value also inside a transform)."""
    return math.floor(self.item())

def __ceil__(self):
    """``math.ceil(t)``: see :func:`__floor__`."""
    return math.ceil(self.item())

def __complex__(self):
    _refuse_in_transform(self, "complex() (cmath.*)")
    return complex(self.item())

def __hash__(self):
    if self.data.ndim or self.requires_grad or type(self) is not _Tensor:
        return id(self)
    v = self.item()                  # by value: see the class docstring
    return id(self) if v != v else hash(v)   # NaN: a stable hash, as NumPy's scalar's

def __round__(self, ndigits=None):
    """``round(t)``: a Python int; ``round(t, n)``: a 0-d tensor of t's dtype (NumPy's
    scalar rules; a tensor with dimensions, a bool or a complex one is a TypeError).

    >>> import gpugrad as gg
    >>> round(gg.tensor(2.5, dtype="float64")), round(gg.tensor(2.567, dtype="float64"), 2)
    (2, tensor(2.57, dtype=float64))
    """
    if self.data.ndim or self.data.dtype.kind not in "iuf" and self.data.dtype.char != "E":
        raise TypeError(f"round() needs a 0-d integer or floating tensor, got dtype "
                        f"{self.data.dtype.name} shape {self.shape}; use .round(decimals)")
    if ndigits is None:
        return round(self.item())
    return _ops.round(self, operator.index(ndigits))

def __contains__(self, value):
    """``value in t``: True when any element equals ``value`` (NumPy's rule,
    ``(t == value).any()``, broadcasting a tensor ``value``).

    >>> import gpugrad as gg
    >>> 2.0 in gg.tensor([[1.0, 2.0], [3.0, 4.0]]), 5 in gg.tensor([1, 2])
    (True, False)
    """
    return bool((self == value).any())

def __copy__(self):
    """``copy.copy(t)``: a tensor with a copy of ``t``'s data, as NumPy's
    ``ndarray.__copy__`` copies (sharing memory would let a write to one change the
    other): same type, device and ``requires_grad``, a leaf outside any graph.  A leaf's copy
    gets its own copy of ``.grad``; a tensor computed in a graph gives, as in PyTorch, a new
    leaf with ``requires_grad`` True, no ``grad_fn`` and no ``.grad`` (no backward pass
    reaches it from the tensor's inputs).  For a copy that stays in the graph use
    ``t.copy()`` or ``t.clone()``.  Inside ``gg.grad`` (and the other transforms) a tensor
    being differentiated copies as NumPy's array does, ``t.copy(order="K")``: the copy
    stays in the graph, so the gradient through it is kept.

    >>> import copy
    >>> import gpugrad as gg
    >>> a = gg.tensor([1.0, 2.0]); b = copy.copy(a); b[0] = 5.0; a.tolist()
    [1.0, 2.0]
    >>> x = gg.tensor([1.0], requires_grad=True); c = copy.copy(x * 2)
    >>> c.is_leaf, c.requires_grad, c.grad_fn is None
    (True, True, True)
    """
    import copy

    if type(self) is _Tensor and _differentiated(self):
        return _ops.copy(self, "K")
    if self._node is None:
        return copy.deepcopy(self)
    new = type(self).__new__(type(self))
    new.__setstate__(copy.deepcopy(__getstate__(self)))
    return new


def __deepcopy__(self, memo):
    """``copy.deepcopy(t)``: a leaf with its own copy of the data, ``requires_grad`` and
    ``.grad``.  Refused (RuntimeError), as by PyTorch, for a tensor computed in a graph: the
    copy would be a leaf that no backward pass connects to the tensor's inputs.  Inside
    ``gg.grad`` (and the other transforms) a tensor being differentiated copies as NumPy's
    array does (``t.copy(order="K")``, in the graph), as :func:`__copy__`.

    >>> import copy, gpugrad as gg
    >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> copy.deepcopy(x).requires_grad
    True
    >>> copy.deepcopy(x * 2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    RuntimeError: only tensors created by the user (graph leaves) support copy.deepcopy, ...
    """
    import copy

    if type(self) is _Tensor and _differentiated(self):
        new = memo[id(self)] = _ops.copy(self, "K")
        return new
    if self._node is not None:
        raise RuntimeError(
            f"only tensors created by the user (graph leaves) support copy.deepcopy, as in "
            f"PyTorch: this one was computed by {self._node.name} and requires grad, and a "
            f"copy cannot stay in its graph; use t.detach() for its values (then "
            f".requires_grad_() for a new leaf), t.clone() for a copy in the graph, or "
            f"copy.copy(t)/pickle for a new leaf that requires grad")
    func, args, *rest = self.__reduce_ex__(4)
    new = func(*copy.deepcopy(args, memo))
    memo[id(self)] = new
    state = rest[0] if rest else None
    if state is not None:
        new.__setstate__(copy.deepcopy(state, memo))
    return new


def __getstate__(self):
    """What pickle (and ``copy.copy``/``copy.deepcopy``) keep of a tensor: its array as it
    is (a GPU tensor stays on its GPU), ``requires_grad``, and for a leaf ``.grad``'s array.
    A tensor computed in a graph comes back, as in PyTorch, as a leaf that requires grad
    with no ``grad_fn`` and no ``.grad``.

    >>> import pickle, gpugrad as gg
    >>> x = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> y = pickle.loads(pickle.dumps(x * 2))
    >>> y.tolist(), y.is_leaf, y.requires_grad, y.grad is None
    ([2.0, 4.0], True, True, True)

    Inside ``gg.grad`` (and the other transforms) pickling a tensor being differentiated
    raises TypeError: the unpickled copy could not carry the gradient (as ``float(t)``).
    """
    if type(self) is _Tensor and _differentiated(self):
        raise TypeError(
            "pickle of a tensor being differentiated (gpugrad.grad and the other transforms) "
            "cannot carry its graph, so the gradient through the unpickled copy would be "
            "lost: use x.copy() (or copy.copy / copy.deepcopy, which stay in the graph), or "
            "pickle x.detach() on purpose")
    leaf = self._node is None
    return {"data": self.data, "requires_grad": self.requires_grad,
            "grad": None if not leaf or self.grad is None else self.grad.data}

def __setstate__(self, state):
    self.data = state["data"]
    self.requires_grad = state["requires_grad"]
    self.grad = None if state["grad"] is None else _Tensor._make(state["grad"])
    self._node, self._vc, self._hooks = None, [0], None


def install(Tensor):
    """Put the protocol methods on ``Tensor`` (called once, by gpugrad.tensor)."""
    global _Tensor
    _Tensor = Tensor
    Tensor.__len__ = __len__
    Tensor.__iter__ = __iter__
    Tensor.__bool__ = __bool__
    Tensor.__float__ = __float__
    Tensor.__int__ = __int__
    Tensor.__index__ = __index__
    Tensor.__complex__ = __complex__
    Tensor.__trunc__ = __trunc__
    Tensor.__floor__ = __floor__
    Tensor.__ceil__ = __ceil__
    Tensor.__hash__ = __hash__
    Tensor.__round__ = __round__
    Tensor.__contains__ = __contains__
    Tensor.__copy__ = __copy__
    Tensor.__deepcopy__ = __deepcopy__
    Tensor.__getstate__ = __getstate__
    Tensor.__setstate__ = __setstate__
