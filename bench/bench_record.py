"""Per-call cost of ops that record a graph (``Function.apply``), and of the backward pass per
node, on tiny float64 inputs that require grad, against NumPy's time for the same arithmetic;
and one eager training step of the small MLP workload W2, where that overhead shows.

Each case runs 100,000 calls (``timeit``, in 5 rounds of 20,000; the best round counts).  With
``--baseline DIR`` the same cases also run on the ``gpugrad`` package found in ``DIR`` (another
checkout, or a copy with older engine files), in alternating processes -- baseline, current,
baseline, current -- so that both see the same machine load; the table then shows both::

    .venv/bin/python bench/bench_record.py                       # this checkout only
    .venv/bin/python bench/bench_record.py --baseline /tmp/base  # before / after table
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import timeit

SETUP = """
import numpy, gpugrad as gg
rng = numpy.random.default_rng(0)
xn, yn, Xn, Wn = rng.random(10) + 0.5, rng.random(10) + 0.5, rng.random((2, 5)), rng.random((5, 3))
x, y, X, W = (gg.tensor(a, dtype="float64", requires_grad=True) for a in (xn, yn, Xn, Wn))
def chain():
    h = x
    for _ in range(20):
        h = h * y + x
    return h.sum()
"""
# name -> (gpugrad statement, NumPy statement)
CASES = {
    "gg.add(x, y)": ("gg.add(x, y)", "numpy.add(xn, yn)"),
    "gg.multiply(x, y)": ("gg.multiply(x, y)", "numpy.multiply(xn, yn)"),
    "gg.exp(x)": ("gg.exp(x)", "numpy.exp(xn)"),
    "x + y": ("x + y", "xn + yn"),
    "X @ W": ("X @ W", "Xn @ Wn"),
    "x.sum()": ("x.sum()", "xn.sum()"),
    "x[1:3]": ("x[1:3]", "xn[1:3]"),
    "X.reshape(-1)": ("X.reshape(-1)", "Xn.reshape(-1)"),
    "gg.relu(x)": ("gg.relu(x)", "numpy.maximum(xn, 0)"),
    "x * 2.0": ("x * 2.0", "xn * 2.0"),
}
CHAIN_NODES = 41  # chain(): 20 multiplies, 20 adds, one sum


def measure(number=20_000, rounds=5):
    """{case: (gpugrad us, NumPy us)} per call, and the backward pass's us per node."""
    ns = {}
    exec(SETUP, ns)

    def best(stmt, n=number):
        return min(timeit.repeat(stmt, globals=ns, number=n, repeat=rounds)) / n * 1e6

    out = {name: (best(g), best(n)) for name, (g, n) in CASES.items()}
    fwd = best("chain()", 500)
    both = best("chain().backward()", 500)
    out["backward, per node"] = ((both - fwd) / CHAIN_NODES, None)
    out["x.sum().backward(), the pass"] = (best("x.sum().backward()") - out["x.sum()"][0], None)
    out["W2 eager training step"] = (_w2_step_us(), None)
    return out


def _w2_step_us(steps=200, rounds=7):
    """One eager training step of workload W2 (MLP 64-256-256-10, batch 64: forward,
    cross-entropy, backward, SGD step, zero_grad), as ``gpugrad bench`` times it."""
    from gpugrad.tools.bench.workloads import WORKLOADS, GpugradMLP, make_data

    impl = GpugradMLP(WORKLOADS["W2"], "cpu", make_data(WORKLOADS["W2"]))
    for _ in range(20):
        impl.step()
    return min(timeit.repeat(impl.step, number=steps, repeat=rounds)) / steps * 1e6


def _run_worker(path):
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, __file__, "--worker"], env=env, capture_output=True,
                       text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def _fmt(v):
    return "-" if v is None else f"{v:.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", default=None, help="a directory holding the gpugrad package "
                   "to compare against (before)")
    p.add_argument("--pairs", type=int, default=2, help="alternating process pairs (default 2)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(measure()))
        return
    runs = {"before": [], "after": []}
    for _ in range(a.pairs if a.baseline else 1):
        if a.baseline:
            runs["before"].append(_run_worker(os.path.abspath(a.baseline)))
        runs["after"].append(_run_worker(None))

    def best(which, name, i):
        vals = [r[name][i] for r in runs[which]]
        return None if not vals or vals[0] is None else min(vals)

    print("| call (tiny, requires grad) | before us | after us | NumPy us |")
    print("|---|---:|---:|---:|")
    for name in runs["after"][0]:
        numpy_us = min(filter(None, [best("after", name, 1), best("before", name, 1)]),
                       default=None)
        print(f"| `{name}` | {_fmt(best('before', name, 0))} | {_fmt(best('after', name, 0))} "
              f"| {_fmt(numpy_us)} |")


if __name__ == "__main__":
    main()
