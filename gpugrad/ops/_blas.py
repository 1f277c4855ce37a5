"""Which library computes a product (matmul, tensordot, einsum) of given arrays: NumPy itself;
on CuPy, gpugrad.kernels' :class:`Blas` (which follows ``gpugrad.set_matmul_precision``); for
NumPy operands in bfloat16, :class:`_Wide16` (float32 accumulation at BLAS speed).

>>> import numpy as np
>>> _blas(np, np.ones(2)) is np
True
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["_blas", "_einsum_blas", "_product_dtype", "_Wide16"]


def _blas(xp, *arrays):
    """``xp`` for products of ``arrays``, except on CuPy: there gpugrad.kernels' :class:`Blas`,
    whose matmul, tensordot and einsum follow ``gpugrad.set_matmul_precision`` (TF32 at
    "high"); and when a NumPy operand is bfloat16, :class:`_Wide16` (float32 accumulation)
    giving the product in the operands' promoted dtype (:func:`_product_dtype`)."""
    if xp is np:
        for x in arrays:
            if x.dtype.char == "E":
                return _Wide16(_product_dtype(*(a.dtype for a in arrays)))
        return np
    if getattr(xp, "__name__", None) != "cupy":
        return xp
    from ..kernels.cuda_blas import Blas
    return Blas


def _einsum_blas(xp, *arrays):
    """As :func:`_blas`, for einsum: float16 NumPy operands also take :class:`_Wide16`, as
    NumPy's einsum adds float16 in float16 where it sums without BLAS (``'ij->j'`` over 5000
    rows of ones gives 2048)."""
    if xp is np and any(a.dtype.char == "e" for a in arrays):
        return _Wide16(_product_dtype(*(a.dtype for a in arrays)))
    return _blas(xp, *arrays)


@functools.lru_cache(maxsize=None)
def _product_dtype(*dtypes):
    """The dtype of a product of operands of ``dtypes``: the one NumPy's ``multiply`` gives
    them (``result_type``, and float32 for bfloat16 with float16, which have no common dtype
    in ``result_type`` but multiply in float32, as in PyTorch).

    >>> [_product_dtype(np.dtype("float16"), np.dtype(d)).name for d in ("float32", "int8")]
    ['float32', 'float16']

    With ml_dtypes' bfloat16 ``bf``: ``_product_dtype(bf, float32)``, ``(bf, float16)`` and
    ``(bf, float64)`` are float32, float32 and float64 (``tests/test_mixed_dtype_operands.py``).
    """
    out = np.empty(0, dtypes[0])
    for d in dtypes[1:]:
        out = np.multiply(out, np.empty(0, d))
    return out.dtype


class _Wide16:
    """NumPy products with bfloat16 (ml_dtypes') operands -- and einsums with float16 ones --
    as float32 products of the same values, given in ``dtype`` (a 16-bit dtype only when
    every operand has it): float32 accumulation at
    BLAS speed (NumPy has no bfloat16 einsum, and its bfloat16 matmul is slow and returns
    float32); operands of other dtypes stay as they are (a float64 one keeps its precision)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def _call(self, name, *args, **kw):
        wide = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.char in "eE"
                else a for a in args]
        return np.asarray(getattr(np, name)(*wide, **kw)).astype(self.dtype)

    def matmul(self, a, b):
        return self._call("matmul", a, b)

    def tensordot(self, a, b, axes):
        return self._call("tensordot", a, b, axes=axes)

    def einsum(self, *args, **kw):
        return self._call("einsum", *args, **kw)
