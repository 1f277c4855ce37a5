"""The lower-precision ops of ``autocast(dtype="bfloat16")`` on CUDA: bfloat16 GEMMs on the
operands' bfloat16 bits, float32 results (CuPy has no bfloat16 dtype).

``linear``, ``matmul``/``dot`` and ``tensordot`` (through matmul) round their float32 operands
to bfloat16 (as raw bits, :func:`gpugrad.kernels.cublas_bf16.to_bf16_bits`) and multiply them
with cuBLAS's bfloat16 GEMM accumulating in float32; the result stays float32 -- the float32
sums of products of the bfloat16-rounded inputs, which is what cuBLAS computes before it
would round a bfloat16 output.  Backward rounds the float32 gradient to bfloat16 and runs the
same GEMMs for both operands' gradients, returned in the inputs' dtypes (float32, or float16
for float16 operands, which are rounded to bfloat16 straight from float16).  A parameter's
bits are made on first use in the outermost autocast region and reused there
(:func:`gpugrad.autocast_state.low_copy`; never the optimizer's fused 16-bit copies), on the
parameter's device.  ``einsum`` computes the float32 einsum of the bfloat16-rounded operands
(the same values, on the float32 path).

Limits, each a clear error: the GEMM nodes record no graph under ``create_graph`` (wrap the
part that needs higher-order gradients in ``gg.autocast(enabled=False)``; the rounding of
``einsum``'s operands is twice differentiable), and a step that computes any of these cannot
be recorded by ``gpugrad.compile`` yet (:class:`~gpugrad.capture_hooks.CaptureError`: use
float16 autocast or run the step uncompiled).

>>> import gpugrad as gg
>>> with gg.autocast(dtype="bfloat16"):                       # doctest: +SKIP
...     (gg.ones(2, 3, device="cuda") @ gg.ones(3, 4, device="cuda")).dtype.name
'float32'
"""
from __future__ import annotations

from .. import capture_hooks
from ..autocast_state import low_copy
from ..autograd import Function, unbroadcast
from ..handed_buffers import grad_buffer as _grad_buffer
from ._util import as_rows

__all__ = ["linear", "matmul", "tensordot", "round_operands"]


def _kb():
    from ..kernels import cublas_bf16
    return cublas_bf16


_CREATE_GRAPH_ADVICE = (" (autocast bfloat16 on CUDA: its bfloat16 GEMMs record no graph); wrap "
                        "the part that needs higher-order gradients in "
                        "gg.autocast(enabled=False)")


def _refuse_capture():
    """CaptureError while ``gpugrad.compile`` records this thread: the parameters' bfloat16
    bits are made outside any recorded call, which a replay cannot refresh."""
    if capture_hooks.is_recording():
        raise capture_hooks.CaptureError(
            "autocast bfloat16 on CUDA cannot be captured yet; use float16 autocast or run "
            "the step uncompiled")


def _param_bits(t):
    """A parameter's cached bfloat16 bits (None for other tensors: cast in forward)."""
    if t is not None and t.requires_grad and t._node is None:
        kb = _kb()
        return low_copy(t, "bfloat16", make=kb.to_bf16_bits)
    return None


def _layer():
    from ..kernels import bf16_linear
    return bf16_linear


def _swap(x):
    return x.swapaxes(-1, -2)


def _as_dtype(g, dtype):
    return g if g is None or g.dtype == dtype else g.astype(dtype)


class Bf16MatMul(Function):
    """a @ b (both at least 2-D) as a bfloat16 GEMM of their bits, float32 out."""

    create_graph_advice = _CREATE_GRAPH_ADVICE

    def saved_inputs(self, needs):
        return tuple(i for i, other in ((0, 1), (1, 0)) if needs[other])

    def forward(self, a, b, a_bits=None, b_bits=None):
        kb = _kb()
        a_bits = kb.to_bf16_bits(a) if a_bits is None else a_bits
        b_bits = kb.to_bf16_bits(b) if b_bits is None else b_bits
        n = self.needs or (False, False)
        self.saved = (a_bits if n[1] else None, b_bits if n[0] else None)
        self.sa, self.sb, self.da, self.db = a.shape, b.shape, a.dtype, b.dtype
        return kb.matmul_bits(a_bits, b_bits)

    def backward(self, g):
        kb = _kb()
        a_bits, b_bits = self.saved
        g_bits = kb.to_bf16_bits(g)
        ga = gb = None
        if self.needs[0]:
            ga = _as_dtype(unbroadcast(kb.matmul_bits(g_bits, _swap(b_bits)), self.sa), self.da)
        if self.needs[1]:
            if len(self.sb) == 2 and a_bits.ndim > 2:     # a's batch folded into one GEMM
                k, m = a_bits.shape[-1], g_bits.shape[-1]
                gb = kb.matmul_bits(a_bits.reshape(-1, k).T, g_bits.reshape(-1, m))
            else:
                gb = unbroadcast(kb.matmul_bits(_swap(a_bits), g_bits), self.sb)
            gb = _as_dtype(gb, self.db)
        return ga, gb


def matmul(a, b):
    """``a @ b`` of float CUDA tensors as a bfloat16 GEMM (float32 result), NumPy's matmul
    semantics (1-D operands promoted and the added axis dropped); shapes already checked.

    >>> with gg.autocast(dtype="bfloat16"):                     # doctest: +SKIP
    ...     matmul(gg.ones(4, device="cuda"), gg.ones(4, 2, device="cuda")).shape
    (2,)
    """
    _refuse_capture()
    a1, b1 = a.ndim == 1, b.ndim == 1
    a2 = a.reshape(1, -1) if a1 else a
    b2 = b.reshape(-1, 1) if b1 else b
    out = Bf16MatMul.apply(a2, b2, a_bits=_param_bits(a2), b_bits=_param_bits(b2))
    if a1 and b1:
        return out.reshape(())
    if a1:
        return out.reshape(out.shape[:-2] + out.shape[-1:])
    return out.reshape(out.shape[:-1]) if b1 else out


def tensordot(a, b, ax_a, ax_b):
    """``tensordot(a, b, (ax_a, ax_b))`` (axes normalized, sizes checked) as one bfloat16
    matmul of a's free axes by b's: transposes and reshapes around :func:`matmul`."""
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    size = lambda t, axes: int(_prod(t.shape[i] for i in axes))          # noqa: E731
    lhs = a.transpose(free_a + list(ax_a)).reshape(size(a, free_a), size(a, ax_a))
    rhs = b.transpose(list(ax_b) + free_b).reshape(size(b, ax_b), size(b, free_b))
    if lhs.shape[1] == 0:                       # nothing to sum: zeros of the output shape
        return (lhs @ rhs).reshape(tuple(a.shape[i] for i in free_a)
                                   + tuple(b.shape[i] for i in free_b))
    out = matmul(lhs, rhs)
    return out.reshape(tuple(a.shape[i] for i in free_a) + tuple(b.shape[i] for i in free_b))


def _prod(xs):
    p = 1
    for x in xs:
        p *= x
    return p


class Bf16Round(Function):
    """x rounded to bfloat16 values, held in float32; the gradient passes through as the
    gradient of autocast's casts does (a cast back to x's dtype: twice differentiable)."""

    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x):
        kb = _kb()
        self.dt = x.dtype
        return kb.bits_to_float32(kb.to_bf16_bits(x))

    def backward(self, g):
        return (_as_dtype(g, self.dt),)


def round_operands(*tensors):
    """The operands of a product that has no bfloat16 GEMM here (einsum), rounded to
    bfloat16 values in float32.

    >>> with gg.autocast(dtype="bfloat16"):                     # doctest: +SKIP
    ...     round_operands(gg.full((1,), 1.001, device="cuda"))[0].item()
    1.0
    """
    _refuse_capture()
    return tuple(Bf16Round.apply(t) for t in tensors)


class Bf16Linear(Function):
    """act(x @ W + b) with x and W rounded to bfloat16, float32 out; backward's dW can go
    straight into an optimizer's flat gradient buffer (as the float32 ``Linear``'s) when that
    buffer is C-contiguous float32 of W's shape."""

    grad_into = (1,)
    create_graph_advice = _CREATE_GRAPH_ADVICE

    def saved_inputs(self, needs):
        return (0, 1, 2)

    def forward(self, x, W, b=None, activation="identity", negative_slope=0.01, W_bits=None):
        kb = _kb()
        self.act, self.slope, self.has_b = activation, negative_slope, b is not None
        self.lead, self.dx_dtype, self.w_shape = x.shape[:-1], x.dtype, W.shape
        x2 = as_rows(x)
        x_bits = kb.to_bf16_bits(x2)
        W_bits = kb.to_bf16_bits(W) if W_bits is None else W_bits
        y, z = _layer().linear_forward(x_bits, W_bits, b, activation, negative_slope)
        self.saved = (x_bits, W_bits, y, z)
        return y.reshape(self.lead + (W.shape[1],)) if x.ndim != 2 else y

    def backward(self, g):
        x_bits, W_bits, y, z = self.saved
        g2 = as_rows(g)
        needs = (self.needs[0], self.needs[1], self.has_b and self.needs[2])
        layer = _layer()
        dW_out = _grad_buffer(self, 1)   # the optimizer's view, when the engine gave one
        if not layer.usable_out(dW_out, self.w_shape):   # a float16/strided buffer: the
            dW_out = None                                 # engine casts the float32 dW
        dx, dW, db = layer.linear_backward(g2, x_bits, W_bits, y, z, self.act,
                                           self.slope, needs, dW_out)
        if dx is not None:
            dx = _as_dtype(dx.reshape(self.lead + (x_bits.shape[1],)), self.dx_dtype)
        return dx, dW, db if self.has_b else None


def linear(x, W, b, activation, negative_slope):
    """``act(x @ W + b)`` (arguments checked by ``gpugrad.linear``; x at least 1-D) with a
    bfloat16 GEMM; float32 out."""
    _refuse_capture()
    if x.ndim == 1:
        return linear(x.reshape(1, -1), W, b, activation, negative_slope).reshape(-1)
    if b is not None and b.dtype.name != "float32":      # the epilogue runs in float32
        b = b.astype("float32")
    return Bf16Linear.apply(x, W, b, activation=activation, negative_slope=negative_slope,
                            W_bits=_param_bits(W))
