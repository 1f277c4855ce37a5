"""Differentiable versions of ``angle``, ``nanprod``, ``nancumsum`` and ``diagflat``, which
outside a recorded graph are NumPy's own (the non-graph fallback, as before), and inside one
are built from differentiable ops by NumPy's own recipe, so the values are NumPy's bit for
bit:

* ``angle(z)`` = ``arctan2(imag(z), real(z))`` (``arctan2(0, x)`` for real ``x``; its
  gradient there is 0, as PyTorch's), times ``180 / pi`` with ``deg=True``;
* ``nanprod`` / ``nancumsum``: ``prod`` / ``cumsum`` with the NaNs replaced by 1 / 0 (their
  gradient is 0);
* ``diagflat(v, k)`` = ``diag(ravel(v), k)``.

>>> import gpugrad as gg, gpugrad.numpy as gnp
>>> z = gg.tensor([1j, 1.0 + 1j], requires_grad=True)
>>> gnp.angle(z).sum().backward(); z.grad.tolist()   # d angle = i / conj(z)
[(-1+0j), (-0.5+0.5j)]
"""
from __future__ import annotations

import numpy as _np

from .. import ops
from ..dtypes import is_inexact
from ..ops._fast import in_graph
from . import _core as C
from . import _fallback

__all__ = ["angle", "nanprod", "nancumsum", "diagflat"]


def _graph(*args):
    return any(in_graph(a) for a in args)


def angle(z, deg=False):
    """The counterclockwise angle from the positive real axis, in radians (degrees with
    ``deg=True``); differentiable in a graph.

    >>> import gpugrad.numpy as gnp
    >>> round(gnp.angle(gnp.array(1j)).item(), 6)
    1.570796
    """
    if not _graph(z):
        return _fallback.call(_np.angle, (z,), {"deg": deg}, "angle")
    from ._math import arctan2, imag, real

    x = C.tensor(z)
    if x.dtype.kind == "c":
        a = arctan2(imag(x), real(x))
    else:
        a = arctan2(0, x)
    return ops.multiply(a, 180 / _np.pi) if deg else a


def _without_nan(x, fill):
    from ._math import isnan

    x = C.tensor(x)
    return ops.where(isnan(x), fill, x) if is_inexact(x.dtype) else x   # (bfloat16 too)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=C._NOVALUE, initial=C._NOVALUE,
            where=C._NOVALUE):
    """Product treating NaNs as one (their gradient is zero).

    >>> import gpugrad.numpy as gnp
    >>> gnp.nanprod([2.0, float("nan"), 3.0]).item()
    6.0
    """
    kw = {k: v for k, v in (("keepdims", keepdims), ("initial", initial), ("where", where))
          if v is not C._NOVALUE}
    if not (_graph(a) or _graph(where) or _graph(out)):
        return _fallback.call(_np.nanprod, (a,), {"axis": axis, "dtype": dtype, "out": out,
                                                  **kw}, "nanprod")
    from ._reduce import prod

    return prod(_without_nan(a, 1), axis=axis, dtype=dtype, out=out, **kw)


def nancumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum treating NaNs as zero (their gradient is zero).

    >>> import gpugrad.numpy as gnp
    >>> gnp.nancumsum([1.0, float("nan"), 2.0]).tolist()
    [1.0, 1.0, 3.0]
    """
    if not (_graph(a) or _graph(out)):
        return _fallback.call(_np.nancumsum, (a,), {"axis": axis, "dtype": dtype, "out": out},
                              "nancumsum")
    from ._reduce import cumsum

    return cumsum(_without_nan(a, 0), axis=axis, dtype=dtype, out=out)


def diagflat(v, k=0):
    """A 2-D array with the flattened ``v`` on its ``k``-th diagonal.

    >>> import gpugrad.numpy as gnp
    >>> gnp.diagflat([[1, 2]]).tolist()
    [[1, 0], [0, 2]]
    """
    if not _graph(v):
        return _fallback.call(_np.diagflat, (v,), {"k": k}, "diagflat")
    return ops.diag(ops.ravel(C.tensor(v)), k)
