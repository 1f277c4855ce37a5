"""Functional transforms in the style of JAX and HIPS autograd.

``grad(f)`` returns a function computing the gradient of scalar-valued ``f`` with respect to
argument ``argnums``; inputs may be tensors, NumPy arrays or Python numbers, and gradients
come back in the same kind.

>>> import gpugrad as gg
>>> df = grad(lambda x: (x ** 3).sum())
>>> df(np.array([1.0, 2.0]))
array([ 3., 12.])
"""
from __future__ import annotations

import numbers

import numpy as np

from . import autograd
from .backend import get_array_module, is_cupy_array
from .tensor import Tensor, as_tensor

__all__ = ["grad", "value_and_grad", "jacobian"]


def _watch(a):
    if isinstance(a, (list, tuple)):  # containers of arrays (a list of parameters, ...)
        return type(a)(_watch(v) for v in a)
    if isinstance(a, dict):
        return {k: _watch(v) for k, v in a.items()}
    if isinstance(a, Tensor):
        t = Tensor._make(a.data if a.dtype.kind == "f" else a.data.astype(np.float32))
    elif isinstance(a, numbers.Number):
        t = Tensor._make(np.asarray(float(a), dtype=np.float64))
    else:
        t = as_tensor(a)
        if t.dtype.kind != "f":
            t = Tensor._make(t.data.astype(np.float64))
        t = Tensor._make(t.data)
    return t.requires_grad_(True)


def _leaves(tree):
    if isinstance(tree, (list, tuple)):
        return [x for v in tree for x in _leaves(v)]
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    return [tree]


def _rebuild(tree, it):
    """``tree``'s structure filled from iterator ``it`` (in ``_leaves`` order)."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(_rebuild(v, it) for v in tree)
    if isinstance(tree, dict):
        return {k: _rebuild(v, it) for k, v in tree.items()}
    return next(it)


def _like(g, original):
    """Return gradient tensor ``g`` in the kind of ``original``."""
    if isinstance(original, (list, tuple, dict)):  # g is then a like-structured tree
        return _rebuild(original, iter([_like(a, b) for a, b in
                                        zip(_leaves(g), _leaves(original))]))
    if isinstance(original, Tensor):
        return g
    if isinstance(original, numbers.Number):
        return float(g.data)
    if isinstance(original, np.ndarray) or is_cupy_array(original):
        return g.data
    return g.numpy()


def _value_like(v, originals):
    if all(isinstance(o, Tensor) for o in _leaves(originals)):
        return v
    if v.data.size == 1:
        return v.data.reshape(()).item()
    return v.data


def _argnums(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _call_watched(fun, nums, args, kwargs):
    """Call ``fun`` with arguments ``nums`` replaced by fresh leaves that require grad;
    returns (the original arguments, their leaves, fun's output)."""
    args = list(args)
    originals = [args[i] for i in nums]
    watched = [_watch(a) for a in originals]
    for i, t in zip(nums, watched):
        args[i] = t
    with autograd.enable_grad():
        out = fun(*args, **kwargs)
    return originals, watched, out


def value_and_grad(fun, argnums=0, has_aux=False):
    """Return ``f(*args) -> (value, gradient)`` (``((value, aux), gradient)`` with
    ``has_aux``); a tuple of gradients when ``argnums`` is a tuple.

    >>> import gpugrad as gg
    >>> value_and_grad(lambda x: (x * x).sum())(np.array([3.0]))
    (9.0, array([6.]))
    """
    nums = _argnums(argnums)

    def wrapped(*args, **kwargs):
        originals, watched, out = _call_watched(fun, nums, args, kwargs)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("with has_aux=True, the function must return (value, aux)")
            out, aux = out
        if not isinstance(out, Tensor) or out.size != 1:
            got = getattr(out, "shape", type(out).__name__)
            raise TypeError(f"grad needs a function returning a scalar tensor, got {got}")
        flat = _leaves(watched)
        if out.requires_grad:
            gs = autograd.grad(out, flat, allow_unused=True)
        else:
            gs = [None] * len(flat)
        gs = iter([Tensor._make(t.data * 0) if g is None else g for g, t in zip(gs, flat)])
        grads = tuple(_like(_rebuild(w, gs), o) for w, o in zip(watched, originals))
        value = _value_like(out.detach(), originals)
        result_g = grads[0] if isinstance(argnums, int) else grads
        return ((value, aux) if has_aux else value), result_g

    wrapped.__name__ = f"value_and_grad({getattr(fun, '__name__', 'f')})"
    return wrapped


def grad(fun, argnums=0, has_aux=False):
    """Return a function computing the gradient of scalar-valued ``fun``.

    >>> import gpugrad as gg
    >>> grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(np.array([2.0]), np.array([5.0]))
    (array([5.]), array([2.]))
    """
    vg = value_and_grad(fun, argnums, has_aux)

    def wrapped(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    wrapped.__name__ = f"grad({getattr(fun, '__name__', 'f')})"
    return wrapped


def jacobian(fun, argnums=0):
    """The Jacobian of ``fun`` at its arguments, by reverse mode one output row at a time;
    shape ``out.shape + in.shape``.

    >>> import gpugrad as gg
    >>> jacobian(lambda x: x * 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 2.]])
    """
    nums = _argnums(argnums)

    def wrapped(*args, **kwargs):
        originals, watched, out = _call_watched(fun, nums, args, kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"jacobian needs a function returning a tensor, got "
                            f"{type(out).__name__}")
        rows = [[] for _ in watched]
        n = out.size
        for k in range(n):
            seed = (out.data * 0).reshape(-1)
            seed[k] = 1
            if out.requires_grad:
                gs = autograd.grad(out, watched, grad_outputs=Tensor._make(seed.reshape(out.shape)),
                                   retain_graph=True, allow_unused=True)
            else:
                gs = [None] * len(watched)
            for r, g, t in zip(rows, gs, watched):
                r.append(t.data * 0 if g is None else g.data)
        jacs = []
        for r, t, o in zip(rows, watched, originals):
            xp = get_array_module(t.data)
            j = xp.stack(r).reshape(out.shape + t.shape) if r else t.data.reshape(out.shape + t.shape)
            jacs.append(_like(Tensor._make(j), o))
        return jacs[0] if isinstance(argnums, int) else tuple(jacs)

    return wrapped
