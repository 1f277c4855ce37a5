"""What a captured step closes over: the globals it reads by name and its closure cells.

Python runs once, at recording, so a value the step reads from a global or a closure cell is
the recorded one at every replay -- unless it is rebound.  :func:`scan` notes each such
binding (``name -> object``); :func:`unchanged` checks at each call that every name is still
bound to the same object (identity, so ``lr = lr / 2`` counts as a change), and the step
records again when one is not.  Only the step function's own code (and functions and
comprehensions defined in it) is looked at: a value reached through an attribute
(``self.scale``, ``cfg.lr``) or a helper function's globals is read once, at recording --
except a Tensor held by an attribute of a module in the step's module trees
(:func:`gpugrad.capture.guards.module_tree`: rebinding it records again).

:func:`scan` also lists the arrays of the tensors the step can reach this way (a module's
parameters and buffers, an optimizer's parameters, a tensor): tensors from before the call,
read by reference at each replay.

>>> import gpugrad as gg
>>> scale = 2.0
>>> def f(x): return x * scale
>>> checks, arrays = scan(f)
>>> unchanged(checks)
True
"""
from __future__ import annotations

import dis
import types

from ..tensor import Tensor

__all__ = ["scan", "unchanged", "bound_objects"]

_MISSING = object()


def _code_globals(code, out):
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(ins.argval, str):
            out.add(ins.argval)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            _code_globals(c, out)
    return out


def _function(fn):
    """(the Python function behind ``fn``, the objects bound to it: self, partial args)."""
    bound = []
    for _ in range(8):
        if isinstance(fn, types.MethodType):
            bound.append(fn.__self__)
            fn = fn.__func__
        elif hasattr(fn, "func") and hasattr(fn, "args"):          # functools.partial
            bound.extend(fn.args)
            bound.extend(fn.keywords.values())
            fn = fn.func
        elif isinstance(fn, types.FunctionType):
            return fn, bound
        else:
            bound.append(fn)                                          # a callable object
            call = getattr(type(fn), "__call__", None)
            if not isinstance(call, types.FunctionType):
                return None, bound
            fn = call
    return None, bound


def _arrays(v, out, depth=0):
    from ..nn.module import Module
    from ..optim.optimizer import Optimizer

    if isinstance(v, Tensor):
        out.append(v.data)
    elif isinstance(v, Module):
        out.extend(p.data for p in v.parameters())
        out.extend(b.data for b in getattr(v, "buffers", lambda: ())() if isinstance(b, Tensor))
    elif isinstance(v, Optimizer):
        out.extend(p.data for g in v.param_groups for p in g["params"])
    elif depth == 0 and isinstance(v, (list, tuple)):
        for x in v:
            _arrays(x, out, 1)
    elif depth == 0 and isinstance(v, dict):
        for x in v.values():
            _arrays(x, out, 1)
    return out


def scan(fn):
    """([(namespace or cell, name, object)], [arrays of tensors reachable]) for step ``fn``."""
    func, bound = _function(fn)
    checks, arrays = [], []
    for v in bound:
        _arrays(v, arrays)
    if func is None:
        return checks, arrays
    g = func.__globals__
    for name in sorted(_code_globals(func.__code__, set())):
        v = g.get(name, _MISSING)
        if v is not _MISSING and not isinstance(v, types.ModuleType):
            checks.append((g, name, v))
            _arrays(v, arrays)
    for cell in func.__closure__ or ():
        try:
            v = cell.cell_contents
        except ValueError:                     # not bound yet
            continue
        checks.append((cell, None, v))
        _arrays(v, arrays)
    for v in (func.__defaults__ or ()) + tuple((func.__kwdefaults__ or {}).values()):
        _arrays(v, arrays)
    return checks, arrays


def bound_objects(fn):
    """The objects bound to step ``fn``: a method's ``self``, a partial's arguments, a
    callable object itself.

    >>> import functools
    >>> bound_objects(functools.partial(lambda a, b: a + b, 3))
    [3]
    """
    return _function(fn)[1]


def unchanged(checks) -> bool:
    """True when every binding :func:`scan` noted still holds the same object."""
    for ns, name, v in checks:
        if name is None:
            try:
                if ns.cell_contents is not v:
                    return False
            except ValueError:
                return False
        elif ns.get(name, _MISSING) is not v:
            return False
    return True
