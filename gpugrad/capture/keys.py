"""Index keys in a captured step: the arrays inside a key (``x[mask] *= 2``,
``x[rows, t.argmax(1)] = 0``) are read from the replay, not frozen at recording.

A key reaches an op as a keyword argument, a tuple of index components.  Each array in it
is resolved as an op's operand is (:meth:`Recorder._ref`): an array a recorded call made --
the mask ``h > 0``, an ``argmax``, a creation function's constant, the integer arrays that a
boolean mask mixed with integer arrays is expanded into (recorded by :mod:`gpugrad.ops.index`
as a call of their own) -- is read from the replay's slot; a static input buffer or a tensor
from before the call by reference; any other array (NumPy code on ``.data``) is refused.

A boolean mask makes the shapes that follow depend on the values: such a tape is replayed
call by call on CUDA too (CUDA graphs fix every shape at capture): :func:`dynamic`.

>>> import numpy as np
>>> dynamic((np.zeros(3, bool),)), dynamic((slice(None), 1))
(True, False)
"""
from __future__ import annotations

import numpy as np

from ..node_record import is_array as _is_array

__all__ = ["key_ref", "dynamic"]


def dynamic(v) -> bool:
    """True when key ``v`` (or a tuple/list holding it) has a boolean array of 1 or more
    dimensions: the result's shape depends on its values."""
    if isinstance(v, (tuple, list)):
        return any(dynamic(x) for x in v)
    return _is_array(v) and v.dtype == np.bool_ and v.ndim > 0


def key_ref(rec, v, where):
    """``rec._ref`` for keyword argument ``v`` of an op, looking into tuples and lists (an
    index key).  Returns (slot, None), (-1, value), or (-2, (build, slots)) where
    ``build(env)`` makes the key of one replay."""
    if not isinstance(v, (tuple, list)):
        return rec._ref(v, f"{where} (an index array in its key)" if _is_array(v) else where)
    parts = [key_ref(rec, x, where) for x in v]
    if all(k == -1 for k, _ in parts):
        return -1, v
    make = type(v)
    slots = [s for k, x in parts for s in ([k] if k >= 0 else x[1] if k == -2 else [])]

    def build(env):
        return make([env[k] if k >= 0 else x[0](env) if k == -2 else x for k, x in parts])
    return -2, (build, slots)


def key_value(env, k, v):
    """The replay's value of a keyword argument resolved by :func:`key_ref`."""
    if k >= 0:
        return env[k]
    if k == -2:
        return v[0](env)
    return v
