"""NumPy's einsum spellings reduced to what :func:`gpugrad.ops.einsum` takes: named indices
only, none repeated within one operand, an explicit output.

* the interleaved form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` becomes ``'ab,bc->ac'``;
* ``...`` becomes fresh letters, right-aligned across operands (NumPy broadcasting);
* an index repeated within one operand (``'ii->i'``, ``'ii'``) takes that diagonal first
  (``diagonal`` is differentiable, so the gradient reaches the diagonal elements).

>>> import gpugrad.numpy as gnp
>>> normalize("...j,j", [gnp.ones((2, 3)), gnp.ones(3)])[0]
'Aj,j->A'
"""
from __future__ import annotations

import string

from .. import ops
from . import _core as C

_LETTERS = string.ascii_letters


def _interleaved(first, rest):
    args = [first] + list(rest)
    out = args.pop() if len(args) % 2 else None  # a trailing output list
    ops_, subs = args[0::2], args[1::2]

    def word(lst):
        return "".join("..." if v is Ellipsis else _LETTERS[int(v)] for v in lst)
    eq = ",".join(word(s) for s in subs)
    return (eq + "->" + word(out) if out is not None else eq), list(ops_)


def normalize(subscripts, operands):
    """``(explicit subscripts, tensors)`` for ``ops.einsum``."""
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved(subscripts, operands)
    ts = [C.tensor(o) for o in operands]
    eq = subscripts.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ts):
        raise ValueError(f"einsum: {len(ins)} operand subscripts for {len(ts)} operands")
    used = set(eq) - set(".,->")
    free = [c for c in _LETTERS[26:] + _LETTERS[:26] if c not in used]
    ell = [t.ndim - len(s.replace("...", "")) if "..." in s else 0 for s, t in zip(ins, ts)]
    k = max(ell, default=0)
    fresh = "".join(free[:k])
    ins = [s.replace("...", fresh[k - e:]) for s, e in zip(ins, ell)]
    if arrow:
        out = rhs.replace("...", fresh)
    else:
        counts = {c: sum(s.count(c) for s in ins) for c in set("".join(ins))}
        out = fresh + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in fresh))
    for i, (s, t) in enumerate(zip(ins, ts)):
        while len(set(s)) < len(s):  # a repeated index: take that diagonal (moved last)
            c = next(c for c in s if s.count(c) > 1)
            a1 = s.index(c)
            a2 = s.index(c, a1 + 1)
            if t.shape[a1] != t.shape[a2]:
                raise ValueError(f"einsum: dimensions in operand {i} for collapsing index "
                                 f"{c!r} don't match ({t.shape[a1]} != {t.shape[a2]})")
            t = ops.diagonal(t, 0, a1, a2)
            s = s[:a1] + s[a1 + 1:a2] + s[a2 + 1:] + c
        ins[i], ts[i] = s, t
    return ",".join(ins) + "->" + out, ts
