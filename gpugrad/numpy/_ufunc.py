"""NumPy's ufunc machinery for ``gpugrad.numpy``: the loop (and so the result dtype) NumPy 2
picks for the operands, and the ufunc attributes and methods (``nin``, ``types``,
``reduce``, ``accumulate``, ``outer``, ``at``, ``reduceat``, ``resolve_dtypes``) given to
each elementwise function.

The elementwise functions stay plain Python functions (a call costs no more than a function
call); ``isinstance(f, gpugrad.numpy.ufunc)`` is true for them and for NumPy's own ufuncs.
The methods are differentiable where an op exists -- ``add.reduce`` is ``sum``,
``multiply.reduce`` ``prod``, ``add.accumulate`` ``cumsum``, ``outer`` a broadcast call,
``add.at``/``subtract.at`` a scatter-add (repeated indices accumulate); for tensors in a
recorded graph ``maximum``/``minimum.accumulate`` (cummax/cummin), ``logaddexp.reduce``
and ``add``/``multiply``/``maximum``/``minimum.reduceat`` (see :mod:`._ufunc_methods`) --
and otherwise run NumPy's method on the raw arrays, without a graph (TypeError inside a
recorded graph).

>>> import gpugrad.numpy as gnp
>>> isinstance(gnp.add, gnp.ufunc), gnp.add.nin, gnp.add.reduce(gnp.array([1.0, 2.0])).item()
(True, 2, 3.0)
>>> gnp.multiply.outer(gnp.array([1.0, 2.0]), gnp.array([1.0, 10.0])).tolist()
[[1.0, 10.0], [2.0, 20.0]]
"""
from __future__ import annotations

import numpy as _np

from .. import backend, capture_hooks as _capture, ops
from ..dtypes import is_inexact
from ..ops import index_bounds
from ..tensor import Tensor
from . import _core as C, _fallback

__all__ = ["ufunc", "resolve", "prepare", "cast_operands", "make_ufunc"]

_BOOL = _np.dtype(bool)
_WEAK = (int, float, complex)  # Python scalars: NumPy 2's "weak" operands
_LOOPS = {}  # (ufunc, operand kinds, dtype, casting) -> NumPy's resolved loop dtypes


class _UfuncType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _np.ufunc) or getattr(obj, "_numpy_ufunc", None) is not None


class ufunc(metaclass=_UfuncType):
    """The type of ``gpugrad.numpy``'s elementwise functions, as ``numpy.ufunc``:
    ``isinstance(gnp.exp, gnp.ufunc)`` holds, and each has NumPy's attributes (``nin``,
    ``nout``, ``nargs``, ``ntypes``, ``types``, ``identity``, ``signature``) and methods
    (``reduce``, ``accumulate``, ``reduceat``, ``outer``, ``at``, ``resolve_dtypes``).
    It cannot be instantiated (nor can NumPy's).

    >>> import gpugrad.numpy as gnp
    >>> isinstance(gnp.exp, gnp.ufunc), gnp.exp.nin, gnp.exp.nout
    (True, 1, 1)
    """

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'gpugrad.numpy.ufunc' instances")


def _kind(x):
    """What NumPy's loop resolution sees of operand ``x``: a dtype, or a Python scalar type
    (weak: it takes the other operand's precision)."""
    if isinstance(x, Tensor):
        return x.dtype
    t = type(x)
    if t is bool or t is _np.bool_:
        return _BOOL
    if t in _WEAK:
        return t
    return x.dtype if isinstance(x, _np.generic) else _np.asarray(x).dtype


def resolve(uf, xs, dtype=None, casting="same_kind"):
    """NumPy's loop dtypes (inputs, then outputs) for ufunc ``uf`` on operands ``xs``
    (tensors and scalars), or None where a bfloat16 operand makes the op's own rule apply.
    Raises NumPy's TypeError where it has no loop (``positive`` of a bool).

    >>> import numpy, gpugrad as gg
    >>> resolve(numpy.arctan2, [gg.tensor([1, 2], dtype="int8"), 2.5])
    (dtype('float64'), dtype('float64'), dtype('float64'))
    """
    return _loop(uf, xs, dtype, casting)[0]


def _loop(uf, xs, dtype, casting):
    """(loop dtypes or None, whether ``xs`` are tensors of the loop's dtypes already)."""
    kinds = tuple([x.dtype if type(x) is Tensor else _kind(x) for x in xs])
    key = (uf, kinds, dtype, casting)
    hit = _LOOPS.get(key)
    if hit is None:
        if any(isinstance(k, _np.dtype) and k.char == "E" for k in kinds):
            hit = (None, True)  # bfloat16 (ml_dtypes): its loops are the op's own
        else:
            kw = {} if dtype is None else {
                "signature": (None,) * uf.nin + (C.dtype(dtype),) * uf.nout}
            lp = uf.resolve_dtypes(kinds + (None,) * uf.nout, casting=casting, **kw)
            # nothing to cast: tensors of the loop's dtypes, Python scalars (weak: they take
            # the tensor's dtype), at least one tensor
            same = any(type(x) is Tensor for x in xs) and all(
                k == d if type(x) is Tensor else k in _WEAK for x, k, d in zip(xs, kinds, lp))
            hit = (lp, same)
        if len(_LOOPS) < 8192:
            _LOOPS[key] = hit
    return hit


def prepare(uf, xs, dtype=None, casting="same_kind"):
    """``(operands, loop)``: ``xs`` cast to NumPy's loop for ufunc ``uf`` (see
    :func:`resolve`, :func:`cast_operands`) and the loop's dtypes (None for bfloat16, whose
    operands come back as they are, with a tensor among them)."""
    lp, same = _loop(uf, xs, dtype, casting)
    if same:
        return xs, lp
    if lp is None:
        if not any(isinstance(x, Tensor) for x in xs):
            xs = [C.tensor(xs[0])] + list(xs[1:])
        return xs, lp
    return cast_operands(xs, lp), lp


def cast_operands(xs, lp):
    """``xs`` converted to the loop's input dtypes ``lp`` (tensors with ``astype``, which is
    differentiable; scalars to NumPy scalars), with at least one tensor among them."""
    ys = []
    for x, dt in zip(xs, lp):
        if isinstance(x, Tensor):
            ys.append(x if x.dtype == dt else x.astype(dt))
        else:
            ys.append(dt.type(x))  # (OverflowError for an int out of range, as NumPy)
    if not any(isinstance(y, Tensor) for y in ys):
        ys[0] = C.tensor(ys[0])  # a NumPy scalar: its dtype, on the default device
    return ys


def _call_numpy_method(name, method, args, kwargs):
    """NumPy's ``ufunc.<method>`` on raw arrays (no graph)."""
    uf = getattr(_np, name)
    return _fallback.call(getattr(uf, method), args, kwargs, f"{name}.{method}")


_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min",
           "logical_and": "all", "logical_or": "any"}
_ACCUMULATE = {"add": "cumsum", "multiply": "cumprod"}


def _inexact(x):
    return isinstance(x, Tensor) and is_inexact(x.dtype)   # (bfloat16's kind is 'V')


def _reduce(name):
    def reduce(array, axis=0, dtype=None, out=None, keepdims=False, initial=C._NOVALUE,
               where=True):
        x = C.tensor(array) if isinstance(array, (list, tuple)) else array
        if name in _REDUCE and _inexact(x):
            from . import _reduce as R

            kw = {} if initial is C._NOVALUE else {"initial": initial}
            if where is not True:
                kw["where"] = where
            if name in ("add", "multiply"):
                kw["dtype"] = dtype
            elif dtype is not None:
                x = x.astype(C.dtype(dtype))
            if name in ("logical_and", "logical_or"):
                kw.pop("initial", None)
                return getattr(R, _REDUCE[name])(x, axis=axis, out=out, keepdims=keepdims, **kw)
            return getattr(R, _REDUCE[name])(x, axis=axis, out=out, keepdims=keepdims, **kw)
        if name in ("logaddexp", "logaddexp2") and _inexact(x) and C.traced(x):
            from ._ufunc_methods import logaddexp_reduce

            x = x.astype(C.dtype(dtype)) if dtype is not None else x
            return C.out(logaddexp_reduce(x, axis, keepdims, initial, where, name[-1] == "2"),
                         out, f"{name}.reduce")
        kw = {"axis": axis, "dtype": dtype, "out": out, "keepdims": keepdims, "where": where}
        if initial is not C._NOVALUE:
            kw["initial"] = initial
        return _call_numpy_method(name, "reduce", (array,), kw)
    return reduce


def _accumulate(name):
    def accumulate(array, axis=0, dtype=None, out=None):
        if name in _ACCUMULATE and _inexact(array) and axis is not None:
            from . import _reduce as R

            return getattr(R, _ACCUMULATE[name])(array, axis=axis, dtype=dtype, out=out)
        if name in ("maximum", "minimum") and _inexact(array) and C.traced(array):
            from ._ufunc_methods import running_extreme  # (cummax / cummin)

            x = array.astype(C.dtype(dtype)) if dtype is not None else array
            return C.out(running_extreme(x, axis, name == "maximum"), out, f"{name}.accumulate")
        return _call_numpy_method(name, "accumulate", (array,),
                                  {"axis": axis, "dtype": dtype, "out": out})
    return accumulate


def _reduceat(name):
    def reduceat(array, indices, axis=0, dtype=None, out=None):
        if name in ("add", "multiply", "maximum", "minimum") and _inexact(array) and \
                C.traced(array):
            from ._ufunc_methods import reduceat as segments

            x = array.astype(C.dtype(dtype)) if dtype is not None else array
            return C.out(segments(name, x, indices, axis), out, f"{name}.reduceat")
        return _call_numpy_method(name, "reduceat", (array, indices),
                                  {"axis": axis, "dtype": dtype, "out": out})
    return reduceat


def _outer(fn, name):
    def outer(A, B, /, **kwargs):
        a, b = C.operand(A), C.operand(B)
        if isinstance(a, Tensor):
            nb = b.ndim if isinstance(b, Tensor) else 0
            a = a.reshape(a.shape + (1,) * nb)
        return fn(a, b, **kwargs)
    return outer


def _at(fn, name):
    def at(a, indices, b=None, /):
        if not isinstance(a, Tensor):  # an ndarray: NumPy's own, in place
            return getattr(_np, name).at(a, indices, *(() if b is None else (b,)))
        key = C.raw(indices) if isinstance(indices, Tensor) else indices
        if isinstance(key, tuple):
            key = tuple(C.raw(k) if isinstance(k, Tensor) else k for k in key)
        if name in ("add", "subtract") and b is not None and is_inexact(a.dtype):
            v = C.operand(b, a)
            lp = resolve(getattr(_np, name), [a, v])
            if lp is not None and not _np.can_cast(lp[-1], a.dtype, "same_kind"):
                raise TypeError(f"Cannot cast ufunc '{name}' output from {lp[-1]!r} to "
                                f"{a.dtype!r} with casting rule 'same_kind'")
            if C.traced(a, b) or _capture._on or type(a.data) is not _np.ndarray:
                return _scatter_add(a, key, v, name == "subtract")
            # no graph: NumPy's own, which adds each value into `a` in turn (summing a
            # position's values first rounds differently: not NumPy's numbers)
        if C.traced(a, b):
            raise TypeError(f"gpugrad.numpy.{name}.at has no gradient; call it under "
                            f"gpugrad.no_grad() or use add.at / subtract.at")
        new = a.data.copy()  # NumPy's (CuPy's) at on a copy, written back as one update
        xp, done = backend.get_array_module(new), None
        if xp is not _np:  # CuPy wraps a bad index around: checked, its write dropped
            new, key, done = index_bounds.write_target(new, key)
        getattr(xp, name).at(new, key, *(() if b is None else (C.raw(b, a),)))
        a[...] = Tensor._make(new if done is None else done(new))
        return None
    return at


def _scatter_add(a, key, v, negate):
    """``a[key] += v`` in place, with repeated positions accumulating (NumPy's ``add.at``);
    differentiable in ``a`` and ``v`` (the gradient of ``v`` is gathered back from ``key``)."""
    from ..ops.index import Scatter, _prepare_key

    rkey, _, _ = _prepare_key(key, a.data)
    xp = backend.get_array_module(a.data)  # (the key's arrays are on a's device)
    sel = xp.broadcast_to(xp.zeros((), _np.int8), a.shape)[rkey].shape
    v = C.tensor(v, a)  # a number: a constant on a's device (a compiled step makes it too)
    v = ops.broadcast_to(v.astype(a.dtype) if v.dtype != a.dtype else v, sel)
    s = Scatter.apply(v, key=rkey, shape=a.shape, accumulate=True, advanced=True)
    if negate:
        a -= s
    else:
        a += s
    return None


def make_ufunc(fn, name):
    """Give function ``fn`` (gpugrad.numpy's ``name``) NumPy's ufunc attributes and methods
    (see :class:`ufunc`); returns ``fn``."""
    uf = getattr(_np, name)
    fn._numpy_ufunc = uf
    for attr in ("nin", "nout", "nargs", "ntypes", "types", "identity", "signature"):
        setattr(fn, attr, getattr(uf, attr))
    fn.reduce, fn.accumulate, fn.reduceat = _reduce(name), _accumulate(name), _reduceat(name)
    fn.outer, fn.at = _outer(fn, name), _at(fn, name)
    fn.resolve_dtypes = uf.resolve_dtypes
    return fn
