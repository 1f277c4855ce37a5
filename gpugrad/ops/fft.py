"""Differentiable discrete Fourier transforms, on NumPy (``numpy.fft``) and CuPy (``cupy.fft``).

Three ops carry every transform, each with its gradient beside it (PyTorch's convention for
complex gradients, as :func:`gpugrad.gradcheck` checks):

* ``C2C`` -- ``fftn``/``ifftn``: linear, so the gradient is the adjoint transform, the inverse
  direction with the dual normalization ('backward' <-> 'forward', 'ortho' <-> 'ortho').
* ``R2C`` -- ``rfftn``: the forward transform of a real input with the upper half of the last
  axis dropped; the gradient zero-fills that half, runs the adjoint and keeps the real part.
* ``C2R`` -- ``irfftn``: builds the Hermitian spectrum from its lower half, so every interior
  bin of the last axis appears twice in the output (itself and its mirror); the gradient is
  ``rfftn`` of the cotangent, dual-normalized, with those bins doubled -- only bin 0 and, for
  an even length ``n``, bin ``n/2`` are counted once.  ``n`` (``s[-1]``) fixes the output's
  length; its default is ``2 * (m - 1)`` for ``m`` input bins.

Inputs are cropped or zero-padded to ``n``/``s`` before transforming (NumPy's rule); the
gradient of a crop is a zero-pad and of a pad a crop.  ``hfft``/``ihfft`` are ``irfft``/
``rfft`` of the conjugate.  Each backward runs as these transforms on Tensors under
``create_graph``, so gradients of every order exist.  Normalizations: ``norm`` is 'backward' (the default, or None),
'ortho' or 'forward'.  dtypes follow NumPy 2: single precision stays single.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64", requires_grad=True)
>>> y = gg.fft.rfft(x); y.tolist()
[(10+0j), (-2+2j), (-2+0j)]
>>> gg.real(y).sum().backward(); x.grad.tolist()
[3.0, 0.0, 1.0, 0.0]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..wide_sum import is_16bit_float
from ._axis_args import axis_index
from ._util import tensor_arg, xp_of

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft"]

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def check_norm(norm, name):
    """``norm`` as one of 'backward', 'ortho', 'forward' (None means 'backward')."""
    if norm is None:
        return "backward"
    if norm not in _DUAL:
        raise ValueError(f"{name}: norm must be 'backward', 'ortho', 'forward' or None, "
                         f"got {norm!r}")
    return norm


def _resize(xp, a, axes, sizes):
    """``a`` cropped or zero-padded at the end to ``sizes`` along ``axes``."""
    for ax, n in zip(axes, sizes):
        m = a.shape[ax]
        if m > n:
            a = a[(slice(None),) * ax + (slice(0, n),)]
        elif m < n:
            width = [(0, 0)] * a.ndim
            width[ax] = (0, n - m)
            a = xp.pad(a, width)
    return a


def _finish(gx, node):
    """The gradient in the input's dtype: its real part for a real input."""
    if node.dtype.kind != "c":
        gx = gx.real
    return gx.astype(node.dtype, copy=False)


class _Transform(Function):
    complex_grad = True  # each backward below is the transform's adjoint
    # ... written with xp.fft, xp.pad and slicing: on Tensors (create_graph) these are the
    # differentiable transforms themselves, so every order works
    twice_differentiable = True

    def saved_inputs(self, needs):
        return ()

    def _keep(self, x, axes, s, norm):
        self.dtype, self.axes, self.s, self.norm = x.dtype, axes, s, norm
        self.in_sizes = [x.shape[a] for a in axes]


class C2C(_Transform):
    def forward(self, x, axes, s, norm, inverse):
        self._keep(x, axes, s, norm)
        self.inverse = inverse
        xp = xp_of(x)
        return (xp.fft.ifftn if inverse else xp.fft.fftn)(x, s=s, axes=axes, norm=norm)

    def backward(self, g):
        xp = xp_of(g)
        adjoint = xp.fft.fftn if self.inverse else xp.fft.ifftn
        gx = adjoint(g, axes=self.axes, norm=_DUAL[self.norm])
        return (_finish(_resize(xp, gx, self.axes, self.in_sizes), self),)


class R2C(_Transform):
    def forward(self, x, axes, s, norm):
        self._keep(x, axes, s, norm)
        return xp_of(x).fft.rfftn(x, s=s, axes=axes, norm=norm)

    def backward(self, g):
        xp = xp_of(g)
        full = _resize(xp, g, self.axes[-1:], self.s[-1:])  # the dropped half: zeros
        gx = xp.fft.ifftn(full, axes=self.axes, norm=_DUAL[self.norm])
        return (_finish(_resize(xp, gx, self.axes, self.in_sizes), self),)


class C2R(_Transform):
    def forward(self, x, axes, s, norm):
        self._keep(x, axes, s, norm)
        if is_16bit_float(x.dtype):  # computed in float32; NumPy's float16 pattern (for
            # bfloat16 too, which NumPy would answer in float64): a 16-bit answer over one
            # axis, float32 over more (NumPy's irfftn runs its first passes in complex64)
            y = xp_of(x).fft.irfftn(x.astype(np.float32), s=s, axes=axes, norm=norm)
            return y.astype(x.dtype) if len(axes) == 1 else y
        return xp_of(x).fft.irfftn(x, s=s, axes=axes, norm=norm)

    def backward(self, g):
        xp = xp_of(g)
        n, ax = self.s[-1], self.axes[-1]
        gz = xp.fft.rfftn(g, axes=self.axes, norm=_DUAL[self.norm])
        w = xp.full(n // 2 + 1, 2.0, dtype=gz.real.dtype)  # each interior bin appears twice
        w[0] = 1.0
        if n % 2 == 0:
            w[-1] = 1.0
        gz = gz * w.reshape((-1,) + (1,) * (g.ndim - 1 - ax))
        return (_finish(_resize(xp, gz, self.axes, self.in_sizes), self),)


# ================================================================ argument handling
def _axes_and_sizes(x, s, axes, name, real_out=False):
    """Normalized ``(axes, s)``: NumPy's defaults (all axes, or the last ``len(s)``), -1 in
    ``s`` meaning the input's size (for ``irfft*``'s last axis: ``2 * (m - 1)``)."""
    nd = x.ndim
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    elif isinstance(axes, (int, np.integer)):
        axes = (axes,)
    axes = tuple(axis_index(a, None, f"{name}: axis") for a in axes)  # (1.5 is no axis)
    for a in axes:
        if not -nd <= a < nd:
            raise np.exceptions.AxisError(
                f"{name}: axis {a} is out of bounds for an input of dimension {nd}")
    axes = tuple(a % nd for a in axes)
    if not axes:
        raise ValueError(f"{name}: expected at least one axis to transform, got none "
                         f"(input shape {x.shape})")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: expected distinct axes, got {axes}")
    if s is None:
        s = [-1] * len(axes)
    s = [int(v) for v in s]
    if len(s) != len(axes):
        raise ValueError(f"{name}: s and axes must have the same length, got s={tuple(s)} "
                         f"and axes={axes}")
    for i, a in enumerate(axes):
        if s[i] == -1:
            last = real_out and i == len(axes) - 1
            s[i] = 2 * (x.shape[a] - 1) if last else x.shape[a]
        if s[i] < 1:
            raise ValueError(f"{name}: expected at least 1 output point along axis {a}, got "
                             f"{s[i]} (input shape {x.shape}, s={tuple(s)})")
    return axes, tuple(s)


def _c2c(a, s, axes, norm, inverse, name):
    x = tensor_arg(a, name)
    axes, s = _axes_and_sizes(x, s, axes, name)
    return C2C.apply(x, axes=axes, s=s, norm=check_norm(norm, name), inverse=inverse)


def _r2c(a, s, axes, norm, name):
    x = tensor_arg(a, name)
    if x.dtype.kind == "c":
        raise TypeError(f"{name}: expected a real input, got {x.dtype}; use fft for complex "
                        f"input")
    axes, s = _axes_and_sizes(x, s, axes, name)
    return R2C.apply(x, axes=axes, s=s, norm=check_norm(norm, name))


def _c2r(a, s, axes, norm, name):
    x = tensor_arg(a, name)
    axes, s = _axes_and_sizes(x, s, axes, name, real_out=True)
    return C2R.apply(x, axes=axes, s=s, norm=check_norm(norm, name))


def _one(n):
    return None if n is None else (n,)


def _no_out(out, name):
    if out is not None:
        raise NotImplementedError(f"{name}: out= is not supported; assign the result instead")


# ================================================================ the transforms
def fft(a, n=None, axis=-1, norm=None, out=None):
    """1-D discrete Fourier transform along ``axis``, the input cropped or zero-padded to ``n``.

    Real input gives a complex result (complex64 for float32, else complex128); the
    gradient of a real input is real.  Raises AxisError for a bad axis, ValueError for
    ``n < 1`` or an unknown ``norm``.

    >>> import gpugrad as gg
    >>> gg.fft.fft(gg.tensor([1.0, 0.0, 0.0, 0.0])).tolist()
    [(1+0j), (1+0j), (1+0j), (1+0j)]
    """
    _no_out(out, "fft")
    return _c2c(a, _one(n), (axis,), norm, False, "fft")


def ifft(a, n=None, axis=-1, norm=None, out=None):
    """1-D inverse discrete Fourier transform along ``axis`` (see :func:`fft`).

    >>> import gpugrad as gg
    >>> gg.fft.ifft(gg.tensor([4.0, 0.0, 0.0, 0.0])).tolist()
    [(1+0j), (1+0j), (1+0j), (1+0j)]
    """
    _no_out(out, "ifft")
    return _c2c(a, _one(n), (axis,), norm, True, "ifft")


def fftn(a, s=None, axes=None, norm=None, out=None):
    """N-D discrete Fourier transform over ``axes`` (all, or the last ``len(s)``), each
    axis cropped or zero-padded to ``s`` (-1: keep the input's size).

    >>> import gpugrad as gg
    >>> gg.fft.fftn(gg.ones((2, 2))).tolist()
    [[(4+0j), 0j], [0j, 0j]]
    """
    _no_out(out, "fftn")
    return _c2c(a, s, axes, norm, False, "fftn")


def ifftn(a, s=None, axes=None, norm=None, out=None):
    """N-D inverse discrete Fourier transform (see :func:`fftn`).

    >>> import gpugrad as gg
    >>> gg.fft.ifftn(gg.fft.fftn(gg.ones((2, 2)))).real.tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    _no_out(out, "ifftn")
    return _c2c(a, s, axes, norm, True, "ifftn")


def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """2-D discrete Fourier transform (:func:`fftn` over the last two axes by default).

    >>> import gpugrad as gg
    >>> gg.fft.fft2(gg.ones((2, 2))).shape
    (2, 2)
    """
    _no_out(out, "fft2")
    return _c2c(a, s, axes, norm, False, "fft2")


def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """2-D inverse discrete Fourier transform (see :func:`fft2`).

    >>> import gpugrad as gg
    >>> gg.fft.ifft2(gg.ones((2, 2))).shape
    (2, 2)
    """
    _no_out(out, "ifft2")
    return _c2c(a, s, axes, norm, True, "ifft2")


def rfft(a, n=None, axis=-1, norm=None, out=None):
    """1-D transform of a real input: the ``n // 2 + 1`` non-negative-frequency terms.

    Raises TypeError for a complex input.

    >>> import gpugrad as gg
    >>> gg.fft.rfft(gg.tensor([1.0, 1.0, 1.0, 1.0])).tolist()
    [(4+0j), 0j, 0j]
    """
    _no_out(out, "rfft")
    return _r2c(a, _one(n), (axis,), norm, "rfft")


def irfft(a, n=None, axis=-1, norm=None, out=None):
    """Inverse of :func:`rfft`: a real output of length ``n`` (default ``2 * (m - 1)``) from
    ``m`` Hermitian half-spectrum terms (the imaginary parts of bin 0, and of bin ``n/2`` for
    even ``n``, are ignored, and get a zero gradient).

    >>> import gpugrad as gg
    >>> gg.fft.irfft(gg.tensor([4.0, 0.0, 0.0])).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    _no_out(out, "irfft")
    return _c2r(a, _one(n), (axis,), norm, "irfft")


def rfftn(a, s=None, axes=None, norm=None, out=None):
    """N-D transform of a real input, halved along the last of ``axes`` (see :func:`fftn`).

    >>> import gpugrad as gg
    >>> gg.fft.rfftn(gg.ones((2, 4))).shape
    (2, 3)
    """
    _no_out(out, "rfftn")
    return _r2c(a, s, axes, norm, "rfftn")


def irfftn(a, s=None, axes=None, norm=None, out=None):
    """Inverse of :func:`rfftn` (the last axis's output length is ``s[-1]``, by default
    ``2 * (m - 1)``).

    >>> import gpugrad as gg
    >>> gg.fft.irfftn(gg.fft.rfftn(gg.ones((2, 4)))).tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """
    _no_out(out, "irfftn")
    return _c2r(a, s, axes, norm, "irfftn")


def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """2-D :func:`rfftn` over the last two axes by default.

    >>> import gpugrad as gg
    >>> gg.fft.rfft2(gg.ones((2, 4))).shape
    (2, 3)
    """
    _no_out(out, "rfft2")
    return _r2c(a, s, axes, norm, "rfft2")


def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    """2-D :func:`irfftn` over the last two axes by default.

    >>> import gpugrad as gg
    >>> gg.fft.irfft2(gg.ones((2, 3))).shape
    (2, 4)
    """
    _no_out(out, "irfft2")
    return _c2r(a, s, axes, norm, "irfft2")


def hfft(a, n=None, axis=-1, norm=None, out=None):
    """Transform of a Hermitian-symmetric signal given by its first half: a real output of
    length ``n`` (default ``2 * (m - 1)``); ``irfft`` of the conjugate, NumPy's definition.

    >>> import gpugrad as gg
    >>> gg.fft.hfft(gg.tensor([1.0, 0.0, 0.0])).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    from . import conj

    _no_out(out, "hfft")
    return _c2r(conj(tensor_arg(a, "hfft")), _one(n), (axis,),
                _DUAL[check_norm(norm, "hfft")], "hfft")


def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """Inverse of :func:`hfft` for a real input: ``n // 2 + 1`` complex terms.

    >>> import gpugrad as gg
    >>> gg.fft.ihfft(gg.tensor([1.0, 2.0, 3.0, 4.0]))[1].item()
    (-0.5-0.5j)
    """
    from . import conj

    _no_out(out, "ihfft")
    return conj(_r2c(a, _one(n), (axis,), _DUAL[check_norm(norm, "ihfft")], "ihfft"))
