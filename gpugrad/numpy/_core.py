"""Helpers shared by the ``gpugrad.numpy`` modules: argument coercion with NumPy's dtype
rules, ``out=`` handling, and non-differentiable functions computed on raw arrays."""
from __future__ import annotations

import numbers
import operator

import numpy as _np

from .. import backend, capture_hooks, dtypes
from ..array_subclasses import own_arithmetic, plain
from ..backend import DeviceMismatchError, array_device, is_cupy_array
from ..borrowed import borrow
from ..tensor import Tensor, _array_calls, _wrap
from ..zero_d import scalar_tensor

_NOVALUE = _np._NoValue
SUPPORTED = frozenset(dtypes.SUPPORTED)  # (one hash lookup per check)
_NON_NUMERIC_KINDS = "USOMmVT"  # str, bytes, object, datetime, timedelta, record, StringDType


class NonNumericError(TypeError):
    """A value or dtype with no numbers in it (strings, bytes, objects, datetimes, records),
    or an ndarray subclass with arithmetic of its own (``numpy.matrix``, masked arrays): no
    tensor can hold it and no gradient exists.  The ``gpugrad.numpy`` functions answer such
    calls with NumPy's own result (see :mod:`gpugrad.numpy`)."""


def non_numeric(dt) -> bool:
    """True for a dtype of strings, bytes, objects, datetimes/timedeltas or records.

    >>> non_numeric(str), non_numeric("datetime64[D]"), non_numeric("float32")
    (True, True, False)
    """
    try:
        return _np.dtype(dt).kind in _NON_NUMERIC_KINDS
    except TypeError:
        return False


def _unsupported(dt, message):
    return (NonNumericError if dt.kind in _NON_NUMERIC_KINDS else TypeError)(message)


def _plain_or_numpys(x):
    """An ndarray subclass instance ``x`` as its plain array, or NonNumericError (NumPy's
    own answer, the subclass kept) for one with arithmetic of its own: ``numpy.matrix``, a
    masked array (see :mod:`gpugrad.array_subclasses`)."""
    if own_arithmetic(x):
        raise NonNumericError(
            f"a {type(x).__module__}.{type(x).__name__} keeps its own arithmetic (a matrix's "
            f"* is the matrix product, a masked array skips its masked elements): no tensor "
            f"holds it and it has no gradient; convert it with numpy.asarray first to compute "
            f"on its plain array")
    return plain(x)


def tensor(x, like=None) -> Tensor:
    """``x`` as a Tensor: tensors pass, arrays are wrapped without copying, anything else is
    converted with NumPy's rules (float64 for Python floats) onto ``like``'s device or the
    default device."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _np.ndarray) or is_cupy_array(x):
        if type(x) is not _np.ndarray and isinstance(x, _np.ndarray):
            x = _plain_or_numpys(x)
        if x.dtype not in SUPPORTED:
            raise _unsupported(x.dtype, f"unsupported dtype {x.dtype}; expected numbers or bools")
        return borrow(x)     # (the caller's array: see gpugrad.borrowed)
    if type(x) is list or type(x) is tuple:  # (tensors held: on the CPU, where they are)
        cpu = backend.get_default_device().type == "cpu" and (
            not isinstance(like, Tensor) or like.device.type == "cpu")
        arr = numpy_array(x, copy=None, tensors_ok=cpu)
    else:
        arr = None
    if arr is None:
        if isinstance(x, (list, tuple)) and holds_tensor(x):
            return _nested(x, like)
        arr = _np.asarray(x)
    if arr.dtype not in SUPPORTED:
        raise _unsupported(arr.dtype, f"cannot make a tensor from {type(x).__name__} (dtype "
                                      f"{arr.dtype}); expected numbers, bools or arrays")
    dev = like.device if isinstance(like, Tensor) else backend.get_default_device()
    return const(arr if dev.type == "cpu" else backend.to_device(arr, dev))  # (static values)


def numpy_array(x, dtype=None, order="K", copy=True, tensors_ok=False):
    """NumPy's ``array(x, dtype, order=order, copy=copy)`` of list or tuple ``x``, or None
    when ``x`` holds a tensor at any depth (the caller then stacks it differentiably).
    With ``tensors_ok``, NumPy's answer also where every tensor held is outside any graph
    and no ``gpugrad.compile`` recording is on: the stacking would give the same values and
    dtype, at tens of microseconds a tensor (``np.array([f1, f2, f3])`` of 0-d results in
    an ODE right-hand side).

    NumPy asks each tensor it meets for ``Tensor.__array__``, which counts its calls: a
    count that moved during the conversion tells that a tensor was there, with no pass over
    ``x`` of our own, so a long list of numbers converts at NumPy's speed.  A call in
    another thread can move the count too; the answer is then None, which costs a second
    look (:func:`holds_tensor`) but is never wrong.

    >>> numpy_array([1.0, 2.0]).tolist(), numpy_array([Tensor([1.0]), 2.0]) is None
    ([1.0, 2.0], True)
    """
    n = next(_array_calls)
    try:
        arr = _np.array(x, dtype=dtype, order=order, copy=copy)
    except Exception:
        if next(_array_calls) != n + 1:
            return None  # (a tensor refused NumPy's conversion: one in a graph, on CUDA)
        raise
    if next(_array_calls) == n + 1:
        return arr
    # each tensor met converted: none requires grad in grad mode (that one refuses)
    if tensors_ok and not capture_hooks._on and not _any_traced(x):
        return arr
    return None


def _any_traced(x):
    """True when nested list/tuple ``x`` holds a tensor in a graph being recorded."""
    from ..ops._fast import in_graph

    for v in x:
        if isinstance(v, Tensor):
            if in_graph(v):
                return True
        elif isinstance(v, (list, tuple)) and _any_traced(v):
            return True
    return False


def holds_tensor(x) -> bool:
    """True when list/tuple ``x`` holds a Tensor at any depth (the element types are
    looked at in C: a long list of numbers costs a fraction of NumPy's own conversion)."""
    first = type(x[0]) if len(x) else None
    if (first is float or first is int) and operator.countOf(map(type, x), first) == len(x):
        return False  # all Python floats (or all ints): the common long list
    kinds = set(map(type, x))
    if any(issubclass(k, Tensor) for k in kinds):
        return True
    return any(issubclass(k, (list, tuple)) for k in kinds) and any(
        holds_tensor(v) for v in x if isinstance(v, (list, tuple)))


def traced(*xs) -> bool:
    """True when one of ``xs`` is a tensor in a graph being recorded (grad mode is on and it
    requires grad, or is a view whose base joined the graph since: see
    :func:`gpugrad.ops._fast.in_graph`): values taken from it must keep the graph."""
    from ..ops._fast import in_graph

    return any(in_graph(x) for x in xs)


def index(v, what="an integer argument"):
    """``v`` as a Python int, as NumPy takes integer arguments (axes, counts, offsets): an
    int, a NumPy integer or anything with ``__index__``; TypeError naming ``what`` for a
    float, a bool (NumPy refuses booleans there) or anything else.

    >>> index(_np.int64(2), "k")
    2
    """
    if isinstance(v, (bool, _np.bool_)):
        raise TypeError(f"{what}: expected an integer, got a boolean ({v!r})")
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"{what}: expected an integer, got {type(v).__name__} ({v!r})") from None


def const(arr) -> Tensor:
    """A tensor of array ``arr``, which the calling function made from static values
    (numbers, shapes, slices): while ``gpugrad.compile`` records a step, a constant a replay
    makes anew from a copy of its values now.

    >>> const(_np.arange(2.0)).tolist()
    [0.0, 1.0]
    """
    if capture_hooks._on and capture_hooks.active() is not None:
        kept = arr.copy()
        capture_hooks.constant(kept.copy, arr)
    return _wrap(arr)


def skeleton(x):
    """Nested lists with each tensor replaced by zeros of its shape and dtype: enough for
    NumPy to say what shape and dtype the nesting makes, without reading a tensor."""
    if isinstance(x, Tensor):
        return _np.broadcast_to(_np.zeros((), x.dtype), x.shape)  # (no memory of its own)
    if isinstance(x, (list, tuple)):
        return [skeleton(v) for v in x]
    return x


def _nested(x, like):
    """Nested lists holding tensors as one tensor, stacked level by level so the graph is
    kept (HIPS autograd's ``array``).  The shape and dtype are NumPy's for the same nesting
    (each tensor standing for an array of its shape and dtype)."""
    ref = _np.array(skeleton(x))  # NumPy's shape check and dtype for this nesting
    if ref.dtype not in dtypes.SUPPORTED:
        raise _unsupported(ref.dtype, f"cannot make a tensor from a {type(x).__name__} of "
                                      f"dtype {ref.dtype}; expected numbers, bools, arrays "
                                      f"or tensors")
    like = like if isinstance(like, Tensor) else _first_tensor(x)
    return _build(x, ref.dtype, like)


def _build(v, dtype, like):
    """:func:`_nested`'s stacking, level by level (a function of its own, not a closure: a
    recursive closure is a reference cycle, which keeps its tensors until a garbage
    collection)."""
    from .. import ops

    if isinstance(v, (list, tuple)) and holds_tensor(v):
        return ops.stack([_build(e, dtype, like) for e in v])
    t = v if isinstance(v, Tensor) else tensor(v, like)
    return t if t.dtype == dtype else ops.astype(t, dtype)


def _first_tensor(x):
    for v in x:
        if isinstance(v, Tensor):
            return v
        if isinstance(v, (list, tuple)):
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def operand(x, like=None):
    """An elementwise operand: Python and NumPy scalars pass through (weak/strong scalars
    keep NumPy's promotion), everything else becomes a Tensor."""
    if isinstance(x, (numbers.Number, _np.generic)) and not isinstance(x, _np.ndarray):
        return x
    return tensor(x, like)


def operands(args):
    like = next((a for a in args if isinstance(a, Tensor)), None)
    return [operand(a, like) for a in args]


def dtype(dt):
    """NumPy-style dtype argument (``float`` means float64 here, as in NumPy)."""
    if dt is None:
        return None
    if dt is float:
        return dtypes.float64
    try:
        return dtypes.as_dtype(dt)
    except TypeError as exc:
        if non_numeric(dt):
            raise NonNumericError(str(exc)) from None
        raise


def float_dtype(dt):
    """The dtype NumPy's Python-level float functions (``sinc``, ``linalg``, ``quantile``,
    ``gradient``) compute in for input dtype ``dt``: float64 for integers and bools (the
    ufuncs' own loops, float16 for int8, come from :mod:`._ufunc` instead)."""
    dt = _np.dtype(dt)
    return dt if dt.kind in "fc" or dt.char == "E" else _np.dtype(_np.float64)


def to_float(x):
    """Tensor ``x`` in :func:`float_dtype` of its dtype (float64 for integers and bools)."""
    if isinstance(x, Tensor) and x.dtype.kind not in "fc" and x.dtype.char != "E":
        return x.astype(_np.float64)
    return x


class Unsupported(NotImplementedError):
    """A NumPy argument (a keyword, a mode, a shape) that ``gpugrad.numpy.<name>`` has no
    differentiable version of.  The ``gpugrad.numpy`` functions answer such a call with
    NumPy's own result when no input is in a recorded graph (the non-graph fallback, as for
    the functions gpugrad does not implement); inside one the error stands, naming it."""


def unsupported(name, **kw):
    """Raise :class:`Unsupported` for keyword arguments gpugrad does not implement (given a
    non-default value)."""
    for k, (value, default) in kw.items():
        if value is not default and not (isinstance(default, str) and value == default):
            raise Unsupported(f"gpugrad.numpy.{name}: {k}={value!r} is not supported")


def out(res, out_arg, name, casting=None):
    """NumPy's ``out=``: write ``res`` into a Tensor (differentiably) or an ndarray.  With
    ``casting`` (a ufunc's rule, ``"same_kind"``), a result that cannot be cast so raises
    NumPy's TypeError instead of being truncated."""
    if out_arg is None:
        return res
    if isinstance(out_arg, tuple):
        if len(out_arg) != 1:
            raise ValueError(f"{name}: expected one output array, got {len(out_arg)}")
        out_arg = out_arg[0]
        if out_arg is None:
            return res
    if casting is not None and hasattr(out_arg, "dtype") and \
            not _np.can_cast(res.dtype, out_arg.dtype, casting):
        raise TypeError(f"Cannot cast ufunc {name!r} output from {res.dtype!r} to "
                        f"{out_arg.dtype!r} with casting rule {casting!r}")
    if isinstance(out_arg, Tensor):
        if out_arg.shape != res.shape:
            raise ValueError(f"{name}: out has shape {out_arg.shape}, expected {res.shape}")
        out_arg[...] = res
        return out_arg
    if isinstance(out_arg, _np.ndarray) or is_cupy_array(out_arg):
        if res.requires_grad:
            raise TypeError(f"{name}: out= is a {type(out_arg).__name__}, which cannot carry a "
                            f"gradient; pass a gpugrad tensor as out, or drop out=")
        out_arg[...] = res.data if not isinstance(out_arg, _np.ndarray) else res.numpy()
        return out_arg
    raise TypeError(f"{name}: out must be a tensor or an array, got {type(out_arg).__name__}")


def raw(x, like=None):
    """The raw array of ``x`` (scalars stay scalars)."""
    x = operand(x, like)
    return x.data if isinstance(x, Tensor) else x


def nograd(fn, *args, **kw):
    """Call ``fn(xp, *raw_args, **kw)`` on raw arrays of one device; wrap array results as
    tensors (no graph: these results have no gradient)."""
    like = next((a for a in args if isinstance(a, Tensor)), None)
    arrs = [raw(a, like) if a is not None else None for a in args]
    devs = {array_device(a) for a in arrs if hasattr(a, "shape") and not isinstance(a, _np.generic)}
    if len(devs) > 1:
        raise DeviceMismatchError(f"expected all tensors on one device, got {sorted(map(str, devs))}")
    if capture_hooks._on and capture_hooks.active() is not None:  # gpugrad.compile records:
        return _recorded(fn, args, arrs, kw)                       # computed again at replay
    xp = backend.get_array_module(*arrs)
    return wrap(fn(xp, *arrs, **kw))


def _recorded(fn, args, arrs, kw):
    """:func:`nograd` as graph nodes a captured step's replay computes again: tensors and
    arrays go in as operands, other values (lists, numbers) as constants converted inside."""
    from ..ops.search import values_call

    ins = [a if isinstance(a, Tensor) or a is None or isinstance(a, (numbers.Number, _np.generic))
           or hasattr(a, "shape") else _Const(v) for a, v in zip(args, arrs)]

    def call(xp, *vs):
        return fn(xp, *[v.get(xp) if isinstance(v, _Const) else v for v in vs], **kw)
    return values_call(call, *ins)


class _Const:
    """A value made from Python numbers inside a recorded step: the same each replay."""

    __slots__ = ("host",)

    def __init__(self, v):
        self.host = v.get() if is_cupy_array(v) else v

    def get(self, xp):
        return xp.asarray(self.host)


def wrap(r):
    if isinstance(r, tuple):
        return tuple(wrap(v) for v in r)
    if isinstance(r, list):
        return [wrap(v) for v in r]
    if isinstance(r, _np.ndarray) or is_cupy_array(r):
        return Tensor._make(r)
    if isinstance(r, _np.generic):
        return scalar_tensor(r)
    return r
