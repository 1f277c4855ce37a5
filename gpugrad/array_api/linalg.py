"""The array API ``linalg`` extension (2023.12), differentiable.

>>> import gpugrad.array_api as xp
>>> xp.linalg.vector_norm(xp.asarray([3.0, 4.0])).item()
5.0
"""
from __future__ import annotations

from .. import numpy as _gnp
from ..numpy import linalg as _la
from ._stats import in_result_type as _in_result_type

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot",
           "vector_norm"]

_t = _gnp._core.tensor


def _per_matrix(rtol):
    """An array ``rtol`` (one per matrix of the stack, shape ``(...)``) as a tensor
    (``numpy.linalg`` adds the axis that meets each stack's singular values); a number
    passes unchanged."""
    if rtol is None or isinstance(rtol, (int, float)):
        return rtol
    return _t(rtol)


def cholesky(x, /, *, upper=False):
    """Cholesky factor.

    >>> cholesky(_gnp.eye(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return _la.cholesky(x, upper=upper)


def cross(x1, x2, /, *, axis=-1):
    """Cross product of 3-vectors along ``axis``.

    >>> cross(_gnp.array([1.0, 0, 0]), _gnp.array([0.0, 1, 0])).tolist()
    [0.0, 0.0, 1.0]
    """
    a, b = _t(x1), _t(x2, x1)
    if a.shape[axis] != 3 or b.shape[axis] != 3:
        raise ValueError(f"cross: expected size 3 along axis {axis}, got {a.shape}, {b.shape}")
    return _la.cross(a, b, axis=axis)


def det(x, /):
    """Determinant.

    >>> det(_gnp.eye(2)).item()
    1.0
    """
    return _la.det(x)


def diagonal(x, /, *, offset=0):
    """Diagonals of the last two axes.

    >>> diagonal(_gnp.eye(2)).tolist()
    [1.0, 1.0]
    """
    return _la.diagonal(x, offset=offset)


def eigh(x, /):
    """Eigenvalues and eigenvectors of symmetric matrices.

    >>> eigh(_gnp.eye(2)).eigenvalues.tolist()
    [1.0, 1.0]
    """
    return _la.eigh(x)


def eigvalsh(x, /):
    """Eigenvalues of symmetric matrices.

    >>> eigvalsh(_gnp.eye(2)).tolist()
    [1.0, 1.0]
    """
    return _la.eigvalsh(x)


def inv(x, /):
    """Inverse.

    >>> inv(_gnp.eye(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return _la.inv(x)


def matmul(x1, x2, /):
    """Matrix product.

    >>> matmul(_gnp.eye(2), _gnp.ones(2)).tolist()
    [1.0, 1.0]
    """
    return _la.matmul(x1, x2)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """Matrix norm over the last two axes.

    >>> matrix_norm(_gnp.eye(2), ord=2).item()
    1.0
    """
    return _la.matrix_norm(x, keepdims=keepdims, ord=ord)


def matrix_power(x, n, /):
    """Integer matrix power.

    >>> matrix_power(_gnp.eye(2), 3).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return _la.matrix_power(x, n)


def matrix_rank(x, /, *, rtol=None):
    """Numerical rank (0 for an empty matrix).

    >>> matrix_rank(_gnp.eye(2)).item()
    2
    """
    t = _t(x)
    if t.ndim >= 2 and 0 in t.shape[-2:]:
        return _gnp.zeros(t.shape[:-2], dtype="int64", device=t.device)
    r = _per_matrix(rtol)
    return _la.matrix_rank(t, rtol=r.data if hasattr(r, "data") else r)


def matrix_transpose(x, /):
    """Transpose of the last two axes.

    >>> matrix_transpose(_gnp.ones((2, 3))).shape
    (3, 2)
    """
    return _la.matrix_transpose(x)


def outer(x1, x2, /):
    """Outer product of two 1-D arrays.

    >>> outer(_gnp.ones(2), _gnp.ones(3)).shape
    (2, 3)
    """
    a, b = _t(x1), _t(x2, x1)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected 1-D arrays, got shapes {a.shape} and {b.shape}")
    return _la.outer(a, b)


def pinv(x, /, *, rtol=None):
    """Pseudo-inverse (the empty transpose for an empty matrix).

    >>> pinv(_gnp.eye(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    t = _t(x)
    if t.ndim >= 2 and 0 in t.shape[-2:]:
        return _gnp.matrix_transpose(t)  # no elements: the graph stays, nothing to compute
    return _la.pinv(t, rtol=_per_matrix(rtol))


def qr(x, /, *, mode="reduced"):
    """QR factorization.

    >>> qr(_gnp.eye(2)).Q.shape
    (2, 2)
    """
    return _la.qr(x, mode=mode)


def slogdet(x, /):
    """Sign and log-absolute-determinant.

    >>> slogdet(_gnp.eye(2)).logabsdet.item()
    0.0
    """
    return _la.slogdet(x)


def solve(x1, x2, /):
    """Solve ``x1 @ out = x2``.

    >>> solve(_gnp.eye(2), _gnp.ones(2)).tolist()
    [1.0, 1.0]
    """
    return _la.solve(x1, x2)


def svd(x, /, *, full_matrices=True):
    """Singular value decomposition ``(U, S, Vh)``.

    >>> svd(_gnp.eye(2)).S.tolist()
    [1.0, 1.0]
    """
    return _la.svd(x, full_matrices=full_matrices)


def svdvals(x, /):
    """Singular values.

    >>> svdvals(_gnp.eye(2)).tolist()
    [1.0, 1.0]
    """
    return _la.svdvals(x)


def tensordot(x1, x2, /, *, axes=2):
    """Sum of products over ``axes``.

    >>> tensordot(_gnp.ones((2, 2)), _gnp.ones((2, 2))).item()
    4.0
    """
    return _la.tensordot(x1, x2, axes)


def trace(x, /, *, offset=0, dtype=None):
    """Sum of the diagonals of the last two axes.

    >>> trace(_gnp.eye(3)).item()
    3.0
    """
    t = _t(x)
    if dtype is not None:  # summed in dtype, as the standard's sum does
        t = _gnp.astype(t, dtype, copy=False)
    r = _la.numpy_trace(t, offset, -2, -1)
    if dtype is not None:
        return r if r.dtype == t.dtype else _gnp.astype(r, t.dtype)
    if t.dtype.kind in "biu":
        return r.astype("int64" if t.dtype.kind in "bi" else "uint64")
    return r


def vecdot(x1, x2, /, *, axis=-1):
    """Vector dot product along ``axis`` (conjugating ``x1``), in the promoted dtype.

    >>> vecdot(_gnp.ones(3), _gnp.ones(3)).item()
    3.0
    """
    a, b = _t(x1), _t(x2, x1)
    return _in_result_type(_la.vecdot(a, b, axis=axis), a, b)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """Vector p-norm over ``axis`` (all axes when None).

    >>> vector_norm(_gnp.array([3.0, 4.0])).item()
    5.0
    """
    return _la.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
