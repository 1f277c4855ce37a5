"""Helpers the matrix decompositions share (decompositions.py, linalg_svd.py, eig.py,
linalg_pinv.py): argument checks, transposes, and the phase (gauge) rule of complex
eigen/singular vectors.

Complex input follows PyTorch's convention (``z.grad`` = dL/d(re z) + i dL/d(im z)): each
real formula holds with conjugate transposes (:func:`_H`) in place of transposes.  A complex
eigenvector (singular vector pair) is defined only up to a phase ``e^{i phi}``, so a loss
that depends on that phase has no gradient: :func:`check_phase` raises ValueError there (as
PyTorch's ``linalg_eigh_backward`` / ``svd_backward`` do), never a number for one chosen
phase.

>>> import numpy as np
>>> _H(np, np.array([[1j, 2.0]])).tolist()
[[-1j], [(2-0j)]]
"""
from __future__ import annotations

import numpy as np

from ..autocast_state import _state as _amp
from ..dtypes import is_low_precision
from ..tensor import Tensor
from ._util import tensor_arg, xp_of
# (_raw: linalg_svd imports it from here)
from .linalg_degenerate import _raw, _to_host, first_true, largest_entry  # noqa: F401

__all__ = ["no_low_precision", "check_phase"]


def _T(a):
    return a.swapaxes(-1, -2)


def _H(xp, a):
    """The conjugate transpose of the last two axes (the transpose for real ``a``)."""
    return _T(xp.conj(a)) if a.dtype.kind == "c" else _T(a)


def _re(xp, a):
    """The real part of a complex ``a`` (the gradient of a real-valued result, e.g. the
    eigenvalues, comes back complex from the packed answer); ``a`` itself otherwise."""
    return xp.real(a) if a.dtype.kind == "c" else a


def _eye_like(xp, a):
    """The identity of ``a``'s last dimension in ``a``'s dtype, made on ``a``'s data's device
    (a constant Tensor when ``xp`` is the Tensor namespace)."""
    raw = a.data if isinstance(a, Tensor) else a
    return xp.asarray(xp_of(raw).eye(a.shape[-1], dtype=a.dtype))


def _safe_inv(xp, d):
    return xp.where(d == 0, 0, 1 / xp.where(d == 0, 1, d))


def no_low_precision(x, what):
    """``x`` itself; TypeError for a float16/bfloat16 ``x``: the LAPACK functions refuse
    16-bit floats, as NumPy's (and PyTorch's on the CPU) do; NumPy would answer bfloat16 in
    float64.  Under :class:`~gpugrad.amp.autocast` the decompositions, inverses and solves
    are float32 ops (PyTorch's CPU autocast list): a 16-bit ``x`` comes back cast to float32
    (a graph node: its gradient returns in ``x``'s dtype).

    >>> import gpugrad as gg
    >>> with gg.autocast(dtype="float16"):
    ...     no_low_precision(gg.ones(2, 2, dtype="float16"), "inv").dtype.name
    'float32'
    """
    if is_low_precision(x.dtype):
        if _amp.dtype is not None:  # autocast: a float32 op
            return x.astype(np.float32)
        raise TypeError(f"{what}: array type {x.dtype.name} is unsupported in linalg "
                        f"(expected float32, float64 or complex input, as NumPy's linalg); "
                        f"cast it first, e.g. x.astype('float32'), or run it under "
                        f"gpugrad.autocast (which does)")
    return x


def _float(x, what):
    """Integers and bools as float64 (NumPy's linalg does the same); complex stays complex;
    16-bit floats refused, or float32 under autocast (:func:`no_low_precision`)."""
    x = no_low_precision(x, what)
    return x if x.dtype.kind in "fc" else x.astype(np.float64)


def _square(x, what):
    x = tensor_arg(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{what}: expected square matrices of shape (..., n, n), got {x.shape}")
    return _float(x, what)


def _mat(x, what):
    x = tensor_arg(x)
    if x.ndim < 2:
        raise ValueError(f"{what}: expected matrices of shape (..., m, n), got {x.shape}")
    return _float(x, what)


def check_phase(op, phase, mats, vectors="eigenvectors"):
    """ValueError where the loss depends on the phases of complex ``vectors``: ``phase``
    (..., k) is ``imag(diag(V^H gV))`` (for the SVD ``imag(diag(U^H gU + V^H gV))``), the
    loss's derivative along ``V -> V e^{i phi}``, which a phase-independent loss makes 0 up to
    rounding (``max(sqrt(eps), 64 k eps)`` relative to the largest entry of the ``mats``,
    V^H gV (U^H gU)); a phase-dependent loss makes it of the order of that entry."""
    p = abs(_raw(phase))
    if p.size == 0:
        return
    scale = largest_entry(mats)[..., 0]  # (..., 1): one per matrix
    eps = np.finfo(p.dtype).eps
    bad = p > max(np.sqrt(eps), 64 * p.shape[-1] * eps) * scale
    if not bool(bad.any()):
        return
    idx, batch = first_true(bad, 1)
    raise ValueError(
        f"{op}: the gradient is ill-defined: complex {vectors} are specified only up to a "
        f"phase e^(i phi), and the loss depends on that phase (the imaginary part of "
        f"diag(V^H gV) at position {idx[-1]}{batch} is {float(_to_host(p)[idx]):.3g}, expected "
        f"~0).  Use a loss that does not depend on the phase (e.g. abs(V)**2, "
        f"V @ diag(f(w)) @ V^H, or the values only)")
