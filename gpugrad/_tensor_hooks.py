"""Hooks on a tensor's gradient: ``register_hook`` (called with each gradient computed for
the tensor; a returned tensor replaces it), ``register_post_accumulate_grad_hook`` (called
on a leaf once its ``.grad`` is final for the pass) and ``retain_grad`` (keep a non-leaf's
gradient), as PyTorch's methods of the same names.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0], requires_grad=True)
>>> h = x.register_hook(lambda g: g * 2)
>>> (x * 3).sum().backward(); x.grad.item()
6.0
>>> h.remove()
"""
from __future__ import annotations

import weakref

__all__ = ["install", "move_retain"]


class _HookHandle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


def register_hook(self, hook):
    """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
    replaces the gradient.  Returns a handle with ``remove()``.

    >>> import gpugrad as gg
    >>> x = gg.tensor([1.0], requires_grad=True)
    >>> h = x.register_hook(lambda g: g * 2)
    >>> (x * 3).sum().backward(); x.grad.item()
    6.0
    """
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that does not require grad")
    if self._node is None:
        if self._hooks is None:
            self._hooks = []
        hooks = self._hooks
    else:
        if self._node._hooks is None:
            self._node._hooks = []
        hooks = self._node._hooks
    hooks.append(hook)
    return _HookHandle(hooks, hook)


def register_post_accumulate_grad_hook(self, hook):
    """Call ``hook(tensor)`` on this leaf once a backward pass has accumulated its last
    gradient into ``.grad`` (the rest of the pass still runs).  Returns a handle with
    ``remove()``.

    >>> import gpugrad as gg
    >>> x = gg.tensor([1.0], requires_grad=True); seen = []
    >>> h = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.item()))
    >>> (x * 3).sum().backward(); seen
    [3.0]
    """
    from .backward_pass import register_post_accumulate_grad_hook as _register

    return _register(self, hook)


def retain_grad(self) -> None:
    """Keep ``.grad`` for this non-leaf tensor after backward.

    >>> import gpugrad as gg
    >>> x = gg.tensor([1.0], requires_grad=True); y = x * 2; y.retain_grad()
    >>> y.sum().backward(); y.grad
    tensor([1.])
    """
    if not self.requires_grad:
        raise RuntimeError("cannot retain_grad on a tensor with requires_grad=False: it "
                           "gets no gradient (create its inputs with requires_grad=True)")
    if self._node is None:
        return  # a leaf keeps its .grad anyway
    self._node._retain = weakref.ref(self)


def move_retain(t, old) -> None:
    """Tensor ``t`` was rewired from node ``old`` to ``t._node`` (an in-place write into it,
    or into a view of it; a stale view re-derived): a gradient ``t`` retains is its current
    value's, so it moves to the new node (PyTorch's rule)."""
    new = t._node
    if old is None or new is old or old._retain is None or old._retain() is not t:
        return
    if new is not None:
        new._retain = old._retain
    old._retain = None


def install(cls) -> None:
    """Set the hook methods on the Tensor class ``cls``."""
    for f in (register_hook, register_post_accumulate_grad_hook, retain_grad):
        setattr(cls, f.__name__, f)
