"""Scalar activation math of the CPU epilogues (kernels/cpu.py), folded per activation code:
``_act(v, code, slope)`` and its derivative ``_dact(y, z, code, slope)``, evaluated in float64.
cuda_numba compiles the same Python functions (``_act.py_func``) as CUDA device functions.
Numba's disk cache of the epilogues that inline them is keyed on kernels/cpu.py alone: after
changing this file, touch cpu.py (or clear kernels/__pycache__) so that they compile again.

>>> from gpugrad.kernels.activations import RELU
>>> _act(-2.0, RELU, 0.0), _dact(3.0, 3.0, RELU, 0.0)
(0.0, 1.0)
"""
import math

from numba import njit

from .activations import GELU, GELU_TANH, LEAKY_RELU, RELU, SIGMOID, SILU, TANH

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# gelu's Phi(v) = erfc(-v / sqrt 2) / 2 to full relative precision down to its underflow: the
# argument carried as two doubles, t + e (1/sqrt 2 = _SQRT_HALF_HI + _SQRT_HALF_LO, with _HI of
# 24 bits; v rounded to a multiple of 2**-20 by adding and taking off _ROUND20 gives a head of
# <= 26 bits, whose product with _HI is exact), then erfc(t + e) = erfc(t) - e 2/sqrt(pi) e^-t^2.
# Plain erfc(-v * 0.7071...) is off by ~v^2 ulps (2e-13 relative at v = -37).
_SQRT_HALF_HI = 0.7071067690849304              # float32(1 / sqrt 2), exactly
_SQRT_HALF_LO = 1.210161710447897e-08           # 1 / sqrt 2 - _SQRT_HALF_HI
_ROUND20 = 6442450944.0                         # 1.5 * 2**32: its ulp is 2**-20
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_GELU_TAIL = 64.0   # |v| beyond: Phi(v) is exactly 0 or 1 in float64, the pdf terms exactly 0
_K2 = 2.0 * _SQRT_2_OVER_PI                     # gelu_tanh: 2u = _K2 * (v + 0.044715 v^3)


# --------------------------------------------------------------- scalar activations (code-folded)

# Plain math only (no calls to other jitted functions): cuda_numba compiles the same Python
# functions (``_act.py_func``) as CUDA device functions.
@njit(inline="always")
def _act(v, code, slope):
    if code == RELU:
        return 0.0 if v < 0 else v
    if code == LEAKY_RELU:
        return v * slope if v < 0 else v
    if code == GELU:                 # v Phi(v), Phi as explained at _SQRT_HALF_HI
        if v < -_GELU_TAIL:          # (the limit -0 at -inf too, where v * 0 is nan)
            return -0.0
        if v > _GELU_TAIL:
            return v + 0.0
        h = (v + _ROUND20) - _ROUND20
        p = h * -_SQRT_HALF_HI
        q = (v - h) * -_SQRT_HALF_HI - v * _SQRT_HALF_LO
        t = p + q
        return 0.5 * v * (math.erfc(t) - ((p - t) + q) * _TWO_OVER_SQRT_PI * math.exp(-t * t))
    if code == GELU_TANH:            # v (1 + tanh u) / 2 = v sigmoid(2u): no 1 + tanh to cancel
        w = _K2 * (v + 0.044715 * v * v * v)
        e = math.exp(-abs(w))        # sigmoid(w) = 1 / (1 + e) or e / (1 + e): nothing overflows
        s = 1.0 / (1.0 + e) if w >= 0 else e / (1.0 + e)
        return -0.0 if s == 0.0 else v * s   # s == 0: gelu(v) below 1e-308, or v = -inf
    if code == SILU:
        return v / (1.0 + math.exp(-v))
    if code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-v))
    if code == TANH:
        return math.tanh(v)
    return v + 0.0


@njit(inline="always")
def _dact(y, z, code, slope):
    """act'(.) from the output y (relu, leaky_relu, sigmoid, tanh) or pre-activation z."""
    if code == RELU:
        return 1.0 if y > 0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if y > 0 else slope
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == TANH:
        return 1.0 - y * y
    if code == GELU:                 # Phi(z) + z phi(z), Phi as in _act
        if z < -_GELU_TAIL:
            return 0.0
        if z > _GELU_TAIL:
            return 1.0
        h = (z + _ROUND20) - _ROUND20
        p = h * -_SQRT_HALF_HI
        q = (z - h) * -_SQRT_HALF_HI - z * _SQRT_HALF_LO
        t = p + q
        return (0.5 * (math.erfc(t) - ((p - t) + q) * _TWO_OVER_SQRT_PI * math.exp(-t * t))
                + z * _INV_SQRT_2PI * math.exp(-0.5 * z * z))
    if code == GELU_TANH:            # s + 2 z s (1 - s) u', s = sigmoid(2u), 1 - s = sigmoid(-2u)
        w = _K2 * (z + 0.044715 * z * z * z)
        e = math.exp(-abs(w))
        d = 1.0 / (1.0 + e)
        s = d if w >= 0 else e * d
        r = e * d * d                # s (1 - s) = (1 - tanh(u)^2) / 4, either sign of w
        return s if r == 0.0 else s + z * r * _K2 * (1.0 + 0.134145 * z * z)
    if code == SILU:
        s = 1.0 / (1.0 + math.exp(-z))
        return s * (1.0 + z * (1.0 - s))
    return 1.0
