"""Differentiable versions of the ufunc methods NumPy programs put inside a loss, for tensors
in a recorded graph (outside one, :mod:`gpugrad.numpy._ufunc` runs NumPy's own method, so the
bits are NumPy's):

* ``maximum.accumulate`` / ``minimum.accumulate`` (running max/min, PyTorch's ``cummax`` /
  ``cummin``): a gather at the running arg-max, whose indices are constants -- the gradient
  of each output goes to the element it came from (the latest of equal values; the first
  NaN once a NaN has appeared, as NumPy's NaN propagates);
* ``logaddexp.reduce`` / ``logaddexp2.reduce``: a stable log-sum-exp;
* ``add/multiply/maximum/minimum.reduceat``: one reduction per slice (NumPy's rule: a slice
  ``indices[i]:indices[i+1]``, or the single element ``indices[i]`` where the next index is
  not larger), concatenated.

>>> import gpugrad as gg, gpugrad.numpy as gnp
>>> x = gg.tensor([1.0, 3.0, 2.0, 5.0], dtype="float64", requires_grad=True)
>>> y = gnp.maximum.accumulate(x); y.sum().backward()
>>> y.tolist(), x.grad.tolist()
([1.0, 3.0, 3.0, 5.0], [1.0, 2.0, 0.0, 1.0])
"""
from __future__ import annotations

import math
import operator

import numpy as _np

from .. import ops
from . import _core as C

__all__ = ["running_extreme", "logaddexp_reduce", "reduceat"]


def running_extreme(x, axis, is_max):
    """``maximum.accumulate(x, axis)`` (``is_max``) or ``minimum.accumulate``, differentiable."""
    ax = _axis(axis, x)
    return ops.take_along_axis(x, C.nograd(_arg_running, x.detach(), ax, is_max), ax)


def _arg_running(xp, d, ax, is_max):
    """The index each running max (``is_max``) or min of ``d`` along ``ax`` comes from."""
    run = (xp.maximum if is_max else xp.minimum).accumulate(d, axis=ax)
    shape = [1] * d.ndim
    shape[ax] = d.shape[ax]
    ramp = xp.arange(d.shape[ax]).reshape(shape)
    nan = xp.isnan(d)
    first_nan = nan & (xp.cumsum(nan, axis=ax) == 1)
    hit = ((d == run) & ~xp.isnan(run)) | first_nan
    return xp.maximum.accumulate(xp.where(hit, ramp, 0), axis=ax)


def _axis(axis, x):
    if axis is None:
        raise ValueError("accumulate: axis=None is not supported (give an axis); NumPy takes "
                         "it only for 1-D input")
    ax = C.index(axis, "axis")
    if not -x.ndim <= ax < x.ndim:
        raise _np.exceptions.AxisError(ax, x.ndim)
    return ax % x.ndim


def logaddexp_reduce(x, axis=0, keepdims=False, initial=C._NOVALUE, where=True, base2=False):
    """``logaddexp.reduce`` (``base2``: ``logaddexp2.reduce``) as a log-sum-exp over ``axis``
    (None: all axes), differentiable; ``where=`` drops elements (as -inf), ``initial`` joins
    the sum."""
    from ._reduce_axis import reduce_axis

    if base2:
        x = ops.multiply(x, math.log(2.0))
    if where is not True:
        from ._math_where import where_mask

        x = ops.where(where_mask(where, x), x, -_np.inf)
    r = ops.logsumexp(x, axis=reduce_axis(axis, x), keepdims=keepdims)
    if initial is not C._NOVALUE:
        r = ops.logaddexp(r, initial * math.log(2.0) if base2 else initial)
    return ops.divide(r, math.log(2.0)) if base2 else r


_SEGMENT = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}


def reduceat(name, x, indices, axis=0):
    """NumPy's ``<name>.reduceat(x, indices, axis)`` for ``name`` in add, multiply, maximum,
    minimum, differentiable (see the module docstring); IndexError for an index outside
    ``[0, x.shape[axis])``, as NumPy."""
    from . import _reduce as R
    from ._manip import concatenate

    ax = _axis(axis, x)
    n = x.shape[ax]
    idx = [operator.index(i) for i in _np.asarray(C.raw(indices) if hasattr(indices, "shape")
                                                    else indices).reshape(-1).tolist()]
    for i in idx:
        if not 0 <= i < n:
            raise IndexError(f"index {i} out-of-bounds in {name}.reduceat [0, {n})")
    if not idx:
        raise ValueError(f"{name}.reduceat: indices is empty; expected at least one index")
    head = (slice(None),) * ax
    parts = []
    for k, i in enumerate(idx):
        stop = idx[k + 1] if k + 1 < len(idx) else n
        if i < stop:
            parts.append(getattr(R, _SEGMENT[name])(x[head + (slice(i, stop),)], axis=ax,
                                                    keepdims=True))
        else:
            parts.append(x[head + (slice(i, i + 1),)])
    return concatenate(parts, axis=ax) if len(parts) > 1 else parts[0]
