"""NumPy's ``ndarray`` subclasses meeting tensors.

A tensor holds a plain ``numpy.ndarray`` (or a CuPy array): its ops compute with NumPy's
ufuncs and operators on that array, so a subclass kept inside would bring its own
arithmetic into every op -- ``numpy.matrix`` makes ``a * b`` the matrix product and
``a ** 2`` the matrix power, so an elementwise ``power`` silently became ``matrix_power``.
Two kinds of subclass:

* those with arithmetic of their own, told by NumPy's own rule for deferring binary
  operators: a positive ``__array_priority__`` (``numpy.matrix``: 10, masked arrays: 15)
  or ``__array_ufunc__ = None``.  ``gpugrad.numpy``'s functions answer for them with NumPy's
  own result (the subclass kept: :mod:`gpugrad.numpy._fallback`), and a tensor's operators
  defer to them, as ndarray's do (``t * M`` is ``M.__rmul__``: the matrix product);
* the rest (``numpy.memmap``, which yields to ndarray), which compute as their plain
  array: a tensor takes a base-class view of their memory.

The engine's conversions (``gg.as_tensor``, ``gg.from_numpy``, an op's array operand) take
the plain array of either kind, as ``torch.as_tensor`` does.

>>> import numpy
>>> m = numpy.matrix([[1.0, 2.0]])
>>> own_arithmetic(m), type(plain(m)).__name__
(True, 'ndarray')
"""
from __future__ import annotations

import numpy as np

__all__ = ["is_subclass", "own_arithmetic", "plain"]

_ndarray = np.ndarray


def is_subclass(x) -> bool:
    """True for an instance of a proper subclass of ``numpy.ndarray``."""
    return type(x) is not _ndarray and isinstance(x, _ndarray)


def own_arithmetic(x) -> bool:
    """True for an ndarray subclass instance whose operators ndarray defers to (a positive
    ``__array_priority__``, or ``__array_ufunc__ = None``): ``numpy.matrix``, masked
    arrays; False for plain arrays, ``numpy.memmap`` and anything else."""
    if not is_subclass(x):
        return False
    t = type(x)
    return getattr(t, "__array_ufunc__", False) is None or \
        getattr(t, "__array_priority__", 0.0) > 0.0


def plain(x):
    """``x`` as a plain ``numpy.ndarray`` viewing the same memory when it is a subclass
    instance (a masked array's data, mask dropped, as ``numpy.asarray`` gives it); anything
    else as it is."""
    return x.view(_ndarray) if is_subclass(x) else x
