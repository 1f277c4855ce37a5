"""Check analytic gradients against float64 central differences.

:func:`gradcheck` projects the output onto a random cotangent ``v`` and compares, for every
input element, d<v, f(x)>/dx from reverse mode with a central difference, then checks a few
random directions (the cheap, strong test of HIPS autograd's ``check_grads``).
:func:`gradgradcheck` does the same for the gradient itself: it checks, by central
differences, the second-order terms that ``create_graph=True`` records.

>>> import gpugrad as gg
>>> gradcheck(lambda x: (x * x).sum(), [gg.randn(3, dtype="float64")])
True
"""
from __future__ import annotations

import math

import numpy as np

from . import autograd
from .backend import get_array_module
from .tensor import Tensor, as_tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with finite differences."""


def _prepare(inputs):
    out = []
    for i, x in enumerate(inputs):
        t = as_tensor(x)
        if t.dtype.kind not in "fc":
            out.append(t)  # integer and boolean inputs (indices, targets) are held fixed
            continue
        wide = np.complex128 if t.dtype.kind == "c" else np.float64
        t = Tensor._make(t.data.astype(wide, order="C", copy=True))  # C order: perturbed in place
        t.requires_grad_(True)
        out.append(t)
    return out


def _cotangent(xp, rng, y):
    """A random cotangent for output ``y``: complex for a complex output."""
    v = rng.standard_normal(y.shape)
    if y.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(y.shape)
    return xp.asarray(v).astype(y.data.dtype)


def _steps(t):
    """The unit perturbations of one element: 1, and 1j too for a complex input (its real
    and imaginary parts are two real coordinates)."""
    return (1.0, 1j) if t.dtype.kind == "c" else (1.0,)


def _component(g, step):
    """The partial derivative along ``step`` held in gradient ``g``: PyTorch's convention
    for complex inputs, grad = dL/d(re) + 1j dL/d(im)."""
    return float(g.real) if step == 1.0 else float(g.imag)


def _excess(num, ana, atol, rtol):
    """How far ``ana`` is outside the tolerance around ``num`` (> 0: a failure); infinite
    when either is NaN or infinite (a comparison with NaN is False, so it would pass)."""
    if not (math.isfinite(num) and math.isfinite(ana)):
        return math.inf
    return abs(num - ana) - (atol + rtol * abs(num))


def _zeros_like(t):
    return get_array_module(t.data).zeros_like(t.data)


def gradcheck(fun, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, directions=3, seed=0,
              raise_exception=True):
    """Compare reverse-mode gradients of ``fun(*inputs)`` with central differences.

    ``inputs`` are tensors or arrays; floating ones are checked after a float64 copy, and
    complex ones after a complex128 copy, along their real and imaginary parts (PyTorch's
    convention: the gradient of a real loss is dL/d(re) + 1j dL/d(im)); integer and boolean
    inputs are passed through unchanged.  A complex output is checked through
    ``sum(re(out) * v_re + im(out) * v_im)``.  Returns True, or raises
    :class:`GradcheckError` naming the worst element (False with ``raise_exception=False``).

    >>> import gpugrad as gg
    >>> gradcheck(gg.sin, [np.array([0.1, 0.2])])
    True
    """
    xs = _prepare(list(inputs))
    wrt = [t for t in xs if t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck needs at least one floating-point or complex input")
    y = fun(*xs)
    if not isinstance(y, Tensor):
        raise TypeError(f"gradcheck: fun must return a Tensor, got {type(y).__name__}")
    xp = get_array_module(y.data)
    rng = np.random.default_rng(seed)
    v = _cotangent(xp, rng, y)

    def scalar():
        with autograd.no_grad():
            out = fun(*xs).data
        if out.dtype.kind == "c":
            return float((out.real * v.real).sum() + (out.imag * v.imag).sum())
        return float((out.astype(np.float64) * v.real).sum())

    # each input's own array module: fun may move to another device (y's is only for v)
    if not y.requires_grad:
        analytic = [_zeros_like(t) for t in wrt]
    else:
        grads = autograd.grad(y, wrt, grad_outputs=Tensor._make(v), allow_unused=True)
        analytic = [_zeros_like(t) if g is None else g.data for g, t in zip(grads, wrt)]

    worst = (0.0, None)
    for k, (t, ga) in enumerate(zip(wrt, analytic)):
        flat = t.data.reshape(-1)
        ga_flat = ga.reshape(-1)
        for j in range(flat.size):
            orig = flat[j].item()
            for step in _steps(t):
                flat[j] = orig + eps * step
                fp = scalar()
                flat[j] = orig - eps * step
                fm = scalar()
                flat[j] = orig
                num = (fp - fm) / (2 * eps)
                ana = _component(ga_flat[j], step)
                err = _excess(num, ana, atol, rtol)
                if err > worst[0]:
                    where = tuple(int(i) for i in np.unravel_index(j, t.shape))
                    part = "" if step == 1.0 and t.dtype.kind != "c" else (
                        " (real part)" if step == 1.0 else " (imaginary part)")
                    worst = (err, f"input {k}, element {where}{part}: analytic "
                                  f"{ana:.8g}, numerical {num:.8g} (shape {t.shape})")
    for _ in range(directions):
        dirs = [get_array_module(t.data).asarray(rng.standard_normal(t.shape) + (
            1j * rng.standard_normal(t.shape) if t.dtype.kind == "c" else 0)) for t in wrt]
        saved = [t.data.copy() for t in wrt]
        for t, d in zip(wrt, dirs):
            t.data += eps * d
        fp = scalar()
        for t, s, d in zip(wrt, saved, dirs):
            t.data[...] = s - eps * d
        fm = scalar()
        for t, s in zip(wrt, saved):
            t.data[...] = s
        num = (fp - fm) / (2 * eps)
        ana = float(sum(float((g.real * d.real).sum() + (g.imag * d.imag).sum())
                        if g.dtype.kind == "c" else float((g * d).sum())
                        for g, d in zip(analytic, dirs)))
        err = _excess(num, ana, atol, rtol)
        if err > worst[0]:
            worst = (err, f"random direction: analytic {ana:.8g}, numerical {num:.8g}")
    if worst[1] is not None:
        if raise_exception:
            note = "" if worst[0] != math.inf else " (a value that is not finite)"
            if y.dtype not in (np.float64, np.complex128):  # fun computes in low precision
                note += (f"; fun's output is {y.dtype}: central differences need float64 "
                         f"(or complex128) all the way through")
            raise GradcheckError(f"gradient check failed at {worst[1]}{note}")
        return False
    return True


def gradgradcheck(fun, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, directions=3, seed=0,
                  raise_exception=True):
    """Check second derivatives of ``fun(*inputs)`` against central differences (float64).

    The first gradient, ``G(x, v) = d<v, fun(x)>/dx`` computed with ``create_graph=True``
    for a random cotangent ``v``, is itself checked by :func:`gradcheck` with respect to
    ``x`` and ``v`` (as ``torch.autograd.gradgradcheck`` does): this catches a backward that
    records a wrong graph, or none, as well as a wrong first derivative.  Ops whose backward
    cannot be differentiated raise RuntimeError naming the op.

    >>> import gpugrad as gg
    >>> gradgradcheck(lambda x: (x ** 3).sum(), [gg.randn(3, dtype="float64")])
    True
    """
    from .ops import concatenate

    xs = _prepare(list(inputs))
    n_in = len(xs)
    floats = [i for i, t in enumerate(xs) if t.requires_grad]
    if not floats:
        raise ValueError("gradgradcheck needs at least one floating-point or complex input")
    with autograd.no_grad():
        y = fun(*xs)
    if not isinstance(y, Tensor):
        raise TypeError(f"gradgradcheck: fun must return a Tensor, got {type(y).__name__}")
    xp = get_array_module(y.data)
    v0 = _cotangent(xp, np.random.default_rng(seed + 1), y)

    def first_gradient(*args):
        xs_, v = args[:n_in], args[n_in]
        with autograd.enable_grad():  # gradcheck's finite differences run under no_grad
            out = fun(*xs_)
        wrt = [xs_[i] for i in floats]
        if out.requires_grad:
            with autograd.enable_grad():
                gs = autograd.grad(out, wrt, grad_outputs=v, create_graph=True,
                                   allow_unused=True)
        else:
            gs = [None] * len(wrt)
        parts = [(t * 0 if g is None else g).reshape(-1) for g, t in zip(gs, wrt)]
        return concatenate(parts) if len(parts) > 1 else parts[0]

    # v0 as a Tensor: a raw array would go to the default device, not to y's
    return gradcheck(first_gradient, xs + [Tensor._make(v0)], eps=eps, atol=atol, rtol=rtol,
                     directions=directions, seed=seed, raise_exception=raise_exception)
