"""``__array_namespace_info__`` and ``isdtype`` of the array API namespace.

>>> info = __array_namespace_info__()
>>> info.default_dtypes()["real floating"], info.capabilities()["boolean indexing"]
(dtype('float64'), True)
"""
from __future__ import annotations

from collections import namedtuple

import numpy as _np

from .. import backend
from .. import dtypes as _d

__all__ = ["__array_namespace_info__", "isdtype", "finfo", "iinfo"]

_ALL = {"bool": _d.bool_, "int8": _d.int8, "int16": _d.int16, "int32": _d.int32,
        "int64": _d.int64, "uint8": _d.uint8, "uint16": _d.uint16, "uint32": _d.uint32,
        "uint64": _d.uint64, "float32": _d.float32, "float64": _d.float64,
        "complex64": _d.complex64, "complex128": _d.complex128}
_KINDS = {"bool": "b", "signed integer": "i", "unsigned integer": "u", "integral": "iu",
          "real floating": "f", "complex floating": "c", "numeric": "iufc"}


def isdtype(dtype, kind):
    """Whether ``dtype`` is of ``kind``: a dtype, a kind name ('bool', 'signed integer',
    'unsigned integer', 'integral', 'real floating', 'complex floating', 'numeric') or a
    tuple of them.

    >>> isdtype(_d.float32, "real floating"), isdtype(_d.int8, ("bool", "unsigned integer"))
    (True, False)
    """
    dt = dtype_arg(dtype, "isdtype")
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
        return dt.kind in _KINDS[kind]
    return dt == dtype_arg(kind, "isdtype")


class Info:
    """What this namespace supports (the standard's inspection API)."""

    __module__ = "gpugrad.array_api"

    def capabilities(self):
        """Optional features: boolean indexing and data-dependent shapes are supported."""
        return {"boolean indexing": True, "data-dependent shapes": True}

    def default_device(self):
        """The device new arrays go to."""
        return backend.get_default_device()

    def default_dtypes(self, *, device=None):
        """Default dtypes: float64, complex128, int64 (indexing int64)."""
        return {"real floating": _d.float64, "complex floating": _d.complex128,
                "integral": _d.int64, "indexing": _d.int64}

    def devices(self):
        """The CPU and every visible CUDA device."""
        return [backend.device("cpu")] + [backend.Device("cuda", i)
                                          for i in range(backend.cuda.device_count())]

    def dtypes(self, *, device=None, kind=None):
        """Supported dtypes (all of the standard's), optionally of one ``kind``."""
        if kind is None:
            return dict(_ALL)
        return {n: d for n, d in _ALL.items() if isdtype(d, kind)}


def __array_namespace_info__():
    """The namespace's inspection object.

    >>> __array_namespace_info__().devices()[0]
    device(type='cpu')
    """
    return Info()


finfo_object = namedtuple("finfo_object", "bits eps max min smallest_normal dtype")
iinfo_object = namedtuple("iinfo_object", "bits max min dtype")


def dtype_arg(x, fn):
    """The dtype a required dtype argument names: a dtype (NumPy's scalar types, such as
    ``numpy.float32``, included) or an array's.  ``None`` is refused: NumPy would read it as
    float64 and answer for float64."""
    if x is None:
        raise TypeError(f"{fn}: expected a dtype or an array, got None")
    dt = getattr(x, "dtype", None)  # (on a scalar type such as numpy.float32, a descriptor)
    return dt if isinstance(dt, _np.dtype) else _np.dtype(x)


def finfo(type, /):
    """Machine limits of a floating dtype (or an array's): ``bits`` (int), ``eps``, ``max``,
    ``min``, ``smallest_normal`` (Python floats) and ``dtype``; for a complex dtype, those
    of its real part.  Raises ValueError for a non-floating dtype.

    >>> f = finfo(_d.complex64); f.bits, f.eps == 2.0 ** -23, f.dtype
    (32, True, dtype('float32'))
    """
    dt = dtype_arg(type, "finfo")
    if dt.kind not in "fc":
        raise ValueError(f"finfo: expected a floating-point dtype, got {dt}")
    f = _np.finfo(dt)
    return finfo_object(int(f.bits), float(f.eps), float(f.max), float(f.min),
                        float(f.smallest_normal), f.dtype)


def iinfo(type, /):
    """Machine limits of an integer dtype (or an array's): ``bits``, ``max``, ``min`` (ints)
    and ``dtype``.  Raises ValueError for a non-integer dtype.

    >>> iinfo(_d.int8)
    iinfo_object(bits=8, max=127, min=-128, dtype=dtype('int8'))
    """
    dt = dtype_arg(type, "iinfo")
    if dt.kind not in "iu":
        raise ValueError(f"iinfo: expected an integer dtype, got {dt}")
    i = _np.iinfo(dt)
    return iinfo_object(int(i.bits), int(i.max), int(i.min), dt)
