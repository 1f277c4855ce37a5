"""The no-graph fast path: a call whose operands are NumPy-backed tensors outside any
recorded graph computes exactly what its op's forward would, and the op's node would be thrown
away unused, so such calls go straight to NumPy and wrap the answer (``Tensor._make``).

Anything else -- a graph to record (an input requires grad, or is a view of a tensor that
joined the graph since), CuPy arrays, autocast, ``gpugrad.compile`` recording, anomaly
detection, an operand that is not a tensor or a plain number, extra arguments -- takes the
op's own path, so results, dtypes and errors stay the op's.  Used by the Tensor operators and
by ``gpugrad.numpy``; ``tests/test_dropin_overhead.py`` checks both paths agree.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], dtype="float64")
>>> fast_op("add", gg.ops.add)(x, 1.0).tolist()
[2.0, 3.0]
"""
from __future__ import annotations

import operator

import numpy as np

from .. import anomaly as _anomaly, capture_hooks as _capture, grad_mode as _grad_mode
from .. import autocast_state as _ac
from ..autocast_state import _state as _amp
from ..tensor import Tensor, _wrap
from ..zero_d import scalar_tensor as _scalar

__all__ = ["watched", "in_graph", "plain_data", "plain_operand", "plain_view", "fast_unary", "fast_binary",
           "unary_operator", "binary_operator", "fast_op", "fast_where", "fast_matmul", "fast_sum", "FAST_UFUNCS"]

_gm = _grad_mode._state
_ndarray = np.ndarray
_make = _wrap  # (Tensor._make, as a plain function)
_new = object.__new__
# plain numbers an op takes as they are (NumPy's weak/strong scalar promotion applies)
_NUMBERS = frozenset([int, float, bool, complex] + [np.dtype(c).type for c in "?bhilqBHILQefdFD"])


def watched() -> bool:
    """True while every op call must run through its node: gpugrad.compile is recording,
    anomaly detection or autocast is on (in any thread for the first two)."""
    return bool(_capture._on or _anomaly._on or _ac._on and _amp.dtype is not None)


def _joins_graph(t):
    """True when tensor ``t``, which does not require grad, is a view whose base has joined
    the graph since it was made (``Function.apply``'s own test, so it is recorded the same)."""
    c = t._view._chain
    if c is not None and not c[0].requires_grad:
        return False
    from ..autograd import _view_in_graph

    return _view_in_graph(t)


def in_graph(t) -> bool:
    """True when ``t`` is a tensor an op would record a graph for now: grad mode is on and
    it requires grad, or it is a view whose base has joined the graph since it was made
    (then recorded as that view, as ``Function.apply`` does).  The one test every "graph or
    no graph?" choice outside the engine makes.

    >>> import gpugrad as gg
    >>> w = gg.zeros(4); v = w[1:]; _ = w.requires_grad_()
    >>> in_graph(v), in_graph(gg.zeros(1)), in_graph(1.0)
    (True, False, False)
    """
    return isinstance(t, Tensor) and (t.requires_grad or t._view is not None) and \
        _gm.enabled and (t.requires_grad or _joins_graph(t))


def plain_data(x, differentiable=True):
    """The NumPy array of tensor ``x`` when an op on it records nothing (grad mode is off, or
    ``x`` neither requires grad nor is a view of a tensor that does), else None.

    >>> import gpugrad as gg
    >>> plain_data(gg.tensor([1.0])) is not None, plain_data(gg.tensor([1.0], requires_grad=True))
    (True, None)
    """
    if type(x) is not Tensor:
        return None
    d = x.data
    if type(d) is not _ndarray:
        return None
    # (grad mode, a thread-local read, is looked at only for a tensor that could record)
    if differentiable and (x.requires_grad or x._view is not None) and _gm.enabled and (
            x.requires_grad or _joins_graph(x)):
        return None
    return d


def plain_operand(x):
    """:func:`plain_data` of ``x`` when nothing watches op calls either (see :func:`watched`):
    the array a no-graph fast path may compute on directly, else None."""
    d = x.data if type(x) is Tensor else None   # (plain_data(x), inline: a call less)
    if type(d) is not _ndarray or _capture._on or _anomaly._on or (
            _ac._on and _amp.dtype is not None) or (x.requires_grad or x._view is not None) \
            and _gm.enabled and (x.requires_grad or _joins_graph(x)):
        return None
    return d


def plain_view(x, d, out, cls, attrs):
    """The tensor ``cls.apply(x, ...)`` returns when it records no node, for ``out``, which
    view op ``cls`` (a ``Function`` with ``view = True`` whose forward sets ``attrs`` on its
    node) computed from ``d = plain_operand(x)``: a NumPy scalar as a 0-d tensor of its own;
    a view of ``d`` sharing ``x``'s version counter, with the op's node kept as the link to
    its base (``Tensor._view``: see :mod:`gpugrad.inplace`); a copy as a tensor of its own.
    ``attrs`` (a fresh dict) becomes the node's ``__dict__``.

    >>> import gpugrad as gg
    >>> from gpugrad.ops.shape import Reshape
    >>> x = gg.zeros(4)
    >>> v = plain_view(x, x.data, x.data.reshape(2, 2), Reshape, {"in_shape": (4,)})
    >>> v._vc is x._vc, type(v._view).__name__, v._view.parents[0] is x
    (True, 'Reshape', True)
    """
    if type(out) is not _ndarray:
        return _scalar(out)
    t = _make(out)
    b = out.base
    if b is not None and (b is d or b is d.base):
        vc = t._vc = x._vc
        attrs["needs"], attrs["parents"] = (False,), (x,)
        ver = None
        if _grad_mode._off and not _gm.enabled:
            attrs["_ng_ver"] = ver = vc[0]   # made under no_grad (PyTorch's rules then apply)
        up = x._view
        c = (x, None) if up is None else up._chain
        if c is not None:    # (its root, known now: view_links._view_root's memo, set ahead)
            attrs["_chain"] = c if ver is None else (c[0], ver)
        n = _new(cls)
        n.__dict__ = attrs
        t._view = n
    return t


def unary_operator(ufunc, slow, differentiable=True, kinds="f"):
    """``slow(x)`` for exactly one operand (``-t``, ``abs(t)``), with NumPy's ``ufunc``
    called directly when ``x`` is a plain NumPy-backed tensor whose dtype kind is in
    ``kinds`` (see :func:`plain_data`).

    >>> import gpugrad as gg, numpy
    >>> neg = unary_operator(numpy.negative, gg.ops.negative)
    >>> neg(gg.tensor([1.0], dtype="float64")).tolist()
    [-1.0]
    """
    def op(x):
        if type(x) is Tensor and not (
                _capture._on or _anomaly._on or _ac._on and _amp.dtype is not None):
            d = x.data      # (plain_data(x, differentiable), inline: a call less)
            if type(d) is _ndarray and d.dtype.kind in kinds and not (
                    differentiable and (x.requires_grad or x._view is not None)
                    and _gm.enabled and (x.requires_grad or _joins_graph(x))):
                r = ufunc(d)
                return _make(r) if type(r) is _ndarray else _scalar(r)
        return slow(x)
    _named(op, slow)
    return op


def fast_unary(ufunc, slow, differentiable=True, kinds="f"):
    """:func:`unary_operator`'s call for a function that also takes further arguments and
    keywords (a ``gpugrad.numpy`` function, a Tensor method): a call with any goes to
    ``slow`` as it is.

    >>> import gpugrad as gg, numpy
    >>> exp = fast_unary(numpy.exp, gg.ops.exp)
    >>> exp(gg.tensor([0.0], dtype="float64")).tolist()
    [1.0]
    """
    op = unary_operator(ufunc, slow, differentiable, kinds)

    def fn(x=_NO, /, *args, **kw):
        if args or kw or x is _NO:
            return slow(*_given(x), *args, **kw)
        return op(x)
    return _named(fn, slow)


def _binary_data(a, b, differentiable):
    """(a's array or number, b's) for a fast binary call, or None (see :func:`fast_binary`);
    :func:`binary_operator` asks the same, inline."""
    ta, tb = type(a), type(b)
    if ta is Tensor:
        da = a.data
        if type(da) is not _ndarray:
            return None
        if tb is Tensor:
            db = b.data
            if type(db) is not _ndarray:
                return None
            if differentiable and (a.requires_grad or b.requires_grad or a._view is not None
                                   or b._view is not None) and _gm.enabled and (
                    a.requires_grad or b.requires_grad or a._view is not None
                    and _joins_graph(a) or b._view is not None and _joins_graph(b)):
                return None
            return da, db
        if tb not in _NUMBERS or da.dtype.char == "E":
            return None
        if differentiable and (a.requires_grad or a._view is not None) and _gm.enabled and (
                a.requires_grad or _joins_graph(a)):
            return None
        return da, b
    if tb is Tensor and ta in _NUMBERS:
        db = plain_data(b, differentiable)
        return None if db is None or db.dtype.char == "E" else (a, db)
    return None


def binary_operator(ufunc, slow, differentiable=True, reflected=False):
    """``slow(a, b)`` for exactly two operands (a Tensor operator: ``a + b``; ``reflected``:
    called as ``op(b, a)``, as ``__radd__`` is), with NumPy's ``ufunc`` called directly when
    the operands are plain NumPy-backed tensors (see :func:`plain_data`) or one is a plain
    number (not with a bfloat16 tensor: see :func:`_binary_data`, the same rule).

    >>> import gpugrad as gg, numpy
    >>> add = binary_operator(numpy.add, gg.ops.add)
    >>> add(gg.tensor([1.0]), 2).tolist()
    [3.0]
    """
    def op(a, b):
        if reflected:
            a, b = b, a
        if not (_capture._on or _anomaly._on or _ac._on and _amp.dtype is not None):
            # (_binary_data(a, b, differentiable), inline: a call and a tuple less)
            ta, tb = type(a), type(b)
            r = _NO
            if ta is Tensor:
                da = a.data
                if type(da) is _ndarray:
                    if tb is Tensor:
                        db = b.data
                        if type(db) is _ndarray and not (
                                differentiable and (a.requires_grad or b.requires_grad or
                                                    a._view is not None or b._view is not None)
                                and _gm.enabled and (
                                    a.requires_grad or b.requires_grad or a._view is not None
                                    and _joins_graph(a) or b._view is not None
                                    and _joins_graph(b))):
                            r = ufunc(da, db)
                    elif tb in _NUMBERS and da.dtype.char != "E" and not (
                            differentiable and (a.requires_grad or a._view is not None)
                            and _gm.enabled and (a.requires_grad or _joins_graph(a))):
                        r = ufunc(da, b)
            elif tb is Tensor and ta in _NUMBERS:
                db = b.data
                if type(db) is _ndarray and db.dtype.char != "E" and not (
                        differentiable and (b.requires_grad or b._view is not None)
                        and _gm.enabled and (b.requires_grad or _joins_graph(b))):
                    r = ufunc(a, db)
            if r is not _NO:
                return _make(r) if type(r) is _ndarray else _scalar(r)
        return slow(a, b)
    _named(op, slow)
    return op


def fast_binary(ufunc, slow, differentiable=True):
    """:func:`binary_operator`'s call for a function that also takes further arguments and
    keywords (a ``gpugrad.numpy`` function, a Tensor method): a call with any, or with
    fewer than two operands, goes to ``slow`` as it is.

    >>> import gpugrad as gg, numpy
    >>> add = fast_binary(numpy.add, gg.ops.add)
    >>> add(gg.tensor([1.0]), 2).tolist()
    [3.0]
    """
    op = binary_operator(ufunc, slow, differentiable)

    def fn(a=_NO, b=_NO, /, *args, **kw):
        if args or kw or b is _NO:
            return slow(*_given(a, b), *args, **kw)
        return op(a, b)
    return _named(fn, slow)


# a positional argument not given (the fast calls' defaults; never a user's value)
_NO = object()


def _given(*args):
    """The positional arguments given: ``args`` up to the first :data:`_NO` (found by
    identity: ``==`` of a tensor is elementwise)."""
    for i, a in enumerate(args):
        if a is _NO:
            return args[:i]
    return args


def _named(fn, slow):
    """``fn``, standing for ``slow``: its name, doc and (for ``inspect.signature``) it."""
    fn.__name__, fn.__qualname__, fn.__doc__ = slow.__name__, slow.__qualname__, slow.__doc__
    fn.__wrapped__ = slow
    return fn


# ops whose forward, for NumPy operands of the dtype kinds named, is this NumPy ufunc:
# name -> (ufunc, differentiable, kinds; None for a binary op (any dtype but bfloat16 with a
# number))
FAST_UFUNCS = {
    # (the operators, as the ops' forwards use them: ndarray ** 2 is NumPy's square, whose
    # dtype for bool input is not np.power's)
    "add": (operator.add, True, None), "subtract": (operator.sub, True, None),
    "multiply": (operator.mul, True, None), "divide": (operator.truediv, True, None),
    "power": (operator.pow, True, None), "remainder": (operator.mod, True, None),
    "maximum": (np.maximum, True, None), "minimum": (np.minimum, True, None),
    **{n: (getattr(np, n), False, None) for n in (
        "floor_divide", "equal", "not_equal", "less", "less_equal", "greater",
        "greater_equal", "logical_and", "logical_or", "logical_xor")},
    **{n: (getattr(np, n), True, "f") for n in (
        "exp", "log", "log1p", "expm1", "log2", "log10", "sqrt", "sin", "cos", "tan", "arcsin",
        "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
        "negative", "abs", "absolute", "floor", "ceil", "trunc", "rint")},
    **{n: (getattr(np, n), False, "biuf") for n in ("isnan", "isinf", "isfinite")},
}


def fast_op(name, slow, exact=False, reflected=False):
    """``slow`` (the op ``name``, or a front-end function computing the same), with the
    no-graph fast path of :data:`FAST_UFUNCS` when ``name`` has one; else ``slow`` itself.
    With ``exact``, for a Tensor operator's exact operands (:func:`binary_operator`,
    :func:`unary_operator`; ``reflected`` for ``__radd__`` and the like).

    >>> import gpugrad as gg
    >>> fast_op("add", gg.ops.add)(gg.tensor([1.0]), 1.0).tolist()
    [2.0]
    """
    if name not in FAST_UFUNCS:
        return slow
    ufunc, diff, kinds = FAST_UFUNCS[name]
    if kinds is None:
        if exact:
            return binary_operator(ufunc, slow, diff, reflected)
        return fast_binary(ufunc, slow, diff)
    return unary_operator(ufunc, slow, diff, kinds) if exact else \
        fast_unary(ufunc, slow, diff, kinds)


def fast_where(cond, a, b):
    """``numpy.where(cond, a, b)`` as a tensor when ``ops.where`` would record nothing and
    compute just that (a plain bool ``cond``, plain tensors or numbers, at least one tensor
    among ``a``, ``b``); else None, and the caller takes the op.

    >>> import gpugrad as gg
    >>> fast_where(gg.tensor([True, False]), gg.tensor([1.0, 2.0]), 0.0).tolist()
    [1.0, 0.0]
    """
    if _capture._on or _anomaly._on or _ac._on and _amp.dtype is not None:
        return None
    c = plain_data(cond)
    if c is None or c.dtype.kind != "b":
        return None
    ta, tb = type(a), type(b)
    da = plain_data(a) if ta is Tensor else (a if ta in _NUMBERS else None)
    db = plain_data(b) if tb is Tensor else (b if tb in _NUMBERS else None)
    if da is None or db is None or (ta is not Tensor and tb is not Tensor):
        return None
    return _make(np.where(c, da, db))


def fast_matmul(a, b, product=np.matmul):
    """``product(a, b)`` (``numpy.matmul``, or ``numpy.dot`` for ``gpugrad.numpy.dot``) as a
    tensor when ``ops.matmul`` / ``gpugrad.numpy.dot`` would record nothing and compute just
    that: plain NumPy-backed tensors, not bfloat16 (whose product gpugrad accumulates in
    float32); else None, also when NumPy refuses the operands (the op's own path then raises
    its error).

    >>> import gpugrad as gg
    >>> fast_matmul(gg.ones((2, 3)), gg.ones(3)).tolist()
    [3.0, 3.0]
    """
    if type(a) is not Tensor or type(b) is not Tensor or _capture._on or _anomaly._on or (
            _ac._on and _amp.dtype is not None):
        return None
    da, db = a.data, b.data     # (plain_data of each, inline)
    if type(da) is not _ndarray or type(db) is not _ndarray or (
            a.requires_grad or b.requires_grad or a._view is not None or b._view is not None
    ) and _gm.enabled and (a.requires_grad or b.requires_grad or a._view is not None
                           and _joins_graph(a) or b._view is not None and _joins_graph(b)) \
            or da.dtype.char == "E" or db.dtype.char == "E":
        return None
    try:
        r = product(da, db)
    except (ValueError, TypeError):
        return None
    return _make(r) if type(r) is _ndarray else _scalar(r)


def fast_sum(x):
    """``x.sum()`` over all elements as a 0-d tensor when ``ops.sum(x)`` would record nothing
    and compute just that (a plain NumPy-backed tensor, not float16/bfloat16, which sum in
    float32); else None.

    >>> import gpugrad as gg
    >>> fast_sum(gg.tensor([1.0, 2.0])).item()
    3.0
    """
    if _capture._on or _anomaly._on or _ac._on and _amp.dtype is not None:
        return None
    d = plain_data(x)
    if d is None or d.dtype.char in "eE":
        return None
    return _scalar(d.sum())
