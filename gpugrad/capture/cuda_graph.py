"""The CUDA replay of a captured step: each run of array calls on the tape becomes one CUDA
graph (CuPy stream capture), launched at every replay; host calls (a gradient handed to a
leaf, the optimizer's ``step``) run between the launches, live, as on the CPU.

The first replay captures: on a non-default stream, each array segment runs between
``stream.begin_capture()`` and ``stream.end_capture()`` (which records its kernels instead of
running them) with a private CuPy memory pool as the allocator, and is launched once to
compute that step.  Every array the segment made is kept (the graph writes into the same
memory at each launch), and the private pool is used by nothing else, so memory that a
segment freed while it was captured -- a kernel's temporary -- is never handed to an
allocation outside the graphs.  Host calls run outside capture on the default allocator.
A replay waits for the caller's stream (the inputs copied in) and the caller's stream
waits for it: no host synchronization anywhere.  Results are the graphs' static arrays,
overwritten by the next call (as with CUDA graphs in PyTorch).
"""
from __future__ import annotations

from .tape import build_output

__all__ = ["GraphReplay", "segments"]


def segments(entries):
    """Split tape entries into runs: [(kind, [(fn, free), ...])] with kind "array" or "host".

    >>> [k for k, _ in segments([("array", 1, ()), ("array", 2, ()), ("host", 3, ())])]
    ['array', 'host']
    """
    out = []
    for kind, fn, free in entries:
        if out and out[-1][0] == kind:
            out[-1][1].append((fn, free))
        else:
            out.append((kind, [(fn, free)]))
    return out


class GraphReplay:
    """A tape replayed as CUDA graphs (``cp``: the cupy module; tests pass a stand-in)."""

    def __init__(self, tape, bufs, spec, cp=None):
        if cp is None:
            import cupy as cp
        self.cp = cp
        self.tape, self.bufs, self.spec = tape, bufs, spec
        self.plan = None       # [(kind, graph or [fn...])] once captured
        self.env = None        # the static arrays the graphs read and write
        self.stream = None
        self.pool = None

    def valid(self):
        return self.tape.valid()

    def load(self, arrays):
        for buf, a in zip(self.bufs, arrays):
            if a is not buf:
                buf[...] = a

    def _capture(self):
        cp = self.cp
        self.pool = cp.cuda.MemoryPool()
        env = [None] * self.tape.nslots
        plan = []
        for kind, run in segments(self.tape.entries):
            if kind == "host":
                for fn, _ in run:
                    fn(env)
                plan.append(("host", [fn for fn, _ in run]))
                continue
            from ..kernels.cublas_capture import capture_blas    # cuBLAS usable in capture
            with capture_blas(self.stream, cp), cp.cuda.using_allocator(self.pool.malloc):
                self.stream.begin_capture()
                try:
                    for fn, _ in run:      # nothing is freed: the graph owns every array
                        fn(env)
                finally:
                    graph = self.stream.end_capture()
            graph.launch(stream=self.stream)
            plan.append(("graph", graph))
        self.env, self.plan = env, plan

    def run(self, arrays, objs=None):
        cp = self.cp
        self.load(arrays)
        caller = cp.cuda.get_current_stream()
        first = self.plan is None
        if self.stream is None:
            self.stream = cp.cuda.Stream(non_blocking=True)
        self.stream.wait_event(caller.record())
        with self.stream:
            if first:
                self._capture()
            else:
                env = self.env
                for kind, what in self.plan:
                    if kind == "graph":
                        what.launch(stream=self.stream)
                    else:
                        for fn in what:
                            fn(env)
        caller.wait_event(self.stream.record())
        for buf, a in zip(self.bufs, arrays):     # an input the step wrote into
            if a is not buf and id(buf) in self.tape.written:
                a[...] = buf
        return build_output(self.spec, self.env, (objs, arrays, self.bufs))
