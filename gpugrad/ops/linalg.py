"""Linear algebra: matmul and its relatives, tensordot, einsum (its op is in
linalg_einsum.py; matrix functions such as inv/det/solve are in matrix.py).

Each op's forward and backward sit side by side; gradients come back in each input's dtype.
``dot``, ``inner`` and ``outer`` are compositions of ``matmul``, ``tensordot`` and ``einsum``.

Every backward here is multilinear in the gradient and the saved operands, written once on
``xp = xp_of(g)``: under ``create_graph`` it runs on Tensors and records a graph, so any order
of derivative is available.  Complex operands follow PyTorch's convention: the gradient of
one operand carries the conjugate of the others (``ga = g @ b^H``, ``gb = a^H @ g``).

>>> import gpugrad as gg
>>> a = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> b = gg.tensor([1.0, 1.0])
>>> matmul(a, b).backward(gg.tensor([1.0, 0.0]))
>>> a.grad.tolist()
[[1.0, 1.0], [0.0, 0.0]]
"""
from __future__ import annotations

import numbers
import operator

import numpy as np

from ..autograd import Function, unbroadcast
from ..tensor import Tensor
from ..zero_d import mark_scalar
from ._util import cross_saved, xp_of
from .shape import _axes, _coerce, _inverse, ravel
from ..autocast_state import _state as _amp, lower as _amp_lower, cuda_bf16 as _amp_cuda_bf16
from ._blas import _blas
from .elementwise import Multiply

__all__ = ["matmul", "dot", "inner", "outer", "tensordot", "einsum"]


def _pair(a, b):
    """Coerce two operands; array-likes go to the device of the tensor among them."""
    a = _coerce(a, b if isinstance(b, Tensor) else None)
    return a, _coerce(b, a)


def _swap(a):
    return a.swapaxes(-1, -2)


def _cast(g, dtype):
    """``g`` in ``dtype``; a complex gradient of a real input keeps its real part (PyTorch's
    rule for a real input of a complex computation)."""
    if g.dtype == dtype:
        return g
    if g.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        g = xp_of(g).real(g)
    return g.astype(dtype)


def _conj(x):
    """conj(x) for complex ``x``; a real ``x`` (or None) as it is, with no pass over it."""
    if x is None or x.dtype.kind != "c":
        return x
    return xp_of(x).conj(x)


_cross_saved = cross_saved  # inputs read by backward in a bilinear op: a for b's gradient


# ================================================================ matmul
class MatMul(Function):
    saved_inputs = staticmethod(_cross_saved)
    twice_differentiable = True
    complex_grad = True  # ga = g @ b^H, gb = a^H @ g

    def forward(self, a, b):
        n = self.needs or (False, False)
        self.saved = (a if n[1] else None, b if n[0] else None)
        self.sa, self.sb, self.da, self.db = a.shape, b.shape, a.dtype, b.dtype
        return self.product(_blas(xp_of(a), a, b), a, b)

    @staticmethod
    def product(m, a, b):
        return m.matmul(a, b)

    def backward(self, g):
        a, b = self.saved
        a, b = _conj(a), _conj(b)
        sa, sb = self.sa, self.sb
        if len(sa) == 1 and len(sb) == 1:  # inner product: g is 0-d
            return (_cast(g * b, self.da) if self.needs[0] else None,
                    _cast(g * a, self.db) if self.needs[1] else None)
        xp = xp_of(g)
        # promote 1-D operands as NumPy does: a -> (1, k), b -> (k, 1)
        if len(sa) == 1:
            g = g[..., None, :]
        if len(sb) == 1:
            g = g[..., None]
        ga = gb = None
        if self.needs[0]:
            b2 = b[:, None] if b.ndim == 1 else b
            ga = _blas(xp, g, b2).matmul(g, _swap(b2))
            ga = unbroadcast(ga[..., 0, :] if len(sa) == 1 else ga, sa)
            ga = _cast(ga, self.da)
        if self.needs[1]:
            a2 = a[None, :] if a.ndim == 1 else a
            if len(sb) <= 2 and a2.ndim > 2:  # fold a's batch into the GEMM: one (k, m) answer
                k, m = a2.shape[-1], g.shape[-1]
                gb = _blas(xp, g, a2).matmul(a2.reshape(-1, k).T, g.reshape(-1, m))
            else:
                gb = _blas(xp, g, a2).matmul(_swap(a2), g)
            gb = unbroadcast(gb[..., 0] if len(sb) == 1 else gb, sb)
            gb = _cast(gb, self.db)
        return ga, gb


class Dot(MatMul):
    """NumPy's ``dot`` of operands of 1 or 2 dimensions: MatMul's gradient, with NumPy's own
    ``dot`` as the forward on NumPy arrays (its BLAS calls can differ from ``matmul``'s in the
    last bits for strided operands)."""

    @staticmethod
    def product(m, a, b):
        return np.dot(a, b) if m is np else m.matmul(a, b)


def matmul(a, b):
    """Matrix product with NumPy semantics: 1-D operands are promoted (and the added axis
    dropped), leading batch dimensions broadcast.

    >>> import gpugrad as gg
    >>> matmul(gg.ones((5, 2, 3)), gg.ones((3, 4))).shape
    (5, 2, 4)
    """
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):  # (_pair would pass both)
        a, b = _pair(a, b)
    if _amp.dtype is not None:  # autocast: a lower-precision op
        a, b = _amp_lower(a, b)
    sa, sb = a.data.shape, b.data.shape
    if not sa or not sb:
        raise ValueError(f"matmul: expected tensors with at least one dimension, got shapes "
                         f"{sa} and {sb}; use multiply for scalars")
    k1, k2 = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    if k1 != k2:
        raise ValueError(f"matmul: expected a (..., n, k) @ (..., k, m) shapes, got {sa} and "
                         f"{sb} (k = {k1} vs {k2})")
    try:
        if len(sa) > 2 and len(sb) > 2:  # (batch dimensions on one side only always broadcast)
            np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions {sa[:-2]} and {sb[:-2]} do not broadcast "
                         f"(shapes {sa} and {sb})") from None
    if _amp.dtype is not None and _amp_cuda_bf16(a, b):  # autocast bfloat16 on CUDA
        from . import bf16_cuda
        return bf16_cuda.matmul(a, b)
    return MatMul.apply(a, b)


def dot(a, b):
    """NumPy's ``dot``: 0-d operands multiply; 1-D and 2-D operands take the matrix product
    (NumPy's own ``dot`` computes it on NumPy arrays); with more dimensions, the sum over
    ``a``'s last axis and ``b``'s second-to-last (its only axis when 1-D), as ``tensordot``.

    ValueError when those two axes differ in length (NumPy's "not aligned").

    >>> import gpugrad as gg
    >>> dot(gg.tensor([1.0, 2.0]), gg.tensor([3.0, 4.0])).item()
    11.0
    >>> dot(gg.ones((2, 3, 4)), gg.ones((5, 4, 6))).shape
    (2, 3, 5, 6)
    """
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return _scale(a, b, "dot")
    kb = 0 if b.ndim == 1 else b.ndim - 2
    if a.shape[-1] != b.shape[kb]:
        which = "first" if kb == 0 else "second-to-last"
        raise ValueError(f"dot: shapes {a.shape} and {b.shape} are not aligned: "
                         f"{a.shape[-1]} (last dim of a) != {b.shape[kb]} ({which} dim of b)")
    if a.ndim > 2 or b.ndim > 2:
        return tensordot(a, b, ([a.ndim - 1], [kb]), DotND)
    if _amp.dtype is not None:
        a, b = _amp_lower(a, b)
    if _amp.dtype is not None and _amp_cuda_bf16(a, b):  # autocast bfloat16 on CUDA
        from . import bf16_cuda
        return bf16_cuda.matmul(a, b)
    return Dot.apply(a, b)


def _scale(a, b, name):
    """``dot``/``inner`` (``name``) where ``a`` or ``b`` is 0-d: a :class:`ScalarProduct`."""
    return ScalarProduct.apply(a, b, name=name)


class ScalarProduct(Multiply):
    """``dot(a, b)`` or ``inner(a, b)`` with a 0-d operand: the product ``a * b``, whose
    gradient is multiply's, with the answer of the array module's own ``dot``/``inner``:
    NumPy computes a scalar's product by BLAS's axpy for float and complex dtypes, whose
    complex products can differ from ``multiply``'s in the last bit (fused multiply-add on
    AVX-512 CPUs), and a drop-in gives NumPy's bits."""

    def forward(self, a, b, name):
        self._shapes(a, b)            # (what multiply's backward reads, as its forward keeps)
        self.saved = (a if self.needs[1] else None, b if self.needs[0] else None)
        return getattr(xp_of(a), name)(a, b)


def inner(a, b):
    """Sum of products over the last axes: shape ``a.shape[:-1] + b.shape[:-1]``.

    >>> import gpugrad as gg
    >>> inner(gg.ones((2, 3)), gg.ones((4, 3))).shape
    (2, 4)
    """
    a, b = _pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return _scale(a, b, "inner")
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inner: the last dimensions must match, got shapes {a.shape} and "
                         f"{b.shape}")
    r = TensorDot.apply(a, b, axes=((a.ndim - 1,), (b.ndim - 1,)))
    return mark_scalar(r) if a.ndim == b.ndim == 1 else r   # (NumPy's scalar: zero_d.py)


def outer(a, b):
    """Outer product of the flattened inputs: shape ``(a.size, b.size)``.

    >>> import gpugrad as gg
    >>> outer(gg.tensor([1.0, 2.0]), gg.tensor([1.0, 10.0, 100.0])).tolist()
    [[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]]
    """
    a, b = _pair(a, b)
    return einsum("i,j->ij", ravel(a), ravel(b))


# ================================================================ tensordot
class TensorDot(Function):
    saved_inputs = staticmethod(_cross_saved)
    twice_differentiable = True
    complex_grad = True  # each operand's gradient contracts g with the other's conjugate

    def forward(self, a, b, axes):
        n = self.needs or (False, False)
        self.saved = (a if n[1] else None, b if n[0] else None)
        self.axes, self.nda, self.ndb, self.da, self.db = axes, a.ndim, b.ndim, a.dtype, b.dtype
        return self.product(_blas(xp_of(a), a, b), a, b, axes)

    @staticmethod
    def product(m, a, b, axes):
        return m.tensordot(a, b, axes=axes)

    def backward(self, g):
        a, b = self.saved
        a, b = _conj(a), _conj(b)
        ax_a, ax_b = self.axes
        free_a = [i for i in range(self.nda) if i not in ax_a]
        free_b = [i for i in range(self.ndb) if i not in ax_b]
        nfa = len(free_a)
        xp = xp_of(g)
        ga = gb = None
        if self.needs[0]:  # dims: free_a, then b's contracted axes in b's order
            r = _blas(xp, g, b).tensordot(g, b, axes=(list(range(nfa, g.ndim)), free_b))
            perm = free_a + [ax_a[ax_b.index(j)] for j in sorted(ax_b)]
            ga = _cast(r.transpose(_inverse(perm)), self.da)
        if self.needs[1]:  # dims: a's contracted axes in a's order, then free_b
            r = _blas(xp, a, g).tensordot(a, g, axes=(free_a, list(range(nfa))))
            perm = [ax_b[ax_a.index(i)] for i in sorted(ax_a)] + free_b
            gb = _cast(r.transpose(_inverse(perm)), self.db)
        return ga, gb


class DotND(TensorDot):
    """NumPy's ``dot`` with an operand of more than 2 dimensions (a's last axis with b's
    second-to-last): TensorDot's gradient, with NumPy's own ``dot`` as the forward on NumPy
    arrays (``tensordot`` reshapes first, and its BLAS call can differ in the last bits)."""

    @staticmethod
    def product(m, a, b, axes):
        return np.dot(a, b) if m is np else m.tensordot(a, b, axes=axes)


def tensordot(a, b, axes=2, _cls=TensorDot):
    """Sum products over ``axes``: an int N (last N of a with first N of b) or a pair of
    axis lists.

    >>> import gpugrad as gg
    >>> tensordot(gg.ones((2, 3, 4)), gg.ones((4, 3, 5)), axes=([1, 2], [1, 0])).shape
    (2, 5)
    """
    a, b = _pair(a, b)
    if _amp.dtype is not None:
        a, b = _amp_lower(a, b)
    sa, sb = a.shape, b.shape
    if isinstance(axes, (numbers.Integral, Tensor)):
        n = operator.index(axes)
        if not 0 <= n <= min(len(sa), len(sb)):
            raise ValueError(f"tensordot: axes={n} is out of range for shapes {sa} and {sb}")
        ax_a, ax_b = tuple(range(len(sa) - n, len(sa))), tuple(range(n))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: expected axes as an int or a pair of axis lists, got "
                             f"{axes!r}") from None
        ax_a, ax_b = _axes(ax_a, len(sa)), _axes(ax_b, len(sb))
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: a and b must name the same number of axes, got "
                             f"{ax_a} and {ax_b}")
    for i, j in zip(ax_a, ax_b):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: shape mismatch for sum: a has size {sa[i]} on axis "
                             f"{i} but b has size {sb[j]} on axis {j} (shapes {sa} and {sb})")
    if _amp.dtype is not None and _amp_cuda_bf16(a, b):  # autocast bfloat16 on CUDA
        from . import bf16_cuda
        return bf16_cuda.tensordot(a, b, tuple(ax_a), tuple(ax_b))
    return _cls.apply(a, b, axes=(tuple(ax_a), tuple(ax_b)))


from .linalg_einsum import Einsum, _parse_einsum, einsum  # noqa: E402,F401  (its old home)
