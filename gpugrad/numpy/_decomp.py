"""Decompositions and matrix functions of ``gpugrad.numpy.linalg``, returning NumPy 2's
named tuples; differentiable (see :mod:`gpugrad.ops.decompositions` for the gradients).

>>> import gpugrad.numpy as gnp
>>> gnp.linalg.eigh(gnp.array([[2.0, 0.0], [0.0, 1.0]])).eigenvalues.tolist()
[1.0, 2.0]
"""
from __future__ import annotations

import operator
from collections import namedtuple

import numpy as _np

from .. import backend, ops
from ..amp.autocast_mode import autocast
from . import _core as C
from . import _fallback
from ._exact import numpy_own
from ..ops._fast import in_graph
from ..ops import eig as _eig
from ..ops.decompositions import no_low_precision
from ..ops.linalg_pinv import pinv as _pinv
from ..tensor import Tensor
from ..zero_d import mark_scalar

__all__ = ["slogdet", "cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv",
           "matrix_power", "matrix_rank", "multi_dot", "diagonal", "eig", "eigvals", "lstsq",
           "cond", "SlogdetResult", "EighResult", "SVDResult", "QRResult"]

_NOVALUE = _np._NoValue
SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")
EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")
EigResult = namedtuple("EigResult", "eigenvalues eigenvectors")
SVDResult = namedtuple("SVDResult", "U S Vh")
QRResult = namedtuple("QRResult", "Q R")


def _m(a):
    return C.to_float(C.tensor(a))


def slogdet(a):
    """Sign and log of the absolute determinant.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.slogdet(gnp.eye(2)).sign.item()
    1.0
    """
    # (mark_scalar: NumPy's answers for one matrix are scalars; 0-d is the only shape marked)
    return SlogdetResult(*(mark_scalar(t) for t in ops.slogdet(_m(a))))


def cholesky(a, /, *, upper=False):
    """Cholesky factor (lower by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.cholesky(gnp.array([[4.0, 0.0], [0.0, 9.0]])).tolist()
    [[2.0, 0.0], [0.0, 3.0]]
    """
    return ops.cholesky(_m(a), upper=upper)


def eigh(a, UPLO="L"):
    """Eigenvalues and eigenvectors of a symmetric matrix (lower triangle read).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.eigh(gnp.eye(2)).eigenvalues.tolist()
    [1.0, 1.0]
    """
    if UPLO != "L":
        raise C.Unsupported("gpugrad.numpy.linalg.eigh: only UPLO='L' is supported")
    return EighResult(*ops.eigh(_m(a)))


def eigvalsh(a, UPLO="L"):
    """Eigenvalues of a symmetric matrix, ascending (outside a recorded graph NumPy's own,
    any ``UPLO``; in one, those of :func:`eigh`, equal up to rounding, ``UPLO='L'``).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.eigvalsh(gnp.eye(2)).tolist()
    [1.0, 1.0]
    """
    r = numpy_own(_np.linalg.eigvalsh, (a,), {"UPLO": UPLO})  # no graph: LAPACK's own
    if r is not None:
        return r
    if UPLO != "L":
        raise C.Unsupported("gpugrad.numpy.linalg.eigvalsh: only UPLO='L' is supported")
    return ops.eigvalsh(_m(a))


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition ``(U, S, Vh)``; just S with ``compute_uv=False``.
    Outside a recorded graph S alone (and ``hermitian=True``) is NumPy's own answer.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.svd(gnp.eye(2)).S.tolist()
    [1.0, 1.0]
    """
    if not compute_uv or hermitian:  # no graph: NumPy's own (values-only driver, eigh)
        r = numpy_own(_np.linalg.svd, (a,), {"full_matrices": full_matrices,
                                             "compute_uv": compute_uv, "hermitian": hermitian})
        if r is not None:
            return r if not compute_uv else SVDResult(*r)
    if not compute_uv:
        return ops.svdvals(_m(a))
    return SVDResult(*ops.svd(_m(a), full_matrices=full_matrices))


def svdvals(x, /):
    """Singular values, descending (outside a recorded graph NumPy's own, LAPACK's
    values-only driver; in one, those of the full SVD, equal up to rounding).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.svdvals(gnp.eye(2)).tolist()
    [1.0, 1.0]
    """
    r = numpy_own(_np.linalg.svd, (x,), {"compute_uv": False})  # no graph: NumPy's own
    return ops.svdvals(_m(x)) if r is None else r


def qr(a, mode="reduced"):
    """QR factorization ``(Q, R)`` ('reduced' or 'complete'; 'r' gives R only).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.qr(gnp.eye(2)).R.shape
    (2, 2)
    """
    if mode == "r":
        return ops.qr(_m(a))[1]
    return QRResult(*ops.qr(_m(a), mode=mode))


def pinv(a, rcond=None, hermitian=False, *, rtol=_NOVALUE):
    """Moore-Penrose pseudo-inverse via the SVD (singular values at or below
    ``rcond * max(s)`` dropped; ``rcond`` defaults to 1e-15, ``rtol=None`` means
    ``max(M, N) * eps``), NumPy's formula ``Vh^H @ (s^-1 * U^H)`` of ``conj(a)``'s SVD, so
    the values are NumPy's bit for bit; differentiable (real and complex input) where the
    rank is kept, repeated singular values included (:mod:`gpugrad.ops.linalg_pinv`).

    Errors: ValueError when both ``rcond`` and ``rtol`` are given.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.pinv(gnp.array([[2.0, 0.0], [0.0, 0.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    x = _m(a)
    if rcond is None:
        rcond = 1e-15 if rtol is _NOVALUE else rtol
        if rcond is None:
            rcond = max(x.shape[-2:]) * _np.finfo(x.dtype).eps
    elif rtol is not _NOVALUE:
        raise ValueError("pinv: rcond and rtol can't be both set")
    return _pinv(x, rcond)  # one op: its gradient holds where singular values repeat


def matrix_power(a, n):
    """``a`` to the integer power ``n`` (negative powers invert), by repeated squaring.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.matrix_power(gnp.array([[1.0, 1.0], [0.0, 1.0]]), 3).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    x = C.tensor(a)
    n = operator.index(n)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"matrix_power: expected square matrices, got shape {x.shape}")
    if n < 0:
        x, n = ops.inv(C.to_float(x)), -n
    if n == 3:  # NumPy's own order for a cube: (x @ x) @ x
        return ops.matmul(ops.matmul(x, x), x)
    result, base = None, x
    while n:
        if n & 1:
            result = base if result is None else ops.matmul(result, base)
        n >>= 1
        if n:
            base = ops.matmul(base, base)
    if result is None:
        eye = C.tensor(_np.eye(x.shape[-1], dtype=x.dtype), x)
        return ops.copy(ops.broadcast_to(eye, x.shape))
    return result


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """Number of singular values above the tolerance (no gradient).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.matrix_rank(gnp.array([[1.0, 2.0], [2.0, 4.0]])).item()
    1
    """
    if isinstance(A, Tensor):   # a 16-bit A: float32 under autocast, else TypeError
        A = no_low_precision(A, "matrix_rank")
    r = numpy_own(_np.linalg.matrix_rank, (A.detach() if isinstance(A, Tensor) else A,),
                  {"tol": tol, "hermitian": hermitian, "rtol": rtol})  # NumPy's own, CPU
    if r is not None:
        return r
    x = _m(A)
    if x.ndim < 2:
        return C.wrap(_np.asarray(int(bool((x.data != 0).any()))))
    s = ops.svdvals(x.detach()).data
    xp = backend.get_array_module(s)
    if tol is None:  # (NumPy's: an array rtol or tol holds one value per matrix)
        r = max(x.shape[-2:]) * _np.finfo(x.dtype).eps if rtol is None else \
            xp.asarray(C.tensor(rtol, x).data)[..., None]
        tol = s.max(axis=-1, keepdims=True) * r
    else:
        tol = xp.asarray(C.tensor(tol, x).data)[..., None]
    return C.wrap((s > tol).sum(axis=-1))


def multi_dot(arrays, *, out=None):
    """Product of a chain of matrices in the cheapest order (NumPy's: by cost for three,
    by the matrix-chain dynamic program for more), so the values are NumPy's bit for bit; a
    1-D first (last) array is a row (column) vector, dropped from the result.

    Errors: ValueError for fewer than two arrays or an inner array that is not 2-D.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.multi_dot([gnp.eye(2), gnp.ones((2, 3)), gnp.ones(3)]).tolist()
    [3.0, 3.0]
    """
    from .linalg import dot

    ts = [C.tensor(a) for a in arrays]
    if len(ts) < 2:
        raise ValueError("multi_dot: expected at least two arrays")
    if len(ts) == 2:
        return dot(ts[0], ts[1], out=out)
    first, last = ts[0].ndim, ts[-1].ndim
    if first == 1:
        ts[0] = ops.reshape(ts[0], (1, -1))
    if last == 1:
        ts[-1] = ops.reshape(ts[-1], (-1, 1))
    if any(t.ndim != 2 for t in ts):
        raise ValueError(f"multi_dot: expected 2-D arrays (1-D first and last allowed), got "
                         f"shapes {[t.shape for t in ts]}")
    order = _chain_order([t.shape for t in ts])
    r = _chain(dot, ts, order, 0, len(ts) - 1)
    if first == 1 and last == 1:
        r = r[0, 0]
    elif first == 1 or last == 1:
        r = ops.ravel(r)
    return C.out(r, out, "multi_dot")


def _chain_order(shapes):
    """NumPy's split points ``s[i][j]`` for the product of matrices ``i..j`` of ``shapes``."""
    n = len(shapes)
    if n == 3:  # NumPy's cost rule: (AB)C when strictly cheaper, else A(BC)
        (a0, a1b0), (b1c0, c1) = shapes[0], shapes[2]
        k = 1 if a0 * b1c0 * (a1b0 + c1) < a1b0 * c1 * (a0 + b1c0) else 0
        return {(0, 2): k, (1, 2): 1, (0, 1): 0}
    p = [s[0] for s in shapes] + [shapes[-1][1]]
    cost, split = {(i, i): 0.0 for i in range(n)}, {}
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i, j] = _np.inf
            for k in range(i, j):
                q = cost[i, k] + cost[k + 1, j] + p[i] * p[k + 1] * p[j + 1]
                if q < cost[i, j]:
                    cost[i, j], split[i, j] = q, k
    return split


def _chain(dot, ts, order, i, j):
    if i == j:
        return ts[i]
    k = order[i, j]
    return dot(_chain(dot, ts, order, i, k), _chain(dot, ts, order, k + 1, j))


def diagonal(x, /, *, offset=0):
    """The diagonals of the last two axes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.diagonal(gnp.eye(2)).tolist()
    [1.0, 1.0]
    """
    return ops.diagonal(C.tensor(x), offset, -2, -1)


def _in_graph(a):
    return in_graph(a)  # (a view whose base joined the graph since is in it too)


def eig(a):
    """Eigenvalues and right eigenvectors of a general matrix (NumPy's ``EigResult``; real
    when every eigenvalue is real, complex otherwise).  Inside a recorded graph it is
    differentiable (:func:`gpugrad.ops.eig.eig`; a loss that depends on the free phases of
    complex eigenvectors raises ValueError at backward); outside one, NumPy's own answer.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.eig(gnp.array([[2.0, 0.0], [0.0, 3.0]])).eigenvalues.tolist()
    [2.0, 3.0]
    """
    if _in_graph(a):
        return EigResult(*_eig.eig(_m(a)))
    return _fallback.call(_np.linalg.eig, (a,), {}, "linalg.eig")


def eigvals(a):
    """Eigenvalues of a general matrix (see :func:`eig`).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.eigvals(gnp.array([[2.0, 0.0], [0.0, 3.0]])).tolist()
    [2.0, 3.0]
    """
    if _in_graph(a):
        return _eig.eigvals(_m(a))
    return _fallback.call(_np.linalg.eigvals, (a,), {}, "linalg.eigvals")


def lstsq(a, b, rcond=None):
    """Least-squares solution of ``a @ x = b``: ``(x, residuals, rank, s)`` as NumPy's,
    with ``x`` = ``pinv(a) @ b`` in a graph (singular values below ``rcond * max(s)``
    dropped; by default ``rcond`` = eps * max(M, N)); ``x``, the residuals and ``s`` are
    differentiable.  Outside a graph it is NumPy's own (LAPACK gelsd) answer.

    >>> import gpugrad.numpy as gnp
    >>> a = gnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> x, res, rank, s = gnp.linalg.lstsq(a, gnp.array([1.0, 1.0, 3.0]))
    >>> x.round(6).tolist(), res.round(6).tolist(), int(rank)
    ([1.333333, 1.333333], [0.333333], 2)
    """
    if not (_in_graph(a) or _in_graph(b)):  # no gradient wanted: LAPACK's gelsd, NumPy's answer bit for bit
        return _fallback.call(_np.linalg.lstsq, (a, b), {"rcond": rcond}, "linalg.lstsq")
    A = _m(a)
    B = C.to_float(C.tensor(b, A))
    # before finfo, which does not know bfloat16 (float32 under autocast)
    A, B = no_low_precision(A, "lstsq"), no_low_precision(B, "lstsq")
    with autocast(enabled=False):   # a float32 op under autocast: its products too
        return _lstsq(A, B, rcond)


def _lstsq(A, B, rcond):
    if A.ndim != 2 or B.ndim not in (1, 2) or B.shape[0] != A.shape[0]:
        raise ValueError(f"lstsq: expected a of shape (M, N) and b of shape (M,) or (M, K), "
                         f"got {A.shape} and {B.shape}")
    m, n = A.shape
    tol = _np.finfo(A.dtype).eps * max(m, n) if rcond is None or rcond == -1 else rcond
    s = ops.svdvals(A)
    x = ops.matmul(pinv(A, rtol=tol), B)
    rank = _np.int32((s.numpy() > tol * s.numpy().max(initial=0)).sum())
    if rank == n and m > n:
        r = ops.subtract(B, ops.matmul(A, x))
        sq = ops.real(ops.multiply(r, ops.conj(r))) if r.dtype.kind == "c" else ops.multiply(r, r)
        res = ops.sum(sq, axis=0)  # |r|^2 per column: real, as NumPy's
        res = ops.reshape(res, (1,)) if B.ndim == 1 else res
    else:
        res = C.tensor(_np.empty((0,), s.dtype), A)  # the real dtype of a complex a
    return x, res, rank, s


def cond(x, p=None):
    """Condition number of (a stack of) matrices: ``s_max / s_min`` of the singular values
    for ``p`` None, 2 or -2 (its inverse for -2), else ``norm(x, p) * norm(inv(x), p)``
    (``p`` 'fro', 'nuc', 1, -1, inf, -inf); differentiable.  Float64 for integer input.
    Outside a recorded graph it is NumPy's own answer (inf for a singular matrix).

    >>> import gpugrad.numpy as gnp
    >>> round(gnp.linalg.cond(gnp.array([[2.0, 0.0], [0.0, 0.5]])).item(), 6)
    4.0
    """
    from .linalg import matrix_norm

    r = numpy_own(_np.linalg.cond, (x, p))  # no graph: NumPy's own (values-only SVD)
    if r is not None:
        return r
    t = _m(x)
    if t.ndim < 2:
        raise _np.linalg.LinAlgError(f"cond: expected at least 2 dimensions, got {t.ndim}")
    if p is None or p in (2, -2):
        s = ops.svdvals(t)
        big, small = ops.max(s, axis=-1), ops.min(s, axis=-1)
        return ops.divide(small, big) if p == -2 else ops.divide(big, small)
    return ops.multiply(matrix_norm(t, ord=p), matrix_norm(ops.inv(t), ord=p))
