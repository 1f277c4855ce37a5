"""Special functions on NumPy or CuPy arrays that NumPy lacks: ``erf`` and the standard
normal CDF ``normal_cdf`` (gelu's Phi), to full relative precision (Numba on the CPU, CuPy on
CUDA).
"""
from __future__ import annotations

import functools

import numpy as np

from .backend import _import_cupy, is_cupy_array
from .dtypes import is_floating as _floating

_erf_cpu = None


def erf(x):
    """The error function on a NumPy or CuPy array (NumPy has none of its own).

    >>> float(erf(np.array(0.5)))  # doctest: +ELLIPSIS
    0.5204998778...
    """
    global _erf_cpu
    if is_cupy_array(x):
        _import_cupy()
        import cupyx.scipy.special  # noqa: PLC0415 -- CuPy lives here only

        return cupyx.scipy.special.erf(x)
    if _erf_cpu is None:
        import math

        import numba

        @numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
        def _erf(v):
            return math.erf(v)

        _erf_cpu = _erf
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        return _erf_cpu(x.astype(np.float64)).astype(x.dtype if _floating(x.dtype) else np.float64)
    return _erf_cpu(x)


_normal_cdf_cpu = None


def normal_cdf(x):
    """The standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2 on a NumPy or CuPy array, in
    float64 arithmetic rounded once to x's dtype, to full relative precision also in the lower
    tail (gelu's x Phi(x); 0.5 (1 + erf(x / sqrt 2)) cancels for x < 0). It is the same formula
    as the fused kernels' (``gpugrad.kernels.cpu`` and ``activations.cu``): the argument carried
    as two doubles, erfc(t + e) = erfc(t) - e 2/sqrt(pi) exp(-t^2).

    >>> float(normal_cdf(np.array(-10.0)))  # doctest: +ELLIPSIS
    7.6198530241...e-24
    """
    global _normal_cdf_cpu
    if is_cupy_array(x):
        return _normal_cdf_cuda()(x)
    if _normal_cdf_cpu is None:
        import math

        import numba

        hi, lo, r20 = 0.7071067690849304, 1.210161710447897e-08, 6442450944.0
        two_over_sqrt_pi = 2.0 / math.sqrt(math.pi)

        @numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
        def _normal_cdf(v):
            if abs(v) < 64.0:  # (1/sqrt 2 = hi + lo, hi of 24 bits; h of <= 26 bits: h * hi exact)
                h = (v + r20) - r20
                p = h * -hi
                q = (v - h) * -hi - v * lo
                t = p + q
                return 0.5 * (math.erfc(t) - ((p - t) + q) * two_over_sqrt_pi * math.exp(-t * t))
            return 0.5 * math.erfc(v * -0.7071067811865476)

        _normal_cdf_cpu = _normal_cdf
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        return _normal_cdf_cpu(x.astype(np.float64)).astype(
            x.dtype if _floating(x.dtype) else np.float64)
    return _normal_cdf_cpu(x)


@functools.lru_cache(maxsize=None)
def _normal_cdf_cuda():
    """The CuPy kernel of normal_cdf: activations.cu's gpugrad_normal_cdf, in double."""
    cp = _import_cupy()
    from .kernels.cuda_sources import source  # noqa: PLC0415 -- no CuPy import of its own

    return cp.ElementwiseKernel("T x", "T y", "y = T(gpugrad_normal_cdf(double(x)))",
                                "gpugrad_normal_cdf_kernel", preamble=source("activations.cu"))
