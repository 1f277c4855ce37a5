"""NumPy ``ndarray`` methods and attributes of :class:`gpugrad.Tensor` with NumPy's meaning:
``copy``, ``fill``, ``flat`` (read and assign), ``item(i)``, ``put``, ``nonzero``,
``ravel(order=)``, in-place ``resize``/``sort``/``partition``, ``argsort``, ``argpartition``,
``searchsorted``, ``diagonal``, ``trace``, ``conj``, ``real``/``imag``,
``compress`` (these two installed with ``out=`` by :mod:`gpugrad._tensor_reductions`), ``tobytes``/``tofile``/``dump``/``dumps``, ``strides``, ``flags``, and
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

import operator
import pickle

import numpy as np

from . import ops
from ._flat_iter import FlatIter, set_flat
from .backend import get_array_module, is_cupy_array
from .dtypes import as_dtype
from .ops import flat_writes, search, sorting
from .ops._order import order_arg as _order
from .ops.extra import part_view
from .ops.sorting import sort_kind
from .zero_d import carry_scalar, stands_for_scalar


def _raw(a):
    """A Tensor's array, anything else as it is (a CuPy array's own ``.data`` is a pointer)."""
    from .tensor import Tensor

    return a.data if isinstance(a, Tensor) else a


def _copy(self, order="C"):
    """A differentiable copy (NumPy's ``a.copy(order)``: laid out 'C' by default, 'F', 'A'
    -- F for a Fortran-ordered tensor -- or 'K', the tensor's own memory order)."""
    order = order if order == "C" else _order(order, "C")
    return carry_scalar(self, ops.copy(self) if order == "C" else ops.copy(self, order=order))


def _astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
    """Cast to ``dtype`` (see :meth:`gpugrad.Tensor.astype`; Python's ``float`` is
    float64, as NumPy's), laid out in NumPy's ``order`` ('K': the tensor's own memory
    order; 'A', 'C', 'F'), under NumPy's ``casting`` rule ('unsafe' by default; a cast
    the rule forbids is NumPy's TypeError).  ``copy=False`` returns the tensor itself when
    it already has ``dtype`` and the layout.  A non-numeric ``dtype``
    (``str``, ``bytes``, ``object``, datetimes: no tensor holds them, no gradient exists)
    gives NumPy's own array, as ``ndarray.astype`` does; TypeError for a tensor in a
    recorded graph.

    >>> import gpugrad as gg
    >>> gg.tensor([1, 2]).astype(str)
    array(['1', '2'], dtype='<U21')
    """
    order = order if order == "K" else _order(order, "K")
    if casting != "unsafe":
        _check_cast(self.dtype, dtype, casting)
    try:
        r = _tensor_astype(self, dtype, copy)
        return carry_scalar(self, r if order == "K" else _laid_out(r, self, order))
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
    host = self.data.get(order="A") if is_cupy_array(self.data) else self.data
    return np.asarray(host).astype(dtype, order=order)


def _check_cast(src, dtype, casting):
    """NumPy's TypeError when ``casting`` ('no', 'equiv', 'safe', 'same_kind') forbids the
    cast from ``src`` to ``dtype`` (its ValueError for another rule)."""
    try:
        dt = as_dtype(dtype)
    except TypeError:
        dt = np.dtype(dtype)
    if not np.can_cast(src, dt, casting):
        raise TypeError(f"Cannot cast array data from {src!r} to {dt!r} according to the "
                        f"rule {casting!r}")


def _laid_out(r, x, order):
    """``r`` (a cast of ``x``, in ``x``'s memory order) in layout ``order`` ('C', 'F', or
    'A': F for a Fortran-ordered ``x``): itself when it is so already, else a copy."""
    f = x.data.flags
    if order == "A":
        order = "F" if f.f_contiguous and not f.c_contiguous else "C"
    f = r.data.flags
    return r if (f.c_contiguous if order == "C" else f.f_contiguous) else ops.copy(r, order=order)


def _fill(self, value):
    """Set every element to ``value`` in place; returns None (NumPy's ``a.fill``)."""
    self.fill_(value)


def _resize(self, *new_shape, refcheck=True):
    """NumPy's in-place ``a.resize(shape)``: the same tensor with the new shape, its elements in
    C order, cut or padded with zeros (``np.resize`` repeats them instead); returns None.
    NumPy's ValueError for a tensor that does not own its memory (a view); a tensor in a graph
    refuses, as PyTorch's ``resize_``: its gradient would be lost.  (``refcheck`` is
    accepted; other arrays sharing the memory are not looked for.)"""
    from .ops._fast import in_graph

    if len(new_shape) == 1 and not isinstance(new_shape[0], (int, np.integer)) and \
            getattr(new_shape[0], "ndim", 1) != 0:
        new_shape = () if new_shape[0] is None else tuple(new_shape[0])
    try:
        shape = tuple(operator.index(n) for n in new_shape)
    except TypeError:
        raise TypeError(f"resize: expected a sequence of integers or a single integer, got "
                        f"{new_shape!r}") from None
    if not new_shape:
        return None
    if self.requires_grad or in_graph(self):
        raise RuntimeError("resize: cannot resize a tensor that requires grad or is in a graph "
                           "(its gradient would be lost); use np.resize(a, shape) or "
                           "a.reshape(shape) out of place")
    d = self.data
    if self._view is not None or not d.flags.owndata:
        raise ValueError("cannot resize this array: it does not own its data")
    n = int(np.prod(shape, dtype=np.int64))
    if any(k < 0 for k in shape):
        raise ValueError("negative dimensions not allowed")
    flat = d.reshape(-1)
    out = get_array_module(d).zeros(n, dtype=d.dtype)
    k = min(n, flat.size)
    out[:k] = flat[:k]
    self.data = out.reshape(shape)
    self._vc[0] += 1
    return None


def _item(self, *args):
    """The element at flat position ``i`` (or at ``(i, j, ...)``) as a Python scalar; with
    no argument, the only element (NumPy's ``a.item``)."""
    if not args:
        return _item_one(self)
    if is_cupy_array(self.data):
        return self.data.get().item(*args)
    return self.data.item(*args)


def _put(self, indices, values, mode="raise"):
    """``a.flat[indices] = values`` with NumPy's ``put`` (see :func:`gpugrad.ops.flat_writes.put`:
    ``values`` repeat to fit ``indices``; modes 'raise', 'wrap', 'clip'); a tensor ``indices``
    computed in a step :func:`gpugrad.compile` records is followed by each replay."""
    flat_writes.put(self, indices, values, mode)


def _nonzero(self):
    """Index arrays of the nonzero elements, one per axis (no gradient)."""
    return search.nonzero(self)


def _ravel(self, order="C"):
    """The elements as 1-D, read in ``order`` (see :func:`gpugrad.ops.ravel`: NumPy's
    orders, and a view only where NumPy's ravel gives one)."""
    return ops.ravel(self, order if order == "C" else _order(order, "C"))


def _sort(self, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """Sort in place along ``axis`` (NumPy's ``a.sort``; differentiable); returns None."""
    if order is not None:
        raise NotImplementedError("Tensor.sort: order= is not supported")
    if axis is None:  # (in place: NumPy's a.sort has no flattened form)
        raise TypeError("Tensor.sort: axis must be an integer, got None")
    self[...] = ops.sort(self, axis=axis, descending=descending,
                         kind=None if descending else sort_kind(kind, stable) or "quicksort")


def _argsort(self, axis=-1, kind=None, order=None, *, stable=None, descending=False):
    """Indices that sort along ``axis`` (no gradient): NumPy's answer for ``kind``/``stable``
    on the CPU (the default kind, NumPy's introsort, does not keep ties in input order)."""
    if descending:
        return ops.argsort(self, axis=axis, descending=True)
    x = ops.reshape(self, (1,)) if self.ndim == 0 else self
    return ops.argsort(x, axis=axis, kind=sort_kind(kind, stable) or "quicksort")


def _argpartition(self, kth, axis=-1, kind="introselect", order=None):
    """NumPy's ``argpartition`` indices (no gradient)."""
    return sorting.argpartition(self, kth, axis)


def _partition(self, kth, axis=-1, kind="introselect", order=None):
    """Partition in place around ``kth`` (NumPy's arrangement; differentiable)."""
    self[...] = sorting.partition(self, kth, axis)


def _searchsorted(self, v, side="left", sorter=None):
    """Insertion indices of ``v`` into this sorted 1-D tensor (no gradient)."""
    from .tensor import Tensor

    raw = _raw
    return Tensor._make(self.device.xp.asarray(self.device.xp.searchsorted(
        self.data, raw(v), side=side, sorter=raw(sorter))))


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
        else:                            # the link to its base, as a view op's (so r joins
            r._view = _view_link_node(r, self, offset, axis1, axis2)  # the graph with it)
    return r


def _view_link_node(r, base, offset, axis1, axis2):
    """The unrecorded ``Diagonal`` node kept as ``r._view``, the link from a diagonal view
    that recorded no node to its base: once the base joins the graph (``base += w``), the
    view is recorded as the base's diagonal (see :mod:`gpugrad.inplace`)."""
    from .grad_mode import is_grad_enabled
    from .ops.extra_linalg import Diagonal

    a1, a2 = (a % base.ndim for a in (axis1, axis2))
    n = object.__new__(Diagonal)
    n.__dict__ = {"shape": base.shape, "args": (int(offset), a1, a2), "needs": (False,),
                  "parents": (base,)}
    if not is_grad_enabled():
        n._ng_ver = r._vc[0]             # made under no_grad (PyTorch's rules then apply)
    return n


def _real(self):
    """The real part: a view of ``self`` (writes go through, as NumPy's ``a.real``); of a
    0-d answer standing for a NumPy scalar, a new one (:mod:`gpugrad.zero_d`)."""
    return _part(self, "real")


def _imag(self):
    """The imaginary part: for complex dtypes a view of ``self`` (writes go through, as
    NumPy's ``a.imag``); for real ones zeros (read-only on the CPU, as NumPy's); of a 0-d
    answer standing for a NumPy scalar, a new one."""
    return _part(self, "imag")


def _part(self, part):
    v = part_view(self, part)
    return carry_scalar(self, ops.copy(v)) if stands_for_scalar(self) else v


def _trace(self, offset=0, axis1=0, axis2=1, dtype=None):
    """Sum along a diagonal (``out=``: :mod:`gpugrad._tensor_reductions`)."""
    r = ops.trace(self, offset, axis1, axis2)
    return r if dtype is None else ops.astype(r, as_dtype(dtype))


def _compress(self, condition, axis=None):
    """Elements (or slices along ``axis``) where ``condition`` is true (differentiable;
    ``out=``: :mod:`gpugrad._tensor_reductions`)."""
    from .tensor import Tensor

    cond = condition if isinstance(condition, Tensor) else Tensor._make(np.asarray(condition))
    if cond.ndim != 1:
        raise ValueError("condition must be a 1-d array")
    cond = cond if cond.device == self.device else cond.to(self.device)
    x = ops.ravel(self) if axis is None else self
    return ops.take(x, search.flatnonzero(cond), axis=0 if axis is None else axis)


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
           "ravel": _ravel, "resize": _resize, "sort": _sort, "argsort": _argsort, "argpartition": _argpartition,
           "partition": _partition, "searchsorted": _searchsorted, "diagonal": _diagonal,
           "tobytes": _tobytes, "tofile": _tofile, "dump": _dump, "dumps": _dumps,
           "conj": ops.conj, "conjugate": ops.conj}


def _part_setter(part):
    def set_part(self, value):  # NumPy's ``a.real = v`` (and ``a.imag += v``): a write
        if part == "imag" and self.dtype.kind != "c":  # through the view, in the graph
            raise TypeError(f"array does not have imaginary part to set (dtype {self.dtype})")
        part_view(self, part)[...] = value
    return set_part


SETTERS = {"flat": set_flat, "real": _part_setter("real"), "imag": _part_setter("imag")}
PROPERTIES = {"flat": FlatIter, "real": _real, "imag": _imag,
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
            setattr(Tensor, name, property(fn, SETTERS.get(name)))
    from ._array_attrs import install as install_attrs

    install_attrs(Tensor)  # shape =, base, setflags, choose
