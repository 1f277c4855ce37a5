"""The inputs of a captured step: a call's signature (the key of its tape) and the static
buffers a replay copies the inputs into.

An array input (a Tensor's array, a NumPy or CuPy array) is keyed by its shape, dtype,
device *and strides*: several results read the memory layout -- ``ravel(x, 'K')``,
``x.flatten('K')``, ``reshape(x, -1, order='A')``, ``copy(x)``, ``array(x)``,
``x.copy('K')``, ``zeros_like(x)``, ``astype``, and a reduction's summation order -- so a
C-ordered, a Fortran-ordered and a strided (transposed, sliced, reversed, broadcast) input
each get their own tape.  The key holds the layout (:func:`_layout`: C, F, or the strides in
bytes -- the dtype is in the key too -- with those of length-1 axes left out): two arrays of
one shape and dtype with the same layout read alike, whatever their offsets in their parents.

The static buffer of an input has the input's strides too (:func:`static_buffer`): a
C-ordered buffer would give a Fortran input's replay the C answer.  Inputs that alias each
other -- one object twice, views sharing a version counter, arrays sharing memory -- key by
how they alias (:func:`aliases`), and their static buffers alias alike
(:func:`static_inputs`): a write into one is seen through the other, as in the uncompiled
step.  An input sharing memory with a tensor the step reads by reference is refused
(:func:`refuse_shared`).  Any other argument is keyed by its type and value
(:func:`static_key`: static, a new value records again).

>>> import numpy as np
>>> a = np.zeros((2, 3))
>>> signature((a,), {})[0] == signature((np.asfortranarray(a),), {})[0]
False
>>> static_buffer(a.T).strides == a.T.strides
True
"""
from __future__ import annotations

import bisect

import numpy as np

from .. import backend
from ..capture_hooks import CaptureError
from ..tensor import Tensor

__all__ = ["signature", "static_key", "aliases", "static_inputs", "static_buffer", "is_array",
           "memory_map", "overlapping"]


def is_array(a) -> bool:
    """True for a NumPy or CuPy array."""
    return isinstance(a, np.ndarray) or backend.is_cupy_array(a)


def signature(args, kwargs):
    """``(key, [input arrays], [input objects])`` of one call: arrays (and Tensors' arrays) by
    shape, dtype, strides and device, and how they alias each other (:func:`aliases`); the
    rest by type and value (:func:`static_key`: hashable, else TypeError); CaptureError for
    an input Tensor that requires grad."""
    key, arrays, objs = [], [], []
    for name, a in list(enumerate(args)) + sorted(kwargs.items()):
        d = a.data if isinstance(a, Tensor) else a
        if isinstance(a, Tensor) or is_array(d):
            if isinstance(a, Tensor) and a.requires_grad:
                raise CaptureError(f"input {name!r} of a compiled step requires grad; "
                                   f"inputs are data (gradients go to the tensors the step "
                                   f"closes over, such as a model's parameters)")
            key.append((name, type(a).__name__, d.shape, d.dtype, _layout(d),  # (NumPy: CPU)
                        "cpu" if type(d) is np.ndarray else str(backend.array_device(d))))
            arrays.append(d)
            objs.append(a)
        else:
            try:
                key.append((name, "static", static_key(a)))
            except TypeError:
                raise TypeError(f"argument {name!r} of a compiled step is a "
                                f"{type(a).__name__}: expected Tensors, arrays or hashable "
                                f"values (which are static: a new value records again)")
    if len(arrays) > 1:
        shared = aliases(objs, arrays)
        if shared is not None:
            key.append((None, shared))           # (None: no argument's name)
    return tuple(key), arrays, objs


def static_key(v):
    """The key of a static argument: its type and value, told apart where ``==`` is not
    enough -- ``1 == 1.0 == True``, ``0.0 == -0.0``, ``2.0 == np.float32(2)`` promote or
    compute differently, and ``nan != nan`` would record at every call (TypeError for an
    unhashable value).

    >>> static_key(1) == static_key(1.0), static_key(0.0) == static_key(-0.0)
    (False, False)
    >>> static_key(float("nan")) == static_key(float("nan"))
    True
    """
    t = type(v)
    if isinstance(v, np.generic):
        return t, v.tobytes()
    if isinstance(v, float):
        return t, v.hex()
    if isinstance(v, complex):
        return t, v.real.hex(), v.imag.hex()
    if isinstance(v, tuple):
        return (t,) + tuple(static_key(x) for x in v)
    if isinstance(v, frozenset):
        return t, frozenset(static_key(x) for x in v)
    hash(v)
    return t, v


def _extent(d):
    """The bytes array ``d`` spans: (first address, one past the last); None when empty."""
    if d.size == 0:
        return None
    lo = hi = d.__array_interface__["data"][0] if type(d) is np.ndarray else d.data.ptr
    for n, s in zip(d.shape, d.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + d.dtype.itemsize


def aliases(objs, arrays):
    """How the inputs alias each other, or None when no two are one object, share a version
    counter (views of one Tensor) or may share memory -- the usual case.  Else, per input:
    the first input that is the same object, the first whose version counter it shares, and
    its memory group and byte offset in it ((first input of the group, offset), or None):
    the static buffers are made to alias alike (:func:`static_inputs`), so a write into one
    input is seen through the other, as in the uncompiled step.

    >>> import numpy as np
    >>> a = np.zeros(6)
    >>> aliases([a, a[2:]], [a, a[2:]])
    ((0, None, (0, 0)), (1, None, (0, 16)))
    >>> aliases([a, np.zeros(6)], [a, np.zeros(6)]) is None
    True
    """
    n = len(arrays)
    if n == 2 and objs[0] is not objs[1] and getattr(objs[0], "_vc", 0) is not getattr(
            objs[1], "_vc", 1) and not _may_share(arrays[0], arrays[1]):
        return None                              # (the usual case, quickly)
    same, vc = list(range(n)), list(range(n))
    seen, counters, found = {}, {}, False
    for i, o in enumerate(objs):
        same[i] = seen.setdefault(id(o), i)
        c = getattr(o, "_vc", None)
        vc[i] = None if c is None else counters.setdefault(id(c), i)
        found = found or same[i] != i or (vc[i] is not None and vc[i] != i)
    if not found and not any(_may_share(arrays[i], arrays[j])
                             for i in range(n) for j in range(i)):
        return None                              # (the usual case: one C call per pair)
    ext = []
    for i, d in enumerate(arrays):
        e = _extent(d)
        if e is not None:
            ext.append((e[0], e[1], type(d) is np.ndarray, i))
    group = [None] * n
    ext.sort()
    start, hi, kind = None, None, None
    for lo_i, hi_i, kind_i, i in ext:
        if start is not None and kind_i == kind and lo_i < hi:
            group[i] = (start[0], lo_i - start[1])
            group[start[0]] = (start[0], 0)
            hi, found = max(hi, hi_i), True
        else:
            start, hi, kind = (i, lo_i), hi_i, kind_i
    if not found:
        return None
    return tuple((s, v, g) for s, v, g in zip(same, vc, group))


def _may_share(a, b):
    """True when arrays ``a`` and ``b`` may share memory (their byte ranges overlap)."""
    if type(a) is np.ndarray:
        return type(b) is np.ndarray and np.may_share_memory(a, b)
    if type(a) is not type(b):
        return False
    ea, eb = _extent(a), _extent(b)
    return ea is not None and eb is not None and ea[0] < eb[1] and eb[0] < ea[1]


def _layout(d):
    """The part of array ``d``'s strides that can change a result: "C" or "F" for a contiguous
    array (NumPy's flags ignore axes of length 1, and an empty array is both), else the
    strides with those of length-1 axes set to 0 -- so a column sliced from matrices of
    different widths, a single element or an empty slice keys alike and records once."""
    f = d.flags
    if f.c_contiguous:
        return "C"
    if f.f_contiguous:
        return "F"
    return tuple(0 if n == 1 else s for n, s in zip(d.shape, d.strides))


def memory_map(arrays):
    """The memory of ``arrays``, for :func:`overlapping`: ``(roots, exact)`` -- the distinct
    NumPy arrays at the ends of their ``base`` chains (a parameter's flat buffer: one C call
    per input tells that it shares nothing with them), and per array module the sorted byte
    ranges (first addresses, the running maximum of the ends, the arrays)."""
    roots, out = {}, {}
    for d in arrays:
        e = _extent(d)
        if e is None:
            continue
        out.setdefault(type(d) is np.ndarray, []).append((e[0], e[1], id(d), d))
        if type(d) is np.ndarray:
            while isinstance(d.base, np.ndarray):
                d = d.base
            roots[id(d)] = d
    exact = {}
    for kind, ext in out.items():
        ext.sort(key=lambda x: (x[0], x[1], x[2]))
        ends, top = [], None
        for _, hi, _, _ in ext:
            top = hi if top is None or hi > top else top
            ends.append(top)
        exact[kind] = ([x[0] for x in ext], ends, [x[3] for x in ext])
    return tuple(roots.values()), exact


def overlapping(arrays, maps):
    """``(i, array)``: the first of ``arrays`` that may share memory with an array of
    :func:`memory_map` ``maps``, and that array; None when none does.

    >>> import numpy as np
    >>> w = np.zeros((4, 4))
    >>> overlapping([np.ones(3), w[1]], memory_map([w[2:]])) is None
    True
    >>> overlapping([np.ones(3), w[2]], memory_map([w[2:]]))[0]
    1
    """
    roots, exact = maps
    for i, d in enumerate(arrays):
        if type(d) is np.ndarray and not any(np.may_share_memory(d, r) for r in roots):
            continue
        m = exact.get(type(d) is np.ndarray)
        e = _extent(d) if m else None
        if e is None:
            continue
        los, ends, held = m
        j = bisect.bisect_left(los, e[1])        # the arrays that start before d ends
        if j and ends[j - 1] > e[0]:
            for k in range(j - 1, -1, -1):
                if _extent(held[k])[1] > e[0]:
                    return i, held[k]
    return None


def refuse_shared(arrays, maps, args, kwargs):
    """CaptureError when an input array shares memory with an array of ``maps`` (the tensors
    the step reads by reference: :func:`memory_map`)."""
    hit = overlapping(arrays, maps)
    if hit is not None:
        names = [n for n, a in list(enumerate(args)) + sorted(kwargs.items())
                 if isinstance(a, Tensor) or is_array(a)]
        d = hit[1]
        raise CaptureError(
            f"input {names[hit[0]]!r} of a compiled step shares memory with a tensor the step "
            f"reads by reference (shape {d.shape}, {d.dtype}: a parameter, a buffer or a "
            f"tensor it closes over): a compiled step copies its inputs into buffers of its "
            f"own, so a write into either would not be seen through the other as in the "
            f"uncompiled step. Pass a copy (x.clone()), or call the step uncompiled")


def static_inputs(objs, arrays, shared):
    """The static inputs of a recording: per input, its buffer (:func:`static_buffer`) and
    what the step gets (a Tensor over the buffer for a Tensor, else the buffer), aliasing as
    ``shared`` (:func:`aliases`) says the inputs do: one object for inputs that are one, one
    version counter for Tensors that share one, and views of one base, at the inputs'
    offsets, for inputs that share memory."""
    bufs, outs = [], []
    bases = {}                                   # group -> (base, its first address's offset)
    for i, (o, d) in enumerate(zip(objs, arrays)):
        same, vc, group = shared[i] if shared is not None else (i, None, None)
        if same != i:
            bufs.append(bufs[same])
            outs.append(outs[same])
            continue
        if group is None:
            buf = static_buffer(d)
        else:
            if group[0] not in bases:
                bases[group[0]] = _group_base(arrays, shared, group[0])
            buf = _view_at(bases[group[0]], d, group[1])
            buf[...] = d
        bufs.append(buf)
        if isinstance(o, Tensor):
            t = Tensor._make(buf)
            if vc is not None and vc != i:
                t._vc = outs[vc]._vc
            outs.append(t)
        else:
            outs.append(buf)
    return bufs, outs


def _group_base(arrays, shared, g):
    """Uninitialized bytes for memory group ``g`` of ``arrays``: (base, offset of the group's
    first address in it), the offset keeping each member's alignment."""
    members = [(d, s[2][1]) for d, s in zip(arrays, shared) if s[2] is not None and s[2][0] == g]
    size = max(off + _extent(d)[1] - _extent(d)[0] for d, off in members)
    lead = arrays[g]
    xp = backend.get_array_module(lead)
    with backend.on_device_of(lead):
        base = xp.empty(size + 64, np.uint8)
    addr = base.__array_interface__["data"][0] if xp is np else base.data.ptr
    first = _extent(lead)[0]
    return base, (first - addr) % 64


def _reach(d):
    """How many bytes below its first element's address array ``d`` reaches (negative
    strides)."""
    return -sum((n - 1) * s for n, s in zip(d.shape, d.strides) if s < 0)


def _view_at(base_and_start, d, off):
    """An array like ``d`` (shape, dtype, strides) over ``base``, its lowest byte at
    ``start + off``."""
    base, start = base_and_start
    at = start + off + _reach(d)                  # the first element's byte
    item = d.dtype.itemsize
    first = base[at:at + (base.size - at) // item * item].view(d.dtype)
    if type(base) is np.ndarray:
        from numpy.lib.stride_tricks import as_strided
    else:
        from cupy.lib.stride_tricks import as_strided
    return as_strided(first, d.shape, d.strides)


def static_buffer(d):
    """A copy of array ``d`` with ``d``'s shape, dtype and strides (C, Fortran, permuted,
    negative or zero strides alike), on its device: what a replay copies each call's input
    into.  Strides that are not whole elements: a copy in ``d``'s order ('K')."""
    xp = backend.get_array_module(d)
    with backend.on_device_of(d):
        item = d.dtype.itemsize
        if d.flags.c_contiguous:
            buf = xp.empty(d.shape, d.dtype)
        elif d.flags.f_contiguous:
            buf = xp.empty(d.shape, d.dtype, order="F")
        elif item and not any(s % item for s in d.strides):
            buf = _strided_empty(xp, d.shape, d.dtype, [s // item for s in d.strides])
        else:
            return xp.array(d, copy=True)
        buf[...] = d
        return buf


def _strided_empty(xp, shape, dtype, strides):
    """An uninitialized array of ``shape`` whose strides are ``strides`` elements (any sign,
    zero included), over a base just large enough."""
    lo = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    hi = sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
    base = xp.empty(hi - lo + 1, dtype)
    item = base.dtype.itemsize
    if xp is np:
        from numpy.lib.stride_tricks import as_strided
    else:
        from cupy.lib.stride_tricks import as_strided
    return as_strided(base[-lo:], shape, tuple(s * item for s in strides))
