"""Elementwise functions (NumPy's ufuncs) with ``out=`` and ``dtype=``, differentiable
where NumPy's are; float functions of integer input compute in NumPy's float dtype.

>>> import gpugrad.numpy as gnp
>>> gnp.exp(gnp.array([0.0, 1.0])).round(3).tolist()
[1.0, 2.718]
"""
from __future__ import annotations

import math

import numpy as _np

from .. import ops
from ..tensor import Tensor
from . import _core as C

__all__ = []


def _ufunc(name, impl, nin, floats=False, doc_in="[0.5, 0.25]"):
    def fn(*args, out=None, where=True, dtype=None, casting="same_kind", order="K",
           subok=True, signature=None):
        if len(args) != nin:
            raise TypeError(f"gpugrad.numpy.{name}() takes {nin} positional argument(s), got "
                            f"{len(args)}")
        C.unsupported(name, where=(where, True), casting=(casting, "same_kind"),
                      order=(order, "K"), signature=(signature, None))
        xs = C.operands(args)
        if dtype is not None:
            dt = C.dtype(dtype)
            xs = [x.astype(dt) if isinstance(x, Tensor) and x.dtype != dt else x for x in xs]
        if floats:
            xs = [C.to_float(x) for x in xs]
        if not any(isinstance(x, Tensor) for x in xs):
            xs[0] = C.tensor(xs[0])
        return C.out(impl(*xs), out, name)
    fn.__name__ = fn.__qualname__ = name
    if name in _INTS:
        doc_in = "[1, 2]"
    elif name in ("arccosh", "acosh"):
        doc_in = "[1.5, 2.0]"
    args = ", ".join(["gnp.array(" + doc_in + ")"] + ["2" if name in _INTS else "0.5"] * (nin - 1))
    fn.__doc__ = (f"NumPy's ``{name}`` elementwise ({'differentiable' if _diff(name) else 'no gradient'}).\n\n"
                  f">>> import gpugrad.numpy as gnp\n>>> gnp.{name}({args}).shape\n(2,)\n")
    globals()[name] = fn
    __all__.append(name)
    return fn


_NOGRAD = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "logical_and", "logical_or", "logical_xor", "logical_not", "floor_divide", "sign",
           "floor", "ceil", "trunc", "rint", "fix", "isfinite", "isinf", "isnan", "signbit",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "invert", "left_shift",
           "right_shift", "heaviside", "isneginf", "isposinf", "gcd", "lcm", "spacing",
           "nextafter", "bitwise_invert", "bitwise_left_shift", "bitwise_right_shift"}


_INTS = {"bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift",
         "gcd", "lcm", "floor_divide", "remainder", "fmod"}


def _diff(name):
    return name not in _NOGRAD


def _raw(fname):
    return lambda *xs: C.nograd(lambda xp, *a: getattr(xp, fname)(*a), *xs)


_DIRECT2 = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum",
            "remainder", "logaddexp", "logaddexp2", "arctan2", "hypot", "copysign", "fmod",
            "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
            "logical_and", "logical_or", "logical_xor", "floor_divide", "bitwise_and",
            "bitwise_or", "bitwise_xor"]
_FLOAT1 = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "sin",
           "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
           "arccosh", "arctanh"]
_SAME1 = ["negative", "square", "reciprocal", "sign", "floor", "ceil", "trunc", "rint",
          "logical_not", "isfinite", "isinf", "isnan", "conj", "real", "imag"]
for _n in _DIRECT2:
    _ufunc(_n, getattr(ops, _n), 2, floats=_n in ("logaddexp", "logaddexp2", "arctan2",
                                                  "hypot", "copysign"))
for _n in _FLOAT1:
    _ufunc(_n, getattr(ops, _n), 1, floats=True)
for _n in _SAME1:
    _ufunc(_n, getattr(ops, _n), 1)


def _nextafter(x1, x2):
    # one step of x1 towards x2: d/dx1 = 1, d/dx2 = 0 (kept in the graph for a traced x1)
    r = C.nograd(lambda xp, a, b: xp.nextafter(a, b), x1, x2)
    if not C.traced(x1):
        return r
    x = C.tensor(x1)
    x = ops.where(ops.isfinite(x.detach()), x, 0.0)
    return ops.subtract(r, ops.subtract(x.detach(), x))  # r - (+0.0): r exactly, -0.0 too


def _heaviside(x1, x2):
    # 0 below 0, 1 above it, x2 at 0: the gradient reaches x2 where x1 == 0
    r = C.nograd(lambda xp, a, b: xp.heaviside(a, b), x1, x2)
    if not C.traced(x2):
        return r
    return ops.where(ops.equal(C.raw(x1), 0), ops.astype(C.tensor(x2, r), r.dtype), r)


for _n in ("left_shift", "right_shift", "gcd", "lcm"):
    _ufunc(_n, _raw(_n), 2)
_ufunc("nextafter", _nextafter, 2)
_ufunc("heaviside", _heaviside, 2)
for _n in ("signbit", "spacing", "invert"):
    _ufunc(_n, _raw(_n), 1)


def _absolute(x):
    return ops.abs(x)


def _positive(x):
    return ops.copy(x)


def _float_power(a, b):
    # float64, or complex128 when either operand is complex (NumPy's float_power)
    cplx = any(_np.iscomplexobj(v) if not isinstance(v, Tensor) else v.dtype.kind == "c"
               for v in (a, b))
    dt = _np.complex128 if cplx else _np.float64
    a = a.astype(dt) if isinstance(a, Tensor) else a
    b = b.astype(dt) if isinstance(b, Tensor) else b
    return ops.power(C.tensor(a) if not isinstance(a, Tensor) and not isinstance(b, Tensor)
                     else a, b)


def _true_divide(a, b):
    return ops.divide(a, b)


def _deg2rad(x):
    return ops.multiply(x, math.pi / 180)


def _rad2deg(x):
    return ops.multiply(x, 180 / math.pi)


def _fmax(a, b):  # ignores NaNs: the other operand wins
    return ops.where(ops.isnan(C.tensor(b, a)), a, ops.where(ops.isnan(C.tensor(a, b)), b,
                                                             ops.maximum(a, b)))


def _fmin(a, b):
    return ops.where(ops.isnan(C.tensor(b, a)), a, ops.where(ops.isnan(C.tensor(a, b)), b,
                                                             ops.minimum(a, b)))


def _fix(x):
    return ops.trunc(x)


def _sinc(x):
    px = ops.multiply(x, math.pi)
    safe = ops.where(ops.equal(x, 0), 1.0, px)
    return ops.where(ops.equal(x, 0), 1.0, ops.divide(ops.sin(safe), safe))


def _isneginf(x):
    return ops.logical_and(ops.isinf(x), ops.less(x, 0))


def _isposinf(x):
    return ops.logical_and(ops.isinf(x), ops.greater(x, 0))


for _n, _f, _k, _fl in [("absolute", _absolute, 1, False), ("positive", _positive, 1, False),
                        ("float_power", _float_power, 2, False),
                        ("true_divide", _true_divide, 2, False),
                        ("deg2rad", _deg2rad, 1, True), ("radians", _deg2rad, 1, True),
                        ("rad2deg", _rad2deg, 1, True), ("degrees", _rad2deg, 1, True),
                        ("fmax", _fmax, 2, False), ("fmin", _fmin, 2, False),
                        ("fix", _fix, 1, False), ("sinc", _sinc, 1, True),
                        ("isneginf", _isneginf, 1, False), ("isposinf", _isposinf, 1, False)]:
    _ufunc(_n, _f, _k, floats=_fl)

# NumPy's other names for the same functions (NumPy 2 includes the array-API spellings)
_ALIASES = {"abs": "absolute", "fabs": "absolute", "mod": "remainder", "pow": "power",
            "conjugate": "conj", "bitwise_not": "invert", "bitwise_invert": "invert",
            "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift",
            "acos": "arccos", "asin": "arcsin", "atan": "arctan", "acosh": "arccosh",
            "asinh": "arcsinh", "atanh": "arctanh", "atan2": "arctan2"}
for _a, _t in _ALIASES.items():
    globals()[_a] = globals()[_t]
    __all__.append(_a)


def round(a, decimals=0, out=None):
    """Round half to even to ``decimals`` places (zero gradient).

    >>> import gpugrad.numpy as gnp
    >>> gnp.round(gnp.array([1.25, 2.5]), 1).tolist()
    [1.2, 2.5]
    """
    return C.out(ops.round(C.tensor(a), decimals), out, "round")


around = round


def clip(a, a_min=C._NOVALUE, a_max=C._NOVALUE, out=None, *, min=C._NOVALUE, max=C._NOVALUE,
         **kwargs):
    """Limit values to [a_min, a_max] (either may be None or an array); the gradient passes
    where the input was inside.

    >>> import gpugrad.numpy as gnp
    >>> gnp.clip(gnp.array([-1.0, 0.5, 3.0]), 0, 1).tolist()
    [0.0, 0.5, 1.0]
    """
    lo = min if a_min is C._NOVALUE else a_min
    hi = max if a_max is C._NOVALUE else a_max
    lo = None if lo is C._NOVALUE else lo
    hi = None if hi is C._NOVALUE else hi
    if kwargs:
        raise NotImplementedError(f"gpugrad.numpy.clip: {sorted(kwargs)} not supported")
    x = C.tensor(a)
    if lo is None and hi is None:
        return C.out(ops.copy(x), out, "clip")
    lo = C.operand(lo, x) if lo is not None else None
    hi = C.operand(hi, x) if hi is not None else None
    return C.out(ops.clip(x, lo, hi), out, "clip")


def where(condition, x=None, y=None):
    """``x`` where ``condition`` holds, else ``y`` (differentiable in x and y); with only a
    condition, the indices of its nonzero elements (``nonzero``).

    >>> import gpugrad.numpy as gnp
    >>> gnp.where(gnp.array([True, False]), gnp.array([1.0, 2.0]), 0.0).tolist()
    [1.0, 0.0]
    """
    if x is None and y is None:
        from ._manip import nonzero

        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: either both or neither of x and y should be given")
    c, a, b = C.operands([condition, x, y])
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = C.tensor(a, c if isinstance(c, Tensor) else None)
    return ops.where(c, a, b)


def divmod(a, b, out=None):
    """``(floor_divide(a, b), remainder(a, b))``.

    >>> import gpugrad.numpy as gnp
    >>> [t.tolist() for t in gnp.divmod(gnp.array([7.0]), 2)]
    [[3.0], [1.0]]
    """
    if out is not None:
        raise NotImplementedError("gpugrad.numpy.divmod: out= is not supported")
    return floor_divide(a, b), remainder(a, b)  # noqa: F821 -- made by _ufunc


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise closeness test (no gradient).

    >>> import gpugrad.numpy as gnp
    >>> gnp.isclose(gnp.array([1.0, 2.0]), 1.0).tolist()
    [True, False]
    """
    return C.nograd(lambda xp, x, y: xp.asarray(xp.isclose(x, y, rtol, atol, equal_nan)), a, b)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element is close (a Python bool).

    >>> import gpugrad.numpy as gnp
    >>> gnp.allclose(gnp.array([1.0]), [1.0 + 1e-9])
    True
    """
    return bool(isclose(a, b, rtol, atol, equal_nan).data.all())


def array_equal(a1, a2, equal_nan=False):
    """True when the arrays have one shape and equal elements.

    >>> import gpugrad.numpy as gnp
    >>> gnp.array_equal(gnp.array([1, 2]), [1, 2])
    True
    """
    x, y = C.tensor(a1), C.tensor(a2)
    if x.shape != y.shape:
        return False
    return bool(C.nograd(lambda xp, p, q: xp.asarray(xp.array_equal(p, q, equal_nan=equal_nan)),
                         x, y).data)


__all__ += ["round", "around", "clip", "where", "divmod", "isclose", "allclose", "array_equal"]
