"""The Moore-Penrose pseudo-inverse as one op, with the gradient of Golub and Pereyra (1973)
instead of the SVD's.

The SVD's gradient is not determined where singular values repeat (every orthogonal matrix,
the identity; see linalg_degenerate.py), yet ``pinv`` there is smooth: with ``P = pinv(A)``
and the rank kept (the singular values dropped by ``rcond`` stay dropped)::

    dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P
    gA = -P^H g P^H + (I - A P) g^H P P^H + P^H P g^H (I - P A)

written on the answer ``P`` and the input ``A`` with ``xp = xp_of(g)``, so under
``create_graph`` it records a graph (any order).  The forward is NumPy's formula
``Vh^H @ (s^-1 * U^H)`` of ``conj(a)``'s SVD, NumPy's values bit for bit.  Complex input gets
the same gradient with conjugate transposes (PyTorch's convention).

>>> import gpugrad as gg
>>> a = gg.tensor([[1.0, 0.0], [0.0, 1.0]], dtype="float64", requires_grad=True)
>>> pinv(a, 1e-15).sum().backward(); a.grad.tolist()   # -P^T 1 P^T at P = I
[[-1.0, -1.0], [-1.0, -1.0]]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._util import xp_of
from .decomp_common import _H, _mat, _T

__all__ = ["pinv"]


class Pinv(Function):
    saves_output = True
    twice_differentiable = True  # products of the answer, the input and g
    complex_grad = True  # the same with conjugate transposes

    def saved_inputs(self, needs):
        return (0,)

    def forward(self, a, rcond):
        xp = xp_of(a)
        m, n = a.shape[-2:]
        if min(m, n) == 0:
            ans = xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
        else:
            ac = a.conj() if a.dtype.kind == "c" else a
            u, s, vh = xp.linalg.svd(ac, full_matrices=False)
            cut = xp.asarray(rcond)[..., None] * s.max(axis=-1, keepdims=True)
            large = s > cut
            sinv = xp.where(large, 1 / xp.where(large, s, 1), 0).astype(s.dtype)
            ans = xp.matmul(_T(vh), sinv[..., None] * _T(u))
        self.saved = (a, ans)
        return ans

    def backward(self, g):
        a, p = self.saved
        xp = xp_of(g)
        gh, ph = _H(xp, g), _H(xp, p)
        x = gh @ (p @ ph)                    # g^H P P^H
        y = ph @ (p @ gh)                    # P^H P g^H
        ga = -(ph @ g @ ph) + (x - a @ (p @ x)) + (y - (y @ p) @ a)
        return (ga,)


def pinv(x, rcond):
    """``pinv`` of matrices ``x`` (..., m, n), singular values at or below ``rcond *
    max(s)`` dropped (``rcond`` a number or an array broadcasting against the batch).

    >>> import gpugrad as gg
    >>> pinv(gg.tensor([[2.0, 0.0], [0.0, 0.0]]), 1e-15).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    x = _mat(x, "pinv")
    return Pinv.apply(x, rcond=np.asarray(rcond))
