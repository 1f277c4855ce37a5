"""Array creation with NumPy's signatures and dtypes (float64 by default, as NumPy), placed
on ``device=`` or the default device (``gpugrad.set_default_device`` / ``GPUGRAD_DEVICE``).

>>> import gpugrad.numpy as gnp
>>> gnp.zeros((2, 3)).dtype, gnp.arange(3).dtype, gnp.array([1.0]).dtype
(dtype('float64'), dtype('int64'), dtype('float64'))
"""
from __future__ import annotations

import numbers
import operator
from operator import methodcaller

import numpy as _np

from .. import backend, capture_hooks, dtypes, ops
from ..backend import is_cupy_array
from ..ops._axis_args import axis_index
from ..ops._fast import fast_unary
from ..tensor import Tensor, _wrap
from . import _core as C
from . import _layout as L
from ._copy_keyword import copy_error, copy_mode

__all__ = ["array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "zeros",
           "ones", "empty", "full", "zeros_like", "ones_like", "empty_like", "full_like",
           "arange", "linspace", "logspace", "geomspace", "eye", "identity", "tri"]


def _copy_keep(x):
    """A differentiable copy of ``x`` in its own memory order (NumPy's ``copy`` order 'K')."""
    return ops.copy(x, order="K")


# a copy of a plain NumPy-backed tensor is NumPy's copy (ops.copy for anything else)
_copy = fast_unary(methodcaller("copy", "K"), _copy_keep, kinds="biufcV")


_made = C.const  # a new tensor from static values (a constant of a captured step)
_CPU = backend.CPU


def _on(fill, device):
    dev = backend.get_default_device() if device is None else backend.device(device)
    if dev.type == "cpu":
        return _made(fill(_np))
    with dev._activated():
        return _made(fill(dev.xp))


def _new(name, shape, dtype, order, device):
    """``xp.<name>(shape, dtype, order)`` (float64 by default) on ``device`` or the default
    device."""
    shp, dt = _shape(shape), C.dtype(dtype) or dtypes.float64
    order = L.order_arg(order, "C", cf_only=True)
    return _on(lambda xp: getattr(xp, name)(shp, dt, order), device)


def _filled(name, default, doc):
    """``gpugrad.numpy.<name>`` (zeros, ones, empty): NumPy's own call, wrapped, for the
    common one (float64, C order, an int or tuple shape NumPy takes, on the default device
    when that is the CPU); :func:`_new` for the rest, with NumPy's answer for non-numeric
    dtypes (``zeros(2, dtype='U3')``).  The common call costs one frame and one check more
    than NumPy's."""
    from ._fallback import for_non_numeric

    np_fn = _NEW[name]

    def slow(shape, dtype=default, order="C", *, device=None, like=None):
        return _new(name, shape, dtype, order, device)

    slow = for_non_numeric(slow, np_fn, name)

    def f(shape, dtype=default, order="C", *, device=None, like=None):
        if (dtype is float or dtype is None) and order == "C" and device is None and (
                type(shape) is int or type(shape) is tuple) and not backend._pushed and \
                backend._base_default is _CPU:  # (get_default_device() is the CPU, inline)
            try:
                a = np_fn(shape)
            except Exception:  # (an invalid shape: the slow path's error)
                pass
            else:
                return _wrap(a) if not capture_hooks._on else _made(a)
        return slow(shape, dtype, order, device=device, like=like)

    f.__name__ = f.__qualname__ = name
    f.__doc__, f._non_numeric = doc, True  # (the slow path has NumPy's fallback)
    return f


def _no_host_array(obj, name):
    """CaptureError while a step is recorded for a NumPy array handed to creation function
    ``name``: its values are host data a replay could not read again."""
    if capture_hooks._on and capture_hooks.active() is not None and (
            isinstance(obj, _np.ndarray) or is_cupy_array(obj)):
        raise capture_hooks.CaptureError(
            f"gpugrad.numpy.{name} got a {type(obj).__name__} inside a step gpugrad.compile "
            f"is recording: a replay would reuse the values it has now; pass it to the "
            f"compiled step as an input, or make the tensor outside the step")


_NEW = {"zeros": _np.zeros, "ones": _np.ones, "empty": _np.empty}


def _shape(shape):
    if type(shape) is int:
        return (shape,)
    if isinstance(shape, (numbers.Integral, _np.integer)) or (
            hasattr(shape, "__index__") and getattr(shape, "ndim", 0) == 0):
        return (C.index(shape, "shape"),)
    if getattr(shape, "ndim", 0) == 1:  # an integer array (a shape computed with arrays)
        shape = shape.tolist()
    return tuple(C.index(n, "shape") for n in shape)


def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None,
          device=None):
    """A new tensor from data (lists, scalars, arrays, tensors); copies by default.  Lists
    holding tensors (at any depth) are stacked differentiably.

    ``order`` is NumPy's memory layout: 'K' (default: an array's or tensor's own layout, C
    for lists), 'A' (F if the input is Fortran-contiguous), 'C' or 'F'; it holds on the
    differentiable path too, and a move to another ``device`` keeps the layout a copy on the
    input's own device would have.  ``copy`` is NumPy 2's: True copies always, None only
    when ``dtype``, ``device`` or ``order`` need it (or the input is not an array: a list, a
    scalar), and False never: ValueError where a copy would be needed.

    >>> import gpugrad.numpy as gnp
    >>> gnp.array([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> gnp.array([[1, 2], [3, 4]], order="F").ravel("K").tolist()
    [1, 3, 2, 4]
    >>> gnp.array([1.0], copy=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: Unable to avoid copy while creating an array as requested...
    """
    dt = C.dtype(dtype)
    if copy is not True and copy is not None:
        copy = copy_mode(copy)
    if device is None and ndmin == 0:  # the common cases, without the general path's checks
        tp = type(object)
        if tp is Tensor and dt is None:
            if order == "K" or order is None:
                return _copy(object) if copy else object
        elif tp is _np.ndarray and copy is True and dt is None and (
                order == "K" or order is None) and not capture_hooks._on and \
                object.dtype in C.SUPPORTED:
            return Tensor._make(object.copy("K"))  # (gnp.copy(ndarray): NumPy's copy)
        elif tp is list:  # (NumPy checks order, and refuses copy=False)
            arr = C.numpy_array(object, dt, order, copy, tensors_ok=True)
            if arr is not None and arr.dtype in C.SUPPORTED:
                return _made(arr)
    order = L.order_arg(order, "K")
    if isinstance(object, (list, tuple)) and C.holds_tensor(object):
        if copy is False:
            raise copy_error("a list holding tensors is stacked into new memory")
        t, fresh = C.tensor(object), True
    elif isinstance(object, Tensor) or isinstance(object, _np.ndarray) or is_cupy_array(object):
        _no_host_array(object, "array")
        t, fresh = C.tensor(object), False
    else:  # NumPy's conversion (with NumPy's ValueError for copy=False where it must copy)
        arr = _np.array(object, dtype=dt, order=order, copy=copy)
        if arr.dtype in C.SUPPORTED:
            arr = _made(arr if device is None else _moved(arr, device, copy)).data
        t, fresh = C.tensor(arr), True
    cast = dt is not None and t.dtype != dt
    if order == "A" and cast:  # (NumPy: a cast keeps the input's memory order)
        order = "K"
    if device is not None and t.device != backend.device(device):
        if copy is False and not fresh:
            raise copy_error(f"the input is on {t.device}, not on {backend.device(device)}")
        lay = L.layout(t.data, order)  # (what a copy on t's own device would have)
        t, fresh, order = ops.to_device(t, device), True, lay
    if cast:
        if copy is False and not fresh:
            raise copy_error(f"the input is {t.dtype}, not {dt}")
        t, fresh = ops.astype(t, dt), True  # (its layout: the input's memory order, 'K')
    t = _in_order(t, order, copy and not fresh, copy is False and not fresh)
    if axis_index(ndmin, None, "array: ndmin", strict=False) > t.ndim:
        t = ops.reshape(t, (1,) * (ndmin - t.ndim) + t.shape)
    return t


def _moved(arr, device, copy):
    """Host array ``arr`` (NumPy's conversion of a non-array) on ``device``."""
    if copy is False and backend.device(device).type != "cpu":
        raise copy_error(f"the input is host data, not on {backend.device(device)}")
    return backend.to_device(arr, device)


def _in_order(t, order, copy, strict):
    """Tensor ``t`` in layout ``order`` ('C', 'F', 'A', 'K', or a tuple of axes: see
    :mod:`._layout`): copied when ``copy`` is true or its layout is not the 'C' or 'F' asked
    for ('A' and 'K' take any); ValueError for a needed copy when ``strict``."""
    if copy:
        return L.copy(t, order)
    if order == "K" or order == "A" or L.satisfies(t.data, order):
        return t
    if strict:
        f = t.data.flags
        has = "C" if f.c_contiguous else "F" if f.f_contiguous else "neither C nor F"
        raise copy_error(f"order={order!r} needs a copy, the input's memory is laid out {has}")
    return L.copy(t, order)


def asarray(a, dtype=None, order=None, *, device=None, copy=None, like=None):
    """A tensor sharing ``a``'s memory where it can (tensors and arrays are not copied
    unless ``dtype``, ``device`` or ``order`` -- NumPy's 'C', 'F', 'A', 'K' -- need it);
    ``copy`` as in :func:`array` (False: ValueError where a copy is needed).

    >>> import gpugrad.numpy as gnp
    >>> import numpy
    >>> x = numpy.zeros(2); gnp.asarray(x).data is x
    True
    """
    return array(a, dtype=dtype, copy=copy, order=order, device=device)


asanyarray = asarray


def ascontiguousarray(a, dtype=None, *, like=None):
    """A C-contiguous tensor of at least one dimension (copied only when needed).

    >>> import gpugrad.numpy as gnp
    >>> gnp.ascontiguousarray(gnp.zeros((2, 2)).T).data.flags.c_contiguous
    True
    """
    return array(a, dtype, copy=None, order="C", ndmin=1)


def asfortranarray(a, dtype=None, *, like=None):
    """A Fortran-contiguous (column-major) tensor of at least one dimension (copied only
    when needed); differentiable.

    >>> import gpugrad.numpy as gnp
    >>> gnp.asfortranarray(gnp.zeros((2, 3))).data.flags.f_contiguous
    True
    """
    return array(a, dtype, copy=None, order="F", ndmin=1)


zeros = _filled("zeros", float, """Zeros (float64 by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.zeros(2).tolist()
    [0.0, 0.0]
    """)


ones = _filled("ones", None, """Ones (float64 by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.ones(2, dtype=int).tolist()
    [1, 1]
    """)


empty = _filled("empty", float, """Uninitialized values (float64 by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.empty((2, 1)).shape
    (2, 1)
    """)


def full(shape, fill_value, dtype=None, order="C", *, device=None, like=None):
    """Filled with ``fill_value`` (its NumPy dtype by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.full(2, 7).tolist()
    [7, 7]
    """
    order = L.order_arg(order, "C", cf_only=True)
    if _has_tensor(fill_value):
        return _full_tensor(_shape(shape), fill_value, dtype, order, device)
    dt = C.dtype(dtype) or _np.asarray(fill_value).dtype
    return _on(lambda xp: xp.full(_shape(shape), fill_value, dt, order), device)


def _full_tensor(shape, fill_value, dtype, lay, device):
    """``fill_value`` (holding tensors) broadcast to ``shape``, differentiably (d sum(full)
    / d fill = size), copied in layout ``lay`` ('C', 'F' or a tuple of axes)."""
    t = C.tensor(fill_value)
    dt = C.dtype(dtype) or t.dtype
    if device is not None and t.device != backend.device(device):
        t = ops.to_device(t, device)
    return L.copy(ops.broadcast_to(t if t.dtype == dt else ops.astype(t, dt), shape), lay)


def _has_tensor(v):
    return isinstance(v, Tensor) or (isinstance(v, (list, tuple)) and C.holds_tensor(v))


def _num(v):
    return v.item() if isinstance(v, Tensor) else v


def arange(start, stop=None, step=None, dtype=None, *, device=None, like=None):
    """Evenly spaced values in [start, stop) with NumPy's dtype rules.

    >>> import gpugrad.numpy as gnp
    >>> gnp.arange(1, 2, 0.5).tolist()
    [1.0, 1.5]
    """
    if stop is None:
        start, stop = 0, start
    args = [_num(v) for v in (start, stop, step) if v is not None]
    dt = C.dtype(dtype)
    r = _on(lambda xp: xp.arange(*args, dtype=dt), device)
    if r.dtype.kind not in "fc" or not C.traced(start, step):
        return r  # (the values do not depend on stop: no gradient flows to it)
    # a traced start or step: the values start + i * step, recorded
    i = _on(lambda xp: xp.arange(r.shape[0], dtype=r.dtype), r.device)
    out = ops.add(ops.multiply(i, 1 if step is None else step), start)
    return out if out.dtype == r.dtype else ops.astype(out, r.dtype)


def eye(N, M=None, k=0, dtype=float, order="C", *, device=None, like=None):
    """Ones on diagonal ``k`` (float64 by default).

    >>> import gpugrad.numpy as gnp
    >>> gnp.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    N, M, k = C.index(N, "eye: N"), None if M is None else C.index(M, "eye: M"), operator.index(k)
    order = L.order_arg(order, "C", cf_only=True)
    return _on(lambda xp: xp.eye(N, M, k, dtype=C.dtype(dtype) or dtypes.float64,
                                 order=order), device)


def identity(n, dtype=None, *, like=None, device=None):
    """The n x n identity.

    >>> import gpugrad.numpy as gnp
    >>> gnp.identity(2).shape
    (2, 2)
    """
    return eye(n, dtype=dtype or float, device=device)


def tri(N, M=None, k=0, dtype=float, *, like=None, device=None):
    """Ones at and below diagonal ``k``.

    >>> import gpugrad.numpy as gnp
    >>> gnp.tri(2).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    # NumPy's own tri computes with N, M and k (1.0 and True are 1; -k refuses numpy.True_
    # and strings): they go to it as they are, tensors as Python ints
    N, M, k = (operator.index(v) if isinstance(v, Tensor) else v for v in (N, M, k))
    return _on(lambda xp: xp.tri(N, M, k, dtype=C.dtype(dtype) or dtypes.float64), device)


# zeros_like, ones_like, empty_like, full_like: in _like.py (they use _on, _shape, _full_tensor)
from ._like import empty_like, full_like, ones_like, zeros_like  # noqa: E402,F401
# linspace, logspace, geomspace: in _spaces.py (they use _on, _has_tensor, _num, _made)
from ._spaces import geomspace, linspace, logspace  # noqa: E402,F401
