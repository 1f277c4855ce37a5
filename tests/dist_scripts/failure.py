"""Run under ``mpiexec -n 2`` with a mode: rank 1 fails ("raise", "exit" or "hang") during
training while rank 0 keeps stepping; the job must end with an error, not hang."""
import os
import sys
import time

import gpugrad as gg
import gpugrad.distributed as dist


def main(mode):
    dist.init()
    model = dist.DistributedDataParallel(gg.nn.MLP([4, 8, 2]))
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    for step in range(1000):
        if dist.get_rank() == 1 and step == 3:
            if mode == "raise":
                raise ValueError("rank 1 failed on purpose")
            if mode == "exit":
                os._exit(3)
            if mode == "hang":
                time.sleep(3600)
        opt.zero_grad()
        model(gg.ones(2, 4)).sum().backward()
        opt.step()
    print("finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
