"""The matrix decompositions the NumPy and array-API namespaces expose (cholesky, eigh,
eigvalsh, svd, svdvals, qr, slogdet), each with its gradient.  Ops with several results
pack them into one array along the last axis (one graph node; packed_results.py); the public
function slices them apart, which is differentiable.

Gradients follow the usual real-valued formulas (Murray 2016 for Cholesky; Townsend 2016 for
the SVD; Walter and Lehmann for QR).  ``eigh`` and ``cholesky`` read only the lower triangle,
so their gradients are the symmetric ones.  At repeated eigen/singular values a loss of the
values, or of the vectors of other, simple values, gets its gradient, and a loss that
reaches the vectors of the repeated ones raises ValueError (linalg_degenerate.py says why
and where the line falls: never a zeroed, wrong term).

Every backward here is written once on ``xp = xp_of(g)`` in terms of the op's results (and,
for ``slogdet``, its input), so under ``create_graph`` it records a graph and the gradient
can be differentiated again, on the domain where the first derivative exists (distinct
eigen/singular values, nonzero singular values for the non-square SVD, full-rank QR).

Complex (Hermitian) input gets NumPy's complex answer -- the real results (eigenvalues,
singular values, ``logabsdet``) in the real dtype, as NumPy gives them -- and PyTorch's
gradient: the same formulas with conjugate transposes; a loss that depends on the free
phases of complex eigenvectors raises ValueError (decomp_common.check_phase).  The SVD is in
linalg_svd.py, triangles and diagonals in extra_linalg.py.

>>> import gpugrad as gg
>>> a = gg.tensor([[4.0, 2.0], [2.0, 3.0]], requires_grad=True)
>>> w, v = gg.eigh(a)
>>> w.sum().backward(); a.grad.round(6).tolist()   # d trace / dA = I
[[1.0, 0.0], [0.0, 1.0]]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import xp_of
from .decomp_common import (  # noqa: F401  (_float, _mat, no_low_precision: re-exported)
    _eye_like, _float, _H, _mat, _re, _safe_inv, _square, _T, check_phase, no_low_precision)
from .linalg_degenerate import check_repeated, repeated_pairs, zero_where
from .linalg_svd import Svd, SvdVals, svd, svdvals  # noqa: F401  (re-exported)
from .packed_results import _Packed, _unpack

__all__ = ["cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr", "slogdet"]


class Cholesky(Function):
    """Backward (Murray 2016) from the factor L alone (the answer; L^-1 is recomputed from it
    with a differentiable inv), so it records a graph under ``create_graph``.  The gradient
    is the Hermitian (symmetric) one, as the input is read as Hermitian; PyTorch's complex
    one adds an anti-Hermitian part, which no Hermitian perturbation of the input sees."""

    saves_output = True
    twice_differentiable = True
    complex_grad = True  # conjugate transposes in place of transposes

    def saved_inputs(self, needs):
        return ()

    def forward(self, a):
        ans = xp_of(a).linalg.cholesky(a)
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (L,) = self.saved
        xp = xp_of(g)
        P = xp.tril(_H(xp, L) @ g)
        P = P - 0.5 * _eye_like(xp, L) * P  # halve the diagonal
        Linv = xp.linalg.inv(L)
        S = _H(xp, Linv) @ P @ Linv
        return (0.5 * (S + _H(xp, S)),)


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
    complex_grad = True  # V (diag(gw) + F o V^H gV) V^H, Hermitian part; phases checked

    def compute(self, xp, a):
        return list(xp.linalg.eigh(a))

    def vjp(self, xp, outs, gw, gv):
        w, v = outs
        w, gw = _re(xp, w), _re(xp, gw)  # (real eigenvalues, packed with complex v)
        inner = _eye_like(xp, v) * gw[..., None, :]
        if isinstance(gv, Tensor) or gv.any():  # (raw arrays: skip an all-zero gv's term)
            vhgv = _H(xp, v) @ gv
            if vhgv.dtype.kind == "c":  # V -> V e^(i phi) must leave the loss alone
                check_phase("eigh", xp.imag(xp.diagonal(vhgv, 0, -2, -1)), [vhgv])
            rep = repeated_pairs(w, v.shape[-1])
            if rep is not None:  # repeated eigenvalues: right (term 0) or an error
                check_repeated("eigh", rep, w, gw, [gv])
            F = zero_where(xp, rep, _safe_inv(xp, w[..., None, :] - w[..., :, None]))
            inner = inner + F * vhgv
        ga = v @ inner @ _H(xp, v)
        return 0.5 * (ga + _H(xp, ga))


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


class Qr(_Packed):
    complex_grad = True  # R's diagonal is real (LAPACK's): M's diagonal enters by its real part

    def compute(self, xp, a, mode):
        self.ok = a.shape[-2] >= a.shape[-1] and (mode == "reduced" or
                                                  a.shape[-2] == a.shape[-1])
        return list(xp.linalg.qr(a, mode=mode))

    def vjp(self, xp, outs, gq, gr):
        if not self.ok:
            raise NotImplementedError("qr: the gradient is implemented for m >= n with "
                                      "mode='reduced' only")
        q, r = outs
        M = r @ _H(xp, gr) - _H(xp, gq) @ q
        if M.dtype.kind == "c":
            M = M - _eye_like(xp, M) * (1j * xp.imag(M))
        copyltu = xp.tril(M) + _H(xp, xp.tril(M, -1))
        b = gq + q @ copyltu
        return _H(xp, xp.linalg.solve(r, _H(xp, b)))  # b @ r^-H


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
