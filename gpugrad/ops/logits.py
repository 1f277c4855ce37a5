"""The softmax family: logsumexp, softmax, log_softmax, and the losses on them, cross_entropy
and nll_loss.

Every one is shifted by the maximum for stability, with the limits of :func:`max_shifted`:
``softmax([inf, 0])`` is ``[1, 0]``, a slice of all -inf is uniform, and two or more entries
tied at +inf (no limit) make their slice NaN, gradients too -- so float16 logits that overflow
reach a loss scaler as NaN -- while logsumexp's value there is +inf.  float16 input is
computed in float32 and cast back (as PyTorch does on the CPU).  softmax and log_softmax are
not defined on complex numbers (PyTorch refuses them too): complex input is a TypeError, never
a cast that drops the imaginary part.  logsumexp is holomorphic and takes complex input.

All of them are twice differentiable: their backward formulas read only the input and the
forward's answer, and run on Tensors under ``create_graph=True`` (cross_entropy's fast
backward reads the probabilities its forward kept; on Tensors it recomputes them from the
logits, so that they are not a constant of the graph).

>>> import gpugrad as gg
>>> gg.softmax(gg.tensor([0.0, 0.0])).tolist()
[0.5, 0.5]
"""
from __future__ import annotations

import functools

import numpy as np

from .. import capture_hooks as _capture, device_checks
from .. import backend
from ..backend import is_cupy_array
from ..kernels.reference import FAST_DTYPES
from ..autograd import Function
from ..dtypes import is_floating
from ..tensor import Tensor
from ._axis_args import axis_index
from ._util import no_complex, tensor_arg, xp_of
from . import cross_entropy_xp as _ce
from .reduce import _count, _Reduce, _wide
from ..autocast_state import _state as _amp, to_float32 as _amp_f32

__all__ = ["logsumexp", "softmax", "log_softmax", "cross_entropy", "nll_loss"]


def real_float(x, op):
    """``x`` as a real floating tensor for ``op``: integers and bools become float32; complex
    input is a TypeError (:func:`no_complex`)."""
    x = no_complex(tensor_arg(x), op)
    return x if is_floating(x.dtype) else x.astype(np.float32)


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _float(x):
    x = tensor_arg(x)
    if x.dtype.kind in "biu":
        return x.astype(np.float32) if x.dtype.itemsize <= 4 else x.astype(np.float64)
    return x


def max_shifted(xp, x, axes, m=None):
    """``(x - m, m)`` with ``m = max(x)`` over ``axes`` (kept) unless given: the stable shift
    of the softmax family, with limits where the maximum is infinite: one entry at +inf
    shifts to 0 (it takes all the weight); a slice of all -inf shifts to 0 (uniform: the
    convention for a fully masked row).  Two or more tied at +inf have no limit (it depends
    on how fast each grows): they keep inf - inf = NaN, so the slice's softmax and every
    derivative are NaN (as PyTorch's and JAX's), never a value to train on.

    A backward may pass the forward's ``m`` back in: softmax(x - m) does not depend on the
    constant ``m``, so the formula stays exact when it is differentiated again."""
    if m is None:
        m = x.max(axis=axes, keepdims=True)
    raw = m.data if isinstance(m, Tensor) else m
    if type(raw) is np.ndarray and bool(np.isfinite(raw).all()):  # the usual case: no extra
        return x - m, m                                               # pass (a host check)
    rxp = xp_of(raw)   # the masks are constants, on arrays (xp may be the Tensor namespace)
    top = (x.data if isinstance(x, Tensor) else x) == raw
    # -inf: all entries are it; +inf: one alone (.real: complex logsumexp has no isneginf)
    limit = rxp.isinf(raw) & ((raw.real < 0) | (top.sum(axis=axes, keepdims=True) == 1))
    with np.errstate(invalid="ignore"):  # only a limit is replaced: elsewhere (ties at +inf
        return xp.where(top & limit, 0, x - m), m  # too) x - m, and its derivative


def softmax_along(xp, x, axes, m=None):
    """exp(x) / sum(exp(x)) over ``axes``, stable, with :func:`max_shifted`'s limits."""
    if _count(x.shape, axes) == 0:
        return x * 1
    e = xp.exp(max_shifted(xp, x, axes, m)[0])
    return e / e.sum(axis=axes, keepdims=True)


def _shifted_lse(xp, x, axes):
    """``(s, log(sum(exp(s))), m)`` over ``axes`` (kept), with ``(s, m)`` from
    :func:`max_shifted`: logsumexp(x) is the sum of the last two."""
    s, m = max_shifted(xp, x, axes)
    return s, xp.log(xp.exp(s).sum(axis=axes, keepdims=True)), m


def log_softmax_along(xp, x, axes):
    """``(log_softmax(x), logsumexp(x), m)`` over ``axes`` (kept), stable; ``m`` is the
    shift used (the maximum), for :func:`softmax_along` in a backward."""
    if _count(x.shape, axes) == 0:
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return x * 1, xp.full(shape, -np.inf, dtype=x.dtype), None
    s, lse, m = _shifted_lse(xp, x, axes)
    return s - lse, lse + m, m


class LogSumExp(_Reduce):
    """log(sum(exp(x))); the gradient is softmax(x), with the limits of :func:`max_shifted`
    where entries are infinite: [inf, 0] gives [1, 0] and [-inf, -inf] gives [0.5, 0.5];
    [inf, inf] has the value +inf and a NaN gradient (no limit).
    Holomorphic: a complex input's gradient is g * conj(softmax(x)), as PyTorch's."""

    complex_grad = True
    twice_differentiable = True

    def forward(self, x, axis=None, keepdims=False):
        self._setup(x, axis, keepdims)
        if _count(x.shape, self.axes) == 0:
            _, ans, self.shift = log_softmax_along(xp_of(x), x, self.axes)
        else:
            xp = xp_of(x)
            _, lse, m = _shifted_lse(xp, x, self.axes)
            ans, self.shift = lse + m, m
            if type(m) is not np.ndarray or not bool(np.isfinite(m).all()):
                ans = xp.where(xp.isinf(m) & (m.real > 0), m, ans)  # +inf ties: not NaN
        self.saved = (x, ans)
        return ans if keepdims else ans.reshape(_reduced_shape(x.shape, self.axes))

    def backward(self, g):
        x, ans = self.saved
        if x.size == 0:
            return self._zeros(g)
        xp = xp_of(x)
        if type(ans) is np.ndarray and bool(np.isfinite(ans).all()):  # arrays, no infinities:
            p = xp.exp(x - ans)                                         # softmax in two passes
        else:  # infinite entries, CuPy (no host check), or Tensors (create_graph)
            p = softmax_along(xp, x, self.axes, self.shift)  # the forward's max: a constant
        return (self._expand(g) * (xp.conj(p) if p.dtype.kind == "c" else p),)


def _reduced_shape(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class LogSoftmax(Function):
    saves_output = True
    twice_differentiable = True

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
    twice_differentiable = True

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


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) computed stably.  A slice with +inf is +inf; its gradient (the
    softmax) follows :func:`softmax`'s limits, NaN where two or more entries tie at +inf.

    >>> import gpugrad as gg
    >>> round(gg.logsumexp(gg.tensor([0.0, 0.0])).item(), 4)
    0.6931
    """
    x = _float(x)
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    w = _wide(x)
    if w is not None:
        return logsumexp(w, axis, keepdims).astype(x.dtype)
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, computed stably (float16 in float32).

    Infinite entries take the limits: ``softmax([inf, 0])`` is ``[1, 0]`` and a row of all
    -inf is uniform (a convention for fully masked rows), not NaN.  Two or more entries tied
    at +inf have no limit: that slice (value and gradient) is NaN, as in PyTorch.  Complex
    input is a TypeError.

    >>> import gpugrad as gg
    >>> gg.softmax(gg.tensor([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    x = real_float(x, "softmax")
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    w = _wide(x)
    if w is not None:
        return softmax(w, axis).astype(x.dtype)
    return Softmax.apply(x, axis=axis_index(axis, x.ndim))


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed stably (float16 in float32); -inf entries give -inf, and a
    slice with two or more entries tied at +inf is NaN (see :func:`softmax`).  Complex input
    is a TypeError.

    >>> import gpugrad as gg
    >>> round(gg.log_softmax(gg.tensor([0.0, 0.0])).tolist()[0], 4)
    -0.6931
    """
    x = real_float(x, "log_softmax")
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    w = _wide(x)
    if w is not None:
        return log_softmax(w, axis).astype(x.dtype)
    return LogSoftmax.apply(x, axis=axis_index(axis, x.ndim))


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
    the mean.  -inf logits (masked classes) get probability 0.  A row with two or more
    logits tied at +inf (overflowed float16 logits) has a NaN loss and gradient, as in
    PyTorch, so ``gg.amp.GradScaler`` skips the step (an ignored row's loss stays 0).

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
    checked as :func:`cross_entropy` checks them.

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
        picked = where(bad, picked * float("nan"), picked)   # its gradient too
    if reduction == "none":
        return picked
    if reduction == "sum":
        return picked.sum()
    return picked.sum() / valid.sum().astype(picked.dtype).clip(1, None)
