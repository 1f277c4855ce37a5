"""float32 -> float16 / bfloat16 rounding on bits, for Numba kernels (Numba has no 16-bit float
type on the CPU): the 16-bit copies of weights that the fused optimizer steps write.

Both round to nearest, ties to even, and give exactly what NumPy and ml_dtypes give:

- :func:`f16_bits` is NumPy's ``float32 -> float16`` cast (``npy_floatbits_to_halfbits``):
  overflow to inf, float16 subnormals rounded once, NaN payloads kept (their top 10 bits,
  made non-zero so that a NaN stays a NaN).
- :func:`bf16_bits` is ml_dtypes' ``float32 -> bfloat16`` cast: the top 16 bits after adding
  ``0x7fff`` plus the lowest kept bit; float32 subnormals are kept (not flushed); any NaN
  becomes the quiet NaN ``0x7fc0`` with its sign.

``LOW_KIND`` numbers the 16-bit copy a kernel writes (a compile-time constant there).

>>> import numpy as np
>>> x = np.float32(1.00048828125)        # halfway between two float16 values: to even
>>> hex(f16_bits(x)), hex(np.float16(x).view(np.uint16))
('0x3c00', '0x3c00')
"""
import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = ["LOW_KIND", "low_kind", "f16_bits", "bf16_bits"]

LOW_KIND = {None: 0, "float16": 1, "bfloat16": 2}


def low_kind(low) -> int:
    """The :data:`LOW_KIND` of a 16-bit copy array (0 for None).

    >>> low_kind(np.zeros(2, np.float16)), low_kind(None)
    (1, 0)
    """
    if low is None:
        return 0
    kind = LOW_KIND.get(low.dtype.name)
    if not kind:
        raise TypeError(f"expected a float16 or bfloat16 copy, got dtype {low.dtype}")
    return kind


@intrinsic
def _float32_bits(typingctx, x):
    """The IEEE bits of a float32 as a uint32 (a bit cast, no conversion)."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))
    return types.uint32(types.float32), codegen


@njit(inline="always", cache=True)
def bf16_bits(x):
    """bfloat16 bits (uint16) of float32 ``x``, as ``x.astype(ml_dtypes.bfloat16)``."""
    u = np.int64(_float32_bits(np.float32(x)))
    if (u & 0x7FFFFFFF) > 0x7F800000:                       # NaN: quiet, sign kept
        return np.uint16(((u >> 16) & 0x8000) | 0x7FC0)
    return np.uint16((u + 0x7FFF + ((u >> 16) & 1)) >> 16)


@njit(inline="always", cache=True)
def f16_bits(x):
    """float16 bits (uint16) of float32 ``x``, as ``x.astype(numpy.float16)``."""
    u = np.int64(_float32_bits(np.float32(x)))
    sign = (u >> 16) & 0x8000
    exp = u & 0x7F800000
    if exp >= 0x47800000:                                   # overflow, inf, NaN
        sig = u & 0x007FFFFF
        if exp == 0x7F800000 and sig != 0:
            h = 0x7C00 + (sig >> 13)
            return np.uint16(sign + (h + 1 if h == 0x7C00 else h))
        return np.uint16(sign + 0x7C00)
    if exp <= 0x38000000:                                   # a float16 subnormal, or zero
        if exp < 0x33000000:
            return np.uint16(sign)
        e = exp >> 23
        sig = (0x00800000 + (u & 0x007FFFFF)) >> (113 - e)
        if (sig & 0x3FFF) != 0x1000 or (u & 0x7FF) != 0:
            sig += 0x1000
        return np.uint16(sign + (sig >> 13))
    sig = u & 0x007FFFFF
    if (sig & 0x3FFF) != 0x1000:
        sig += 0x1000
    return np.uint16(sign + (((exp - 0x38000000) >> 13) + (sig >> 13)))
