"""Eigen-decomposition of a general (not necessarily symmetric) square matrix, real or
complex, with its gradient.

For ``A = V diag(w) V^-1`` with unit-norm eigenvector columns (NumPy's ``eig``), the
reverse-mode gradient is (Giles, "An extended collection of matrix derivative results for
forward and reverse mode algorithmic differentiation", 2008, section 3.1; with the
normalization term as in PyTorch's ``linalg_eig_backward``, FunctionsManual.cpp)::

    gA = V^-H (diag(gw) + (V^H gV - V^H V diag(re(diag(V^H gV)))) / conj(E)) V^H,
    E[i, j] = w[j] - w[i]   (off the diagonal; the quotient's diagonal is zero)

(transposes, and no conj or re, for a real matrix with real eigenvalues).  Complex
eigenvectors are defined only up to a phase ``e^{i phi}`` each: a loss that depends on it
(``imag(diag(V^H gV))`` not ~0) raises ValueError, as PyTorch's does.  A real matrix with
complex eigenvalues gets the real part of the complex formula.  Repeated eigenvalues make
``E`` singular, as for any eigenvector gradient: a loss that reaches the eigenvectors of a
repeated eigenvalue, however weakly, raises ValueError (linalg_degenerate.py; a matrix
function ``V diag(f(w)) V^-1`` reaches them with a coupling of 0 within their eigenspace, yet
its gradient has a term there), one that leaves them alone (``w.sum() + f(V[:, j])``, j
simple) gets its gradient (those terms are 0).

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
from .decomp_common import _eye_like, _H, _square, check_phase
from .packed_results import _Packed, _unpack
from .linalg_degenerate import check_repeated, repeated_pairs

__all__ = ["eig", "eigvals"]


class Eig(_Packed):
    """``(w, v)`` of ``xp.linalg.eig`` packed into one answer; the vjp above."""

    complex_grad = True

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
        cplx = w.dtype.kind == "c"
        vh = _H(xp, v)
        inner = _eye_like(xp, v) * gw[..., None, :]
        if isinstance(gv, Tensor) or gv.any():  # (raw arrays: skip an all-zero gv's term)
            vhgv = vh @ gv
            d = xp.diagonal(vhgv, 0, -2, -1)
            if cplx:  # V -> V e^(i phi) must leave the loss alone
                check_phase("eig", xp.imag(d), [vhgv])
                d = xp.real(d)
            proj = vhgv - (vh @ v) * d[..., None, :]
            eye = _eye_like(xp, v)
            rep = repeated_pairs(w, v.shape[-1])
            keep = 1 - eye
            if rep is not None:  # repeated eigenvalues: right (term 0) or an error
                check_repeated("eig", rep, w, gw, [gv])
                eye = eye + xp.asarray(rep.astype(v.dtype))  # (1 there too, then 0 / 1)
                keep = 1 - eye
            e = w[..., None, :] - w[..., :, None] + eye   # 1 on the diagonal (then 0 / 1)
            inner = inner + proj * keep / (xp.conj(e) if cplx else e)
        return xp.linalg.solve(vh, inner @ vh)


def eig(x):
    """Eigenvalues and right eigenvectors (unit-norm columns) of square matrices ``x`` of
    shape (..., n, n): ``(w, v)`` with ``x @ v == v * w[..., None, :]``, as
    ``numpy.linalg.eig`` returns them (real when every eigenvalue is real, complex
    otherwise).  Differentiable where the eigenvalues are distinct, and at repeated ones for a
    loss that leaves their eigenvectors alone (for complex eigenvectors, by a loss that does
    not depend on their phases).  ValueError for non-square input.

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
