"""Cross-entropy in the CPU replay plan (:mod:`gpugrad.capture.cpu_plan`): the forward and
backward of ``ops.logits.CrossEntropy`` on NumPy logits, by the op's own array formulas
(:mod:`gpugrad.ops.cross_entropy_xp`, so the same values, bit for bit), written into its
:class:`~gpugrad.ops.cross_entropy_xp.Buffers`, made once per tape.

Planned: float32/float64 logits (N, C) with C > 0, integer targets (N,), reduction "mean" or
"sum", no label smoothing; anything else stays the op's own call.  The targets are checked at
each replay as ``cross_entropy`` checks them (an IndexError naming the first bad one), before
the loss is computed.  A row whose maximum is infinite takes ``max_shifted``'s limits, as
the uncompiled call does; a batch whose targets are all ``ignore_index`` gets its NaN mean
(0/0, as PyTorch's) and zero gradient.  The buffers take the memory layout of the
recording's logits (which a tape's signature fixes): Fortran-ordered logits sum their rows
in the uncompiled call's order.
"""
from __future__ import annotations

import numpy as np

from ..ops import cross_entropy_xp as _ce
from ..ops.logits import CrossEntropy, _check_target_values

__all__ = ["CrossEntropyStep"]


class CrossEntropyStep:
    """One ``CrossEntropy`` node of the tape: forward entry ``fi``, backward ``bi`` (or None).

    >>> CrossEntropyStep.make(type("R", (), {"meta": [("add",)]})(), 0, None) is None
    True
    """
    blas = "quiet"            # no BLAS, no thread pool: it may sit in a sequential_blas block
    big_epilogue = False

    def __init__(self, node, fi, spec, o, bi, back, kwargs, shape, dtype, tdtype):
        self.node, self.fi, self.spec, self.o, self.bi = node, fi, spec, o, bi
        self.gk, self.gslot, self.retain = back
        self.reduction = kwargs.get("reduction", "mean")
        self.ignore_index = kwargs.get("ignore_index", -100)
        self.eps = kwargs.get("label_smoothing", 0.0)
        self.shape, self.dtype, self.tdtype = shape, dtype, tdtype
        self.state = [None] * 4          # probs, safe_t, valid, count: what backward reads
        self.like = None                 # the recording's logits, until allocate

    @classmethod
    def make(cls, rec, fi, bi):
        """The planned step of forward entry ``fi`` (backward ``bi``), or None."""
        m = rec.meta[fi]
        if m[0] != "forward" or type(m[1]) is not CrossEntropy:
            return None
        _, node, spec, o, kwargs = m
        if len(spec) != 2 or set(kwargs) - {"reduction", "label_smoothing", "ignore_index"}:
            return None
        logits, target = (rec.arrays.get(k) if k >= 0 else v for k, v in spec)
        if type(logits) is not np.ndarray or type(target) is not np.ndarray:
            return None
        if (logits.dtype not in (np.float32, np.float64) or logits.ndim != 2
                or 0 in logits.shape or target.dtype.kind not in "iu"
                or target.shape != (logits.shape[0],)
                or kwargs.get("reduction", "mean") not in ("mean", "sum")
                or kwargs.get("label_smoothing", 0.0) != 0):
            return None
        gk, gslot, retain = -1, -1, False
        if bi is not None:
            _, _, gk, _, outs, retain = rec.meta[bi]
            g = rec.arrays.get(gk)
            grad = rec.arrays.get(outs[0]) if outs and outs[0] >= 0 else None
            if (type(g) is not np.ndarray or g.shape != () or g.dtype != logits.dtype
                    or len(outs) != 2 or outs[1] >= 0 or type(grad) is not np.ndarray):
                return None
            gslot = outs[0]
        step = cls(node, fi, spec, o, bi, (gk, gslot, retain), kwargs, logits.shape,
                   logits.dtype, target.dtype)
        step.like = logits        # the buffers take its layout (dropped once they are made)
        return step

    def slots(self):
        return (self.gslot,)

    def allocate(self, escaping):
        n, c = self.shape
        self.buffers = _ce.Buffers(n, c, self.dtype, self.tdtype,
                                   grad=not (self.gslot < 0 or self.gslot in escaping),
                                   like=self.like)
        self.like = None
        self.all_valid = np.ones(n, bool)

    def forward_fn(self, cpu, ctx):
        """The forward step (``cpu``, ``ctx``: unused, as the linear layers' signature)."""
        (kl, vl), (kt, vt) = self.spec
        o, state, out = self.o, self.state, self.buffers
        c = self.shape[1]
        ign, reduction, eps = self.ignore_index, self.reduction, self.eps
        keep = self.bi is not None
        # targets all in [0, C) with ignore_index outside it: every row counts (read as
        # unsigned, a negative target is too large; the same test finds a bad target)
        unsigned = np.dtype(f"u{self.tdtype.itemsize}")
        can_skip, all_valid, safe_t = not 0 <= ign < c, self.all_valid, out.safe_t
        targets, forward, largest = _ce.targets, _ce.forward, np.maximum.reduce

        def run(env):
            logits = env[kl] if kl >= 0 else vl
            target = env[kt] if kt >= 0 else vt
            if can_skip and largest(target.view(unsigned)) < c:
                np.copyto(safe_t, target)
                valid, kept = None, all_valid
            else:
                _, valid, _ = targets(logits, target, ign, out)   # safe_t: 0 where ignored
                if largest(safe_t.view(unsigned)) >= c:  # a bad target: as cross_entropy checks
                    _check_target_values("cross_entropy", target, c, ign)
                kept = valid
            ans, probs, count, _ = forward(logits, safe_t, valid, None, reduction, eps, out)
            env[o] = np.asarray(ans)
            if keep:
                state[0], state[1], state[2], state[3] = probs, safe_t, kept, count
        return run

    def backward_fn(self, cpu, ctx):
        """The backward step: the op's array formula, into the buffers."""
        gk, gslot, state, retain = self.gk, self.gslot, self.state, self.retain
        out, reduction, eps, backward = self.buffers, self.reduction, self.eps, _ce.backward

        def run(env):
            probs, safe_t, valid, count = state
            grad = backward(env[gk], probs, safe_t, valid, count, None, reduction, eps, out)
            if not retain:
                state[0] = state[1] = state[2] = state[3] = None
            env[gslot] = grad
        return run
