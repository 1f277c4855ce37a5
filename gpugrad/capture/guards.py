"""What a captured step checks before a replay: the state outside its input signature that
the recording depended on.

* :class:`TensorGuards` -- per tape, for each tensor from before the call that the step read
  by reference (a parameter, a buffer, a tensor it closes over): the array it held and its
  ``requires_grad`` flag at the first read (a change records again: a layer unfrozen or
  frozen after recording); and for each such leaf the tape hands a gradient to: that it has
  no gradient hook (``register_hook``, ``register_post_accumulate_grad_hook``).  Hooks are
  refused at recording, and one registered later raises :class:`CaptureError` before the
  replay changes anything.  One loop over a few tensors per replay.
* :func:`module_tree` -- per compiled step, the module tree of every module the recordings
  called or the step reaches by name: each module's child modules, parameters and buffers
  (names and objects).  :mod:`gpugrad.capture_hooks` counts structural changes
  (``Module.__setattr__``, ``del``, ``register_*``, ``add_module``, ``ModuleList[i] = m``);
  after one the tree is taken again and, if it differs, every tape is dropped.
* :func:`run_eagerly` -- anomaly detection on, or gradients off, in the calling thread: the
  call runs the step uncompiled (a replay would skip the per-op checks).

>>> import gpugrad as gg
>>> lin = gg.nn.Linear(2, 1)
>>> snap = module_tree([lin])
>>> same_tree(snap, module_tree([lin]))
True
>>> lin.bias = gg.nn.Parameter(gg.zeros(1))
>>> same_tree(snap, module_tree([lin]))
False
"""
from __future__ import annotations

from .. import anomaly, backward_pass
from ..capture_hooks import CaptureError
from ..grad_mode import _state as _grad_state

__all__ = ["TensorGuards", "module_tree", "same_tree", "modules_in", "run_eagerly"]

_an = anomaly._state


def run_eagerly() -> bool:
    """True when a compiled step must run uncompiled in this thread: anomaly detection is on
    (its checks run op by op) or gradients are off (``no_grad``: the step as written).

    >>> run_eagerly()
    False
    """
    return (anomaly._on and _an.enabled) or not _grad_state.enabled


class TensorGuards:
    """The tensors a tape reads by reference and the leaves it hands gradients to.

    ``items``: [(tensor, array, requires_grad)] as at recording (or [(tensor, array)]: its
    flag now); ``leaves``: the tensors among them that the tape hands a gradient to (their
    hooks would run in the uncompiled step).

    >>> import gpugrad as gg
    >>> w = gg.nn.Parameter(gg.ones(2))
    >>> g = TensorGuards([(w, w.data, True)], [w])
    >>> g.check()
    True
    >>> _ = w.requires_grad_(False); g.check()
    False
    """

    __slots__ = ("items", "leaves")

    def __init__(self, items, leaves=()):
        self.items = tuple(x if len(x) == 3 else (x[0], x[1], x[0].requires_grad)
                           for x in items)
        self.leaves = tuple(leaves)

    @classmethod
    def of(cls, guards, leaves):
        """From a recorder's ``guards`` {id: (tensor, array, requires_grad)} and ``leaves``
        {id: leaf handed a gradient}: the leaves from before the call are checked for hooks."""
        return cls(guards.values(), [t for i, t in leaves.items() if i in guards])

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return ((t, a) for t, a, _ in self.items)

    def check(self) -> bool:
        """True when the tape may replay; False when the step must record again (a tensor
        holds another array, or its ``requires_grad`` changed).  Raises :class:`CaptureError`
        when a leaf the step trains got a gradient hook after the recording."""
        for t, a, rg in self.items:
            if t.data is not a or t.requires_grad != rg:
                return False
        for t in self.leaves:
            if t._hooks:
                _refuse_hook(t, "register_hook")
        post = backward_pass._post_hooks
        if post:
            for t in self.leaves:
                if id(t) in post:
                    _refuse_hook(t, "register_post_accumulate_grad_hook")
        return True


def _refuse_hook(t, kind):
    raise CaptureError(f"a gradient hook ({kind}) was added after the compiled step was "
                       f"recorded, on a leaf tensor of shape {t.shape} ({t.dtype}) that the "
                       f"step hands gradients to: hooks are not replayed; remove it "
                       f"(handle.remove()), or call the step uncompiled")


# ------------------------------------------------------------------ module trees
def modules_in(values):
    """The Modules among ``values`` and inside lists/tuples/dicts among them (one level).

    >>> import gpugrad as gg
    >>> lin = gg.nn.Linear(2, 1)
    >>> modules_in([lin, [lin, 3], {"a": 1.0}]) == [lin, lin]
    True
    """
    from ..nn.module import Module

    out = []
    for v in values:
        if isinstance(v, Module):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(x for x in v if isinstance(x, Module))
        elif isinstance(v, dict):
            out.extend(x for x in v.values() if isinstance(x, Module))
    return out


def module_tree(roots):
    """A snapshot of the trees under ``roots``: (names, ids, objects).  The objects are held,
    so the ids stay theirs while the snapshot lives; compare with :func:`same_tree`."""
    names, objs, seen = [], [], set()
    stack = list(roots)
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        objs.append(m)
        d = m.__dict__
        for store in (d.get("_modules"), d.get("_parameters"), d.get("_buffers")):
            if store is None:
                names.append(None)
                continue
            names.append(tuple(store))
            objs.extend(store.values())
        stack.extend(c for c in d.get("_modules", {}).values() if c is not None)
    return tuple(names), tuple(map(id, objs)), objs


def same_tree(a, b) -> bool:
    """True when two :func:`module_tree` snapshots hold the same names and objects."""
    return a[0] == b[0] and a[1] == b[1]
