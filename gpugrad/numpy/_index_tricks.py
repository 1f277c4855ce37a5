"""``r_`` and ``c_``: NumPy's index-expression builders, concatenating differentiably.

Slices become ``arange`` (or ``linspace`` for an imaginary step such as ``0:1:5j``); a
leading string ``'axis'``, ``'axis,ndmin'`` or ``'axis,ndmin,trans1d'`` sets how pieces join,
as in NumPy (the matrix directives ``'r'``/``'c'`` are not supported).

>>> import gpugrad.numpy as gnp
>>> gnp.r_[0:3, 9].tolist(), gnp.c_[gnp.array([1, 2]), gnp.array([3, 4])].tolist()
([0, 1, 2, 9], [[1, 3], [2, 4]])
"""
from __future__ import annotations

import numbers

import numpy as _np

from .. import ops
from . import _core as C

__all__ = ["r_", "c_", "mgrid", "ogrid"]


def _slice(s):
    start = 0 if s.start is None else s.start
    step = 1 if s.step is None else s.step
    if isinstance(step, complex):
        return _np.linspace(start, s.stop, int(abs(step)))
    return _np.arange(start, s.stop, step)


class _Concatenator:
    def __init__(self, axis, ndmin, trans1d):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        items = list(key) if isinstance(key, tuple) else [key]
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if items and isinstance(items[0], str):
            spec = items.pop(0)
            if spec in ("r", "c"):
                raise NotImplementedError(f"gpugrad.numpy r_/c_: the matrix directive "
                                          f"{spec!r} is not supported")
            vals = [int(v) for v in spec.split(",")]
            axis, ndmin, trans1d = (vals + [ndmin, trans1d][len(vals) - 1:])[:3]
        pieces, weak = [], []
        for it in items:
            if isinstance(it, slice):
                pieces.append(C.const(_slice(it)))
            elif isinstance(it, numbers.Number) and not isinstance(it, _np.ndarray):
                weak.append(it)
                pieces.append(it)
            else:
                pieces.append(C.tensor(it))
        dts = [p.dtype for p in pieces if p is not None and hasattr(p, "dtype") and
               not isinstance(p, (numbers.Number, _np.generic))]
        dt = _np.result_type(*dts, *weak) if dts or weak else _np.float64
        out = []
        for p in pieces:
            t = C.const(_np.asarray(p, dtype=dt)) if isinstance(
                p, (numbers.Number, _np.generic)) else (p if p.dtype == dt else ops.astype(p, dt))
            out.append(self._shape(t, ndmin, trans1d))
        if not out:
            return C.const(_np.array([]))
        return ops.concatenate(out, axis=axis)

    @staticmethod
    def _shape(t, ndmin, trans1d):
        nd = t.ndim
        if nd >= ndmin:
            return t
        t = ops.reshape(t, (1,) * (ndmin - nd) + t.shape)
        if trans1d != -1 and nd > 0:  # NumPy's placement of the original axes
            k2, k1 = ndmin - nd, trans1d
            k1 = k1 + k2 + 1 if k1 < 0 else k1
            axes = list(range(ndmin))
            t = ops.transpose(t, tuple(axes[:k1] + axes[k2:] + axes[k1:k2]))
        return t

    def __len__(self):
        return 0


r_ = _Concatenator(0, 1, -1)
c_ = _Concatenator(-1, 2, 0)


class _Grid:
    """``mgrid`` / ``ogrid``: NumPy's grids of slices (``mgrid[0:2, 0:3]``), as tensors
    (constants of a captured step).

    >>> import gpugrad.numpy as gnp
    >>> gnp.mgrid[0:2, 0:2].tolist(), [t.shape for t in gnp.ogrid[0:2, 0:3]]
    ([[[0, 0], [1, 1]], [[0, 1], [0, 1]]], [(2, 1), (1, 3)])
    """

    def __init__(self, grid):
        self._grid = grid

    def __getitem__(self, key):
        r = self._grid[key]
        return [C.const(a) for a in r] if isinstance(r, (list, tuple)) else C.const(r)


mgrid, ogrid = _Grid(_np.mgrid), _Grid(_np.ogrid)
