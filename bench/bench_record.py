"""Per-call cost of ops that record a graph (``Function.apply``), and of the backward pass per
node, on tiny float64 inputs that require grad, against PyTorch's own recorded call (CPU
tensors with ``requires_grad=True``, same ops, same shapes) and NumPy's plain call; and one
eager training step of the small MLP workload W2, where that overhead shows.

Each case runs 100,000 calls (``timeit``, in 5 rounds of 20,000; the best round counts).
gpugrad, PyTorch and NumPy are measured in separate processes (importing torch touches
nothing of gpugrad's), one after the other, in pairs (``--pairs``); the best of each counts.
With ``--baseline DIR`` the same cases also run on the ``gpugrad`` package found in ``DIR``
(another checkout, or a copy with older engine files), in alternating processes -- baseline,
current, torch, baseline, current, torch -- so that all see the same machine load::

    .venv/bin/python bench/bench_record.py                       # this checkout (and torch)
    .venv/bin/python bench/bench_record.py --baseline /tmp/base  # before / after table

Without torch installed its column shows ``-``.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import timeit

SETUPS = {
    "gpugrad": """
import numpy, gpugrad as gg
rng = numpy.random.default_rng(0)
xn, yn, Xn, Wn = rng.random(10) + 0.5, rng.random(10) + 0.5, rng.random((2, 5)), rng.random((5, 3))
x, y, X, W = (gg.tensor(a, dtype="float64", requires_grad=True) for a in (xn, yn, Xn, Wn))
""",
    "torch": """
import numpy, torch
rng = numpy.random.default_rng(0)
xn, yn, Xn, Wn = rng.random(10) + 0.5, rng.random(10) + 0.5, rng.random((2, 5)), rng.random((5, 3))
x, y, X, W = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (xn, yn, Xn, Wn))
""",
}
CHAIN = """
def chain():
    h = x
    for _ in range(20):
        h = h * y + x
    return h.sum()
"""
# name -> (gpugrad statement, torch statement, NumPy statement)
CASES = {
    "gg.add(x, y)": ("gg.add(x, y)", "torch.add(x, y)", "numpy.add(xn, yn)"),
    "gg.multiply(x, y)": ("gg.multiply(x, y)", "torch.mul(x, y)", "numpy.multiply(xn, yn)"),
    "gg.exp(x)": ("gg.exp(x)", "torch.exp(x)", "numpy.exp(xn)"),
    "x + y": ("x + y", "x + y", "xn + yn"),
    "X @ W": ("X @ W", "X @ W", "Xn @ Wn"),
    "x.sum()": ("x.sum()", "x.sum()", "xn.sum()"),
    "x[1:3]": ("x[1:3]", "x[1:3]", "xn[1:3]"),
    "X.reshape(-1)": ("X.reshape(-1)", "X.reshape(-1)", "Xn.reshape(-1)"),
    "gg.relu(x)": ("gg.relu(x)", "torch.relu(x)", "numpy.maximum(xn, 0)"),
    "x * 2.0": ("x * 2.0", "x * 2.0", "xn * 2.0"),
}
CHAIN_NODES = 41  # chain(): 20 multiplies, 20 adds, one sum
PASS = "x.sum().backward(), the pass"
BACKWARD = "backward, per node"
W2 = "W2 eager training step"


def measure(lib="gpugrad", number=20_000, rounds=5):
    """{case: (library us, NumPy us or None)} per call for ``lib`` ("gpugrad" or "torch"),
    the backward pass's us per node, and one W2 training step's us."""
    ns = {}
    exec(SETUPS[lib] + CHAIN, ns)
    col = 0 if lib == "gpugrad" else 1

    def best(stmt, n=number, r=rounds):
        return min(timeit.repeat(stmt, globals=ns, number=n, repeat=r)) / n * 1e6

    out = {}
    for name, stmts in CASES.items():
        out[name] = (best(stmts[col]), best(stmts[2]) if lib == "gpugrad" else None)
    fwd = best("chain()", 500, 9)
    both = best("chain().backward()", 500, 9)
    out[BACKWARD] = ((both - fwd) / CHAIN_NODES, None)
    out[PASS] = (best("x.sum().backward()") - out["x.sum()"][0], None)
    out[W2] = (_w2_step_us(lib), None)
    return out


def _w2_step_us(lib, steps=200, rounds=7):
    """One eager training step of workload W2 (MLP 64-256-256-10, batch 64: forward,
    cross-entropy, backward, SGD step, zero_grad), as ``gpugrad bench`` times it."""
    from gpugrad.tools.bench.workloads import WORKLOADS, make_impls

    wl = WORKLOADS["W2"]
    impl = make_impls(wl, "cpu", names=[lib])[lib]
    for _ in range(20):
        impl.step()
    return min(timeit.repeat(impl.step, number=steps, repeat=rounds)) / steps * 1e6


def _run_worker(lib, path=None):
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = path + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, __file__, "--worker", lib], env=env,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def _fmt(v):
    return "-" if v is None else f"{v:.2f}"


def table(runs):
    """The Markdown table of ``runs`` ({"before"|"after"|"torch": [measure() result, ...]}):
    the best of each column, and gpugrad's (after) cost as a multiple of torch's."""
    def best(which, name, i=0):
        vals = [r[name][i] for r in runs.get(which, ()) if r[name][i] is not None]
        return min(vals) if vals else None

    lines = ["| call (tiny, requires grad) | before us | after us | torch us | NumPy us "
             "| after / torch |", "|---|---:|---:|---:|---:|---:|"]
    for name in runs["after"][0]:
        numpy_us = min(filter(None, [best("after", name, 1), best("before", name, 1)]),
                       default=None)
        after, torch_us = best("after", name), best("torch", name)
        ratio = f"{after / torch_us:.2f}x" if after and torch_us else "-"
        lines.append(f"| `{name}` | {_fmt(best('before', name))} | {_fmt(after)} "
                     f"| {_fmt(torch_us)} | {_fmt(numpy_us)} | {ratio} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", default=None, help="a directory holding the gpugrad package "
                   "to compare against (before)")
    p.add_argument("--pairs", type=int, default=2, help="alternating process pairs (default 2)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch's column out")
    p.add_argument("--worker", choices=sorted(SETUPS), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(measure(a.worker)))
        return
    with_torch = not a.no_torch and importlib.util.find_spec("torch") is not None
    runs = {"before": [], "after": [], "torch": []}
    for _ in range(a.pairs):
        if a.baseline:
            runs["before"].append(_run_worker("gpugrad", os.path.abspath(a.baseline)))
        runs["after"].append(_run_worker("gpugrad"))
        if with_torch:
            runs["torch"].append(_run_worker("torch"))
    print(table(runs))


if __name__ == "__main__":
    main()
