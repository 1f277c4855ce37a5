"""NumPy ``ndarray`` methods and attributes of :class:`gpugrad.Tensor` with NumPy's meaning:
``copy``, ``fill``, ``flat`` (read and assign), ``item(i)``, ``put``, ``nonzero``,
``ravel(order=)``, in-place ``sort``/``partition``, ``argsort``, ``argpartition``,
``searchsorted``, ``cumprod``, ``diagonal``, ``trace``, ``conj``, ``real``/``imag``,
``compress``, ``tobytes``/``tofile``/``dump``/``dumps``, ``strides``, ``flags``, and
``astype`` to a non-numeric dtype (NumPy's array of strings, objects, ...).
Views and copies as NumPy's: ``diagonal`` is a read-only view, ``real`` of a real tensor a
view, ``copy`` a copy.

Values stay differentiable where NumPy's method computes values (``flat[...]``, ``sort``,
``partition``, ``compress``, ``diagonal``, ``trace``, ``real``); indices (``nonzero``,
``argsort``, ``argpartition``, ``searchsorted``) have no gradient.

>>> import gpugrad as gg
>>> t = gg.tensor([[3.0, 1.0], [2.0, 0.0]])
>>> t.flat[1], t.item(2), [i.tolist() for i in t.nonzero()]
(tensor(1.), 2.0, [[0, 0, 1], [0, 1, 0]])
>>> t.flat[[0, 3]] = 9.0; t.tolist()
[[9.0, 1.0], [2.0, 9.0]]
"""
from __future__ import annotations

import pickle

import numpy as np

from . import ops
from .backend import is_cupy_array


def _raw(a):
    """A Tensor's array, anything else as it is (a CuPy array's own ``.data`` is a pointer)."""
    from .tensor import Tensor

    return a.data if isinstance(a, Tensor) else a


def _host_key(key):
    """An index as NumPy understands it (tensors and CuPy arrays read back to the host)."""
    key = _raw(key)
    return key.get() if is_cupy_array(key) else key


def _flat_index(t, key):
    """The per-axis index arrays of the flat positions ``key`` of tensor ``t``."""
    pos = np.arange(t.size)[_host_key(key)]
    idx = np.unravel_index(pos, t.shape)
    if t.device.type != "cpu":
        idx = tuple(t.device.xp.asarray(i) for i in idx)
    return idx


class FlatIter:
    """``t.flat``: the elements in C order; indexing reads (differentiably) and assigns
    into ``t`` (in place, recorded like ``t[...] = v``).

    >>> import gpugrad as gg
    >>> t = gg.zeros((2, 2)); t.flat[3] = 1.0; t.flat[:].tolist()
    [0.0, 0.0, 0.0, 1.0]
    """

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return self.base.size

    def __iter__(self):
        flat = ops.ravel(self.base)
        return (flat[i] for i in range(self.base.size))

    def __getitem__(self, key):
        return ops.ravel(self.base)[key]

    def __setitem__(self, key, value):
        self.base[_flat_index(self.base, key)] = value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(ops.ravel(self.base), dtype=dtype)


def _copy(self, order="C"):
    """A differentiable copy (NumPy's ``a.copy()``)."""
    return ops.copy(self)


def _astype(self, dtype, copy=True):
    """Cast to ``dtype`` (see :meth:`gpugrad.Tensor.astype`).  A non-numeric ``dtype``
    (``str``, ``bytes``, ``object``, datetimes: no tensor holds them, no gradient exists)
    gives NumPy's own array, as ``ndarray.astype`` does; TypeError for a tensor in a
    recorded graph.

    >>> import gpugrad as gg
    >>> gg.tensor([1, 2]).astype(str)
    array(['1', '2'], dtype='<U21')
    """
    try:
        return _tensor_astype(self, dtype, copy)
    except TypeError:
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            kind = None
        if kind is None or kind not in "USOMVT":
            raise
    from .grad_mode import is_grad_enabled

    if self.requires_grad and is_grad_enabled():
        raise TypeError(f"astype({dtype!r}): a non-numeric dtype has no gradient; the tensor "
                        f"is in a recorded graph -- use .detach().astype(...)") from None
    return np.asarray(self.data.get() if is_cupy_array(self.data) else self.data).astype(dtype)


def _fill(self, value):
    """Set every element to ``value`` in place; returns None (NumPy's ``a.fill``)."""
    self.fill_(value)


def _item(self, *args):
    """The element at flat position ``i`` (or at ``(i, j, ...)``) as a Python scalar; with
    no argument, the only element (NumPy's ``a.item``)."""
    if not args:
        return _item_one(self)
    if is_cupy_array(self.data):
        return self.data.get().item(*args)
    return self.data.item(*args)


def _put(self, ind, v, mode="raise"):
    """``a.flat[ind] = v`` with NumPy's ``put`` (``v`` repeats to fit ``ind``)."""
    if mode != "raise":
        raise NotImplementedError(f"Tensor.put: mode={mode!r} is not supported")
    ind = _raw(ind)
    ind = np.asarray(ind.get() if is_cupy_array(ind) else ind).ravel()
    if not hasattr(v, "shape") or np.size(v) != ind.size:
        v = np.resize(np.asarray(v), ind.shape) if not hasattr(v, "requires_grad") else \
            ops.reshape(ops.tile(ops.ravel(v), -(-ind.size // max(v.size, 1))), (-1,))[:ind.size]
    self.flat[ind] = v


def _nonzero(self):
    """Index arrays of the nonzero elements, one per axis (no gradient)."""
    from .tensor import Tensor

    if self.ndim == 0:
        raise ValueError("nonzero: calling nonzero on 0d arrays is not allowed; use "
                         "atleast_1d(x).nonzero()")
    return tuple(Tensor._make(i) for i in self.device.xp.nonzero(self.data))


def _ravel(self, order="C"):
    """The elements as 1-D, in C order (``'F'``: column-major; ``'A'``/``'K'``: C here)."""
    if order not in ("C", "F", "A", "K"):
        raise ValueError(f"ravel: order must be one of 'C', 'F', 'A', 'K', got {order!r}")
    return ops.ravel(ops.transpose(self) if order == "F" else self)


def _sort(self, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """Sort in place along ``axis`` (NumPy's ``a.sort``; differentiable); returns None."""
    if order is not None:
        raise NotImplementedError("Tensor.sort: order= is not supported")
    self[...] = ops.sort(self, axis=axis, descending=descending)


def _argsort(self, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """Indices that sort along ``axis`` (no gradient)."""
    return ops.argsort(self, axis=axis, descending=descending)


def _argpartition(self, kth, axis=-1, kind="introselect", order=None):
    """NumPy's ``argpartition`` indices (no gradient)."""
    from .tensor import Tensor

    return Tensor._make(self.device.xp.argpartition(self.data, kth, axis=axis))


def _partition(self, kth, axis=-1, kind="introselect", order=None):
    """Partition in place around ``kth`` (NumPy's arrangement; differentiable)."""
    idx = _argpartition(self, kth, axis)
    self[...] = ops.take_along_axis(self, idx, axis if axis is not None else -1)


def _searchsorted(self, v, side="left", sorter=None):
    """Insertion indices of ``v`` into this sorted 1-D tensor (no gradient)."""
    from .tensor import Tensor

    raw = _raw
    return Tensor._make(self.device.xp.asarray(self.device.xp.searchsorted(
        self.data, raw(v), side=side, sorter=raw(sorter))))


def _cumprod(self, axis=None, dtype=None, out=None):
    r = ops.cumprod(self if dtype is None else ops.astype(self, np.dtype(dtype)), axis=axis)
    return r


def _diagonal(self, offset=0, axis1=0, axis2=1):
    """The diagonal as NumPy's ``a.diagonal`` gives it: a read-only view of ``self``
    (differentiable), which shows later writes to ``self``; writing into it raises
    ValueError ("assignment destination is read-only").  A view that changed since an op
    used it makes that op's backward raise.  On a GPU it is a copy (CuPy's diagonal is a
    writable view, which the graph could not follow).

    >>> import gpugrad as gg
    >>> a = gg.tensor([[1.0, 2.0], [3.0, 4.0]]); d = a.diagonal(); a[1, 1] = 9.0; d.tolist()
    [1.0, 9.0]
    """
    r = ops.diagonal(self, offset, axis1, axis2)
    if type(self.data) is np.ndarray:
        r.data = np.diagonal(self.data, offset, axis1, axis2)   # NumPy's read-only view
        r._vc = self._vc                 # a write to self is a write to r
        if r._node is not None:
            r._node._out_ver = r._vc[0]
    return r


def _real(self):
    """The real part: for real dtypes a view of ``self`` (writes go through, as NumPy's
    ``a.real``); for complex ones a differentiable copy."""
    return ops.real(self) if self.dtype.kind == "c" else self[...]


def _trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    r = ops.trace(self, offset, axis1, axis2)
    return r if dtype is None else ops.astype(r, np.dtype(dtype))


def _compress(self, condition, axis=None, out=None):
    """Elements (or slices along ``axis``) where ``condition`` is true (differentiable)."""
    from .tensor import Tensor

    cond = _raw(condition)
    cond = np.asarray(cond.get() if is_cupy_array(cond) else cond, dtype=bool)
    idx = Tensor._make(np.nonzero(cond)[0])
    if self.device.type != "cpu":
        idx = idx.to(self.device)
    return ops.take(self, idx, axis=axis)


def _host(self):
    return self.data.get() if is_cupy_array(self.data) else self.data


def _tobytes(self, order="C"):
    return _host(self).tobytes(order)


def _tofile(self, fid, sep="", format="%s"):
    _host(self).tofile(fid, sep=sep, format=format)


def _dumps(self):
    return pickle.dumps(_host(self))


def _dump(self, file):
    with open(file, "wb") if isinstance(file, str) else _nullctx(file) as f:
        pickle.dump(_host(self), f)


class _nullctx:
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self.f

    def __exit__(self, *exc):
        return False


_item_one = None
_tensor_astype = None

METHODS = {"copy": _copy, "astype": _astype, "fill": _fill, "item": _item, "put": _put, "nonzero": _nonzero,
           "ravel": _ravel, "sort": _sort, "argsort": _argsort, "argpartition": _argpartition,
           "partition": _partition, "searchsorted": _searchsorted, "cumprod": _cumprod,
           "diagonal": _diagonal, "trace": _trace, "compress": _compress,
           "tobytes": _tobytes, "tofile": _tofile, "dump": _dump, "dumps": _dumps,
           "conj": ops.conj, "conjugate": ops.conj}
PROPERTIES = {"flat": FlatIter, "real": _real, "imag": ops.imag,
              "strides": lambda t: t.data.strides, "flags": lambda t: t.data.flags}


def install(Tensor):
    """Attach the NumPy methods to ``Tensor`` (names it already defines are kept, except
    ``item``, ``ravel`` and ``astype``, which gain NumPy's arguments and dtypes)."""
    global _item_one, _tensor_astype
    _item_one, _tensor_astype = Tensor.item, Tensor.astype
    for name, fn in METHODS.items():
        if name in ("item", "ravel", "astype") or not hasattr(Tensor, name):
            setattr(Tensor, name, fn)
    for name, fn in PROPERTIES.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, property(fn))
