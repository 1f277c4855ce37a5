"""Small helpers shared by the op modules."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import capture_hooks
from ..array_subclasses import plain
from ..backend import get_array_module, is_cupy_array
from ..borrowed import borrow
from ..tensor import Tensor, as_tensor

_ndarray = np.ndarray
_PY_NUMBERS = (float, int)  # exact types, for fast paths (bool and subclasses go the long way)


def xp_of(a):
    """numpy or cupy for array ``a`` (fast path for NumPy); for a Tensor, the Tensor
    namespace (:mod:`gpugrad.ops._txp`), so a backward formula written on ``xp`` records a
    graph when the engine runs it on Tensors (``create_graph=True``)."""
    if type(a) is _ndarray:
        return np
    if isinstance(a, Tensor):
        from . import _txp

        return _txp.on(a.device)
    return get_array_module(a)


def shape_of(a):
    """Shape of an array or () for a Python scalar."""
    if type(a) is _ndarray:
        return a.shape
    return () if type(a) in _PY_NUMBERS else getattr(a, "shape", ())


def is_scalar(x) -> bool:
    """True for a Python or NumPy number (not a 0-d array).

    >>> is_scalar(2.0), is_scalar(np.float32(1)), is_scalar(np.zeros(()))
    (True, True, False)
    """
    tx = type(x)
    if tx is float or tx is int:  # (the ABC test below costs several times this)
        return True
    return isinstance(x, (numbers.Number, np.generic)) and not isinstance(x, np.ndarray)


def cross_saved(needs):
    """``saved_inputs`` of a bilinear op (multiply, matmul): input 0 is read for input 1's
    gradient and input 1 for input 0's.

    >>> cross_saved((True, False)), cross_saved([True, True]), cross_saved((False, False))
    ((1,), (0, 1), ())
    """
    n0, n1 = needs
    if n0:
        return (0, 1) if n1 else (1,)
    return (0,) if n1 else ()


def operand(x, like=None):
    """Return ``x`` as an op input: tensors and Python/NumPy scalars pass; arrays and lists
    become tensors (lists on ``like``'s device)."""
    if isinstance(x, Tensor):
        return x
    if type(x) in _PY_NUMBERS:  # a Python float or int: kept, except beside bfloat16
        return like.dtype.type(x) if isinstance(like, Tensor) and like.data.dtype.char == "E" \
            else x
    if is_scalar(x):
        # only an exact Python bool is weak here (NEP 50): NumPy scalars (np.float64 subclasses
        # float) and user subclasses of int/float are strong, so they pass to NumPy's promotion
        if type(x) is bool and isinstance(like, Tensor) and like.dtype.char == "E":
            return like.dtype.type(x)  # weak, as NEP 50 makes it for NumPy's own floats:
        return x                       # bfloat16 (ml_dtypes') * 2.0 stays bfloat16
    if isinstance(x, np.ndarray) or is_cupy_array(x):
        return borrow(plain(x))  # (a subclass as its plain array: array_subclasses)
    if x is None:
        raise TypeError("expected a tensor or a number, got None")
    if isinstance(x, (list, tuple)) and any(isinstance(v, Tensor) for v in x):
        from . import stack  # a list of tensors: stack it, keeping the graph

        return stack([operand(v, like) for v in x])
    dev = like.device if isinstance(like, Tensor) else None
    if isinstance(x, (list, tuple)) and isinstance(like, Tensor):
        # beside a tensor a sequence is NumPy's operand: np.asarray's dtype (float64 for
        # floats), then NumPy's promotion (not a new float32 tensor, whose rounding a
        # float64 answer would carry)
        a = np.asarray(x)
        if a.dtype.kind in "biufc":
            return python_constant(as_tensor(a, device=dev))
    t = as_tensor(x, device=dev)
    return python_constant(t) if isinstance(x, (list, tuple, range)) else t


def python_constant(t):
    """``t``, a tensor just made from Python values (a list, a tuple, a number), as a
    constant of its own memory; while :func:`gpugrad.compile` records a step in this thread,
    one that each replay makes anew from a copy of its values now (Python runs once, at
    recording: a list changed in place later is not read again).

    >>> python_constant(as_tensor([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    if type(t._vc) is not list:   # (made here: no caller holds its array)
        t._vc = [0]
    if capture_hooks._on and capture_hooks.active() is not None:
        kept = t.data.copy()
        capture_hooks.constant(kept.copy, t.data)
    return t


def tensor_arg(x, name="x"):
    """Coerce a required tensor argument (array-likes become tensors)."""
    if isinstance(x, Tensor):
        return x
    if is_scalar(x) or isinstance(x, (list, tuple, np.ndarray)) or is_cupy_array(x):
        return as_tensor(x)
    raise TypeError(f"{name}: expected a Tensor or array-like, got {type(x).__name__}")


from ._axis_args import normalize_axis  # noqa: E402,F401 (one rule for every op's axes)


def expand_reduced(g, shape, axes, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input ``shape``."""
    if keepdims or not shape:
        return g
    kshape = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return g.reshape(kshape)


def as_rows(a):
    """``a`` (an array or a Tensor, at least 1-D) as a matrix of rows of its last axis: the
    leading axes merged.  The row count is computed, not inferred: ``reshape(-1, 0)`` is
    ambiguous when the last axis is empty."""
    if a.ndim == 2:
        return a
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def no_complex(x, op):
    """``x``, unless it is complex: then a TypeError naming ``op`` and the dtype (``op`` is
    not defined on complex numbers, and a cast would silently drop the imaginary part)."""
    if x.dtype.kind == "c":
        raise TypeError(f"{op}: not defined for complex input (got dtype {x.dtype.name}); "
                        f"pass the real part (gpugrad.real), imaginary part or magnitude "
                        f"(gpugrad.abs) explicitly")
    return x


def cast_grad(g, dtype):
    """Gradient ``g`` (an array or a Tensor) in an input's ``dtype``; a complex gradient of a
    real input keeps its real part (PyTorch's rule: the imaginary part is the derivative along
    a direction the real input cannot move in), never NumPy's ComplexWarning cast.  Used by
    ops and by the backward pass alike."""
    if g.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        g = xp_of(g).real(g)
    return g.astype(dtype, copy=False)


_WIDE_CHARS = frozenset("eE")   # float16 and ml_dtypes' bfloat16


def widened(*arrays):
    """``(narrow, arrays)``: the 16-bit float arrays among ``arrays`` (float16, bfloat16) as
    float32, so an elementwise formula of several steps runs in float32 and the op rounds its
    result once, as PyTorch's 16-bit kernels compute; ``narrow`` is the dtype of the first
    array (the incoming gradient, or the forward's input) when that one is 16-bit, else None
    (``x16 ** y32``: a float32 gradient, kept float32).  Tensors (a backward run with
    ``create_graph``) and None pass untouched: widening a Tensor would leave the graph's dtype.

    >>> narrow, (a,) = widened(np.ones(2, np.float16))
    >>> narrow, a.dtype
    (dtype('float16'), dtype('float32'))
    """
    narrow = None
    out = []
    for i, a in enumerate(arrays):
        dt = getattr(a, "dtype", None)
        if dt is not None and dt.char in _WIDE_CHARS and not isinstance(a, Tensor):
            narrow = dt if i == 0 else narrow
            a = a.astype(np.float32)
        out.append(a)
    return narrow, out


def narrowed(g, narrow):
    """Gradient ``g`` rounded once to ``narrow`` (the 16-bit dtype :func:`widened` reported);
    ``g`` itself when ``narrow`` or ``g`` is None."""
    return g if narrow is None or g is None else g.astype(narrow, copy=False)


def _conj(xp, v):
    """conj(v) for a complex ``v``; ``v`` itself otherwise (None, real numbers and real arrays
    pass untouched: no pass over a real array)."""
    if isinstance(v, complex):
        return v.conjugate()
    dt = getattr(v, "dtype", None)
    return xp.conj(v) if dt is not None and dt.kind == "c" else v
