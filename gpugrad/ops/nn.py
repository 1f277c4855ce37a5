"""Neural-network ops: the fused linear layer, mse and binary cross-entropy losses, one-hot,
dropout (the softmax family and its losses, cross_entropy and nll_loss, are in softmax.py).

``linear(x, W, b, activation)`` is one graph node whose forward and backward run through
the fused kernels of :mod:`gpugrad.kernels` (GEMM, then bias + activation in one pass;
backward: dZ and the bias gradient in one pass, then two GEMMs).  ``W`` has shape
(in_features, out_features): the layer is ``act(x @ W + b)``.

Every op here is twice differentiable.  Under ``create_graph=True`` the fused layer's backward
is a composite of differentiable ops (matmul, the activation's derivative, a sum for the bias)
on the input Tensors, with the pre-activation recomputed from them; the fused kernels stay the
path of plain backward.  Complex input is a TypeError: none of these is defined on it.

>>> import gpugrad as gg
>>> x, W, b = gg.randn(4, 3), gg.randn(3, 2, requires_grad=True), gg.zeros(2, requires_grad=True)
>>> gg.linear(x, W, b, activation="relu").shape
(4, 2)
"""
from __future__ import annotations

import functools

import numpy as np

from .. import kernels
from ..autograd import Function
from ..handed_buffers import grad_buffer as _grad_buffer
from ..tensor import Tensor
from ._util import as_rows, tensor_arg, xp_of
from .reduce import _wide, low_precision
from ._util import no_complex
from .logits import _check_reduction, real_float
from ..autocast_state import _state as _amp, to_float32 as _amp_f32, lower as _amp_lower
from ..autocast_state import cuda_bf16 as _amp_cuda_bf16

__all__ = ["linear", "mse_loss", "binary_cross_entropy_with_logits", "one_hot", "dropout"]


# ================================================================ fused linear layer
class Linear(Function):
    """act(x @ W + b) as one node; backward reads the output (or the pre-activation) and can
    write dW straight into an optimizer's flat gradient buffer.  Under create_graph it is a
    composite of differentiable ops on the inputs x, W, b (see :meth:`graph_backward`)."""

    grad_into = (1,)
    twice_differentiable = True

    def saved_inputs(self, needs):
        return (0, 1, 2)

    def forward(self, x, W, b=None, activation="identity", negative_slope=0.01):
        self.act, self.slope = activation, negative_slope
        self.has_b = b is not None
        lead = x.shape[:-1]
        x2 = as_rows(x)
        y, z = kernels.linear_act_forward(x2, W, b, activation, negative_slope=negative_slope)
        self.lead = lead
        self.saved = (x2, W, y, z, x, b)  # x and b for graph_backward
        return y.reshape(lead + (W.shape[1],)) if x.ndim != 2 else y

    def backward(self, g):
        x2, W, y, z, x, b = self.saved
        if isinstance(g, Tensor):
            return self.graph_backward(g, x, W, b)
        g2 = as_rows(g)
        needs = (self.needs[0], self.needs[1], self.has_b and self.needs[2])
        dW_out = _grad_buffer(self, 1)   # the optimizer's view, when the engine gave one
        dx, dW, db = kernels.linear_act_backward(g2, x2, W, y, z, self.act,
                                                 negative_slope=self.slope,
                                                 needs_input_grad=needs, dW_out=dW_out)
        if dx is not None and len(self.lead) != 1:
            dx = dx.reshape(self.lead + (x2.shape[1],))
        return (dx, dW, db) if self.has_b else (dx, dW, None)

    def graph_backward(self, g, x, W, b):
        """The backward as differentiable ops on Tensors (create_graph): z = x @ W + b is
        recomputed from the inputs, dz = g * act'(z), then two matmuls and a sum."""
        flat = x.ndim != 2
        x2 = as_rows(x)
        z = x2 @ W if b is None else x2 @ W + b
        dz = g.reshape(z.shape) if flat else g
        if self.act != "identity":
            dz = dz * act_derivative(self.act, z, self.slope)
        dx = dz @ W.T if self.needs[0] else None
        dx = dx.reshape(x.shape) if flat and dx is not None else dx
        dW = x2.T @ dz if self.needs[1] else None
        db = dz.sum(axis=0) if b is not None and self.needs[2] else None
        return dx, dW, db


def act_derivative(act, z, negative_slope=0.01):
    """act'(z) for a fused activation, written with differentiable ops on Tensor ``z`` (the
    kernels' backward formulas, in :mod:`gpugrad.kernels.reference`, as a graph)."""
    from .unary import _gelu_tanh_vjp, _gelu_vjp, sigmoid, tanh

    if act in ("relu", "leaky_relu"):
        pos = (z > 0).astype(z.dtype)  # piecewise constant: no derivative of its own
        return pos if act == "relu" else pos * (1 - negative_slope) + negative_slope
    if act == "sigmoid":
        s = sigmoid(z)
        return s * (1 - s)
    if act == "tanh":
        t = tanh(z)
        return 1 - t * t
    if act == "silu":
        s = sigmoid(z)
        return s * (1 + z * (1 - s))
    if act in ("gelu", "gelu_tanh"):
        # Phi(z) + z phi(z) / s + 2 z s (1 - s) u' (s = sigmoid(2u)): the gelu ops' own vjps,
        # free of the 1 + erf / 1 + tanh cancellation for z < 0
        vjp = _gelu_vjp if act == "gelu" else _gelu_tanh_vjp
        return vjp(xp_of(z), 1.0, z, None)
    raise ValueError(f"unknown activation {act!r}")


def linear(x, W, b=None, activation=None, negative_slope=0.01):
    """``act(x @ W + b)`` as one fused, differentiable op; W is (in_features, out_features).

    ``activation``: None/"identity", "relu", "leaky_relu", "gelu", "gelu_tanh", "silu",
    "sigmoid" or "tanh".

    >>> import gpugrad as gg
    >>> gg.linear(gg.ones(2, 3), gg.ones(3, 4), gg.zeros(4)).tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
    """
    x, W = tensor_arg(x, "x"), tensor_arg(W, "W")
    if x.dtype.kind == "c" or W.dtype.kind == "c":
        no_complex(x if x.dtype.kind == "c" else W, "linear")
    act = activation or "identity"
    if act not in kernels.ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; expected one of {kernels.ACTIVATIONS}")
    if x.ndim < 1 or W.ndim != 2 or x.shape[-1] != W.shape[0]:
        raise ValueError(f"linear: expected x of shape (..., {W.shape[0] if W.ndim == 2 else 'k'})"
                         f" and W of shape (k, out), got x {x.shape} and W {W.shape}")
    if b is not None:
        b = tensor_arg(b, "b")
        if b.shape != (W.shape[1],):
            raise ValueError(f"linear: expected b of shape ({W.shape[1]},), got {b.shape}")
    if _amp.dtype is not None:  # autocast: a lower-precision op
        if _amp_cuda_bf16(x, W):  # bfloat16 on CUDA: a bfloat16 GEMM, float32 out
            from . import bf16_cuda
            return bf16_cuda.linear(x, W, b, act, negative_slope)
        x, W, b = _amp_lower(x, W, b)
    if x.ndim == 1:
        return linear(x.reshape(1, -1), W, b, activation, negative_slope).reshape(-1)
    if x.dtype != W.dtype:
        raise TypeError(f"linear: expected x and W of one dtype, got {x.dtype.name} and "
                        f"{W.dtype.name}")
    return Linear.apply(x, W, b, activation=act, negative_slope=negative_slope)


# ================================================================ losses
# (cross_entropy and nll_loss are with the softmax family, in softmax.py)
def _reduce(loss, reduction):
    """``loss`` reduced; the mean of no elements is NaN (PyTorch's 0/0), its gradient empty."""
    _check_reduction(reduction)
    if reduction == "mean":
        if not loss.size:  # no elements: 0/0, NaN as PyTorch's (without NumPy's warning)
            return loss.sum() * float("nan")
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (input - target)**2, reduced.

    >>> import gpugrad as gg
    >>> gg.mse_loss(gg.tensor([1.0, 3.0]), gg.tensor([1.0, 1.0])).item()
    2.0
    """
    input, target = tensor_arg(input, "input"), tensor_arg(target, "target")
    if _amp.dtype is not None:  # autocast: a float32 op
        input, target = _amp_f32(input), _amp_f32(target)
    for t in (input, target):
        no_complex(t, "mse_loss")
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: expected input and target of one shape, got {input.shape} "
                         f"and {target.shape}")
    dt = np.result_type(input.dtype, target.dtype)
    if low_precision(dt):
        return mse_loss(input.astype(np.float32), target.astype(np.float32),
                        reduction).astype(dt)
    d = input - target
    return _reduce(d * d, reduction)


def binary_cross_entropy_with_logits(logits, target, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable expression.

    loss = (1 - t) * x + (1 + (pw - 1) * t) * softplus(-x)  (PyTorch's formula)

    >>> import gpugrad as gg
    >>> round(gg.binary_cross_entropy_with_logits(gg.tensor([0.0]), gg.tensor([1.0])).item(), 4)
    0.6931
    """
    from .activation import softplus

    name = "binary_cross_entropy_with_logits"
    logits, target = real_float(logits, name), no_complex(tensor_arg(target, "target"), name)
    if _amp.dtype is not None:  # autocast: a float32 op
        logits = _amp_f32(logits)
    if logits.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: expected logits and target of one "
                         f"shape, got {logits.shape} and {target.shape}")
    if pos_weight is not None:      # it may scale the loss, never change its shape (PyTorch)
        pw_shape = tuple(getattr(pos_weight, "shape", np.shape(pos_weight)))
        try:
            fits = np.broadcast_shapes(pw_shape, logits.shape) == logits.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{name}: expected pos_weight of a shape that broadcasts to the "
                             f"logits' (e.g. (C,) for C classes), got pos_weight of shape "
                             f"{pw_shape} for logits of shape {logits.shape}")
    w = _wide(logits)
    if w is not None:
        return binary_cross_entropy_with_logits(w, target, reduction,
                                                pos_weight).astype(logits.dtype)
    target = target.astype(logits.dtype)
    sp = softplus(-logits)
    if pos_weight is None:
        loss = (1 - target) * logits + sp
    else:
        loss = (1 - target) * logits + (1 + (pos_weight - 1) * target) * sp
    return _reduce(loss, reduction)


# ================================================================ one-hot and dropout
def one_hot(indices, num_classes=-1, dtype="float32"):
    """One-hot rows for integer ``indices`` (no gradient): shape ``indices.shape +
    (num_classes,)``, ``num_classes`` -1 taking ``max(indices) + 1``.  IndexError for an
    index out of [0, num_classes); TypeError for non-integer indices.  In a compiled step
    (:func:`gpugrad.compile`) a replay checks and computes it again from its own indices.

    >>> import gpugrad as gg
    >>> gg.one_hot(gg.tensor([0, 2]), 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    from ..dtypes import as_dtype
    from .search import values_call

    idx = tensor_arg(indices, "indices")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer indices, got dtype {idx.dtype.name}")
    return values_call(functools.partial(_one_hot, num_classes=num_classes,
                                         dtype=as_dtype(dtype)), idx)


def _one_hot(xp, idx, num_classes, dtype):
    """:func:`one_hot` on array ``idx``, its indices checked (a replay's node runs it)."""
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise IndexError(f"one_hot: expected indices in [0, {num_classes}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    return (idx[..., None] == xp.arange(num_classes)).astype(dtype)


class Dropout(Function):
    complex_grad = True  # linear, with real coefficients
    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, mask=None, scale=1.0):
        self.saved = (mask,)
        self.scale = scale
        return x * mask * x.dtype.type(scale)

    def backward(self, g):
        (mask,) = self.saved
        return (g * mask * g.dtype.type(self.scale),)


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted
    dropout); the identity when not training or p == 0.

    >>> import gpugrad as gg
    >>> gg.dropout(gg.ones(4), p=0.0).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    from .. import random as _random

    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    x = tensor_arg(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0
    keep = _random.bernoulli_mask(x.shape, 1.0 - p, x.device, generator=generator)
    return Dropout.apply(x, mask=keep, scale=1.0 / (1.0 - p))
