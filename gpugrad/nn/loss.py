"""Loss modules: cross-entropy (label smoothing, ignore_index), MSE, BCE with logits.

float16 inputs are computed in float32 and the loss is returned in float16 (a mean over more
than 65504 rows stays finite); a ``"mean"`` over nothing (an empty batch, every target
``ignore_index``) is NaN, 0/0 as in PyTorch, with a zero gradient; class targets are checked
(integer, shape (N,), each in [0, C) or ``ignore_index``) the same way by ``cross_entropy``
and ``nll_loss``.

>>> import gpugrad as gg
>>> loss = CrossEntropyLoss(label_smoothing=0.1)
>>> round(loss(gg.zeros(2, 5), gg.tensor([0, 4])).item(), 4)
1.6094
"""
from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction, cls):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{cls}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


class CrossEntropyLoss(Module):
    """Softmax cross-entropy from logits (N, C) and integer targets (N,).

    ``label_smoothing`` in [0, 1] blends the one-hot target with the uniform distribution;
    targets equal to ``ignore_index`` contribute nothing (and are left out of the mean; where
    no target counts, the mean is NaN, as in PyTorch, and the gradient 0).

    >>> import gpugrad as gg
    >>> CrossEntropyLoss(reduction="none")(gg.zeros(2, 2), gg.tensor([0, -100])).tolist()
    [0.6931471824645996, 0.0]
    """

    def __init__(self, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing!r}")
        self.ignore_index = int(ignore_index)
        self.reduction = _reduction(reduction, "CrossEntropyLoss")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction,
                               label_smoothing=self.label_smoothing,
                               ignore_index=self.ignore_index)

    def extra_repr(self):
        return (f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, "
                f"label_smoothing={self.label_smoothing}")


class MSELoss(Module):
    """Mean squared error between input and target of one shape.

    >>> import gpugrad as gg
    >>> MSELoss(reduction="sum")(gg.tensor([1.0, 2.0]), gg.tensor([0.0, 0.0])).item()
    5.0
    """

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = _reduction(reduction, "MSELoss")

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits (sigmoid folded in, numerically stable);
    ``pos_weight`` scales the positive term.

    >>> import gpugrad as gg
    >>> round(BCEWithLogitsLoss()(gg.tensor([0.0, 0.0]), gg.tensor([0.0, 1.0])).item(), 4)
    0.6931
    """

    def __init__(self, reduction: str = "mean", pos_weight=None):
        super().__init__()
        self.reduction = _reduction(reduction, "BCEWithLogitsLoss")
        self.pos_weight = pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"
