"""The losses on the softmax: cross_entropy (from logits) and nll_loss (from
log-probabilities), with the checks of their integer class targets.  The softmax family
itself (logsumexp, softmax, log_softmax) is in :mod:`gpugrad.ops.softmax_family` and exported
from here too.

Both follow the softmax family's limits (:func:`max_shifted`): -inf logits (masked classes)
get probability 0, and a row with two or more logits tied at +inf has a NaN loss and
gradient -- so float16 logits that overflow reach a loss scaler as NaN.  float16 input is
computed in float32 and the loss returned in float16 (the mean's 1/N and the sums stay finite
past 65504 terms).  Complex input is a TypeError.

Both are twice differentiable: cross_entropy's fast backward reads the probabilities its
forward kept; on Tensors (``create_graph=True``) it recomputes them from the logits, so that
they are not a constant of the graph.

>>> import gpugrad as gg
>>> round(gg.cross_entropy(gg.zeros(2, 4), gg.tensor([1, 3])).item(), 4)
1.3863
"""
from __future__ import annotations

import functools

import numpy as np

from .. import capture_hooks as _capture, device_checks
from .. import backend
from ..backend import is_cupy_array
from ..kernels.reference import FAST_DTYPES
from ..autograd import Function
from ..tensor import Tensor
from ._util import tensor_arg, xp_of
from . import cross_entropy_xp as _ce
from .reduce import _wide
from ..autocast_state import _state as _amp, to_float32 as _amp_f32
from .softmax_family import *  # noqa: F401,F403  (re-exported: the softmax family's old home)
from .softmax_family import __all__ as _softmax_all
from .softmax_family import (  # noqa: F401  (op classes and formulas callers reach from here)
    LogSoftmax, LogSumExp, Softmax, log_softmax_along, max_shifted, real_float, softmax_along)

__all__ = list(_softmax_all) + ["cross_entropy", "nll_loss"]


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


# ================================================================ losses on the softmax
# float16 input is computed in float32 and the loss returned in float16 (the mean's 1/N and
# the sums stay finite past 65504 terms).
class CrossEntropy(Function):
    """Softmax cross-entropy from logits (N, C) and integer targets (N,), one node.  Forward
    keeps the probabilities for the fast backward on arrays, and the logits, from which the
    backward recomputes them as a graph under create_graph (saved probabilities would be a
    constant there).  The array formulas are :mod:`gpugrad.ops.cross_entropy_xp`'s."""

    twice_differentiable = True

    def saved_inputs(self, needs):
        return (0,)

    def forward(self, logits, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
        self.reduction, self.eps = reduction, label_smoothing
        if _fused(logits):  # CUDA: one kernel, which also checks the targets (see cross_entropy)
            from ..kernels import cuda as kernels_cuda

            c, xp = logits.shape[1], xp_of(logits)
            status = device_checks.status_buffer(("cross_entropy", c, ignore_index),
                                                 _target_error("cross_entropy", c, ignore_index),
                                                 xp, logits.device.id)
            probs, loss, safe_t, valid = kernels_cuda.cross_entropy_forward(
                logits, target, ignore_index, label_smoothing, status)
            self.shift = self.bad = None
            self.count = _ce.valid_count(valid, logits.shape[0], logits.dtype)
            ans = _ce.reduce_loss(loss, self.count, reduction)
        else:  # on a GPU a bad target (a deferred check) makes its row's loss and gradient NaN
            safe_t, valid, self.bad = _ce.targets(logits, target, ignore_index)
            ans, probs, self.count, self.shift = _ce.forward(logits, safe_t, valid, self.bad,
                                                             reduction, label_smoothing)
        self.saved = (logits, probs, safe_t, valid)
        return ans

    def backward(self, g):
        logits, probs, safe_t, valid = self.saved
        c, eps = logits.shape[1], self.eps
        if isinstance(g, Tensor) and c:  # create_graph: the probabilities again, from the logits
            w = _ce.row_weights(g, valid, self.count, self.bad, self.reduction)
            t = safe_t.data  # constants, as arrays on the logits' device
            hot = (t[:, None] == xp_of(t).arange(c)).astype(logits.dtype)
            p = softmax_along(xp_of(g), logits, (1,), self.shift)
            return ((p - hot * (1 - eps) - eps / c) * w.reshape(-1, 1), None)
        if _fused(probs):
            from ..kernels import cuda as kernels_cuda

            w = _ce.row_weights(g, valid, self.count, self.bad, self.reduction)
            return (kernels_cuda.cross_entropy_backward(probs, safe_t, w.astype(probs.dtype), eps),
                    None)
        return (_ce.backward(g, probs, safe_t, valid, self.count, self.bad, self.reduction, eps),
                None)


def _fused(a, dtype=None):
    """Whether cross_entropy runs as the CUDA kernels of kernels/cross_entropy.cu on array
    ``a`` (CuPy, float32/float64 -- ``dtype`` when given: float16 is computed in float32 --
    with at least one class): they check the targets themselves."""
    return (type(a) is not np.ndarray and is_cupy_array(a) and a.ndim == 2
            and (a.dtype if dtype is None else dtype) in FAST_DTYPES
            and 0 < a.shape[1] < 2 ** 31 and a.shape[0] < 2 ** 31)


def _wide_dtype(x):
    from .reduce import low_precision

    return low_precision(x.dtype)


def _target_error(name, c, ignore_index):
    return lambda v: IndexError(f"{name}: target values must be in [0, {c}) "
                                f"(or ignore_index={ignore_index}), got {v}")


def _check_targets(name, scores, target, ignore_index, check_values=True):
    """The checks cross_entropy and nll_loss share: scores (N, C), integer targets (N,), each
    in [0, C) or equal to ``ignore_index`` (the values only with ``check_values``; on a GPU
    deferred to the next synchronization).  Returns ``target`` as a tensor."""
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
    if check_values:
        _check_target_values(name, target.data, scores.shape[1], ignore_index)
        if _capture._on:  # gpugrad.compile: a replay checks its targets again
            _capture.check(functools.partial(_check_target_values, name, c=scores.shape[1],
                                             ignore_index=ignore_index), target)
    return target   # on a GPU the check is deferred: the op makes the bad rows' losses NaN


_largest = np.maximum.reduce


def _check_target_values(name, t, c, ignore_index):
    """IndexError naming the first of the integer targets ``t`` (array) out of [0, ``c``)
    and not ``ignore_index`` (on a GPU deferred to the next synchronization)."""
    if type(t) is np.ndarray and t.size and _largest(t.view(f"u{t.dtype.itemsize}")) < c:
        return   # every target in [0, c) (read as unsigned, a negative one is too large)
    with backend.on_device_of(t):
        bad = (t != ignore_index) & ((t < 0) | (t >= c))
        device_checks.check(bad, t, (name, c, ignore_index), _target_error(name, c, ignore_index))


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0, ignore_index=-100):
    """Softmax cross-entropy between logits (N, C) and integer class targets (N,).

    ``label_smoothing`` mixes the one-hot target with the uniform distribution (PyTorch's
    definition); targets equal to ``ignore_index`` contribute nothing and are left out of
    the mean -- where no target counts (all ignored, or N = 0) the mean is NaN (0/0, as in
    PyTorch; ``"sum"`` is 0) and the gradient 0.  -inf logits (masked classes) get
    probability 0.  A row with two or more logits tied at +inf (overflowed float16 logits)
    has a NaN loss and gradient, as in PyTorch, so ``gg.amp.GradScaler`` skips the step (an
    ignored row's loss stays 0).

    >>> import gpugrad as gg
    >>> round(gg.cross_entropy(gg.zeros(2, 4), gg.tensor([1, 3])).item(), 4)
    1.3863
    """
    _check_reduction(reduction)
    logits = real_float(logits, "cross_entropy")
    if _amp.dtype is not None:  # autocast: a float32 op
        logits = _amp_f32(logits)
    fused = _fused(logits.data, np.dtype(np.float32) if _wide_dtype(logits) else logits.dtype)
    target = _check_targets("cross_entropy", logits, target, ignore_index,
                            not fused or device_checks.sync_checks())
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
    checked as :func:`cross_entropy` checks them.  Targets equal to ``ignore_index`` are left
    out of the mean; where no target counts (all ignored, or N = 0) the mean is NaN (0/0, as
    in PyTorch) and the gradient 0.

    >>> import gpugrad as gg
    >>> gg.nll_loss(gg.tensor([[-1.0, -2.0]]), gg.tensor([1])).item()
    2.0
    """
    from .elementwise import where
    from .index import take_along_axis

    _check_reduction(reduction)
    log_probs = real_float(log_probs, "nll_loss")
    if _amp.dtype is not None:  # autocast: a float32 op
        log_probs = _amp_f32(log_probs)
    w = _wide(log_probs)
    if w is not None:
        return nll_loss(w, target, reduction, ignore_index).astype(log_probs.dtype)
    target = _check_targets("nll_loss", log_probs, target, ignore_index)
    valid = (target != ignore_index)
    safe = target * valid
    bad = None
    if not isinstance(target.data, np.ndarray):   # deferred check on a GPU: bad rows -> NaN
        bad = valid & ((target < 0) | (target >= log_probs.shape[1]))
        safe = safe * ~bad
    picked = -take_along_axis(log_probs, safe.reshape(-1, 1), axis=1).reshape(-1)
    picked = where(valid, picked, 0.0)  # an ignored row is selected out, not multiplied by 0
    if bad is not None:  # (0 * -inf or 0 * NaN would poison the loss); a bad row: NaN, in
        # its gradient too -- by a constant factor (NaN or 1), so that the other rows'
        # gradients stay finite (where(bad, picked * nan, picked) sends them 0 * nan)
        picked = picked * where(bad, float("nan"), 1.0).astype(picked.dtype)
    if reduction == "none":
        return picked
    if reduction == "sum":
        return picked.sum()
    count = valid.sum().astype(picked.dtype)
    mean = picked.sum() / count.clip(1, None)
    return where(count == 0, float("nan"), mean)   # none counted: 0/0, NaN, with gradient 0
