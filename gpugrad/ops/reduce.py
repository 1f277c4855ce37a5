"""Reductions: sum, mean, var, std, max/min, prod, logsumexp, cumsum, argmax/argmin.

``max``/``min`` route the gradient to the extreme element like a max gate; when several
elements tie for the extreme, the gradient is split evenly among them (as HIPS autograd
does, and as ``numpy.maximum``'s subgradient convention suggests).  PyTorch's full
reductions do the same; its ``dim=`` reductions pick one index instead.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 3.0, 3.0], requires_grad=True)
>>> x.max().backward(); x.grad.tolist()
[0.0, 0.5, 0.5]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._util import expand_reduced, normalize_axis, tensor_arg, xp_of

__all__ = ["sum", "mean", "var", "std", "max", "min", "amax", "amin", "prod", "logsumexp",
           "cumsum", "argmax", "argmin", "all", "any"]

_builtin_sum = sum


class _Reduce(Function):
    def _setup(self, x, axis, keepdims):
        self.shape = x.shape
        self.axes = normalize_axis(axis, x.ndim)
        self.keepdims = keepdims
        return self.axes if axis is not None else None

    def _expand(self, g):
        return expand_reduced(g, self.shape, self.axes, self.keepdims)


class Sum(_Reduce):
    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis=None, keepdims=False, dtype=None):
        ax = self._setup(x, axis, keepdims)
        self.in_dtype = x.dtype
        return x.sum(axis=ax, keepdims=keepdims, dtype=dtype)

    def backward(self, g):
        xp = xp_of(g)
        return (xp.broadcast_to(self._expand(g), self.shape).astype(self.in_dtype),)


class Mean(_Reduce):
    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis=None, keepdims=False):
        ax = self._setup(x, axis, keepdims)
        self.n = int(np.prod([x.shape[i] for i in self.axes])) if x.ndim else 1
        return x.mean(axis=ax, keepdims=keepdims)

    def backward(self, g):
        xp = xp_of(g)
        return (xp.broadcast_to(self._expand(g) / self.n, self.shape),)


class Var(_Reduce):
    def forward(self, x, axis=None, keepdims=False, ddof=0):
        ax = self._setup(x, axis, keepdims)
        n = int(np.prod([x.shape[i] for i in self.axes])) if x.ndim else 1
        if n - ddof <= 0:
            raise ValueError(f"var: ddof={ddof} leaves no degrees of freedom for {n} elements")
        centered = x - x.mean(axis=ax, keepdims=True)
        self.saved = (centered,)
        self.denom = n - ddof
        return (centered * centered).sum(axis=ax, keepdims=keepdims) / self.denom

    def backward(self, g):
        (centered,) = self.saved
        return (self._expand(g) * centered * (2.0 / self.denom),)


class _Extreme(_Reduce):
    saves_output = True
    pick = None

    def forward(self, x, axis=None, keepdims=False):
        ax = self._setup(x, axis, keepdims)
        if x.size == 0:
            raise ValueError(f"{type(self).__name__.lower()} of an empty tensor")
        ans = getattr(x, self.pick)(axis=ax, keepdims=keepdims)
        self.saved = (x, ans)
        return ans

    def backward(self, g):
        x, ans = self.saved
        mask = x == self._expand(ans)
        count = mask.sum(axis=self.axes, keepdims=True)
        return (self._expand(g) * mask / count,)


class Max(_Extreme):
    pick = "max"


class Min(_Extreme):
    pick = "min"


class Prod(_Reduce):
    def forward(self, x, axis=None, keepdims=False):
        ax = self._setup(x, axis, keepdims)
        self.saved = (x,)
        return x.prod(axis=ax, keepdims=keepdims)

    def backward(self, g):
        # product of all the other elements, zeros included: exclusive cumprods both ways
        (x,) = self.saved
        xp = xp_of(x)
        axes = self.axes
        rest = [i for i in range(x.ndim) if i not in axes]
        perm = rest + list(axes)
        xt = x.transpose(perm)
        lead = xt.shape[:len(rest)]
        flat = xt.reshape(lead + (-1,))
        ones = xp.ones(lead + (1,), dtype=x.dtype)
        left = xp.cumprod(xp.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(flat, -1)[..., :-1]],
                                                  axis=-1), axis=-1), -1)
        others = (left * right).reshape(xt.shape).transpose(np.argsort(perm))
        return (self._expand(g) * others,)


class LogSumExp(_Reduce):
    saves_output = True

    def forward(self, x, axis=None, keepdims=False):
        ax = self._setup(x, axis, keepdims)
        xp = xp_of(x)
        m = x.max(axis=ax, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        ans = xp.log(xp.exp(x - m).sum(axis=ax, keepdims=True)) + m
        self.saved = (x, ans)
        return ans if keepdims else ans.reshape(_reduced_shape(x.shape, self.axes))

    def backward(self, g):
        x, ans = self.saved
        return (self._expand(g) * xp_of(x).exp(x - ans),)


class CumSum(Function):
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


def _reduced_shape(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _float(x):
    x = tensor_arg(x)
    if x.dtype.kind in "biu":
        return x.astype(np.float32) if x.dtype.itemsize <= 4 else x.astype(np.float64)
    return x


def sum(x, axis=None, keepdims=False, dtype=None):
    """Sum over ``axis`` (None: all).

    >>> import gpugrad as gg
    >>> gg.sum(gg.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0).tolist()
    [4.0, 6.0]
    """
    return Sum.apply(tensor_arg(x), axis=axis, keepdims=keepdims, dtype=dtype)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``.

    >>> import gpugrad as gg
    >>> gg.mean(gg.tensor([1.0, 2.0, 6.0])).item()
    3.0
    """
    return Mean.apply(_float(x), axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance with NumPy's ``ddof`` (0: population; PyTorch's default is ddof=1).

    >>> import gpugrad as gg
    >>> gg.var(gg.tensor([1.0, 3.0])).item()
    1.0
    """
    return Var.apply(_float(x), axis=axis, keepdims=keepdims, ddof=ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation (sqrt of :func:`var`).

    >>> import gpugrad as gg
    >>> gg.std(gg.tensor([1.0, 3.0])).item()
    1.0
    """
    from .elementwise import sqrt

    return sqrt(var(x, axis=axis, keepdims=keepdims, ddof=ddof))


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
    return Prod.apply(tensor_arg(x), axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) computed stably.

    >>> import gpugrad as gg
    >>> round(gg.logsumexp(gg.tensor([0.0, 0.0])).item(), 4)
    0.6931
    """
    return LogSumExp.apply(_float(x), axis=axis, keepdims=keepdims)


def cumsum(x, axis=None):
    """Cumulative sum (flattened when ``axis`` is None, as NumPy).

    >>> import gpugrad as gg
    >>> gg.cumsum(gg.tensor([1.0, 2.0, 3.0])).tolist()
    [1.0, 3.0, 6.0]
    """
    x = tensor_arg(x)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim)[0]
    return CumSum.apply(x, axis=axis)


class _ArgReduce(Function):
    differentiable = False

    def forward(self, x, axis=None, keepdims=False, pick="argmax"):
        return getattr(xp_of(x), pick)(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (no gradient).

    >>> import gpugrad as gg
    >>> gg.argmax(gg.tensor([1.0, 9.0, 3.0])).item()
    1
    """
    x = tensor_arg(x)
    if axis is not None:
        normalize_axis(axis, x.ndim)
    return _ArgReduce.apply(x, axis=axis, keepdims=keepdims, pick="argmax")


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (no gradient).

    >>> import gpugrad as gg
    >>> gg.argmin(gg.tensor([1.0, 9.0, -3.0])).item()
    2
    """
    x = tensor_arg(x)
    if axis is not None:
        normalize_axis(axis, x.ndim)
    return _ArgReduce.apply(x, axis=axis, keepdims=keepdims, pick="argmin")


class _Logical(Function):
    differentiable = False

    def forward(self, x, axis=None, keepdims=False, pick="all"):
        return getattr(xp_of(x), pick)(x, axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims=False):
    """True where every element along ``axis`` is true.

    >>> import gpugrad as gg
    >>> gg.all(gg.tensor([1, 0])).item()
    False
    """
    return _Logical.apply(tensor_arg(x), axis=axis, keepdims=keepdims, pick="all")


def any(x, axis=None, keepdims=False):
    """True where some element along ``axis`` is true.

    >>> import gpugrad as gg
    >>> gg.any(gg.tensor([1, 0])).item()
    True
    """
    return _Logical.apply(tensor_arg(x), axis=axis, keepdims=keepdims, pick="any")
