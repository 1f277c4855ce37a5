"""``DistributedDataParallel``: every rank holds the whole model; gradients are averaged.

At construction the parameters (and buffers) of rank 0 are broadcast to every rank.  In each
step the gradients are all-reduced in *buckets*, contiguous ranges of the optimizer's flat
gradient buffer (:mod:`gpugrad.optim._flat`) of about ``bucket_cap_mb`` each, made in reverse
parameter order -- the order in which backward finishes them.  A bucket's all-reduce starts
as soon as the last of its parameters' gradients is final (a post-accumulate-grad hook, see
``Tensor.register_post_accumulate_grad_hook``), so communication overlaps the rest of the
backward pass; the pass ends once every bucket is done, and ``optimizer.step()`` sees the
averages.  Buckets start in the same order on every rank.  Parameters that no optimizer has
laid out yet (no flat buffer) are packed into a bucket buffer and unpacked afterwards.

``no_sync()`` skips the averaging (gradient accumulation): the gradients summed locally are
averaged by the first backward after it.  A parameter that gets no gradient on a rank in a
synchronized step contributes zeros (its ``.grad`` becomes the average of the others').  A
parameter unused in the forward pass needs ``find_unused_parameters=True``, else the step's
averaging cannot finish and the next forward raises, as in PyTorch.

>>> import gpugrad as gg, gpugrad.distributed as dist      # doctest: +SKIP
>>> dist.init(); model = DistributedDataParallel(gg.nn.MLP([8, 16, 2]))   # doctest: +SKIP
>>> opt = gg.optim.SGD(model.parameters(), lr=0.1)          # doctest: +SKIP
>>> model(gg.ones(4, 8)).sum().backward(); opt.step()       # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import weakref

import numpy as np

from .. import backend, capture_hooks
from ..capture_hooks import CaptureError
from ..grad_mode import is_grad_enabled
from ..nn.module import Module
from ..tensor import Tensor
from . import process_group as pg
from .comm import MPIComm
from .model_check import check_same_model

__all__ = ["DistributedDataParallel", "average_gradients"]


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training (PyTorch's ``DistributedDataParallel``).

    ``bucket_cap_mb``: bytes per gradient bucket, in MiB (default 25, as PyTorch).
    ``find_unused_parameters``: walk each forward's graph and count parameters that it does
    not reach as done (with zero gradient).  ``broadcast_buffers``: also copy rank 0's
    buffers at construction.  ``module`` is reachable as ``.module``; ``state_dict`` keys get
    a ``module.`` prefix (as PyTorch); save ``ddp.module.state_dict()`` for plain keys.
    RuntimeError when :func:`gpugrad.distributed.init` has not run, or when the ranks' models
    differ (names, shapes, dtypes or order of the parameters: checked before the first
    broadcast, the message names the first difference).  A step through it cannot be
    recorded by ``gg.compile`` (CaptureError): the averaging runs in backward hooks.

    >>> ddp = DistributedDataParallel(gg.nn.Linear(4, 2))    # doctest: +SKIP
    >>> with ddp.no_sync():                                  # doctest: +SKIP
    ...     ddp(x1).sum().backward()        # accumulates locally
    >>> ddp(x2).sum().backward()            # doctest: +SKIP
    """

    def __init__(self, module, bucket_cap_mb: float = 25.0, find_unused_parameters=False,
                 broadcast_buffers: bool = True):
        super().__init__()
        pg._require_init("DistributedDataParallel")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a gpugrad.nn.Module, got "
                            f"{type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: expected bucket_cap_mb > 0, got "
                             f"{bucket_cap_mb!r}")
        self.module = module
        params = [p for p in module.parameters() if p.requires_grad]
        buffers = list(module.buffers()) if broadcast_buffers else []
        check_same_model(module, params, buffers)     # one line, not an MPI error, if not
        for t in params + buffers:
            _broadcast_inplace(t.data)
        reducer = _Reducer(params, int(bucket_cap_mb * 2 ** 20))
        ref = weakref.ref(reducer)

        def hook(p):
            r = ref()
            if r is not None:
                r.ready(p)

        handles = [p.register_post_accumulate_grad_hook(hook) for p in params]
        weakref.finalize(reducer, _remove_all, handles)
        object.__setattr__(self, "reducer", reducer)
        object.__setattr__(self, "find_unused_parameters", bool(find_unused_parameters))
        object.__setattr__(self, "_sync", True)

    def forward(self, *args, **kwargs):
        """``module(*args, **kwargs)``; arms the gradient averaging of the coming backward."""
        if capture_hooks.active() is not None:
            raise CaptureError(
                "gg.compile cannot record a step of a DistributedDataParallel model: its "
                "gradient averaging runs in backward hooks and MPI/NCCL calls, which a replay "
                "would skip; run the data-parallel step uncompiled")
        armed = self._sync and is_grad_enabled()
        if armed:
            self.reducer.prepare()
        else:
            self.reducer.disarm()
        out = self.module(*args, **kwargs)
        if armed and self.find_unused_parameters:
            self.reducer.mark_unused(_reached_leaves(out))
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, forward/backward accumulate gradients locally with no communication; the
        first synchronized backward after it averages the accumulated sums."""
        before = self._sync
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", before)

    @property
    def bytes_per_step(self) -> int:
        """Bytes all-reduced by the last synchronized step (every bucket, gaps included)."""
        return self.reducer.last_bytes


def average_gradients(parameters) -> int:
    """Average the ``.grad`` of ``parameters`` over the ranks now, after backward (blocking;
    no overlap: the optimizer-side alternative to DistributedDataParallel, and its reference).
    A parameter without a gradient contributes zeros.  Returns the bytes all-reduced.

    >>> average_gradients(model.parameters())      # doctest: +SKIP
    """
    pg._require_init("average_gradients")
    params = [p for p in parameters if p.requires_grad]
    r = _Reducer(params, 1 << 62)
    r.prepare()
    r.mark_unused(set())
    return r.last_bytes


def _remove_all(handles):
    for h in handles:
        h.remove()


def _broadcast_inplace(a):
    if a.size == 0:
        return
    if a.flags.c_contiguous:
        pg.broadcast(a)
        return
    buf = a.copy()
    pg.broadcast(buf)
    a[...] = buf


def _reached_leaves(out):
    """ids of the leaf tensors the graph of ``out`` (tensors, nested in tuples/lists/dicts)
    reaches."""
    stack, seen, leaves = [], set(), set()
    todo = [out]
    while todo:
        o = todo.pop()
        if isinstance(o, Tensor):
            if o._node is None:
                leaves.add(id(o))
            else:
                stack.append(o._node)
        elif isinstance(o, (tuple, list)):
            todo.extend(o)
        elif isinstance(o, dict):
            todo.extend(o.values())
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        for p, pn in zip(n.parents, n.pnodes):
            if pn is None:
                if p is not None:
                    leaves.add(id(p))
            else:
                stack.append(pn)
    return leaves


class _Bucket:
    __slots__ = ("members", "flat", "lo", "hi", "left", "work", "buf", "host")

    def __init__(self, members, flat, lo, hi):
        self.members, self.flat, self.lo, self.hi = members, flat, lo, hi


class _Reducer:
    """The per-step state machine: which parameters are final, which buckets started."""

    def __init__(self, params, cap_bytes):
        self.params = params
        self.pos = {id(p): i for i, p in enumerate(params)}
        self.cap = cap_bytes
        self.key = None
        self.buckets = []
        self.armed = self.done = self.hooked = False
        self.last_bytes = 0

    # ------------------------------------------------------------ layout
    def _homes(self):
        out = []
        for p in self.params:
            ref = getattr(p, "_grad_home", None)
            flat = ref() if ref is not None else None
            out.append(flat if flat is not None and id(p) in flat.index else None)
        return out

    def _build(self, homes):
        """Buckets over the parameters in reverse order: runs of consecutive slots of one
        flat buffer, up to ``cap`` bytes; parameters outside any flat buffer are packed."""
        buckets, cur, size, prev = [], [], 0, None
        for j in reversed(range(len(self.params))):
            p, flat = self.params[j], homes[j]
            nbytes = p.data.size * p.data.dtype.itemsize
            key = (id(flat), p.device, p.dtype) if flat is not None else (None, p.device,
                                                                           p.dtype)
            contiguous = (prev is not None and key == prev[0] and
                          (flat is None or flat.index[id(p)] == prev[1] - 1))
            if cur and (not contiguous or size + nbytes > self.cap):
                buckets.append(self._bucket(cur, homes))
                cur, size = [], 0
            cur.append(j)
            size += nbytes
            prev = (key, flat.index[id(p)] if flat is not None else None)
        if cur:
            buckets.append(self._bucket(cur, homes))
        self.buckets = buckets
        self.where = {}
        for b, bucket in enumerate(buckets):
            for j in bucket.members:
                self.where[j] = b

    def _bucket(self, members, homes):
        flat = homes[members[0]]
        if flat is None:
            return _Bucket(members, None, 0, 0)
        idx = [flat.index[id(self.params[j])] for j in members]
        return _Bucket(members, flat, flat.span(min(idx))[0], flat.span(max(idx))[1])

    # ------------------------------------------------------------ one step
    def disarm(self):
        """No averaging in the coming backward (``no_sync``, or no grad mode)."""
        self._check_previous()
        self.armed = self.done = False

    def _drain(self):
        """Wait for buckets a forward started (all-unused ones) whose backward never came."""
        if self.armed and not self.hooked:
            for b in self.buckets:
                if b.work is not None:
                    b.work.wait()
                    b.work = b.buf = b.host = None

    def prepare(self):
        self._check_previous()
        homes = self._homes()
        key = tuple(id(h) for h in homes)
        if key != self.key:
            self._build(homes)
            self.key = key
        self.ready_flags = [False] * len(self.params)
        for b in self.buckets:
            b.left, b.work, b.buf, b.host = len(b.members), None, None, None
        self.next = 0
        self.armed, self.done, self.hooked = True, False, False

    def _check_previous(self):
        self._drain()
        if self.armed and self.hooked:
            missing = [j for j, b in self.where.items() if self.buckets[b].left and
                       self.ready_flags[j] is False]
            self.armed = False
            raise RuntimeError(
                f"DistributedDataParallel: the previous step's gradient averaging did not "
                f"finish: {len(missing)} parameter(s) (positions {missing[:8]} in "
                f"module.parameters()) got no gradient in its backward pass.  Pass "
                f"find_unused_parameters=True when parts of the model are unused in a "
                f"forward pass")

    def mark_unused(self, reached):
        """Count the parameters not in ``reached`` (ids) as done; with an empty ``reached``,
        all of them: the reduction then runs to the end now."""
        for j, p in enumerate(self.params):
            if id(p) not in reached and not self.ready_flags[j]:
                self._mark(j)

    def ready(self, p):
        """A post-accumulate hook: parameter ``p``'s gradient of this pass is final."""
        if not self.armed:
            if self.done:
                raise RuntimeError(
                    "DistributedDataParallel: a gradient arrived after this step's gradients "
                    "were averaged (a second backward without a forward through the model, "
                    "or a parameter used outside the forward with find_unused_parameters)")
            return
        self.hooked = True
        j = self.pos[id(p)]
        if self.ready_flags[j]:
            raise RuntimeError(
                f"DistributedDataParallel: parameter {j} of module.parameters() was marked "
                f"ready twice in one step (it got a gradient after it was counted as unused, "
                f"or backward ran twice for one forward)")
        self._mark(j)
        for b in self.buckets[:self.next]:        # let MPI move the started buckets along
            if b.work is not None:
                b.work.test()

    def _mark(self, j):
        self.ready_flags[j] = True
        bucket = self.buckets[self.where[j]]
        bucket.left -= 1
        while self.next < len(self.buckets) and self.buckets[self.next].left == 0:
            self._launch(self.buckets[self.next], self.next)
            self.next += 1
        if self.next == len(self.buckets):
            self._finish()

    def _launch(self, b, k):
        ps = [self.params[j] for j in b.members]
        size = pg.get_world_size()
        if b.flat is not None:
            flat = b.flat
            with flat.device._activated():
                while True:
                    grad = flat.grad
                    for p in ps:
                        i = flat.index[id(p)]
                        if p.grad is None:
                            flat.grad_views[i][...] = 0
                            p.grad = Tensor._make(flat.grad_views[i])
                        elif p.grad.data is not flat.grad_views[i]:
                            flat.take_grad(i)
                    if flat.grad is grad:       # no gradient moved the buffer meanwhile
                        break
                buf = flat.grad[b.lo:b.hi]
                buf /= size
        else:
            xp = backend.get_array_module(ps[0].data)
            with backend.array_device(ps[0].data)._activated():
                buf = xp.concatenate([xp.zeros(p.data.size, p.dtype) if p.grad is None else
                                      p.grad.data.astype(p.dtype, copy=False).reshape(-1)
                                      for p in ps]) / size
        dev = backend.array_device(buf)
        comm = pg.communicator(dev)
        what = f"the all-reduce of gradient bucket {k} ({buf.nbytes} bytes)"
        b.buf = buf
        with dev._activated():                 # NCCL: on this device's current stream
            if isinstance(comm, MPIComm) and type(buf) is not np.ndarray:
                b.host = backend.to_device(buf, backend.device("cpu"))
                b.work = comm.all_reduce(b.host, what)
            else:
                b.work = comm.all_reduce(buf, what)

    def _finish(self):
        total = 0
        for b in self.buckets:
            b.work.wait()
            buf = b.buf
            with backend.array_device(buf)._activated():
                if b.host is not None:
                    buf[...] = backend.to_device(b.host, backend.array_device(buf))
                if b.flat is None:
                    at = 0
                    for j in b.members:
                        p = self.params[j]
                        part = buf[at:at + p.data.size].reshape(p.shape)
                        at += p.data.size
                        if p.grad is None:
                            p.grad = Tensor._make(part.copy())
                        else:
                            p.grad.data[...] = part
            total += buf.nbytes
            b.work = b.buf = b.host = None
        self.last_bytes = total
        self.armed, self.done = False, True
