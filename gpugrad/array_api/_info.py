"""``__array_namespace_info__`` and ``isdtype`` of the array API namespace.

>>> info = __array_namespace_info__()
>>> info.default_dtypes()["real floating"], info.capabilities()["boolean indexing"]
(dtype('float64'), True)
"""
from __future__ import annotations

import numpy as _np

from .. import backend
from .. import dtypes as _d

__all__ = ["__array_namespace_info__", "isdtype"]

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
    dt = _np.dtype(dtype)
    if isinstance(kind, tuple):
        return any(isdtype(dt, k) for k in kind)
    if isinstance(kind, str):
        if kind not in _KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
        return dt.kind in _KINDS[kind]
    return dt == _np.dtype(kind)


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
