"""Time the first call of each CPU fused kernel, with a cold and then a warm Numba disk cache.

`python bench/compile_times.py [--rounds N] [--out FILE.json]`. Each round makes a fresh empty
NUMBA_CACHE_DIR and runs two fresh processes on it: the first compiles every kernel (cold), the
second loads them from the cache (warm). In each process, a trivial parallel Numba function runs
first so that Numba's one-time start-up (threading layer, typing) is timed separately
("numba start-up"), not charged to the first kernel. Kernels are timed through the public
``gpugrad.kernels`` entry points on float32 arrays: "big" arrays take the parallel kernel,
"small" ones its single-threaded twin.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np, numba
from numba import njit, prange
@njit(parallel=True)
def _warm(a):
    s = 0.0
    for i in prange(a.size):
        s += a[i]
    return s
_warm(np.ones(8))
t_start = time.perf_counter() - t0
from gpugrad import kernels
rng = np.random.default_rng(0)
def arrays(n, i, o):
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    return f(n, i), f(i, o), f(o), f(n, o)
res = {"numba start-up": t_start}
def timed(name, fn):
    t = time.perf_counter(); fn(); res[name] = time.perf_counter() - t
for act in ("relu", "gelu"):
    for size, (n, i, o) in (("big", (512, 1024, 2048)), ("small", (4, 8, 16))):
        x, W, b, dy = arrays(n, i, o)
        out = {}
        timed(f"linear_act_forward {act} {size}",
              lambda: out.update(yz=kernels.linear_act_forward(x, W, b, act)))
        y, z = out["yz"]
        timed(f"linear_act_backward {act} {size}",
              lambda: kernels.linear_act_backward(dy, x, W, y, z, act))
for size, n in (("big", 1 << 22), ("small", 1000)):
    p, g, m, v = (np.ones(n, np.float32) for _ in range(4))
    timed(f"sgd_update {size}", lambda: kernels.sgd_update(p, g, m, lr=0.01, momentum=0.9))
    timed(f"adam_update {size}", lambda: kernels.adam_update(p, g, m, v, step=1, lr=1e-3))
print(json.dumps(res))
"""


def run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out")
    args = ap.parse_args()
    rounds = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as d:
            cold = run(d)
            warm = run(d)
        rounds.append({"cold": cold, "warm": warm})
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in cold.items()),
              flush=True)
    import numba, numpy
    report = {"command": " ".join([os.path.basename(sys.executable)] + sys.argv),
              "date": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "processor": platform.processor(), "python": platform.python_version(),
                          "numba": numba.__version__, "numpy": numpy.__version__,
                          "loadavg_before": None},
              "rounds": rounds}
    names = list(rounds[0]["cold"])
    print(f"{'first call':40s} {'cold median (min-max) s':>26s} {'warm median (min-max) s':>26s}")
    for k in names:
        row = []
        for kind in ("cold", "warm"):
            vals = sorted(r[kind][k] for r in rounds)
            row.append(f"{vals[len(vals) // 2]:8.3f} ({vals[0]:.3f}-{vals[-1]:.3f})")
        print(f"{k:40s} {row[0]:>26s} {row[1]:>26s}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
