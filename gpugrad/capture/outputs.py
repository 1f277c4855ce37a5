"""What a captured step returns: how the recording's return value is rebuilt at each replay.

A Tensor the step computed (a slot) becomes a fresh Tensor over the replay's array, a leaf's
``.grad`` the replay's ``.grad`` tensor; a tensor that existed before the step (a parameter)
is returned itself, as the uncompiled step would.  An input returned as it is is the
caller's tensor itself (the step's static input Tensor stands for it), and a tensor over an
input's memory (a view: ``x[0]``, ``x.T``, ``x.detach()``) is the same view of the caller's
array -- never of the static input buffers, which the next call overwrites (on CUDA, where
a view cannot be rebased, a copy).  Numbers, strings and None are returned as recorded (a
NumPy scalar or float that a recorded call returned is the replay's).  Containers (tuple,
list, dict, and their subclasses: a namedtuple, an OrderedDict, a defaultdict) are walked
and rebuilt as their own type.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..capture_hooks import CaptureError
from ..tensor import Tensor
from .inputs import _extent

__all__ = ["output_spec", "spec_slots", "build_output", "recorded_output"]


def _is_value(a):
    """True for a computed value that is not an array: a NumPy scalar (what a full reduction
    of a 0-d gradient gives) or a Python float/complex.  Such a value that a recorded call
    returned is a slot like an array (never frozen as a constant); one no recorded call made
    is a constant.  Booleans and ints are left out: they are shared objects (np.True_, small
    ints), never gradients."""
    return (isinstance(a, (np.generic, float, complex))
            and not isinstance(a, (np.bool_, np.integer)))


def output_spec(rec, value, inputs=None):
    """How to rebuild ``value`` (the step's return value) from a replay of ``rec``'s tape.
    ``inputs``: ``(static buffers, the Tensors or arrays the step was handed)`` in input
    order, to tell outputs over the inputs' memory.

    >>> output_spec(None, (1, None))
    ('tuple', [('const', 1), ('const', None)])
    """
    if isinstance(value, Tensor):
        k = rec.grad_objs.get(id(value))
        if k is not None:                # a leaf's .grad: the replay's own .grad tensor
            return ("object", k)
        d = value.data
        k = rec.slot.get(id(d))
        i = _input_of(d, inputs)
        if k is not None:
            return ("slot", k) if i is None else ("inview", (k, i))
        if id(d) in rec.static:
            i = next((j for j, b in enumerate(inputs[0]) if b is d), None) if inputs else None
            return ("input", (i, d, i is not None and inputs[1][i] is value))
        if id(d) in rec.made:
            raise CaptureError(f"a compiled step returned a tensor of shape {d.shape} that "
                               f"no recorded gpugrad call made (made from NumPy values "
                               f"inside the step): a replay would return the recorded "
                               f"values; compute it with gpugrad ops")
        return ("live", value)
    if isinstance(value, (tuple, list, dict)):
        if isinstance(value, dict):
            inner = ("dict", {k: output_spec(rec, x, inputs) for k, x in value.items()})
        else:
            inner = ("tuple" if isinstance(value, tuple) else "list",
                     [output_spec(rec, x, inputs) for x in value])
        return inner if type(value) in (tuple, list, dict) else ("type", (_maker(value), inner))
    k = rec.slot.get(id(value)) if rec is not None and _is_value(value) else None
    if k is not None:                    # a NumPy scalar or float a recorded call returned
        return ("value", k)
    if isinstance(value, (np.floating, np.complexfloating)):
        raise CaptureError(f"a compiled step returned a NumPy {type(value).__name__} that no "
                           f"recorded gpugrad call made (NumPy arithmetic on an array inside "
                           f"the step): a replay would return the recorded value; compute it "
                           f"with gpugrad ops on tensors, or return a tensor")
    if isinstance(value, (bool, int, float, complex, str, type(None))):
        return ("const", value)
    raise CaptureError(f"a compiled step returned a {type(value).__name__}; expected "
                       f"Tensors, numbers, None, or tuples/lists/dicts of them")


def _maker(value):
    """How to make a container of ``value``'s type (a tuple, list or dict subclass) from the
    plain one a replay builds; CaptureError when that does not give ``value`` back from its
    own items."""
    cls = type(value)
    if isinstance(value, tuple) and hasattr(cls, "_fields"):
        def make(v):                               # a namedtuple
            return cls(*v)
    elif isinstance(value, defaultdict):
        factory = value.default_factory

        def make(v):
            return cls(factory, v)
    else:
        make = cls
    try:
        again = make(_plain(value))
        same = type(again) is cls and len(again) == len(value) and _same_items(again, value)
    except Exception:                              # noqa: BLE001 -- any failure: refused
        same = False
    if not same:
        raise CaptureError(f"a compiled step returned a {cls.__name__}, which cannot be made "
                           f"again from its items ({cls.__name__}(items) gives another value "
                           f"or fails): return a tuple, list, dict, namedtuple or OrderedDict")
    return make


def _input_of(d, inputs):
    """The index of the first static input buffer that holds all of array ``d``'s memory,
    or None (no ``inputs``, or ``d`` is not over an input)."""
    if inputs is None or not hasattr(d, "shape") or not d.size:
        return None
    for i, buf in enumerate(inputs[0]):
        if type(buf) is type(d) and _within(d, buf):
            return i
    return None


def _within(d, buf):
    """True when every byte of array ``d`` lies in array ``buf``'s span."""
    e, b = _extent(d), _extent(buf)
    return e is not None and b is not None and b[0] <= e[0] and e[1] <= b[1]


class _At:
    """An ``__array_interface__`` holder keeping the caller's array alive (as NumPy's
    ``as_strided`` does)."""

    def __init__(self, interface, base):
        self.__array_interface__ = interface
        self.base = base


def _rebased(d, buf, a):
    """Array ``d`` (over static buffer ``buf``) as the same view of the caller's array ``a``
    (laid out as ``buf``: same shape, dtype and strides); a copy where that cannot be
    (CuPy); ``d`` itself when it is not over ``buf``."""
    if a is buf or not _within(d, buf):
        return d
    if type(d) is not np.ndarray or type(a) is not np.ndarray:
        return d.copy()
    face = dict(d.__array_interface__)
    off = face["data"][0] - buf.__array_interface__["data"][0]
    face["data"] = (a.__array_interface__["data"][0] + off, not a.flags.writeable)
    face["strides"] = d.strides
    return np.asarray(_At(face, a)).view(d.dtype)


def spec_slots(spec):
    """The slots an output spec reads (kept alive to the end of a replay).

    >>> spec_slots(("tuple", [("slot", 3), ("const", 1)]))
    [3]
    """
    kind, v = spec
    if kind in ("slot", "object", "value"):
        return [v]
    if kind == "inview":
        return [v[0]]
    if kind == "type":
        return spec_slots(v[1])
    if kind == "dict":
        v = list(v.values())
    elif kind not in ("tuple", "list"):
        return []
    return [k for s in v for k in spec_slots(s)]


def _input(v, call):
    """An input returned by the step: the caller's tensor when the step returned the Tensor
    it was handed, else a Tensor over the caller's array (a copy without ``call``)."""
    i, d, handed = v
    if call is None or i is None:          # (no call, or an empty input: a copy)
        return Tensor._make(d.copy())
    objs, arrays, _ = call
    if handed and objs is not None and isinstance(objs[i], Tensor):
        return objs[i]
    return Tensor._make(arrays[i])


def build_output(spec, env, call=None):
    """The step's return value for one replay (fresh Tensors over the replay's arrays).
    ``call``: ``(the caller's input objects, their arrays, the static buffers)``, for
    outputs over an input's memory.

    >>> import numpy as np
    >>> build_output(("tuple", [("slot", 0), ("const", 2)]), [np.ones(1)])[0].tolist()
    [1.0]
    """
    kind, v = spec
    if kind == "slot":
        return Tensor._make(env[v])
    if kind in ("object", "value"):
        return env[v]
    if kind in ("const", "live"):
        return v
    if kind == "input":
        return _input(v, call)
    if kind == "inview":
        d = env[v[0]]
        if call is None:
            return Tensor._make(d.copy())
        return Tensor._make(_rebased(d, call[2][v[1]], call[1][v[1]]))
    if kind == "type":
        return v[0](build_output(v[1], env, call))
    if kind == "dict":
        return {k: build_output(s, env, call) for k, s in v.items()}
    items = [build_output(s, env, call) for s in v]
    return tuple(items) if kind == "tuple" else items


def recorded_output(spec, value, call):
    """The recording's own return value ``value``, with each output over an input's memory
    put on the caller's input as :func:`build_output` does (the rest as it is)."""
    kind, v = spec
    if kind == "input":
        return _input(v, call)
    if kind == "inview":
        return Tensor._make(_rebased(value.data, call[2][v[1]], call[1][v[1]]))
    if kind == "type":
        new = recorded_output(v[1], _plain(value), call)
        return value if _same_items(new, value) else v[0](new)
    if kind == "dict":
        new = {k: recorded_output(v[k], x, call) for k, x in value.items()}
    elif kind in ("tuple", "list"):
        new = [recorded_output(s, x, call) for s, x in zip(v, value)]
    else:
        return value
    return value if _same_items(new, value) else type(value)(new)


def _plain(value):
    """A tuple, list or dict of ``value``'s items."""
    if isinstance(value, dict):
        return dict(value)
    return tuple(value) if isinstance(value, tuple) else list(value)


def _same_items(new, value):
    """True when containers ``new`` and ``value`` hold the same objects (dicts: under the same
    keys, in the same order)."""
    if isinstance(value, dict):
        return list(new) == list(value) and all(new[k] is value[k] for k in value)
    return all(a is b for a, b in zip(new, value))
