"""NumPy 2.1's ``cumulative_sum`` and ``cumulative_prod``: :func:`cumsum` / :func:`cumprod`
with NumPy's axis rule (required above 1-D) and an optional leading identity.

>>> import gpugrad.numpy as gnp
>>> gnp.cumulative_sum(gnp.array([1, 2, 3])).tolist()
[1, 3, 6]
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from . import _core as C

__all__ = ["cumulative_sum", "cumulative_prod"]


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
    from . import _reduce

    r = getattr(_reduce, name)(x, axis=axis, dtype=dtype)
    if include_initial:
        from ._manip import concatenate

        ax = axis % max(x.ndim, 1)
        shape = list(r.shape)
        shape[ax] = 1
        head = r.data[(slice(None),) * ax + (slice(0, 1),)]
        first = Tensor._make(backend.get_array_module(head).full_like(head, identity))  # r's dtype
        r = concatenate([first, r], axis=ax)
    return r


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
