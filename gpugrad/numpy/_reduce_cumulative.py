"""The running reductions: ``cumsum`` and ``cumprod``, and NumPy 2.1's ``cumulative_sum`` and
``cumulative_prod`` -- the same with NumPy's axis rule (required above 1-D) and an optional
leading identity.

>>> import gpugrad.numpy as gnp
>>> gnp.cumulative_sum(gnp.array([1, 2, 3])).tolist()
[1, 3, 6]
"""
from __future__ import annotations

from .. import backend, ops
from ..tensor import Tensor
from . import _core as C
from ._reduce_axis import reduce_axis as _axis
from ._reduce_dtype import accumulator as _accumulator, exact_kind as _exact_kind

__all__ = ["cumsum", "cumprod", "cumulative_sum", "cumulative_prod"]


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum (flattened when ``axis`` is None).

    >>> import gpugrad.numpy as gnp
    >>> gnp.cumsum([1, 2, 3]).tolist()
    [1, 3, 6]
    """
    return _scan("cumsum", ops.cumsum, a, axis, dtype, out)


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product (flattened when ``axis`` is None); exact gradient with zeros.

    >>> import gpugrad.numpy as gnp
    >>> gnp.cumprod([1.0, 2.0, 3.0]).tolist()
    [1.0, 2.0, 6.0]
    """
    return _scan("cumprod", ops.cumprod, a, axis, dtype, out)


def _scan(name, op, a, axis, dtype, out):
    """NumPy's ``name`` (cumsum, cumprod): NumPy's own where ``dtype`` asks for a bool or
    integer result, else differentiable ``op`` in the accumulator dtype, into ``out``."""
    exact = _exact_kind(name, a, dtype, out, axis=axis)
    if exact is not None:
        return exact
    x = _accumulator(a, dtype)
    ax = axis if x.ndim else _axis(axis, x, one=True)
    return C.out(op(x, axis=ax), out, name)


def _cumulative(name, a, axis, dtype, include_initial, identity):
    x = C.tensor(a)
    if isinstance(axis, tuple):  # NumPy's accumulate: one axis, also spelled as a 1-tuple
        if len(axis) != 1:
            raise ValueError(f"{name}: accumulate does not allow multiple axes, got {axis}")
        (axis,) = axis
    if axis is None:
        if x.ndim > 1:
            raise ValueError("cumulative functions need axis= for arrays of more than 1 "
                             "dimension")
        axis = 0
    r = _RUNNING[name](x, axis=axis, dtype=dtype)
    if include_initial:
        from ._manip import concatenate

        ax = axis % max(x.ndim, 1)
        shape = list(r.shape)
        shape[ax] = 1
        head = r.data[(slice(None),) * ax + (slice(0, 1),)]
        first = Tensor._make(backend.get_array_module(head).full_like(head, identity))  # r's dtype
        r = concatenate([first, r], axis=ax)
    return r


_RUNNING = {"cumsum": cumsum, "cumprod": cumprod}


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    """NumPy 2.1's ``cumulative_sum``: cumsum with an optional leading zero.

    >>> import gpugrad.numpy as gnp
    >>> gnp.cumulative_sum(gnp.array([1, 2]), include_initial=True).tolist()
    [0, 1, 3]
    """
    return _cumulative("cumsum", x, axis, dtype, include_initial, 0)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    """NumPy 2.1's ``cumulative_prod``: cumprod with an optional leading one.

    >>> import gpugrad.numpy as gnp
    >>> gnp.cumulative_prod(gnp.array([2, 3]), include_initial=True).tolist()
    [1, 2, 6]
    """
    return _cumulative("cumprod", x, axis, dtype, include_initial, 1)
