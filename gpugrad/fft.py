"""``gpugrad.fft`` (also ``gpugrad.numpy.fft``): NumPy's ``numpy.fft`` on gpugrad tensors,
differentiable, on the CPU (NumPy) and on CUDA (CuPy's cuFFT).

The transforms (``fft``, ``ifft``, ``fft2``, ``ifft2``, ``fftn``, ``ifftn``, ``rfft``,
``irfft``, ``rfft2``, ``irfft2``, ``rfftn``, ``irfftn``, ``hfft``, ``ihfft``) take NumPy's
arguments (``n``/``axis`` or ``s``/``axes``, ``norm`` = 'backward', 'ortho' or 'forward') and
are defined with their gradients in :mod:`gpugrad.ops.fft`.  ``fftshift``/``ifftshift`` are
differentiable rolls; ``fftfreq``/``rfftfreq`` build new (float64 by default) tensors.

>>> import gpugrad as gg
>>> x = gg.tensor([0.0, 1.0, 0.0, 0.0], dtype="float64", requires_grad=True)
>>> p = gg.abs(gg.fft.fft(x)) ** 2          # the power spectrum
>>> p.tolist()
[1.0, 1.0, 1.0, 1.0]
>>> p.sum().backward(); x.grad.tolist()     # Parseval: sum |X|^2 = 4 * sum x^2
[0.0, 8.0, 0.0, 0.0]
"""
from __future__ import annotations

import operator

from . import creation, dtypes
from .ops import roll as _roll
from .ops._util import tensor_arg as _tensor_arg
from .ops.fft import *  # noqa: F401,F403
from .ops.fft import __all__ as _transforms
from .ops.fft import _axes_and_sizes

__all__ = list(_transforms) + ["fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def _freq(fill, n, d, device, dtype, name):
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"{name}: expected n >= 1, got {n}")
    dt = dtypes.as_dtype(dtype) or dtypes.float64
    if dt.kind != "f":
        raise TypeError(f"{name}: expected a real floating dtype, got {dt}")
    return creation._make(lambda xp, s, t: fill(xp, n, d).astype(t, copy=False), None, dt,
                          device, False, dt)


def fftfreq(n, d=1.0, *, device=None, dtype=None):
    """The sample frequencies of an ``n``-point :func:`fft` with sample spacing ``d``:
    ``[0, 1, ..., n//2 - 1 (or (n-1)//2), -(n//2), ..., -1] / (d * n)``, shape ``(n,)``,
    float64 unless ``dtype`` says otherwise, on ``device`` (the default device when None).

    Raises ValueError for ``n < 1`` and TypeError for a non-floating ``dtype``.

    >>> fftfreq(4).tolist()
    [0.0, 0.25, -0.5, -0.25]
    """
    return _freq(lambda xp, n, d: xp.fft.fftfreq(n, d), n, d, device, dtype, "fftfreq")


def rfftfreq(n, d=1.0, *, device=None, dtype=None):
    """The sample frequencies of an ``n``-point :func:`rfft`: shape ``(n // 2 + 1,)``.

    >>> rfftfreq(4).tolist()
    [0.0, 0.25, 0.5]
    """
    return _freq(lambda xp, n, d: xp.fft.rfftfreq(n, d), n, d, device, dtype, "rfftfreq")


def _shift(x, axes, sign, name):
    x = _tensor_arg(x, name)
    if x.ndim == 0:
        return _roll(x, 0)
    axes, _ = _axes_and_sizes(x, None, axes, name)
    return _roll(x, tuple(sign * (x.shape[a] // 2) for a in axes), axes)


def fftshift(x, axes=None):
    """Move the zero-frequency term to the centre along ``axes`` (all by default): a
    differentiable roll by ``n // 2``; same shape and dtype.

    >>> import gpugrad as gg
    >>> fftshift(fftfreq(4)).tolist()
    [-0.5, -0.25, 0.0, 0.25]
    """
    return _shift(x, axes, 1, "fftshift")


def ifftshift(x, axes=None):
    """Undo :func:`fftshift` (a roll by ``-(n // 2)``).

    >>> ifftshift(fftshift(fftfreq(5))).tolist() == fftfreq(5).tolist()
    True
    """
    return _shift(x, axes, -1, "ifftshift")
