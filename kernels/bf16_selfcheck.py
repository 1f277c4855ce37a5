"""The self-check of autocast bfloat16's device calls (:mod:`gpugrad.kernels.cublas_bf16`), run
once per device before its first bfloat16 product.

It checks what a broken binding or kernel would get wrong, against references made on the
host from the float32 inputs alone (never from the device's own output):

* the casts -- float32 (random values and the special ones: NaN, inf, ties, subnormals),
  float16, float64, and a strided (transposed) float32 view -- must give exactly the bits of
  ``kernels.bf16_host.bf16_bits``;
* the products, in every operand layout cuBLAS is handed -- (N, N), (T, T), and the mixed
  (N, T) and (T, N) -- and as strided and stride-0 (broadcast) batches, must match float64
  products of the same bfloat16-rounded inputs to :data:`SELF_CHECK_RTOL` of sum |a||b|.

A wrong answer raises :class:`Mismatch` (a RuntimeError, remembered by ``cublas_bf16`` as the
device's verdict); anything else the device raises on the way (out of memory) passes through
untouched, so the caller can try again.

>>> issubclass(Mismatch, RuntimeError)
True
"""
from __future__ import annotations

import numpy

from .bf16_host import _widen, bf16_bits

__all__ = ["Mismatch", "run", "SELF_CHECK_RTOL"]

SELF_CHECK_RTOL = 1e-5
_ADVICE = "autocast bfloat16 cannot run here (use float16)"


class Mismatch(RuntimeError):
    """The device's bfloat16 cast or GEMM gave a wrong answer."""


def _host(x):
    return x.get() if hasattr(x, "get") else numpy.asarray(x)


def _specials():
    """float32 values whose rounding a careless cast gets wrong."""
    u = numpy.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7F800000, 0xFF800000,
                     0x7F7FFFFF, 0x00000001, 0x80000001, 0x3F808000, 0x3F818000, 0x3F807FFF,
                     0x00800000, 0x80000000, 0], numpy.uint32)
    return u.view(numpy.float32)


def _check_casts(xp, device, to_bits, a, b):
    rng = numpy.random.default_rng(8)
    wide = rng.standard_normal(256) * 1e3
    cases = {"float32": a[0], "float32 specials (NaN, inf, ties, subnormals)": _specials(),
             "float16": numpy.concatenate([wide.astype(numpy.float16), numpy.array(
                 [6e-8, -3e-5, 65504, numpy.inf, numpy.nan], numpy.float16)]),
             "float64": wide}
    for what, x in cases.items():
        _compare_bits(device, what, to_bits(xp.asarray(x)), bf16_bits(x))
    _compare_bits(device, "a transposed float32 view", to_bits(xp.asarray(b).T), bf16_bits(b.T))


def _compare_bits(device, what, got, want):
    got = _host(got)
    if got.shape == want.shape and numpy.array_equal(got, want):
        return
    if got.shape != want.shape:
        detail = f"shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    else:
        bad = numpy.flatnonzero(got.ravel() != want.ravel())
        i = bad[0]
        detail = (f"{bad.size} of {want.size} values differ (element {i}: got 0x"
                  f"{int(got.ravel()[i]):04x}, expected 0x{int(want.ravel()[i]):04x})")
    raise Mismatch(f"bfloat16 cast self-check on cuda:{device} failed for {what}: {detail}, "
                   f"expected the bits of round-to-nearest-even; {_ADVICE}")


def run(ops, device, to_bits, matmul):
    """Check the casts and products of ``ops`` on ``device`` (the current one) through
    ``to_bits`` (``cublas_bf16.to_bf16_bits``) and ``matmul`` (``cublas_bf16._matmul``,
    taking ``(ops, a_bits, b_bits)``).  Raises :class:`Mismatch` naming the first wrong case;
    lets any other error through."""
    rng = numpy.random.default_rng(7)
    a = rng.standard_normal((2, 64, 96)).astype(numpy.float32)
    b = rng.standard_normal((96, 80)).astype(numpy.float32)
    xp = ops.xp
    _check_casts(xp, device, to_bits, a, b)
    ha, hb = bf16_bits(a), bf16_bits(b)                 # host bits: the reference's inputs
    ra, rb = _widen(ha), _widen(hb)
    da, db = xp.asarray(ha), xp.asarray(hb)
    db_t = xp.asarray(numpy.ascontiguousarray(hb.T))    # b stored transposed: db_t.T is op T
    da_t = xp.asarray(numpy.ascontiguousarray(ha[0].T))
    cases = {"a @ b (N, N)": (da[0], db, ra[0] @ rb),
             "a @ b, both column-major (T, T)": (da[1].T.copy().T, db.T.copy().T, ra[1] @ rb),
             "a @ b with b a transposed view (N, T)": (da[1], db_t.T, ra[1] @ rb),
             "a @ b with a a transposed view (T, N)": (da_t.T, db, ra[0] @ rb),
             "stacked a @ stacked b (strided batch)": (da, xp.stack([db, db]), ra @ rb),
             "stacked a @ broadcast b (stride-0 batch)": (
                 da, xp.broadcast_to(db, (2,) + db.shape), ra @ rb)}
    for what, (x, y, ref) in cases.items():
        got = _host(matmul(ops, x, y)).astype(numpy.float64)
        scale = numpy.abs(_widen(_host(x))) @ numpy.abs(_widen(_host(y))) + 1e-30
        err = float(numpy.max(numpy.abs(got - ref) / scale)) if got.shape == ref.shape \
            else numpy.inf
        if not err <= SELF_CHECK_RTOL:
            raise Mismatch(
                f"bfloat16 GEMM self-check on cuda:{device} failed for {what}: cublasGemmEx "
                f"(CUDA_R_16BF inputs, float32 output) is off by {err:.3g} of sum |a||b| "
                f"(shape {tuple(got.shape)}), expected <= {SELF_CHECK_RTOL:g} against a "
                f"float64 product of the same bfloat16-rounded inputs; {_ADVICE}")
