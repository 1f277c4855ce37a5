"""Run under ``mpiexec -n 2`` with a mode; each must end quickly with a clear message:

- ``mismatch``: rank 1 builds another model (a size, then an order); DistributedDataParallel
  raises the same one-line error on both ranks, which then finish normally.
- ``hang_before_init``: rank 1 starts MPI but never calls init(); rank 0's init() gives up
  after GPUGRAD_DIST_TIMEOUT and aborts the job.
- ``raise_before_init``: rank 1 raises after MPI started, before init(); the job aborts.
- ``cli_error``: after init(), rank 1 alone hits a command-line error; the job aborts at once
  with that one line while rank 0 waits in a barrier.
"""
import os
import sys
import time

import gpugrad as gg
import gpugrad.distributed as dist


def main(mode):
    rank = int(os.environ.get("PMI_RANK", "0"))
    if mode in ("hang_before_init", "raise_before_init") and rank == 1:
        import mpi4py.MPI  # noqa: F401 -- MPI is up, gpugrad's init() not called
        if mode == "raise_before_init":
            raise RuntimeError("rank 1 could not read its data file")
        time.sleep(120)
    dist.init()
    if mode == "mismatch":
        r = dist.get_rank()
        for model in (gg.nn.MLP([6, 16 + r, 3], dtype="float64"),
                      gg.nn.Sequential(*([gg.nn.Linear(6, 6), gg.nn.Linear(6, 3)][::1 - 2 * r]))):
            try:
                dist.DistributedDataParallel(model)
            except RuntimeError as exc:
                print(f"rank {r}: {exc}", flush=True)
    if mode == "cli_error" and dist.get_rank() == 1:
        from gpugrad.tools.cli import main as cli

        cli(["predict", "--checkpoint", "missing.npz", "--input", "missing.csv"])
        print("rank 1 went on after the error", flush=True)
    dist.barrier()
    print(f"rank {dist.get_rank()} finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
