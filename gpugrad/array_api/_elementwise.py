"""Array API elementwise functions: ``f(x, /)`` and ``f(x1, x2, /)``, from gpugrad.numpy.

Rounding functions keep integer dtypes, as the standard requires.

>>> import gpugrad.array_api as xp
>>> xp.pow(xp.asarray([2.0]), xp.asarray([3.0])).tolist()
[8.0]
"""
from __future__ import annotations

import numpy as _np

from .. import numpy as _gnp
from .. import ops as _ops
from ..backend import get_array_module

__all__ = []

_UNARY = {"abs": "absolute", "acos": "arccos", "acosh": "arccosh", "asin": "arcsin",
          "asinh": "arcsinh", "atan": "arctan", "atanh": "arctanh", "bitwise_invert": "invert",
          "conj": "conj", "cos": "cos", "cosh": "cosh", "exp": "exp",
          "imag": "imag", "isfinite": "isfinite", "isinf": "isinf", "isnan": "isnan",
          "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
          "logical_not": "logical_not", "negative": "negative", "positive": "positive",
          "real": "real", "sign": "sign", "signbit": "signbit", "sin": "sin", "sinh": "sinh",
          "square": "square", "sqrt": "sqrt", "tan": "tan"}
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


def expm1(x, /):
    """Array API ``expm1``: ``exp(x) - 1``, computed accurately near zero (NumPy's
    ``expm1``).  Complex inputs that are zero or have an infinite or NaN part take the
    standard's special values (2023.12, ``expm1``), which are ``exp(x) - 1``'s, where NumPy's
    ``expm1`` gives ``nan+nanj`` (``expm1(inf+0j)`` is ``inf+0j``, ``expm1(-inf+1j)`` is
    ``-1+0j``) or ``-0+0j`` for ``-0+0j`` (the standard: ``+0+0j``).  The gradient is
    ``exp(x)`` in both branches.

    >>> import gpugrad.array_api as xp
    >>> xp.expm1(xp.asarray([complex("inf"), 0j])).tolist()
    [(inf+0j), 0j]
    """
    t = _gnp._core.tensor(x)
    if t.dtype.kind != "c":
        return _gnp.expm1(t)
    special = _gnp.logical_or(_gnp.logical_not(_gnp.isfinite(t)), t == 0)
    with _np.errstate(invalid="ignore", over="ignore"):
        return _gnp.where(special, _gnp.exp(t) - 1, _gnp.expm1(t))


__all__.append("expm1")


def tanh(x, /):
    """Array API ``tanh`` (NumPy's).  For a complex input with an infinite real part and a
    finite imaginary part ``b`` the answer is ``+-1 + 0j`` with the zero's sign taken from
    ``b``, as the standard gives it (2023.12: ``tanh(+inf + bj)`` is ``1 + 0j`` for finite
    ``b > 0``; ``tanh`` is odd and commutes with conjugation), where NumPy follows C99's
    ``1 + 0j*sin(2b)`` and gives ``1 - 0j`` for ``b = 2``.  The gradient there is 0, as it
    is of NumPy's answer.

    >>> import gpugrad.array_api as xp
    >>> xp.tanh(xp.asarray([complex("inf") + 2j])).tolist()
    [(1+0j)]
    """
    t = _gnp._core.tensor(x)
    y = _gnp.tanh(t)
    if t.dtype.kind != "c":
        return y
    edge = _gnp.logical_and(_gnp.isinf(_gnp.real(t)), _gnp.isfinite(_gnp.imag(t)))
    if not bool(_gnp.any(edge)):
        return y
    d = t.data                       # the limit is a constant (tanh' is 0 there)
    xp = get_array_module(d)
    limit = xp.empty(d.shape, y.dtype)
    limit.real, limit.imag = xp.sign(d.real), xp.copysign(xp.zeros_like(d.imag), d.imag)
    return _gnp.where(edge, limit, y)


__all__.append("tanh")
