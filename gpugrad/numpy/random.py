"""``gpugrad.numpy.random``: NumPy's random numbers as tensors.

On the CPU the streams are NumPy's own, number for number: the legacy module-level functions
(``seed``, ``rand``, ``randn``, ``randint``, ``choice``, ``normal``, every ``RandomState``
distribution) draw from one shared ``numpy.random.RandomState`` (``seed`` reseeds it, as
``numpy.random.seed`` does NumPy's), and :func:`default_rng` wraps
``numpy.random.Generator(PCG64)``.  So a program that swaps ``import numpy as np`` for
``import gpugrad.numpy as np`` reproduces its numbers.  Results are NumPy's too: float64
arrays become tensors, and a draw NumPy gives as a scalar (``randn()``, ``randint(5)``,
``choice(range(2), p=p)``) is that same scalar, usable as a dict key or list index.

On a GPU (default device CUDA) the draws come from CuPy's generators
(``cupy.random.RandomState`` per device, ``cupy.random.default_rng``): the same
distributions, but *different numbers* from NumPy's for the same seed, and scalar draws are
0-d tensors (CuPy's 0-d arrays).

``normal``, ``uniform``, ``choice``, ``permutation`` and ``shuffle`` take tensors and stay
differentiable (``loc + scale * z``; picking elements of a tensor); other draws have no
gradient and refuse a tensor in a recorded graph.

>>> import numpy, gpugrad.numpy as gnp
>>> gnp.random.seed(0); a = gnp.random.randn(3)
>>> numpy.random.seed(0); bool((a.numpy() == numpy.random.randn(3)).all()), a.dtype
(True, dtype('float64'))
>>> x = gnp.random.default_rng(0).standard_normal((2, 3))
>>> bool((x.numpy() == numpy.random.default_rng(0).standard_normal((2, 3))).all())
True
"""
from __future__ import annotations

import numbers
import operator

import numpy as _np

from .. import backend, capture_hooks, ops
from ..tensor import Tensor
from ..zero_d import stands_for_scalar
from . import _core as C
from . import _fallback as F
from ._random_capture import RecordedBitGenerator as _RecordedBitGenerator
from ._random_capture import drawn as _drawn
from ._random_dtype import FLOAT_DRAWS, no_16_bit
from ._random_seed import (MT19937, PCG64, PCG64DXSM, SFC64, BitGenerator, Philox,  # noqa: F401
                           RandomState, SeedSequence, seed_value)

_LEGACY = [n for n in _np.random.__all__ if n[0].islower() and n not in (
    "seed", "get_state", "set_state", "default_rng", "shuffle", "permutation", "choice",
    "normal", "uniform")]
__all__ = ["default_rng", "Generator", "RandomState", "SeedSequence", "BitGenerator", "PCG64",
           "PCG64DXSM", "MT19937", "Philox", "SFC64", "seed", "get_state", "set_state",
           "shuffle", "permutation", "choice", "normal", "uniform", "integers"] + _LEGACY



def _size(size):
    """``size`` as a shape tuple (an int, a 0-d array or tensor, or a sequence of them)."""
    if size is None:
        return None
    if _np.ndim(C.skeleton(size)) == 0:
        return (operator.index(size.item() if isinstance(size, Tensor) else size),)
    return tuple(operator.index(n) for n in _np.asarray(_host(size)).tolist())


def _plain(name, args, kwargs):
    """Raw arguments for a draw without a gradient (TypeError for a tensor in a graph)."""
    ts = list(F.tensors_in((args, kwargs)))
    if C.traced(*ts):
        raise TypeError(f"gpugrad.numpy.random.{name} has no gradient, and an argument is a "
                        f"tensor in a recorded graph; pass .detach() values")
    return F.unwrap(args), F.unwrap(kwargs)


_SCALAR = frozenset((int, float, bool, type(None)))


def _direct(src, args, kwargs=None):
    """NumPy's CPU generator behind ``src`` (a :class:`Generator` or the legacy functions'
    source) when a draw may call it directly and get the general path's answer: every
    argument a Python number or None (nothing to unwrap, convert or differentiate) and no
    step being recorded; else None."""
    if capture_hooks._on or not _SCALAR.issuperset(map(type, args)) or (
            kwargs and not _SCALAR.issuperset(map(type, kwargs.values()))):
        return None
    return src._numpy_cpu


def _wrapped(r):
    """A direct draw's answer as the general path gives it (arrays as tensors)."""
    return r if type(r) is float else F.wrap_result(r)


def _host(v):
    """A probability vector or population as a NumPy array (read from a GPU if needed)."""
    return v.numpy() if isinstance(v, Tensor) else v


def _pick(a, idx, device, axis=0):
    """``a``'s entries ``idx`` along ``axis``: a tensor keeps its graph and device; other
    array-likes come to ``device``."""
    key = (slice(None),) * (axis % max(_np.ndim(C.skeleton(a)), 1))
    if isinstance(idx, _np.generic) or isinstance(idx, numbers.Integral):
        key += (int(idx),)
        return a[key] if isinstance(a, Tensor) else C.tensor(a)[key].data[()]
    idx = C.tensor(idx)
    t = a if isinstance(a, Tensor) else C.tensor(a)
    if t.device != device and not isinstance(a, Tensor):
        t = t.to(device)
    return t[key + (idx if idx.device == t.device else idx.to(t.device),)]


class _Draws:
    """What the legacy functions and :class:`Generator` share: the differentiable draws."""

    def _raw(self, name, *args, **kwargs):  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def normal(self, loc=0.0, scale=1.0, size=None):
        """Normal samples with mean ``loc`` and standard deviation ``scale``; tensors there
        get a gradient (``loc + scale * z``)."""
        g = _direct(self, (loc, scale, size))
        if g is not None:
            return _wrapped(g.normal(loc, scale, size))
        if not C.traced(loc, scale):
            return self._raw("normal", *_plain("normal", (loc, scale, _size(size)), {})[0])
        shape = _size(size) or _np.broadcast_shapes(_np.shape(C.skeleton(loc)),
                                                    _np.shape(C.skeleton(scale)))
        return ops.add(ops.multiply(C.tensor(self._raw("standard_normal", shape)), scale), loc)

    def uniform(self, low=0.0, high=1.0, size=None):
        """Uniform samples in [low, high); tensors there get a gradient."""
        g = _direct(self, (low, high, size))
        if g is not None:
            return _wrapped(g.uniform(low, high, size))
        if not C.traced(low, high):
            return self._raw("uniform", *_plain("uniform", (low, high, _size(size)), {})[0])
        shape = _size(size) or _np.broadcast_shapes(_np.shape(C.skeleton(low)),
                                                    _np.shape(C.skeleton(high)))
        u = C.tensor(self._raw(self._unit, shape))
        return ops.add(ops.multiply(u, ops.subtract(high, low)), low)

    def choice(self, a, size=None, replace=True, p=None, **gen):
        """Samples from ``a`` (an int n means ``arange(n)``), optionally weighted by ``p``;
        picking from a tensor keeps its graph.  Strings and other non-numeric populations
        give NumPy's answer (a NumPy array or scalar)."""
        axis = gen.pop("axis", 0)
        if isinstance(a, numbers.Integral) and not isinstance(a, Tensor) or (
                isinstance(a, Tensor) and a.ndim == 0 and a.dtype.kind in "iu"):  # NumPy's too
            return self._raw("choice", int(a), _size(size), replace,
                             None if p is None else _host(p), **gen)
        arr = a if isinstance(a, Tensor) or hasattr(a, "__array__") else _np.asarray(a)
        shape = _np.shape(C.skeleton(arr)) if isinstance(arr, Tensor) else _np.shape(arr)
        if not shape:
            raise ValueError("a must be a positive integer or an array of at least 1 "
                             "dimension")
        if len(shape) > 1 and not isinstance(self, Generator):
            raise ValueError("a must be 1-dimensional")
        n = shape[axis]
        idx = self._raw("choice", n, _size(size), replace, None if p is None else _host(p),
                        **gen)
        if isinstance(arr, _np.ndarray) and arr.dtype not in C.SUPPORTED:  # strings
            return arr.take(idx.numpy() if isinstance(idx, Tensor) else idx, axis=axis)
        return _pick(arr, idx, self.device, axis)

    def permutation(self, x, **gen):
        """A shuffled copy of ``x`` (or of ``arange(x)``), shuffled along axis 0
        (``axis=`` for a :class:`Generator`)."""
        if isinstance(x, numbers.Integral) and not isinstance(x, Tensor) or (
                isinstance(x, Tensor) and stands_for_scalar(x) and x.dtype.kind in "iu"):
            return self._raw("permutation", int(x))  # (an int, or NumPy's integer scalar)
        axis = gen.get("axis", 0)
        arr = x if isinstance(x, Tensor) or hasattr(x, "__array__") else _np.asarray(x)
        if isinstance(arr, _np.ndarray) and arr.dtype not in C.SUPPORTED:
            return self._raw("permutation", arr, **gen)
        n = _np.shape(C.skeleton(arr))[axis]
        return _pick(arr, self._raw("permutation", n), self.device, axis)

    def shuffle(self, x, **gen):
        """Shuffle a tensor (or a NumPy array or list) in place along axis 0 (``axis=`` for a
        :class:`Generator`)."""
        if not isinstance(x, Tensor):
            return self._raw("shuffle", x, **gen)
        x[...] = self.permutation(x, **gen)


class Generator(_Draws):
    """``numpy.random.Generator`` drawing tensors on one device (``device=`` or the default
    device): NumPy's PCG64 stream on the CPU, CuPy's generator on a GPU.  Every method of
    NumPy's Generator is available; arrays come back as tensors, scalars as NumPy's.

    >>> g = Generator(seed=1)
    >>> g.integers(0, 10, size=3).dtype
    dtype('int64')
    """
    _unit = "random"
    _numpy_cpu = None  # NumPy's generator, on the CPU (see _direct)

    def __init__(self, seed=None, device=None):
        self.device = backend.device(device)
        with self.device._activated():
            self._g = self.device.xp.random.default_rng(seed_value(seed))
        # made inside a step gpugrad.compile records: a replay would not make it again
        self._in_step = bool(capture_hooks._on and capture_hooks.active() is not None)
        self._numpy_cpu = self._g if self.device.type == "cpu" else None

    def __repr__(self):
        return f"Generator(device='{self.device}')"

    @property
    def bit_generator(self):
        """NumPy's (or CuPy's) bit generator behind the stream; inside a step
        ``gpugrad.compile`` records, setting its ``state`` or calling ``advance`` is replayed
        in order with the draws."""
        bg = self._g.bit_generator
        return _RecordedBitGenerator(bg) if capture_hooks.is_recording() else bg

    def _raw(self, name, *args, **kwargs):
        return _drawn(self, name, args, kwargs)

    def _answer(self, name, args, kwargs):
        if self.device.type != "cpu" and not hasattr(self._g, name):
            return _gpu_state(self.device, name, args, kwargs)
        with self.device._activated():
            return getattr(self._g, name)(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if not hasattr(_np.random.Generator, name):
            raise AttributeError(f"'Generator' object has no attribute {name!r}")
        return getattr(self._g, name)  # a non-method (NumPy's own); methods: _generator_draw

    def choice(self, a, size=None, replace=True, p=None, axis=0, shuffle=True):
        """Samples from ``a`` along ``axis`` (NumPy's Generator.choice; see ``_Draws``).

        >>> Generator(seed=0).choice(Generator(seed=0).random((3, 2)), 2, axis=1).shape
        (3, 2)
        """
        return super().choice(a, size, replace, p, axis=axis, shuffle=shuffle)

    def permutation(self, x, axis=0):
        """A shuffled copy of ``x`` along ``axis`` (or of ``arange(x)``)."""
        return super().permutation(x, axis=axis)

    def shuffle(self, x, axis=0):
        """Shuffle ``x`` in place along ``axis``."""
        return super().shuffle(x, axis=axis)

    def integers(self, low, high=None, size=None, dtype=_np.int64, endpoint=False):
        """Random integers in [low, high) ([low, high] with ``endpoint``)."""
        g = _direct(self, (low, high, size))
        if g is not None:
            return _wrapped(g.integers(low, high, size, dtype=dtype, endpoint=endpoint))
        return self._raw("integers", low, high, _size(size), dtype=dtype, endpoint=endpoint)


def _generator_draw(name):
    def draw(self, *args, **kwargs):
        if name in FLOAT_DRAWS and (args or kwargs):
            no_16_bit(name, args, kwargs)
        g = self._numpy_cpu  # (_direct, inline: the scalar draw of a Python loop)
        if g is not None and not capture_hooks._on and (
                not args or _SCALAR.issuperset(map(type, args))) and (
                not kwargs or _SCALAR.issuperset(map(type, kwargs.values()))):
            r = getattr(g, name)(*args, **kwargs)
            return r if type(r) is float else F.wrap_result(r)
        a, k = _plain(name, args, kwargs)
        return self._raw(name, *a, **k)
    draw.__name__, draw.__qualname__ = name, f"Generator.{name}"
    draw.__doc__ = (f"``numpy.random.Generator.{name}`` (NumPy's stream on the CPU); arrays "
                    f"as tensors, scalars as NumPy's.")
    return draw


for _n in dir(_np.random.Generator):
    if _n[0] != "_" and _n not in vars(Generator) and _n not in vars(_Draws) and \
            callable(getattr(_np.random.Generator, _n)):
        setattr(Generator, _n, _generator_draw(_n))


def _gpu_state(device, name, args, kwargs):
    """A draw from CuPy's legacy RandomState of ``device`` (the GPU counterpart)."""
    rs = _global["gpu"].get(device)
    with device._activated():
        if rs is None:
            rs = _global["gpu"][device] = device.xp.random.RandomState(_global["seed"])
        if name in ("random", "random_sample", "ranf", "sample"):
            name = "random_sample"
        fn = getattr(rs, name, None)
        if fn is None:
            raise NotImplementedError(f"gpugrad.numpy.random.{name} has no CuPy version for "
                                      f"the GPU; draw on the CPU (device='cpu')")
        return fn(*args, **kwargs)


def default_rng(seed=None, *, device=None):
    """A :class:`Generator` seeded like ``numpy.random.default_rng``: an int, a sequence or
    array of them, a SeedSequence, a bit generator or a Generator; a tensor is read as its
    NumPy value (``default_rng(seeds[k])``).  Errors: NumPy's, for a seed NumPy refuses.

    >>> default_rng(42).random(2).shape
    (2,)
    """
    if isinstance(seed, Generator):
        return seed
    return Generator(seed, device=device)


_global = {"state": _np.random.RandomState(), "seed": None, "gpu": {}}


class _Legacy(_Draws):
    """The module-level functions' source: the shared RandomState on the CPU, CuPy's on a
    GPU (the default device decides)."""
    _unit = "random_sample"

    @property
    def device(self):
        return backend.get_default_device()

    @property
    def _numpy_cpu(self):  # (see _direct)
        return _global["state"] if backend.get_default_device().type == "cpu" else None

    def _raw(self, name, *args, **kwargs):
        return _drawn(self, name, args, kwargs)

    def _answer(self, name, args, kwargs):
        dev = self.device
        if dev.type != "cpu":
            return _gpu_state(dev, name, args, kwargs)
        return getattr(_global["state"], name)(*args, **kwargs)


_legacy = _Legacy()


def seed(seed=None):
    """Reseed the shared generator, as ``numpy.random.seed``: the CPU draws that follow are
    NumPy's for that seed (GPU generators are reseeded too).

    >>> seed(0); a = rand(2); seed(0); bool((a == rand(2)).all())
    True
    """
    if capture_hooks.is_recording():  # gpugrad.compile: each replay reseeds at the same point of the step
        return capture_hooks.host_call(seed_fn, seed)
    seed = seed_value(seed)  # a tensor: its NumPy value
    _global["state"].seed(seed)
    _global["seed"] = seed
    _global["gpu"].clear()


def get_state(legacy=True):
    """The shared CPU generator's state (``numpy.random.get_state``)."""
    return _global["state"].get_state(legacy=legacy)


def set_state(state):
    """Restore a state from :func:`get_state` (``numpy.random.set_state``); replayed in order
    inside a step ``gpugrad.compile`` records."""
    if capture_hooks.is_recording():
        return capture_hooks.host_call(set_state, state)
    _global["state"].set_state(state)


seed_fn = seed


def normal(loc=0.0, scale=1.0, size=None):
    """Normal samples (differentiable in tensor ``loc``/``scale``).

    >>> normal(1.0, 2.0, size=4).shape
    (4,)
    """
    return _legacy.normal(loc, scale, size)


def uniform(low=0.0, high=1.0, size=None):
    """Uniform samples in [low, high) (differentiable in tensor ``low``/``high``).

    >>> uniform(size=2).shape
    (2,)
    """
    return _legacy.uniform(low, high, size)


def choice(a, size=None, replace=True, p=None):
    """Random samples from ``a``; one sample (``size=None``) is NumPy's scalar.

    >>> import numpy
    >>> isinstance(choice(range(2), p=[0.5, 0.5]), numpy.integer)
    True
    """
    return _legacy.choice(a, size, replace, p)


def permutation(x):
    """A random permutation.

    >>> sorted(permutation(3).tolist())
    [0, 1, 2]
    """
    return _legacy.permutation(x)


def shuffle(x):
    """Shuffle in place along axis 0 (tensors, arrays, lists).

    >>> import gpugrad.numpy as gnp
    >>> t = gnp.arange(3); shuffle(t); sorted(t.tolist())
    [0, 1, 2]
    """
    _legacy.shuffle(x)


def _make_legacy(name):
    source = "random_sample" if name in ("ranf", "sample") else name  # NumPy's aliases

    def f(*args, **kwargs):
        if not capture_hooks._on and (not args or _SCALAR.issuperset(map(type, args))) and (
                not kwargs or _SCALAR.issuperset(map(type, kwargs.values()))) and \
                backend.get_default_device().type == "cpu":  # (_direct, inline)
            r = getattr(_global["state"], source)(*args, **kwargs)
            return r if type(r) is float else F.wrap_result(r)
        a, k = _plain(name, args, kwargs)
        return _legacy._raw(source, *a, **k)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``numpy.random.{name}`` from the shared generator (NumPy's stream on the "
                 f"CPU); arrays as tensors, scalars as NumPy's.\n\n"
                 f">>> {name}.__name__\n'{name}'\n")
    return f


for _n in _LEGACY:
    globals()[_n] = _make_legacy(_n)
integers = globals()["randint"]
