"""The CPU replay of a captured step as a flat list of prebound calls on preallocated buffers.

At recording, :func:`build` turns a tape's entries into ``steps`` [(fn(env), slots to let go
of)].  A fused linear layer (``ops.nn.Linear`` on NumPy float32/float64, 2-D input) calls the
CPU kernels itself, every per-call decision taken once: the kernel module, the activation,
which gradients, whether its GEMMs run with BLAS on one thread; so does a softmax
cross-entropy (:mod:`gpugrad.capture.cpu_cross_entropy`).  Every other entry is the tape's
own call.  Each call computes what the uncompiled call computes, in the same order, so
a replay equals the uncompiled step bit for bit.

Buffers: a layer's output ``y``, its pre-activation ``z`` and dZ scratch, its gradients
``dx`` and ``db``, ``dW`` where no optimizer buffer takes it, the cross-entropy's
probabilities and logits gradient (and their scratch), are allocated once per tape
and written again at each replay (they stay allocated between calls, as a CUDA graph's do).
A slot that could outlive the replay gets a new array at each replay, as in the uncompiled
step: one the step returns, one a host call reads (other than handing a gradient to a leaf,
which copies it), one that another call's result may be a view of (a reshape of ``y``, an
in-place gradient sum into ``dx``).

BLAS threads: a run of steps whose only BLAS calls are small GEMMs (which the eager kernels
run on one thread) and which use no other thread pool runs inside one
:class:`~gpugrad.threads.sequential_blas` block instead of one block per GEMM; the thread
count the epilogues split their work by is asked once at the start of the run, as each eager
call asks (so the db sums, added per chunk, match).

>>> import gpugrad as gg
>>> m = gg.nn.MLP([4, 8, 2]); opt = gg.optim.SGD(m.parameters(), lr=0.1)
>>> def step(x):
...     loss = m(x).sum(); loss.backward(); opt.step(); opt.zero_grad()
...     return loss
>>> f = gg.compile(step)
>>> a = f(gg.ones(3, 4)).item(); b = f(gg.ones(3, 4)).item(); a != b
True
"""
from __future__ import annotations

import numpy as np

from .. import backward_pass
from ..ops.logits import CrossEntropy
from ..ops.nn import Linear
from .cpu_cross_entropy import CrossEntropyStep

__all__ = ["build"]

# entries that call neither BLAS nor a thread pool: a sequential_blas block may span them
_QUIET = frozenset({"leaf", "add", "cast", "constant", "check"})
_QUIET_NODES = (CrossEntropy,)          # NumPy elementwise work and reductions only
_READERS = frozenset({"forward", "backward", "add", "cast", "leaf"})  # keep no slot past a replay


def build(rec, entries, out_slots):
    """The prebound steps of recorder ``rec``'s tape ``entries`` [(kind, fn, free)];
    ``out_slots``: the slots the step returns.

    >>> class Rec: meta, reads, arrays, writer = [None], [[]], {}, {}
    >>> fn = lambda env: None
    >>> build(Rec(), [("host", fn, ())], set()) == [(fn, ())]
    True
    """
    metas = rec.meta
    layers = _layers(rec) if any(m is not None and m[0] == "forward" and type(m[1]) in _PLANNED
                                 for m in metas) else []
    if not layers:
        return [(fn, free) for _, fn, free in entries]
    from ..kernels import cpu
    special = {}                                  # entry index -> (layer, "forward"/"backward")
    for lay in layers:
        special[lay.fi] = (lay, "forward")
        if lay.bi is not None:
            special[lay.bi] = (lay, "backward")
    escaping = _escaping(rec, special, layers, out_slots)
    for lay in layers:
        lay.allocate(escaping)
    # which entries may share a sequential_blas block: small-GEMM layers and quiet entries
    quiet = []
    for i, m in enumerate(metas):
        if i in special:
            quiet.append(special[i][0].blas)
        elif m is not None and (m[0] in _QUIET or m[0] in ("forward", "backward")
                                and isinstance(m[1], _QUIET_NODES)):
            quiet.append("quiet")
        else:
            quiet.append(None)
    steps, i = [], 0
    while i < len(entries):
        j = i
        while j < len(entries) and quiet[j] is not None:
            j += 1
        if j > i and "small" in quiet[i:j]:
            ctx = [None]                   # the block's thread count, asked once per replay
            steps.append(_region(cpu, [_step(cpu, special, entries, k, ctx)
                                       for k in range(i, j)],
                                 [special[k][0] for k in range(i, j) if k in special], ctx))
            i = j
        else:
            steps.append(_step(cpu, special, entries, i, None))
            i += 1
    return steps


def _step(cpu, special, entries, i, ctx):
    """Entry ``i`` as a step; ``ctx``: the sequential block's [thread count], or None."""
    _, fn, free = entries[i]
    if i not in special:
        return fn, free
    lay, which = special[i]
    return (lay.forward_fn(cpu, ctx) if which == "forward" else lay.backward_fn(cpu, ctx)), free


def _region(cpu, steps, layers, ctx):
    """One step running ``steps`` inside one sequential_blas block."""
    from ..kernels.threads import sequential_blas
    ask = any(lay.big_epilogue for lay in layers)
    parallel_threads = cpu.parallel_threads

    def run(env):
        if ask:
            ctx[0] = parallel_threads()     # asked outside the block, as eager calls ask
        with sequential_blas():
            for fn, free in steps:
                fn(env)
                for k in free:
                    env[k] = None
    return run, ()


def _layers(rec):
    """The nodes the plan runs itself: [_Layer or CrossEntropyStep]."""
    fwd, bwd, renewed = {}, {}, set()
    for i, m in enumerate(rec.meta):
        if m is None:
            continue
        if m[0] == "forward" and type(m[1]) in _PLANNED:
            fwd[id(m[1])] = i
        elif m[0] == "backward" and type(m[1]) in _PLANNED:
            bwd.setdefault(id(m[1]), []).append(i)
        elif m[0] == "old_value":                # a node given a copy of an overwritten input
            renewed.update(id(n) for n in m[1])  # reads it from its own state: left as it is
    out = []
    for key, fi in fwd.items():
        b = bwd.get(key, [])
        if key in renewed or len(b) > 1:
            continue
        lay = _PLANNED[type(rec.meta[fi][1])].make(rec, fi, b[0] if b else None)
        if lay is not None:
            out.append(lay)
    return out


def _root(a):
    while isinstance(a, np.ndarray) and isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _escaping(rec, special, layers, out_slots):
    """The layers' slots that must be new arrays at each replay (see the module docstring)."""
    cand = {k for lay in layers for k in lay.slots() if k >= 0}
    esc = cand & set(out_slots)
    for i, reads in enumerate(rec.reads):
        if i in special:
            continue
        m = rec.meta[i]
        if m is None or m[0] not in _READERS:
            esc.update(k for k in reads if k in cand)
    roots = {}
    for k in cand:
        roots.setdefault(id(_root(rec.arrays[k])), []).append(k)
    for k, a in rec.arrays.items():              # another call's result in a layer's memory
        if rec.writer.get(k) in special or not isinstance(a, np.ndarray):
            continue
        for c in roots.get(id(_root(a)), ()):
            if c != k:
                esc.add(c)
    return esc


class _Layer:
    """One fused linear layer of the tape: its forward entry ``fi`` and backward ``bi``."""

    def __init__(self, node, fi, spec, o, bi, back, shapes, dtype):
        self.node, self.fi, self.spec, self.o, self.bi = node, fi, spec, o, bi
        self.gk, self.outs, self.retain = back if back is not None else (-1, (-1, -1, -1), False)
        self.shapes, self.dtype = shapes, dtype          # x, W, y shapes
        n, k = shapes[0]
        m = shapes[1][1]
        from ..kernels.cpu import _CHUNK, is_small_gemm
        # its three GEMMs have one size: small ones may share a sequential_blas block
        self.blas = "small" if is_small_gemm(n, k, m) else None
        self.big_epilogue = n * m >= 2 * _CHUNK          # split by the thread count
        self.state = [None] * 5                          # x, W, b, y, z: its saved arrays

    @classmethod
    def make(cls, rec, fi, bi):
        """The layer of forward entry ``fi`` (backward ``bi`` or None), or None when the plan
        leaves it to the tape (not NumPy float32/float64 2-D arrays of one dtype, ...)."""
        _, node, spec, o, _ = rec.meta[fi]
        if len(spec) != 3 or len(getattr(node, "lead", ())) != 1:
            return None
        x, W, b = (rec.arrays.get(k) if k >= 0 else v for k, v in spec)
        y = rec.arrays.get(o)
        if not all(type(a) is np.ndarray for a in (x, W, y)):
            return None
        from ..kernels.cpu import CODE, FAST_DTYPES
        dt = x.dtype
        if (dt not in FAST_DTYPES or W.dtype != dt or y.dtype != dt or x.ndim != 2
                or W.ndim != 2 or y.shape != (x.shape[0], W.shape[1])
                or getattr(node, "act", None) not in CODE or node.has_b != (b is not None)):
            return None
        if b is not None and (type(b) is not np.ndarray or b.dtype != dt
                              or b.shape != (W.shape[1],)):
            return None
        back = None
        if bi is not None:
            _, _, gk, _, outs, retain = rec.meta[bi]
            g = rec.arrays.get(gk) if gk >= 0 else None
            if type(g) is not np.ndarray or g.dtype != dt or g.shape != y.shape or len(outs) != 3:
                return None
            back = (gk, tuple(outs), retain)
        return cls(node, fi, spec, o, bi, back, (x.shape, W.shape, y.shape), dt)

    def slots(self):
        return (self.o,) + self.outs

    def allocate(self, escaping):
        """Buffers for the slots that do not escape (None: a new array at each replay)."""
        from ..kernels.cpu import GELU, GELU_TANH, SILU, CODE, IDENTITY
        xs, ws, ys = self.shapes
        code = CODE[self.node.act]

        def buf(slot, shape):
            return None if slot < 0 or slot in escaping else np.empty(shape, self.dtype)
        self.y = buf(self.o, ys)
        self.z = np.empty(ys, self.dtype) if code in (GELU, GELU_TANH, SILU) else None
        dx, dW, db = self.outs
        self.dx, self.dW, self.db = buf(dx, xs), buf(dW, ws), buf(db, (ws[1],))
        self.dz = np.empty(ys, self.dtype) if self.bi is not None and code != IDENTITY else None

    def forward_fn(self, cpu, ctx):
        """The forward step; ``ctx``: its sequential block's [thread count], or None."""
        (kx, vx), (kW, vW), (kb, vb) = self.spec
        o, y_out, z_out, state = self.o, self.y, self.z, self.state
        in_region, ctx = ctx is not None, ctx if ctx is not None else [None]
        act, slope = self.node.act, self.node.slope
        keep = self.bi is not None
        fwd = cpu.linear_act_forward

        def run(env):
            x = env[kx] if kx >= 0 else vx
            W = env[kW] if kW >= 0 else vW
            b = env[kb] if kb >= 0 else vb
            y, z = fwd(x, W, b, act, slope, out=y_out, z_out=z_out, nthreads=ctx[0],
                       blas_set=in_region)
            env[o] = y
            if keep:
                state[0], state[1], state[2], state[3], state[4] = x, W, b, y, z
        return run

    def backward_fn(self, cpu, ctx):
        """The backward step; ``ctx`` as in :meth:`forward_fn`."""
        node, gk, state = self.node, self.gk, self.state
        in_region, ctx = ctx is not None, ctx if ctx is not None else [None]
        kdx, kdW, kdb = self.outs
        needs = (node.needs[0], node.needs[1], node.has_b and node.needs[2])
        act, slope, retain = node.act, node.slope, self.retain
        dx_out, dW_buf, db_out, dz_out = self.dx, self.dW, self.db, self.dz
        bwd, grad_buffers, want_dW = cpu.linear_act_backward, backward_pass._grad_buffers, needs[1]

        def run(env):
            x, W, _, y, z = state
            dW_out = grad_buffers(node).get(1) if want_dW else None   # the optimizer's view
            dx, dW, db = bwd(env[gk], x, W, y, z, act, slope, needs, "highest",
                             dW_buf if dW_out is None else dW_out, dx_out=dx_out,
                             dz_out=dz_out, db_out=db_out, nthreads=ctx[0], blas_set=in_region)
            if not retain:
                state[0] = state[1] = state[2] = state[3] = state[4] = None
            if kdx >= 0:
                env[kdx] = dx
            if kdW >= 0:
                env[kdW] = dW
            if kdb >= 0:
                env[kdb] = db
        return run


_PLANNED = {Linear: _Layer, CrossEntropy: CrossEntropyStep}   # node type -> its planned step
