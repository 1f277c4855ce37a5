"""Start-up: rank, world size and local rank from the MPI launcher, one device per rank, the
communicator of each device kind, and the handful of module-level collectives.

``mpiexec -n 4 python script.py`` with ``gpugrad.distributed.init()`` in the script (or
``mpiexec -n 4 gpugrad train ...``) is all it takes; ``python script.py`` alone is a world of
one.  Backends: ``"mpi"`` (host arrays) and ``"nccl"`` (CuPy arrays); by default each device
gets its natural one (cpu -> mpi, cuda -> nccl), ``backend=`` or ``GPUGRAD_DIST_BACKEND``
overrides it ("mpi" on CUDA stages through host memory).

Under an MPI launcher an uncaught exception on any rank, once MPI is initialized (``init()``
or a plain ``from mpi4py import MPI``), prints its traceback and aborts the whole job
(``MPI_Abort``), so the other ranks stop at once instead of waiting for it.  ``init()``
waits at most ``GPUGRAD_DIST_TIMEOUT`` seconds for every rank to join.  A rank that ends
before it initializes MPI at all cannot be noticed by the others (they wait inside MPI's
own start-up): the README's "Data-parallel training" says how the launcher bounds that.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from .. import backend as _backend
from .comm import MPIComm, NCCLComm, Work, timeout
from ..tensor import Tensor

__all__ = ["init", "is_initialized", "launched_by_mpi", "get_rank", "get_world_size",
           "get_local_rank", "default_device", "communicator", "all_reduce", "broadcast",
           "barrier", "all_gather", "report_error", "BACKENDS"]

BACKENDS = ("mpi", "nccl")
BACKEND_ENV = "GPUGRAD_DIST_BACKEND"
# set by MPICH/Hydra (PMI_SIZE), Open MPI (OMPI_COMM_WORLD_SIZE) and PMIx launchers
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
# the rank among the node's processes, as MPICH/Hydra and Open MPI set it
_LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK")


class _State:
    world = None          # MPIComm over COMM_WORLD
    rank, size, local_rank = 0, 1, 0
    backend = None        # None: per device
    comms = {}            # (backend, device) -> communicator


_s = _State()


def launched_by_mpi() -> bool:
    """Whether this process was started by an MPI launcher with more than one rank
    (read from the launcher's environment; does not import mpi4py)."""
    for var in _SIZE_VARS:
        try:
            if int(os.environ.get(var, "1")) > 1:
                return True
        except ValueError:
            continue
    return False


def init(backend: str | None = None) -> None:
    """Join the job: read rank and size from mpi4py (``MPI.COMM_WORLD``) and the local rank
    (the rank among this node's processes).  Idempotent.  Waits at most
    ``GPUGRAD_DIST_TIMEOUT`` seconds for every rank to get here, then aborts the job naming
    what it waited for.

    ``backend``: None (per device: mpi for cpu, nccl for cuda), "mpi" or "nccl" (all
    devices); ``GPUGRAD_DIST_BACKEND`` is read when it is None.  ImportError with the install
    line when mpi4py is missing; ValueError for an unknown backend or a bad
    ``GPUGRAD_DIST_TIMEOUT`` (before any communication).

    >>> import gpugrad.distributed as dist
    >>> dist.init(); dist.get_world_size() >= 1      # doctest: +SKIP
    True
    """
    backend = backend if backend is not None else (os.environ.get(BACKEND_ENV) or None)
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"gpugrad.distributed.init: expected backend None, 'mpi' or 'nccl', "
                         f"got {backend!r}")
    limit = timeout()                 # a bad GPUGRAD_DIST_TIMEOUT: an error on every rank
    _s.backend = backend
    if _s.world is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError("gpugrad.distributed needs mpi4py and an MPI runtime: pip install "
                          "'gpugrad[dist]' (mpi4py and the mpich wheels)") from exc
    world = MPIComm(MPI.COMM_WORLD)
    if world.size > 1:
        _abort_on_uncaught()
        # a bounded wait for every rank: a blocking collective here would wait forever for
        # a rank that raised between MPI's start-up and this call
        Work(MPI.COMM_WORLD.Ibarrier(), "every rank to reach gpugrad.distributed.init()",
             world.rank, limit).wait()
    local = _local_rank_from_env()
    if local is None:
        local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
    _s.rank, _s.size, _s.local_rank = world.rank, world.size, local
    _s.world = world


def _local_rank_from_env():
    for var in _LOCAL_RANK_VARS:
        try:
            return int(os.environ[var])
        except (KeyError, ValueError):
            continue
    return None


_hooked = []


def _abort_on_uncaught():
    """An uncaught exception, once MPI runs, ends every rank (installed once)."""
    if _hooked:
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        previous(kind, value, tb)
        MPI = sys.modules.get("mpi4py.MPI")
        if MPI is None or not MPI.Is_initialized() or MPI.Is_finalized():
            return                       # MPI never started: this rank just ends
        from .comm import abort

        abort(f"gpugrad.distributed: rank {MPI.COMM_WORLD.Get_rank()} raised "
              f"{kind.__name__}; aborting every rank")

    sys.excepthook = hook
    _hooked.append(hook)


def report_error(message: str, exc: BaseException) -> bool:
    """For a command line's error handler: whether this process should print ``message``
    for ``exc`` and exit.  True outside a job of several ranks.  In one, an error that every
    rank raised together (it carries ``reported_by_rank``, see
    :func:`gpugrad.distributed.training.agree`) is printed by that rank alone, and every rank
    exits; any other error is this rank's alone, so ``message`` is printed and the whole job
    aborted at once (``MPI_Abort``, exit status 2): the other ranks never wait for it.

    >>> report_error("gpugrad train: error: x", ValueError("x"))   # not in a job
    True
    """
    if _s.world is None or _s.size < 2:
        return True
    reporter = getattr(exc, "reported_by_rank", None)
    if reporter is not None:
        return reporter == _s.rank
    from .comm import abort

    abort(message, 2)
    return False                         # not reached: abort ends the process


def is_initialized() -> bool:
    """Whether :func:`init` has run."""
    return _s.world is not None


def get_rank() -> int:
    """This process's rank (0 before :func:`init`)."""
    return _s.rank


def get_world_size() -> int:
    """The number of ranks (1 before :func:`init`)."""
    return _s.size


def get_local_rank() -> int:
    """This process's rank among the ranks on its node (0 before :func:`init`)."""
    return _s.local_rank


def default_device(spec="cpu"):
    """The device of this rank for ``spec``: ``"cuda"`` (no index) becomes
    ``cuda:{local_rank}``, one GPU per rank; anything else is returned as a Device as given.

    >>> default_device("cpu")
    device(type='cpu')
    """
    dev = _backend.device(spec)
    if dev.type == "cuda" and (not isinstance(spec, str) or ":" not in spec):
        dev = _backend.device(f"cuda:{_s.local_rank}")
    return dev


def _require_init(what):
    if _s.world is None:
        raise RuntimeError(f"{what} needs gpugrad.distributed.init() first")


def communicator(device=None):
    """The communicator for arrays on ``device`` (a Device, a name, or an array): NCCL for
    CUDA unless the backend was set to "mpi", MPI otherwise.  Made once per device."""
    _require_init("gpugrad.distributed.communicator")
    if device is None:
        dev = _backend.device("cpu")
    elif hasattr(device, "xp"):
        dev = device
    elif isinstance(device, str):
        dev = _backend.device(device)
    else:
        dev = _backend.array_device(device)
    kind = _s.backend or ("nccl" if dev.type == "cuda" else "mpi")
    if kind == "nccl" and dev.type != "cuda":
        raise ValueError(f"the nccl backend works on CUDA arrays, got arrays on {dev}")
    key = (kind, str(dev) if kind == "nccl" else "host")
    comm = _s.comms.get(key)
    if comm is None:
        if kind == "nccl":
            from mpi4py import MPI

            with dev._activated():
                comm = NCCLComm(MPI.COMM_WORLD)
        else:
            comm = _s.world
        _s.comms[key] = comm
    return comm


def _host_round_trip(a, fn):
    """Run ``fn`` on a host copy of device array ``a`` (backend "mpi" on CUDA) and copy back."""
    host = np.ascontiguousarray(_backend.to_device(a, _backend.device("cpu")))
    fn(host)
    with _backend.array_device(a)._activated():
        a[...] = _backend.to_device(host, _backend.array_device(a))


def all_reduce(a, op: str = "sum"):
    """Reduce array or Tensor ``a`` over the ranks in place (``op``: "sum" or "mean") and
    return it.  Blocks until done (at most the timeout).

    >>> import numpy as np, gpugrad.distributed as dist
    >>> dist.init(); dist.all_reduce(np.ones(2), op="mean")     # doctest: +SKIP
    array([1., 1.])
    """
    if op not in ("sum", "mean"):
        raise ValueError(f"all_reduce: expected op 'sum' or 'mean', got {op!r}")
    arr = a.data if isinstance(a, Tensor) else a   # (a CuPy array's .data is its pointer)
    comm = communicator(arr)

    def run(buf):
        comm.all_reduce(buf, "gpugrad.distributed.all_reduce").wait()
        if op == "mean":
            buf /= _s.size

    if isinstance(comm, MPIComm) and type(arr) is not np.ndarray:
        _host_round_trip(arr, run)
    else:
        run(arr)
    return a


def broadcast(a, root: int = 0):
    """Copy rank ``root``'s array (or Tensor) ``a`` into every rank's ``a``; returns ``a``."""
    arr = a.data if isinstance(a, Tensor) else a   # (a CuPy array's .data is its pointer)
    comm = communicator(arr)

    def run(buf):
        comm.broadcast(buf, root, "gpugrad.distributed.broadcast").wait()

    if isinstance(comm, MPIComm) and type(arr) is not np.ndarray:
        _host_round_trip(arr, run)
    else:
        run(arr)
    return a


def all_gather(a) -> np.ndarray:
    """Every rank's host array ``a`` (the same shape and dtype on every rank) stacked in rank
    order: shape ``(world_size, *a.shape)``.  Blocks (at most the timeout).

    >>> import numpy as np, gpugrad.distributed as dist
    >>> dist.init(); dist.all_gather(np.array([dist.get_rank()]))   # doctest: +SKIP
    array([[0], [1]])
    """
    _require_init("gpugrad.distributed.all_gather")
    a = np.ascontiguousarray(a)
    out = np.empty((_s.size,) + a.shape, a.dtype)
    _s.world.all_gather(a, out, "gpugrad.distributed.all_gather").wait()
    return out


def barrier() -> None:
    """Wait until every rank gets here (at most the timeout)."""
    _require_init("gpugrad.distributed.barrier")
    _s.world.barrier("gpugrad.distributed.barrier")


if launched_by_mpi():           # also covers a rank that fails after MPI starts, before init()
    _abort_on_uncaught()
