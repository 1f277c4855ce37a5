"""Stateless layer functions: activations, dropout, flatten, the fused linear layer, losses.

Each module in :mod:`gpugrad.nn` calls one of these; they are thin, checked wrappers over
the op set (:mod:`gpugrad.ops`).

>>> import gpugrad as gg
>>> import gpugrad.nn.functional as F
>>> F.relu(gg.tensor([-1.0, 2.0])).tolist()
[0.0, 2.0]
>>> round(F.cross_entropy(gg.zeros(2, 4), gg.tensor([0, 3])).item(), 4)
1.3863
"""
from __future__ import annotations

from .. import ops
from ..tensor import Tensor

__all__ = ["linear", "relu", "leaky_relu", "gelu", "sigmoid", "tanh", "silu", "softplus",
           "softmax", "log_softmax", "dropout", "flatten", "cross_entropy", "nll_loss",
           "mse_loss", "binary_cross_entropy_with_logits", "one_hot"]

linear = ops.linear
softmax = ops.softmax
log_softmax = ops.log_softmax
nll_loss = ops.nll_loss
one_hot = ops.one_hot


def relu(x):
    """max(x, 0).

    >>> import gpugrad as gg
    >>> relu(gg.tensor([-1.0, 1.0])).tolist()
    [0.0, 1.0]
    """
    return ops.relu(x)


def leaky_relu(x, negative_slope: float = 0.01):
    """x for x > 0, negative_slope * x otherwise.

    >>> import gpugrad as gg
    >>> leaky_relu(gg.tensor([-2.0]), 0.5).tolist()
    [-1.0]
    """
    return ops.leaky_relu(x, negative_slope)


def gelu(x, approximate: str = "none"):
    """Gaussian error linear unit (``approximate="tanh"`` for the tanh form).

    >>> import gpugrad as gg
    >>> round(gelu(gg.tensor(1.0)).item(), 4)
    0.8413
    """
    return ops.gelu(x, approximate)


def sigmoid(x):
    """1 / (1 + exp(-x)).

    >>> import gpugrad as gg
    >>> sigmoid(gg.tensor([0.0])).tolist()
    [0.5]
    """
    return ops.sigmoid(x)


def tanh(x):
    """Hyperbolic tangent.

    >>> import gpugrad as gg
    >>> tanh(gg.tensor([0.0])).tolist()
    [0.0]
    """
    return ops.tanh(x)


def silu(x):
    """x * sigmoid(x) (swish).

    >>> import gpugrad as gg
    >>> silu(gg.tensor([0.0])).tolist()
    [0.0]
    """
    return ops.silu(x)


def softplus(x, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold.

    >>> import gpugrad as gg
    >>> round(softplus(gg.tensor(0.0)).item(), 4)
    0.6931
    """
    return ops.softplus(x, beta, threshold)


def dropout(x, p: float = 0.5, training: bool = True, generator=None):
    """Zero elements with probability ``p`` and scale the rest by 1/(1-p) when training.

    >>> import gpugrad as gg
    >>> dropout(gg.ones(3), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    return ops.dropout(x, p, training, generator)


def flatten(x, start_dim: int = 1, end_dim: int = -1):
    """Merge dimensions ``start_dim..end_dim`` (inclusive) into one.

    >>> import gpugrad as gg
    >>> flatten(gg.zeros(2, 3, 4)).shape
    (2, 12)
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"flatten: expected a Tensor, got {type(x).__name__}")
    nd = max(x.ndim, 1)
    s, e = start_dim % nd, end_dim % nd
    if not (-nd <= start_dim < nd and -nd <= end_dim < nd) or s > e:
        raise ValueError(f"flatten: expected start_dim <= end_dim within {nd} dimensions, got "
                         f"start_dim={start_dim}, end_dim={end_dim} for shape {x.shape}")
    if x.ndim == 0:
        return x.reshape(1)
    shape = x.shape
    merged = 1
    for n in shape[s:e + 1]:
        merged *= n
    return x.reshape(shape[:s] + (merged,) + shape[e + 1:])


def cross_entropy(input, target, reduction: str = "mean", label_smoothing: float = 0.0,
                  ignore_index: int = -100):
    """Softmax cross-entropy between logits (N, C) and class indices (N,).  Targets equal to
    ``ignore_index`` are left out of the mean; where none counts (or N = 0) the mean is NaN
    (0/0, as in PyTorch) and the gradient 0.

    >>> import gpugrad as gg
    >>> round(cross_entropy(gg.zeros(1, 2), gg.tensor([1])).item(), 4)
    0.6931
    """
    return ops.cross_entropy(input, target, reduction=reduction,
                             label_smoothing=label_smoothing, ignore_index=ignore_index)


def mse_loss(input, target, reduction: str = "mean"):
    """Mean squared error (the mean over no elements is NaN, as in PyTorch).

    >>> import gpugrad as gg
    >>> mse_loss(gg.tensor([2.0]), gg.tensor([0.0])).item()
    4.0
    """
    return ops.mse_loss(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean", pos_weight=None):
    """Sigmoid + binary cross-entropy, computed stably from logits (the mean over no
    elements is NaN, as in PyTorch).

    >>> import gpugrad as gg
    >>> round(binary_cross_entropy_with_logits(gg.tensor([0.0]), gg.tensor([0.0])).item(), 4)
    0.6931
    """
    return ops.binary_cross_entropy_with_logits(input, target, reduction=reduction,
                                                pos_weight=pos_weight)
