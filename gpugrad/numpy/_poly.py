"""NumPy's polynomial functions, differentiable in the coefficients and the points:
``polyval`` (Horner's rule, as NumPy computes it), ``polyder``, ``polyint``, ``polyadd``,
``polysub``, ``polymul`` (a convolution), ``vander`` (a running product) and the ``poly1d``
class built on them.

Inputs outside any recorded graph take NumPy's own function (the same bits); with a tensor
in a graph among them the same formula runs on tensors.  Coefficients come highest power
first, as in NumPy.

>>> import gpugrad as gg, gpugrad.numpy as gnp
>>> c = gg.tensor([1.0, 0.0, -2.0], dtype="float64", requires_grad=True)
>>> y = gnp.polyval(c, 3.0); y.backward()
>>> y.item(), c.grad.tolist()
(7.0, [9.0, 3.0, 1.0])
"""
from __future__ import annotations

import numpy as _np

from .. import ops
from ..backend import get_array_module
from . import _core as C, _fallback
from ._fallback import tensors_in

__all__ = ["polyval", "polyder", "polyint", "polyadd", "polysub", "polymul", "vander", "poly1d"]


def _graph(*args) -> bool:
    """True when a tensor in a recorded graph is among ``args`` (at any depth)."""
    return any(C.traced(t) for t in tensors_in(args)) or any(
        isinstance(a, poly1d) and C.traced(a.coeffs) for a in args)


def _coeffs(p):
    return p.coeffs if isinstance(p, poly1d) else p


def _numpy(name, *args, **kw):
    """NumPy's own ``name`` on the raw arrays (no graph), coefficients of poly1d arguments
    passed as arrays; a NumPy scalar answer as a 0-d tensor."""
    return C.wrap(_fallback.call(getattr(_np, name), tuple(_coeffs(a) for a in args), kw, name))


def const(arr, like):
    """A constant tensor of host or device array ``arr`` on ``like``'s device (made anew by
    a replay while ``gpugrad.compile`` records)."""
    from ..backend import to_device

    if like.device.type != "cpu" and isinstance(arr, _np.ndarray):
        arr = to_device(arr, like.device)
    return C.const(arr)


def _wrap(val, truepoly):
    return poly1d(val) if truepoly else val


def polyval(p, x):
    """The polynomial with coefficients ``p`` (highest power first; 2-D: one polynomial per
    column) at ``x``, by Horner's rule; ``x`` may be a :class:`poly1d` (composition).

    >>> import gpugrad.numpy as gnp
    >>> gnp.polyval([1.0, 2.0, 3.0], gnp.array([0.0, 1.0])).tolist()
    [3.0, 6.0]
    """
    if isinstance(x, poly1d):
        y = poly1d([0])
        for pv in C.tensor(_coeffs(p)):
            y = y * x + pv
        return y
    if not _graph(p, x):
        return _numpy("polyval", p, x)
    pt = C.tensor(_coeffs(p))
    xt = C.tensor(x, pt)
    y = const(get_array_module(xt.data).zeros_like(xt.data), xt)
    for i in range(pt.shape[0]):
        y = ops.add(ops.multiply(y, xt), pt[i])
    return y


def polyder(p, m=1):
    """The ``m``-th derivative's coefficients (a :class:`poly1d` for a poly1d ``p``).

    >>> import gpugrad.numpy as gnp
    >>> gnp.polyder([1.0, 1.0, 1.0]).tolist()
    [2.0, 1.0]
    """
    m = C.index(m, "polyder: m")
    if m < 0:
        raise ValueError("Order of derivative must be positive (see polyint)")
    if not _graph(p):
        return _wrap(_numpy("polyder", p, m), isinstance(p, poly1d))
    val = C.tensor(_coeffs(p))
    for _ in range(m):
        n = val.shape[0] - 1
        val = ops.multiply(val[:-1], const(_np.arange(n, 0, -1), val))
    return _wrap(val, isinstance(p, poly1d))


def polyint(p, m=1, k=None):
    """The ``m``-th antiderivative's coefficients, with integration constants ``k`` (a
    number, or one per order; zeros by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.polyint([3.0, 2.0]).tolist()
    [1.5, 2.0, 0.0]
    """
    m = C.index(m, "polyint: m")
    if m < 0:
        raise ValueError("Order of integral must be positive (see polyder)")
    if not _graph(p, k):
        return _wrap(_numpy("polyint", p, m, k), isinstance(p, poly1d))
    kt = C.tensor([0.0] * m if k is None else k)
    kt = ops.reshape(kt, (-1,)) if kt.ndim == 0 else kt
    if kt.shape[0] == 1 and m > 1:
        kt = ops.broadcast_to(kt, (m,))
    if kt.shape[0] < m:
        raise ValueError("k must be a scalar or a rank-1 array of length 1 or >m.")
    from ._manip import concatenate

    val = C.tensor(_coeffs(p))
    for i in range(m):
        lead = ops.divide(val, const(_np.arange(val.shape[0], 0, -1), val))
        val = concatenate([lead, ops.reshape(kt[i], (1,))])
    return _wrap(val, isinstance(p, poly1d))


def _padded(a1, a2):
    from ._manip import concatenate

    a1, a2 = ops.reshape(a1, (-1,)) if a1.ndim == 0 else a1, \
        ops.reshape(a2, (-1,)) if a2.ndim == 0 else a2
    diff = a2.shape[0] - a1.shape[0]
    if diff > 0:
        a1 = concatenate([const(_np.zeros(diff, a1.dtype), a1), a1])
    elif diff < 0:
        a2 = concatenate([const(_np.zeros(-diff, a2.dtype), a2), a2])
    return a1, a2


def polyadd(a1, a2):
    """The sum of two polynomials (the shorter padded with leading zeros).

    >>> import gpugrad.numpy as gnp
    >>> gnp.polyadd([1.0, 2.0], [1.0, 0.0, 0.0]).tolist()
    [1.0, 1.0, 2.0]
    """
    return _combine("polyadd", ops.add, a1, a2)


def polysub(a1, a2):
    """The difference of two polynomials.

    >>> import gpugrad.numpy as gnp
    >>> gnp.polysub([1.0, 2.0], [1.0, 0.0, 0.0]).tolist()
    [-1.0, 1.0, 2.0]
    """
    return _combine("polysub", ops.subtract, a1, a2)


def _combine(name, op, a1, a2):
    """``op`` of two polynomials' coefficients, the shorter padded with leading zeros
    (NumPy's own ``name`` outside a graph); a poly1d when either is one."""
    truepoly = isinstance(a1, poly1d) or isinstance(a2, poly1d)
    if not _graph(a1, a2):
        return _wrap(_numpy(name, a1, a2), truepoly)
    x, y = C.operands([_coeffs(a1), _coeffs(a2)])
    return _wrap(op(*_padded(C.tensor(x, y), C.tensor(y, x))), truepoly)


def polymul(a1, a2):
    """The product of two polynomials (the convolution of their coefficients).

    >>> import gpugrad.numpy as gnp
    >>> gnp.polymul([1.0, 1.0], [1.0, -1.0]).tolist()
    [1.0, 0.0, -1.0]
    """
    from ._signal import convolve

    truepoly = isinstance(a1, poly1d) or isinstance(a2, poly1d)
    if not _graph(a1, a2):
        return _wrap(_numpy("polymul", a1, a2), truepoly)
    return _wrap(convolve(poly1d(a1).coeffs, poly1d(a2).coeffs), truepoly)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of 1-D ``x``: columns ``x**(N-1), ..., x, 1`` (``increasing``:
    the other way), in ``promote_types(x.dtype, int)``, built by a running product.

    >>> import gpugrad.numpy as gnp
    >>> gnp.vander(gnp.array([2.0, 3.0]), 3).tolist()
    [[4.0, 2.0, 1.0], [9.0, 3.0, 1.0]]
    """
    if not _graph(x):
        return _numpy("vander", x, N, increasing)
    from ._manip import concatenate

    xt = C.tensor(x)
    if xt.ndim != 1:
        raise ValueError("x must be a one-dimensional array or sequence.")
    n = xt.shape[0] if N is None else C.index(N, "vander: N")
    dt = _np.promote_types(xt.dtype, int)
    xt = xt.astype(dt) if xt.dtype != dt else xt
    ones = const(get_array_module(xt.data).ones((xt.shape[0], min(n, 1)), dt), xt)
    if n > 1:
        powers = ops.cumprod(ops.broadcast_to(ops.reshape(xt, (-1, 1)), (xt.shape[0], n - 1)), 1)
        ones = concatenate([ones, powers], axis=1)
    return ones if increasing else ops.flip(ones, 1)


from ._poly1d import poly1d  # noqa: E402 -- (it calls the functions above)
