"""Communicators: MPI on NumPy buffers (the CPU) and NCCL through CuPy (CUDA).

A communicator reduces or broadcasts one contiguous array in place and returns a
:class:`Work` handle; ``Work.wait()`` returns once the result is in the array (for NCCL: once
it is queued on the compute stream, which orders everything after it).  No call pickles:
MPI reads and writes the arrays through the buffer interface, NCCL through device pointers.

Every wait has a deadline (:func:`timeout`, ``GPUGRAD_DIST_TIMEOUT`` seconds, default
``DEFAULT_TIMEOUT`` = 300): a rank that died, raised or hangs makes the others print which
collective they were waiting for and abort the whole job (``MPI_Abort``) instead of hanging.

>>> import numpy as np
>>> comm = MPIComm.world()                  # doctest: +SKIP
>>> x = np.ones(4); comm.all_reduce(x).wait(); x   # doctest: +SKIP
array([2., 2., 2., 2.])
"""
from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

__all__ = ["MPIComm", "NCCLComm", "Work", "timeout", "abort", "DEFAULT_TIMEOUT",
           "TIMEOUT_ENV"]

DEFAULT_TIMEOUT = 300.0
TIMEOUT_ENV = "GPUGRAD_DIST_TIMEOUT"


def timeout() -> float:
    """Seconds a rank waits for a collective before aborting the job: ``GPUGRAD_DIST_TIMEOUT``
    (a positive number) or ``DEFAULT_TIMEOUT`` (300).

    >>> import os; os.environ.pop("GPUGRAD_DIST_TIMEOUT", None) and None; timeout()
    300.0
    """
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{TIMEOUT_ENV}: expected a number of seconds > 0, got {raw!r}")
    return value


def abort(message: str, code: int = 1):
    """Print ``message`` on stderr and end every rank of the job (``MPI_Abort``); never
    returns.  MPI does not promise that ``MPI_Abort`` ends the calling process before it
    returns, so this process then ends itself (``os._exit(code)``): nothing after an abort --
    an optimizer step on un-averaged gradients, a checkpoint -- can run."""
    try:
        sys.stderr.write(message.rstrip() + "\n")
        sys.stderr.flush()
        sys.stdout.flush()
        time.sleep(0.5)   # let the launcher forward what was printed: the abort tears down
    except Exception:     # its output streams too (a closed stream must not stop the abort)
        pass
    try:
        from mpi4py import MPI

        MPI.COMM_WORLD.Abort(code)
    finally:
        os._exit(code)


class Work:
    """A started collective: ``wait()`` blocks until it is done, at most ``deadline`` s.

    ``test()`` says whether it is done without blocking (and lets MPI make progress).
    """

    def __init__(self, request, what: str, rank: int, limit: float | None = None):
        self.request, self.what, self.rank = request, what, rank
        self.limit = timeout() if limit is None else limit
        self.done = request is None

    def test(self) -> bool:
        """True once the collective is complete."""
        if not self.done:
            self.done = bool(self.request.Test())
        return self.done

    def wait(self) -> None:
        """Block until the collective is complete; abort the job past the deadline."""
        if self.done:
            return
        start = time.monotonic()
        nap = 0.0
        while not self.request.Test():
            waited = time.monotonic() - start
            if waited > self.limit:
                abort(f"gpugrad.distributed: rank {self.rank} waited {waited:.1f} s for "
                      f"{self.what} and gave up: another rank died, raised or hangs.  "
                      f"Aborting every rank ({TIMEOUT_ENV}={self.limit:g} s sets this limit).")
                return                      # not reached: abort() ends the process
            if nap:
                time.sleep(nap)
            nap = min(max(nap * 2, 2e-5), 1e-3)
        self.done = True


class MPIComm:
    """Collectives on host (NumPy) arrays over an mpi4py communicator.

    ``all_reduce(a)`` sums C-contiguous ``a`` across ranks in place (``MPI_Iallreduce``);
    ``broadcast(a, root)`` copies root's ``a`` into every rank's (``MPI_Ibcast``).  Both
    return a :class:`Work`.  ValueError for a non-contiguous or non-NumPy array.
    """

    def __init__(self, mpi_comm):
        self.comm = mpi_comm
        self.rank = mpi_comm.Get_rank()
        self.size = mpi_comm.Get_size()

    @classmethod
    def world(cls) -> "MPIComm":
        """The communicator of every rank (``MPI.COMM_WORLD``)."""
        from mpi4py import MPI

        return cls(MPI.COMM_WORLD)

    @staticmethod
    def _check(a, what):
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            raise ValueError(f"{what}: expected a C-contiguous NumPy array (MPI works on host "
                             f"buffers), got {type(a).__name__}"
                             f"{'' if type(a) is not np.ndarray else ' that is not contiguous'}")

    def all_reduce(self, a, what="an all-reduce") -> Work:
        """Sum ``a`` over the ranks, in place; returns a :class:`Work`."""
        from mpi4py import MPI

        self._check(a, "all_reduce")
        return Work(self.comm.Iallreduce(MPI.IN_PLACE, a, op=MPI.SUM), what, self.rank)

    def broadcast(self, a, root: int = 0, what="a broadcast") -> Work:
        """Root's ``a`` into every rank's ``a``, in place; returns a :class:`Work`."""
        self._check(a, "broadcast")
        return Work(self.comm.Ibcast(a, root=root), what, self.rank)

    def barrier(self, what="a barrier") -> None:
        """Wait (at most the timeout) until every rank has reached this call."""
        Work(self.comm.Ibarrier(), what, self.rank).wait()

    def all_gather(self, a, out, what="an all-gather") -> Work:
        """Every rank's C-contiguous ``a`` into ``out`` (shape ``(size, *a.shape)``, the
        dtype of ``a``), in rank order (``MPI_Iallgather``); returns a :class:`Work`."""
        self._check(a, "all_gather")
        self._check(out, "all_gather")
        if out.shape != (self.size,) + a.shape or out.dtype != a.dtype:
            raise ValueError(f"all_gather: expected out of shape {(self.size,) + a.shape} and "
                             f"dtype {a.dtype}, got {out.shape} {out.dtype}")
        return Work(self.comm.Iallgather(a, out), what, self.rank)


_NCCL_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
               "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint8": "NCCL_UINT8",
               "int8": "NCCL_INT8", "bfloat16": "NCCL_BFLOAT16"}


class NCCLComm:
    """Collectives on CuPy arrays through NCCL (``cupy.cuda.nccl``), queued on the current
    (compute) stream, with the NCCL unique id broadcast from rank 0 over MPI.

    ``all_reduce`` / ``broadcast`` take C-contiguous device arrays and return a :class:`Work`
    whose ``wait()`` does not block the host: stream order makes later kernels see the
    result.  A watchdog thread checks, off the hot path, that each collective finishes within
    the timeout and aborts the job otherwise.  ``nccl`` and ``cuda`` can be injected (tests).
    """

    def __init__(self, mpi_comm, nccl=None, cuda=None):
        if nccl is None or cuda is None:
            import cupy

            nccl = cupy.cuda.nccl if nccl is None else nccl
            cuda = cupy.cuda if cuda is None else cuda
        self.nccl, self.cuda = nccl, cuda
        self.mpi = mpi_comm
        self.rank, self.size = mpi_comm.Get_rank(), mpi_comm.Get_size()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = mpi_comm.bcast(uid, root=0)          # once, at start-up
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        self._watch = _Watchdog(self)

    def _args(self, a, what):
        if not hasattr(a, "data") or not hasattr(a.data, "ptr") or not a.flags.c_contiguous:
            raise ValueError(f"{what}: expected a C-contiguous CuPy array, got "
                             f"{type(a).__name__}")
        name = _NCCL_TYPES.get(np.dtype(a.dtype).name)
        code = None if name is None else getattr(self.nccl, name, None)
        if code is None:
            raise TypeError(f"{what}: NCCL has no type for dtype {np.dtype(a.dtype).name}; "
                            f"expected one of {', '.join(_NCCL_TYPES)}")
        return a.data.ptr, int(a.size), code, self.cuda.get_current_stream()

    def all_reduce(self, a, what="an all-reduce") -> Work:
        """Sum ``a`` over the ranks, in place, on the current stream."""
        ptr, n, dtype, stream = self._args(a, "all_reduce")
        self.comm.allReduce(ptr, ptr, n, dtype, self.nccl.NCCL_SUM, stream.ptr)
        return self._watch.track(stream, what)

    def broadcast(self, a, root: int = 0, what="a broadcast") -> Work:
        """Root's ``a`` into every rank's ``a``, in place, on the current stream."""
        ptr, n, dtype, stream = self._args(a, "broadcast")
        self.comm.bcast(ptr, n, dtype, root, stream.ptr)
        return self._watch.track(stream, what)

    def barrier(self, what="a barrier") -> None:
        """Wait until every rank has reached this call (over MPI)."""
        Work(self.mpi.Ibarrier(), what, self.rank).wait()


class _Watchdog:
    """Checks queued NCCL collectives from a daemon thread: each one's event must complete
    within the timeout, else the job is aborted with a message naming the collective."""

    def __init__(self, owner):
        self.owner = owner
        self.pending = []
        self.lock = threading.Lock()
        self.thread = None

    def track(self, stream, what) -> Work:
        event = stream.record()
        with self.lock:
            self.pending.append((event, time.monotonic() + timeout(), what))
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="gpugrad-nccl-watchdog",
                                               daemon=True)
                self.thread.start()
        return Work(None, what, self.owner.rank)

    def check(self) -> bool:
        """One look at the queue: drop finished collectives; abort past a deadline.
        Returns whether any remain."""
        now = time.monotonic()
        with self.lock:
            live = []
            for event, deadline, what in self.pending:
                if event.done:
                    continue
                if now > deadline:
                    try:
                        self.owner.comm.abort()
                    finally:
                        abort(f"gpugrad.distributed: rank {self.owner.rank}: {what} (NCCL) "
                              f"did not finish within {timeout():g} s: another rank died, "
                              f"raised or hangs.  Aborting every rank ({TIMEOUT_ENV} sets "
                              f"this limit).")
                    return False
                live.append((event, deadline, what))
            self.pending = live
            return bool(live)

    def _loop(self):
        while True:
            time.sleep(0.05 if self.check() else 0.5)
