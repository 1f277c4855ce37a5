"""Reductions: sum, mean, max/min, prod, cumsum; var and std in
:mod:`gpugrad.ops.reduce_moments`, argmax/argmin/all/any (no gradient) in
:mod:`gpugrad.ops.reduce_nograd`, both re-exported here (logsumexp lives with the softmax
family, in softmax_family.py).

``max``/``min`` route the gradient to the extreme element like a max gate; when several
elements tie for the extreme, the gradient is split evenly among them (as HIPS autograd
does, and as ``numpy.maximum``'s subgradient convention suggests).  PyTorch's full
reductions do the same; its ``dim=`` reductions pick one index instead.

float16 input is accumulated in float32 (as PyTorch does on the CPU) and the result is
returned in float16, forward and backward: a mean over more than 65504 elements, or a variance
of large, close values, stays right.  ``mean``/``var``/``std`` of integers and bools give
float64, as NumPy.  Over empty shapes the results are NumPy's (``sum`` 0, ``prod`` 1,
``mean``/``var`` NaN with NumPy's warning; ``max``/``min`` raise).

All are twice differentiable (each backward reads only x and the answer, and runs on
Tensors).  Complex gradients, as PyTorch's: sum, mean, cumsum, var, std, prod (g * conj).

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 3.0, 3.0], requires_grad=True)
>>> x.max().backward(); x.grad.tolist()
[0.0, 0.5, 0.5]
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._axis_args import axis_index
from ._util import expand_reduced, normalize_axis, tensor_arg, xp_of

__all__ = ["sum", "mean", "var", "std", "max", "min", "amax", "amin", "prod", "cumsum",
           "argmax", "argmin", "all", "any"]


def low_precision(dtype) -> bool:
    """True for float dtypes narrower than float32 (float16, bfloat16): reductions,
    normalizers and losses compute those in float32 and cast the result back."""
    return dtype.itemsize == 2 and dtype.char in "eE"  # 'E': ml_dtypes' bfloat16


def _count(shape, axes):
    return math.prod(shape[i] for i in axes)


class _Reduce(Function):
    twice_differentiable = True  # every backward below reads only x and ans, and runs on Tensors

    def _setup(self, x, axis, keepdims):
        self.shape = x.shape
        self.axes = tuple(range(x.ndim)) if axis is None else normalize_axis(axis, x.ndim)
        if not x.ndim:  # a 0-d tensor's axis 0 (or -1) is no axis to reduce (as PyTorch)
            self.axes = ()
        self.keepdims = keepdims
        self.in_dtype = x.dtype
        return self.axes if axis is not None else None

    def _expand(self, g):
        return expand_reduced(g, self.shape, self.axes, self.keepdims)

    def _zeros(self, g):
        """The gradient of an empty input (nothing to compute, and nothing to warn about): an
        array on g's device, a constant also under create_graph."""
        g = g.data if isinstance(g, Tensor) else g
        return (xp_of(g).zeros(self.shape, dtype=self.in_dtype),)


class Sum(_Reduce):
    complex_grad = True  # linear in its input: g passes unconjugated

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis=None, keepdims=False, dtype=None):
        ax = self._setup(x, axis, keepdims)
        if dtype is None and low_precision(x.dtype):
            return x.sum(axis=ax, keepdims=keepdims, dtype=np.float32).astype(x.dtype)
        return x.sum(axis=ax, keepdims=keepdims, dtype=dtype)

    def backward(self, g):
        xp = xp_of(g)
        return (xp.broadcast_to(self._expand(g), self.shape).astype(self.in_dtype),)


class Mean(_Reduce):
    complex_grad = True  # linear in its input: g passes unconjugated

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis=None, keepdims=False):
        ax = self._setup(x, axis, keepdims)
        self.n = _count(x.shape, self.axes)
        if low_precision(x.dtype):
            return x.mean(axis=ax, keepdims=keepdims, dtype=np.float32).astype(x.dtype)
        return x.mean(axis=ax, keepdims=keepdims)

    def backward(self, g):
        xp = xp_of(g)
        if self.n == 0:
            return self._zeros(g)
        g = self._expand(g)
        if low_precision(g.dtype):  # 1/N in float16 is 0 once N > 65504
            g = g.astype(np.float32)
        r = xp.broadcast_to(g / self.n, self.shape)
        return (r if r.dtype == self.in_dtype else r.astype(self.in_dtype),)


def attains(xp, x, e):
    """Where ``x`` attains the extreme ``e`` (a max or min broadcast against ``x``): ``x == e``,
    and where ``e`` is NaN, the NaN entries of ``x``.  NaN != NaN, so ``x == e`` alone would
    give a NaN answer no entry, and its gradient 0/0 = NaN on every entry of the slice.

    >>> attains(np, np.array([1.0, np.nan, 2.0]), np.array([np.nan])).tolist()
    [False, True, False]
    """
    return xp.where(xp.isnan(e), xp.isnan(x), x == e)


class _Extreme(_Reduce):
    saves_output = True
    pick = None

    def forward(self, x, axis=None, keepdims=False):
        ax = self._setup(x, axis, keepdims)
        if _count(x.shape, self.axes) == 0:
            raise ValueError(f"{self.pick} of an empty tensor (shape {x.shape}, axis {axis}): "
                             f"zero-size array to reduction operation {self.pick} which has "
                             f"no identity")
        ans = getattr(x, self.pick)(axis=ax, keepdims=keepdims)
        self.saved = (x, ans)
        return ans

    def backward(self, g):
        x, ans = self.saved
        mask = attains(xp_of(g), x, self._expand(ans))
        count = mask.sum(axis=self.axes, keepdims=True)
        return (self._expand(g) * mask / count,)


class Max(_Extreme):
    pick = "max"


class Min(_Extreme):
    pick = "min"


class Prod(_Reduce):
    complex_grad = True  # g * conj(product of the others), as PyTorch

    def forward(self, x, axis=None, keepdims=False):
        ax = self._setup(x, axis, keepdims)
        self.saved = (x,)
        return x.prod(axis=ax, keepdims=keepdims)

    def backward(self, g):
        # the product of all the other elements, exact with zeros present
        (x,) = self.saved
        if x.size == 0:
            return self._zeros(g)
        xp = xp_of(x)
        axes = self.axes
        rest = [i for i in range(x.ndim) if i not in axes]
        perm = rest + list(axes)
        xt = x.transpose(perm)
        lead = xt.shape[:len(rest)]
        n = _count(x.shape, axes)
        flat = xt.reshape(lead + (n,))
        # exclusive cumulative products from both ends: O(n), and on Tensors (create_graph)
        # cumprod's own exact backward makes it differentiable as often as wanted
        ones = xp.ones(lead + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]],
                                                  axis=-1), axis=-1), -1)
        others = left * right
        back = [perm.index(i) for i in range(x.ndim)]
        others = others.reshape(xt.shape).transpose(back)
        if others.dtype.kind == "c":
            others = xp.conj(others)
        return (self._expand(g) * others,)


class CumSum(Function):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis=None):
        self.shape = x.shape
        self.axis = axis
        if axis is None:
            return xp_of(x).cumsum(x.reshape(-1))
        return xp_of(x).cumsum(x, axis=axis)

    def backward(self, g):
        xp = xp_of(g)
        ax = 0 if self.axis is None else self.axis
        r = xp.flip(xp.cumsum(xp.flip(g, ax), axis=ax), ax)
        return (r.reshape(self.shape),)


def _float64(x):
    """Integers and bools as float64: NumPy's result dtype for mean/var/std."""
    x = tensor_arg(x)
    return x.astype(np.float64) if x.dtype.kind in "biu" else x


from ..autocast_state import _state as _amp, to_float32 as _amp_f32


def _wide(x):
    """``x`` in float32 when it is float16 (reductions accumulate there), else None."""
    return x.astype(np.float32) if low_precision(x.dtype) else None


def sum(x, axis=None, keepdims=False, dtype=None):
    """Sum over ``axis`` (None: all).

    >>> import gpugrad as gg
    >>> gg.sum(gg.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0).tolist()
    [4.0, 6.0]
    """
    x = tensor_arg(x)
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    if axis is None and keepdims is False and dtype is None:  # forward's defaults: no kwargs
        return Sum.apply(x)
    return Sum.apply(x, axis=axis, keepdims=keepdims, dtype=dtype)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``.

    >>> import gpugrad as gg
    >>> gg.mean(gg.tensor([1.0, 2.0, 6.0])).item()
    3.0
    """
    x = _float64(x)
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    return Mean.apply(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; ties share the gradient evenly.

    >>> import gpugrad as gg
    >>> gg.max(gg.tensor([[1.0, 5.0], [7.0, 2.0]]), axis=1).tolist()
    [5.0, 7.0]
    """
    return Max.apply(tensor_arg(x), axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; ties share the gradient evenly.

    >>> import gpugrad as gg
    >>> gg.min(gg.tensor([4.0, -1.0])).item()
    -1.0
    """
    return Min.apply(tensor_arg(x), axis=axis, keepdims=keepdims)


amax, amin = max, min


def prod(x, axis=None, keepdims=False):
    """Product over ``axis``; the gradient is exact even with zeros present.

    >>> import gpugrad as gg
    >>> gg.prod(gg.tensor([2.0, 3.0, 4.0])).item()
    24.0
    """
    x = tensor_arg(x)
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    w = _wide(x)
    if w is not None:
        return prod(w, axis, keepdims).astype(x.dtype)
    return Prod.apply(x, axis=axis, keepdims=keepdims)


def cumsum(x, axis=None):
    """Cumulative sum (flattened when ``axis`` is None, as NumPy).

    >>> import gpugrad as gg
    >>> gg.cumsum(gg.tensor([1.0, 2.0, 3.0])).tolist()
    [1.0, 3.0, 6.0]
    """
    x = tensor_arg(x)
    if _amp.dtype is not None:  # autocast: a float32 op
        x = _amp_f32(x)
    if axis is not None:
        axis = axis_index(axis, x.ndim)
    w = _wide(x)
    if w is not None:
        return CumSum.apply(w, axis=axis).astype(x.dtype)
    return CumSum.apply(x, axis=axis)


# split out by idea (old import paths keep working): moments and the reductions with no gradient
from .reduce_moments import Std, Var, std, var  # noqa: E402,F401
from .reduce_nograd import _NoGrad, all, any, argmax, argmin  # noqa: E402,F401
