"""Functional transforms in the style of JAX and HIPS autograd.

``grad(f)`` returns a function computing the gradient of scalar-valued ``f`` with respect to
argument ``argnums``; inputs may be tensors, NumPy arrays or Python numbers, and gradients
come back in the same kind.

Transforms nest to any order (``grad(grad(f))``, ``jacobian(grad(f))``, :func:`hessian`,
:func:`hvp`): a transform called while another one is evaluating its function records its
own backward pass (``create_graph``) and hands back Tensors that carry the graph, whatever
the kind of its arguments.  Each call differentiates with respect to its own fresh inputs
(an argument that is itself being differentiated enters through an identity node), so
inner and outer differentiations of nested closures are never confused.

>>> import gpugrad as gg
>>> df = grad(lambda x: (x ** 3).sum())
>>> df(np.array([1.0, 2.0]))
array([ 3., 12.])
"""
from __future__ import annotations

import numbers
import threading

import numpy as np

from . import autograd, backend, grad_mode
from .autograd import Function
from .backend import get_array_module, is_cupy_array
from .tensor import Tensor, as_tensor

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp", "vjp"]

_depth = threading.local()  # how many transforms are evaluating their function, per thread


class _Watch(Function):
    """Identity: the fresh input of a transform whose argument is itself being
    differentiated (by an enclosing transform or a recorded graph)."""

    view = True
    twice_differentiable = True
    complex_grad = True  # linear in its input: g passes unconjugated

    def saved_inputs(self, needs):
        return ()

    def forward(self, x):
        return x.view()

    def backward(self, g):
        return (g,)


def _watch(a):
    if isinstance(a, (list, tuple)):  # containers of arrays (a list of parameters, ...)
        return type(a)(_watch(v) for v in a)
    if isinstance(a, dict):
        return {k: _watch(v) for k, v in a.items()}
    if isinstance(a, Tensor) and a.requires_grad and grad_mode.is_grad_enabled():
        if a.dtype.kind not in "fc":
            raise TypeError(f"cannot differentiate with respect to a {a.dtype} tensor")
        return _Watch.apply(a)  # differentiated here and by whatever records through a
    if isinstance(a, Tensor):  # floating and complex tensors keep their dtype
        t = Tensor._make(a.data if a.dtype.kind in "fc" else a.data.astype(np.float32))
    elif isinstance(a, numbers.Number):  # a Python number has no device: the default one
        t = as_tensor(a, dtype=np.complex128 if isinstance(a, complex) else np.float64)
    else:
        t = as_tensor(a)
        t = Tensor._make(t.data if t.dtype.kind in "fc" else t.data.astype(np.float64))
    return t.requires_grad_(True)


def _zero_grad(t):
    """The gradient of an argument the output does not depend on: exact zeros of its shape,
    dtype and device (not ``t * 0``, which is NaN where ``t`` holds NaN or an infinity)."""
    with backend.on_device_of(t.data):
        return Tensor._make(get_array_module(t.data).zeros_like(t.data))


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
    """Return gradient tensor ``g`` in the kind of ``original`` (a Tensor whatever the kind
    when ``g`` carries a graph that an enclosing differentiation needs)."""
    if isinstance(original, (list, tuple, dict)):  # g is then a like-structured tree
        return _rebuild(original, iter([_like(a, b) for a, b in
                                        zip(_leaves(g), _leaves(original))]))
    if isinstance(original, Tensor) or g.requires_grad:
        return g
    if isinstance(original, numbers.Number):
        return complex(g.data) if g.dtype.kind == "c" else float(g.data)
    if isinstance(original, np.ndarray) or is_cupy_array(original):
        return g.data
    return g.numpy()


def _value_like(v, originals):
    if v.requires_grad or all(isinstance(o, Tensor) for o in _leaves(originals)):
        return v
    if v.data.size == 1:
        return v.data.reshape(()).item()
    return v.data


def _argnums(argnums):
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def _call_watched(fun, nums, args, kwargs):
    """Call ``fun`` with arguments ``nums`` replaced by fresh inputs that require grad;
    returns (the original arguments, the fresh inputs, fun's output, whether the backward
    pass must record a graph)."""
    outer = grad_mode.is_grad_enabled()
    args = list(args)
    originals = [args[i] for i in nums]
    if outer and any(isinstance(a, Tensor) and a.requires_grad for a in _leaves(originals)):
        nested = True
    else:
        nested = outer and getattr(_depth, "n", 0) > 0
    watched = [_watch(a) for a in originals]
    for i, t in zip(nums, watched):
        args[i] = t
    _depth.n = getattr(_depth, "n", 0) + 1
    try:
        with autograd.enable_grad():
            out = fun(*args, **kwargs)
    finally:
        _depth.n -= 1
    if outer and not nested and isinstance(out, Tensor) and \
            any(isinstance(a, Tensor) for a in _leaves(originals)):
        nested = _reaches_other_leaf(out, _leaves(watched))
    return originals, watched, out, nested


def _reaches_other_leaf(out, watched):
    """True when ``out`` depends on a leaf that requires grad other than ``watched`` (a
    parameter closed over, say): its gradient then keeps that dependence as a graph."""
    if out._node is None:
        return False
    mine = {id(t) for t in watched}
    seen = {out._node}
    walk = [out._node]
    while walk:
        n = walk.pop()
        for p, pn in zip(n.parents, n.pnodes):
            if pn is None:
                if isinstance(p, Tensor) and p.requires_grad and id(p) not in mine:
                    return True
            elif pn not in seen:
                seen.add(pn)
                walk.append(pn)
    return False


def value_and_grad(fun, argnums=0, has_aux=False):
    """Return ``f(*args) -> (value, gradient)`` (``((value, aux), gradient)`` with
    ``has_aux``); a tuple of gradients when ``argnums`` is a tuple.

    >>> import gpugrad as gg
    >>> value_and_grad(lambda x: (x * x).sum())(np.array([3.0]))
    (9.0, array([6.]))
    """
    nums = _argnums(argnums)

    def wrapped(*args, **kwargs):
        originals, watched, out, nested = _call_watched(fun, nums, args, kwargs)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("with has_aux=True, the function must return (value, aux)")
            out, aux = out
        if isinstance(out, (numbers.Number, np.generic)) and not isinstance(out, bool):
            out = Tensor._make(np.asarray(out, dtype=np.float64))  # a constant: gradient 0
        if not isinstance(out, Tensor) or out.size != 1:
            got = getattr(out, "shape", type(out).__name__)
            raise TypeError(f"grad needs a function returning a scalar tensor, got {got}")
        flat = _leaves(watched)
        if out.requires_grad:
            gs = autograd.grad(out, flat, allow_unused=True, create_graph=nested)
        else:
            gs = [None] * len(flat)
        gs = iter([_zero_grad(t) if g is None else g for g, t in zip(gs, flat)])
        grads = tuple(_like(_rebuild(w, gs), o) for w, o in zip(watched, originals))
        value = _value_like(out if nested else out.detach(), originals)
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
    """The Jacobian of ``fun`` at its arguments, by reverse mode one output element at a time.

    For a tensor output and a tensor argument the shape is ``out.shape + in.shape``.
    Arguments may be pytrees (lists, tuples, dicts of arrays) and so may the output, as in
    ``jax.jacobian``: the result has the output's structure, each leaf holding the argument's
    structure of Jacobian blocks; a tuple ``argnums`` gives a tuple over the arguments.
    A complex output of real arguments gives the complex Jacobian; a real output of complex
    arguments gives each output's gradient (PyTorch's convention); a complex output of a
    complex argument is refused (a TypeError), as PyTorch's and JAX's jacrev refuse it.
    Differentiable itself when nested in another transform (``jacobian(grad(f))`` is the
    Hessian: see :func:`hessian`).

    >>> import gpugrad as gg
    >>> jacobian(lambda x: x * 2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 2.]])
    """
    nums = _argnums(argnums)

    def wrapped(*args, **kwargs):
        from . import ops

        originals, watched, out, nested = _call_watched(fun, nums, args, kwargs)
        outs = _leaves(out)
        if not outs or not all(isinstance(o, Tensor) for o in outs):
            raise TypeError(f"jacobian needs a function returning tensors, got "
                            f"{type(out).__name__}")
        flat = _leaves(watched)
        _complex_jacobian_check(outs, flat)
        blocks = []  # per output leaf: per input leaf, its Jacobian block
        for o in outs:
            xp = get_array_module(o.data)
            rows = [[] for _ in flat]
            # a complex output of real inputs: the gradients of its real part (seed 1) and of
            # its imaginary part (seed 1j) are the Jacobian's real and imaginary parts
            parts = (1, 1j) if o.dtype.kind == "c" else (1,)
            for k in range(o.size):
                row = [None] * len(flat)
                for part in parts:
                    with backend.on_device_of(o.data):       # the seed lives where o does
                        seed = xp.zeros(o.size, dtype=o.dtype)
                        seed[k] = part
                    if not o.requires_grad:
                        break
                    gs = autograd.grad(o, flat, grad_outputs=Tensor._make(seed.reshape(o.shape)),
                                       retain_graph=True, create_graph=nested,
                                       allow_unused=True)
                    for i, g in enumerate(gs):
                        if g is not None:
                            g = g if part == 1 else g * 1j
                            row[i] = g if row[i] is None else row[i] + g
                for r, g, t in zip(rows, row, flat):
                    r.append(_zero_grad(t) if g is None else g)
            blocks.append([ops.stack(r).reshape(o.shape + t.shape) if r else Tensor._make(
                xp.zeros(o.shape + t.shape, dtype=t.dtype)) for r, t in zip(rows, flat)])
        per_out = []
        for blk in blocks:
            it = iter(blk)
            per_arg = tuple(_like(_rebuild(w, it), orig) for w, orig in zip(watched, originals))
            per_out.append(per_arg[0] if isinstance(argnums, int) else per_arg)
        return _rebuild(out, iter(per_out))

    wrapped.__name__ = f"jacobian({getattr(fun, '__name__', 'f')})"
    return wrapped


def _complex_jacobian_check(outs, flat):
    """Refuse a complex output of a complex argument: one complex Jacobian exists only for
    holomorphic functions (PyTorch's and JAX's jacrev refuse too), and a Hessian of a complex
    argument is a 2n x 2n real matrix no complex n x n one can hold."""
    cin = next((t.dtype for t in flat if t.dtype.kind == "c"), None)
    cout = next((o.dtype for o in outs if o.dtype.kind == "c"), None)
    if cin is not None and cout is not None:
        raise TypeError(
            f"jacobian: the output is complex ({cout}) and so is an argument ({cin}): a single "
            f"complex Jacobian exists only for holomorphic functions, and a hessian of a "
            f"complex argument is the 2n x 2n real one; take the jacobian of gpugrad.real(f) "
            f"and gpugrad.imag(f), or of the real and imaginary parts as separate real "
            f"arguments (hvp takes complex arguments)")


def hessian(fun, argnums=0):
    """The Hessian of scalar-valued ``fun``: ``jacobian(grad(fun))``, shape
    ``in.shape + in.shape`` (JAX's ``jax.hessian``; PyTorch's ``torch.func.hessian``).

    >>> import gpugrad as gg
    >>> hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    h = jacobian(grad(fun, argnums), argnums)
    h.__name__ = f"hessian({getattr(fun, '__name__', 'f')})"
    return h


def hvp(fun, x, v):
    """The Hessian-vector product H(x) @ v of scalar-valued ``fun`` at ``x``, without
    forming H: the gradient of <grad fun(x), v>, by two reverse passes (reverse-over-reverse,
    as ``torch.autograd.functional.hvp``).  ``x`` and ``v`` have one shape; the result has
    it too, in ``x``'s kind.  For a complex ``x`` the Hessian is the real one of its real and
    imaginary parts, and ``v`` and the result pack those parts as gradients do (re + 1j im).

    >>> import gpugrad as gg
    >>> hvp(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    # an array v goes where x is (or, x not a tensor, where x will be: the default device)
    vt = v if isinstance(v, Tensor) else as_tensor(
        v, device=x.device if isinstance(x, Tensor) else None)
    if tuple(vt.shape) != tuple(getattr(x, "shape", ())):
        raise ValueError(f"hvp: v must have x's shape {tuple(getattr(x, 'shape', ()))}, "
                         f"got {tuple(vt.shape)}")
    x_dtype = np.dtype(getattr(x, "dtype", None) or np.result_type(x))
    if vt.dtype.kind == "c" and x_dtype.kind != "c":
        raise TypeError(f"hvp: v is complex ({vt.dtype}) but x is real ({x_dtype}): a real x "
                        f"moves only along real directions")
    df = grad(fun)

    def inner(x):
        from . import ops

        g = df(x)
        if not isinstance(g, Tensor):  # fun does not depend on x: H = 0
            return ops.sum(ops.real(x) * 0)
        if g.dtype.kind == "c":  # the real inner product of the 2n real coordinates,
            # re(g) re(v) + im(g) im(v): its gradient is the real Hessian times v, packed as
            # PyTorch packs gradients (torch.autograd.functional.hvp agrees)
            return ops.sum(ops.real(g * ops.conj(vt.astype(g.dtype))))
        return ops.sum(g * vt.astype(g.dtype))

    return grad(inner)(x)


def vjp(fun, *primals):
    """``(fun(*primals), vjp_fn)`` where ``vjp_fn(cotangent)`` returns one gradient per
    primal (each in the primal's structure: primals may be pytrees): the vector-Jacobian
    products, as ``jax.vjp``.  ``vjp_fn`` may be called many times (the graph is kept).

    >>> import gpugrad as gg
    >>> out, f_vjp = vjp(lambda x: x * x, np.array([1.0, 3.0]))
    >>> f_vjp(np.array([1.0, 1.0]))
    (array([2., 6.]),)
    """
    nums = tuple(range(len(primals)))
    originals, watched, out, nested = _call_watched(fun, nums, primals, {})
    if not isinstance(out, Tensor):
        raise TypeError(f"vjp needs a function returning a tensor, got {type(out).__name__}")
    flat = _leaves(watched)

    def vjp_fn(cotangent):
        ct = cotangent if isinstance(cotangent, Tensor) else as_tensor(cotangent,
                                                                       device=out.device)
        if tuple(ct.shape) != tuple(out.shape):
            raise ValueError(f"vjp: the cotangent must have the output's shape {out.shape}, "
                             f"got {tuple(ct.shape)}")
        if not out.requires_grad:
            gs = [None] * len(flat)
        else:
            gs = autograd.grad(out, flat, grad_outputs=ct.astype(out.dtype),
                               retain_graph=True, create_graph=nested or ct.requires_grad,
                               allow_unused=True)
        it = iter([_zero_grad(t) if g is None else g for g, t in zip(gs, flat)])
        return tuple(_like(_rebuild(w, it), o) for w, o in zip(watched, originals))

    return _value_like(out if nested else out.detach(), originals), vjp_fn
