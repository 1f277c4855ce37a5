"""``gpugrad.numpy.poly1d``: NumPy's one-variable polynomial class over a coefficient
tensor, so ``poly1d(c)(x)``, ``p.deriv()``, ``p.integ()`` and ``p + q``, ``p * q``, ``p ** 2``
are differentiable in the coefficients (and the points).

>>> import gpugrad.numpy as gnp
>>> p = gnp.poly1d([1.0, 2.0, 3.0])
>>> p(2.0).item(), p.deriv().coeffs.tolist(), p.order
(11.0, [2.0, 2.0], 2)
"""
from __future__ import annotations

import numbers

import numpy as _np

from .. import ops
from ..tensor import Tensor
from . import _core as C, _fallback

__all__ = ["poly1d"]


class poly1d:
    """A polynomial with coefficients ``c_or_r`` (highest power first; leading zeros are
    dropped, as NumPy's), or with roots ``c_or_r`` when ``r`` is true (computed by NumPy:
    no gradient through roots).  Coefficients are a tensor (``coeffs``, also ``c``, ``coef``,
    ``coefficients``); calling the polynomial is :func:`gpugrad.numpy.polyval`.  Errors:
    ValueError for 2-D coefficients, as NumPy.

    >>> import gpugrad.numpy as gnp
    >>> (gnp.poly1d([1.0, 1.0]) * gnp.poly1d([1.0, -1.0])).coeffs.tolist()
    [1.0, 0.0, -1.0]
    """

    __hash__ = None

    def __init__(self, c_or_r, r=False, variable=None):
        if isinstance(c_or_r, (poly1d, _np.poly1d)):
            self._coeffs = C.tensor(_np.asarray(c_or_r.coeffs)) if isinstance(
                c_or_r, _np.poly1d) else c_or_r._coeffs
            self._variable = variable or c_or_r.variable
            return
        if r:
            c_or_r = _fallback.call(_np.poly, (c_or_r,), {}, "poly")
        c = C.tensor(c_or_r)
        c = ops.reshape(c, (1,)) if c.ndim == 0 else c
        if c.ndim > 1:
            raise ValueError("Polynomial must be 1d only.")
        nz = _np.flatnonzero(c.detach().numpy())
        c = c[int(nz[0]):] if len(nz) else C.tensor(_np.zeros(1, c.dtype), c)
        self._coeffs, self._variable = c, variable or "x"

    coeffs = c = coef = coefficients = property(lambda self: self._coeffs)
    variable = property(lambda self: self._variable)
    order = o = property(lambda self: self._coeffs.shape[0] - 1)

    @property
    def roots(self):
        """The roots (NumPy's ``roots``: no gradient; TypeError inside a graph)."""
        return _fallback.call(_np.roots, (self._coeffs,), {}, "roots")

    r = roots

    def __call__(self, val):
        from ._poly import polyval

        return polyval(self._coeffs, val)

    def __array__(self, dtype=None, copy=None):
        return _np.asarray(self._coeffs, dtype=dtype)

    def __len__(self):
        return self.order

    def __getitem__(self, val):
        if val > self.order or val < 0:
            return self._coeffs.dtype.type(0)
        return self._coeffs[self.order - val]

    def __iter__(self):
        return iter(self._coeffs)

    def __repr__(self):
        return repr(_np.poly1d(self._coeffs.detach().numpy()))

    def __str__(self):
        return str(_np.poly1d(self._coeffs.detach().numpy(), variable=self._variable))

    def __neg__(self):
        return poly1d(ops.negative(self._coeffs))

    def __pos__(self):
        return self

    def __add__(self, other):
        from ._poly import polyadd

        return poly1d(polyadd(self._coeffs, poly1d(other)._coeffs))

    __radd__ = __add__

    def __sub__(self, other):
        from ._poly import polysub

        return poly1d(polysub(self._coeffs, poly1d(other)._coeffs))

    def __rsub__(self, other):
        return poly1d(other) - self

    def __mul__(self, other):
        from ._poly import polymul

        if _scalar(other):
            return poly1d(ops.multiply(self._coeffs, other))
        return poly1d(polymul(self._coeffs, poly1d(other)._coeffs))

    __rmul__ = __mul__

    def __truediv__(self, other):
        if not _scalar(other):
            raise NotImplementedError("gpugrad.numpy.poly1d: division by a polynomial "
                                      "(polydiv) is not supported; divide by a number")
        return poly1d(ops.divide(self._coeffs, other))

    def __pow__(self, val):
        if not isinstance(val, numbers.Integral) or val < 0:
            raise ValueError("Power to non-negative integers only.")
        res = poly1d([1])
        for _ in range(int(val)):
            res = res * self
        return res

    def __eq__(self, other):
        if not isinstance(other, (poly1d, _np.poly1d)):
            return NotImplemented
        a, b = self._coeffs, poly1d(other)._coeffs
        return a.shape == b.shape and bool(C.raw(a.detach() == b.detach()).all())

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def deriv(self, m=1):
        """The ``m``-th derivative, a poly1d."""
        from ._poly import polyder

        return poly1d(polyder(self._coeffs, m))

    def integ(self, m=1, k=0):
        """The ``m``-th antiderivative with integration constants ``k``, a poly1d."""
        from ._poly import polyint

        return poly1d(polyint(self._coeffs, m, k))


def _scalar(v):
    return isinstance(v, (numbers.Number, _np.generic)) or isinstance(v, Tensor) and v.ndim == 0
