"""``numpy.linalg``'s tensor equations, differentiable: ``tensorinv`` and ``tensorsolve``
reshape to one matrix problem (``inv``, ``solve``) and back.

>>> import gpugrad.numpy as gnp
>>> a = gnp.eye(4).reshape(4, 2, 2) * 2.0
>>> gnp.linalg.tensorinv(a, ind=1).shape
(2, 2, 4)
"""
from __future__ import annotations

import math

from .. import ops
from . import _core as C

__all__ = ["tensorinv", "tensorsolve"]


def tensorinv(a, ind=2):
    """The inverse of ``a`` for ``tensordot(.., .., ind)``: shape ``a.shape[ind:] +
    a.shape[:ind]``.  Raises ValueError for ``ind <= 0`` and LinAlgError when the two shape
    halves have different sizes or the matrix is singular.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.tensorinv(gnp.eye(4).reshape(4, 2, 2), ind=1).reshape(4, 4).tolist()[0]
    [1.0, 0.0, 0.0, 0.0]
    """
    from .linalg import LinAlgError

    t = C.to_float(C.tensor(a))
    if ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind}")
    front, back = t.shape[:ind], t.shape[ind:]
    rows, cols = math.prod(front), math.prod(back)
    if rows != cols:
        raise LinAlgError(f"tensorinv: the first {ind} axes ({front}) and the others ({back}) "
                          f"must hold equally many elements")
    return ops.reshape(ops.inv(ops.reshape(t, (rows, cols))), back + front)


def tensorsolve(a, b, axes=None):
    """``x`` with ``tensordot(a, x, axes=x.ndim) == b``; ``axes`` first moves those axes of
    ``a`` to the end.  Raises LinAlgError when ``a`` does not reshape to a square matrix.

    >>> import gpugrad.numpy as gnp
    >>> a = gnp.eye(4).reshape(2, 2, 2, 2)
    >>> gnp.linalg.tensorsolve(a, gnp.ones((2, 2))).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    from .linalg import LinAlgError

    a, b = C.operands([a, b])
    a, b = C.tensor(a, b), C.tensor(b, a)
    if axes is not None:
        rest = [k for k in range(a.ndim) if k not in [x % a.ndim for x in axes]]
        a = ops.transpose(a, tuple(rest) + tuple(x % a.ndim for x in axes))
    xshape = a.shape[b.ndim:]
    rows, cols = math.prod(a.shape[:b.ndim]), math.prod(xshape)
    if rows != cols:
        raise LinAlgError(f"tensorsolve: a of shape {a.shape} does not reshape to a square "
                          f"matrix over b's shape {b.shape} (got {rows} x {cols})")
    x = ops.solve(C.to_float(ops.reshape(a, (rows, cols))),
                  C.to_float(ops.reshape(b, (rows,))))
    return ops.reshape(x, xshape)
