"""Matrix functions: trace, diag, inv, det, solve (forward and backward side by side); the
norms are in norms.py and exported from here too.

Each backward is written once on ``xp = xp_of(g)`` and reads only the op's inputs and its own
answer, so under ``create_graph`` it records a graph (any order of derivative).  Complex
inputs get PyTorch's gradients (``inv``: -A^-H g A^-H; ``det``: g conj(adj(A)^T); ``solve``:
A^-H g and -A^-H g x^H).

>>> import gpugrad as gg
>>> a = gg.tensor([[2.0, 0.0], [0.0, 4.0]], requires_grad=True)
>>> det(a).backward(); a.grad.tolist()
[[4.0, 0.0], [0.0, 2.0]]
"""
from __future__ import annotations

import operator

import numpy as np

from ..autograd import Function, unbroadcast
from ..tensor import Tensor
from ..wide_sum import is_16bit_float
from ..zero_d import mark_scalar
from ._util import tensor_arg, xp_of
from .decompositions import no_low_precision
from .extra_linalg import DiagEmbed, Diagonal, _embed_diagonal
from .linalg import _cast, _conj, _pair, _swap
from .norms import Norm1, Norm2, NormInf, _Norm, norm  # noqa: F401  (re-exported: their old home)
from .shape import _axis

__all__ = ["trace", "diag", "norm", "inv", "det", "solve"]


def _raw_xp(a):
    """NumPy or CuPy: the array module of ``a``'s data (constants of a formula are made
    there, on the data's device, and enter Tensor formulas as constants)."""
    return xp_of(a.data if isinstance(a, Tensor) else a)


class Trace(Function):
    twice_differentiable = True
    complex_grad = True  # linear with real coefficients

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, offset, axis1, axis2):
        self.shape, self.args = x.shape, (offset, axis1, axis2)
        if is_16bit_float(x.dtype):  # NumPy adds bfloat16 in bfloat16: in float32
            return xp_of(x).trace(x, offset, axis1, axis2, np.float32).astype(x.dtype)
        return xp_of(x).trace(x, offset, axis1, axis2)

    def backward(self, g):
        offset, a1, a2 = self.args
        eye = _raw_xp(g).eye(self.shape[a1], self.shape[a2], k=offset, dtype=g.dtype)
        if a1 > a2:
            eye = eye.T
        eshape = [1] * len(self.shape)
        eshape[a1], eshape[a2] = self.shape[a1], self.shape[a2]
        gshape = list(self.shape)
        gshape[a1] = gshape[a2] = 1
        return (g.reshape(gshape) * eye.reshape(eshape),)  # (a Tensor g first: it records)


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum along a diagonal (of axes ``axis1``, ``axis2``; ``offset`` above the main one).

    >>> import gpugrad as gg
    >>> trace(gg.tensor([[1.0, 2.0], [3.0, 4.0]])).item()
    5.0
    """
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"trace: expected a tensor with at least 2 dimensions, got shape "
                         f"{x.shape}")
    a1, a2 = _axis(axis1, x.ndim), _axis(axis2, x.ndim)
    if a1 == a2:
        raise ValueError(f"trace: axis1 and axis2 must differ, got {axis1} and {axis2}")
    return Trace.apply(x, offset=operator.index(offset), axis1=a1, axis2=a2)


class Diag(Function):
    """Backward: the diagonal of g (1-D input) or g written on a diagonal of zeros (2-D
    input); on Tensors these are :class:`Diagonal` / :class:`DiagEmbed` nodes, each the
    other's adjoint, so every order is differentiable."""

    twice_differentiable = True
    complex_grad = True  # linear with real coefficients

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, k):
        self.shape, self.k = x.shape, k
        out = xp_of(x).diag(x, k)
        return out.copy() if x.ndim == 2 else out  # NumPy gives a read-only view

    def backward(self, g):
        k = self.k
        if len(self.shape) == 1:
            if isinstance(g, Tensor):
                return (Diagonal.apply(g, offset=k, axis1=0, axis2=1),)
            return (xp_of(g).diagonal(g, k).copy(),)
        if isinstance(g, Tensor):
            return (DiagEmbed.apply(g, shape=self.shape, offset=k, axis1=0, axis2=1),)
        return (_embed_diagonal(g, self.shape, k, 0, 1),)


def diag(x, k=0):
    """A 1-D tensor becomes a 2-D one with it on diagonal ``k``; a 2-D tensor gives its
    diagonal ``k``.

    >>> import gpugrad as gg
    >>> diag(gg.tensor([1, 2])).tolist(), diag(gg.tensor([[1, 2], [3, 4]])).tolist()
    ([[1, 0], [0, 2]], [1, 4])
    """
    x = tensor_arg(x)
    if x.ndim not in (1, 2):
        raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")
    return Diag.apply(x, k=operator.index(k))


# ================================================================ inv, det, solve
def _check_square(x, what):
    """``x`` (float32 for a 16-bit ``x`` under autocast: :func:`no_low_precision`) after
    checking that it holds square matrices."""
    x = no_low_precision(x, what)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{what}: expected square matrices of shape (..., n, n), got "
                         f"{x.shape}")
    return x


class Inv(Function):
    saves_output = True
    twice_differentiable = True  # backward reads the answer only: -A^-T g A^-T
    complex_grad = True  # -A^-H g A^-H

    def saved_inputs(self, needs):
        return ()

    def forward(self, a):
        ans = xp_of(a).linalg.inv(a)
        self.saved, self.da = (ans,), a.dtype
        return ans

    def backward(self, g):
        (ai,) = self.saved
        ait = _conj(_swap(ai))
        return (_cast(-(ait @ g @ ait), self.da),)


def inv(a):
    """Inverse of a square matrix (or a batch of them).

    >>> import gpugrad as gg
    >>> inv(gg.tensor([[2.0, 0.0], [0.0, 4.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    a = _check_square(tensor_arg(a), "inv")
    return Inv.apply(a)


def _cofactors(xp, a):
    """d det(A) / dA = adj(A)^T, computed without an inverse so that it stays finite for
    singular A: with A = U diag(s) Vh (SVD), adj(A)^T = det(U) det(Vh) conj(U) diag(p) conj(Vh)
    where p_i is the product of the singular values other than s_i."""
    n = a.shape[-1]
    if n == 0:
        return xp.zeros(a.shape, dtype=a.dtype)
    u, s, vh = xp.linalg.svd(a)
    ones = xp.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    left = xp.cumprod(xp.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(s, -1)[..., :-1]], axis=-1),
                               axis=-1), -1)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return sign[..., None, None] * ((xp.conj(u) * (left * right)[..., None, :]) @ xp.conj(vh))


def _well_conditioned(a):
    """True when every matrix of the batch ``a`` (an array) is invertible with a condition
    number below 1/sqrt(eps): there det(A) A^-T is an accurate cofactor matrix."""
    if a.size == 0:
        return True
    s = _raw_xp(a).linalg.svd(a, compute_uv=False)
    tol = float(np.finfo(a.dtype).eps) ** 0.5
    return bool((s[..., -1] > tol * s[..., 0]).all())


def _minors_key(xp, n):
    """Index arrays that gather the n x n minors of an (..., n, n) array: ``a[..., r, c]`` has
    shape (..., n, n, n-1, n-1), entry [i, j] being ``a`` without row i and column j."""
    keep = xp.asarray([[k for k in range(n) if k != i] for i in range(n)], dtype=np.intp)
    return keep[:, None, :, None], keep[None, :, None, :]


def _cofactors_graph(a, d):
    """The cofactor matrix of Tensor ``a`` as a differentiable expression (create_graph).
    Where every matrix is well conditioned it is ``det(A) A^-T`` (``d``: det(A), this op's
    output); otherwise (singular or nearly so) it is the matrix of signed minors, one
    determinant per entry (n^2 determinants of order n-1): a polynomial in A, differentiable
    everywhere, and the second derivative at a singular A is exact too."""
    n = a.shape[-1]
    rxp = _raw_xp(a)
    if n <= 1:  # adj of a 1x1 matrix is [1]: a constant
        return xp_of(a).asarray(rxp.ones(a.shape, dtype=a.dtype))
    if _well_conditioned(a.data):
        return d[..., None, None] * _swap(inv(a))
    r, c = _minors_key(rxp, n)
    idx = rxp.arange(n)
    sign = rxp.where((idx[:, None] + idx[None, :]) % 2 == 0, 1.0, -1.0).astype(a.dtype)
    return det(a[..., r, c]) * xp_of(a).asarray(sign)


class Det(Function):
    """Determinant; its gradient is the cofactor matrix adj(A)^T (det(A) A^-T where A is
    invertible), finite for singular matrices too.  Under ``create_graph`` the cofactors are
    recomputed from A with differentiable ops (:func:`_cofactors_graph`), so the gradient can
    be differentiated again, singular A included.  Complex A: ``g * conj(adj(A)^T)``
    (PyTorch's)."""

    saves_output = True
    twice_differentiable = True
    complex_grad = True

    def forward(self, a):
        xp = xp_of(a)
        self.da = a.dtype
        ans = xp.asarray(xp.linalg.det(a))
        self.saved = (a, ans)
        return ans

    def backward(self, g):
        a, ans = self.saved
        if isinstance(g, Tensor):
            cof = _cofactors_graph(a, ans)
        else:
            cof = _cofactors(xp_of(g), a)
        return (_cast(g[..., None, None] * _conj(cof), self.da),)


def det(a):
    """Determinant of a square matrix (or a batch of them).

    >>> import gpugrad as gg
    >>> det(gg.tensor([[2.0, 1.0], [1.0, 3.0]])).item()  # doctest: +ELLIPSIS
    5.0...
    """
    a = _check_square(tensor_arg(a), "det")
    return mark_scalar(Det.apply(a))   # (one matrix's: NumPy's scalar, see zero_d.py)


class Solve(Function):
    """Backward: gb = A^-H g (one solve with the transposed matrix) and ga = -gb x^H, from A
    and the answer x, which are Tensors under ``create_graph``."""

    saves_output = True
    twice_differentiable = True
    complex_grad = True

    def saved_inputs(self, needs):
        return (0,)

    def forward(self, a, b, vec):
        xp = xp_of(a)
        self.vec, self.sa, self.sb, self.da, self.db = vec, a.shape, b.shape, a.dtype, b.dtype
        b2 = b[:, None] if vec else b
        batch = np.broadcast_shapes(a.shape[:-2], b2.shape[:-2])
        x = xp.linalg.solve(xp.broadcast_to(a, batch + a.shape[-2:]),
                            xp.broadcast_to(b2, batch + b2.shape[-2:]))
        ans = x[..., 0] if vec else x
        self.saved = (a, ans)  # the answer as returned: a Tensor of this node under create_graph
        return ans

    def backward(self, g):
        a, x = self.saved
        xp = xp_of(g)
        if self.vec:
            x, g2 = x[..., None], g[..., None]
        else:
            g2 = g
        at = xp.broadcast_to(_conj(_swap(a)), x.shape[:-2] + a.shape[-2:])
        gb = xp.linalg.solve(at, g2)  # A^-H g, batch-broadcast
        ga = gb2 = None
        if self.needs[0]:
            ga = _cast(unbroadcast(-(gb @ _conj(_swap(x))), self.sa), self.da)
        if self.needs[1]:
            gb2 = _cast(unbroadcast(gb[..., 0] if self.vec else gb, self.sb), self.db)
        return ga, gb2


def solve(a, b):
    """Solve ``a @ x = b`` for x.  NumPy 2 rules: a 1-D ``b`` is one vector, otherwise ``b``
    is (..., n, k) and batch dimensions broadcast.

    >>> import gpugrad as gg
    >>> solve(gg.tensor([[2.0, 0.0], [0.0, 4.0]]), gg.tensor([1.0, 1.0])).tolist()
    [0.5, 0.25]
    """
    a, b = _pair(a, b)
    a, b = _check_square(a, "solve"), no_low_precision(b, "solve")
    n = a.shape[-1]
    vec = b.ndim == 1
    ok = (b.shape[0] == n) if vec else (b.ndim >= 2 and b.shape[-2] == n)
    if ok and not vec:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"solve: expected a of shape (..., n, n) and b of shape (n,) or "
                         f"(..., n, k) with broadcastable batch dimensions, got {a.shape} and "
                         f"{b.shape}")
    return Solve.apply(a, b, vec=vec)

