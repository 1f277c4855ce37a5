"""Repeated eigenvalues and singular values in the decompositions' gradients: right, or a
clear error.

The eigenvector part of ``eigh``'s gradient divides by ``w[j] - w[i]`` (``eig``'s too;
``svd``'s by ``s[j]**2 - s[i]**2`` and by ``s[i]``).  Where two values are equal (within
``8 * sqrt(n) * eps * max|w|``, rounding's reach: LAPACK moves a computed value by a few
``sqrt(n) * eps * max|w|``) the eigenvectors of that eigenspace are any
rotation of each other, and the term is 0/0:

* the loss does not reach those eigenvectors (their coupling ``(V^T gV)[i, j]`` and
  ``[j, i]`` is 0, e.g. a loss of the eigenvalues, or of the eigenvector of another,
  simple, eigenvalue): the term is 0, and the gradient is right;
* it reaches other eigenvectors (or those through a factor that vanishes there: the
  reconstruction ``V diag(w) V^T`` at a repeated 0 has gV = 0 on that eigenspace) and the
  repeated eigenvalues too: raise, since the two cannot be told apart (:func:`check_values`);
* it does reach them: raise.  When the loss depends on the chosen basis (``V[:, 0]``) the
  gradient does not exist; when it does not (a projector ``V[:, :k] @ V[:, :k].T``, a
  reconstruction ``V diag(f(w)) V^T``) the missing term is ``f'`` times the coupling, which
  the cotangents cannot tell: the projector and ``V_b diag(w_b) V_b^T`` at ``w_b = 1`` reach
  backward with the same (gw, gV) and their gradients differ.  Zeroing was silently wrong
  for the reconstruction, so neither gets a number.  (PyTorch divides and gives NaN.)

The check runs only where a repeated pair exists (one host read of the mask otherwise).
Unequal gradients of the eigenvalues within a repeated eigenspace (``w[0]`` alone) are kept:
the answer is then a subgradient of that non-differentiable function, as for ``max`` at a tie.

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

__all__ = ["first_true", "largest_entry", "repeated_pairs", "small_values", "check_coupling",
           "check_values", "check_null_space", "zero_where"]

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


def check_coupling(op, mask, w, couplings, vectors="eigenvectors", value="eigenvalue"):
    """Raise where the loss reaches the vectors of a repeated pair: ``|X[i, j]|`` above
    rounding (relative to the largest entry of the ``couplings`` matrices) at a pair of
    ``mask``."""
    xs = [abs(_raw(x)) for x in couplings]
    n = xs[0].shape[-1]
    tol = _SLACK * n * np.finfo(xs[0].dtype).eps * largest_entry(xs)
    bad = mask & (xs[0] > tol)
    for x in xs[1:]:
        bad |= mask & (x > tol)
    if not bool(bad.any()):
        return
    idx, batch = first_true(bad)
    i, j = idx[-2:]
    val = _num(_to_host(_raw(w))[idx[:-2] + (i,)])
    raise ValueError(
        f"{op}: the gradient through the {vectors} is not defined at the repeated {value} "
        f"{val!r} (positions {i} and {j}{batch}): the loss depends on the {vectors} of that "
        f"repeated {value}, which are any rotation of each other.  Even a basis-independent use "
        f"of them (a projector, a reconstruction with a function of the {value}s) has a "
        f"gradient there that backward cannot recover.  Use a loss of the {value}s only, or "
        f"separate the repeated {value}s (e.g. add a small distinct perturbation)")


def check_values(op, where, w, gw, gvecs, vectors="eigenvectors", value="eigenvalue"):
    """Raise where the loss reaches the vectors (any ``gvecs`` nonzero) and a repeated (or
    zero) value of ``where`` (..., k) has a nonzero gradient ``gw``: the vectors of that
    value may enter through a factor that vanishes there (``V diag(w) V^T`` at a repeated
    0), a term the cotangents do not carry."""
    if not any(bool(_raw(g).any()) for g in gvecs):
        return
    g = abs(_raw(gw))
    tol = _SLACK * g.shape[-1] * np.finfo(g.dtype).eps * g.max(axis=-1, keepdims=True)
    bad = where & (g > tol)
    if not bool(bad.any()):
        return
    idx, batch = first_true(bad, 1)
    val = _num(_to_host(_raw(w))[idx])
    raise ValueError(
        f"{op}: the gradient is not defined by backward at the repeated (or zero) {value} "
        f"{val!r} (position {idx[-1]}{batch}): the loss uses that {value} and also "
        f"{vectors}, and backward cannot tell whether the {vectors} of the repeated {value} "
        f"enter through a factor that vanishes there (as in V @ diag(w) @ V.T at a repeated "
        f"0), whose gradient it cannot recover.  Use a loss of the {value}s only, or "
        f"separate the repeated {value}s (e.g. add a small distinct perturbation)")


def check_null_space(op, small, resid, side):
    """Raise where the loss reaches a singular vector of a zero singular value outside the
    span of the others (``resid`` (..., m, k): the gradient's part outside that span): such
    a vector is any unit vector of the null space."""
    r = abs(_raw(resid))
    tol = _SLACK * r.shape[-2] * np.finfo(r.dtype).eps * r.max(axis=(-2, -1), keepdims=True)
    bad = small & (r > tol).any(axis=-2)
    if not bool(bad.any()):
        return
    idx, batch = first_true(bad, 1)
    raise ValueError(
        f"{op}: the gradient through the singular vectors is not defined at singular value 0 "
        f"(position {idx[-1]}{batch}): the loss depends on {side}[..., {idx[-1]}], which is "
        f"any unit vector of a null space; use a loss of the singular values only, or of "
        f"the vectors of nonzero singular values")


def zero_where(xp, mask, x):
    """``x`` with 0 where ``mask``; ``x`` itself when ``mask`` is None."""
    if mask is None:
        return x
    return xp.where(xp.asarray(mask), 0, x)
