"""Eigen-decomposition of a general (not necessarily symmetric) real square matrix, with its
gradient where the eigenvalues are real.

For ``A = V diag(w) V^-1`` with unit-norm eigenvector columns (NumPy's ``eig``), the
reverse-mode gradient is (Giles, "An extended collection of matrix derivative results for
forward and reverse mode algorithmic differentiation", 2008, section 3.1; with the
normalization term as in PyTorch's ``linalg_eig_backward``, FunctionsManual.cpp)::

    gA = V^-T (diag(gw) + (V^T gV - V^T V diag(diag(V^T gV))) / E) V^T,
    E[i, j] = w[j] - w[i]   (off the diagonal; the quotient's diagonal is zero)

Complex eigenvalues (NumPy then returns complex arrays) have a forward only: the gradient
raises, naming the case.  Repeated eigenvalues make ``E`` singular, as for any eigenvector
gradient: a loss that reaches the eigenvectors of a repeated eigenvalue raises ValueError
(linalg_degenerate.py), one that does not gets its gradient (those terms are 0).

>>> import gpugrad as gg
>>> a = gg.tensor([[2.0, 1.0], [0.0, 3.0]], dtype="float64", requires_grad=True)
>>> w, v = eig(a)
>>> w.tolist()
[2.0, 3.0]
>>> w.sum().backward(); a.grad.tolist()   # d trace(A) / dA = I
[[1.0, 0.0], [0.0, 1.0]]
"""
from __future__ import annotations

from ..tensor import Tensor
from .decompositions import _eye_like, _Packed, _square, _T, _unpack
from .linalg_degenerate import check_coupling, check_values, repeated_pairs

__all__ = ["eig", "eigvals"]


class Eig(_Packed):
    """``(w, v)`` of ``xp.linalg.eig`` packed into one answer; the vjp above."""

    def compute(self, xp, a):
        if not hasattr(xp.linalg, "eig"):
            raise TypeError(f"eig: {xp.__name__} has no linalg.eig for a general matrix; "
                            f"move the tensor to the CPU with .cpu() first")
        w, v = xp.linalg.eig(a)
        if (a.dtype.kind != "c" and w.dtype.kind == "c"  # CuPy answers complex for a real
                and not bool((w.imag != 0).any() or (v.imag != 0).any())):  # spectrum: NumPy
            w, v = w.real.copy(), v.real.copy()                          # gives real arrays
        return [w, v]

    def vjp(self, xp, outs, gw, gv):
        w, v = outs
        if w.dtype.kind == "c":
            raise NotImplementedError(
                "eig: the gradient for a matrix with complex eigenvalues is not implemented "
                "(only real eigenvalues, as NumPy returns them for such a matrix); for a "
                "symmetric matrix use eigh, whose gradient covers every case")
        vt = _T(v)
        inner = _eye_like(xp, v) * gw[..., None, :]
        if isinstance(gv, Tensor) or gv.any():  # (raw arrays: skip an all-zero gv's term)
            vtgv = vt @ gv
            proj = vtgv - (vt @ v) * xp.diagonal(vtgv, 0, -2, -1)[..., None, :]
            eye = _eye_like(xp, v)
            rep = repeated_pairs(w, v.shape[-1])
            keep = 1 - eye
            if rep is not None:  # repeated eigenvalues: right (term 0) or an error
                check_coupling("eig", rep, w, [proj])
                check_values("eig", rep.any(axis=-1), w, gw, [gv])
                eye = eye + xp.asarray(rep.astype(v.dtype))  # (1 there too, then 0 / 1)
                keep = 1 - eye
            e = w[..., None, :] - w[..., :, None] + eye   # 1 on the diagonal (then 0 / 1)
            inner = inner + proj * keep / e
        return xp.linalg.solve(vt, inner @ vt)


def eig(x):
    """Eigenvalues and right eigenvectors (unit-norm columns) of square matrices ``x`` of
    shape (..., n, n): ``(w, v)`` with ``x @ v == v * w[..., None, :]``, as
    ``numpy.linalg.eig`` returns them (real when every eigenvalue is real, complex
    otherwise).  Differentiable where the eigenvalues are real and distinct; with complex
    eigenvalues the backward raises NotImplementedError.  ValueError for non-square input.

    >>> import gpugrad as gg
    >>> eig(gg.tensor([[2.0, 0.0], [0.0, 3.0]]))[0].tolist()
    [2.0, 3.0]
    """
    x = _square(x, "eig")
    n, b = x.shape[-1], x.shape[:-2]
    return _unpack(Eig.apply(x), [b + (n,), b + (n, n)])


def eigvals(x):
    """Eigenvalues of square matrices ``x`` (see :func:`eig`).

    >>> import gpugrad as gg
    >>> eigvals(gg.tensor([[1.0, 2.0], [0.0, 4.0]])).tolist()
    [1.0, 4.0]
    """
    return eig(x)[0]
