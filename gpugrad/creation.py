"""Tensor creation: constants, ranges, identity, random, and the ``*_like`` family.

New floating tensors are float32 unless ``dtype`` says otherwise; they go to ``device`` or
the default device.

>>> import gpugrad as gg
>>> gg.zeros(2, 3).shape, gg.arange(4).dtype, gg.eye(2).tolist()
((2, 3), dtype('int64'), [[1.0, 0.0], [0.0, 1.0]])
"""
from __future__ import annotations

import numpy as np

from . import backend, capture_hooks, dtypes
from . import random as _random
from .tensor import Tensor

__all__ = ["zeros", "ones", "full", "empty", "arange", "linspace", "eye", "rand", "randn",
           "randint", "zeros_like", "ones_like", "full_like", "empty_like", "rand_like",
           "randn_like"]


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"expected a shape of non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def _finish(arr, requires_grad):
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _make(fill, shape, dtype, device, requires_grad, default=dtypes.float32):
    dev = backend.device(device)
    dt = dtypes.as_dtype(dtype) or default
    xp = dev.xp
    with dev._activated():
        arr = fill(xp, shape, dt)
    if capture_hooks._on and capture_hooks.active() is not None:  # gpugrad.compile: a
        capture_hooks.constant(lambda: _refill(dev, fill, shape, dt), arr)  # replay makes
    return _finish(arr, requires_grad)                                     # it anew


def _refill(dev, fill, shape, dt):
    with dev._activated():
        return fill(dev.xp, shape, dt)


def zeros(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of zeros.

    >>> zeros(2).tolist()
    [0.0, 0.0]
    """
    return _make(lambda xp, s, d: xp.zeros(s, d), _shape(shape), dtype, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ones.

    >>> ones(2, dtype="int64").tolist()
    [1, 1]
    """
    return _make(lambda xp, s, d: xp.ones(s, d), _shape(shape), dtype, device, requires_grad)


def empty(*shape, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialized tensor.

    >>> empty(3).shape
    (3,)
    """
    return _make(lambda xp, s, d: xp.empty(s, d), _shape(shape), dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor filled with ``fill_value`` (its dtype inferred from the value by default).

    >>> full((2,), 7).tolist()
    [7, 7]
    """
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (tuple(shape),))
    default = dtypes.default_dtype_for(fill_value) or dtypes.float32
    return _make(lambda xp, s, d: xp.full(s, fill_value, d), shape, dtype, device,
                 requires_grad, default)


def arange(start, stop=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Evenly spaced values in [start, stop); int64 for int arguments, else float32.

    >>> arange(3).tolist(), arange(0, 1, 0.5).tolist()
    ([0, 1, 2], [0.0, 0.5])
    """
    if stop is None:
        start, stop = 0, start
    default = dtypes.default_dtype_for([start, stop, step])
    return _make(lambda xp, s, d: xp.arange(start, stop, step, dtype=d), None, dtype, device,
                 requires_grad, default)


def linspace(start, stop, num=50, endpoint=True, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """``num`` evenly spaced values from start to stop: float32 unless ``dtype`` says
    otherwise or a 0-d tensor endpoint is floating (then its dtype, NumPy's promotion with
    the other endpoint; the result is differentiable in them).

    >>> linspace(0, 1, 3).tolist()
    [0.0, 0.5, 1.0]
    """
    if isinstance(start, Tensor) or isinstance(stop, Tensor):
        from ._linspace import linspace_of_tensors

        return linspace_of_tensors(start, stop, num, endpoint, dtype, device, requires_grad)
    return _make(lambda xp, s, d: xp.linspace(start, stop, num, endpoint=endpoint, dtype=d),
                 None, dtype, device, requires_grad)


def eye(n, m=None, k=0, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The identity matrix (ones on diagonal ``k``).

    >>> eye(2, 3).shape
    (2, 3)
    """
    return _make(lambda xp, s, d: xp.eye(n, m, k, dtype=d), None, dtype, device, requires_grad)


def rand(*shape, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator (see ``gpugrad.manual_seed``).

    >>> rand(2, 2).shape
    (2, 2)
    """
    dev = backend.device(device)
    dt = dtypes.as_dtype(dtype) or dtypes.float32
    _float_only(dt, "rand")
    g = generator or _random.generator(dev)
    return _finish(g.random(_shape(shape), dtype=dt), requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal samples from the seeded generator.

    >>> randn(3).dtype
    dtype('float32')
    """
    dev = backend.device(device)
    dt = dtypes.as_dtype(dtype) or dtypes.float32
    _float_only(dt, "randn")
    g = generator or _random.generator(dev)
    arr = g.normal(_shape(shape), dtype=dt)       # (float16: drawn in float32, rounded)
    return _finish(arr.astype(dt, copy=False), requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, generator=None) -> Tensor:
    """Random integers in [low, high).

    >>> 0 <= randint(5, size=(3,)).tolist()[0] < 5
    True
    """
    if high is None:
        low, high = 0, low
    dev = backend.device(device)
    g = generator or _random.generator(dev)
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor._make(g.integers(low, high, size, dtype=dtypes.as_dtype(dtype) or dtypes.int64))


def _float_only(dt, name):
    if not dtypes.is_floating(dt):
        raise TypeError(f"{name}: expected a floating dtype, got {dt.name}")


def _like(fn):
    def like(t, dtype=None, device=None, requires_grad=False, **kw):
        t = t if isinstance(t, Tensor) else Tensor(t)
        return fn(*t.shape, dtype=dtype or t.dtype, device=device or t.device,
                  requires_grad=requires_grad, **kw)
    like.__name__ = fn.__name__ + "_like"
    like.__doc__ = (f"{fn.__name__}() with the shape, dtype and device of ``t``.\n\n"
                    f">>> {fn.__name__}_like(ones(2, 3)).shape\n(2, 3)\n")
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """full() with the shape, dtype and device of ``t``.

    >>> full_like(ones(2), 5.0).tolist()
    [5.0, 5.0]
    """
    t = t if isinstance(t, Tensor) else Tensor(t)
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)
