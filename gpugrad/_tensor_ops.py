"""Operators and methods of :class:`gpugrad.Tensor`, bound to the op set.

>>> import gpugrad as gg
>>> (gg.tensor([1.0, 2.0]) * 2 + 1).tolist()
[3.0, 5.0]
"""
from __future__ import annotations

from . import ops
from .tensor import Tensor


def _swap(fn):
    return lambda self, other: fn(other, self)


def _T(self):
    return ops.transpose(self)


def _mT(self):
    return ops.swapaxes(self, -1, -2)


def _reshape(self, *shape):
    return ops.reshape(self, *shape)


def _view(self, *shape):
    return ops.reshape(self, *shape)


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
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
    return self


def _matmul(a, b):
    return ops.matmul(a, b)


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


AND = _bitwise("bitwise_and", "logical_and")
OR = _bitwise("bitwise_or", "logical_or")
XOR = _bitwise("bitwise_xor", "logical_xor")

BINARY = {
    "__add__": ops.add, "__sub__": ops.subtract, "__mul__": ops.multiply,
    "__truediv__": ops.divide, "__pow__": ops.power, "__matmul__": _matmul,
    "__mod__": ops.remainder, "__floordiv__": ops.floor_divide,
    "__eq__": ops.equal, "__ne__": ops.not_equal, "__lt__": ops.less, "__le__": ops.less_equal,
    "__gt__": ops.greater, "__ge__": ops.greater_equal,
    "__and__": AND, "__or__": OR, "__xor__": XOR,
}
REFLECTED = {
    "__radd__": ops.add, "__rsub__": ops.subtract, "__rmul__": ops.multiply,
    "__rtruediv__": ops.divide, "__rpow__": ops.power, "__rmatmul__": _matmul,
    "__rmod__": ops.remainder, "__rfloordiv__": ops.floor_divide,
    "__rand__": AND, "__ror__": OR, "__rxor__": XOR,
}
UNARY = {"__neg__": ops.negative, "__abs__": ops.abs, "__pos__": _pos,
         "__invert__": _invert}

# methods that take the tensor first and forward the rest unchanged
METHODS = [
    "exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "square", "abs", "sign", "sin",
    "cos", "tan", "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "silu", "softplus",
    "clip", "maximum", "minimum", "reciprocal", "floor", "ceil", "round", "sum", "mean",
    "var", "std", "max", "min", "prod", "logsumexp", "cumsum", "argmax", "argmin", "all",
    "any", "squeeze", "flatten", "ravel", "swapaxes", "moveaxis", "broadcast_to",
    "expand_dims", "take", "flip", "roll", "repeat", "tile", "softmax", "log_softmax",
    "dot", "outer", "isnan", "isinf", "isfinite",
]


def install(Tensor):
    """Attach operators and op methods to ``Tensor``."""
    for name, fn in BINARY.items():
        setattr(Tensor, name, fn)
    for name, fn in REFLECTED.items():
        setattr(Tensor, name, _swap(fn))
    for name, fn in UNARY.items():
        setattr(Tensor, name, fn)
    for name in METHODS:
        fn = getattr(ops, name, None)
        if fn is not None:
            setattr(Tensor, name, fn)
    Tensor.clamp = ops.clip
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
    from ._array_methods import install as install_array_methods

    install_array_methods(Tensor)  # NumPy's ndarray methods (copy, flat, fill, put, ...)
