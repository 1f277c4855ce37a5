"""Which live graph nodes read a memory's current value, so that an in-place write can give
each of them a copy of the old value first (:func:`gpugrad.old_values.keep_old_value`).

``Function.apply`` adds a weak reference to each recorded node that saves an input other
than a parameter (a leaf that requires grad: written only under ``no_grad`` or by an
optimizer, after backward) to :data:`PENDING`, once per node, whatever it saved; a node that
saves nothing, or only parameters, or only its own new answer (found through its tensor),
is not added.  Dead and freed nodes are dropped from ``PENDING`` when it has grown past
twice what lived at the last drop (so they cost a constant share of the recording), and at
the next write; ``PENDING`` is empty when no graph was recorded since (it holds a marker
while :data:`INDEX` is not empty): a write outside any graph tests it and goes on.

A write that finds either non-empty calls :func:`take`, which first files the pending nodes
under the version counter (``Tensor._vc``, shared by a tensor and its views) of each value
they check (``node._vcs``), then hands back the live ones filed under the written counter.
Dead or freed nodes are dropped as they are met, and the whole index is swept when it has
grown past twice what lived at the last sweep or when as many writes as it has entries met
no reader, so an index left by a dead graph is emptied after a bounded number of writes.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> c = gg.tensor([3.0, 4.0])
>>> y = x * c                      # Multiply reads c for x's gradient
>>> [n.name for n in take(c._vc)]
['Multiply']
"""
from __future__ import annotations

import weakref

__all__ = ["PENDING", "INDEX", "take"]

PENDING = []     # weakref(node) of recorded nodes not filed yet
LIMIT = [1024]   # PENDING is pruned when it grows past this (Function.apply)
INDEX = {}       # id(counter) -> [weakref(node), ...]: nodes that checked that counter
_FIRST = 1024


class _Marker:
    _freed = True  # (no node: never filed)


_MARKER = _Marker()
_MARK = weakref.ref(_MARKER)  # in PENDING while INDEX is not empty
_state = {"size": 0, "limit": _FIRST, "misses": 0}  # refs filed; a sweep past; writes
#                                                      that found no reader since a sweep


def _file():
    """Move the pending nodes into :data:`INDEX` (``pop``: a node added meanwhile by another
    thread stays pending)."""
    pop, index, n_filed = PENDING.pop, INDEX, 0
    while True:
        try:
            r = pop()
        except IndexError:
            break
        n = r()
        if n is None or n._freed:
            continue
        for c, _ in n._vcs:
            e = index.get(id(c))
            if e is None:
                index[id(c)] = [r]
            elif e[-1] is not r:
                e.append(r)
            n_filed += 1
    if n_filed:
        _state["size"] += n_filed
        if _state["size"] > _state["limit"]:
            _sweep()
    if INDEX:
        PENDING.append(_MARK)


def _sweep():
    """Drop the dead and freed nodes from :data:`INDEX`, and the counters left with none."""
    live = 0
    for k, e in list(INDEX.items()):
        keep = [r for r in e if (n := r()) is not None and not n._freed]
        if keep:
            INDEX[k] = keep
            live += len(keep)
        else:
            INDEX.pop(k, None)
    _state.update(size=live, limit=max(_FIRST, 2 * live), misses=0)
    if not INDEX:
        _unmark()


def take(c):
    """The live nodes filed under version counter ``c`` (each once), which are unfiled: a
    write is about to give them a copy of the value they read (or leave them to raise)."""
    if PENDING:
        _file()
    e = INDEX.pop(id(c), None)
    if e is None:
        _state["misses"] += 1
        if _state["misses"] > len(INDEX):
            _sweep()
        return []
    if not INDEX:
        _unmark()
    out = {}
    for r in e:
        n = r()
        if n is not None and not n._freed:
            out[id(n)] = n
    return list(out.values())


def prune():
    """Drop the dead and freed nodes from :data:`PENDING` (``Function.apply``, past
    :data:`LIMIT`)."""
    PENDING[:] = [r for r in PENDING if r is _MARK or (n := r()) is not None and not n._freed]
    LIMIT[0] = max(_FIRST, 2 * len(PENDING))


def _unmark():
    try:
        PENDING.remove(_MARK)
    except ValueError:
        pass


add = PENDING.append  # Function.apply: add(ref(node))
ref = weakref.ref
