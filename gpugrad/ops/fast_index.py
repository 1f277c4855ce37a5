"""The no-graph fast path of indexing: ``Tensor.__getitem__`` (:func:`tensor_getitem`) calls
NumPy's indexing directly when :func:`gpugrad.ops.index.getitem` would record nothing and
compute just that, and :func:`plain_key` says which keys ``Tensor.__setitem__`` may hand to
NumPy's assignment as they are (see :mod:`gpugrad.ops._fast` for the rule on operands).

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0, 3.0])
>>> x[1:].tolist(), x[gg.tensor([True, False, True])].tolist()
([2.0, 3.0], [1.0, 3.0])
"""
from __future__ import annotations

import numpy as np

from .. import anomaly as _anomaly, capture_hooks as _capture
from .. import autocast_state as _ac
from ..autocast_state import _state as _amp
from ..grad_mode import _state as _gm
from ..old_values import _aliased
from ..tensor import Tensor, _wrap
from ..zero_d import scalar_tensor as _scalar
from ._fast import _joins_graph, plain_view
from .index import GetItemBasic, getitem
from .index_keys import is_int_scalar_array

__all__ = ["tensor_getitem", "plain_key"]

# integer keys NumPy takes as Python ints do (its integer scalars)
_INTS = frozenset([int] + [np.dtype(c).type for c in "bhilqBHILQ"])
_BASIC = frozenset((slice, type(None), type(Ellipsis))) | _INTS  # basic key components
_make = _wrap  # (Tensor._make, as a plain function)
_ndarray = np.ndarray


def tensor_getitem(x, key):
    """``x[key]`` (``Tensor.__getitem__``): :func:`getitem`, with NumPy's indexing called
    directly when it would record nothing and compute just that (see
    :func:`~gpugrad.ops._fast.plain_operand`) for keys of ints, slices, None and Ellipsis,
    or one integer or boolean array (a tensor, ndarray, list or range).  The answer is the
    op's: a view linked to ``x`` as the op links it, an element as a 0-d tensor of its own,
    a copy for an array key; anything else (and every error) comes from :func:`getitem`.

    >>> import gpugrad as gg
    >>> x = gg.tensor([1.0, 2.0, 3.0])
    >>> v = tensor_getitem(x, slice(1, None)); v._vc is x._vc, v.tolist()
    (True, [2.0, 3.0])
    """
    d = x.data
    if type(d) is _ndarray and type(x) is Tensor and not (
            _capture._on or _anomaly._on or _ac._on and _amp.dtype is not None) and not (
            (x.requires_grad or x._view is not None) and _gm.enabled and (
            x.requires_grad or _joins_graph(x))):
        # (plain_operand(x), inline: a call less)
        tk = type(key)
        if tk in _BASIC:
            if tk in _INTS and d.ndim == 1:
                return _scalar(d[key])  # one element: a copy (NumPy's scalar)
            k = (key,) if key is Ellipsis else (key, Ellipsis)
        elif tk is tuple:
            k = key
            for c in key:
                if type(c) not in _BASIC:
                    k = None
                    break
            if k is not None:
                if len(k) == d.ndim and all(type(c) in _INTS for c in k):
                    return _scalar(d[k])
                if Ellipsis not in k:
                    k = k + (Ellipsis,)
            elif (ik := _int_key(key)) is not None:
                if len(ik) == d.ndim and all(type(c) is int for c in ik):
                    return _scalar(d[ik])  # one element, 0-d index arrays as ints
                if all(type(c) is not _ndarray for c in key):
                    # (a 0-d integer tensor acts as its int: P[u, :] is a view, as the op
                    # gives it; a 0-d ndarray is NumPy's index array, a copy: the op's)
                    k = ik if Ellipsis in ik else ik + (Ellipsis,)
        else:
            k = None
            if tk is Tensor:
                a = key.data
                if type(a) is _ndarray and not a.ndim and a.dtype.kind in "iu":
                    i = int(a)     # (index_keys.scalar_key, inline): as the int key above
                    if d.ndim == 1:
                        return _scalar(d[i])
                    a = None
                    k = (i, Ellipsis)
            elif tk is _ndarray or (tk is list or tk is range) and key:
                a = key if tk is _ndarray else np.asarray(key)
            else:
                a = None
            if type(a) is _ndarray and a.dtype.kind in "iub":
                out = d[a]
                if type(out) is not _ndarray:  # a 0-d key into 1-D data: NumPy's scalar
                    return _scalar(out)
                t = _make(out)
                if out.base is not None:  # (the op's test for an answer in x's memory)
                    alias = _aliased(out, (x,))
                    if alias is not None:
                        t._vc = alias._vc
                return t
        if k is not None:
            return plain_view(x, d, d[k], GetItemBasic, {"in_shape": d.shape, "key": k})
    return getitem(x, key)


def _int_key(key):
    """Tuple ``key`` with each 0-d integer array in it (a NumPy-backed tensor's or an
    ndarray, as ``i, j = rng.integers(0, n, 2)`` gives) as the int it holds, when every other
    part is basic; else None.  NumPy reads such an array as an index array, which picks the
    same elements in the same shape as the int (a 0-d index broadcasts to no axes), so an
    assignment through either, or reading one element with one index per axis, is the same
    -- on NumPy's faster basic path."""
    out = []
    for c in key:
        tc = type(c)
        if tc in _BASIC:
            out.append(c)
            continue
        a = c.data if tc is Tensor else c
        if not is_int_scalar_array(a):
            return None
        out.append(int(a))
    return tuple(out)


def plain_key(key):
    """``key`` as NumPy's assignment takes it with the meaning setitem gives it -- ints,
    slices, None and Ellipsis (alone or in a tuple, where 0-d integer arrays become ints: see
    :func:`_int_key`), one integer or boolean array (a tensor's or an ndarray) -- else None
    (the key then takes setitem's own rules).

    >>> plain_key((0, slice(1, None))), plain_key(1.5)
    ((0, slice(1, None, None)), None)
    """
    tk = type(key)
    if tk is int or tk is slice or tk in _INTS:
        return key
    if tk is tuple:
        for c in key:
            if type(c) not in _BASIC:
                return _int_key(key)
        return key
    a = key.data if tk is Tensor else key if tk is _ndarray else None
    return a if type(a) is _ndarray and a.dtype.kind in "iub" else None
