"""Data-parallel step time, scaling efficiency, bytes all-reduced per step and the overlap of
communication with backward, for 1 and 2 (or more) ranks.

    python bench/bench_distributed.py                       # CPU: 1 and 2 ranks (MPI)
    python bench/bench_distributed.py --ranks 1 2 4 8 --device cuda   # one GPU per rank (NCCL)

Each rank trains the same MLP on its own batch (``--batch`` per rank: weak scaling), so the
scaling efficiency is ``t(1 rank) / t(n ranks)`` per step.  Two variants are timed in each
job: ``overlap`` (DistributedDataParallel: buckets all-reduced while backward runs) and
``serial`` (backward under ``no_sync``, then one blocking all-reduce of every gradient);
``comm`` is that all-reduce alone.  ``hidden`` is the part of the communication time the
overlap saved: (serial - overlap) / comm.  On the CPU every rank of every job gets
cores / max(--ranks) threads, so that a rank has the same resources in each job.
Prints one JSON object; ``--out FILE`` also writes it.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def worker(args):
    import numpy as np

    import gpugrad as gg
    import gpugrad.distributed as dist

    dist.init()
    dev = dist.default_device(args.device)
    gg.random.manual_seed(0)
    sizes = args.sizes
    model = gg.nn.MLP(sizes, device=dev)
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=args.bucket_mb)
    opt = gg.optim.SGD(ddp.parameters(), lr=1e-3)
    rng = np.random.default_rng(dist.get_rank())
    x = gg.tensor(rng.standard_normal((args.batch, sizes[0])).astype("float32"), device=dev)
    y = gg.tensor(rng.integers(0, sizes[-1], args.batch), device=dev)
    params = list(model.parameters())

    def sync():
        if dev.type == "cuda":
            dev.xp.cuda.get_current_stream().synchronize()

    def overlap():
        opt.zero_grad()
        gg.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()

    def serial():
        opt.zero_grad()
        with ddp.no_sync():
            gg.nn.functional.cross_entropy(ddp(x), y).backward()
        dist.average_gradients(params)
        opt.step()

    def comm():
        dist.average_gradients(params)

    out = {}
    for name, fn in (("overlap", overlap), ("serial", serial), ("comm", comm)):
        for _ in range(args.warmup):
            fn()
        times = []
        for _ in range(args.steps):
            dist.barrier()
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        out[name] = float(np.median(times))
    slow = np.array([out["overlap"], out["serial"], out["comm"]])
    slow = dist.all_reduce(slow, op="mean")        # the ranks' mean of medians
    res = {"ranks": dist.get_world_size(), "device": str(dev), "overlap_s": slow[0],
           "serial_s": slow[1], "comm_s": slow[2], "bytes_per_step": ddp.bytes_per_step,
           "buckets": len(ddp.reducer.buckets), "parameters": model.num_parameters()}
    if dist.get_rank() == 0:
        print("RESULT " + json.dumps({k: (float(v) if hasattr(v, "dtype") else v)
                                      for k, v in res.items()}), flush=True)


def launch(args, n):
    mpiexec = (shutil.which("mpiexec", path=os.path.dirname(sys.executable))
               or shutil.which("mpiexec"))
    if mpiexec is None:
        sys.exit("bench_distributed: no mpiexec; pip install 'gpugrad[dist]'")
    env = dict(os.environ)
    if args.device == "cpu":
        threads = str(max(1, (os.cpu_count() or 1) // max(args.ranks)))
        for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS"):
            env[var] = threads
    cmd = [mpiexec, "-n", str(n), sys.executable, os.path.abspath(__file__), "--worker",
           *sys.argv[1:]]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    line = next((s for s in p.stdout.splitlines() if s.startswith("RESULT ")), None)
    if p.returncode or line is None:
        sys.exit(f"bench_distributed: {n} rank(s) failed (exit {p.returncode}):\n"
                 f"{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (one GPU per rank)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 2048, 10],
                    help="MLP layer sizes (default: W1's)")
    ap.add_argument("--batch", type=int, default=512, help="samples per rank per step "
                                                           "(default: W1's)")
    ap.add_argument("--bucket-mb", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args)
    runs = [launch(args, n) for n in args.ranks]
    for r in runs:       # weak scaling: the same work per rank, so ideal is the same time
        r["scaling_efficiency"] = runs[0]["overlap_s"] / r["overlap_s"]
        r["overlap_saving_s"] = r["serial_s"] - r["overlap_s"]
        r["hidden_fraction"] = (r["overlap_saving_s"] / r["comm_s"] if r["ranks"] > 1 and
                                r["comm_s"] > 0 else None)
    report = {"config": {k: v for k, v in vars(args).items() if k not in ("worker", "out")},
              "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d"), "runs": runs}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
