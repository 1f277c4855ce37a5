"""The softmax family: logsumexp, softmax and log_softmax, with the array formulas they (and
the losses on them, :mod:`gpugrad.ops.logits`) share.

Every one is shifted by the maximum for stability, with the limits of :func:`max_shifted`:
``softmax([inf, 0])`` is ``[1, 0]``, a slice of all -inf is uniform, and two or more entries
tied at +inf (no limit) make their slice NaN, gradients too -- so float16 logits that overflow
reach a loss scaler as NaN -- while logsumexp's value there is +inf.  float16 input is
computed in float32 and cast back (as PyTorch does on the CPU).  softmax and log_softmax are
not defined on complex numbers (PyTorch refuses them too): complex input is a TypeError, never
a cast that drops the imaginary part.  logsumexp is holomorphic and takes complex input.

All of them are twice differentiable: their backward formulas read only the input and the
forward's answer, and run on Tensors under ``create_graph=True``.

>>> import gpugrad as gg
>>> gg.softmax(gg.tensor([0.0, 0.0])).tolist()
[0.5, 0.5]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..dtypes import is_floating
from ..tensor import Tensor
from ._axis_args import axis_index
from ._util import no_complex, tensor_arg, xp_of
from .reduce import _count, _Reduce, _wide
from ..autocast_state import _state as _amp, to_float32 as _amp_f32

__all__ = ["logsumexp", "softmax", "log_softmax"]


def real_float(x, op):
    """``x`` as a real floating tensor for ``op``: integers and bools become float32; complex
    input is a TypeError (:func:`no_complex`)."""
    x = no_complex(tensor_arg(x), op)
    return x if is_floating(x.dtype) else x.astype(np.float32)


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
