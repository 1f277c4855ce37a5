"""Array API elementwise functions: ``f(x, /)`` and ``f(x1, x2, /)``, from gpugrad.numpy.

Rounding functions keep integer dtypes, as the standard requires.

>>> import gpugrad.array_api as xp
>>> xp.pow(xp.asarray([2.0]), xp.asarray([3.0])).tolist()
[8.0]
"""
from __future__ import annotations

from .. import numpy as _gnp
from .. import ops as _ops

__all__ = []

_UNARY = {"abs": "absolute", "acos": "arccos", "acosh": "arccosh", "asin": "arcsin",
          "asinh": "arcsinh", "atan": "arctan", "atanh": "arctanh", "bitwise_invert": "invert",
          "conj": "conj", "cos": "cos", "cosh": "cosh", "exp": "exp", "expm1": "expm1",
          "imag": "imag", "isfinite": "isfinite", "isinf": "isinf", "isnan": "isnan",
          "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
          "logical_not": "logical_not", "negative": "negative", "positive": "positive",
          "real": "real", "sign": "sign", "signbit": "signbit", "sin": "sin", "sinh": "sinh",
          "square": "square", "sqrt": "sqrt", "tan": "tan", "tanh": "tanh"}
_BINARY = {"add": "add", "atan2": "arctan2", "bitwise_and": "bitwise_and",
           "bitwise_left_shift": "left_shift", "bitwise_or": "bitwise_or",
           "bitwise_right_shift": "right_shift", "bitwise_xor": "bitwise_xor",
           "copysign": "copysign", "divide": "divide", "equal": "equal",
           "floor_divide": "floor_divide", "greater": "greater", "greater_equal": "greater_equal",
           "hypot": "hypot", "less": "less", "less_equal": "less_equal",
           "logaddexp": "logaddexp", "logical_and": "logical_and", "logical_or": "logical_or",
           "logical_xor": "logical_xor", "maximum": "maximum", "minimum": "minimum",
           "multiply": "multiply", "not_equal": "not_equal", "pow": "power",
           "remainder": "remainder", "subtract": "subtract"}


def _doc(name, target, n):
    ints = name.startswith("bitwise")
    arg = "xp.asarray([1, 2])" if ints else (
        "xp.asarray([1.5, 2.0])" if name == "acosh" else "xp.asarray([0.5, 0.25])")
    return (f"Array API ``{name}`` (NumPy's ``{target}``).\n\n>>> import gpugrad.array_api as xp"
            f"\n>>> xp.{name}({', '.join([arg] * n)}).shape\n(2,)\n")


def _make1(name, target):
    impl = getattr(_gnp, target)

    def f(x, /):
        return impl(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = _doc(name, target, 1)
    return f


def _make2(name, target):
    impl = getattr(_gnp, target)

    def f(x1, x2, /):
        return impl(x1, x2)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = _doc(name, target, 2)
    return f


for _n, _tg in _UNARY.items():
    globals()[_n] = _make1(_n, _tg)
    __all__.append(_n)
for _n, _tg in _BINARY.items():
    globals()[_n] = _make2(_n, _tg)
    __all__.append(_n)


def _rounding(name):
    impl = getattr(_gnp, "rint" if name == "round" else name)

    def f(x, /):
        t = _gnp._core.tensor(x)
        if t.dtype.kind in "biu":
            return _ops.copy(t)
        return impl(t)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"Array API ``{name}``: integer input is returned unchanged (a copy); the "
                 f"gradient is zero.\n\n>>> import gpugrad.array_api as xp\n>>> xp.{name}("
                 f"xp.asarray([1.5])).shape\n(1,)\n")
    return f


for _n in ("ceil", "floor", "trunc", "round"):
    globals()[_n] = _rounding(_n)
    __all__.append(_n)


def clip(x, /, min=None, max=None):
    """Clamp to [min, max] (either may be None, a number or an array).

    >>> import gpugrad.array_api as xp
    >>> xp.clip(xp.asarray([-1.0, 2.0]), min=0.0, max=1.0).tolist()
    [0.0, 1.0]
    """
    t = _gnp._core.tensor(x)
    if min is None and max is None:
        return _ops.copy(t)
    r = _gnp.clip(t, min, max)
    return r.astype(t.dtype) if r.dtype != t.dtype else r


__all__.append("clip")
