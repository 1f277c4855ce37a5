"""Activations with parameters: leaky_relu (slope), gelu (exact or tanh), softplus (beta,
threshold).  The parameter-free ones (relu, sigmoid, tanh, silu) are rows of elementwise.py's
unary table.  On float16/bfloat16 input they compute in float32 and round once.

>>> import gpugrad as gg
>>> gg.leaky_relu(gg.tensor([-1.0, 2.0]), 0.5).tolist()
[-0.5, 2.0]
"""
from __future__ import annotations

from ..autograd import Function
from ._util import widened, xp_of
from .unary import _OPS, _float_operand, _sig

__all__ = ["leaky_relu", "gelu", "softplus"]


class LeakyRelu(Function):
    saves_output = True
    twice_differentiable = True  # g times a slope picked by the answer's sign

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, negative_slope=0.01):
        xp = xp_of(x)
        self.slope = negative_slope
        narrow, (w,) = widened(x)   # 16-bit: x * slope in float32, rounded once
        ans = xp.where(w > 0, w, w * w.dtype.type(negative_slope))
        ans = ans if narrow is None else ans.astype(narrow)
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (ans,) = self.saved
        narrow, (w,) = widened(g)
        gx = w * xp_of(g).where(ans > 0, w.dtype.type(1), w.dtype.type(self.slope))
        return (gx if narrow is None else gx.astype(narrow),)


def leaky_relu(x, negative_slope=0.01):
    """max(x, 0) + negative_slope * min(x, 0).

    >>> import gpugrad as gg
    >>> gg.leaky_relu(gg.tensor([-2.0, 3.0]), 0.25).tolist()
    [-0.5, 3.0]
    """
    if negative_slope < 0:
        raise ValueError(f"negative_slope must be >= 0, got {negative_slope}")
    return LeakyRelu.apply(_float_operand(x, "leaky_relu"), negative_slope=negative_slope)


def gelu(x, approximate="none"):
    """GELU: x * Phi(x) with ``approximate="none"`` (exact, erf) or ``"tanh"``.

    >>> import gpugrad as gg
    >>> round(gg.gelu(gg.tensor(1.0)).item(), 4)
    0.8413
    """
    if approximate == "none":
        return _OPS["gelu"][1](x)
    if approximate == "tanh":
        return _OPS["gelu_tanh"][1](x)
    raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")


class Softplus(Function):
    twice_differentiable = True  # g * sigmoid(beta x): the Sigmoid op on Tensors

    def forward(self, x, beta=1.0, threshold=20.0):
        xp = xp_of(x)
        self.saved = (x,)
        self.beta, self.threshold = beta, threshold
        w = widened(x)[1][0]   # 16-bit: the formula in float32, rounded once
        bx = w * beta
        soft = xp.logaddexp(0, bx) / beta
        return xp.where(bx > threshold, w, soft).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved
        xp = xp_of(g)
        narrow, (w, x) = widened(g, x)
        bx = x * self.beta
        gx = w * xp.where(bx > self.threshold, 1, _sig(xp, bx)).astype(w.dtype)
        return (gx if narrow is None else gx.astype(narrow),)


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (as PyTorch).

    >>> import gpugrad as gg
    >>> round(gg.softplus(gg.tensor(0.0)).item(), 4)
    0.6931
    """
    return Softplus.apply(_float_operand(x, "softplus"), beta=beta, threshold=threshold)
