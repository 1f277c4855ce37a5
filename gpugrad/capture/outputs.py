"""What a captured step returns: how the recording's return value is rebuilt at each replay.

A Tensor the step computed (a slot) becomes a fresh Tensor over the replay's array, a leaf's
``.grad`` the replay's ``.grad`` tensor; a tensor
that existed before the step (a parameter) is returned itself, as the uncompiled step would;
a copy of an input is made for an input returned as it is; numbers, strings and None are
returned as recorded (a NumPy scalar or float that a recorded call returned is the
replay's).  Containers (tuple, list, dict) are walked.
"""
from __future__ import annotations

import numpy as np

from ..capture_hooks import CaptureError
from ..tensor import Tensor

__all__ = ["output_spec", "spec_slots", "build_output"]


def _is_value(a):
    """True for a computed value that is not an array: a NumPy scalar (what a full reduction
    of a 0-d gradient gives) or a Python float/complex.  Such a value that a recorded call
    returned is a slot like an array (never frozen as a constant); one no recorded call made
    is a constant.  Booleans and ints are left out: they are shared objects (np.True_, small
    ints), never gradients."""
    return (isinstance(a, (np.generic, float, complex))
            and not isinstance(a, (np.bool_, np.integer)))


def output_spec(rec, value):
    """How to rebuild ``value`` (the step's return value) from a replay of ``rec``'s tape.

    >>> output_spec(None, (1, None))
    ('tuple', [('const', 1), ('const', None)])
    """
    if isinstance(value, Tensor):
        k = rec.grad_objs.get(id(value))
        if k is not None:                # a leaf's .grad: the replay's own .grad tensor
            return ("object", k)
        d = value.data
        k = rec.slot.get(id(d))
        if k is not None:
            return ("slot", k)
        if id(d) in rec.static:
            return ("copy", d)
        if id(d) in rec.made:
            raise CaptureError(f"a compiled step returned a tensor of shape {d.shape} that "
                               f"no recorded gpugrad call made (made from NumPy values "
                               f"inside the step): a replay would return the recorded "
                               f"values; compute it with gpugrad ops")
        return ("live", value)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [output_spec(rec, v) for v in value])
    if isinstance(value, dict):
        return ("dict", {k: output_spec(rec, v) for k, v in value.items()})
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


def spec_slots(spec):
    """The slots an output spec reads (kept alive to the end of a replay).

    >>> spec_slots(("tuple", [("slot", 3), ("const", 1)]))
    [3]
    """
    kind, v = spec
    if kind in ("slot", "object", "value"):
        return [v]
    if kind == "dict":
        v = list(v.values())
    elif kind not in ("tuple", "list"):
        return []
    return [k for s in v for k in spec_slots(s)]


def build_output(spec, env):
    """The step's return value for one replay (fresh Tensors over the replay's arrays).

    >>> import numpy as np
    >>> build_output(("tuple", [("slot", 0), ("const", 2)]), [np.ones(1)])[0].tolist()
    [1.0]
    """
    kind, v = spec
    if kind == "slot":
        return Tensor._make(env[v])
    if kind in ("object", "value"):
        return env[v]
    if kind == "const":
        return v
    if kind == "live":
        return v
    if kind == "copy":
        return Tensor._make(v.copy())
    if kind == "dict":
        return {k: build_output(s, env) for k, s in v.items()}
    items = [build_output(s, env) for s in v]
    return tuple(items) if kind == "tuple" else items
