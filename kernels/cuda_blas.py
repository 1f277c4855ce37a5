"""GEMMs on CuPy arrays, and the device guard of every ``kernels.cuda`` entry point.

``_gemm`` calls cublasGemmEx directly for 2-D contiguous operands (row-major products as the
transposed column-major ones), skipping cupy.matmul's host work; ``compute_type`` sets CuPy's
float32/complex64 compute type (FP32 or TF32) for one call; :class:`Blas` is what
``gpugrad.ops`` calls for matmul, tensordot and einsum on CUDA, at gpugrad's matmul precision.

During CUDA-graph capture (between ``cublas_capture.prepare_capture`` and ``end_capture``)
CuPy refuses its cuBLAS wrappers, so every GEMM goes through ``cublas_capture``'s ctypes
binding with the same arguments: 2-D products as one cublasGemmEx (whatever
GPUGRAD_DIRECT_GEMM says), other float32/float64 matmuls and tensordots rewritten as 2-D or
strided-batched GEMMs over contiguous copies; where CuPy's own product would call cuBLAS
(float16, complex, einsum contractions) a CaptureError names the product.
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

from ..capture_hooks import CaptureError
from . import cublas_capture as _capture


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
    is F-contiguous (op T, ld k); likewise for a. Host pointers to alpha = 1, beta = 0.
    While a capture is prepared, the same arguments go to ``cublas_capture.gemm_ex``."""
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
    gemm = _cublas.gemmEx if _capture._local.prepared is None else _capture.gemm_ex
    gemm(cupy.cuda.device.get_cublas_handle(), tb, ta, n, m, k,
         one.ctypes.data, b.data.ptr, r, ldb, a.data.ptr, r, lda,
         zero.ctypes.data, out.data.ptr, r, n, _COMPUTE[dt, precision], _GEMM_DEFAULT)
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
        if _capture._local.prepared is not None:
            return _captured_tensordot(a, b, axes, _precision())
        with compute_type(numpy.result_type(a, b), _precision()):
            return cupy.tensordot(a, b, axes=axes)

    @staticmethod
    @on_operands_device
    def einsum(spec, *operands, **kwargs):
        with compute_type(numpy.result_type(*operands), _precision()):
            if _capture._local.prepared is None:
                return cupy.einsum(spec, *operands, **kwargs)
            return _cupy_in_capture(f"einsum {spec!r}", operands,
                                    lambda: cupy.einsum(spec, *operands, **kwargs))


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
    if _capture._local.prepared is not None:
        return _captured_matmul(a, b, out, precision)
    with compute_type(numpy.result_type(a, b), precision):
        return cupy.matmul(a, b, out=out)


# ------------------------------------------------------- products during CUDA-graph capture

def _captured_matmul(a, b, out, precision):
    """a @ b with cupy.matmul's semantics (1-D operands promoted, batch axes broadcast) as
    cuBLAS calls that work during capture: one 2-D GEMM when b is 2-D (a's batch folded into
    its rows), else one strided-batched GEMM over contiguous broadcast copies. Raises
    ValueError for bad shapes. Operands are cast to their result type; when that is not
    float32/float64 the product is CuPy's (integers: its own kernels), and CuPy's refusal of
    cuBLAS (float16, complex) becomes a CaptureError naming the product."""
    dt = numpy.result_type(a.dtype, b.dtype)
    if dt not in _CUDA_R:
        return _cupy_in_capture("matmul", (a, b), lambda: cupy.matmul(a, b, out=out))
    a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: expected operands of at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    (m, k), (k2, n) = a2.shape[-2:], b2.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match ({k} != {k2})")
    batch = numpy.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    shape = batch + (m, n)
    fits = (out is not None and out.shape == shape and out.dtype == dt
            and out.flags.c_contiguous and a.ndim > 1 and b.ndim > 1)
    res = out if fits else cupy.empty(shape, dt)
    if res.size and not k:
        res.fill(0)
    elif res.size and b2.ndim == 2:
        rows = _contiguous(a2) if a2.ndim == 2 else cupy.ascontiguousarray(a2).reshape(-1, k)
        if _gemm(rows, _contiguous(b2), res.reshape(-1, n), precision) is None:
            raise CaptureError(f"matmul of {a.shape} and {b.shape}: a GEMM of {rows.shape[0]} "
                               f"rows does not fit cuBLAS's 32-bit sizes during capture")
    elif res.size:
        stack = lambda x, r, c: cupy.ascontiguousarray(                          # noqa: E731
            cupy.broadcast_to(x, batch + (r, c))).reshape(-1, r, c)
        _gemm_batched(stack(a2, m, k), stack(b2, k, n), res.reshape(-1, m, n), precision)
    res = res[..., 0, :] if a.ndim == 1 else res
    res = res[..., 0] if b.ndim == 1 else res
    if out is None or res is out:
        return res
    out[...] = res
    return out


def _cupy_in_capture(what, operands, run):
    """run(), a CuPy product during capture: CuPy's refusal of its cuBLAS wrappers there
    (NotImplementedError) becomes a CaptureError naming the product."""
    try:
        return run()
    except NotImplementedError as e:
        shapes = ", ".join(f"{o.dtype} {o.shape}" for o in operands)
        raise CaptureError(f"{what} of {shapes} calls cuBLAS through CuPy, which CuPy refuses "
                           f"during CUDA-graph capture ({e}); gpugrad captures float32 and "
                           f"float64 matmul and tensordot through its own cuBLAS calls") from e


def _contiguous(x):
    return x if x.flags.c_contiguous or x.flags.f_contiguous else cupy.ascontiguousarray(x)


def _gemm_batched(a, b, out, precision):
    """out[i] = a[i] @ b[i] for C-contiguous a (B, m, k), b (B, k, n), out (B, m, n): one
    cublasGemmStridedBatchedEx, row-major as the transposed column-major product (as _gemm)."""
    count, m, k = a.shape
    n = b.shape[2]
    if max(count, m, n, k) >= 2 ** 31:
        raise CaptureError(f"batched matmul of {a.shape} and {b.shape} does not fit cuBLAS's "
                           f"32-bit sizes during capture")
    one, zero = _SCALARS[a.dtype]
    r = _CUDA_R[a.dtype]
    _capture.gemm_strided_batched_ex(
        cupy.cuda.device.get_cublas_handle(), _OP_N, _OP_N, n, m, k, one.ctypes.data,
        b.data.ptr, r, n, k * n, a.data.ptr, r, k, m * k, zero.ctypes.data, out.data.ptr, r, n,
        m * n, count, _COMPUTE[a.dtype, precision], _GEMM_DEFAULT)


def _captured_tensordot(a, b, axes, precision):
    """cupy.tensordot(a, b, axes) as one (M, K) @ (K, N) product of transposed, reshaped
    copies, through :func:`_captured_matmul`."""
    if isinstance(axes, int):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, int) else list(x) for x in axes)
    axes_a = [i % a.ndim for i in axes_a] if a.ndim else axes_a
    axes_b = [i % b.ndim for i in axes_b] if b.ndim else axes_b
    if [a.shape[i] for i in axes_a] != [b.shape[i] for i in axes_b]:
        raise ValueError(f"tensordot: shapes {a.shape} and {b.shape} do not match on axes "
                         f"{axes_a} and {axes_b}")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    size = lambda x, axes: int(numpy.prod([x.shape[i] for i in axes]))   # noqa: E731
    lhs = a.transpose(free_a + axes_a).reshape(size(a, free_a), size(a, axes_a))
    rhs = b.transpose(axes_b + free_b).reshape(size(b, axes_b), size(b, free_b))
    res = _captured_matmul(lhs, rhs, None, precision)
    return res.reshape([a.shape[i] for i in free_a] + [b.shape[i] for i in free_b])
