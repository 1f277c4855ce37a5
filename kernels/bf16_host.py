"""A NumPy reference of the device calls of :mod:`gpugrad.kernels.cublas_bf16`, for machines
without a GPU (the NumPy-backed CuPy stand-in of the tests, or plain NumPy arrays).

:class:`HostDevice` reads and writes memory by address exactly as cuBLAS does -- operands
from their pointer, op (N/T) and leading dimension, the float32 result at its pointer with
``ldc`` -- so the shapes, transposes, leading dimensions and batch strides that
``cublas_bf16`` computes are checked by running them; it refuses leading dimensions cuBLAS
would refuse (CUBLAS_STATUS_INVALID_VALUE).  Its cast reads its input by address with the
layout ``cublas_bf16.cast_layout`` gives the kernel, float16 widened by the kernel's bit
operations (:func:`half_to_float32`).  Each call is made on the current device (of the tests'
CuPy stand-in): a cast refuses an array of another device, and ``calls`` records the device
each GEMM ran on.  :func:`bf16_bits` is the cast of ``bf16_cast.cu`` on the host (the same bit
operations; equal to ml_dtypes' cast).

>>> import numpy as np
>>> hex(int(bf16_bits(np.float32(1.00390625))))   # halfway between 1 and 1 + 2**-7: to even
'0x3f80'
"""
from __future__ import annotations

import ctypes

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .cublas_bf16 import CUDA_R_16BF, CUDA_R_32F, OP_N, _elems, _ptr, cast_layout

__all__ = ["bf16_bits", "half_to_float32", "HostDevice"]


def bf16_bits(x):
    """float32 (float16, float64) -> bfloat16 bits (uint16), round to nearest even, once;
    any NaN -> 0x7fc0 with its sign (``gpugrad_bf16_bits`` of bf16_cast.cu, on NumPy arrays).

    >>> bf16_bits(np.array([1.0, -2.0, np.nan], np.float64))
    array([16256, 49152, 32704], dtype=uint16)
    """
    x = np.asarray(x)
    if x.dtype == np.float64:
        x = _round_to_odd(x)
    u = np.asarray(x, np.float32).view(np.uint32)
    nan = (u & 0x7FFFFFFF) > 0x7F800000
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    q = (((u >> 16) & 0x8000) | 0x7FC0).astype(np.uint16)
    return np.where(nan, q, r)


def half_to_float32(h):
    """float16 bits (uint16) -> float32, exactly, by the bit operations of
    ``gpugrad_half_to_float_bits`` in bf16_cast.cu (subnormals normalized, NaN payload kept).

    >>> half_to_float32(np.array([0x3c00, 0x0001, 0xfc00], np.uint16)).tolist()
    [1.0, 5.960464477539063e-08, -inf]
    """
    h = np.asarray(h, np.uint16).astype(np.uint32)
    sign, e, m = (h & 0x8000) << 16, (h >> 10) & 0x1F, h & 0x3FF
    clz = 31 - np.floor(np.log2(np.maximum(m, 1))).astype(np.uint32)      # __clz(m), m > 0
    shift = clz - 21
    sub = sign | ((113 - shift) << 23) | (((m << shift) & 0x3FF) << 13)
    u = np.where(e == 0x1F, sign | 0x7F800000 | (m << 13),
                 np.where(e != 0, sign | ((e + 112) << 23) | (m << 13),
                          np.where(m == 0, sign, sub)))
    return u.astype(np.uint32).view(np.float32)


_CTYPES = {CUDA_R_16BF: (ctypes.c_uint16, np.uint16), CUDA_R_32F: (ctypes.c_float, np.float32)}


def _at(ptr, kind, shape, strides):
    """A NumPy view of memory at address ``ptr``: ``shape`` with element ``strides``."""
    ctype, dtype = _CTYPES[kind]
    span = 1 + sum((n - 1) * s for n, s in zip(shape, strides)) if all(shape) else 1
    buf = np.ctypeslib.as_array((ctype * span).from_address(ptr))
    size = np.dtype(dtype).itemsize
    return as_strided(buf, shape, tuple(s * size for s in strides))


def _operand(ptr, op, rows, cols, ld, kind, what):
    """op(X), a (rows, cols) column-major operand of cuBLAS: X stored (rows, cols) with
    leading dimension ld for op N, (cols, rows) for op T."""
    stored_rows = rows if op == OP_N else cols
    if ld < max(1, stored_rows):
        raise ValueError(f"CUBLAS_STATUS_INVALID_VALUE: {what} = {ld} < max(1, {stored_rows})")
    strides = (1, ld) if op == OP_N else (ld, 1)
    return _at(ptr, kind, (rows, cols), strides)


def _widen(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


class HostDevice:
    """The device calls of ``cublas_bf16`` on host memory: ``xp`` is the array namespace of
    the arrays it makes (NumPy, or the tests' CuPy stand-in).  ``calls`` records each GEMM's
    arguments (name, transa, transb, m, n, k, lda, ldb, ldc[, strides, count])."""

    def __init__(self, xp=np):
        self.xp = xp
        self.calls = []

    def device_id(self, x):
        dev = getattr(x, "device", None)
        return getattr(dev, "id", 0) if dev is not None and not isinstance(dev, str) else 0

    def current(self):
        """The current device of ``xp`` (0 for NumPy)."""
        cuda = getattr(self.xp, "cuda", None)
        return cuda.runtime.getDevice() if cuda is not None else 0

    def _on_current(self, *arrays):
        for x in arrays:
            if self.device_id(x) != self.current():
                raise ValueError(f"HostDevice: an array of cuda:{self.device_id(x)} handed to "
                                 f"a call on cuda:{self.current()} (the current device)")

    def empty(self, shape, dtype):
        return self.xp.empty(shape, dtype)

    def contiguous(self, x):
        return self.xp.ascontiguousarray(x)

    def cast(self, x, out):
        """The cast kernel: element i of x read at ``(i // cols) * s0 + (i % cols) * s1``."""
        self._on_current(x, out)
        n = x.size
        if n:
            cols, s0, s1 = cast_layout(x.shape, _elems(x))
            i = np.arange(n, dtype=np.int64)
            offsets = (i // cols) * s0 + (i % cols) * s1
            src = _gather(_ptr(x), x.dtype, offsets)
            if x.dtype == np.float16:
                src = half_to_float32(src.view(np.uint16))
            _at(_ptr(out), CUDA_R_16BF, (n,), (1,))[...] = bf16_bits(src)

    def gemm(self, transa, transb, m, n, k, A, lda, B, ldb, C, ldc):
        self.calls.append(("gemm", transa, transb, m, n, k, lda, ldb, ldc, self.current()))
        self._gemm(transa, transb, m, n, k, A, lda, 0, B, ldb, 0, C, ldc, 0, 1)

    def gemm_batched(self, transa, transb, m, n, k, A, lda, sa, B, ldb, sb, C, ldc, sc, count):
        self.calls.append(("gemm_batched", transa, transb, m, n, k, lda, ldb, ldc,
                           (sa, sb, sc), count, self.current()))
        self._gemm(transa, transb, m, n, k, A, lda, sa, B, ldb, sb, C, ldc, sc, count)

    def _gemm(self, transa, transb, m, n, k, A, lda, sa, B, ldb, sb, C, ldc, sc, count):
        if ldc < max(1, m):
            raise ValueError(f"CUBLAS_STATUS_INVALID_VALUE: ldc = {ldc} < max(1, {m})")
        for i in range(count):
            a = _operand(A + 2 * i * sa, transa, m, k, lda, CUDA_R_16BF, "lda")
            b = _operand(B + 2 * i * sb, transb, k, n, ldb, CUDA_R_16BF, "ldb")
            c = _at(C + 4 * i * sc, CUDA_R_32F, (m, n), (1, ldc))
            c[...] = (_widen(a) @ _widen(b)).astype(np.float32)

    def bias_act(self, z, b, act, slope, keep_z):
        from .. import kernels
        if b is not None:
            z += b
        if keep_z:
            return kernels.act_forward(z, act, negative_slope=slope), z
        return kernels.act_forward(z, act, out=z, negative_slope=slope), None

    def dz_db(self, dy, y, z, act, slope, need_db):
        from .. import kernels
        dz = dy if act == "identity" else kernels.act_backward(dy, y, z, act, slope)
        return dz, (dz.sum(axis=0) if need_db else None)


def _gather(ptr, dtype, offsets):
    """The elements of ``dtype`` at ``ptr + offsets * itemsize`` (offsets of any sign)."""
    dtype = np.dtype(dtype)
    lo, hi = int(offsets.min()), int(offsets.max())
    span = (hi - lo + 1) * dtype.itemsize
    buf = np.frombuffer((ctypes.c_char * span).from_address(ptr + lo * dtype.itemsize), dtype)
    return buf[offsets - lo]


def _round_to_odd(d):
    """float64 -> float32 truncated, with the last bit set when inexact (NaN kept)."""
    f = d.astype(np.float32)
    over = np.abs(f.astype(np.float64)) > np.abs(d)          # rounded away from zero: step back
    f = np.where(over, np.nextafter(f, np.float32(0)), f)
    inexact = (f.astype(np.float64) != d) & ~np.isnan(d)
    return np.where(inexact, (f.view(np.uint32) | 1).view(np.float32), f)
