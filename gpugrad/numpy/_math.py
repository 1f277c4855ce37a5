"""Elementwise functions (NumPy's ufuncs) with ``out=`` and ``dtype=``, differentiable
where NumPy's are; float functions of integer input compute in NumPy's float dtype.

>>> import gpugrad.numpy as gnp
>>> gnp.exp(gnp.array([0.0, 1.0])).round(3).tolist()
[1.0, 2.718]
"""
from __future__ import annotations

import math
import operator

import numpy as _np

from .. import ops
from ..dtypes import is_low_precision
from ..ops._fast import fast_binary, fast_unary, fast_where
from ..tensor import Tensor
from . import _core as C, _ufunc as U
from ._fallback import for_non_numeric

__all__ = []


_SAME_KIND, _K = "same_kind", "K"
_PLAIN = frozenset([Tensor, int, float, complex, bool])


def _ufunc(name, impl, nin, like=None, doc_in="[0.5, 0.25]"):
    """Make ``gpugrad.numpy.<name>``: NumPy's loop for the operands picks the dtypes (NumPy's
    ufunc ``name``, or ``like`` for functions NumPy writes in Python over one), the operands
    are cast to them and ``impl`` (an op) computes."""
    npf = getattr(_np, like or name)

    def fn(*args, out=None, where=True, dtype=None, casting=_SAME_KIND, order=_K,
           subok=True, signature=None):
        if len(args) == nin + 1:  # NumPy's output array may come positionally too
            if out is not None:
                raise TypeError(f"gpugrad.numpy.{name}(): cannot specify 'out' as both a "
                                f"positional and keyword argument")
            args, out = args[:nin], args[nin]
        elif len(args) != nin:
            raise TypeError(f"gpugrad.numpy.{name}() takes {nin} positional argument(s) and "
                            f"an optional output array, got {len(args)}")
        if where is not True or order is not _K or signature is not None:
            C.unsupported(name, order=(order, "K"), signature=(signature, None))
            if where is not True:  # (NumPy's where=: only the selected elements computed)
                from ._math_where import ufunc_where

                return ufunc_where(npf, impl, name, args, out, where, dtype, casting,
                                   numpy_own=like is None)
        xs = args if type(args[0]) in _PLAIN and (nin == 1 or type(args[1]) in _PLAIN) \
            else C.operands(args)  # (tensors and Python numbers pass as they are)
        xs, lp = U.prepare(npf, xs, dtype, casting)  # NumPy's TypeError where it has no loop
        r = impl(*xs)
        if lp is not None and r.dtype != lp[nin]:
            r = r.astype(lp[nin])
        return r if out is None else C.out(r, out, name, casting)
    fn.__name__ = fn.__qualname__ = name
    if name in _INTS:
        doc_in = "[1, 2]"
    elif name in ("arccosh", "acosh"):
        doc_in = "[1.5, 2.0]"
    args = ", ".join(["gnp.array(" + doc_in + ")"] + ["2" if name in _INTS else "0.5"] * (nin - 1))
    fn.__doc__ = (f"NumPy's ``{name}`` elementwise ({'differentiable' if _diff(name) else 'no gradient'}).\n\n"
                  f">>> import gpugrad.numpy as gnp\n>>> gnp.{name}({args}).shape\n(2,)\n")
    if like is None:  # a ufunc: NumPy's own on plain NumPy-backed tensors, no keywords
        graph = name not in _NO_NODE  # (a zero gradient, as floor's, is still a node)
        fn = for_non_numeric(fn, npf, name)   # strings, objects, ...: NumPy's own answer
        fn = fast_binary(npf, fn, graph) if nin == 2 else \
            fast_unary(npf, fn, graph, "biuf" if graph else "biufc")
        fn._non_numeric = True                # (the fast path takes numbers and tensors only)
        U.make_ufunc(fn, name)
    globals()[name] = fn
    __all__.append(name)
    return fn


_NOGRAD = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "logical_and", "logical_or", "logical_xor", "logical_not", "floor_divide", "sign",
           "floor", "ceil", "trunc", "rint", "fix", "isfinite", "isinf", "isnan", "signbit",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "invert", "left_shift",
           "right_shift", "heaviside", "isneginf", "isposinf", "gcd", "lcm", "spacing",
           "nextafter", "bitwise_invert", "bitwise_left_shift", "bitwise_right_shift"}


# functions whose answer never joins a graph (comparisons, logic, integer-only results)
_NO_NODE = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
            "logical_and", "logical_or", "logical_xor", "logical_not", "floor_divide",
            "isfinite", "isinf", "isnan", "signbit", "spacing", "invert", "left_shift",
            "right_shift", "gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor"}


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
_DIRECT1 = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "sin",
            "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
            "arccosh", "arctanh", "negative", "square", "sign", "floor", "ceil", "trunc",
            "rint", "logical_not", "isfinite", "isinf", "isnan", "conj"]
for _n in _DIRECT2:
    _ufunc(_n, getattr(ops, _n), 2)
for _n in _DIRECT1:
    _ufunc(_n, getattr(ops, _n), 1)


def _reciprocal(x):  # integers: NumPy's integer 1 / x (no gradient: integer results)
    if x.dtype.kind in "biu":
        return C.nograd(lambda xp, a: xp.reciprocal(a), x)
    return ops.reciprocal(x)


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
    return ops.where(ops.equal(C.tensor(x1, r), 0), ops.astype(C.tensor(x2, r), r.dtype), r)


for _n in ("left_shift", "right_shift", "gcd", "lcm"):
    _ufunc(_n, _raw(_n), 2)
_ufunc("nextafter", _nextafter, 2)
_ufunc("heaviside", _heaviside, 2)
for _n in ("signbit", "spacing", "invert"):
    _ufunc(_n, _raw(_n), 1)
_ufunc("reciprocal", _reciprocal, 1)


def _deg2rad(x):
    if is_low_precision(x.dtype):  # (a 16-bit pi / 180 would be off by up to half an ulp)
        return ops.multiply(x.astype(_np.float32), math.pi / 180).astype(x.dtype)
    return ops.multiply(x, math.pi / 180)


def _rad2deg(x):
    # NumPy's constant is 180 / pi rounded in the loop's precision (16-bit floats run in
    # float32 and round once)
    if x.dtype.char == "f" or is_low_precision(x.dtype):
        y = ops.multiply(x.astype(_np.float32), _np.float32(180) / _np.float32(math.pi))
        return y if x.dtype.char == "f" else y.astype(x.dtype)
    return ops.multiply(x, 180 / math.pi)


def _fmax(a, b):  # ignores NaNs: the other operand wins
    return ops.where(ops.isnan(C.tensor(b, a)), a, ops.where(ops.isnan(C.tensor(a, b)), b,
                                                             ops.maximum(a, b)))


def _fmin(a, b):
    return ops.where(ops.isnan(C.tensor(b, a)), a, ops.where(ops.isnan(C.tensor(a, b)), b,
                                                             ops.minimum(a, b)))


def _isneginf(x):
    return ops.logical_and(ops.isinf(x), ops.less(x, 0))


def _isposinf(x):
    return ops.logical_and(ops.isinf(x), ops.greater(x, 0))


for _n, _f, _k, _like in [
        ("absolute", ops.abs, 1, None), ("fabs", ops.abs, 1, None),
        ("positive", ops.copy, 1, None), ("float_power", ops.power, 2, None),
        ("true_divide", ops.divide, 2, None), ("deg2rad", _deg2rad, 1, None),
        ("radians", _deg2rad, 1, None), ("rad2deg", _rad2deg, 1, None),
        ("degrees", _rad2deg, 1, None), ("fmax", _fmax, 2, None), ("fmin", _fmin, 2, None),
        # (NumPy writes these in Python over the ufunc named: its dtypes, not its methods)
        ("fix", ops.trunc, 1, "trunc"), ("isneginf", _isneginf, 1, "signbit"),
        ("isposinf", _isposinf, 1, "signbit")]:
    _ufunc(_n, _f, _k, like=_like)


def sinc(x):
    """The normalized sinc, ``sin(pi x) / (pi x)`` (1 at 0), differentiable; integer and bool
    input computes in float64, as NumPy's.

    >>> import gpugrad.numpy as gnp
    >>> gnp.sinc(gnp.array([0.0, 0.5])).round(4).tolist()
    [1.0, 0.6366]
    """
    x = C.to_float(C.tensor(x))
    low = x.dtype if is_low_precision(x.dtype) else None
    if low is not None:  # 16-bit: pi * x rounded to 16 bits would be off by several ulps
        x = x.astype(_np.float32)
    px = ops.multiply(x, math.pi)
    safe = ops.where(ops.equal(x, 0), 1.0, px)
    r = ops.where(ops.equal(x, 0), 1.0, ops.divide(ops.sin(safe), safe))
    return r if low is None else r.astype(low)  # (rounded once)


def real(val):
    """The real part: a view of the input (writes go through, as NumPy's).

    >>> import gpugrad.numpy as gnp
    >>> gnp.real(gnp.array([1 + 2j])).tolist()
    [1.0]
    >>> b = gnp.zeros(2); r = gnp.real(b); b += 1; r.tolist()
    [1.0, 1.0]
    """
    return C.tensor(val).real


def imag(val):
    """The imaginary part: a view of complex input (writes go through, as NumPy's); zeros
    of the input's dtype for real input (read-only on the CPU, as NumPy's).

    >>> import gpugrad.numpy as gnp
    >>> gnp.imag(gnp.array([1 + 2j])).tolist()
    [2.0]
    """
    return C.tensor(val).imag


__all__ += ["sinc", "real", "imag"]

# NumPy's other names for the same functions (NumPy 2 includes the array-API spellings)
_ALIASES = {"abs": "absolute", "mod": "remainder", "pow": "power",
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
    decimals = operator.index(decimals)  # (NumPy: a float is a TypeError, a bool passes)
    return C.out(ops.round(C.tensor(a), decimals), out, "rint", "same_kind")


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
        raise C.Unsupported(f"gpugrad.numpy.clip: {sorted(kwargs)} not supported")
    x = C.tensor(a)
    if lo is None and hi is None:
        return C.out(ops.copy(x), out, "clip", "same_kind")
    lo = C.operand(lo, x) if lo is not None else None
    hi = C.operand(hi, x) if hi is not None else None
    return C.out(ops.clip(x, lo, hi), out, "clip", "same_kind")


def where(condition, x=C._NOVALUE, y=C._NOVALUE):
    """``x`` where ``condition`` holds, else ``y`` (differentiable in x and y); with only a
    condition, the indices of its nonzero elements (``nonzero``).

    >>> import gpugrad.numpy as gnp
    >>> gnp.where(gnp.array([True, False]), gnp.array([1.0, 2.0]), 0.0).tolist()
    [1.0, 0.0]
    """
    if x is not C._NOVALUE and y is not C._NOVALUE:
        r = fast_where(condition, x, y)  # plain tensors and numbers: NumPy's where directly
        if r is not None:
            return r
    if x is C._NOVALUE and y is C._NOVALUE:
        from ._manip import nonzero

        return nonzero(condition)
    if x is C._NOVALUE or y is C._NOVALUE:
        raise ValueError("where: either both or neither of x and y should be given")
    for label, v in (("x", x), ("y", y)):
        if v is None:  # NumPy would make an object array, which gpugrad has no dtype for
            raise TypeError(f"where: {label} is None; expected an array or a number "
                            f"(NumPy would give an object array, which gpugrad does not "
                            f"support)")
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
        raise C.Unsupported("gpugrad.numpy.divmod: out= is not supported")
    return floor_divide(a, b), remainder(a, b)  # noqa: F821 -- made by _ufunc


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise closeness test (no gradient).

    >>> import gpugrad.numpy as gnp
    >>> gnp.isclose(gnp.array([1.0, 2.0]), 1.0).tolist()
    [True, False]
    """
    # (rtol, atol: operands too, so a tensor among them reaches NumPy as its array -- left in
    # the closure, it dispatched NumPy's isclose back here without end)
    return C.nograd(lambda xp, x, y, r, t: xp.asarray(xp.isclose(x, y, r, t, equal_nan)),
                    a, b, rtol, atol)


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
