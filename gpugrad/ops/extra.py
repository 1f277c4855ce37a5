"""Ops the NumPy and array-API namespaces need beyond the core set: binary math
(logaddexp, arctan2, hypot, copysign, fmod), rounding, exp2/cbrt, complex parts,
cumprod, sorting, triangles and diagonals.  Forward and backward side by side.

>>> import gpugrad as gg
>>> x = gg.tensor([3.0, 1.0, 2.0], requires_grad=True)
>>> s = gg.sort(x); s.tolist()
[1.0, 2.0, 3.0]
>>> s.backward(gg.tensor([1.0, 10.0, 100.0])); x.grad.tolist()
[100.0, 1.0, 10.0]
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function, unbroadcast
from ..backend import get_array_module
from ..tensor import Tensor
from ._util import is_scalar, no_complex, normalize_axis, operand, shape_of, tensor_arg, xp_of
from .elementwise import _conj, _float_operand
from .reduce import low_precision

__all__ = ["logaddexp", "logaddexp2", "arctan2", "hypot", "copysign", "fmod", "round",
           "exp2", "cbrt", "real", "imag", "conj", "cumprod", "sort", "argsort"]


# ================================================================ binary math
class _Bin(Function):
    twice_differentiable = True  # each backward below is written on xp, with the inputs only

    def _keep(self, a, b):
        self.sa, self.sb = shape_of(a), shape_of(b)

    def _out(self, ga, gb):
        return (unbroadcast(ga, self.sa) if self.needs[0] else None,
                unbroadcast(gb, self.sb) if self.needs[1] else None)


def _like(xp, v, like):
    """A number operand as a constant array of ``like``'s dtype -- np.sign(1.5) or
    np.where(c, 0, 1.5) would be float64 and promote the gradient -- (under create_graph a
    constant Tensor on ``like``'s device, of its shape); anything else as it is."""
    if not is_scalar(v):
        return v
    return xp.full_like(like, v) if isinstance(like, Tensor) else xp.asarray(v, dtype=like.dtype)


def _share(xp, a, b, scale=1.0):
    """d logaddexp(a, b) / da = sigmoid(a - b) (times ``scale`` inside for base 2), with ties
    -- inf with inf, -inf with -inf -- sharing 0.5 each where a - b is NaN."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = (a - b) * scale if scale != 1.0 else a - b
        if isinstance(d, Tensor):  # create_graph: the Sigmoid op (the composite below is flat
            # at d == 0 in its |d|), on d made finite where both are the same infinity
            return xp.sigmoid(xp.where(xp.isnan(d) & (a == b), 0, d))
        e = xp.exp(-xp.abs(d))
        w = xp.where(d >= 0, 1 / (1 + e), e / (1 + e))
    return xp.where(a == b, 0.5, w)


class LogAddExp(_Bin):
    """log(exp(a) + exp(b)); d/da = sigmoid(a - b): 1 at (inf, 0) (not inf - inf = NaN), and
    0.5 each where the two are equal, infinities included."""

    def forward(self, a, b):
        self._keep(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).logaddexp(a, b)

    def backward(self, g):
        a, b = self.saved
        xp = xp_of(g)
        return self._out(g * _share(xp, a, b) if self.needs[0] else None,
                         g * _share(xp, b, a) if self.needs[1] else None)


class LogAddExp2(_Bin):
    """log2(2**a + 2**b); d/da = sigmoid((a - b) ln 2), with logaddexp's limits."""

    def forward(self, a, b):
        self._keep(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).logaddexp2(a, b)

    def backward(self, g):
        a, b = self.saved
        xp = xp_of(g)
        return self._out(g * _share(xp, a, b, math.log(2.0)) if self.needs[0] else None,
                         g * _share(xp, b, a, math.log(2.0)) if self.needs[1] else None)


class Arctan2(_Bin):
    """The angle of (x, y); the gradient is (x, -y) / (x**2 + y**2): 0 at the origin and
    where a coordinate is infinite (the limit, not inf / inf)."""

    def forward(self, y, x):
        self._keep(y, x)
        self.saved = (y, x)
        return xp_of(y if hasattr(y, "shape") else x).arctan2(y, x)

    def backward(self, g):
        y, x = self.saved
        xp = xp_of(g)
        with np.errstate(invalid="ignore", over="ignore"):
            d = x * x + y * y
            far = xp.isinf(d)
            if isinstance(g, Tensor):  # create_graph: the gradient is constant (0) at the
                # origin and where far, and the masked lanes stay finite (no 0 * inf = NaN)
                flat = far | ((x == 0) & (y == 0))
                x, y = (xp.where(flat, 0, _like(xp, v, g)) for v in (x, y))
                d = x * x + y * y
            d = xp.where((d == 0) | far, 1, d)
            return self._out(xp.where(far, 0, g * x / d), xp.where(far, 0, -g * y / d))


class Hypot(_Bin):
    """sqrt(a**2 + b**2); the gradient is (a, b) / hypot: 0 at the origin, and the limit
    where an input is infinite ((inf, 1) gives (1, 0); (inf, inf) gives 1/sqrt(2) each)."""

    saves_output = True

    def forward(self, a, b):
        self._keep(a, b)
        ans = xp_of(a if hasattr(a, "shape") else b).hypot(a, b)
        self.saved = (a, b, ans)
        return ans

    def backward(self, g):
        a, b, ans = self.saved
        xp = xp_of(g)
        a, b = _like(xp, a, ans), _like(xp, b, ans)  # a number: an array of ans's dtype
        big = xp.isinf(ans)  # direction from the infinite coordinates alone
        ua = xp.where(big, xp.where(xp.isinf(a), xp.sign(a), 0), a)
        ub = xp.where(big, xp.where(xp.isinf(b), xp.sign(b), 0), b)
        r = xp.where(big, xp.hypot(ua, ub), ans)
        safe = xp.where(r == 0, 1, r)
        if isinstance(g, Tensor):  # the gradient is constant (0) at the origin
            ua, ub = xp.where(r == 0, ua * 0, ua), xp.where(r == 0, ub * 0, ub)  # (signed 0)
        return self._out(g * ua / safe, g * ub / safe)


class Copysign(_Bin):
    def forward(self, a, b):
        self._keep(a, b)
        xp = xp_of(a if hasattr(a, "shape") else b)
        self.saved = (a, b)
        return xp.copysign(a, b)

    def backward(self, g):  # |a| * sign(b): d/da = sign(a) * (+-1 by b's sign bit)
        a, b = self.saved
        xp = xp_of(g)
        # +-1 by b's sign bit (on Tensors a constant: copysign's gradient in b is 0)
        flip = math.copysign(1.0, b) if is_scalar(b) else xp.copysign(1.0, b)
        return self._out(g * xp.sign(a) * flip, xp.zeros_like(g))


class Fmod(_Bin):
    def forward(self, a, b):
        self._keep(a, b)
        self.saved = (a, b)
        return xp_of(a if hasattr(a, "shape") else b).fmod(a, b)

    def backward(self, g):
        a, b = self.saved
        return self._out(g, -g * xp_of(g).trunc(a / b))


def _bin(cls, name, doc):
    def fn(a, b):
        a = operand(a, b)
        b = operand(b, a)
        for v in (a, b):  # NumPy defines none of these on complex numbers
            if hasattr(v, "dtype"):
                no_complex(v, name)
        if cls is not Fmod:
            a, b = _float_operand(a, name), _float_operand(b, name)
        return cls.apply(a, b)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


logaddexp = _bin(LogAddExp, "logaddexp", """log(exp(a) + exp(b)), computed stably.

>>> import gpugrad as gg
>>> f"{gg.logaddexp(gg.tensor(0.0), 0.0).item():.4f}"
'0.6931'
""")
logaddexp2 = _bin(LogAddExp2, "logaddexp2", """log2(2**a + 2**b), computed stably.

>>> import gpugrad as gg
>>> gg.logaddexp2(gg.tensor(1.0), 1.0).item()
2.0
""")
arctan2 = _bin(Arctan2, "arctan2", """The angle of the point (x2, x1): arctan(x1 / x2) by quadrant.

>>> import gpugrad as gg
>>> f"{gg.arctan2(gg.tensor(1.0), -1.0).item():.4f}"
'2.3562'
""")
hypot = _bin(Hypot, "hypot", """sqrt(a**2 + b**2) without overflow; gradient 0 at the origin.

>>> import gpugrad as gg
>>> gg.hypot(gg.tensor(3.0), 4.0).item()
5.0
""")
copysign = _bin(Copysign, "copysign", """|a| with the sign of b (gradient flows to a only).

>>> import gpugrad as gg
>>> gg.copysign(gg.tensor([1.0, -2.0]), -1.0).tolist()
[-1.0, -2.0]
""")
fmod = _bin(Fmod, "fmod", """C-style remainder (sign of the dividend).

>>> import gpugrad as gg
>>> gg.fmod(gg.tensor([-5.0, 5.0]), 3.0).tolist()
[-2.0, 2.0]
""")


# ================================================================ unary math
class Round(Function):
    twice_differentiable = True  # a constant zero gradient

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, decimals=0):
        return xp_of(x).round(x, decimals)

    def backward(self, g):
        return (xp_of(g).zeros_like(g),)


def round(x, decimals=0):
    """Round half to even at ``decimals`` places; the gradient is zero.

    >>> import gpugrad as gg
    >>> gg.round(gg.tensor([0.5, 1.5, 2.5])).tolist(), gg.round(gg.tensor([0.375], dtype="float64"), 2).tolist()
    ([0.0, 2.0, 2.0], [0.38])
    """
    return Round.apply(operand(x), decimals=int(decimals))


class Exp2(Function):
    saves_output = True
    twice_differentiable = True
    complex_grad = True  # g * conj(ans) ln 2

    def saved_inputs(self, needs):
        return ()

    def forward(self, x):
        ans = xp_of(x).exp2(x)
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (ans,) = self.saved
        if self._complex:
            ans = _conj(xp_of(g), ans)
        return (g * ans * math.log(2.0),)


def exp2(x):
    """2 ** x elementwise.

    >>> import gpugrad as gg
    >>> gg.exp2(gg.tensor([3.0])).tolist()
    [8.0]
    """
    return Exp2.apply(_float_operand(x, "exp2"))


class Cbrt(Function):
    saves_output = True
    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def forward(self, x):
        ans = xp_of(x).cbrt(x)
        self.saved = (ans,)
        return ans

    def backward(self, g):
        (ans,) = self.saved
        return (g / (3 * ans * ans),)


def cbrt(x):
    """Real cube root elementwise.

    >>> import gpugrad as gg
    >>> gg.cbrt(gg.tensor([-8.0])).tolist()
    [-2.0]
    """
    return Cbrt.apply(_float_operand(x, "cbrt"))


class _Part(Function):
    complex_grad = True  # linear in its input: g passes unconjugated
    twice_differentiable = True  # linear: its backward is conj / a cast / a product by 1j

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, part):
        self.part, self.complex, self.dtype = part, x.dtype.kind == "c", x.dtype
        xp = xp_of(x)
        if part == "conj":
            return xp.conj(x) if self.complex else x.copy()
        return getattr(xp, part)(x).copy()  # a contiguous copy that keeps 0-d shapes

    def backward(self, g):
        xp = xp_of(g)
        if self.part == "conj":
            return (xp.conj(g),)
        if not self.complex:
            return ((g if self.part == "real" else xp.zeros_like(g)).astype(self.dtype,
                                                                              copy=False),)
        # g * 1j, not 1j * g: a NumPy scalar g must stay a NumPy scalar
        return ((g if self.part == "real" else g * 1j).astype(self.dtype, copy=False),)


def real(x):
    """The real part (a copy for real input).

    >>> import gpugrad as gg
    >>> gg.real(gg.tensor([1 + 2j])).tolist()
    [1.0]
    """
    return _Part.apply(tensor_arg(x), part="real")


def imag(x):
    """The imaginary part (zeros for real input).

    >>> import gpugrad as gg
    >>> gg.imag(gg.tensor([1 + 2j])).tolist()
    [2.0]
    """
    return _Part.apply(tensor_arg(x), part="imag")


def conj(x):
    """The complex conjugate (a copy for real input).

    >>> import gpugrad as gg
    >>> gg.conj(gg.tensor([1 + 2j])).tolist()
    [(1-2j)]
    """
    return _Part.apply(tensor_arg(x), part="conj")


# ================================================================ cumprod
class CumProd(Function):
    saves_output = True
    twice_differentiable = True  # the formulas below read x and ans only
    complex_grad = True  # run on conj(x), conj(ans): g * conj(d ans / dx)

    def forward(self, x, axis):
        xp = xp_of(x)
        self.shape, self.axis = x.shape, axis
        ans = xp.cumprod(x.reshape(-1) if axis is None else x, axis=0 if axis is None else axis)
        self.saved = (x, ans)  # x itself (not a reshaped view): create_graph maps it to the input
        return ans

    def backward(self, g):
        x, ans = self.saved
        xp = xp_of(g)
        if self.axis is None:
            x = x.reshape(-1)
        if self._complex:
            x, ans = _conj(xp, x), _conj(xp, ans)
        ax = 0 if self.axis is None else self.axis
        if not (x == 0).any():  # d ans_j / d x_k = ans_j / x_k for j >= k
            r = xp.flip(xp.cumsum(xp.flip(g * ans, ax), axis=ax), ax) / x
            return (r.reshape(self.shape),)
        # zeros present: for each k, the cumprod with x_k replaced by 1 (O(n^2) along axis)
        xm, gm = xp.moveaxis(x, ax, -1), xp.moveaxis(g, ax, -1)
        n = xm.shape[-1]
        rxp = get_array_module(x.data if isinstance(x, Tensor) else x)  # constants: raw arrays
        eye = rxp.eye(n, dtype=bool)
        rep = xp.where(eye.reshape((n,) + (1,) * (xm.ndim - 1) + (n,)), 1, xm[None])
        cp = xp.cumprod(rep, axis=-1) * rxp.triu(rxp.ones((n, n), dtype=x.dtype)).reshape(
            (n,) + (1,) * (xm.ndim - 1) + (n,))
        r = xp.moveaxis((cp * gm[None]).sum(axis=-1), 0, -1)
        return (xp.moveaxis(r, -1, ax).reshape(self.shape),)


def cumprod(x, axis=None):
    """Cumulative product (flattened when ``axis`` is None); exact gradient with zeros.

    >>> import gpugrad as gg
    >>> gg.cumprod(gg.tensor([1.0, 2.0, 3.0])).tolist()
    [1.0, 2.0, 6.0]
    """
    x = tensor_arg(x)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim)[0]
    if low_precision(x.dtype):  # float16: the running product in float32, as cumsum's sum
        return CumProd.apply(x.astype(np.float32), axis=axis).astype(x.dtype)
    return CumProd.apply(x, axis=axis)


# ================================================================ sorting
def _argsort(xp, x, axis, descending, stable=True):
    kind = "stable" if stable else None
    if not descending:
        return xp.argsort(x, axis=axis, kind=kind) if kind else xp.argsort(x, axis=axis)
    # stable descending: sort the reversed array, reverse back, map the indices
    n = x.shape[axis]
    idx = xp.flip(xp.argsort(xp.flip(x, axis), axis=axis, kind="stable"), axis)
    return (n - 1) - idx


class Sort(Function):
    twice_differentiable = True  # a permutation by a saved (constant) index

    def saved_inputs(self, needs):
        return ()

    def forward(self, x, axis, descending):
        xp = xp_of(x)
        self.axis = axis
        idx = _argsort(xp, x, axis, descending)
        self.saved = (idx,)
        return xp.take_along_axis(x, idx, axis=axis)

    def backward(self, g):  # un-permute: the inverse permutation of idx
        (idx,) = self.saved
        xp = xp_of(g)
        inv = xp.argsort(idx, axis=self.axis)
        return (xp.take_along_axis(g, inv, axis=self.axis),)


class ArgSort(Function):
    differentiable = False

    def forward(self, x, axis, descending, stable):
        return _argsort(xp_of(x), x, axis, descending, stable)


def _sort_args(x, axis):
    x = tensor_arg(x)
    if axis is None:
        from . import ravel

        return ravel(x), 0
    if x.ndim == 0:
        raise np.exceptions.AxisError(f"cannot sort a 0-d tensor along axis {axis}")
    return x, normalize_axis(axis, x.ndim)[0]


def sort(x, axis=-1, descending=False):
    """Sorted copy along ``axis`` (flattened when None); stable; the gradient is un-permuted.

    >>> import gpugrad as gg
    >>> gg.sort(gg.tensor([[3, 1], [0, 2]]), descending=True).tolist()
    [[3, 1], [2, 0]]
    """
    x, ax = _sort_args(x, axis)
    return Sort.apply(x, axis=ax, descending=bool(descending))


def argsort(x, axis=-1, descending=False, stable=True):
    """Indices that sort ``x`` along ``axis`` (no gradient).

    >>> import gpugrad as gg
    >>> gg.argsort(gg.tensor([3.0, 1.0, 2.0])).tolist()
    [1, 2, 0]
    """
    x, ax = _sort_args(x, axis)
    return ArgSort.apply(x, axis=ax, descending=bool(descending), stable=bool(stable))


from .extra_linalg import *  # noqa: E402,F401,F403
from .extra_linalg import __all__ as _la  # noqa: E402

__all__ = __all__ + list(_la)
