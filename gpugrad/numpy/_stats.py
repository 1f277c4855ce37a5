"""Statistics and array-building functions with NumPy's signatures, differentiable:
``nan_to_num``, ``cov``, ``corrcoef``, ``append``, ``gradient``,
``rot90``, ``select``, ``partition``, ``argpartition``, ``row_stack``, and the index
builders ``r_`` / ``c_``.  Functions without a derivative (``histogram``, ``bincount``, ...)
take the non-graph fallback (:mod:`gpugrad.numpy._fallback`).

>>> import gpugrad.numpy as gnp
>>> x = gnp.array([1.0, 2.0, 4.0, 8.0])
>>> gnp.cov(x).item(), gnp.r_[x[:2], 0.0, 7].tolist()
(9.583333333333332, [1.0, 2.0, 0.0, 7.0])
"""
from __future__ import annotations

import warnings

import numpy as _np

from .. import ops
from ..dtypes import finfo, is_inexact
from ..ops import sorting
from ..ops._axis_args import axis_index, normalize_axis
from ..tensor import Tensor
from . import _core as C
from ._manip import concatenate, vstack

__all__ = ["nan_to_num", "cov", "corrcoef", "append", "gradient",
           "rot90", "select", "partition", "argpartition", "row_stack", "r_", "c_", "mgrid", "ogrid"]


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +inf -> ``posinf`` (the dtype's max), -inf -> ``neginf`` (its min);
    the gradient passes where the input was finite.

    >>> import gpugrad.numpy as gnp
    >>> gnp.nan_to_num(gnp.array([float("nan"), 1.0, -float("inf")]), neginf=-9).tolist()
    [0.0, 1.0, -9.0]
    """
    t = C.tensor(x)
    if not is_inexact(t.dtype):          # (bfloat16, kind 'V', is a float)
        return ops.copy(t) if copy else t
    if not copy and isinstance(x, Tensor):  # NumPy's copy=False: x itself is replaced
        x[...] = nan_to_num(t, True, nan, posinf, neginf)
        return x
    if t.dtype.kind == "c":
        re = nan_to_num(ops.real(t), nan=nan, posinf=posinf, neginf=neginf)
        im = nan_to_num(ops.imag(t), nan=nan, posinf=posinf, neginf=neginf)
        return ops.add(re, ops.multiply(im, 1j))
    fi = finfo(t.dtype)
    r = ops.where(ops.isnan(t), nan, t)
    r = ops.where(ops.logical_and(ops.isinf(t), ops.greater(t, 0)),
                  fi.max if posinf is None else posinf, r)
    r = ops.where(ops.logical_and(ops.isinf(t), ops.less(t, 0)),
                  fi.min if neginf is None else neginf, r)
    return r if r.dtype == t.dtype else ops.astype(r, t.dtype)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """Covariance matrix of the variables in the rows of ``m`` (columns with
    ``rowvar=False``); float64 at least, squeezed as NumPy's.  NumPy's formula -- the
    centred rows' ``dot`` with their conjugate transpose, times ``1 / (N - ddof)`` -- so the
    values are NumPy's bit for bit, in a graph too.  Weights go to NumPy (no gradient).

    Errors: ValueError for more than 2 dimensions or a non-integer ``ddof``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.cov(gnp.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])).tolist()
    [[1.0, -1.0], [-1.0, 1.0]]
    """
    if fweights is not None or aweights is not None:
        return _no_gradient("cov", m, y, rowvar=rowvar, bias=bias, ddof=ddof,
                            fweights=fweights, aweights=aweights, dtype=dtype)
    if ddof is not None and ddof != int(ddof):  # (NumPy's check: a whole number)
        raise ValueError(f"cov: ddof must be an integer, got {ddof!r}")
    x = C.tensor(m)
    if x.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {x.shape})")
    yt = None if y is None else C.tensor(y, x)
    if yt is not None and yt.ndim > 2:
        raise ValueError(f"cov: y has more than 2 dimensions (shape {yt.shape})")
    dt = C.dtype(dtype) or _np.result_type(x.dtype, *([] if yt is None else [yt.dtype]),
                                           _np.float64)
    X = _rows(x, dt, bool(rowvar) or x.ndim == 1)
    if X.shape[0] == 0:
        return C.tensor(_np.array([]).reshape(0, 0), x)
    if yt is not None:
        X = concatenate([X, _rows(yt, dt, rowvar or yt.ndim < 2 or yt.shape[0] == 1)], axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    fact = X.shape[1] - ddof
    if fact <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        fact = 0.0
    scale = 1 / fact if fact else float(_np.true_divide(1, fact))  # (inf, with NumPy's warning)
    from .linalg import dot

    xc = ops.subtract(X, ops.mean(X, axis=1, keepdims=True))
    xt = ops.transpose(xc)
    c = dot(xc, ops.conj(xt) if xt.dtype.kind == "c" else xt)
    if c.dtype.char in "dD":
        c = ops.multiply(c, scale)
    else:  # NumPy's c *= float64 computes that wide (float32: in float64, then rounded)
        wide = _np.result_type(c.dtype, _np.float64)
        c = ops.astype(ops.multiply(ops.astype(c, wide), scale), c.dtype)
    return ops.squeeze(c)


def _rows(t, dt, keep):
    """``t`` as NumPy's ``array(t, ndmin=2, dtype=dt)``, transposed unless ``keep``."""
    t = ops.astype(t, dt) if t.dtype != dt else t
    t = ops.reshape(t, (1,) * (2 - t.ndim) + t.shape) if t.ndim < 2 else t
    return t if keep else ops.transpose(t)


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """Pearson correlation coefficients (``cov`` normalized, clipped to [-1, 1] -- the real
    and imaginary parts apart for complex input), NumPy's values bit for bit.

    >>> import gpugrad.numpy as gnp
    >>> gnp.corrcoef(gnp.array([1.0, 2.0, 4.0]), gnp.array([2.0, 4.0, 8.0])).round(6).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim != 2:  # (NumPy: diag of a scalar covariance fails; c / c)
        return ops.divide(c, c)
    d = ops.sqrt(ops.real(ops.diagonal(c)) if c.dtype.kind == "c" else ops.diagonal(c))
    c = ops.divide(ops.divide(c, ops.expand_dims(d, 1)), ops.expand_dims(d, 0))
    if c.dtype.kind != "c":
        return ops.clip(c, -1.0, 1.0)
    re, im = ops.real(c), ops.imag(c)
    rc, ic = ops.clip(re, -1.0, 1.0), ops.clip(im, -1.0, 1.0)
    out = (re.data != rc.data) | (im.data != ic.data)  # only those change: the rest keep their bits
    if not out.any():
        return c
    return ops.where(C.tensor(out, c), ops.add(rc, ops.multiply(ic, 1j)), c)


def _no_gradient(name, *args, **kwargs):
    from . import _fallback

    return _fallback.call_named(name, args, kwargs)


def append(arr, values, axis=None):
    """``arr`` with ``values`` appended (both flattened when ``axis`` is None).

    >>> import gpugrad.numpy as gnp
    >>> gnp.append(gnp.array([1, 2]), [[3, 4]]).tolist()
    [1, 2, 3, 4]
    """
    a = C.tensor(arr)
    v = C.tensor(values, a)
    if axis is None:
        return concatenate([ops.ravel(a), ops.ravel(v)])
    return concatenate([a, v], axis=axis)


def gradient(f, *varargs, axis=None, edge_order=1):
    """Central differences inside, one-sided at the edges (``edge_order`` 1 or 2), along
    each axis (or ``axis``); spacings are numbers (coordinate arrays go to NumPy, without a
    gradient).  One array for one axis, else a tuple.

    >>> import gpugrad.numpy as gnp
    >>> gnp.gradient(gnp.array([1.0, 2.0, 4.0, 7.0])).tolist()
    [1.0, 1.5, 2.5, 3.0]
    """
    x = C.to_float(C.tensor(f))
    axes = normalize_axis(axis, x.ndim, strict=False)
    if len(varargs) == 0:
        dxs = [1.0] * len(axes)
    elif len(varargs) == 1 and _np.ndim(varargs[0]) == 0:
        dxs = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes) and all(_np.ndim(v) == 0 for v in varargs):
        dxs = list(varargs)
    else:
        return _no_gradient("gradient", f, *varargs, axis=axis, edge_order=edge_order)
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    outs = []
    for ax, dx in zip(axes, dxs):
        n = x.shape[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, at "
                             "least (edge_order + 1) elements are required.")

        def sl(i, j=None, _ax=ax):
            return x[(slice(None),) * _ax + (slice(i, j),)]
        mid = ops.divide(ops.subtract(sl(2, None), sl(None, -2)), 2.0 * dx)
        if edge_order == 1:
            first = ops.divide(ops.subtract(sl(1, 2), sl(0, 1)), dx)
            last = ops.divide(ops.subtract(sl(-1, None), sl(-2, -1)), dx)
        else:
            first = ops.divide(ops.add(ops.add(ops.multiply(sl(0, 1), -1.5),
                                               ops.multiply(sl(1, 2), 2.0)),
                                       ops.multiply(sl(2, 3), -0.5)), dx)
            last = ops.divide(ops.add(ops.add(ops.multiply(sl(-3, -2), 0.5),
                                              ops.multiply(sl(-2, -1), -2.0)),
                                      ops.multiply(sl(-1, None), 1.5)), dx)
        outs.append(concatenate([first, mid, last], axis=ax))
    return outs[0] if len(outs) == 1 else tuple(outs)


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes`` (a view; differentiable).

    >>> import gpugrad.numpy as gnp
    >>> gnp.rot90(gnp.array([[1, 2], [3, 4]])).tolist()
    [[2, 4], [1, 3]]
    """
    t = C.tensor(m)
    axes = tuple(axes)  # NumPy's checks, in NumPy's order (so its exception types)
    if len(axes) != 2:
        raise ValueError(f"rot90: len(axes) must be 2, got {axes!r}")
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == t.ndim:
        raise ValueError(f"rot90: axes must be different, got {axes!r}")
    if not all(-t.ndim <= a < t.ndim for a in axes):
        raise ValueError(f"rot90: axes={axes!r} out of range for a tensor of dimension {t.ndim}")
    k %= 4
    if k not in (0, 2):  # (NumPy indexes a list of axes with them here)
        if any(isinstance(a, (bool, _np.bool_)) for a in axes):
            raise ValueError(f"rot90: axes must be integers, got booleans in {axes!r}")
        if not all(hasattr(a, "__index__") for a in axes):
            raise IndexError(f"rot90: axes must be integers, got {axes!r}")
    a0, a1 = (axis_index(a, t.ndim, "rot90: axes", strict=False) for a in axes)
    if k == 0:
        return t[...]
    if k == 2:
        return ops.flip(ops.flip(t, a0), a1)
    perm = list(range(t.ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return ops.transpose(ops.flip(t, a1), tuple(perm))
    return ops.flip(ops.transpose(t, tuple(perm)), a1)


def select(condlist, choicelist, default=0):
    """Elements of the first choice whose condition holds, else ``default``
    (differentiable in the choices and ``default``).

    >>> import gpugrad.numpy as gnp
    >>> x = gnp.arange(6)
    >>> gnp.select([x < 3, x > 3], [x, x ** 2], 42).tolist()
    [0, 1, 2, 42, 16, 25]
    """
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if not condlist:
        raise ValueError("select with an empty condition list is not possible")
    like = next((v for v in list(choicelist) + [default] if isinstance(v, Tensor)), None)
    choices = [C.tensor(c, like) for c in choicelist]
    dflt = C.tensor(default, like)
    # NumPy's dtype: Python scalars are weak (an int8 choice with default=0 stays int8)
    dt = _np.result_type(*[v if type(v) in (int, float, complex) else t.dtype
                           for v, t in zip(list(choicelist) + [default], choices + [dflt])])
    conds = [C.tensor(c, like) for c in condlist]
    for c in conds:
        if c.dtype != _np.bool_:
            raise TypeError(f"invalid entry in condlist: should be boolean ndarray, got dtype "
                            f"{c.dtype}")
    r = dflt if dflt.dtype == dt else ops.astype(dflt, dt)
    for c, v in zip(reversed(conds), reversed(choices)):
        r = ops.where(c, v if v.dtype == dt else ops.astype(v, dt), r)
    shape = _np.broadcast_shapes(*[t.shape for t in choices + conds + [dflt]])
    return r if r.shape == shape else ops.copy(ops.broadcast_to(r, shape))


def argpartition(a, kth, axis=-1, kind="introselect", order=None):
    """NumPy's ``argpartition`` indices (int64; no gradient): NumPy's exact arrangement on
    the CPU, CuPy's on CUDA.

    >>> import gpugrad.numpy as gnp
    >>> int(gnp.argpartition(gnp.array([3, 1, 2]), 0)[0])
    1
    """
    _introselect(kind, order, "argpartition")
    return sorting.argpartition(C.tensor(a), kth, axis)


def partition(a, kth, axis=-1, kind="introselect", order=None):
    """A copy partitioned around ``kth`` in NumPy's arrangement (differentiable values).
    NumPy's ``partition`` arranges elements differently from ``argpartition``; each
    gives NumPy's own answer here.

    >>> import gpugrad.numpy as gnp
    >>> gnp.partition(gnp.array([3.0, 1.0, 2.0]), 1)[1].item()
    2.0
    """
    _introselect(kind, order, "partition")
    return sorting.partition(C.tensor(a), kth, axis)


def _introselect(kind, order, name):
    if kind != "introselect":
        raise ValueError(f"select kind must be 'introselect' (got {kind!r})")
    C.unsupported(name, order=(order, None))


def row_stack(tup, *, dtype=None, casting="same_kind"):
    """Same as :func:`vstack`.

    >>> import gpugrad.numpy as gnp
    >>> gnp.row_stack([gnp.zeros(2), gnp.ones(2)]).shape
    (2, 2)
    """
    return vstack(tup, dtype=dtype)


from ._index_tricks import c_, mgrid, ogrid, r_  # noqa: E402,F401
