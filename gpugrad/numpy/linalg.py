"""``gpugrad.numpy.linalg`` (NumPy's ``numpy.linalg``) plus the top-level products (dot,
matmul, inner, outer, tensordot, einsum, trace, diag, kron, cross, vecdot), differentiable.

>>> import gpugrad.numpy as gnp
>>> a = gnp.array([[2.0, 1.0], [1.0, 3.0]])
>>> round(gnp.linalg.det(a).item(), 6), gnp.linalg.solve(a, gnp.array([3.0, 4.0])).tolist()
(5.0, [1.0, 1.0])
"""
from __future__ import annotations

import numpy as _np

from .. import ops
from ..ops._axis_args import axis_index
from ..ops._fast import fast_matmul
from . import _core as C
from ._exact import numpy_own

__all__ = ["norm", "inv", "det", "solve", "slogdet", "cholesky", "eigh", "eigvalsh", "svd",
           "svdvals", "qr", "pinv", "matrix_power", "matrix_rank", "multi_dot", "matrix_norm",
           "vector_norm", "matmul", "outer", "tensordot", "trace", "diagonal", "cross",
           "vecdot", "matrix_transpose", "eig", "eigvals", "lstsq", "LinAlgError", "cond",
           "tensorinv", "tensorsolve"]
TOP = ["dot", "vdot", "matmul", "inner", "outer", "tensordot", "einsum", "trace", "diag",
       "kron", "cross", "vecdot", "matrix_transpose"]

LinAlgError = _np.linalg.LinAlgError


def _pair(a, b):
    a, b = C.operands([a, b])
    return C.tensor(a, b), C.tensor(b, a)


# ================================================================ products
def dot(a, b, out=None):
    """NumPy's ``dot`` (matmul for 1-D/2-D, multiply for scalars).

    >>> import gpugrad.numpy as gnp
    >>> gnp.dot([1.0, 2.0], [3.0, 4.0]).item()
    11.0
    """
    r = fast_matmul(a, b, _np.dot) if out is None else None  # plain tensors: NumPy's dot
    if r is not None:
        return r
    a, b = _pair(a, b)
    r = fast_matmul(a, b, _np.dot) if out is None else None  # arrays or lists made tensors
    return C.out(ops.dot(a, b) if r is None else r, out, "dot")


def vdot(a, b):
    """Dot product of the flattened arguments, the first conjugated: a 0-d tensor (NumPy's
    dtype promotion), differentiable.  It runs as a dot product of the flattened vectors
    (BLAS's, as NumPy's ``vdot``), so the result matches NumPy's bit for bit.

    Errors: ValueError when the sizes differ.

    >>> import gpugrad.numpy as gnp
    >>> gnp.vdot([[1.0, 2.0]], [[3.0, 4.0]]).item()
    11.0
    >>> gnp.vdot([1j, 2.0], [1j, 1.0]).item()
    (3+0j)
    """
    a, b = _pair(a, b)
    if a.size != b.size:
        raise ValueError(f"vdot: expected arguments with the same number of elements, got "
                         f"shapes {a.shape} and {b.shape}")
    a = ops.ravel(a)
    return ops.dot(ops.conj(a) if a.dtype.kind == "c" else a, ops.ravel(b))


def matmul(x1, x2, /, out=None, **kwargs):
    """Matrix product with broadcasting batch dimensions.

    >>> import gpugrad.numpy as gnp
    >>> gnp.matmul(gnp.ones((2, 3)), gnp.ones(3)).tolist()
    [3.0, 3.0]
    """
    if out is None and not kwargs:
        r = fast_matmul(x1, x2)  # plain tensors: NumPy's matmul directly
        if r is not None:
            return r
    C.unsupported("matmul", **{k: (v, None) for k, v in kwargs.items() if k != "dtype"})
    a, b = _pair(x1, x2)
    dt = kwargs.get("dtype")
    if dt is not None:
        a, b = a.astype(C.dtype(dt)), b.astype(C.dtype(dt))
    return C.out(ops.matmul(a, b), out, "matmul")


def inner(a, b, /):
    """Sum of products over the last axes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.inner([1.0, 2.0], [3.0, 4.0]).item()
    11.0
    """
    return ops.inner(*_pair(a, b))


def outer(a, b, out=None):
    """Outer product of the flattened inputs.

    >>> import gpugrad.numpy as gnp
    >>> gnp.outer([1.0, 2.0], [1.0, 10.0]).tolist()
    [[1.0, 10.0], [2.0, 20.0]]
    """
    return C.out(ops.outer(*_pair(a, b)), out, "outer")


def tensordot(a, b, axes=2):
    """Sum of products over ``axes``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.tensordot(gnp.ones((2, 3)), gnp.ones((3, 4)), 1).shape
    (2, 4)
    """
    try:
        iter(axes)
    except TypeError:  # a number of axes: an integer (NumPy computes range(axes) with it)
        axes = axis_index(axes, None, "tensordot: axes", strict=False)
    return ops.tensordot(*_pair(a, b), axes=axes)


def einsum(subscripts, *operands, out=None, dtype=None, order="K", casting="safe",
           optimize=False):
    """Einstein summation, with NumPy's ``...`` broadcasting, repeated indices within an
    operand (diagonals, traces) and the interleaved form ``einsum(a, [0, 1], b, [1, 2])``.
    Outside a recorded graph (and without ``out``) it is NumPy's own ``einsum`` with the
    same arguments, so its values are NumPy's bit for bit (``optimize=False``: NumPy's
    summation loops); in a graph the contraction runs through BLAS, equal up to rounding.

    >>> import gpugrad.numpy as gnp
    >>> gnp.einsum("ij,j->i", gnp.ones((2, 3)), gnp.ones(3)).tolist()
    [3.0, 3.0]
    >>> gnp.einsum("...ii->...i", gnp.ones((4, 2, 2))).shape
    (4, 2)
    """
    from ._einsum import normalize

    if out is None:
        r = numpy_own(_np.einsum, (subscripts,) + operands, {
            "dtype": dtype, "order": order, "casting": casting, "optimize": optimize})
        if r is not None:
            return r
    subscripts, ts = normalize(subscripts, operands)
    if dtype is not None:
        ts = [t.astype(C.dtype(dtype)) for t in ts]
    return C.out(ops.einsum(subscripts, *ts), out, "einsum")


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal.

    >>> import gpugrad.numpy as gnp
    >>> gnp.trace(gnp.eye(3)).item()
    3.0
    """
    t = ops.trace(C.tensor(a), offset, axis1, axis2)
    return C.out(t.astype(C.dtype(dtype)) if dtype is not None else t, out, "trace")


def diag(v, k=0):
    """Diagonal of a 2-D array -- as NumPy's, a read-only view of it (the method
    ``v.diagonal(k)``; a copy on a GPU) -- or a new 2-D array with 1-D ``v`` on its
    diagonal.  Differentiable.

    >>> import gpugrad.numpy as gnp
    >>> gnp.diag(gnp.array([1, 2])).tolist()
    [[1, 0], [0, 2]]
    """
    t = C.tensor(v)
    return t.diagonal(k) if t.ndim == 2 else ops.diag(t, k)


def kron(a, b):
    """Kronecker product of arrays of any dimensions (the smaller padded with leading 1s) and
    numbers, differentiable in both; dtype as NumPy's ``multiply``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.kron(gnp.eye(2), gnp.ones((1, 2))).shape
    (2, 4)
    """
    a, b = _pair(a, b)
    nd = max(a.ndim, b.ndim)
    sa, sb = (1,) * (nd - a.ndim) + a.shape, (1,) * (nd - b.ndim) + b.shape
    # a's axis i against b's axis i, side by side: (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...)
    ar = ops.reshape(a, tuple(v for n in sa for v in (n, 1)))
    br = ops.reshape(b, tuple(v for n in sb for v in (1, n)))
    return ops.reshape(ops.multiply(ar, br), tuple(m * n for m, n in zip(sa, sb)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Cross product of 3-vectors along the last axis (differentiable).

    >>> import gpugrad.numpy as gnp
    >>> gnp.cross([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]).tolist()
    [0.0, 0.0, 1.0]
    """
    a, b = _pair(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    axisa, axisb, axisc = (axis_index(v, None, "cross: axis", strict=False)
                           for v in (axisa, axisb, axisc))
    a, b = ops.moveaxis(a, axisa, -1), ops.moveaxis(b, axisb, -1)
    if a.shape[-1] != 3 or b.shape[-1] != 3:
        raise C.Unsupported(f"gpugrad.numpy.cross: only 3-vectors are supported, got "
                                  f"shapes {a.shape} and {b.shape}")
    c = [a[..., i] * b[..., j] - a[..., j] * b[..., i] for i, j in ((1, 2), (2, 0), (0, 1))]
    return ops.moveaxis(ops.stack(c, axis=-1), -1, axisc)


def vecdot(x1, x2, /, *, axis=-1):
    """Vector dot product along ``axis`` (first argument conjugated), broadcasting; outside
    a recorded graph NumPy's own (a BLAS dot per vector), in one a sum of products.

    >>> import gpugrad.numpy as gnp
    >>> gnp.vecdot(gnp.ones((2, 3)), gnp.ones(3)).tolist()
    [3.0, 3.0]
    """
    r = numpy_own(_np.vecdot, (x1, x2), {"axis": axis})
    if r is not None:
        return r
    a, b = _pair(x1, x2)
    if a.shape[axis] != b.shape[axis]:
        raise ValueError(f"vecdot: sizes along axis {axis} differ: {a.shape} and {b.shape}")
    return ops.sum(ops.multiply(ops.conj(a) if a.dtype.kind == "c" else a, b), axis=axis)


def matrix_transpose(x, /):
    """Swap the last two axes.

    >>> import gpugrad.numpy as gnp
    >>> gnp.matrix_transpose(gnp.zeros((4, 2, 3))).shape
    (4, 3, 2)
    """
    t = C.tensor(x)
    if t.ndim < 2:
        raise ValueError(f"matrix_transpose: expected at least 2 dimensions, got {t.shape}")
    return ops.swapaxes(t, -1, -2)


# ================================================================ numpy.linalg
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector and matrix norms (``ord`` None/'fro'/'nuc'/1/2/inf/-inf/p as in NumPy).
    Outside a recorded graph NumPy's own (its sums, dots and values-only SVD); in one,
    differentiable (gradient 0 at the origin), equal up to rounding.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.norm(gnp.array([3.0, 4.0])).item()
    5.0
    """
    r = numpy_own(_np.linalg.norm, (x, ord, axis, keepdims))
    if r is not None:
        return r
    t = C.to_float(C.tensor(x))
    if axis is not None and not isinstance(axis, tuple):  # NumPy: an int or a tuple of ints
        axis = (axis_index(axis),)
    nd = len(axis) if axis is not None else (t.ndim if ord is not None else 1)
    if axis is None and ord is None:
        return ops.norm(t, None, None, keepdims)
    if nd == 2 or (axis is None and t.ndim == 2):
        return matrix_norm(t, keepdims=keepdims, ord="fro" if ord is None else ord,
                           _axes=axis or (-2, -1))
    return vector_norm(t, axis=axis, keepdims=keepdims, ord=2 if ord is None else ord)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """p-norm over ``axis`` (all axes by default): ord p, inf, -inf or 0 (NumPy's own
    outside a recorded graph, as :func:`norm`).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.vector_norm(gnp.array([3.0, -4.0]), ord=1).item()
    7.0
    """
    r = numpy_own(_np.linalg.vector_norm, (x,), {"axis": axis, "keepdims": keepdims, "ord": ord})
    if r is not None:
        return r
    t = C.to_float(C.tensor(x))
    if axis is None and t.ndim != 1:
        r = vector_norm(ops.ravel(t), axis=0, ord=ord)
        return ops.reshape(r, (1,) * t.ndim) if keepdims else r
    if ord == 2:  # the Euclidean norm over any axes (gradient 0 at the origin)
        return ops.norm(t, None, axis, keepdims)
    a = ops.abs(t)
    if ord == _np.inf:
        return ops.max(a, axis=axis, keepdims=keepdims)
    if ord == -_np.inf:
        return ops.min(a, axis=axis, keepdims=keepdims)
    if ord == 1:
        return ops.sum(a, axis=axis, keepdims=keepdims)
    if ord == 0:  # a count, in the real dtype (of a complex input too)
        return ops.sum(ops.not_equal(t, 0).astype(a.dtype), axis=axis, keepdims=keepdims)
    return _p_norm(a, ord, axis, keepdims)


def _p_norm(a, p, axis, keepdims):
    """sum(a^p)^(1/p) of ``a = |x|``, NumPy's value, with PyTorch's gradient where the power
    rule gives 0 * inf: 0 at a zero entry (p < 1) and wherever the norm is 0 (the origin;
    for p < 0 any zero entry).  The unselected branches get safe inputs (a double where)."""
    zero = ops.equal(a, 0).detach()
    ap = ops.where(zero, _np.array(0.0 ** p if p > 0 else _np.inf, a.dtype),
                   ops.power(ops.where(zero, 1, a), p))
    s = ops.sum(ap, axis=axis, keepdims=keepdims)
    flat = ops.any(zero, axis=axis, keepdims=keepdims) if p < 0 else ops.equal(s, 0).detach()
    r = ops.power(ops.where(flat, 1, s), 1.0 / p)
    return ops.where(flat, _np.array(0.0, r.dtype), r)


def matrix_norm(x, /, *, keepdims=False, ord="fro", _axes=(-2, -1)):
    """Matrix norm over the last two axes: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf (NumPy's
    own outside a recorded graph, as :func:`norm`).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.matrix_norm(gnp.eye(2), ord="nuc").item()
    2.0
    """
    if _axes == (-2, -1):
        r = numpy_own(_np.linalg.matrix_norm, (x,), {"keepdims": keepdims, "ord": ord})
        if r is not None:
            return r
    t = C.to_float(C.tensor(x))
    a1, a2 = (ax % t.ndim for ax in _axes)
    t = ops.moveaxis(t, (a1, a2), (-2, -1))
    if ord == "fro":
        r = ops.norm(t, None, (-2, -1))
    elif ord in ("nuc", 2, -2):
        s = ops.svdvals(t)
        r = {"nuc": ops.sum, 2: ops.max, -2: ops.min}[ord](s, axis=-1)
    elif ord in (1, -1, _np.inf, -_np.inf):
        red = ops.max if ord > 0 else ops.min
        r = red(ops.sum(ops.abs(t), axis=-2 if abs(ord) == 1 else -1), axis=-1)
    else:
        raise ValueError(f"matrix_norm: invalid ord {ord!r}")
    if keepdims:
        r = ops.expand_dims(ops.expand_dims(r, -1), -1)
        r = ops.moveaxis(r, (-2, -1), (a1, a2))
    return r


def inv(a):
    """Matrix inverse (batched).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.inv(gnp.array([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    return ops.inv(C.to_float(C.tensor(a)))


def det(a):
    """Determinant (batched).

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.det(gnp.eye(2)).item()
    1.0
    """
    return ops.det(C.to_float(C.tensor(a)))


def solve(a, b):
    """Solve ``a @ x = b``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.solve(gnp.eye(2), gnp.array([1.0, 2.0])).tolist()
    [1.0, 2.0]
    """
    a, b = _pair(a, b)
    return ops.solve(C.to_float(a), C.to_float(b))


from ._decomp import *  # noqa: E402,F401,F403

numpy_trace = trace  # numpy.trace (``gpugrad.numpy.trace``); linalg.trace is numpy.linalg's


def trace(x, /, *, offset=0, dtype=None):  # noqa: F811 -- numpy.linalg.trace
    """``numpy.linalg.trace``: the sum along diagonal ``offset`` of the last two axes
    (``numpy.trace`` sums over the first two), differentiable.

    >>> import gpugrad.numpy as gnp
    >>> gnp.linalg.trace(gnp.ones((4, 2, 2))).tolist()
    [2.0, 2.0, 2.0, 2.0]
    """
    return numpy_trace(x, offset, axis1=-2, axis2=-1, dtype=dtype)
from ._tensorsolve import tensorinv, tensorsolve  # noqa: E402,F401
