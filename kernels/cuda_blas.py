"""GEMMs on CuPy arrays, and the device guard of every ``kernels.cuda`` entry point.

``_gemm`` calls cublasGemmEx directly for 2-D contiguous operands (row-major products as the
transposed column-major ones), skipping cupy.matmul's host work; ``compute_type`` sets CuPy's
float32/complex64 compute type (FP32 or TF32) for one call; :class:`Blas` is what
``gpugrad.ops`` calls for matmul, tensordot and einsum on CUDA, at gpugrad's matmul precision.
"""
import contextlib
import functools
import os

import cupy
import numpy

try:
    from cupy_backends.cuda.libs import cublas as _cublas
except ImportError:                                   # older CuPy layouts
    from cupy.cuda import cublas as _cublas


def on_operands_device(fn):
    """Run ``fn`` with its first CuPy array argument's device current (allocations, kernel
    launches and cuBLAS handles then belong to it); free when that device already is current."""
    @functools.wraps(fn)
    def run(*args, **kwargs):
        for a in args:
            if isinstance(a, cupy.ndarray):
                if a.device.id != cupy.cuda.runtime.getDevice():
                    with a.device:
                        return fn(*args, **kwargs)
                break
        return fn(*args, **kwargs)
    return run


# cuBLAS enum values (cublas_api.h, library_types.h), fixed by the CUDA ABI
_OP_N, _OP_T = 0, 1
_CUDA_R = {numpy.dtype(numpy.float32): 0, numpy.dtype(numpy.float64): 1}       # CUDA_R_32F/64F
_COMPUTE = {(numpy.dtype(numpy.float32), "highest"): 68,      # CUBLAS_COMPUTE_32F
            (numpy.dtype(numpy.float32), "high"): 77,         # CUBLAS_COMPUTE_32F_FAST_TF32
            (numpy.dtype(numpy.float64), "highest"): 70,      # CUBLAS_COMPUTE_64F
            (numpy.dtype(numpy.float64), "high"): 70}
_GEMM_DEFAULT = -1                                            # CUBLAS_GEMM_DEFAULT
_SCALARS = {dt: (numpy.ones(1, dt), numpy.zeros(1, dt)) for dt in _CUDA_R}
_DIRECT_GEMM = os.environ.get("GPUGRAD_DIRECT_GEMM", "1") != "0"


def _op_ld(x):
    """(cuBLAS op, leading dimension) of row-major 2-D ``x`` as a column-major operand of the
    transposed product: its memory is x^T when C-contiguous (op N, ld = its row length), x
    itself when F-contiguous (op T, ld = its column length); (None, None) when neither."""
    if x.flags.c_contiguous:
        return _OP_N, x.shape[1]
    if x.flags.f_contiguous:
        return _OP_T, x.shape[0]
    return None, None


def _gemm(a, b, out, precision):
    """out = a @ b as one cublasGemmEx call, for 2-D a (m, k) and b (k, n), each C- or
    F-contiguous (a transposed view is F-contiguous), out C-contiguous (m, n), one float32 or
    float64 dtype; returns out, or None when the operands do not fit (the caller falls back to
    cupy.matmul). Row-major out is column-major out^T = b^T a^T: b's memory is b^T (n x k)
    in column-major order when b is C-contiguous (op N, ld n) and b itself (k x n) when it
    is F-contiguous (op T, ld k); likewise for a. Host pointers to alpha = 1, beta = 0."""
    m, k = a.shape
    n = b.shape[1]
    dt = a.dtype
    if (b.dtype != dt or out.dtype != dt or dt not in _CUDA_R or not (m and n and k)
            or not out.flags.c_contiguous or max(m, n, k) >= 2 ** 31):
        return None
    tb, ldb = _op_ld(b)
    ta, lda = _op_ld(a)
    if tb is None or ta is None:
        return None
    one, zero = _SCALARS[dt]
    r = _CUDA_R[dt]
    _cublas.gemmEx(cupy.cuda.device.get_cublas_handle(), tb, ta, n, m, k,
                            one.ctypes.data, b.data.ptr, r, ldb, a.data.ptr, r, lda,
                            zero.ctypes.data, out.data.ptr, r, n, _COMPUTE[dt, precision],
                            _GEMM_DEFAULT)
    return out


@contextlib.contextmanager
def compute_type(dtype, precision):
    """CuPy's GEMM compute type for float32 / complex64 products for the duration: FP32 at
    "highest", TF32 at "high" (so neither CUPY_TF32 nor an earlier setting leaks in); other
    dtypes are left alone. CuPy's setting is process-wide: a product in another thread during
    this call sees it too (the direct cuBLAS path of 2-D products has no such window)."""
    dtype = numpy.dtype(dtype)
    if dtype not in (numpy.dtype(numpy.float32), numpy.dtype(numpy.complex64)):
        yield
        return
    from cupy._core import _routines_linalg as linalg
    wanted = linalg.COMPUTE_TYPE_TF32 if precision == "high" else linalg.COMPUTE_TYPE_FP32
    previous = linalg.get_compute_type(dtype)
    if previous == wanted:
        yield
        return
    linalg.set_compute_type(dtype, wanted)
    try:
        yield
    finally:
        linalg.set_compute_type(dtype, previous)


def _precision():
    from . import get_matmul_precision
    return get_matmul_precision()


class Blas:
    """matmul, tensordot and einsum on CuPy arrays at gpugrad's matmul precision
    (``gpugrad.set_matmul_precision``): what ``gpugrad.ops`` calls for its products, so that
    ``x @ W``, ``tensordot`` and ``einsum`` follow the same setting as ``gg.linear``."""

    @staticmethod
    @on_operands_device
    def matmul(a, b):
        direct = (a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype and a.dtype in _CUDA_R
                  and _DIRECT_GEMM)
        out = cupy.empty((a.shape[0], b.shape[1]), a.dtype) if direct else None
        return _cublas_matmul(a, b, out, _precision())

    @staticmethod
    @on_operands_device
    def tensordot(a, b, axes=2):
        with compute_type(numpy.result_type(a, b), _precision()):
            return cupy.tensordot(a, b, axes=axes)

    @staticmethod
    @on_operands_device
    def einsum(spec, *operands, **kwargs):
        with compute_type(numpy.result_type(*operands), _precision()):
            return cupy.einsum(spec, *operands, **kwargs)


def _cublas_matmul(a, b, out, precision):
    """out = a @ b through cuBLAS. For float32, TF32 is allowed for this call exactly when
    precision is "high" (CuPy's per-dtype compute type is set around it and restored).
    2-D contiguous operands go straight to cublasGemmEx (:func:`_gemm`), skipping
    cupy.matmul's host-side work (on an H200, W4's step took 1.56 ms instead of 1.80 ms);
    GPUGRAD_DIRECT_GEMM=0 sends every product through cupy.matmul."""
    if _DIRECT_GEMM and out is not None and a.ndim == 2 and b.ndim == 2:
        done = _gemm(a, b, out, precision)
        if done is not None:
            return done
    with compute_type(numpy.result_type(a, b), precision):
        return cupy.matmul(a, b, out=out)
