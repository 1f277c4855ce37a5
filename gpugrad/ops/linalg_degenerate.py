"""Repeated eigenvalues and singular values in the decompositions' gradients: right, or a
clear error.

The eigenvector part of ``eigh``'s gradient divides by ``w[j] - w[i]`` (``eig``'s too;
``svd``'s by ``s[j]**2 - s[i]**2`` and by ``s[i]``).  Where two values are equal (within
``8 * sqrt(n) * eps * max|w|``, rounding's reach: LAPACK moves a computed value by a few
``sqrt(n) * eps * max|w|``) the eigenvectors of that eigenspace are any rotation of each
other, and the term is ``(V^H gV)[i, j] / 0``.  Which loss reaches backward is known only
through the cotangents (gw, gV), so (:func:`check_repeated`):

* columns i and j of gV are exactly 0 (a loss of the eigenvalues, or of the eigenvectors of
  other, simple eigenvalues: ``w.sum() + f(V[:, 2])`` at ``Q diag(1, 1, 3) Q^T``; indexing,
  masks and products with 0 give exact zeros): the term is 0, the gradient right.
* any entry of those columns is nonzero, however small: raise.  A loss that depends on the
  chosen basis (``V[:, 0]``) has no gradient.  A basis-independent one has a part within
  the eigenspace that its cotangents do not carry: a projector ``V_b V_b^T`` has none, the
  reconstruction ``V_b diag(w_b) V_b^T`` at ``w_b = 1`` has G's block there, and both reach
  backward with the same gV (and the same gw where that block's diagonal is 0).  A factor
  that vanishes at the repeated value (``V diag(log w) V^T`` at a repeated 1, ``V diag(w)
  V^T`` at a repeated 0) leaves only rounding there (~1e-16): a tolerance would call it 0
  and miss the term, so none is used.  (PyTorch divides: NaN, or a wrong number.)
* the columns are exactly 0 and the computed copies of the value are bitwise equal: a
  factor can vanish there exactly (``log(1.0) == 0``), and exact zeros prove nothing.  A loss
  that uses those values (gw not ~0) and other eigenvectors raises (:func:`_vanish_error`);
  one whose gw is ~0 there too (``w[2] + f(V[:, 2])`` at ``diag(1, 1, 3)``) gets its
  gradient -- and is told apart from ``V diag(log w) V^T`` with a zero-diagonal block of G
  on that eigenspace by nothing: the one case the cotangents cannot settle.

A zero singular value of a non-square matrix has a vector on its null side that is any unit
vector of a null space: any reach of it raises; its value used with other singular vectors
follows the rules above (:func:`check_zero`, with ``s == 0.0`` for "bitwise equal").

The checks run only where a repeated pair exists (one host read of the mask otherwise, one
more when it does).  Unequal gradients of the eigenvalues within a repeated eigenspace
(``w[0]`` alone) are kept: the answer is then a subgradient of that non-differentiable
function, as for ``max`` at a tie.

>>> import numpy as np
>>> repeated_pairs(np.array([1.0, 1.0, 2.0]), 3).astype(int).tolist()
[[0, 1, 0], [1, 0, 0], [0, 0, 0]]
>>> repeated_pairs(np.array([1.0, 2.0]), 2) is None
True
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from ._util import xp_of

__all__ = ["first_true", "largest_entry", "repeated_pairs", "small_values", "check_repeated",
           "check_zero", "zero_where"]

_SLACK = 8  # rounding of a LAPACK eigen/singular value: a few sqrt(n) * eps * max|w| (an
# n in place of sqrt(n) took distinct float32 values of a random 300 x 300 matrix for equal)


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _tol(x, n, axes):
    """``_SLACK * sqrt(n) * eps * max|x|`` over ``axes`` (kept), in ``x``'s real dtype."""
    eps = np.finfo(x.dtype).eps
    return _SLACK * math.sqrt(n) * eps * abs(x).max(axis=axes, keepdims=True)


def repeated_pairs(w, n):
    """Mask (..., k, k): True at i != j where ``w[i]`` and ``w[j]`` are equal up to rounding
    (``n``: the matrices' largest dimension); None when no pair is (the fast path)."""
    w = _raw(w)
    k = w.shape[-1]
    if k < 2 or w.size == 0:
        return None
    xp = xp_of(w)
    tol = _tol(w, n, -1)[..., None]
    mask = abs(w[..., None, :] - w[..., :, None]) <= tol
    mask &= ~xp.eye(k, dtype=bool)
    return mask if bool(mask.any()) else None


def small_values(s, n):
    """Mask (..., k): singular values that are 0 up to rounding; None when none is."""
    s = _raw(s)
    if s.size == 0:
        return None
    mask = s <= _tol(s, n, -1)
    return mask if bool(mask.any()) else None


def first_true(mask, core=2):
    """The index of ``mask``'s first True (on the host), and the text naming its matrix in
    a batch (`` of matrix (b,)``; empty for one matrix): ``core`` trailing axes are the
    matrix's own (2 for a pair mask, 1 for a mask of values)."""
    idx = tuple(int(i) for i in np.argwhere(np.asarray(_to_host(mask)))[0])
    batch = f" of matrix {idx[:-core]}" if len(idx) > core else ""
    return idx, batch


def _to_host(a):
    return a.get() if hasattr(a, "get") else a


def largest_entry(mats):
    """``max |m|`` over the last two axes of every matrix stack in ``mats`` (kept, shape
    (..., 1, 1)): the scale rounding is measured against."""
    scale = None
    for m in mats:
        a = abs(_raw(m)).max(axis=(-2, -1), keepdims=True)
        scale = a if scale is None else xp_of(a).maximum(scale, a)
    return scale


def _num(v):
    """A value for a message: a float, or a complex for a complex eigenvalue (eig)."""
    return complex(v) if np.iscomplexobj(v) else float(v)


def _reach(gvecs):
    """(..., k): True where column j of some cotangent in ``gvecs`` (..., m, k) has a nonzero
    entry -- exactly: a loss that leaves vector j alone gives it exact zeros (indexing,
    masks, products with 0), one that reaches it through a factor vanishing only up to
    rounding (``log(w)`` at a repeated 1) gives ~1e-16, which no tolerance may take for 0."""
    reach = None
    for g in gvecs:
        r = (_raw(g) != 0).any(axis=-2)
        reach = r if reach is None else reach | r
    return reach


def _big(gw):
    """(..., k): ``gw`` above rounding, relative to its largest entry in each matrix."""
    g = abs(_raw(gw))
    return g > _SLACK * g.shape[-1] * np.finfo(g.dtype).eps * g.max(axis=-1, keepdims=True)


def check_repeated(op, rep, w, gw, gvecs, vectors="eigenvectors", value="eigenvalue"):
    """Raise unless the loss leaves the vectors of every repeated pair alone.

    ``rep`` (..., k, k) bool: :func:`repeated_pairs` of ``w`` (..., k), real or complex;
    ``gw`` (..., k): the values' cotangent; ``gvecs``: the vectors' cotangents (..., m, k),
    column j that of value j (eigh, eig: [gV]; svd: [gU, gV]); arrays or Tensors, NumPy or
    CuPy.  ValueError where a column of a repeated pair has any nonzero entry, or where the
    pair's computed values are bitwise equal, gw is above rounding there and other vectors
    are reached (:func:`_vanish_error`).  One host read when all is well.

    >>> import numpy as np
    >>> w = np.array([1.0, 1.0 + 2.0 ** -52, 3.0])
    >>> only_v2 = np.zeros((3, 3)); only_v2[:, 2] = 1.0        # w.sum() + f(V[:, 2])
    >>> check_repeated("eigh", repeated_pairs(w, 3), w, np.ones(3), [only_v2])
    >>> check_repeated("eigh", repeated_pairs(w, 3), w, np.ones(3), [only_v2 + 1e-17])
    Traceback (most recent call last):
    ValueError: eigh: the gradient through the eigenvectors is not defined at the repeated ...
    """
    wr = _raw(w)
    reach = _reach(gvecs)
    touched = rep & (reach[..., :, None] | reach[..., None, :])
    big = _big(gw)
    exact = rep & (wr[..., :, None] == wr[..., None, :]) & reach.any(axis=-1)[..., None, None]
    vanish = exact.any(axis=-1) & big
    if not bool(touched.any() | vanish.any()):
        return
    if bool(touched.any()):
        idx, batch = first_true(touched)
        i, j = idx[-2:]
        val = _num(_to_host(wr)[idx[:-2] + (i,)])
        raise ValueError(
            f"{op}: the gradient through the {vectors} is not defined at the repeated {value} "
            f"{val!r} (positions {i} and {j}{batch}): the loss reaches the {vectors} of that "
            f"repeated {value}, which are any rotation of each other.  A loss that depends on "
            f"the rotation has no gradient there; one that does not (a projector, "
            f"V diag(f(w)) V^T such as a matrix logarithm) has a part within their span that "
            f"backward cannot recover from the {vectors}' gradient, however small that gradient "
            f"is there.  Use a loss of the {value}s only, or of the {vectors} of simple "
            f"{value}s only, or separate the repeated {value}s (e.g. add a small distinct "
            f"perturbation)")
    _vanish_error(op, vanish, wr, vectors, value, "whose computed copies are exactly equal")


def _vanish_error(op, bad, w, vectors, value, why):
    idx, batch = first_true(bad, 1)
    val = _num(_to_host(w)[idx])
    raise ValueError(
        f"{op}: the gradient is not defined by backward at the repeated (or zero) {value} "
        f"{val!r} (position {idx[-1]}{batch}), {why}: the loss uses that {value} and other "
        f"{vectors}, and backward cannot tell it from a loss that also uses the {vectors} of "
        f"this {value} through a factor that vanishes there exactly (V @ diag(w) @ V.T at a "
        f"0.0, V @ diag(log(w)) @ V.T at a 1.0), whose gradient it cannot recover.  Use a loss "
        f"of the {value}s only, or separate the repeated {value}s (e.g. add a small distinct "
        f"perturbation)")


def check_zero(op, small, s, gs, gnull, gother, side):
    """Raise at the zero singular values of a non-square matrix.

    ``small`` (..., k) bool: :func:`small_values` of ``s`` (..., k); ``gs`` (..., k) their
    cotangent; ``gnull`` (..., m, k): the cotangent on the null side (gU of a tall matrix,
    gV of a wide one: there such a vector is any unit vector of a null space), ``gother``
    the other side's; ``side`` names the null side in the message ("u", "vh.T").
    ValueError where a column of ``gnull`` at a zero value has any nonzero entry, or where
    the zero value's gs is above rounding, other vectors are reached, and its own are too or
    it is exactly 0.0 (:func:`_vanish_error`).  One host read when all is well.
    """
    sr = _raw(s)
    null = small & _reach([gnull])
    reach = _reach([gnull, gother])
    vanish = (small & _big(gs) & reach.any(axis=-1, keepdims=True)
              & (reach | (sr == 0)))
    if not bool(null.any() | vanish.any()):
        return
    if bool(null.any()):
        idx, batch = first_true(null, 1)
        raise ValueError(
            f"{op}: the gradient through the singular vectors is not defined at singular "
            f"value 0 (position {idx[-1]}{batch}): the loss depends on {side}[..., {idx[-1]}], "
            f"which is any unit vector of a null space; use a loss of the singular values "
            f"only, or of the vectors of nonzero singular values")
    _vanish_error(op, vanish, sr, "singular vectors", "singular value",
                  "a zero singular value of a non-square matrix")


def zero_where(xp, mask, x):
    """``x`` with 0 where ``mask``; ``x`` itself when ``mask`` is None."""
    if mask is None:
        return x
    return xp.where(xp.asarray(mask), 0, x)
