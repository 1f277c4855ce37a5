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
  called or the step reaches by name: each module's child modules, parameters, buffers and
  Tensor-valued attributes (names and objects).  :mod:`gpugrad.capture_hooks` counts
  structural changes (``Module.__setattr__`` of a module, parameter, buffer or Tensor,
  ``del``, ``register_*``, ``add_module``, ``ModuleList[i] = m``) and gives each module the
  version of its last one; after a change anywhere, the step compares the versions of the
  modules in its snapshot (:meth:`ModuleTree.unchanged`), takes the trees again only when
  one moved, and drops every tape if they differ.
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

from .. import anomaly, backward_pass, capture_hooks
from ..capture_hooks import CaptureError
from ..grad_mode import _state as _grad_state
from ..tensor import Tensor

__all__ = ["TensorGuards", "ModuleTree", "module_tree", "same_tree", "modules_in", "run_eagerly"]

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


class ModuleTree:
    """A snapshot of the module trees under some roots (see :func:`module_tree`).

    ``names``: per module, the names in its ``_modules``/``_parameters``/``_buffers`` and of
    its Tensor-valued attributes; ``ids``: the ids of those objects (held in ``objs``, so the
    ids stay theirs while the snapshot lives); ``modules``/``versions``: each module and its
    structure version (``__dict__["_tree_version"]``) as read before its members;
    ``anonymous``: :data:`gpugrad.capture_hooks.anonymous_version` then.
    """

    __slots__ = ("names", "ids", "objs", "modules", "versions", "anonymous", "n_structure")

    def unchanged(self) -> bool:
        """True when no module in the snapshot changed since (each module's own version, a
        few microseconds for a hundred modules): the trees are the same without a walk."""
        if capture_hooks.anonymous_version != self.anonymous:
            return False
        return [m.__dict__.get("_tree_version") for m in self.modules] == self.versions


def module_tree(roots):
    """A :class:`ModuleTree` of the trees under ``roots``: each module's child modules,
    parameters and buffers, and its attributes that hold a Tensor (``self.shift = t``: read
    by reference in a replay, so rebinding one records again); compare with
    :func:`same_tree`."""
    snap = ModuleTree()
    snap.anonymous = capture_hooks.anonymous_version
    names, objs, attrs, attr_objs, mods, versions, seen = [], [], [], [], [], [], set()
    stack = list(roots)
    while stack:
        m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        d = m.__dict__
        mods.append(m)
        versions.append(d.get("_tree_version"))        # before the members: a change after
        objs.append(m)                                 # this read moves it
        for store in (d.get("_modules"), d.get("_parameters"), d.get("_buffers")):
            if store is None:
                names.append(None)
            else:
                names.append(tuple(store))
                objs.extend(store.values())
        for k, v in list(d.items()):                   # (a copy: another thread may set one)
            if isinstance(v, Tensor):
                attrs.append(k)
                attr_objs.append(v)
        attrs.append(None)                             # (this module's end)
        children = d.get("_modules")
        if children:
            stack.extend([c for c in children.values() if c is not None])
    snap.n_structure = len(names), len(objs)
    names.append(tuple(attrs))
    snap.names = tuple(names)
    snap.objs = objs + attr_objs
    snap.ids = tuple(map(id, snap.objs))
    snap.modules, snap.versions = tuple(mods), versions
    return snap


def same_tree(a, b, attributes=True) -> bool:
    """True when two :func:`module_tree` snapshots hold the same names and objects
    (``attributes=False``: child modules, parameters and buffers only, not the modules'
    Tensor attributes)."""
    if attributes:
        return a.names == b.names and a.ids == b.ids
    (na, oa), (nb, ob) = a.n_structure, b.n_structure
    return a.names[:na] == b.names[:nb] and a.ids[:oa] == b.ids[:ob]
