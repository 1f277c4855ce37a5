"""``Optimizer.state``: per-parameter state keyed by the parameter object itself.

A plain 0-d tensor that does not require grad hashes (and compares) by value, as NumPy's
scalars do (see :class:`gpugrad.Tensor`), so a ``dict`` would merge two such parameters of
equal value and lose a parameter's entry once a step changes its value.  This mapping keys
by identity whatever a tensor's hash, with a dict's interface (``state[p]``, ``get``, ``in``,
``items``, ...).

>>> import gpugrad as gg
>>> a, b = gg.tensor(0.0), gg.tensor(0.0)
>>> s = ParamState(); s[a] = {"step": 1}; s[b] = {"step": 2}
>>> len(s), s[a]["step"], b in s, gg.tensor(0.0) in s
(2, 1, True, False)
"""
from __future__ import annotations

from collections.abc import MutableMapping

__all__ = ["ParamState"]


class ParamState(MutableMapping):
    """A dict from parameters (by identity) to their state dicts; iteration follows
    insertion order.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.zeros(2)); s = ParamState({p: {}}); list(s) == [p]
    True
    """

    __slots__ = ("_items",)

    def __init__(self, items=()):
        self._items = {}                  # id(key) -> (key, value); the key keeps the id valid
        self.update(items)

    def __getitem__(self, key):
        try:
            return self._items[id(key)][1]
        except KeyError:
            raise KeyError(key) from None

    def __setitem__(self, key, value):
        self._items[id(key)] = (key, value)

    def __delitem__(self, key):
        try:
            del self._items[id(key)]
        except KeyError:
            raise KeyError(key) from None

    def __contains__(self, key):
        return id(key) in self._items

    def __iter__(self):
        return (k for k, _ in list(self._items.values()))

    def __len__(self):
        return len(self._items)

    def __repr__(self):
        return "ParamState({" + ", ".join(f"{k!r}: {v!r}" for k, v in self.items()) + "})"
