"""Cross-entropy in the CPU replay plan (:mod:`gpugrad.capture.cpu_plan`): the forward and
backward of ``ops.logits.CrossEntropy`` on NumPy logits, as the same NumPy calls the op makes
(so the same values, bit for bit), written into arrays made once per tape.

Planned: float32/float64 logits (N, C) with C > 0, integer targets (N,), reduction "mean" or
"sum", no label smoothing; anything else stays the op's own call.  The targets are checked at
each replay as ``cross_entropy`` checks them (an IndexError naming the first bad one), before
anything is computed.  A row whose maximum is infinite takes the op's own forward (its
``max_shifted`` limits), as the uncompiled call would.
"""
from __future__ import annotations

import numpy as np

from .. import device_checks
from ..ops.logits import CrossEntropy, _target_error

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
        self.kwargs = kwargs
        self.shape, self.dtype, self.tdtype = shape, dtype, tdtype
        self.state = [None] * 4          # probs, safe_t, valid, count: what backward reads

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
        return cls(node, fi, spec, o, bi, (gk, gslot, retain), kwargs, logits.shape,
                   logits.dtype, target.dtype)

    def slots(self):
        return (self.gslot,)

    def allocate(self, escaping):
        n, c = self.shape
        dt = self.dtype
        self.valid, self.notvalid = np.empty(n, bool), np.empty(n, bool)
        self.all_valid = np.ones(n, bool)
        self.safe_t = np.empty(n, self.tdtype)
        self.m, self.s, self.probs = np.empty((n, 1), dt), np.empty((n, c), dt), \
            np.empty((n, c), dt)
        self.total, self.lse, self.loss = np.empty(n, dt), np.empty(n, dt), np.empty(n, dt)
        self.w = np.empty(n, dt)
        self.rows = np.arange(n)
        self.grad = None if self.gslot < 0 or self.gslot in escaping else np.empty((n, c), dt)

    def forward_fn(self, cpu, ctx):
        """The forward step (``cpu``, ``ctx``: unused, as the linear layers' signature)."""
        (kl, vl), (kt, vt) = self.spec
        o, state, node, kwargs = self.o, self.state, self.node, self.kwargs
        n, c = self.shape
        ign, mean, dt = self.ignore_index, self.reduction == "mean", self.dtype
        valid, notvalid, safe_t, rows = self.valid, self.notvalid, self.safe_t, self.rows
        m, s, probs, total, lse, loss = self.m, self.s, self.probs, self.total, self.lse, \
            self.loss
        error = _target_error("cross_entropy", c, ign)
        keep = self.bi is not None
        maximum, add = np.maximum.reduce, np.add.reduce
        # targets all in [0, C) with ignore_index outside it: every row counts (read as
        # unsigned, a negative target is too large)
        unsigned = np.dtype(f"u{self.tdtype.itemsize}")
        can_skip, all_valid, n_rows = not 0 <= ign < c, self.all_valid, dt.type(max(n, 1))

        def run(env):
            logits = env[kl] if kl >= 0 else vl
            target = env[kt] if kt >= 0 else vt
            if can_skip and target.view(unsigned).max() < c:
                np.copyto(safe_t, target)
                ok, count = all_valid, n_rows
            else:
                if target.min() < 0 or target.max() >= c:  # as cross_entropy checks them
                    device_checks.check((target != ign) & ((target < 0) | (target >= c)),
                                        target, ("cross_entropy", c, ign), error)
                np.not_equal(target, ign, out=valid)
                np.multiply(target, valid, out=safe_t)      # np.where(valid, target, 0)
                ok, count = valid, None
            maximum(logits, axis=1, keepdims=True, out=m)    # logits.max(axis=(1,), ...)
            if not np.isfinite(m).all():                   # infinite maxima: the op itself
                r = node.forward(logits, target, **kwargs)
                env[o] = np.asarray(r)
                if keep:
                    _, p, t, v = node.saved
                    state[0], state[1], state[2], state[3] = p, t, v, node.count
                node._release()
                return
            np.subtract(logits, m, out=s)
            np.exp(s, out=probs)
            add(probs, axis=1, out=total)                     # probs.sum(axis=1)
            np.log(total, out=lse)
            np.subtract(s[rows, safe_t], lse, out=loss)    # log p[t]
            np.negative(loss, out=loss)
            if count is None:                               # np.where(valid, loss, 0)
                np.logical_not(valid, out=notvalid)
                np.copyto(loss, 0, where=notvalid)
                count = dt.type(max(int(np.count_nonzero(valid)), 1))
            np.divide(probs, total[:, None], out=probs)
            env[o] = np.asarray(loss.sum() / count if mean else loss.sum())
            if keep:
                state[0], state[1], state[2], state[3] = probs, safe_t, ok, count
        return run

    def backward_fn(self, cpu, ctx):
        """The backward step: the op's formula for plain (array) gradients."""
        gk, gslot, state, rows, retain = self.gk, self.gslot, self.state, self.rows, self.retain
        w_buf, grad_buf, mean, own_probs = self.w, self.grad, self.reduction == "mean", self.probs

        def run(env):
            probs, safe_t, valid, count = state
            g = env[gk]
            own = probs is not own_probs                  # from the op's own forward
            w = valid * (g / count if mean else g) if own else \
                np.multiply(valid, g / count if mean else g, out=w_buf)
            grad = np.multiply(probs, w[:, None],
                               out=None if own or grad_buf is None else grad_buf)
            grad[rows, safe_t] -= w                         # (w * (1 - 0.0): the same)
            if not retain:
                state[0] = state[1] = state[2] = state[3] = None
            env[gslot] = grad
        return run
