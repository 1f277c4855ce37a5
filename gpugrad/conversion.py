"""Turning data into tensors: :func:`tensor` (always copies), :func:`as_tensor` (shares memory
when it can), :func:`from_numpy` (always shares) and ``_to_array``, the array conversion the
Tensor constructor uses.  All of them are re-exported from :mod:`gpugrad.tensor`.

>>> import gpugrad as gg
>>> a = np.ones(2); gg.as_tensor(a).data is a, gg.tensor(a).data is a
(True, False)
"""
from __future__ import annotations

import numpy as np

from . import backend, dtypes
from .array_subclasses import plain
from .borrowed import borrow
from .backend import array_device, is_cupy_array
from .tensor import Tensor

__all__ = ["tensor", "as_tensor", "from_numpy"]


def _to_array(data, dtype=None, device=None):
    dt = dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        data = data.data
    if dt is None:
        dt = dtypes.default_dtype_for(data)
    if device is None:
        dev = array_device(data) if is_cupy_array(data) else backend.get_default_device()
    else:
        dev = backend.device(device)
    if dev.type == "cpu":
        if is_cupy_array(data):
            data = data.get()
        arr = np.array(data, dtype=dt)
    else:
        xp = dev.xp
        with xp.cuda.Device(dev.index):
            arr = xp.array(data, dtype=dt)
    if arr.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"cannot make a tensor of dtype {arr.dtype}; expected numbers or bools")
    return arr


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Make a tensor from data (a scalar, nested list, NumPy/CuPy array or tensor); copies.

    >>> tensor([1, 2]).dtype, tensor([1.0]).dtype, tensor(np.zeros(2)).dtype
    (dtype('int64'), dtype('float32'), dtype('float64'))
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor` but shares memory when ``data`` already has the dtype and device.

    >>> a = np.zeros(2); as_tensor(a).data is a
    True
    """
    if isinstance(data, Tensor):
        return data.to(dtype=dtype, device=device) if (dtype or device) else data
    data = plain(data)  # (a tensor holds a plain array: see array_subclasses)
    dt = dtypes.as_dtype(dtype)
    if (isinstance(data, np.ndarray) or is_cupy_array(data)) and (dt is None or
                                                                  data.dtype == dt):
        dev = backend.device(device) if device is not None else (
            array_device(data) if is_cupy_array(data) else backend.get_default_device())
        if array_device(data) == dev and data.dtype in dtypes.SUPPORTED:
            return borrow(data)     # (the caller's array: see gpugrad.borrowed)
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(a: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with NumPy array ``a``.

    >>> a = np.arange(3.0); t = from_numpy(a); a[0] = 9; t.tolist()
    [9.0, 1.0, 2.0]
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in dtypes.SUPPORTED:
        raise TypeError(f"unsupported dtype {a.dtype}")
    return borrow(plain(a))
