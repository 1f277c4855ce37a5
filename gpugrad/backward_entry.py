"""The public entry points of reverse mode, :func:`backward` and :func:`grad` (re-exported by
:mod:`gpugrad.autograd`): the seed gradients they start from (checked against each output's
shape, dtype and device), the device a pass runs under, and the capture of the inputs'
gradients for :func:`grad`.  The pass itself is :mod:`gpugrad.backward_pass`.

>>> import gpugrad as gg
>>> x = gg.tensor(2.0, requires_grad=True)
>>> grad(x * x, [x])[0].item()
4.0
"""
from __future__ import annotations

import numpy as np

from . import backend, capture_hooks
from . import dtypes as _dtypes
from .backend import DeviceMismatchError, array_device
from .backend import get_array_module as _xp
from .backward_pass import _run
from .tensor import Tensor

__all__ = ["backward", "grad"]

_ndarray = np.ndarray


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into leaves.

    With ``create_graph=True`` the backward pass is itself recorded, so the gradients it
    leaves in ``.grad`` can be differentiated again; ``retain_graph`` defaults to
    ``create_graph`` (as in PyTorch).

    >>> import gpugrad as gg
    >>> a = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> backward([(a * 3).sum()])
    >>> a.grad
    tensor([3., 3.])
    """
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if retain_graph is None:
        retain_graph = create_graph
    with _on_roots_device(tensors):
        roots = [(t, _seed_grad(t, g, create_graph)) for t, g in zip(tensors, grad_tensors)]
        _run(roots, retain_graph=retain_graph, create_graph=create_graph)


def _on_roots_device(tensors):
    """The first output's CUDA device made current for a backward pass (its seeds and
    accumulations); each node's own backward runs on its operands' device anyway."""
    for t in tensors:
        if isinstance(t, Tensor):
            return backend.on_device_of(t.data)
    return backend.on_device_of(None)


def _seed_grad(t, g, create_graph=False):
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor to differentiate, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError("the tensor does not require grad and has no grad_fn: nothing to "
                           "differentiate (create inputs with requires_grad=True)")
    if g is None:
        if t.data.dtype.kind == "c":
            raise RuntimeError(f"grad can be implicitly created only for real scalar outputs, "
                               f"got {t.dtype}: differentiate gpugrad.real(y) or "
                               f"gpugrad.imag(y), or pass gradient= (as PyTorch requires)")
        if t.data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got "
                               f"shape {t.shape}: pass gradient= with that shape, or reduce "
                               f"with .sum() first")
        d = t.data
        if type(d) is _ndarray:  # (NumPy's ones_like is several times slower for one element)
            ones = np.empty(d.shape, d.dtype)
            ones.fill(1)
        else:
            ones = _xp(d).ones_like(d)
        if capture_hooks._on:  # gpugrad.compile: a constant the replay makes too
            capture_hooks.constant(lambda: _xp(ones).ones_like(ones), ones)
        return Tensor._make(ones) if create_graph else ones
    if create_graph and isinstance(g, Tensor) and g.requires_grad:  # d/d(grad_outputs) too
        if g.shape != t.shape:
            raise RuntimeError(f"gradient shape mismatch: expected {t.shape}, got {g.shape}")
        _dtypes.check_seed_dtype(g.dtype, t)
        return g if g.dtype == t.dtype else g.astype(t.dtype)
    garr = g.data if isinstance(g, Tensor) else g
    if not hasattr(garr, "shape"):
        garr = np.asarray(garr)
    _dtypes.check_seed_dtype(garr.dtype, t)
    if garr.shape != t.data.shape:
        raise RuntimeError(f"gradient shape mismatch: expected {t.shape}, got {tuple(garr.shape)}")
    if type(garr) is not type(t.data):
        raise DeviceMismatchError(f"expected the gradient on {t.device}, got it on "
                                  f"{array_device(garr)}")
    garr = garr.astype(t.data.dtype, copy=False)
    return Tensor._make(garr) if create_graph else garr


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Return d(outputs)/d(inputs) (a tuple, one per input) without touching any ``.grad``.

    ``grad_outputs`` weights each output (the vector of a vector-Jacobian product; default
    ones for one-element outputs).  With ``create_graph=True`` the returned gradients carry a
    graph and can be differentiated again (Hessian-vector products, gradient penalties);
    ``retain_graph`` defaults to ``create_graph``.  An input the outputs do not depend on
    raises, or gives None with ``allow_unused=True``.  Same contract as
    ``torch.autograd.grad``.

    >>> import gpugrad as gg
    >>> x = gg.tensor(3.0, requires_grad=True)
    >>> (gx,) = grad(x * x, [x]); gx.item()
    6.0
    >>> (gx,) = grad(x ** 3, [x], create_graph=True)
    >>> grad(gx, [x])[0].item()  # d2/dx2 x**3 = 6x
    18.0
    """
    single_out = isinstance(outputs, Tensor)
    outs = [outputs] if single_out else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outs)
    else:
        grad_outputs = list(grad_outputs)
        if len(grad_outputs) != len(outs):
            raise ValueError(f"grad_outputs has {len(grad_outputs)} entries for "
                             f"{len(outs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    capture = {}
    keys = []
    for t in ins:
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError("every input of grad() must be a Tensor with requires_grad=True")
        key = id(t) if t._node is None else id(t._node)
        capture[key] = None
        keys.append(key)
    with _on_roots_device(outs):
        roots = [(t, _seed_grad(t, g, create_graph)) for t, g in zip(outs, grad_outputs)]
        _run(roots, capture=capture, accumulate=False, retain_graph=retain_graph,
             create_graph=create_graph)
    result = []
    for t, k in zip(ins, keys):
        g = capture[k]
        if g is None:
            if not allow_unused:
                raise RuntimeError("one of the inputs was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor._make(g))
    return tuple(result)
