"""Where the host time of one gpugrad training step goes: cProfile over STEPS steps of a
``gpugrad bench`` workload (after warm-up), sorted by own time, plus the step's median wall and
host-enqueue times without the profiler.

    python bench/profile_step.py W4 --device cuda --steps 200
"""
import argparse
import cProfile
import io
import pstats
import time

import numpy as np

from gpugrad.tools.bench import workloads as bw


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workload", choices=sorted(bw.WORKLOADS))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--impl", default="gpugrad")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--top", type=int, default=35)
    a = ap.parse_args(argv)
    wl = bw.WORKLOADS[a.workload]
    im = bw.make_impls(wl, a.device, [a.impl])[a.impl]
    for _ in range(5):
        im.step()
    im.sync()
    wall, enq = [], []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        im.step()
        t1 = time.perf_counter()
        im.sync()
        wall.append(time.perf_counter() - t0)
        enq.append(t1 - t0)
    print(f"{a.workload} {a.impl} on {a.device}: median step {np.median(wall) * 1e3:.3f} ms, "
          f"host enqueue {np.median(enq) * 1e3:.3f} ms ({a.steps} steps)")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(a.steps):
        im.step()
    im.sync()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(a.top)
    print(out.getvalue())


if __name__ == "__main__":
    main()
