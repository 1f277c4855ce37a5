"""Plain ``xp`` (NumPy or CuPy) versions of every kernel: readable, obviously correct, slow.

They are the ground truth for the tests and the fallback for dtypes the fused kernels don't
handle (float16, ...). Inputs are assumed valid (the dispatch layer in ``__init__`` checks them).
Functions that return arrays never modify their inputs; the optimizer updates work in place.
"""
import math

import numpy

_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_HALF_HI = 0.7071067690849304              # float32(1 / sqrt 2), exactly
_SQRT_HALF_LO = 1.210161710447897e-08           # 1 / sqrt 2 - _SQRT_HALF_HI
_ROUND20 = 6442450944.0                         # 1.5 * 2**32: its ulp is 2**-20

# dtypes the fused kernels handle; any other dtype (float16, ...) runs this module instead
FAST_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def get_xp(a):
    """numpy or cupy, whichever module ``a`` belongs to (cupy is never imported here)."""
    if type(a).__module__.startswith("cupy"):
        import cupy
        return cupy
    return numpy


def _special(name, z):
    """scipy.special's (or cupyx's) ``name`` of ``z`` in z's dtype; math's without SciPy."""
    if get_xp(z) is not numpy:
        import cupyx.scipy.special
        return getattr(cupyx.scipy.special, name)(z)
    try:
        import scipy.special
        return getattr(scipy.special, name)(z).astype(z.dtype, copy=False)
    except ImportError:
        return numpy.vectorize(getattr(math, name), otypes=[z.dtype])(z)


def erf(z):
    return _special("erf", z)


def erfc(z):
    return _special("erfc", z)


def normal_cdf(z):
    """Phi(z) = erfc(-z / sqrt 2) / 2 of a float64 array, to full relative precision in the
    lower tail, down to its underflow (z ~ -38.5): the argument -z / sqrt 2 is carried as two
    doubles t + e (1/sqrt 2 split in a 24-bit head and a tail; z rounded to a multiple of 2**-20,
    a head of <= 26 bits whose product with the 24-bit head is exact), and erfc(t + e) =
    erfc(t) - e 2/sqrt(pi) exp(-t^2). Plain erfc(-z * 0.7071...) is off by ~z^2 ulps."""
    xp = get_xp(z)
    with numpy.errstate(all="ignore"):           # inf and nan pass through to erfc
        h = (z + _ROUND20) - _ROUND20            # (inf - inf = nan where |z| is inf: not used)
        p = h * -_SQRT_HALF_HI
        q = (z - h) * -_SQRT_HALF_HI - z * _SQRT_HALF_LO
        t = p + q
        cdf = 0.5 * (erfc(t) - ((p - t) + q) * (2 / math.sqrt(math.pi)) * xp.exp(-t * t))
    return xp.where(xp.abs(z) < 64, cdf, 0.5 * erfc(z * -_SQRT_HALF))


def _wide(z):
    """z in float64 (gelu's tails are evaluated in float64 and rounded once, as on the CPU
    kernels); z itself when it is float64 already."""
    return z if z.dtype == numpy.float64 else z.astype(numpy.float64)


def _sigmoid_pair(w):
    """(sigmoid(w), sigmoid(-w)) with no overflow and no 1 - s cancellation."""
    xp = get_xp(w)
    e = xp.exp(-xp.abs(w))
    d = 1 / (1 + e)
    pos = w >= 0
    return xp.where(pos, d, e * d), xp.where(pos, e * d, d)


def sigmoid(z):
    xp = get_xp(z)
    with numpy.errstate(over="ignore"):          # exp(-z) -> inf for z << 0 gives the right 0
        return 1 / (1 + xp.exp(-z))


# ---------------------------------------------------------------------------------- activations

_NARROW = "eE"   # float16 (and ml_dtypes' bfloat16): activations computed in float32


def act_forward(z, act, negative_slope=0.01):
    """act(z); for float16 z computed in float32 and rounded once (in float16 steps exp(-z)
    overflows at z < -11.09, where sigmoid(z) is still 1.5e-5)."""
    if z.dtype.char in _NARROW:
        return _act_forward(z.astype(numpy.float32), act, negative_slope).astype(z.dtype)
    return _act_forward(z, act, negative_slope)


def act_backward(dy, y, z, act, negative_slope=0.01):
    """dZ = dy * act'(.), from the output y (identity, relu, leaky_relu, sigmoid, tanh)
    or from the pre-activation z (gelu, gelu_tanh, silu); for float16 in float32, rounded
    once."""
    if dy.dtype.char in _NARROW:
        wide = [None if a is None else a.astype(numpy.float32) for a in (dy, y, z)]
        return _act_backward(*wide, act, negative_slope).astype(dy.dtype)
    return _act_backward(dy, y, z, act, negative_slope)


def _act_forward(z, act, negative_slope=0.01):
    xp = get_xp(z)
    if act == "identity":
        return z.copy()
    if act == "relu":
        return xp.where(z < 0, xp.zeros_like(z), z)
    if act == "leaky_relu":
        return xp.where(z < 0, z * z.dtype.type(negative_slope), z)
    if act in ("gelu", "gelu_tanh"):
        # z Phi(z), or z sigmoid(2u) = z (1 + tanh u) / 2 with u = sqrt(2/pi) (z + 0.044715 z^3):
        # no 1 + erf / 1 + tanh cancelling for z < 0. -0 at z = -inf (the limit; z * 0 is nan).
        w = _wide(z)
        with numpy.errstate(over="ignore", invalid="ignore"):
            if act == "gelu":
                cdf = normal_cdf(w)
            else:
                cdf = _sigmoid_pair(2 * _SQRT_2_OVER_PI * (w + 0.044715 * w * w * w))[0]
            y = xp.where(cdf == 0, -0.0, w * cdf)
        return y.astype(z.dtype, copy=False)
    if act == "silu":
        return z * sigmoid(z)
    if act == "sigmoid":
        return sigmoid(z)
    if act == "tanh":
        return xp.tanh(z)
    raise ValueError(f"unknown activation {act!r}")


def _act_backward(dy, y, z, act, negative_slope=0.01):
    xp = get_xp(dy)
    if act == "identity":
        return dy.copy()
    if act == "relu":
        return xp.where(y > 0, dy, xp.zeros_like(dy))
    if act == "leaky_relu":
        return xp.where(y > 0, dy, dy * dy.dtype.type(negative_slope))
    if act == "sigmoid":
        return dy * y * (1 - y)
    if act == "tanh":
        return dy * (1 - y * y)
    if act in ("gelu", "gelu_tanh"):
        # Phi(z) + z phi(z); or s + 2 z s (1 - s) u' with s = sigmoid(2u) and 1 - s = sigmoid(-2u)
        # (1 - tanh(u)^2 = 4 s (1 - s)). The z * (pdf-like) term is 0 where that factor is: its
        # limit at z = +-inf, where z * 0 would be nan.
        w = _wide(z)
        with numpy.errstate(over="ignore", invalid="ignore", under="ignore"):
            if act == "gelu":
                cdf = normal_cdf(w)
                pdf = _INV_SQRT_2PI * xp.exp(-0.5 * w * w)
            else:
                cdf, rest = _sigmoid_pair(2 * _SQRT_2_OVER_PI * (w + 0.044715 * w * w * w))
                pdf = cdf * rest * (2 * _SQRT_2_OVER_PI) * (1 + 3 * 0.044715 * w * w)
                pdf = xp.where(cdf * rest == 0, 0.0, pdf)
            d = cdf + xp.where(pdf == 0, 0.0, w * pdf)
        return dy * d.astype(dy.dtype, copy=False)
    if act == "silu":
        s = sigmoid(z)
        return dy * s * (1 + z * (1 - s))
    raise ValueError(f"unknown activation {act!r}")


# --------------------------------------------------------------------------------- linear layer

def linear_act_forward(x, W, b, act="identity", negative_slope=0.01):
    """y = act(x @ W + b); returns (y, z) with z the pre-activation when act needs it, else None."""
    from .activations import needs_preactivation
    z = x @ W
    if b is not None:
        z = z + b
    y = act_forward(z, act, negative_slope)
    return y, (z if needs_preactivation(act) else None)


def linear_act_backward(dy, x, W, y, z, act="identity", negative_slope=0.01,
                        needs_input_grad=(True, True, True), dW_out=None):
    dz = act_backward(dy, y, z, act, negative_slope)
    need_dx, need_dW, need_db = needs_input_grad
    dx = dz @ W.T if need_dx else None
    dW = x.T @ dz if need_dW else None
    if dW is not None and dW_out is not None:
        dW_out[...] = dW
        dW = dW_out
    db = _sum_rows(dz) if need_db else None
    return dx, dW, db


def _sum_rows(dz):
    """dz.sum(axis=0); float16 added in float32 (NumPy's float16 column sums stall in float16:
    5000 ones give 2048) and rounded once."""
    if dz.dtype.itemsize == 2:
        return dz.sum(axis=0, dtype=numpy.float32).astype(dz.dtype)
    return dz.sum(axis=0)


# ----------------------------------------------------------------------------------- optimizers

def sgd_update(param, grad, momentum_buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, maximize=False, first_step=False):
    """torch.optim.SGD, one step, in place on param (and momentum_buf)."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum != 0:
        if first_step:
            momentum_buf[...] = g
        else:
            momentum_buf *= momentum
            momentum_buf += (1 - dampening) * g
        g = g + momentum * momentum_buf if nesterov else momentum_buf
    param -= lr * g


def adam_update(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                weight_decay=0.0, decoupled=False, maximize=False, amsgrad=False,
                max_exp_avg_sq=None):
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True), one step, in place."""
    xp = get_xp(param)
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    exp_avg += (1 - beta1) * (g - exp_avg)
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    v = exp_avg_sq
    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    denom = xp.sqrt(v) / math.sqrt(bias_correction2) + eps
    param -= (lr / bias_correction1) * (exp_avg / denom)
