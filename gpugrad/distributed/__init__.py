"""Data-parallel training over MPI (mpi4py) on the CPU and NCCL (through CuPy) on CUDA.

Launch every rank with the MPI launcher, call :func:`init`, wrap the model::

    # mpiexec -n 4 python train.py
    import gpugrad as gg, gpugrad.distributed as dist
    dist.init()                                         # rank and size from mpi4py
    dev = dist.default_device("cuda")                   # cuda:{local_rank}
    model = dist.DistributedDataParallel(gg.nn.MLP([784, 512, 10], device=dev))
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    loader = dist.DistributedDataLoader(X, y, batch_size=64, shuffle=True, device=dev)
    for xb, yb in loader:                               # this rank's shard of the epoch
        opt.zero_grad(); gg.nn.functional.cross_entropy(model(xb), yb).backward(); opt.step()

``mpiexec -n 4 gpugrad train ...`` does the same for the training command.  Collectives wait
at most ``GPUGRAD_DIST_TIMEOUT`` seconds (default 300) and then abort every rank; an uncaught
exception on one rank aborts them all at once.  ``DistributedDataParallel`` checks that every
rank holds the same parameters (names, shapes, dtypes, order) before the first collective.
"""
from .comm import DEFAULT_TIMEOUT, TIMEOUT_ENV, MPIComm, NCCLComm, Work, timeout
from .ddp import DistributedDataParallel, average_gradients
from .process_group import (BACKENDS, all_gather, all_reduce, barrier, broadcast,
                            communicator, default_device, get_local_rank, get_rank,
                            get_world_size, init, is_initialized, launched_by_mpi,
                            report_error)
from .sampler import DistributedDataLoader, DistributedSampler

__all__ = ["init", "is_initialized", "launched_by_mpi", "get_rank", "get_world_size",
           "get_local_rank", "default_device", "communicator", "all_reduce", "broadcast",
           "barrier", "all_gather", "report_error", "DistributedDataParallel",
           "average_gradients", "DistributedSampler",
           "DistributedDataLoader", "MPIComm", "NCCLComm", "Work", "timeout",
           "DEFAULT_TIMEOUT", "TIMEOUT_ENV", "BACKENDS"]
