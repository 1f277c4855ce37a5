"""Containers: ``Sequential`` (modules applied in order) and ``ModuleList`` (a list of
modules that registers them).

>>> import gpugrad as gg
>>> net = Sequential(gg.nn.Linear(4, 8), gg.nn.ReLU(), gg.nn.Linear(8, 2))
>>> net(gg.ones(3, 4)).shape
(3, 2)
"""
from __future__ import annotations

from collections import OrderedDict

from .. import capture_hooks
from .module import Module

__all__ = ["Sequential", "ModuleList"]


class Sequential(Module):
    """Apply modules in order: ``Sequential(a, b)(x) == b(a(x))``; also takes an OrderedDict
    of named modules.  Indexing gives a module (or a Sequential for a slice).

    >>> import gpugrad as gg
    >>> net = Sequential(OrderedDict(fc=gg.nn.Linear(2, 2), act=gg.nn.Tanh()))
    >>> type(net.act).__name__, type(net[0]).__name__, len(net)
    ('Tanh', 'Linear', 2)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, _module_arg(m, name))
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), _module_arg(m, i))

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(mods[idx]))
        return mods[_index(idx, len(mods))][1]

    def append(self, module):
        """Add a module at the end; returns self."""
        self.add_module(str(len(self._modules)), _module_arg(module, len(self._modules)))
        return self


class ModuleList(Module):
    """A list of modules, registered so their parameters are found (it has no forward).

    >>> import gpugrad as gg
    >>> blocks = ModuleList([gg.nn.Linear(2, 2) for _ in range(3)])
    >>> len(blocks), len(list(blocks.parameters()))
    (3, 6)
    """

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        """Add a module at the end; returns self."""
        self.add_module(str(len(self._modules)), _module_arg(module, len(self._modules)))
        return self

    def extend(self, modules):
        """Add several modules at the end; returns self."""
        for m in modules:
            self.append(m)
        return self

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            return ModuleList(mods[idx])
        return mods[_index(idx, len(mods))]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(idx, len(self._modules))]
        module = _module_arg(module, idx)
        with capture_hooks.structure_change(self):  # compiled steps look at their trees again
            self._modules[key] = module

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over its modules")


def _module_arg(m, where):
    if not isinstance(m, Module):
        raise TypeError(f"expected a Module at position {where!r}, got {type(m).__name__}")
    return m


def _index(idx, n):
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise TypeError(f"expected an int index or a slice, got {type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {n} modules")
    return idx % n
