"""The fused layer of autocast bfloat16 on CUDA: ``act(x @ W + b)`` from the bfloat16 bits of x
and W (one bfloat16 GEMM of :mod:`gpugrad.kernels.cublas_bf16` into float32, then one bias +
activation pass of ``kernels.cuda``'s epilogue kernels) and its backward (dZ + db in one fused
pass, then the two bfloat16 GEMMs), all on the operands' device.

>>> usable_out(numpy.zeros((2, 3), numpy.float16), (2, 3))      # a float16 gradient buffer
False
"""
from __future__ import annotations

import numpy  # noqa: F401 -- the doctests

from . import cublas_bf16 as kb

__all__ = ["linear_forward", "linear_backward", "usable_out"]


def linear_forward(x_bits, W_bits, b, act="identity", negative_slope=0.01):
    """(y, z) of ``act(x @ W + b)`` from the bfloat16 bits of x (N, in) and W (in, out), float32
    bias ``b`` (or None): one bfloat16 GEMM into float32, then one fused bias + activation
    pass; z (the float32 pre-activation) is kept only when the activation's derivative needs
    it (``kernels.needs_preactivation``), as ``kernels.linear_act_forward`` returns."""
    from .activations import needs_preactivation
    with kb._on_device(x_bits):
        z = kb.matmul_bits(x_bits, W_bits)
        return kb.device_ops().bias_act(z, b, act, negative_slope, needs_preactivation(act))


def usable_out(out, shape):
    """True when ``out`` can take a product straight: C-contiguous float32 of ``shape``
    (an optimizer's float16 or strided gradient buffer cannot; the product is then returned
    and the engine casts it).

    >>> usable_out(numpy.zeros((2, 3), numpy.float32), (2, 3)), usable_out(None, (2, 3))
    (True, False)
    """
    return (out is not None and out.dtype == kb._F32 and tuple(out.shape) == tuple(shape)
            and out.flags.c_contiguous)


def linear_backward(dy, x_bits, W_bits, y, z, act="identity", negative_slope=0.01,
                    needs_input_grad=(True, True, True), dW_out=None):
    """float32 (dx, dW, db) of :func:`linear_forward`'s layer for float32 dy: dZ and db in one
    fused pass, dZ rounded to bfloat16, then dx = dZ @ W^T and dW = x^T @ dZ as bfloat16 GEMMs
    (dW straight into ``dW_out`` when that is :func:`usable_out`, else a new array).  None
    where ``needs_input_grad`` is false."""
    need_dx, need_dW, need_db = needs_input_grad
    with kb._on_device(dy):
        dz, db = kb.device_ops().dz_db(dy, y, z, act, negative_slope, need_db)
        if not (need_dx or need_dW):
            return None, None, db
        dz_bits = kb.to_bf16_bits(dz)
        dx = kb.matmul_bits(dz_bits, W_bits.T) if need_dx else None
        if need_dW:
            shape = (x_bits.shape[1], dz_bits.shape[1])
            out = dW_out if usable_out(dW_out, shape) else None
            dW = kb.matmul_bits(x_bits.T, dz_bits, out=out)
        else:
            dW = None
        return dx, dW, db
