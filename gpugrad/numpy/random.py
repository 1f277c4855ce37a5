"""``gpugrad.numpy.random``: NumPy's ``default_rng`` Generator producing tensors, and the
legacy module-level functions (``seed``, ``rand``, ``randn``, ...).

On the CPU a Generator wraps ``numpy.random.default_rng(seed)`` and draws the same numbers
as NumPy for the same seed and calls; on a GPU it wraps CuPy's generator (other numbers).

>>> import gpugrad.numpy as gnp
>>> rng = gnp.random.default_rng(0)
>>> x = rng.standard_normal((2, 3)); x.shape, x.dtype
((2, 3), dtype('float64'))
>>> import numpy
>>> bool((x.numpy() == numpy.random.default_rng(0).standard_normal((2, 3))).all())
True
"""
from __future__ import annotations

import numbers

import numpy as _np

from .. import backend, ops
from ..tensor import Tensor
from . import _core as C

__all__ = ["default_rng", "Generator", "seed", "rand", "randn", "random", "random_sample",
           "normal", "uniform", "randint", "integers", "choice", "permutation", "shuffle",
           "standard_normal", "exponential"]


def _size(size):
    if size is None:
        return None
    return (int(size),) if isinstance(size, numbers.Integral) else tuple(int(n) for n in size)


class Generator:
    """Random tensors on one device (``device=`` or the default device).

    >>> g = Generator(seed=1)
    >>> g.integers(0, 10, size=3).dtype
    dtype('int64')
    """

    def __init__(self, seed=None, device=None):
        self.device = backend.device(device)
        with self.device._activated():
            self._g = self.device.xp.random.default_rng(seed)

    def __repr__(self):
        return f"Generator(device='{self.device}')"

    def _call(self, name, *args, **kw):
        with self.device._activated():
            r = getattr(self._g, name)(*args, **kw)
        return Tensor._make(r if hasattr(r, "shape") and not isinstance(r, _np.generic)
                            else self.device.xp.asarray(r))

    def random(self, size=None, dtype=_np.float64, out=None):
        """Uniform floats in [0, 1)."""
        return C.out(self._call("random", _size(size), dtype=dtype), out, "random")

    def standard_normal(self, size=None, dtype=_np.float64, out=None):
        """Standard normal samples."""
        return C.out(self._call("standard_normal", _size(size), dtype=dtype), out,
                     "standard_normal")

    def normal(self, loc=0.0, scale=1.0, size=None):
        """Normal samples with mean ``loc`` and standard deviation ``scale``."""
        if self.device.type == "cpu" and not isinstance(loc, Tensor) and \
                not isinstance(scale, Tensor):
            return self._call("normal", loc, scale, _size(size))
        return ops.add(ops.multiply(self.standard_normal(size), scale), loc)

    def uniform(self, low=0.0, high=1.0, size=None):
        """Uniform samples in [low, high)."""
        if self.device.type == "cpu" and not isinstance(low, Tensor) and \
                not isinstance(high, Tensor):
            return self._call("uniform", low, high, _size(size))
        # two numbers: their difference stays a number (an op on numbers alone would make a
        # CPU tensor, which cannot meet this generator's samples on a GPU)
        width = high - low if _number(high) and _number(low) else ops.subtract(high, low)
        return ops.add(ops.multiply(self.random(size), width), low)

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        """Random integers in [low, high) ([low, high] with ``endpoint``)."""
        if high is None:
            low, high = 0, low
        if endpoint:
            high = high + 1
        return self._call("integers", low, high, size=_size(size), dtype=dtype)

    def exponential(self, scale=1.0, size=None):
        """Exponential samples with the given ``scale``."""
        u = self.random(size)
        return ops.multiply(ops.negative(ops.log1p(ops.negative(u))), scale)

    def permutation(self, x):
        """A shuffled copy of ``x`` (or of ``arange(x)``), shuffled along axis 0."""
        if isinstance(x, numbers.Integral):
            return self._call("permutation", int(x))
        n = x.shape[0] if isinstance(x, Tensor) else C.tensor(x).shape[0]
        return self._pick(x, self.permutation(n))

    def _pick(self, a, idx):
        """``a[idx]`` for samples ``idx`` of this generator: array-likes come to the
        generator's device; a tensor stays on its own (the integer samples go there)."""
        if isinstance(a, Tensor):
            return a[idx if idx.device == a.device else idx.to(a.device)]
        t = C.tensor(a)
        return (t if t.device == self.device else t.to(self.device))[idx]

    def shuffle(self, x):
        """Shuffle a tensor in place along axis 0."""
        if not isinstance(x, Tensor):
            raise TypeError(f"shuffle: expected a gpugrad tensor, got {type(x).__name__}")
        x[...] = self.permutation(x)

    def choice(self, a, size=None, replace=True, p=None):
        """Samples from ``a`` (an int n means ``arange(n)``), optionally weighted by ``p``."""
        n = int(a) if isinstance(a, numbers.Integral) else C.tensor(a).shape[0]
        pp = None if p is None else (p.numpy() if isinstance(p, Tensor) else _np.asarray(p))
        if self.device.type != "cpu" and pp is not None:
            pp = backend.to_device(pp, self.device)
        idx = self._call("choice", n, size=_size(size), replace=replace, p=pp)
        return idx if isinstance(a, numbers.Integral) else self._pick(a, idx)


def _number(v):
    return isinstance(v, numbers.Number) and not isinstance(v, Tensor)


def default_rng(seed=None, *, device=None):
    """A :class:`Generator` seeded like ``numpy.random.default_rng``.

    >>> default_rng(42).random(2).shape
    (2,)
    """
    if isinstance(seed, Generator):
        return seed
    return Generator(seed, device=device)


_global = {"seed": None, "gens": {}}


def _gen():
    dev = backend.get_default_device()
    g = _global["gens"].get(dev)
    if g is None:
        g = _global["gens"][dev] = Generator(_global["seed"], dev)
    return g


def seed(seed=None):
    """Reseed the module-level generator (legacy API; the numbers differ from NumPy's
    legacy RandomState).

    >>> seed(0); a = rand(2); seed(0); bool((a == rand(2)).all())
    True
    """
    _global["seed"] = seed
    _global["gens"].clear()


def rand(*shape):
    """Uniform [0, 1) samples of the given shape.

    >>> rand(2, 3).shape
    (2, 3)
    """
    return _gen().random(shape or None)


def randn(*shape):
    """Standard normal samples of the given shape.

    >>> randn(2).shape
    (2,)
    """
    return _gen().standard_normal(shape or None)


def random(size=None):
    """Uniform [0, 1) samples.

    >>> random(3).shape
    (3,)
    """
    return _gen().random(size)


random_sample = random


def standard_normal(size=None):
    """Standard normal samples.

    >>> standard_normal(3).shape
    (3,)
    """
    return _gen().standard_normal(size)


def normal(loc=0.0, scale=1.0, size=None):
    """Normal samples.

    >>> normal(1.0, 2.0, size=4).shape
    (4,)
    """
    return _gen().normal(loc, scale, size)


def uniform(low=0.0, high=1.0, size=None):
    """Uniform samples in [low, high).

    >>> uniform(size=2).shape
    (2,)
    """
    return _gen().uniform(low, high, size)


def exponential(scale=1.0, size=None):
    """Exponential samples.

    >>> exponential(size=2).shape
    (2,)
    """
    return _gen().exponential(scale, size)


def randint(low, high=None, size=None, dtype=int):
    """Random integers in [low, high).

    >>> randint(5, size=3).shape
    (3,)
    """
    return _gen().integers(low, high, size, dtype=_np.int64 if dtype is int else dtype)


integers = randint


def choice(a, size=None, replace=True, p=None):
    """Random samples from ``a``.

    >>> choice(5, size=2).shape
    (2,)
    """
    return _gen().choice(a, size, replace, p)


def permutation(x):
    """A random permutation.

    >>> sorted(permutation(3).tolist())
    [0, 1, 2]
    """
    return _gen().permutation(x)


def shuffle(x):
    """Shuffle a tensor in place along axis 0.

    >>> import gpugrad.numpy as gnp
    >>> t = gnp.arange(3); shuffle(t); sorted(t.tolist())
    [0, 1, 2]
    """
    _gen().shuffle(x)
