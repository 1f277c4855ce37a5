"""Parameter initialization, in place, from gpugrad's seeded generators.

Fans follow gpugrad's weight layout: a 2-D weight is (in_features, out_features), so
``fan_in = shape[0]`` and ``fan_out = shape[1]`` (PyTorch's (out, in) layout is the
transpose); for more dimensions ``fan_in = prod(shape[:-1])`` and ``fan_out = shape[-1]``.
The default :class:`~gpugrad.nn.Linear` initialization is PyTorch's:
``kaiming_uniform_(W, a=sqrt(5))`` (that is U(-1/sqrt(in), 1/sqrt(in))) and the bias from
the same range.

>>> import gpugrad as gg
>>> gg.manual_seed(0)
>>> w = gg.empty(100, 50)
>>> _ = kaiming_uniform_(w, nonlinearity="relu")
>>> bool(abs(w.numpy()).max() <= (6 / 100) ** 0.5)
True
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes, random as _random
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "default_linear_init_"]

_LINEAR_LIKE = ("linear", "identity", "sigmoid")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for an activation (PyTorch's values).

    >>> calculate_gain("relu") == math.sqrt(2), calculate_gain("tanh")
    (True, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"leaky_relu gain: expected a number for the negative slope, got "
                             f"{slope!r}")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{_LINEAR_LIKE + ('tanh', 'relu', 'leaky_relu', 'selu')}")


def _fans(t):
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions, got "
                         f"shape {tuple(shape)}")
    return int(np.prod(shape[:-1])), int(shape[-1])


def _check(t, name):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if not dtypes.is_floating(t.dtype):
        raise TypeError(f"{name}: expected a floating tensor, got dtype {t.dtype.name}")


def _draw(t, kind, generator):
    g = generator if generator is not None else _random.generator(t.device)
    dt = t.dtype if t.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    arr = g.random(t.shape, dtype=dt) if kind == "uniform" else g.normal(t.shape, dtype=dt)
    return arr


def _finite(name, **args):
    """ValueError naming the first of ``args`` that is not a finite number (a fill from it
    would leave NaN or infinity in the weights)."""
    for k, v in args.items():
        if not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite {k}, got {v!r}")


def _write(t, arr, name=None):
    """Write ``arr`` into ``t``; for a random fill (``name`` given) first check that its
    values stay finite in ``t``'s dtype (float16 overflows past 65504): nothing is written
    otherwise."""
    if name is not None:
        xp = get_array_module(arr)
        with np.errstate(over="ignore"):
            cast = arr.astype(t.dtype, copy=False)
        if not bool(xp.isfinite(cast).all()):
            raise ValueError(f"{name}: the values drawn do not fit in the tensor's dtype "
                             f"{t.dtype.name} (they overflow to infinity); use a smaller "
                             f"range or a wider dtype")
        arr = cast
    t.data[...] = arr
    t._vc[0] += 1
    return t


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with U(a, b).

    >>> import gpugrad as gg
    >>> bool((uniform_(gg.empty(1000), -1, 1).numpy() >= -1).all())
    True
    """
    _check(tensor, "uniform_")
    _finite("uniform_", a=a, b=b)
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    u = _draw(tensor, "uniform", generator)
    return _write(tensor, u * (b - a) + a, "uniform_")


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with N(mean, std**2).

    >>> import gpugrad as gg
    >>> abs(float(normal_(gg.empty(10000), 3.0, 0.1).numpy().mean()) - 3.0) < 0.01
    True
    """
    _check(tensor, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_: expected std >= 0, got {std}")
    _finite("normal_", mean=mean, std=std)
    n = _draw(tensor, "normal", generator)
    return _write(tensor, n * std + mean, "normal_")


def constant_(tensor, value: float):
    """Fill with ``value``.

    >>> import gpugrad as gg
    >>> constant_(gg.empty(2), 0.5).tolist()
    [0.5, 0.5]
    """
    _check(tensor, "constant_")
    return _write(tensor, value)


def zeros_(tensor):
    """Fill with zeros.

    >>> import gpugrad as gg
    >>> zeros_(gg.ones(2)).tolist()
    [0.0, 0.0]
    """
    return constant_(tensor, 0.0)


def ones_(tensor):
    """Fill with ones.

    >>> import gpugrad as gg
    >>> ones_(gg.zeros(2)).tolist()
    [1.0, 1.0]
    """
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    >>> import gpugrad as gg
    >>> bool(abs(xavier_uniform_(gg.empty(30, 70)).numpy()).max() <= math.sqrt(6 / 100))
    True
    """
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _fans(tensor)
    if fan_in + fan_out == 0:       # no elements: nothing to fill (as PyTorch)
        return tensor
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> import gpugrad as gg
    >>> xavier_normal_(gg.empty(30, 70)).shape
    (30, 70)
    """
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _fans(tensor)
    if fan_in + fan_out == 0:       # no elements: nothing to fill (as PyTorch)
        return tensor
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        return 0.0
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); ``a`` is the leaky_relu slope.

    >>> import gpugrad as gg
    >>> w = kaiming_uniform_(gg.empty(16, 4), a=math.sqrt(5))   # PyTorch's Linear default
    >>> bool(abs(w.numpy()).max() <= 1 / 4)
    True
    """
    _check(tensor, "kaiming_uniform_")
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """He normal: N(0, std**2) with std = gain / sqrt(fan).

    >>> import gpugrad as gg
    >>> kaiming_normal_(gg.empty(8, 3), nonlinearity="relu").shape
    (8, 3)
    """
    _check(tensor, "kaiming_normal_")
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def default_linear_init_(weight, bias=None, generator=None):
    """PyTorch's default Linear initialization for a (in, out) weight and its bias:
    both from U(-1/sqrt(in), 1/sqrt(in)).

    >>> import gpugrad as gg
    >>> w, b = gg.empty(4, 3), gg.empty(3)
    >>> _ = default_linear_init_(w, b); bool(abs(b.numpy()).max() <= 0.5)
    True
    """
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in = _fans(weight)[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator)
    return weight
