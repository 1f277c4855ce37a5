"""Seeds for ``gpugrad.numpy.random`` as NumPy takes them.

A seed that is a tensor is read as its NumPy value -- a 0-d tensor as NumPy's scalar (what
``seeds[k]`` is under NumPy), any other as its array -- also inside lists and tuples; every
other seed goes to NumPy as it is, so what NumPy accepts gives NumPy's stream and what it
refuses raises NumPy's error.  The seeded classes (``SeedSequence``, the bit generators,
``RandomState``) are NumPy's own: calling them here converts tensor arguments and returns
NumPy's object, and ``isinstance`` checks against them accept NumPy's objects.

>>> import numpy as np, gpugrad as gg
>>> SeedSequence(gg.tensor(8506)).entropy, np.random.SeedSequence(np.int64(8506)).entropy
(np.int64(8506), np.int64(8506))
>>> isinstance(np.random.PCG64(0), PCG64), type(PCG64(gg.tensor([1, 2])))
(True, <class 'numpy.random._pcg64.PCG64'>)
"""
from __future__ import annotations

import numpy as _np

from ..tensor import Tensor

__all__ = ["seed_value", "SeedSequence", "BitGenerator", "PCG64", "PCG64DXSM", "MT19937",
           "Philox", "SFC64", "RandomState"]


def seed_value(seed):
    """``seed`` with tensors in it read as NumPy values: a 0-d tensor becomes NumPy's scalar
    of its dtype, an N-d one its array (from the host); lists and tuples are read
    element-wise; anything else is returned as it is (for NumPy to accept or refuse).

    >>> import gpugrad as gg
    >>> seed_value(gg.tensor(3)), seed_value([gg.tensor(1), 2])
    (np.int64(3), [np.int64(1), 2])
    """
    if isinstance(seed, Tensor):
        arr = seed.numpy()
        return arr[()] if arr.ndim == 0 else arr
    if type(seed) in (list, tuple) and any(isinstance(s, (Tensor, list, tuple)) for s in seed):
        return type(seed)(seed_value(s) for s in seed)
    return seed


class _NumPyMade(type):
    """The type of a seeded class here: calling it calls NumPy's class (``_numpy``) with
    tensor arguments read as NumPy values, and isinstance/issubclass defer to NumPy's."""

    def __call__(cls, *args, **kwargs):
        return cls._numpy(*map(seed_value, args),
                          **{k: seed_value(v) for k, v in kwargs.items()})

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._numpy)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls._numpy)


def _seeded(numpy_cls):
    doc = (f"``numpy.random.{numpy_cls.__name__}``, taking tensors as seeds (read as their "
           f"NumPy values); the object made is NumPy's own.")
    return _NumPyMade(numpy_cls.__name__, (numpy_cls,), {"_numpy": numpy_cls, "__doc__": doc,
                                                         "__module__": __name__})


SeedSequence = _seeded(_np.random.SeedSequence)
BitGenerator = _seeded(_np.random.BitGenerator)
PCG64 = _seeded(_np.random.PCG64)
PCG64DXSM = _seeded(_np.random.PCG64DXSM)
MT19937 = _seeded(_np.random.MT19937)
Philox = _seeded(_np.random.Philox)
SFC64 = _seeded(_np.random.SFC64)
RandomState = _seeded(_np.random.RandomState)
