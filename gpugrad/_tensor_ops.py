"""Operators and methods of :class:`gpugrad.Tensor`, bound to the op set.

>>> import gpugrad as gg
>>> (gg.tensor([1.0, 2.0]) * 2 + 1).tolist()
[3.0, 5.0]
"""
from __future__ import annotations

import numpy as np

from . import ops
from .array_subclasses import own_arithmetic
from .ops._fast import fast_matmul, fast_op
from .ops._order import order_arg
from .tensor import Tensor


def _swap(fn):
    return lambda self, other: fn(other, self)


def _T(self):
    return ops.transpose(self)


def _mT(self):
    return ops.swapaxes(self, -1, -2)


def _reshape(self, *shape, order="C", copy=None):
    """The elements in a new shape (NumPy's ``a.reshape(shape, order=, copy=)``: a view
    where NumPy gives one; ``copy=True`` always copies, ``copy=False`` raises ValueError
    when a copy is needed).  ``order`` takes NumPy's spellings ('C', 'F', 'A', None, ...).

    >>> import gpugrad as gg
    >>> gg.arange(6).reshape(2, 3, order="F").tolist()
    [[0, 2, 4], [1, 3, 5]]
    """
    r = ops.reshape(self, *shape, order=order) if order != "C" else ops.reshape(self, *shape)
    if copy is None:
        return r
    if copy:
        return ops.copy(r)
    if not _shares_memory(r, self):
        raise ValueError("reshape: copy=False but the new shape needs a copy")
    return r


def _shares_memory(r, x):
    """True when ``r``'s array is a view into ``x``'s memory (or is it)."""
    base = r.data.base if r.data.base is not None else r.data
    return r.data is x.data or base is x.data or (x.data.base is not None and
                                                  base is x.data.base)


def _view(self, *args, dtype=None):
    """PyTorch's ``view(*shape)`` (see :meth:`reshape`), or, given a dtype (NumPy's and
    PyTorch's ``view(dtype)``), the same memory read as ``dtype``: a view sharing ``self``'s
    version counter, with no gradient (RuntimeError for a tensor in a recorded graph).
    A different itemsize rescales the last axis, as NumPy's.  With no argument, a view of
    the same dtype (NumPy's ``a.view()``).

    >>> import gpugrad as gg
    >>> gg.tensor([1.0], dtype="float64").view(gg.int64).tolist()
    [4607182418800017408]
    """
    if dtype is None and len(args) == 1 and _is_dtype_spec(args[0]):
        dtype = args[0]
    elif dtype is not None and args:
        raise TypeError(f"view: expected a shape or a dtype, got both {args!r} and "
                        f"dtype={dtype!r}")
    if dtype is None:
        return ops.reshape(self, *args) if args else ops.reshape(self, self.shape)
    return _view_as(self, dtype)


def _is_dtype_spec(a) -> bool:
    if isinstance(a, (np.dtype, str)):
        return True
    if isinstance(a, type):
        if issubclass(a, np.ndarray):
            raise TypeError(f"view: an ndarray subclass ({a.__name__}) is not supported on a "
                            f"tensor; use .numpy().view({a.__name__})")
        return True
    return False


def _view_as(self, dtype):
    from . import dtypes
    from .grad_mode import is_grad_enabled

    dt = dtypes.as_dtype(dtype)
    if self.requires_grad and is_grad_enabled():
        raise RuntimeError(f"view({dt.name}): a reinterpretation of the bytes has no "
                           f"gradient, and this tensor requires grad; use "
                           f".detach().view({dt.name}) (or run under gpugrad.no_grad())")
    r = Tensor._make(self.data.view(dt))
    r._vc = self._vc  # a write through either is a write to both
    return r


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    elif len(axes) == 1 and getattr(axes[0], "ndim", 0) == 1:  # an integer array of axes
        axes = tuple(axes[0].tolist())
    if len(axes) == 2 and self.ndim != 2:  # torch style: x.transpose(0, 1) swaps two axes
        return ops.swapaxes(self, *axes)
    return ops.transpose(self, axes or None)


def _permute(self, *axes):
    return ops.permute(self, *axes)


def _expand(self, *shape):
    return ops.expand(self, *shape)


def _unsqueeze(self, axis):
    return ops.expand_dims(self, axis)


def _pos(self):
    """``+t``: a new tensor (a differentiable copy), as NumPy's ``positive``; NumPy has no
    bool loop for it, so a bool tensor is a TypeError."""
    if self.dtype.kind == "b":
        raise TypeError("unary +: expected a numeric tensor, got dtype bool (NumPy's "
                        "'positive' has no bool loop); use .copy()")
    return ops.copy(self)


def _flatten(self, start_dim=0, end_dim=-1, order="C"):
    """A 1-D copy of the elements (NumPy's ``a.flatten(order)``: always a copy, also of a
    0-d or one-element tensor; ``order`` in NumPy's spellings), or, given integer
    ``start_dim``/``end_dim``, axes merged as PyTorch's ``flatten`` (also a copy here).

    >>> import gpugrad as gg
    >>> gg.tensor([[1, 2], [3, 4]]).flatten("F").tolist()
    [1, 3, 2, 4]
    """
    if not hasattr(start_dim, "__index__"):      # NumPy's positional order (an integer is
        start_dim, order = 0, start_dim          # PyTorch's start_dim)
    order = order_arg(order, "C")
    if start_dim == 0 and end_dim == -1:           # NumPy's flatten: its ravel, copied
        return ops.copy(ops.ravel(self, order) if self.ndim else ops.reshape(self, (1,)))
    x = ops.transpose(self) if order == "F" else self
    return ops.copy(ops.flatten(x, start_dim, end_dim))


def _matmul(a, b):
    r = fast_matmul(a, b)  # plain NumPy-backed operands: NumPy's matmul directly
    if r is not None:
        return r
    if own_arithmetic(a) or own_arithmetic(b):
        return NotImplemented
    return ops.matmul(a, b)


def _defer(fn):
    """Binary operator ``fn``, answering NotImplemented when an operand is an ndarray
    subclass with arithmetic of its own (``numpy.matrix``, masked arrays): Python then
    calls that operand's reflected operator, as ndarray's operators let it (``t * M`` is
    the matrix product).  Only the slow path asks: the fast one takes tensors and numbers."""
    def f(a, b):
        if own_arithmetic(a) or own_arithmetic(b):
            return NotImplemented
        return fn(a, b)
    f.__name__, f.__qualname__, f.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    return f


def _fast_operator(name, reflected=False, slow=None):
    """:func:`fast` for an operator (``reflected``: ``__radd__`` and the like): its slow
    path (``slow``, ``ops.<name>`` by default) defers as :func:`_defer` says."""
    return fast_op(name, _defer(slow or getattr(ops, name)), True, reflected)


def fast(name):
    """``ops.<name>``, with its no-graph fast path for NumPy-backed operands where it has
    one (:func:`gpugrad.ops._fast.fast_op`).

    >>> fast("add") is not ops.add
    True
    """
    return fast_op(name, getattr(ops, name))


def _dot(a, b):
    """``a.dot(b)``: :func:`gpugrad.ops.dot` (NumPy's ``ndarray.dot``), with NumPy's own
    ``dot`` called directly for plain NumPy-backed operands."""
    r = fast_matmul(a, b, np.dot)
    return ops.dot(a, b) if r is None else r


def _split(self, indices_or_sections, axis=0):
    return ops.split(self, indices_or_sections, axis)


def _bitwise(op_name, logical_name):
    """``&``, ``|``, ``^``: logical on bool operands, bitwise on integers (as NumPy)."""
    def f(a, b):
        kinds = {t.dtype.kind for t in (a, b) if isinstance(t, Tensor)}
        if kinds <= {"b"} and not any(isinstance(v, int) and not isinstance(v, bool)
                                      for v in (a, b)):
            return getattr(ops, logical_name)(a, b)
        return getattr(ops, op_name)(a, b)
    f.__name__ = op_name
    return f


def _invert(self):
    return ops.logical_not(self) if self.dtype.kind == "b" else ops.invert(self)


# sequence * 0-d integer tensor is a repeat, as with NumPy's integer scalar: Python falls
# back to the sequence's own repeat, which takes the count through Tensor.__index__; any other
# 0-d tensor (bool, float, complex) times a sequence is NumPy's scalar's TypeError (a 0-d
# tensor plays NumPy's scalar here, as its integer repeat does; a tensor with dimensions
# times a list stays elementwise)
_SEQUENCES = (list, tuple, str, bytes, bytearray)


def _repeats(a, b):
    """True when ``a * b`` is a sequence ``b`` repeated by a 0-d integer tensor ``a``;
    TypeError for a 0-d tensor of another dtype."""
    if not (isinstance(a, Tensor) and isinstance(b, _SEQUENCES) and a.data.ndim == 0):
        return False
    if a.data.dtype.kind not in "iu":
        raise TypeError(f"can't multiply sequence by non-int of type 'Tensor' (0-d, dtype "
                        f"{a.data.dtype.name}), as with NumPy's scalars: only a 0-d integer "
                        f"tensor repeats a sequence; for elementwise products make the "
                        f"sequence an array first (gpugrad.numpy.asarray(seq))")
    return True


def _multiply(a, b):
    """``ops.multiply``, or NotImplemented for a sequence times a 0-d integer tensor (the
    operators' slow path: the fast one takes only tensors and numbers)."""
    if _repeats(a, b) or _repeats(b, a):
        return NotImplemented
    return ops.multiply(a, b)


def _divmod(a, b):
    """``divmod(a, b)``: ``(a // b, a % b)``, as NumPy's ``divmod``.

    >>> import gpugrad as gg
    >>> [t.tolist() for t in divmod(gg.tensor([5.0, -5.0]), 3)]
    [[1.0, -2.0], [2.0, 1.0]]
    """
    return BINARY["__floordiv__"](a, b), BINARY["__mod__"](a, b)


def _compare(fn, fill):
    """``==``/``!=``; against None, a str or bytes (values no tensor holds) every element
    compares unequal, as in NumPy 2: an all-``fill`` bool tensor of the tensor's shape."""
    def f(a, b):
        if b is None or isinstance(b, (str, bytes)):
            from .creation import full_like

            return full_like(a, fill, dtype=bool)
        return fn(a, b)
    f.__name__, f.__doc__ = fn.__name__, fn.__doc__
    return f


AND = _bitwise("bitwise_and", "logical_and")
OR = _bitwise("bitwise_or", "logical_or")
XOR = _bitwise("bitwise_xor", "logical_xor")

BINARY = {
    "__add__": _fast_operator("add"), "__sub__": _fast_operator("subtract"),
    "__mul__": _fast_operator("multiply", slow=_multiply),
    "__truediv__": _fast_operator("divide"), "__pow__": _fast_operator("power"),
    "__matmul__": _matmul, "__mod__": _fast_operator("remainder"),
    "__floordiv__": _fast_operator("floor_divide"), "__divmod__": _defer(_divmod),
    "__eq__": _fast_operator("equal", slow=_compare(ops.equal, False)),
    "__ne__": _fast_operator("not_equal", slow=_compare(ops.not_equal, True)),
    "__lt__": _fast_operator("less"), "__le__": _fast_operator("less_equal"),
    "__gt__": _fast_operator("greater"), "__ge__": _fast_operator("greater_equal"),
    "__and__": _defer(AND), "__or__": _defer(OR), "__xor__": _defer(XOR),
}
# (called as (self, other): the fast ones swap the operands themselves, the rest through _swap)
REFLECTED = {
    "__radd__": _fast_operator("add", True), "__rsub__": _fast_operator("subtract", True),
    "__rmul__": _fast_operator("multiply", True, _multiply),
    "__rtruediv__": _fast_operator("divide", True), "__rpow__": _fast_operator("power", True),
    "__rmod__": _fast_operator("remainder", True),
    "__rfloordiv__": _fast_operator("floor_divide", True),
}
SWAPPED = {"__rmatmul__": _matmul, "__rdivmod__": _defer(_divmod), "__rand__": _defer(AND),
           "__ror__": _defer(OR), "__rxor__": _defer(XOR)}
UNARY = {"__neg__": fast_op("negative", ops.negative, True),
         "__abs__": fast_op("abs", ops.abs, True), "__pos__": _pos,
         "__invert__": _invert}

# methods that take the tensor first and forward the rest unchanged
METHODS = [
    "exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square", "abs", "sign", "sin",
    "cos", "tan", "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "silu", "softplus",
    "maximum", "minimum", "reciprocal", "floor", "ceil", "logsumexp",
    "squeeze", "ravel", "swapaxes", "moveaxis", "broadcast_to",
    "expand_dims", "flip", "roll", "repeat", "tile", "softmax", "log_softmax",
    "outer", "isnan", "isinf", "isfinite",
]  # (the reductions, clip, round, take, dot: NumPy's signatures, _tensor_reductions.py)


def install(Tensor):
    """Attach operators and op methods to ``Tensor``."""
    for name, fn in BINARY.items():
        setattr(Tensor, name, fn)
    for name, fn in REFLECTED.items():
        setattr(Tensor, name, fn)
    for name, fn in SWAPPED.items():
        setattr(Tensor, name, _swap(fn))
    for name, fn in UNARY.items():
        setattr(Tensor, name, fn)
    for name in METHODS:
        if getattr(ops, name, None) is not None:
            setattr(Tensor, name, fast(name))
    Tensor.T = property(_T)
    Tensor.mT = property(_mT)
    Tensor.reshape = _reshape
    Tensor.view = _view
    Tensor.transpose = _transpose
    Tensor.permute = _permute
    Tensor.expand = _expand
    Tensor.unsqueeze = _unsqueeze
    Tensor.matmul = _matmul
    Tensor.split = _split
    Tensor.flatten = _flatten
    from ._array_methods import install as install_array_methods

    install_array_methods(Tensor)  # NumPy's ndarray methods (copy, flat, fill, put, ...)
    from ._tensor_reductions import install as install_reductions

    install_reductions(Tensor)  # sum, mean, max, cumsum, clip, ... with NumPy's keywords
