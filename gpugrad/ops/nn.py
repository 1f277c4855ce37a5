"""Neural-network ops: the fused linear layer, softmax family, losses, one-hot, dropout.

``linear(x, W, b, activation)`` is one graph node whose forward and backward run through
the fused kernels of :mod:`gpugrad.kernels` (GEMM, then bias + activation in one pass;
backward: dZ and the bias gradient in one pass, then two GEMMs).  ``W`` has shape
(in_features, out_features): the layer is ``act(x @ W + b)``.

>>> import gpugrad as gg
>>> x, W, b = gg.randn(4, 3), gg.randn(3, 2, requires_grad=True), gg.zeros(2, requires_grad=True)
>>> gg.linear(x, W, b, activation="relu").shape
(4, 2)
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..autograd import Function
from ._util import normalize_axis, tensor_arg, xp_of
from .reduce import log_softmax_along, low_precision, softmax_along

__all__ = ["linear", "softmax", "log_softmax", "cross_entropy", "nll_loss", "mse_loss",
           "binary_cross_entropy_with_logits", "one_hot", "dropout"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


# ================================================================ fused linear layer
class Linear(Function):
    """act(x @ W + b) as one node; backward reads the output (or the pre-activation) and can
    write dW straight into an optimizer's flat gradient buffer."""

    grad_into = (1,)

    def saved_inputs(self, needs):
        return (0, 1)

    def forward(self, x, W, b=None, activation="identity", negative_slope=0.01):
        self.act, self.slope = activation, negative_slope
        self.has_b = b is not None
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        y, z = kernels.linear_act_forward(x2, W, b, activation, negative_slope=negative_slope)
        self.lead = lead
        self.saved = (x2, W, y, z)
        return y.reshape(lead + (W.shape[1],)) if x.ndim != 2 else y

    def backward(self, g):
        x2, W, y, z = self.saved
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        needs = (self.needs[0], self.needs[1], self.has_b and self.needs[2])
        dW_out = self.grad_out.get(1) if self.grad_out else None
        dx, dW, db = kernels.linear_act_backward(g2, x2, W, y, z, self.act,
                                                 negative_slope=self.slope,
                                                 needs_input_grad=needs, dW_out=dW_out)
        if dx is not None and len(self.lead) != 1:
            dx = dx.reshape(self.lead + (x2.shape[1],))
        return (dx, dW, db) if self.has_b else (dx, dW, None)


def linear(x, W, b=None, activation=None, negative_slope=0.01):
    """``act(x @ W + b)`` as one fused, differentiable op; W is (in_features, out_features).

    ``activation``: None/"identity", "relu", "leaky_relu", "gelu", "gelu_tanh", "silu",
    "sigmoid" or "tanh".

    >>> import gpugrad as gg
    >>> gg.linear(gg.ones(2, 3), gg.ones(3, 4), gg.zeros(4)).tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
    """
    x, W = tensor_arg(x, "x"), tensor_arg(W, "W")
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
    if x.ndim == 1:
        return linear(x.reshape(1, -1), W, b, activation, negative_slope).reshape(-1)
    if x.dtype != W.dtype:
        raise TypeError(f"linear: expected x and W of one dtype, got {x.dtype.name} and "
                        f"{W.dtype.name}")
    return Linear.apply(x, W, b, activation=act, negative_slope=negative_slope)


# ================================================================ softmax family
# float16 input is computed in float32 and cast back (as PyTorch does on the CPU).  Entries tied
# at an infinite maximum share the weight evenly (see reduce.max_shifted): softmax([inf, 0]) is
# [1, 0] and a slice of all -inf gives the uniform distribution, where exp(inf - inf) is NaN.
class LogSoftmax(Function):
    saves_output = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis=-1):
        self.axis = axis
        ans = log_softmax_along(xp_of(x), x, (axis,))[0]
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (ans,) = self.saved
        return (g - xp_of(g).exp(ans) * g.sum(axis=self.axis, keepdims=True),)


class Softmax(Function):
    saves_output = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis=-1):
        self.axis = axis
        ans = softmax_along(xp_of(x), x, (axis,))
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (ans,) = self.saved
        return (ans * (g - (g * ans).sum(axis=self.axis, keepdims=True)),)


def _float_tensor(x):
    x = tensor_arg(x)
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def _wide(x):
    """float16 tensors in float32 (where losses and normalizers compute them), else None."""
    return x.astype(np.float32) if low_precision(x.dtype) else None


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, computed stably (float16 in float32).

    Entries tied at an infinite maximum share the weight evenly: ``softmax([inf, 0])`` is
    ``[1, 0]`` and a row of all -inf is uniform (the limits), not NaN.

    >>> import gpugrad as gg
    >>> gg.softmax(gg.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    x = _float_tensor(x)
    w = _wide(x)
    if w is not None:
        return softmax(w, axis).astype(x.dtype)
    return Softmax.apply(x, axis=normalize_axis(axis, x.ndim)[0])


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed stably (float16 in float32); -inf entries give -inf.

    >>> import gpugrad as gg
    >>> round(gg.log_softmax(gg.tensor([0.0, 0.0])).tolist()[0], 4)
    -0.6931
    """
    x = _float_tensor(x)
    w = _wide(x)
    if w is not None:
        return log_softmax(w, axis).astype(x.dtype)
    return LogSoftmax.apply(x, axis=normalize_axis(axis, x.ndim)[0])


# ================================================================ losses
# Every loss computes float16 input in float32 and returns float16 (the mean's 1/N and the
# sums stay finite past 65504 terms).
class CrossEntropy(Function):
    """Softmax cross-entropy from logits (N, C) and integer targets (N,), one node; backward
    recomputes the softmax from the saved logits."""

    def forward(self, logits, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
        xp = xp_of(logits)
        n, c = logits.shape
        logp, _, self.shift = log_softmax_along(xp, logits, (1,))
        valid = target != ignore_index
        safe_t = xp.where(valid, target, 0)
        picked = xp.take_along_axis(logp, safe_t[:, None], axis=1)[:, 0]
        eps = label_smoothing
        loss = -(1 - eps) * picked - (eps / c) * logp.sum(axis=1) if eps else -picked
        loss = xp.where(valid, loss, 0)
        self.reduction, self.eps, self.ignore_index = reduction, eps, ignore_index
        self.saved = (logits, target)
        self.count = xp.maximum(valid.sum(), 1).astype(logits.dtype)  # the mean's divisor
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        return loss.sum() / self.count

    def backward(self, g):
        logits, target = self.saved
        xp = xp_of(logits)
        n, c = logits.shape
        valid = target != self.ignore_index
        hot = xp.where(valid, target, 0)[:, None] == xp.arange(c)
        eps = self.eps
        grad = softmax_along(xp, logits, (1,), self.shift)  # the forward's max: a constant
        if eps:
            grad = grad - hot * grad.dtype.type(1 - eps) - grad.dtype.type(eps / c)
        else:
            grad = grad - hot
        w = valid * (g / self.count if self.reduction == "mean" else g)
        return (grad * w[:, None], None)


def _check_targets(name, scores, target, ignore_index):
    """The checks cross_entropy and nll_loss share: scores (N, C), integer targets (N,), each
    in [0, C) or equal to ``ignore_index``.  Returns ``target`` as a tensor."""
    target = tensor_arg(target, "target")
    if scores.ndim != 2:
        raise ValueError(f"{name}: expected {'logits' if name == 'cross_entropy' else 'input'} "
                         f"of shape (N, C), got {scores.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class targets, got dtype "
                        f"{target.dtype.name} (for probabilities use a soft-target loss)")
    if target.shape != (scores.shape[0],):
        raise ValueError(f"{name}: expected targets of shape ({scores.shape[0]},), got "
                         f"{target.shape}")
    t = target.data
    bad = (t != ignore_index) & ((t < 0) | (t >= scores.shape[1]))
    if bool(bad.any()):
        raise IndexError(f"{name}: target values must be in [0, {scores.shape[1]}) "
                         f"(or ignore_index={ignore_index}), got {int(t[bad][0])}")
    return target


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    """Softmax cross-entropy between logits (N, C) and integer class targets (N,).

    ``label_smoothing`` mixes the one-hot target with the uniform distribution (PyTorch's
    definition); targets equal to ``ignore_index`` contribute nothing and are left out of
    the mean.  -inf logits (masked classes) get probability 0.

    >>> import gpugrad as gg
    >>> round(gg.cross_entropy(gg.zeros(2, 4), gg.tensor([1, 3])).item(), 4)
    1.3863
    """
    _check_reduction(reduction)
    logits = _float_tensor(logits)
    target = _check_targets("cross_entropy", logits, target, ignore_index)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    w = _wide(logits)
    if w is not None:
        return CrossEntropy.apply(w, target, reduction=reduction, label_smoothing=label_smoothing,
                                  ignore_index=ignore_index).astype(logits.dtype)
    return CrossEntropy.apply(logits, target, reduction=reduction,
                              label_smoothing=label_smoothing, ignore_index=ignore_index)


def nll_loss(log_probs, target, reduction="mean", ignore_index=-100):
    """Negative log-likelihood of integer targets given log-probabilities (N, C); targets are
    checked as :func:`cross_entropy` checks them.

    >>> import gpugrad as gg
    >>> gg.nll_loss(gg.tensor([[-1.0, -2.0]]), gg.tensor([1])).item()
    2.0
    """
    from .index import take_along_axis

    _check_reduction(reduction)
    log_probs = _float_tensor(log_probs)
    w = _wide(log_probs)
    if w is not None:
        return nll_loss(w, target, reduction, ignore_index).astype(log_probs.dtype)
    target = _check_targets("nll_loss", log_probs, target, ignore_index)
    valid = (target != ignore_index)
    safe = target * valid
    picked = -take_along_axis(log_probs, safe.reshape(-1, 1), axis=1).reshape(-1) * valid
    if reduction == "none":
        return picked
    if reduction == "sum":
        return picked.sum()
    return picked.sum() / valid.sum().astype(picked.dtype).clip(1, None)


def _reduce(loss, reduction):
    _check_reduction(reduction)
    if reduction == "mean":
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

    logits, target = _float_tensor(logits), tensor_arg(target, "target")
    if logits.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: expected logits and target of one "
                         f"shape, got {logits.shape} and {target.shape}")
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
    """One-hot rows for integer ``indices`` (no gradient).

    >>> import gpugrad as gg
    >>> gg.one_hot(gg.tensor([0, 2]), 3).tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    from ..tensor import Tensor
    from ..dtypes import as_dtype

    idx = tensor_arg(indices, "indices")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer indices, got dtype {idx.dtype.name}")
    xp = xp_of(idx.data)
    if num_classes < 0:
        num_classes = int(idx.data.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.data.min()) < 0 or int(idx.data.max()) >= num_classes):
        raise IndexError(f"one_hot: expected indices in [0, {num_classes}), got values in "
                         f"[{int(idx.data.min())}, {int(idx.data.max())}]")
    out = (idx.data[..., None] == xp.arange(num_classes)).astype(as_dtype(dtype))
    return Tensor._make(out)


class Dropout(Function):
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
