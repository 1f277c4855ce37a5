"""The singular value decomposition (``svd``, ``svdvals``) and its gradient (Townsend 2016;
PyTorch's ``svd_backward`` for complex input), split from decompositions.py, which
re-exports it.

For ``A = U diag(s) V^H`` (reduced), with ``F[i, j] = 1 / (s[j]^2 - s[i]^2)`` off the
diagonal::

    gA = U (F o (U^H gU - (U^H gU)^H) s + s F o (V^H gV - (V^H gV)^H) + diag(gs)
            + i diag(Im(U^H gU - V^H gV)) / (2 s)) V^H
         + (I - U U^H) gU s^-1 V^H + U s^-1 gV^H (I - V V^H)

(with ``full_matrices=True``, of the first ``k`` columns of U and rows of V^H; a loss that
uses the others, any basis of a complement, raises NotImplementedError).

The last diagonal term exists for complex input only: there a pair ``(u_i, v_i)`` is
defined up to one common phase, and a loss that depends on it (``imag(diag(U^H gU +
V^H gV))`` not ~0) raises ValueError (decomp_common.check_phase).  Repeated and zero singular
values follow linalg_degenerate.py.  The vjp is written once on ``xp``, so it records a graph
under ``create_graph``.

>>> import gpugrad as gg
>>> a = gg.tensor([[3.0, 0.0], [0.0, 1.0j]], requires_grad=True)
>>> svdvals(a).sum().backward(); a.grad[1, 1].item()  # d |a11| = a11 / |a11|
1j
"""
from __future__ import annotations

from ..tensor import Tensor
from .decomp_common import _eye_like, _H, _mat, _raw, _re, _safe_inv, check_phase
from .linalg_degenerate import (check_repeated, check_zero, repeated_pairs, small_values,
                                zero_where)
from .packed_results import _Packed, _unpack

__all__ = ["svd", "svdvals"]

_VEC, _VAL = "singular vectors", "singular value"


class Svd(_Packed):
    complex_grad = True

    def compute(self, xp, a, full_matrices):
        self.full = full_matrices and a.shape[-1] != a.shape[-2]
        return list(xp.linalg.svd(a, full_matrices=full_matrices))

    def vjp(self, xp, outs, gu, gs, gvh):
        u, s, vh = outs
        if self.full:  # the extra columns of u (rows of vh): any basis of a complement
            k = s.shape[-1]
            if _raw(gu)[..., k:].any() or _raw(gvh)[..., k:, :].any():
                raise NotImplementedError(
                    "svd: the gradient with full_matrices=True of a non-square matrix is not "
                    "defined where the loss uses the extra columns of u (rows of vh), which "
                    "are any orthonormal basis of a complement; use full_matrices=False")
            u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
        s, gs = _re(xp, s), _re(xp, gs)  # (real results, packed with complex u, vh)
        if not isinstance(gu, Tensor) and not (gu.any() or gvh.any()):  # values only
            return (u * gs[..., None, :]) @ vh
        v, gv = _H(xp, vh), _H(xp, gvh)
        uhgu, vhgv = _H(xp, u) @ gu, _H(xp, v) @ gv
        cplx = u.dtype.kind == "c"
        if cplx:  # a pair (u_i, v_i) has one free phase: the loss must not depend on it
            du = xp.imag(xp.diagonal(uhgu, 0, -2, -1))
            dv = xp.imag(xp.diagonal(vhgv, 0, -2, -1))
            check_phase("svd", du + dv, [uhgu, vhgv], _VEC)
        n = max(u.shape[-2], vh.shape[-1])
        rep = repeated_pairs(s, n)
        if rep is not None:  # repeated singular values: right (terms 0) or an error
            check_repeated("svd", rep, s, gs, [gu, gv], _VEC, _VAL)
        s2 = s * s
        F = zero_where(xp, rep, _safe_inv(xp, s2[..., None, :] - s2[..., :, None]))
        J = F * (uhgu - _H(xp, uhgu))
        K = F * (vhgv - _H(xp, vhgv))
        eye = _eye_like(xp, s)
        inner = J * s[..., None, :] + s[..., :, None] * K + eye * gs[..., None, :]
        k = s.shape[-1]
        tall, wide = u.shape[-2] > k, vh.shape[-1] > k
        if tall or wide or cplx:
            small = small_values(s, n)
            sinv = zero_where(xp, small, _safe_inv(xp, s))
            if small is not None and (tall or wide):  # u (tall) or v (wide): a null space's
                check_zero("svd", small, s, gs, *((gu, gv, "u") if tall else (gv, gu, "vh.T")))
        if cplx:  # the pair's relative phase: free (so not to be used) where s is 0
            rel = (du - dv) / 2
            if small is not None:
                check_phase("svd", zero_where(xp, ~small, rel), [uhgu, vhgv],
                            "singular vectors of a zero singular value (whose relative "
                            "phase is free)")
            inner = inner + eye * (1j * rel * sinv)[..., None, :]
        ga = u @ inner @ vh
        if tall:  # u's part outside span(u) is free where s is 0
            ru = gu - u @ uhgu
            ga = ga + (ru * sinv[..., None, :]) @ vh
        if wide:
            rv = gv - v @ vhgv
            ga = ga + (u * sinv[..., None, :]) @ _H(xp, rv)
        return ga


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
