"""NumPy's own bits where no gradient is wanted: the ``gpugrad.numpy`` functions whose
differentiable formula cannot reproduce NumPy's arithmetic (``einsum``'s summation loops,
LAPACK's values-only drivers behind ``svdvals``/``eigvalsh``, ``vecdot``'s BLAS dot) call
NumPy's function itself when no input is in a recorded graph and nothing watches op calls
(``gpugrad.compile`` recording, anomaly detection, autocast: see
:func:`gpugrad.ops._fast.watched`), and wrap its answer.  Anything else -- a graph to
record, tensors on a GPU, bfloat16, a GPU default device with no tensor among the inputs --
returns None and the caller takes its differentiable path.

>>> import numpy, gpugrad.numpy as gnp
>>> r = numpy_own(numpy.einsum, ("i,i->", gnp.ones(3), [1.0, 2.0, 3.0]))
>>> type(r).__name__, r.item()
('Tensor', 6.0)
"""
from __future__ import annotations

import numpy as _np

from .. import backend
from ..array_subclasses import own_arithmetic
from ..ops._fast import in_graph, watched
from ..tensor import Tensor
from ..zero_d import scalar_tensor
from ._fallback import _leaves

__all__ = ["numpy_own"]

_NATIVE = frozenset("?bhilqpBHILQPefdFD")  # NumPy's own numeric dtypes (not bfloat16)


def _raw(obj):
    if isinstance(obj, Tensor):
        return obj.data
    if isinstance(obj, list):
        return [_raw(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_raw(v) for v in obj)
    return obj


def _wrap(r):
    if isinstance(r, tuple):
        items = [_wrap(v) for v in r]
        return type(r)(*items) if hasattr(r, "_fields") else tuple(items)
    if isinstance(r, (_np.ndarray, _np.generic)) and r.dtype.char in _NATIVE:
        if type(r) is _np.ndarray and r.base is not None:
            # a view NumPy returns (einsum's 'ii->i', 'ij->ji') would share an input's memory
            # without the link a gpugrad view keeps, so a later write into the input would
            # change it behind the graph's back: an array of its own, as the op path gives
            r = r.copy()
        # (a NumPy scalar: a 0-d tensor standing for it)
        return Tensor._make(r) if type(r) is _np.ndarray else scalar_tensor(r)
    return r


def numpy_own(func, args, kwargs=None):
    """``func(*args, **kwargs)`` (a NumPy function) on the raw arrays, its arrays and scalars
    as tensors (0-d for scalars), when that is what gpugrad would compute without a graph;
    else None (see the module docstring).  NumPy's errors pass through.

    >>> import numpy, gpugrad as gg
    >>> numpy_own(numpy.linalg.svdvals, (gg.eye(2, dtype="float64"),)).tolist()
    [1.0, 1.0]
    >>> numpy_own(numpy.linalg.svdvals, (gg.eye(2, requires_grad=True),)) is None
    True
    """
    kwargs = kwargs or {}
    if watched():
        return None
    tensors = 0
    for v in _leaves(args) if not kwargs else _leaves((args, kwargs)):
        if isinstance(v, Tensor):
            if type(v.data) is not _np.ndarray or v.dtype.char not in _NATIVE or in_graph(v):
                return None
            tensors += 1
        elif isinstance(v, _np.ndarray):
            if v.dtype.char not in _NATIVE or own_arithmetic(v):
                return None  # (a matrix, a masked array: NumPy's answer keeps its type)
        elif backend.is_cupy_array(v):
            return None
    if not tensors and backend.get_default_device().type != "cpu":
        return None  # (new arrays belong on the default device)
    return _wrap(func(*_raw(args), **{k: _raw(v) for k, v in kwargs.items()}))
