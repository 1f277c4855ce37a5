"""The matrix decompositions the NumPy and array-API namespaces expose (cholesky, eigh,
eigvalsh, svd, svdvals, qr, slogdet), each with its gradient.  Ops with several results
pack them into one array along the last axis (one graph node; packed_results.py); the public
function slices them apart, which is differentiable.

Gradients follow the usual real-valued formulas (Murray 2016 for Cholesky; Townsend 2016 for
the SVD; Walter and Lehmann for QR).  ``eigh`` and ``cholesky`` read only the lower triangle,
so their gradients are the symmetric ones.  At repeated eigen/singular values a loss of the
values alone gets its gradient, and a loss that reaches the vectors of the repeated ones
raises ValueError (linalg_degenerate.py says why: never a zeroed, wrong term).

Every backward here is written once on ``xp = xp_of(g)`` in terms of the op's results (and,
for ``slogdet``, its input), so under ``create_graph`` it records a graph and the gradient
can be differentiated again, on the domain where the first derivative exists (distinct
eigen/singular values, nonzero singular values for the non-square SVD, full-rank QR).

Complex (Hermitian) input gets NumPy's complex answer -- the real results (eigenvalues,
singular values, ``logabsdet``) in the real dtype, as NumPy gives them.  The gradient with
respect to complex input is PyTorch's for ``slogdet``; for the other decompositions it
raises NotImplementedError.  (Triangles and diagonals are in extra_linalg.py.)

>>> import gpugrad as gg
>>> a = gg.tensor([[4.0, 2.0], [2.0, 3.0]], requires_grad=True)
>>> w, v = gg.eigh(a)
>>> w.sum().backward(); a.grad.round(6).tolist()   # d trace / dA = I
[[1.0, 0.0], [0.0, 1.0]]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..dtypes import is_low_precision
from ..tensor import Tensor
from ._util import tensor_arg, xp_of
from .linalg_degenerate import (check_coupling, check_null_space, check_values,
                                repeated_pairs, small_values, zero_where)
from .packed_results import _no_complex_grad, _Packed, _unpack

__all__ = ["cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr", "slogdet"]


def _T(a):
    return a.swapaxes(-1, -2)


def _eye_like(xp, a):
    """The identity of ``a``'s last dimension in ``a``'s dtype, made on ``a``'s data's device
    (a constant Tensor when ``xp`` is the Tensor namespace)."""
    raw = a.data if isinstance(a, Tensor) else a
    return xp.asarray(xp_of(raw).eye(a.shape[-1], dtype=a.dtype))


def _safe_inv(xp, d):
    return xp.where(d == 0, 0, 1 / xp.where(d == 0, 1, d))


def no_low_precision(x, what):
    """TypeError for float16/bfloat16 ``x``: the LAPACK functions refuse 16-bit floats, as
    NumPy's (and PyTorch's on the CPU) do; NumPy would answer bfloat16 in float64."""
    if is_low_precision(x.dtype):
        raise TypeError(f"{what}: array type {x.dtype.name} is unsupported in linalg "
                        f"(expected float32, float64 or complex input, as NumPy's linalg); "
                        f"cast it first, e.g. x.astype('float32')")


def _float(x, what):
    """Integers and bools as float64 (NumPy's linalg does the same); complex stays complex;
    16-bit floats refused (:func:`no_low_precision`)."""
    no_low_precision(x, what)
    return x if x.dtype.kind in "fc" else x.astype(np.float64)


def _square(x, what):
    x = tensor_arg(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{what}: expected square matrices of shape (..., n, n), got {x.shape}")
    return _float(x, what)


class Cholesky(Function):
    """Backward (Murray 2016) from the factor L alone (the answer; L^-1 is recomputed from it
    with a differentiable inv), so it records a graph under ``create_graph``."""

    saves_output = True
    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, a):
        ans = xp_of(a).linalg.cholesky(a)
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (L,) = self.saved
        _no_complex_grad("cholesky", L.dtype)
        xp = xp_of(g)
        P = xp.tril(_T(L) @ g)
        P = P - 0.5 * _eye_like(xp, L) * P  # halve the diagonal
        Linv = xp.linalg.inv(L)
        S = _T(Linv) @ P @ Linv
        return (0.5 * (S + _T(S)),)


def cholesky(x, upper=False):
    """Cholesky factor of a symmetric positive-definite matrix: lower L with L L^T = x
    (upper U = L^T with ``upper=True``).

    >>> import gpugrad as gg
    >>> gg.cholesky(gg.tensor([[4.0, 2.0], [2.0, 5.0]])).tolist()
    [[2.0, 0.0], [1.0, 2.0]]
    """
    L = Cholesky.apply(_square(x, "cholesky"))
    if upper:
        from . import swapaxes

        return swapaxes(L, -1, -2)
    return L


class Eigh(_Packed):
    def compute(self, xp, a):
        return list(xp.linalg.eigh(a))

    def vjp(self, xp, outs, gw, gv):
        w, v = outs
        inner = _eye_like(xp, v) * gw[..., None, :]
        if isinstance(gv, Tensor) or gv.any():  # (raw arrays: skip an all-zero gv's term)
            vtgv = _T(v) @ gv
            rep = repeated_pairs(w, v.shape[-1])
            if rep is not None:  # repeated eigenvalues: right (term 0) or an error
                check_coupling("eigh", rep, w, [vtgv])
                check_values("eigh", rep.any(axis=-1), w, gw, [gv])
            F = zero_where(xp, rep, _safe_inv(xp, w[..., None, :] - w[..., :, None]))
            inner = inner + F * vtgv
        ga = v @ inner @ _T(v)
        return 0.5 * (ga + _T(ga))


def eigh(x):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix: ``(w, v)``.

    >>> import gpugrad as gg
    >>> gg.eigh(gg.tensor([[2.0, 0.0], [0.0, 1.0]]))[0].tolist()
    [1.0, 2.0]
    """
    x = _square(x, "eigh")
    n, b = x.shape[-1], x.shape[:-2]
    return _unpack(Eigh.apply(x), [b + (n,), b + (n, n)], real=(0,))


class EigvalsH(Eigh):
    """Eigenvalues only; the eigenvectors are a hidden result whose gradient (zero at first
    order) is used at higher orders, hence :class:`Eigh`'s vjp."""


def eigvalsh(x):
    """Eigenvalues (ascending) of a symmetric matrix.

    >>> import gpugrad as gg
    >>> gg.eigvalsh(gg.tensor([[2.0, 1.0], [1.0, 2.0]])).tolist()
    [1.0, 3.0]
    """
    x = _square(x, "eigvalsh")
    n, b = x.shape[-1], x.shape[:-2]
    return _unpack(EigvalsH.apply(x), [b + (n,), b + (n, n)], real=(0,))[0]


class Svd(_Packed):
    def compute(self, xp, a, full_matrices):
        self.full = full_matrices and a.shape[-1] != a.shape[-2]
        return list(xp.linalg.svd(a, full_matrices=full_matrices))

    def vjp(self, xp, outs, gu, gs, gvh):
        if self.full:
            raise NotImplementedError("svd: the gradient with full_matrices=True of a non-square "
                                      "matrix is not defined; use full_matrices=False")
        u, s, vh = outs
        if not isinstance(gu, Tensor) and not (gu.any() or gvh.any()):  # values only
            return (u * gs[..., None, :]) @ vh
        v, gv = _T(vh), _T(gvh)
        utgu, vtgv = _T(u) @ gu, _T(v) @ gv
        n = max(u.shape[-2], vh.shape[-1])
        rep = repeated_pairs(s, n)
        if rep is not None:  # repeated singular values: right (terms 0) or an error
            check_coupling("svd", rep, s, [utgu, vtgv], "singular vectors", "singular value")
            check_values("svd", rep.any(axis=-1), s, gs, [gu, gv], "singular vectors",
                         "singular value")
        s2 = s * s
        F = zero_where(xp, rep, _safe_inv(xp, s2[..., None, :] - s2[..., :, None]))
        J = F * (utgu - _T(utgu))
        K = F * (vtgv - _T(vtgv))
        inner = J * s[..., None, :] + s[..., :, None] * K + _eye_like(xp, s) * gs[..., None, :]
        k = s.shape[-1]
        ga = u @ inner @ vh
        tall, wide = u.shape[-2] > k, vh.shape[-1] > k
        if tall or wide:
            small = small_values(s, n)
            sinv = zero_where(xp, small, _safe_inv(xp, s))
            if small is not None:
                check_values("svd", small, s, gs, [gu, gv], "singular vectors",
                             "singular value")
        if tall:  # u's part outside span(u) is free where s is 0
            ru = gu - u @ utgu
            if small is not None:
                check_null_space("svd", small, ru, "u")
            ga = ga + (ru * sinv[..., None, :]) @ vh
        if wide:
            rv = gv - v @ vtgv
            if small is not None:
                check_null_space("svd", small, rv, "vh.T")
            ga = ga + (u * sinv[..., None, :]) @ _T(rv)
        return ga


def _mat(x, what):
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"{what}: expected matrices of shape (..., m, n), got {x.shape}")
    return _float(x, what)


def svd(x, full_matrices=True):
    """Singular value decomposition ``(u, s, vh)`` with ``x = u @ diag(s) @ vh``.

    >>> import gpugrad as gg
    >>> gg.svd(gg.tensor([[3.0, 0.0], [0.0, -2.0]]))[1].tolist()
    [3.0, 2.0]
    """
    x = _mat(x, "svd")
    m, n, b = x.shape[-2], x.shape[-1], x.shape[:-2]
    k = min(m, n)
    ku, kv = (m, n) if full_matrices else (k, k)
    return _unpack(Svd.apply(x, full_matrices=bool(full_matrices)),
                   [b + (m, ku), b + (k,), b + (kv, n)], real=(1,))


class SvdVals(Svd):
    """Singular values only; u and vh are hidden results whose gradients (zero at first
    order) are used at higher orders, hence :class:`Svd`'s vjp."""

    def compute(self, xp, a):
        self.full = False
        return list(xp.linalg.svd(a, full_matrices=False))


def svdvals(x):
    """Singular values, descending.

    >>> import gpugrad as gg
    >>> gg.svdvals(gg.tensor([[0.0, 2.0], [1.0, 0.0]])).tolist()
    [2.0, 1.0]
    """
    x = _mat(x, "svdvals")
    m, n, b = x.shape[-2], x.shape[-1], x.shape[:-2]
    k = min(m, n)
    return _unpack(SvdVals.apply(x), [b + (m, k), b + (k,), b + (k, n)], real=(1,))[1]


class Qr(_Packed):
    def compute(self, xp, a, mode):
        self.ok = a.shape[-2] >= a.shape[-1] and (mode == "reduced" or
                                                  a.shape[-2] == a.shape[-1])
        return list(xp.linalg.qr(a, mode=mode))

    def vjp(self, xp, outs, gq, gr):
        if not self.ok:
            raise NotImplementedError("qr: the gradient is implemented for m >= n with "
                                      "mode='reduced' only")
        q, r = outs
        M = r @ _T(gr) - _T(gq) @ q
        copyltu = xp.tril(M) + _T(xp.tril(M, -1))
        b = gq + q @ copyltu
        return _T(xp.linalg.solve(r, _T(b)))  # b @ r^-T


def qr(x, mode="reduced"):
    """QR factorization ``(q, r)``; ``mode`` is 'reduced' or 'complete'.

    >>> import gpugrad as gg
    >>> q, r = gg.qr(gg.tensor([[2.0, 0.0], [0.0, 3.0]])); abs(r).tolist()
    [[2.0, 0.0], [0.0, 3.0]]
    """
    if mode not in ("reduced", "complete"):
        raise NotImplementedError(f"qr: mode {mode!r} is not supported; expected 'reduced' or "
                                  f"'complete'")
    x = _mat(x, "qr")
    m, n, b = x.shape[-2], x.shape[-1], x.shape[:-2]
    k = m if mode == "complete" else min(m, n)
    return _unpack(Qr.apply(x, mode=mode), [b + (m, k), b + (k, n)])


class SlogDet(_Packed):
    """Gradient ``g A^-H`` with ``g = glogabsdet`` (real A) or, for complex A, ``glogabsdet +
    i Im(conj(sign) gsign)`` (PyTorch's).

    A singular matrix gets sign 0 and logabsdet -inf (NumPy's and PyTorch's answer) and no
    LinAlgError in backward: where only ``sign`` is used the gradient is 0, with no inverse
    computed; where logabsdet is used, the gradient is adj(A)^T / |det(A)| -- the cofactors
    (from an SVD, not an inverse) over +0: +-inf where a cofactor is nonzero, with the
    cofactor's sign (PyTorch's infinities come from its LU and may have either sign), nan
    where it is 0.  Invertible matrices of the same batch get their finite gradient."""

    keep_input = True
    complex_grad = True

    def compute(self, xp, a):
        sign, logabs = xp.linalg.slogdet(a)
        return [xp.asarray(sign), xp.asarray(logabs)]

    def vjp(self, xp, outs, gsign, glog):
        sign, a = outs[0], self.saved[1]
        if a.dtype.kind == "c":
            glog = xp.real(glog)
            g = glog + 1j * xp.imag(xp.conj(sign) * gsign)
        else:
            g = glog
        raw_g = g.data if isinstance(g, Tensor) else g
        raw_s = sign.data if isinstance(sign, Tensor) else sign
        singular = bool((raw_s == 0).any())
        if not raw_g.any() and (singular or not isinstance(g, Tensor)):
            # only the sign is used: gradient 0, no inverse (on Tensors only where A is
            # singular, since elsewhere the gradient's derivative in g is A^-H, not 0)
            zero = xp.asarray(xp_of(raw_g).zeros(a.shape, dtype=a.dtype))
            return g[..., None, None] * zero if isinstance(g, Tensor) else zero
        it = _inv_t(xp, a, raw_s == 0) if singular else _T(xp.linalg.inv(a))
        return g[..., None, None] * (xp.conj(it) if it.dtype.kind == "c" else it)


def _inv_t(xp, a, sing):
    """A^-T for a batch ``a`` with singular matrices where ``sing`` is True: for those,
    adj(A)^T / |det(A)| (+-inf / nan), the cofactors computed without an inverse.  On Tensors
    (create_graph) every part is differentiable (the minors' determinants)."""
    from .matrix import _cofactors, _cofactors_graph, det

    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(a, Tensor):
            d = det(a)
            den = xp.where(xp.asarray(sing), xp.abs(d), d)  # A^-T = adj(A)^T / det(A)
            return _cofactors_graph(a, d) / den[..., None, None]
        m = sing[..., None, None]
        cof = _cofactors(xp, a) / xp.abs(xp.linalg.det(a))[..., None, None]
        return xp.where(m, cof, _T(xp.linalg.inv(xp.where(m, _eye_like(xp, a), a))))


def slogdet(x):
    """``(sign, logabsdet)`` of the determinant, stable for large matrices; the gradient
    flows through ``logabsdet``.

    >>> import gpugrad as gg
    >>> s, l = gg.slogdet(gg.tensor([[-2.0, 0.0], [0.0, 1.0]])); s.item(), round(l.item(), 4)
    (-1.0, 0.6931)
    """
    x = _square(x, "slogdet")
    b = x.shape[:-2]
    return _unpack(SlogDet.apply(x), [b, b], real=(1,))
