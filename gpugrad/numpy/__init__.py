"""``import gpugrad.numpy as np``: NumPy's functions, names and signatures, returning
differentiable gpugrad tensors, on the default device (CPU or GPU).

Semantics follow NumPy: new arrays default to float64 (``gpugrad``'s torch-style API
defaults to float32), type promotion is NumPy 2's, reductions take ``axis``/``keepdims``/
``dtype``/``out``.  ``logsumexp`` (SciPy's) is included as a helper.

Functions without a differentiable version (``histogram``, ``digitize``, ``save``,
``linalg.eig``, ``nditer``, ... -- NumPy names gpugrad does not implement, called here or
through NumPy's dispatch) take the *non-graph fallback*: when no input is a tensor in a
recorded graph (requiring grad while grad mode is on), NumPy's function runs on the raw
arrays (CuPy's on a GPU) and its answer comes back; inside a graph they raise TypeError
naming the function -- never a silent result without a gradient.

Results and scalars: arrays come back as tensors.  Differentiable functions return tensors,
0-d where NumPy returns a scalar, so a gradient can flow; a 0-d tensor works as a list
index, ``range`` bound (integer dtypes), in ``float()``/``int()``/``bool()`` and as a format
argument.  Results without a gradient that NumPy gives as scalars -- the fallback's, random
draws (``random.choice(range(2), p=p)``, ``random.randn()``) -- are NumPy's own scalars on
the CPU, so they also work as dict keys; on a GPU they are 0-d tensors (as CuPy's 0-d
arrays).  ``gpugrad.numpy.random`` gives NumPy's streams on the CPU (see its docstring).

Strings, bytes, objects, datetimes and records: a function given or asked to produce such a
non-numeric dtype (``array(words)``, ``unique`` of a string array, ``where(m, 'x', '.')``,
``zeros(2, dtype='U3')``, ``astype(x, str)``) has no gradient to offer, so it answers with
NumPy's own result -- a plain NumPy array -- as the non-graph fallback does (and raises
TypeError the same way when a tensor in a recorded graph is among its inputs).

Names NumPy has and gpugrad does not: its submodules and objects that hold no arrays are
NumPy's own (``exceptions``, ``dtypes``, ``typing``, ``testing``, ``ma``, ``char``,
``strings``, ``rec``, ``version``, ``__version__``, scalar types, constants, classes; ``lib``
too, but for ``lib.stride_tricks``' differentiable ``as_strided`` and
``sliding_window_view``), so
``except np.exceptions.AxisError`` and ``isinstance(d, np.dtypes.Float64DType)`` work;
other functions are placeholders that take the fallback above.  A name NumPy lacks raises
AttributeError, at any depth (``np.modf.nout`` is NumPy's ``2``; ``np.modf.spam`` raises).

>>> import gpugrad
>>> import gpugrad.numpy as np
>>> def loss(w):
...     return np.sum(np.tanh(w) ** 2)
>>> g = gpugrad.grad(loss)(np.array([0.5, -1.0]))
>>> g.round(4).tolist()
[0.7269, -0.6397]
"""
from __future__ import annotations

import types as _types

import numpy as _np

from .. import dtypes as _dtypes
from . import _fallback, lib, linalg, random
from . import fft  # numpy.fft's names, differentiable (gpugrad.fft)
from ._creation import *  # noqa: F401,F403
from ._creation import __all__ as _c
from ._manip import *  # noqa: F401,F403
from ._manip import __all__ as _m
from ._math import *  # noqa: F401,F403
from ._math import __all__ as _u
from ._reduce import *  # noqa: F401,F403
from ._reduce import __all__ as _r
from ._stats import *  # noqa: F401,F403
from ._stats import __all__ as _s
from ._quantile import *  # noqa: F401,F403
from ._quantile import __all__ as _q
from ._poly import *  # noqa: F401,F403
from ._poly import __all__ as _p
from ._signal import *  # noqa: F401,F403
from ._signal import __all__ as _g
from ._writes import *  # noqa: F401,F403
from ._writes import __all__ as _w
from ._graph_versions import *  # noqa: F401,F403
from ._graph_versions import __all__ as _gv
from ._ndarray import ndarray
from ._ufunc import ufunc
from .linalg import TOP as _l
from .linalg import (cross, diag, dot, einsum, inner, kron, matmul, matrix_transpose,  # noqa: F401
                     outer, tensordot, vdot, vecdot)
from .linalg import numpy_trace as trace  # (linalg.trace is numpy.linalg's)

# ---------------------------------------------------------------- dtypes and constants
float16, float32, float64 = _dtypes.float16.type, _dtypes.float32.type, _dtypes.float64.type
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
complex64, complex128 = _np.complex64, _np.complex128
bool_ = _np.bool_
bool = _np.bool_  # noqa: A001 -- NumPy 2 has np.bool
half, single, double = float16, float32, float64
intp, int_ = _np.intp, _np.int_
dtype, finfo, iinfo = _np.dtype, _np.finfo, _np.iinfo
promote_types, issubdtype = _np.promote_types, _np.issubdtype
floating, integer, signedinteger, unsignedinteger, number, inexact, complexfloating = (
    _np.floating, _np.integer, _np.signedinteger, _np.unsignedinteger, _np.number, _np.inexact,
    _np.complexfloating)
generic = _np.generic
pi, e, inf, nan, euler_gamma, newaxis = _np.pi, _np.e, _np.inf, _np.nan, _np.euler_gamma, None
errstate, seterr, geterr = _np.errstate, _np.seterr, _np.geterr
isscalar = _np.isscalar
__version__ = _np.__version__


def from_dlpack(x, /, *, device=None, copy=None):
    """A tensor from any DLPack producer (zero-copy where possible).

    >>> import numpy
    >>> from_dlpack(numpy.arange(3)).tolist()
    [0, 1, 2]
    """
    from ..interop import from_dlpack as f

    return f(x, device=device, copy=copy)


__all__ = (list(_c) + list(_m) + list(_u) + list(_r) + list(_s) + list(_q) + list(_p) + list(_g)
           + list(_w) + list(_gv)
           + list(_l) + [
    "ndarray", "lib", "linalg", "random", "fft", "float16", "float32", "float64", "int8", "int16", "int32",
    "int64", "uint8", "uint16", "uint32", "uint64", "complex64", "complex128", "bool_", "bool",
    "half", "single", "double", "intp", "int_", "dtype", "finfo", "iinfo", "promote_types",
    "issubdtype", "floating", "integer", "signedinteger", "unsignedinteger", "number",
    "inexact", "complexfloating", "generic", "pi", "e", "inf", "nan", "euler_gamma",
    "newaxis", "errstate", "seterr", "geterr", "isscalar", "from_dlpack", "ufunc"])
__all__ = list(dict.fromkeys(__all__))


# NumPy's submodules that are NumPy's own here: no array math to differentiate (errors,
# dtype classes, type hints, test helpers) or their own array types (masked, records, strings)
_NUMPY_OWN = frozenset({"exceptions", "dtypes", "typing", "testing", "ma", "char",
                        "strings", "rec", "version", "ctypeslib"})


def _own(obj) -> bool:
    """True for NumPy objects served as they are: classes (scalar types, exceptions, dtype
    classes) and values that are neither callable nor a module (constants)."""
    return isinstance(obj, type) or not (callable(obj) or isinstance(obj, _types.ModuleType))


class _Missing:
    """Stands for a NumPy function (or submodule) gpugrad has no differentiable version of:
    calling it (or a function under it) runs NumPy's on the raw arrays when no input is in a
    recorded graph (see :mod:`gpugrad.numpy._fallback`), and raises TypeError naming it
    inside one.  Attributes are NumPy's: data and classes as they are, functions as
    placeholders, and AttributeError for a name NumPy's object lacks."""

    def __init__(self, name):
        self._name = name
        self.__name__ = name.rpartition(".")[2]

    def __call__(self, *args, **kwargs):
        if not callable(_fallback.numpy_function(self._name)):
            raise NotImplementedError(f"gpugrad.numpy.{self._name} is not implemented")
        return _fallback.call_named(self._name, args, kwargs)

    def __getattr__(self, attr):
        base = _fallback.numpy_function(self._name)
        obj = getattr(base, attr, _NOTHING)
        if obj is _NOTHING or attr.startswith("__") and callable(obj):
            raise AttributeError(f"gpugrad.numpy.{self._name} (NumPy's {type(base).__name__} "
                                 f"{self._name!r}) has no attribute {attr!r}")
        return obj if _own(obj) else _Missing(f"{self._name}.{attr}")

    def __repr__(self):
        return f"<gpugrad.numpy: {self._name} not implemented>"


_NOTHING = object()


def __getattr__(name):
    if not name.startswith("_") and hasattr(_np, name):
        obj = getattr(_np, name)
        if name in _NUMPY_OWN or isinstance(obj, type) and issubclass(
                obj, (_np.generic, BaseException)) or _own(obj) and not isinstance(obj, type):
            return obj  # scalar types, exceptions, constants, safe submodules: NumPy's own
        return _Missing(name)
    raise AttributeError(f"module 'gpugrad.numpy' has no attribute {name!r}")


def _install_non_numeric(g, names, numpy_module, prefix=""):
    """Give each function of namespace ``g`` that ``numpy_module`` also has NumPy's answer
    for non-numeric arguments and dtypes, and for NumPy's subclasses with arithmetic of their
    own (``numpy.matrix``, masked arrays): :func:`gpugrad.numpy._fallback.for_non_numeric`
    (the ufuncs have it already, below their fast path)."""
    for name in names:
        fn, numpy_fn = g.get(name), getattr(numpy_module, name, None)
        if isinstance(fn, _types.FunctionType) and callable(numpy_fn) and \
                not isinstance(numpy_fn, type) and not getattr(fn, "_non_numeric", False):
            g[name] = _fallback.for_non_numeric(fn, numpy_fn, prefix + name)


_install_non_numeric(globals(), __all__, _np)
_install_non_numeric(vars(linalg), linalg.__all__, _np.linalg, "linalg.")
_install_non_numeric(vars(fft), fft.__all__, _np.fft, "fft.")
