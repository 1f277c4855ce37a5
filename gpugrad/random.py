"""Seeded random numbers for every device.

One generator per device (NumPy's PCG64 on the CPU, CuPy's on a GPU), all reset by
:func:`manual_seed`.  :func:`get_rng_state` / :func:`set_rng_state` capture and restore the
CPU generator exactly (checkpoints use them to resume bit-for-bit).

>>> import gpugrad as gg
>>> gg.manual_seed(0); a = gg.rand(3)
>>> gg.manual_seed(0); b = gg.rand(3)
>>> a.tolist() == b.tolist()
True
"""
from __future__ import annotations

import numpy as np

from . import backend, capture_hooks
from .wide_sum import is_16bit_float

__all__ = ["manual_seed", "seed", "get_rng_state", "set_rng_state", "generator",
           "bernoulli_mask", "Generator"]

_seed = 0
_generators: dict = {}


class Generator:
    """A seeded source of random arrays on one device.

    >>> g = Generator(42)
    >>> g.random((2,)).shape
    (2,)
    """

    def __init__(self, seed=None, device="cpu"):
        self.device = backend.device(device)
        self._reseed(seed)

    def manual_seed(self, seed):
        """Restart this generator's stream from ``seed``; returns the generator.  Inside a
        step :func:`gpugrad.compile` records, each replay reseeds it again at the same point."""
        if capture_hooks.is_recording():
            capture_hooks.host_call(Generator._reseed, self, seed)
            return self
        return self._reseed(seed)

    def _reseed(self, seed):
        self.seed = seed
        if self.device.type == "cpu":
            self._g = np.random.default_rng(seed)
        else:
            xp = self.device.xp
            with xp.cuda.Device(self.device.index):
                self._g = xp.random.default_rng(seed)
        return self

    def _on(self):
        return self.device._activated()

    def random(self, shape, dtype=np.float32):
        if capture_hooks._on and capture_hooks.active() is not None:  # gpugrad.compile: a
            return capture_hooks.draw(self, Generator.random, shape, dtype)  # replay draws too
        dt = np.dtype(dtype)
        with self._on():
            if not is_16bit_float(dt):
                return self._g.random(shape, dtype=dt)
            # NumPy draws float32 and float64 only; a float32 draw rounded to 16 bits would be
            # 1.0 about once in 4096 draws (bfloat16: 512), so draw k < 2**p (p: the dtype's
            # significant bits) and give k * 2**-p, uniform on [0, 1) and exact in the dtype
            p = 11 if dt == np.float16 else 8
            k = self._g.integers(0, 2 ** p, size=shape, dtype=np.int32)
            return (k.astype(np.float32) * np.float32(2.0 ** -p)).astype(dt)

    def normal(self, shape, dtype=np.float32):
        """Standard normal samples (float16 and bfloat16: drawn in float32 and rounded)."""
        if capture_hooks._on and capture_hooks.active() is not None:
            return capture_hooks.draw(self, Generator.normal, shape, dtype)
        dt = np.dtype(dtype)
        half = is_16bit_float(dt)
        with self._on():
            r = self._g.standard_normal(shape, dtype=np.float32 if half else dt)
            return r.astype(dt) if half else r

    def integers(self, low, high, shape, dtype=np.int64):
        if capture_hooks._on and capture_hooks.active() is not None:
            return capture_hooks.draw(self, Generator.integers, low, high, shape, dtype)
        with self._on():
            return self._g.integers(low, high, size=shape, dtype=dtype)

    def permutation(self, n):
        if capture_hooks._on and capture_hooks.active() is not None:
            return capture_hooks.draw(self, Generator.permutation, n)
        with self._on():
            return self._g.permutation(n)

    def get_state(self):
        if self.device.type != "cpu":
            raise NotImplementedError("the state of a CUDA generator cannot be captured; "
                                      "reseed it with manual_seed instead")
        return self._g.bit_generator.state

    def set_state(self, state):
        """Restore the stream from :meth:`get_state`'s dict (CPU only); replayed in order
        inside a step :func:`gpugrad.compile` records."""
        if capture_hooks.is_recording():
            return capture_hooks.host_call(Generator.set_state, self, state)
        if self.device.type != "cpu":
            raise NotImplementedError("the state of a CUDA generator cannot be restored")
        self._g.bit_generator.state = state


def generator(dev=None) -> Generator:
    """The default generator of a device (created on first use from the global seed).

    >>> generator("cpu").device
    device(type='cpu')
    """
    d = backend.device(dev)
    g = _generators.get(d)
    if g is None:
        g = _generators[d] = Generator(_seed + (0 if d.type == "cpu" else 1000 + d.index), d)
    return g


def manual_seed(seed: int) -> None:
    """Seed every device's default generator.

    >>> manual_seed(123)
    """
    global _seed
    if capture_hooks.is_recording():  # gpugrad.compile: each replay reseeds at the same point of the step
        return capture_hooks.host_call(manual_seed, seed)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _seed = int(seed)
    _generators.clear()


seed = manual_seed


def get_rng_state() -> dict:
    """The CPU generator's exact state (a JSON-able dict).

    >>> isinstance(get_rng_state(), dict)
    True
    """
    return generator("cpu").get_state()


def set_rng_state(state: dict) -> None:
    """Restore the CPU generator from :func:`get_rng_state`'s dict.

    >>> s = get_rng_state(); set_rng_state(s)
    """
    if capture_hooks.is_recording():  # gpugrad.compile: each replay restores it at the same point
        return capture_hooks.host_call(set_rng_state, state)
    generator("cpu").set_state(state)


def bernoulli_mask(shape, p_keep, dev=None, generator=None):
    """A raw boolean array that is True with probability ``p_keep``.

    >>> bool(bernoulli_mask((1000,), 1.0).all())
    True
    """
    g = generator if generator is not None else globals()["generator"](dev)
    if capture_hooks._on and capture_hooks.active() is not None:  # gpugrad.compile
        return capture_hooks.draw(g, _bernoulli, shape, p_keep)
    return _bernoulli(g, shape, p_keep)


def _bernoulli(g, shape, p_keep):
    r = g.random(shape, dtype=np.float32)
    with backend.on_device_of(r):       # the comparison launches on the draw's device
        return r < p_keep


def replay_generator(g):
    """A function giving the generator a replay of a recorded draw from ``g`` uses: the
    device's default generator as it is then when ``g`` is the default one now (so that
    ``manual_seed`` between calls is followed), else ``g`` itself.

    >>> replay_generator(generator("cpu"))() is generator("cpu")
    True
    """
    if _generators.get(g.device) is g:
        dev = g.device
        return lambda: generator(dev)
    return lambda: g
