"""Softmax cross-entropy on arrays: the one definition of its forward and backward formulas
on NumPy (and on CuPy where the fused kernels of ``kernels/cross_entropy.cu`` do not run).

:class:`~gpugrad.ops.logits.CrossEntropy` calls these functions, and so does the CPU replay of
a compiled step (:mod:`gpugrad.capture.cpu_cross_entropy`), which passes a :class:`Buffers`
made once so that nothing activation-sized is allocated per call.  With or without buffers the
same NumPy calls run in the same order, so both give the same values, bit for bit.

Shapes: logits (N, C) float; targets (N,) integer; ``valid`` (N,) bool (the rows whose target
is not ``ignore_index``).  The targets' values are checked before (by ``cross_entropy``, or by
the replay): on NumPy every target here is in [0, C) or ``ignore_index``.  On CuPy a bad target
found later (a deferred check, :mod:`gpugrad.device_checks`) makes its row's loss and gradient
NaN (``bad``), never a wrong number.

>>> import numpy as np
>>> x, t = np.zeros((2, 4)), np.array([1, 3])
>>> safe_t, valid, bad = targets(x, t, -100)
>>> round(float(forward(x, safe_t, valid)[0]), 4)
1.3863
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import is_cupy_array
from ._util import xp_of

__all__ = ["Buffers", "targets", "forward", "backward", "row_weights", "valid_count",
           "reduce_loss"]


class Buffers:
    """The arrays one planned cross-entropy of logits (N, C) ``dtype`` and targets ``tdtype``
    writes at each call (NumPy): ``valid``/``notvalid``/``safe_t`` (N,), the shift ``m``
    (N, 1), ``s`` and ``probs`` (N, C), ``total``/``lse``/``loss``/``w`` (N,), the logits'
    gradient ``grad`` (N, C) unless ``grad`` is False (then None: a new array at each
    backward); and two constants, the row indices ``rows`` and ``count_all``, the mean's
    divisor when every row counts.

    ``like``: logits (N, C) whose memory layout the calls will see (None: C-ordered).
    ``s``, ``probs`` and ``grad`` take the layout the unbuffered calls give their results
    for such logits (a Fortran-ordered ``s`` for Fortran-ordered logits): the row sums
    then add in the same order, and the gradient reaches the next GEMM in the same layout,
    so the buffered calls give the same bits.

    >>> b = Buffers(3, 5, np.float32, np.int64)
    >>> b.probs.shape, b.safe_t.dtype.name, b.grad.dtype.name
    ((3, 5), 'int64', 'float32')
    >>> fortran = np.zeros((5, 3), np.float32).T
    >>> Buffers(3, 5, np.float32, np.int64, like=fortran).probs.flags.f_contiguous
    True
    """

    __slots__ = ("valid", "notvalid", "safe_t", "m", "s", "probs", "total", "lse", "loss", "w",
                 "rows", "grad", "count_all")

    def __init__(self, n, c, dtype, tdtype, grad=True, like=None):
        self.valid, self.notvalid = np.empty(n, bool), np.empty(n, bool)
        self.safe_t = np.empty(n, tdtype)
        self.m = np.empty((n, 1), dtype)
        s, g = _layouts(like, n, c, dtype)
        self.s, self.probs = np.empty_like(s, dtype), np.empty_like(s, dtype)
        self.total, self.lse = np.empty(n, dtype), np.empty(n, dtype)
        self.loss, self.w = np.empty(n, dtype), np.empty(n, dtype)
        self.rows = np.arange(n)
        self.grad = np.empty_like(g, dtype) if grad else None
        self.count_all = valid_count(None, n, np.dtype(dtype))


def _layouts(like, n, c, dtype):
    """Arrays (N, C) laid out as :func:`forward`'s ``s`` (and ``probs``) and
    :func:`backward`'s gradient are, unbuffered, for logits ``like`` (None: C-ordered)."""
    if like is None:
        s = np.empty((n, c), dtype)
        return s, s
    with np.errstate(all="ignore"):
        s = np.subtract(like, _max_rows(like, axis=1, keepdims=True))   # as forward does
        return s, np.multiply(s, np.zeros(n, dtype)[:, None])          # as backward does


_NEW = object.__new__(Buffers)      # no buffers: every result a new array
for _name in Buffers.__slots__:
    setattr(_NEW, _name, None)
_max_rows, _sum_rows = np.maximum.reduce, np.add.reduce   # ndarray.max/.sum, minus a frame


def targets(logits, target, ignore_index, out=None):
    """``(safe_t, valid, bad)`` for logits (N, C) and integer targets (N,): ``valid`` marks
    the rows whose target is not ``ignore_index``, ``safe_t`` is the target there and 0
    elsewhere (an index that can be gathered), ``bad`` the rows (CuPy only; None on NumPy,
    whose targets were checked) whose target is out of [0, C).  ``out``: :class:`Buffers`.

    >>> targets(np.zeros((3, 2)), np.array([1, -100, 0]), -100)[:2]
    (array([1, 0, 0]), array([ True, False,  True]))
    """
    xp = np if type(target) is np.ndarray else xp_of(target)
    out = _NEW if out is None else out
    valid = xp.not_equal(target, ignore_index, out=out.valid)
    if xp is np:
        return np.multiply(target, valid, out=out.safe_t), valid, None
    c = logits.shape[1]
    bad = valid & ((target < 0) | (target >= c))
    return xp.where(valid & ~bad, target, 0), valid, bad


def valid_count(valid, n, dtype):
    """The mean's divisor: how many rows count (``valid``; None: all ``n``), as a scalar of
    ``dtype`` (a NumPy dtype; on CuPy a 0-d device array: no host read).  It is 0 where no
    row counts (every target ``ignore_index``, or N = 0): the mean is then 0/0, NaN, as in
    PyTorch (see :func:`reduce_loss`; the gradient is 0: :func:`row_weights`).

    >>> f32 = np.dtype(np.float32)
    >>> float(valid_count(np.array([False, True]), 2, f32)), float(valid_count(None, 3, f32))
    (1.0, 3.0)
    """
    if valid is None:
        return dtype.type(n)
    if type(valid) is np.ndarray:
        return dtype.type(np.count_nonzero(valid))
    return valid.sum().astype(dtype)


def reduce_loss(loss, count, reduction):
    """The per-row ``loss`` (N,) reduced: ``"none"`` (``loss`` itself), ``"sum"`` or
    ``"mean"`` (the sum over ``count`` rows; NaN where ``count`` is 0, as PyTorch's 0/0).

    >>> float(reduce_loss(np.array([1.0, 2.0, 0.0]), 2.0, "mean"))
    1.5
    >>> float(reduce_loss(np.array([0.0, 0.0]), np.float64(0), "mean"))
    nan
    """
    if reduction == "none":
        return loss
    total = _sum_rows(loss) if type(loss) is np.ndarray else loss.sum()
    if reduction == "sum":
        return total
    if not is_cupy_array(count) and not count:   # none counted: 0/0 (no NumPy warning)
        with np.errstate(invalid="ignore"):
            return np.true_divide(total, count)
    return total / count


def _divisor(count):
    """``count`` as the gradient's divisor: 1 where it is 0 (then no row counts and every
    row's weight is 0 -- PyTorch's zero gradient, not 0 * inf = NaN).  On CuPy a device op."""
    if is_cupy_array(count):
        return xp_of(count).maximum(count, 1)
    return count if count else type(count)(1)


def forward(logits, safe_t, valid, bad=None, reduction="mean", label_smoothing=0.0, out=None):
    """``(loss, probs, count, shift)``: the loss of logits (N, C) at targets ``safe_t`` (see
    :func:`targets`) reduced by ``reduction``, the softmax probabilities (N, C), the mean's
    divisor (:func:`valid_count`) and the per-row shift (N, 1) (None when C is 0).

    ``valid`` None counts every row.  ``label_smoothing`` (eps) mixes the one-hot target with
    the uniform distribution.  A row whose maximum is infinite takes the limits of
    :func:`~gpugrad.ops.logits.max_shifted` (NaN, loss and probabilities, where two or more
    logits tie at +inf).  ``out``: a :class:`Buffers` (NumPy) the
    results are written into (for ``"none"`` the loss returned is ``out.loss`` unless eps).

    >>> x = np.array([[0.0, np.inf], [1.0, 1.0]])
    >>> loss, probs, count, shift = forward(x, np.array([1, 0]), None, reduction="none")
    >>> loss.tolist(), probs.tolist()
    ([-0.0, 0.6931471805599453], [[0.0, 1.0], [0.5, 0.5]])
    """
    n, c = logits.shape
    eps, out = label_smoothing, _NEW if out is None else out
    if type(logits) is np.ndarray:
        xp, m = np, None if c == 0 else _max_rows(logits, axis=1, keepdims=True, out=out.m)
    else:
        xp, m = xp_of(logits), None if c == 0 else logits.max(axis=1, keepdims=True)
    if c == 0:   # nothing to pick (the targets were checked): NumPy's empty answers
        loss, probs = xp.zeros(n, dtype=logits.dtype), logits * 1
    else:
        # the usual case, all maxima finite (so is their sum: an inf or NaN would carry to
        # it; a sum that overflows takes the branch below, which gives the same bits)
        if xp is np and math.isfinite(_sum_rows(m, axis=None)):
            s = np.subtract(logits, m, out=out.s)
        else:  # an infinite maximum, or CuPy (no host check): max_shifted's limits
            from .logits import max_shifted
            s = max_shifted(xp, logits, (1,), m)[0]
        probs = xp.exp(s, out=out.probs)
        total = _sum_rows(probs, axis=1, out=out.total) if xp is np else probs.sum(axis=1)
        lse = xp.log(total, out=out.lse)
        rows = xp.arange(n) if out.rows is None else out.rows
        loss = xp.subtract(s[rows, safe_t], lse, out=out.loss)  # log p[t]
        if not eps:
            loss = xp.negative(loss, out=loss)
        else:  # - (1 - eps) log p[t] - eps * mean log p
            loss = -(1 - eps) * loss - (eps / c) * (s.sum(axis=1) - c * lse)
        if valid is not None:   # ignored rows contribute 0
            xp.copyto(loss, 0, where=xp.logical_not(valid, out=out.notvalid))
        probs = xp.divide(probs, total[:, None], out=probs)
    if bad is not None:
        loss = xp.where(bad, xp.nan, loss)
    count = out.count_all if valid is None and out.count_all is not None else \
        valid_count(valid, n, logits.dtype)
    return reduce_loss(loss, count, reduction), probs, count, m


def row_weights(g, valid, count, bad=None, reduction="mean", out=None):
    """Each row's weight (N,) in the gradient: the loss's gradient ``g`` (over ``count`` for
    the mean), 0 on ignored rows, NaN on ``bad`` ones.  ``g`` may be a Tensor (a graph is
    recorded); ``out``: an (N,) array to write into (NumPy).

    >>> row_weights(np.array(3.0), np.array([True, False, True]), 2.0).tolist()
    [1.5, 0.0, 1.5]
    """
    gw = g / _divisor(count) if reduction == "mean" else g
    w = valid * gw if out is None else np.multiply(valid, gw, out=out)
    if bad is not None:  # a bad target (checked later, on a GPU): NaN, not a gradient
        w = xp_of(w).where(bad, np.nan, w)
    return w


def backward(g, probs, safe_t, valid, count, bad=None, reduction="mean", label_smoothing=0.0,
             out=None):
    """The gradient (N, C) of :func:`forward`'s loss with respect to the logits, from its
    ``probs`` and ``count``: (softmax - (1 - eps) one_hot(t) - eps / C) times each row's
    weight (:func:`row_weights`).  ``g``: the loss's gradient (0-d, or (N,) for ``"none"``);
    ``valid``: (N,) bool.  ``out``: the :class:`Buffers` of the forward (``out.grad`` None:
    a new array).

    >>> p = np.full((2, 2), 0.5)
    >>> backward(np.array(1.0), p, np.array([0, 1]), np.array([True, False]), 1.0).tolist()
    [[-0.5, 0.5], [0.0, 0.0]]
    """
    n, c = probs.shape
    if c == 0:
        return probs * 0
    eps, out = label_smoothing, _NEW if out is None else out
    w = row_weights(g, valid, count, bad, reduction, out.w)
    xp = np if type(probs) is np.ndarray else xp_of(probs)
    grad = xp.multiply(probs, w[:, None], out=out.grad)
    if eps:
        grad -= (w * (eps / c))[:, None]
    grad[xp.arange(n) if out.rows is None else out.rows, safe_t] -= w * (1 - eps) if eps else w
    return grad
