"""``zeros_like``, ``ones_like``, ``empty_like`` and ``full_like``: NumPy's signatures,
each new tensor with the shape, dtype, device and memory layout (``order``) of ``a``.

>>> import gpugrad.numpy as gnp
>>> import numpy
>>> gnp.zeros_like(numpy.ones((2, 3), order="F")).data.flags.f_contiguous
True
"""
from __future__ import annotations

from .. import backend
from . import _core as C
from . import _layout as L
from ._creation import _full_tensor, _has_tensor, _on, _shape

__all__ = ["zeros_like", "ones_like", "empty_like", "full_like"]


def _new_like(name, a, dtype, order, shape, device, *fill):
    """NumPy's ``<name>(a, *fill, dtype, order, shape=shape)`` (``zeros_like`` and the like)
    on ``device`` (``a``'s by default), in NumPy's layout for ``order`` (see :mod:`._layout`)."""
    t = C.tensor(a)
    order, dt = L.order_arg(order, "K"), C.dtype(dtype) or t.dtype
    shp = t.shape if shape is None else _shape(shape)
    dev = t.device if device is None else backend.device(device)
    if dev == t.device:  # NumPy's (CuPy's) own function, given the array itself
        return _on(lambda xp: getattr(xp, name)(t.data, *fill, dt, order, shape=shp), dev)
    lay = L.layout(t.data, order, shp)
    make = getattr(dev.xp, name[:-5])  # (another device: the layout NumPy's would have)
    return _on(lambda xp: L.new(lambda s, o: make(s, *fill, dt, o), shp, lay), dev)


def _like(name):
    def f(a, dtype=None, order="K", subok=True, shape=None, *, device=None):
        return _new_like(name, a, dtype, order, shape, device)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``{name[:-5]}`` with the shape, dtype, device and memory layout of ``a``"
                 f" (NumPy's ``order``: 'K' keeps ``a``'s, 'A' is F for a Fortran-ordered\n"
                 f"``a``, or 'C' or 'F').\n\n"
                 f">>> import gpugrad.numpy as gnp\n>>> gnp.{name}(gnp.zeros((2, 3))).shape\n"
                 f"(2, 3)\n")
    return f


zeros_like, ones_like, empty_like = (_like(n + "_like") for n in ("zeros", "ones", "empty"))


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """``full`` with the shape, dtype, device and memory layout of ``a`` (NumPy's ``order``:
    'K' keeps ``a``'s, 'A' is F for a Fortran-ordered ``a``, or 'C' or 'F').

    >>> import gpugrad.numpy as gnp
    >>> gnp.full_like(gnp.zeros(2), 5).tolist()
    [5.0, 5.0]
    """
    if _has_tensor(fill_value):
        t = C.tensor(a)
        shp = t.shape if shape is None else _shape(shape)
        return _full_tensor(shp, fill_value, dtype or t.dtype,
                            L.layout(t.data, L.order_arg(order, "K"), shp), device or t.device)
    return _new_like("full_like", a, dtype, order, shape, device, fill_value)
