"""The array namespace of Tensors: what ``xp_of(t)`` returns for a :class:`Tensor`.

A backward formula is written once, on ``xp = xp_of(g)``: on raw arrays ``xp`` is NumPy or
CuPy (the fast first-order path); under ``create_graph=True`` the engine hands the formula
Tensors, ``xp`` is this module, and the same formula records a graph that can be
differentiated again (HIPS autograd writes its VJPs in ``autograd.numpy`` for this reason).

Names resolve to the op set (``gpugrad.ops``), then to the creation functions; ``linalg``
holds the differentiable linear-algebra ops and ``fft`` the differentiable transforms
(:mod:`gpugrad.fft`).  A name the op set lacks raises AttributeError,
which the engine reports as "this op's backward is not differentiable".

A formula's constants must live where its operands do, as ``cupy.zeros`` puts them on the GPU
when ``xp`` is CuPy: so ``xp_of(t)`` is ``on(t.device)``, a namespace whose creation functions
(``zeros``, ``arange``, ``eye``, ``asarray``, ...) default to that device.

>>> import gpugrad as gg
>>> from gpugrad.ops._util import xp_of
>>> xp_of(gg.tensor([1.0])).exp(gg.tensor([0.0])).tolist()
[1.0]
"""
from __future__ import annotations

import types

from ..backend import default_device

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
    if name == "fft":
        from .. import fft

        return fft
    return _resolve(name)


class _Linalg:
    """``xp.linalg`` for Tensors: the differentiable linear-algebra ops."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _resolve(name)


linalg = _Linalg()


def asarray(a, dtype=None, device=None):
    """Tensors pass through (cast when ``dtype`` differs); anything else becomes a constant
    on ``device`` (default: the default device)."""
    from ..tensor import Tensor, as_tensor

    t = a if isinstance(a, Tensor) else as_tensor(a, device=device)
    return t if dtype is None or t.dtype == dtype else t.astype(dtype)


class _OnDevice:
    """The Tensor namespace with creation functions placed on one device (see the module's
    text).  Attributes are resolved once and cached on the instance."""

    def __init__(self, device):
        self.device = device
        self.linalg = linalg

    def asarray(self, a, dtype=None):
        return asarray(a, dtype, device=self.device)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "fft":  # the transforms make no new values: no device to place
            from .. import fft as fn
        else:
            fn = _resolve(name)
        if callable(fn) and not name.endswith("_like") and _takes_device(fn):
            dev, make = self.device, fn

            def fn(*args, **kwargs):
                kwargs.setdefault("device", dev)
                return make(*args, **kwargs)
        elif callable(fn) and not isinstance(fn, type):
            from ..tensor import Tensor

            dev, op = self.device, fn

            def fn(*args, **kwargs):  # an op on numbers alone (a saved NumPy scalar) makes
                for a in args:        # a new value: on this device, not the default one
                    if isinstance(a, Tensor):
                        return op(*args, **kwargs)
                with default_device(dev):
                    return op(*args, **kwargs)

        setattr(self, name, fn)
        return fn


def _takes_device(fn):
    import inspect

    try:
        return "device" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


_spaces = {}


def on(device):
    """The Tensor namespace whose creation functions default to ``device``.

    >>> on("cpu").zeros(2).device
    device(type='cpu')
    """
    space = _spaces.get(device)
    if space is None:
        space = _spaces[device] = _OnDevice(device)
    return space
