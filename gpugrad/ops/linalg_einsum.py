"""``einsum``: Einstein summation with NumPy's broadcasting of size-1 dimensions, and its
gradient (each operand's: ``g`` contracted with the others' conjugates).  Re-exported by
linalg.py, its old home (``gpugrad.ops.linalg.Einsum`` still resolves).

>>> import gpugrad as gg
>>> a = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> einsum("ij,j->i", a, gg.tensor([1.0, 1.0])).sum().backward(); a.grad.tolist()
[[1.0, 1.0], [1.0, 1.0]]
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ..wide_sum import sum_wide
from ._util import xp_of
from .shape import _coerce
from ..autocast_state import _state as _amp, lower as _amp_lower, cuda_bf16 as _amp_cuda_bf16
from ._blas import _einsum_blas
from .linalg import _cast, _conj

__all__ = ["einsum"]


def _einsum_opts(xp, n):
    # NumPy only: let it route contractions through BLAS (CuPy already does)
    return {"optimize": True} if xp is np and n > 1 else {}


class Einsum(Function):
    twice_differentiable = True
    complex_grad = True  # each operand's gradient contracts g with the others' conjugates

    def saved_inputs(self, needs):  # operand i is read for every other operand's gradient
        return tuple(i for i in range(len(needs))
                     if any(n for j, n in enumerate(needs) if j != i))

    def forward(self, *ops, subs, out):
        self.subs, self.out = subs, out
        self.shapes = [o.shape for o in ops]
        self.dtypes = [o.dtype for o in ops]
        needs = self.needs
        if needs:
            self.saved = tuple(o if any(n for j, n in enumerate(needs) if j != i) else None
                               for i, o in enumerate(ops))
        xp = xp_of(ops[0])
        return _einsum_blas(xp, *ops).einsum(",".join(subs) + "->" + out, *ops,
                                        **_einsum_opts(xp, len(ops)))

    def backward(self, g):
        xp = xp_of(g)
        ops = [_conj(o) for o in self.saved]
        grads = []
        for i, (sub, shape) in enumerate(zip(self.subs, self.shapes)):
            if not self.needs[i]:
                grads.append(None)
                continue
            others = [(s, o) for j, (s, o) in enumerate(zip(self.subs, ops)) if j != i]
            avail = set(self.out).union(*(s for s, _ in others))
            keep = "".join(c for c in sub if c in avail)
            spec = ",".join([self.out] + [s for s, _ in others]) + "->" + keep
            rest = [o for _, o in others]
            r = xp.asarray(_einsum_blas(xp, g, *rest).einsum(spec, g, *rest,
                                                      **_einsum_opts(xp, len(others) + 1)))
            # indices only in this operand were summed away: broadcast them back;
            # size-1 dims that the forward broadcast: sum them back
            r = r.reshape(tuple(r.shape[keep.index(c)] if c in avail else 1 for c in sub))
            axes = tuple(k for k, n in enumerate(shape) if n == 1 and r.shape[k] != 1)
            if axes:
                r = sum_wide(r, axis=axes, keepdims=True)
            if r.shape != shape:
                r = xp.broadcast_to(r, shape)
            grads.append(_cast(r, self.dtypes[i]))
        return tuple(grads)


def _parse_einsum(subscripts, shapes):
    s = subscripts.replace(" ", "")
    if "." in s:
        raise NotImplementedError("einsum: '...' (ellipsis) subscripts are not supported; "
                                  "name every index")
    if s.count("->") > 1:
        raise ValueError(f"einsum: expected at most one '->' in {subscripts!r}")
    ins, out = s.split("->") if "->" in s else (s, None)
    subs = ins.split(",")
    if len(subs) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(subs)} operand(s), got "
                         f"{len(shapes)}")
    sizes = {}
    for i, (sub, shape) in enumerate(zip(subs, shapes)):
        if not all(c.isascii() and c.isalpha() for c in sub):
            raise ValueError(f"einsum: subscripts must be letters, got {sub!r} in {subscripts!r}")
        if len(sub) != len(shape):
            raise ValueError(f"einsum: operand {i} has shape {shape} ({len(shape)} dimensions) "
                             f"but subscripts {sub!r} name {len(sub)}")
        for c, n in zip(sub, shape):
            if len(set(sub)) != len(sub) and sub.count(c) > 1:
                raise NotImplementedError(
                    f"einsum: repeated index {c!r} within one operand ({sub!r}) is not "
                    f"supported (diagonals/traces); use gpugrad.diag or gpugrad.trace")
            prev = sizes.get(c)
            if prev is not None and n != prev[0] and 1 not in (n, prev[0]):
                raise ValueError(f"einsum: index {c!r} has size {prev[0]} in operand {prev[1]} "
                                 f"but size {n} in operand {i}")
            if prev is None or prev[0] == 1:
                sizes[c] = (n, i)
    letters = "".join(subs)
    if out is None:  # NumPy's implicit mode: indices seen once, in sorted order
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for c in out:
        if not (c.isascii() and c.isalpha()) or c not in sizes:
            raise ValueError(f"einsum: output index {c!r} does not appear in the inputs of "
                             f"{subscripts!r}")
        if out.count(c) > 1:
            raise ValueError(f"einsum: output index {c!r} appears more than once in {out!r}")
    return tuple(subs), out


def einsum(subscripts, *operands):
    """Einstein summation (explicit ``'ij,jk->ik'`` or implicit ``'ij,jk'`` mode), with NumPy's
    broadcasting of size-1 dimensions.  Repeated indices within one operand and ``...`` are not
    supported.

    >>> import gpugrad as gg
    >>> einsum("bij,bjk->bik", gg.ones((2, 3, 4)), gg.ones((2, 4, 5))).shape
    (2, 3, 5)
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: expected a subscripts string like 'ij,jk->ik' first, got "
                        f"{type(subscripts).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)) and operands[0] and all(
            isinstance(o, Tensor) for o in operands[0]):
        operands = tuple(operands[0])  # torch-style einsum(eq, [a, b])
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    like = next((o for o in operands if isinstance(o, Tensor)), None)
    ts = [_coerce(o, like) for o in operands]
    if _amp.dtype is not None:
        ts = list(_amp_lower(*ts))
        if _amp_cuda_bf16(*ts):  # autocast bfloat16 on CUDA: bfloat16-rounded operands
            from . import bf16_cuda
            ts = list(bf16_cuda.round_operands(*ts))
    subs, out = _parse_einsum(subscripts, [t.shape for t in ts])
    return Einsum.apply(*ts, subs=subs, out=out)

