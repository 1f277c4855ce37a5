"""The array API ``fft`` extension (2023.12), differentiable: the standard's signatures
(the array positional-only, the rest keyword-only, ``norm='backward'`` by default) over
:mod:`gpugrad.numpy.fft` (NumPy's conversion rules).  ``fftfreq``/``rfftfreq`` also take
the 2024.12 ``dtype=``.

>>> import gpugrad.array_api as xp
>>> xp.fft.irfft(xp.fft.rfft(xp.asarray([1.0, 2.0, 3.0, 4.0]))).tolist()
[1.0, 2.0, 3.0, 4.0]
"""
from __future__ import annotations

from ..numpy import fft as _f

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft",
           "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]


def fft(x, /, *, n=None, axis=-1, norm="backward"):
    """1-D discrete Fourier transform (see :func:`gpugrad.fft.fft`).

    >>> import gpugrad.array_api as xp
    >>> xp.fft.fft(xp.asarray([1 + 0j, 0j])).tolist()
    [(1+0j), (1+0j)]
    """
    return _f.fft(x, n, axis, norm)


def ifft(x, /, *, n=None, axis=-1, norm="backward"):
    """1-D inverse discrete Fourier transform.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.ifft(xp.asarray([2 + 0j, 0j])).tolist()
    [(1+0j), (1+0j)]
    """
    return _f.ifft(x, n, axis, norm)


def fftn(x, /, *, s=None, axes=None, norm="backward"):
    """N-D discrete Fourier transform over ``axes`` (all when None), sizes ``s``.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.fftn(xp.ones((2, 2), dtype=xp.complex64)).dtype
    dtype('complex64')
    """
    return _f.fftn(x, s, axes, norm)


def ifftn(x, /, *, s=None, axes=None, norm="backward"):
    """N-D inverse discrete Fourier transform.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.ifftn(xp.ones((2, 2), dtype=xp.complex128)).shape
    (2, 2)
    """
    return _f.ifftn(x, s, axes, norm)


def rfft(x, /, *, n=None, axis=-1, norm="backward"):
    """1-D transform of a real input (``n // 2 + 1`` terms).

    >>> import gpugrad.array_api as xp
    >>> xp.fft.rfft(xp.ones(4)).shape
    (3,)
    """
    return _f.rfft(x, n, axis, norm)


def irfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Real inverse of :func:`rfft` (output length ``n``, default ``2 * (m - 1)``).

    >>> import gpugrad.array_api as xp
    >>> xp.fft.irfft(xp.ones(3, dtype=xp.complex128)).shape
    (4,)
    """
    return _f.irfft(x, n, axis, norm)


def rfftn(x, /, *, s=None, axes=None, norm="backward"):
    """N-D transform of a real input, halved along the last of ``axes``.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.rfftn(xp.ones((2, 4))).shape
    (2, 3)
    """
    return _f.rfftn(x, s, axes, norm)


def irfftn(x, /, *, s=None, axes=None, norm="backward"):
    """Real inverse of :func:`rfftn`.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.irfftn(xp.ones((2, 3), dtype=xp.complex128)).shape
    (2, 4)
    """
    return _f.irfftn(x, s, axes, norm)


def hfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Real transform of a Hermitian signal given by its first half.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.hfft(xp.ones(3, dtype=xp.complex128)).shape
    (4,)
    """
    return _f.hfft(x, n, axis, norm)


def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
    """Inverse of :func:`hfft` for a real input.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.ihfft(xp.ones(4)).shape
    (3,)
    """
    return _f.ihfft(x, n, axis, norm)


def fftfreq(n, /, *, d=1.0, device=None, dtype=None):
    """Sample frequencies of an ``n``-point transform (the default real floating dtype).

    >>> import gpugrad.array_api as xp
    >>> xp.fft.fftfreq(4).tolist()
    [0.0, 0.25, -0.5, -0.25]
    """
    return _f.fftfreq(n, d, device=device, dtype=dtype)


def rfftfreq(n, /, *, d=1.0, device=None, dtype=None):
    """Sample frequencies of an ``n``-point :func:`rfft`.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.rfftfreq(4).tolist()
    [0.0, 0.25, 0.5]
    """
    return _f.rfftfreq(n, d, device=device, dtype=dtype)


def fftshift(x, /, *, axes=None):
    """Zero frequency to the centre (a differentiable roll).

    >>> import gpugrad.array_api as xp
    >>> xp.fft.fftshift(xp.asarray([0, 1, 2, 3])).tolist()
    [2, 3, 0, 1]
    """
    return _f.fftshift(x, axes)


def ifftshift(x, /, *, axes=None):
    """Inverse of :func:`fftshift`.

    >>> import gpugrad.array_api as xp
    >>> xp.fft.ifftshift(xp.asarray([2, 3, 0, 1])).tolist()
    [0, 1, 2, 3]
    """
    return _f.ifftshift(x, axes)
