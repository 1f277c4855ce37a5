"""The array namespace of Tensors: what ``xp_of(t)`` returns for a :class:`Tensor`.

A backward formula is written once, on ``xp = xp_of(g)``: on raw arrays ``xp`` is NumPy or
CuPy (the fast first-order path); under ``create_graph=True`` the engine hands the formula
Tensors, ``xp`` is this module, and the same formula records a graph that can be
differentiated again (HIPS autograd writes its VJPs in ``autograd.numpy`` for this reason).

Names resolve to the op set (``gpugrad.ops``), then to the creation functions; ``linalg``
holds the differentiable linear-algebra ops.  A name the op set lacks raises AttributeError,
which the engine reports as "this op's backward is not differentiable".

>>> import gpugrad as gg
>>> from gpugrad.ops._util import xp_of
>>> xp_of(gg.tensor([1.0])).exp(gg.tensor([0.0])).tolist()
[1.0]
"""
from __future__ import annotations

import types

__all__ = []  # a namespace, not a source of public names


def _resolve(name):
    from .. import creation, ops

    for src in (ops, creation):
        fn = getattr(src, name, None)
        if fn is not None and not isinstance(fn, types.ModuleType):
            return fn
    raise AttributeError(f"the Tensor namespace has no differentiable {name!r}")


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name == "linalg":
        return linalg
    return _resolve(name)


class _Linalg:
    """``xp.linalg`` for Tensors: the differentiable linear-algebra ops."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _resolve(name)


linalg = _Linalg()


def asarray(a, dtype=None):
    """Tensors pass through (cast when ``dtype`` differs); anything else becomes a constant."""
    from ..tensor import Tensor, as_tensor

    t = a if isinstance(a, Tensor) else as_tensor(a)
    return t if dtype is None or t.dtype == dtype else t.astype(dtype)
