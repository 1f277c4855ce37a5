"""bfloat16 GEMMs on CuPy arrays, for ``gpugrad.autocast(dtype="bfloat16")`` on CUDA.

CuPy has no bfloat16 dtype (cupy/cupy#7527), so bfloat16 operands live here as their raw
bits in ``uint16`` arrays: :func:`to_bf16_bits` rounds float32 (float16, float64) to them in
one pass that reads any 2-D-collapsible strides (round to nearest even, NaN kept; the
RawKernel of ``bf16_cast.cu``, memoized per dtype and the device it is loaded on), and
:func:`matmul_bits` multiplies two such arrays with one ``cublasGemmEx`` (A, B:
``CUDA_R_16BF``; C: ``CUDA_R_32F``; ``CUBLAS_COMPUTE_32F``) on CuPy's cuBLAS handle and
current stream -- CuPy's own ``gemmEx`` wrapper, or ``cublas_capture.gemm_ex`` while a CUDA
graph is being captured -- returning float32: the float32 sums of products of the
bfloat16-rounded inputs, what cuBLAS computes before it would round a bfloat16 output.
Batched products (ndim > 2) fold into one GEMM when the right operand is 2-D, else run as one
``cublasGemmStridedBatchedEx``.  ``kernels.bf16_linear`` is the fused layer on top.

Every allocation, cast and GEMM runs with the operands' device current; operands of different
devices are refused.  Row-major products are issued as column-major ``out^T = b^T a^T``
(:func:`gemm_layout`, a pure function of shapes and strides; an operand whose leading
dimension does not fit cuBLAS's 32-bit int is copied first).  The first product on each device
runs a self-check (:func:`self_check`, ``kernels.bf16_selfcheck``); a mismatch raises
RuntimeError then and for every later product there, so a broken binding never gives silent
wrong numbers.  The device calls go through one object (:func:`device_ops`;
``kernels.bf16_host.HostDevice`` is its NumPy reference, reading memory by pointer as cuBLAS).

>>> gemm_layout((4, 3), (3, 1), (3, 5), (5, 1))      # C-contiguous a (4, 3) @ b (3, 5)
(0, 0, 5, 4, 3, 5, 3, 5)
"""
from __future__ import annotations

import functools
import math

import numpy

from .. import backend

__all__ = ["CUDA_R_32F", "CUDA_R_16BF", "COMPUTE_32F", "INT32_MAX", "operand_layout",
           "gemm_layout", "cast_layout", "to_bf16_bits", "bits_to_float32", "matmul_bits",
           "self_check", "device_ops", "use_device_ops", "CudaDevice"]

# library_types.h / cublas_api.h values (CUDA ABI)
CUDA_R_32F, CUDA_R_16BF, COMPUTE_32F = 0, 14, 68
OP_N, OP_T, GEMM_DEFAULT = 0, 1, -1
_U16, _F32 = numpy.dtype(numpy.uint16), numpy.dtype(numpy.float32)
INT32_MAX = 2 ** 31 - 1        # cuBLAS takes m, n, k, leading dimensions, counts as int


# --------------------------------------------------------------------------- layouts (pure)

def operand_layout(rows, cols, s0, s1):
    """(op, ld) presenting a row-major (rows, cols) matrix with element strides (s0, s1) to
    cuBLAS as the column-major (cols, rows) matrix of a transposed product: op N (ld = s0)
    when its rows are contiguous, op T (ld = s1) when its columns are; None when neither,
    or when the leading dimension exceeds :data:`INT32_MAX` (a copy is needed).  Strides of
    size-1 dimensions do not matter.

    >>> operand_layout(3, 5, 5, 1), operand_layout(3, 5, 1, 3), operand_layout(3, 5, 10, 2)
    ((0, 5), (1, 3), None)
    >>> operand_layout(3, 5, 2 ** 31, 1) is None        # ld too large for cuBLAS's int
    True
    """
    if (s1 == 1 or cols <= 1) and (rows <= 1 or s0 >= max(1, cols)):
        ld = s0 if rows > 1 else max(1, cols)
        return (OP_N, ld) if ld <= INT32_MAX else None
    if (s0 == 1 or rows <= 1) and (cols <= 1 or s1 >= max(1, rows)):
        ld = s1 if cols > 1 else max(1, rows)
        return (OP_T, ld) if ld <= INT32_MAX else None
    return None


def gemm_layout(a_shape, a_strides, b_shape, b_strides):
    """The (transa, transb, m, n, k, lda, ldb, ldc) of one cublasGemmEx computing row-major
    ``out = a @ b`` (a: (M, K), b: (K, N), out C-contiguous (M, N); strides in elements) as
    column-major ``out^T = b^T a^T``: cuBLAS's A is ``b`` and its B is ``a``, m = N, n = M,
    ldc = N.  None when an operand is neither row- nor column-contiguous or its leading
    dimension exceeds :data:`INT32_MAX` (copy it first).  ValueError when the inner sizes
    differ or M, N or K exceeds INT32_MAX (every value returned fits a C int).

    >>> gemm_layout((4, 3), (1, 4), (3, 5), (5, 1))      # a a transposed view
    (0, 1, 5, 4, 3, 5, 4, 5)
    """
    (M, K), (K2, N) = a_shape, b_shape
    if K != K2:
        raise ValueError(f"gemm_layout: expected a (M, K) and b (K, N), got {tuple(a_shape)} "
                         f"and {tuple(b_shape)}")
    if max(M, N, K) > INT32_MAX:
        raise ValueError(f"gemm_layout: sizes (M, N, K) = ({M}, {N}, {K}) exceed cuBLAS's "
                         f"32-bit int ({INT32_MAX})")
    lb = operand_layout(K, N, *b_strides)
    la = operand_layout(M, K, *a_strides)
    if la is None or lb is None:
        return None
    return lb[0], la[0], N, M, K, lb[1], la[1], max(1, N)


def _elems(x):
    size = x.dtype.itemsize
    if any(s % size for s in x.strides):
        return None
    return tuple(s // size for s in x.strides)


def _ptr(x):
    data = x.data
    return data.ptr if hasattr(data, "ptr") else x.ctypes.data


def cast_layout(shape, strides):
    """(cols, s0, s1): array ``shape`` with element ``strides`` seen as one
    (size // cols, cols) matrix with element strides (s0, s1), the layout the cast kernel
    reads (element i at ``(i // cols) * s0 + (i % cols) * s1``, in C order); a contiguous
    array is (size, size, 1).  None when its axes do not collapse into two (copy it first)
    or ``strides`` is None.

    >>> cast_layout((4, 3), (3, 1)), cast_layout((4, 3), (1, 4))      # contiguous, a.T
    ((12, 12, 1), (3, 1, 4))
    >>> cast_layout((2, 3, 4), (1, 2, 6)) is None         # three axes: copy first
    True
    """
    if strides is None:
        return None
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    merged = []
    for n, s in dims:
        if merged and merged[-1][1] == s * n:            # the outer axis steps over this one
            merged[-1] = (merged[-1][0] * n, s)
        else:
            merged.append((n, s))
    size = math.prod(shape)
    if not merged or size == 0 or merged == [(size, 1)]:
        return size, size, 1
    if len(merged) == 1:
        return 1, merged[0][1], 0
    if len(merged) == 2:
        return merged[1][0], merged[0][1], merged[1][1]
    return None


def _on_device(x):
    """A context making CuPy array ``x``'s device current (free when it is, or for NumPy)."""
    return backend.on_device_of(x)


# --------------------------------------------------------------------------- device calls

class CudaDevice:
    """The calls :func:`matmul_bits` makes on a GPU: CuPy allocations, the cast kernel, and
    cuBLAS through CuPy's wrappers (``cublas_capture``'s ctypes binding during capture)."""

    def __init__(self):
        import cupy

        from . import cublas_capture, cuda_blas
        self.xp, self._capture, self._cublas = cupy, cublas_capture, cuda_blas._cublas
        self._one, self._zero = numpy.ones(1, _F32), numpy.zeros(1, _F32)

    def device_id(self, x):
        return x.device.id

    def capturing(self):
        return self._capture._local.prepared is not None

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype)

    def contiguous(self, x):
        return self.xp.ascontiguousarray(x)

    def cast(self, x, out):
        """out (C-contiguous uint16) = the bfloat16 bits of x (float16/32/64, with a
        :func:`cast_layout`), one launch on the current device."""
        n = x.size
        if n:
            cols, s0, s1 = (n, n, 1) if x.flags.c_contiguous else cast_layout(x.shape, _elems(x))
            grid = min((n + 255) // 256, 8 * 4096)
            kernel = _cast_kernel(x.dtype.char, self.xp.cuda.runtime.getDevice())
            kernel((grid,), (256,), (x, out, *(numpy.int64(v) for v in (n, cols, s0, s1))))

    def _gemm(self, batched):
        prepared = self._capture._local.prepared is not None
        if batched:
            return (self._capture.gemm_strided_batched_ex if prepared
                    else self._cublas.gemmStridedBatchedEx)
        return self._capture.gemm_ex if prepared else self._cublas.gemmEx

    def gemm(self, transa, transb, m, n, k, A, lda, B, ldb, C, ldc):
        self._gemm(False)(self.xp.cuda.device.get_cublas_handle(), transa, transb, m, n, k,
                          self._one.ctypes.data, A, CUDA_R_16BF, lda, B, CUDA_R_16BF, ldb,
                          self._zero.ctypes.data, C, CUDA_R_32F, ldc, COMPUTE_32F, GEMM_DEFAULT)

    def gemm_batched(self, transa, transb, m, n, k, A, lda, sa, B, ldb, sb, C, ldc, sc, count):
        self._gemm(True)(self.xp.cuda.device.get_cublas_handle(), transa, transb, m, n, k,
                         self._one.ctypes.data, A, CUDA_R_16BF, lda, sa, B, CUDA_R_16BF, ldb,
                         sb, self._zero.ctypes.data, C, CUDA_R_32F, ldc, sc, count,
                         COMPUTE_32F, GEMM_DEFAULT)

    def bias_act(self, z, b, act, slope, keep_z):
        from . import cuda
        from .activations import CODE, IDENTITY
        key = (CODE[act], _F32, self.xp.cuda.runtime.getDevice())   # loaded on the current
        s = numpy.float32(slope)
        if keep_z:
            y = self.xp.empty_like(z)
            cuda._forward_kernel("bias_keep_z" if b is not None else "act", *key)(
                *((b, s, z, y) if b is not None else (z, s, y)))
            return y, z
        if b is not None:
            cuda._forward_kernel("bias_inplace", *key)(b, s, z)
        elif key[0] != IDENTITY:
            cuda._forward_kernel("act", *key)(z, s, z)
        return z, None

    def dz_db(self, dy, y, z, act, slope, need_db):
        from . import cuda
        from .activations import CODE, IDENTITY
        code, dy = CODE[act], self.xp.ascontiguousarray(dy)
        if code == IDENTITY:
            return dy, (cuda._dz_db(dy, dy, dy, None, code, 0.0, True) if need_db else None)
        y = self.xp.ascontiguousarray(y if y is not None else z)
        z = self.xp.ascontiguousarray(z) if z is not None else y
        dz = self.xp.empty_like(dy)
        return dz, cuda._dz_db(dy, y, z, dz, code, slope, need_db)


_CAST_TYPES = {"e": "gpugrad_half", "f": "float", "d": "double"}


@functools.lru_cache(maxsize=None)
def _cast_kernel(char, device):
    """The cast kernel for input dtype ``char``, loaded on ``device`` (the current one: a
    module is loaded on the device current when it is first launched)."""
    import cupy

    from .cuda_sources import source
    name = f"gpugrad_bf16_cast<{_CAST_TYPES[char]}>"
    module = cupy.RawModule(code=source("bf16_cast.cu"), options=("--std=c++14",),
                            name_expressions=[name])
    return module.get_function(name)


_ops = None
_checked = {}          # device id -> None (passed) or the RuntimeError of its mismatch


def device_ops():
    """The object whose calls :func:`matmul_bits` makes (a :class:`CudaDevice`, built on
    first use, unless :func:`use_device_ops` installed another)."""
    global _ops
    if _ops is None:
        _ops = CudaDevice()
    return _ops


def use_device_ops(ops):
    """Install ``ops`` (e.g. ``kernels.bf16_host.HostDevice``; None: the GPU again) as the
    device calls, forgetting every self-check; returns the previous object."""
    global _ops
    prev, _ops = _ops, ops
    _checked.clear()
    return prev


# --------------------------------------------------------------------------- casts

def to_bf16_bits(x):
    """The bfloat16 bits (a C-contiguous uint16 array of x's shape) of float32 (or float16 /
    float64) array ``x``: round to nearest even, NaN kept as the quiet NaN 0x7fc0 with its
    sign, as ml_dtypes rounds; made on x's device in one pass (x is copied first only when
    its axes do not collapse into a strided matrix, :func:`cast_layout`).  TypeError for
    other dtypes.

    >>> to_bf16_bits(cupy.ones(2, cupy.float32))          # doctest: +SKIP
    array([16256, 16256], dtype=uint16)
    """
    if x.dtype.char not in "efd":
        raise TypeError(f"to_bf16_bits: expected a float16/float32/float64 array, got {x.dtype}")
    ops = device_ops()
    with _on_device(x):
        if not x.flags.c_contiguous and cast_layout(x.shape, _elems(x)) is None:
            x = ops.contiguous(x)
        out = ops.empty(x.shape, _U16)
        ops.cast(x, out)
        return out


def bits_to_float32(bits):
    """The float32 values (exact) of bfloat16 bits: ``bits << 16`` seen as float32.

    >>> bits_to_float32(numpy.array([0x3f80, 0xc000], numpy.uint16))
    array([ 1., -2.], dtype=float32)
    """
    with _on_device(bits):
        return (bits.astype(numpy.uint32) << 16).view(_F32)


# --------------------------------------------------------------------------- products

def _matrix(ops, x):
    """``x`` (2-D, or a stack) with strides cuBLAS can read: itself, or a contiguous copy."""
    st = _elems(x)
    if st is not None and operand_layout(*x.shape[-2:], *st[-2:]) is not None and all(
            s >= 0 for s in st):
        return x, st
    x = ops.contiguous(x)
    return x, _elems(x)


def _batch_stride(x, batch):
    """The one element stride between the matrices of ``x`` broadcast to ``batch``, or None
    when its batch axes do not collapse into one stride."""
    if x.ndim == 2:
        return 0
    st, sh = _elems(x), x.shape[:-2]
    lead = (1,) * (len(batch) - len(sh)) + tuple(sh)
    strides = (0,) * (len(batch) - len(sh)) + tuple(st[:-2])
    strides = [0 if n == 1 else s for n, s in zip(lead, strides)]
    if all(s == 0 for s in strides):
        return 0
    for i in range(len(batch) - 1):
        if strides[i] != strides[i + 1] * batch[i + 1]:
            return None
    return strides[-1]


def _gemm_2d(ops, a, b, out):
    a, sa = _matrix(ops, a)
    b, sb = _matrix(ops, b)
    ta, tb, m, n, k, lda, ldb, ldc = gemm_layout(a.shape, sa, b.shape, sb)
    ops.gemm(ta, tb, m, n, k, _ptr(b), lda, _ptr(a), ldb, _ptr(out), ldc)


def _matmul(ops, a, b, out=None):
    """matmul_bits without the self-check."""
    if a.dtype != _U16 or b.dtype != _U16 or a.ndim < 2 or b.ndim < 2:
        raise TypeError(f"matmul_bits: expected uint16 bfloat16 bits of at least 2 dimensions, "
                        f"got {a.dtype} {tuple(a.shape)} and {b.dtype} {tuple(b.shape)}")
    (m, k), (k2, n) = a.shape[-2:], b.shape[-2:]
    if k != k2:
        raise ValueError(f"matmul_bits: expected a (..., m, k) and b (..., k, n), got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)} ({k} != {k2})")
    batch = tuple(numpy.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2])))
    shape = batch + (m, n)
    if out is None:
        out = ops.empty(shape, _F32)
    elif tuple(out.shape) != shape or out.dtype != _F32 or not out.flags.c_contiguous:
        raise ValueError(f"matmul_bits: expected out as a C-contiguous float32 array of shape "
                         f"{shape}, got {out.dtype} {tuple(out.shape)}")
    if out.size == 0:
        return out
    if k == 0:
        out.fill(0)
        return out
    if max(m, n, k, math.prod(batch)) > INT32_MAX:
        raise ValueError(f"matmul_bits: sizes (m, n, k) = ({m}, {n}, {k}) or batch count "
                         f"{math.prod(batch)} exceed cuBLAS's 32-bit int ({INT32_MAX})")
    if not batch:
        _gemm_2d(ops, a, b, out)
        return out
    count = math.prod(batch)
    if b.ndim == 2 and a.flags.c_contiguous and a.shape[:-2] == batch:   # fold a's batch into rows
        _gemm_2d(ops, a.reshape(-1, k), b, out.reshape(-1, n))
        return out
    ops_ab = []
    for x, r, c in ((a, m, k), (b, k, n)):
        x, _ = _matrix(ops, x)
        s = _batch_stride(x, batch)
        if s is None:
            x = ops.contiguous(ops.xp.broadcast_to(x, batch + (r, c)))
            s = r * c
        ops_ab.append((x, _elems(x)[-2:], s))
    (a, sa, stride_a), (b, sb, stride_b) = ops_ab
    ta, tb, mm, nn, kk, lda, ldb, ldc = gemm_layout((m, k), sa, (k, n), sb)
    ops.gemm_batched(ta, tb, mm, nn, kk, _ptr(b), lda, stride_b, _ptr(a), ldb, stride_a,
                     _ptr(out), ldc, m * n, count)
    return out


def matmul_bits(a, b, out=None):
    """float32 ``a @ b`` of bfloat16 bits (uint16 arrays of at least 2 dimensions, any
    strides; batch axes broadcast as in NumPy), accumulated in float32 by cuBLAS on the
    operands' device; into ``out`` (C-contiguous float32) when given.  TypeError for other
    dtypes, ValueError for mismatched shapes or operands on different devices; RuntimeError
    when this device's self-check found a mismatch.

    >>> matmul_bits(to_bf16_bits(x), to_bf16_bits(w)).dtype   # doctest: +SKIP
    dtype('float32')
    """
    ops = device_ops()
    dev = ops.device_id(a)
    for what, x in (("b", b), ("out", out)):
        if x is not None and ops.device_id(x) != dev:
            raise ValueError(f"matmul_bits: expected {what} on cuda:{dev} like a, got an "
                             f"array on cuda:{ops.device_id(x)}")
    with _on_device(a):
        if dev not in _checked:
            if getattr(ops, "capturing", lambda: False)():
                raise RuntimeError(f"the bfloat16 GEMM self-check of cuda:{dev} cannot run "
                                   f"during CUDA-graph capture (it reads results on the "
                                   f"host); run one product eagerly under autocast bfloat16 "
                                   f"before capturing")
            self_check(ops, dev)
        if _checked[dev] is not None:
            raise _checked[dev]
        return _matmul(ops, a, b, out)


def self_check(ops, device):
    """Run ``kernels.bf16_selfcheck.run`` on ``device`` (current) and record the verdict for
    :func:`matmul_bits`: None when it passed, the RuntimeError of a mismatch (raised now and
    by every later product there).  Any other error (out of memory, a failed launch) is
    raised as it is and not recorded: the next product checks again."""
    from . import bf16_selfcheck
    try:
        bf16_selfcheck.run(ops, device, to_bf16_bits, _matmul)
    except bf16_selfcheck.Mismatch as exc:
        _checked[device] = exc
        raise
    except Exception as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"(raised by the bfloat16 GEMM self-check on cuda:{device}; not "
                         f"remembered: the next bfloat16 product checks again)")
        raise
    _checked[device] = None
