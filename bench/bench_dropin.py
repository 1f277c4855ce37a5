"""Per-call cost of ``gpugrad.numpy`` against NumPy: the price of swapping the import.

For common functions (elementwise, reductions, indexing, ``dot``/``matmul``, reshape and
transpose, construction, comparisons) on float64 arrays of three sizes -- tiny (10 elements,
3x3 matrices), 10^3 and 10^6 -- it times one call of each under NumPy and under
``gpugrad.numpy`` with plain arrays (no graph: the common case in a swapped program) and with
inputs that require grad (the graph is recorded), and reports the ratio gpugrad / NumPy.
Where PyTorch is installed, its nearest call on CPU tensors of the same values is timed too
(the ratio torch / NumPy): the per-call cost of a peer that also wraps its arrays in a
tensor object, for scale.

Each library is measured twice: in a process of its own, and interleaved with the other in
one process (repeat by repeat, so both see the same load).  Nothing is warmed up beyond one
call per case; every figure is the median over repeats.  The table goes to
``bench/results/dropin-<date>.md`` (``--out`` to change) with the command and machine::

    .venv/bin/python bench/bench_dropin.py                 # everything (under a minute)
    .venv/bin/python bench/bench_dropin.py --sizes tiny    # tiny arrays only
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy

SIZES = {"tiny": 10, "1e3": 1000, "1e6": 1_000_000}
SIDE = {"tiny": 3, "1e3": 32, "1e6": 1000}  # square matrices for dot / matmul


def _data(size):
    """The NumPy inputs of every case at ``size`` (the same values for both libraries)."""
    rng = numpy.random.default_rng(0)
    n, k = SIZES[size], SIDE[size]
    rows = 2 if n == 10 else int(round(n ** 0.5))
    return {"x": rng.random(n) + 0.5, "y": rng.random(n) + 0.5,
            "X": rng.random((rows, n // rows)), "A": rng.random((k, k)), "B": rng.random((k, k)),
            "mask": rng.random(n) < 0.5, "idx": numpy.array([0, n // 2, n - 1]),
            "v": numpy.array([1.0, 2.0, 3.0]), "lst": (rng.random(n)).tolist(), "n": n}


# name -> (statement on namespace `xp` and inputs `d`, whether a graph can be recorded)
CASES = {
    "add": (lambda xp, d: xp.add(d["x"], d["y"]), True),
    "multiply": (lambda xp, d: xp.multiply(d["x"], d["y"]), True),
    "x + y": (lambda xp, d: d["x"] + d["y"], True),
    "x * 2.0": (lambda xp, d: d["x"] * 2.0, True),
    "exp": (lambda xp, d: xp.exp(d["x"]), True),
    "log": (lambda xp, d: xp.log(d["x"]), True),
    "maximum": (lambda xp, d: xp.maximum(d["x"], d["y"]), True),
    "where": (lambda xp, d: xp.where(d["mask"], d["x"], d["y"]), True),
    "sum": (lambda xp, d: xp.sum(d["x"]), True),
    "mean": (lambda xp, d: xp.mean(d["x"]), True),
    "max(axis=0)": (lambda xp, d: xp.max(d["X"], axis=0), True),
    "x.sum()": (lambda xp, d: d["x"].sum(), True),
    "x[i]": (lambda xp, d: d["x"][3], True),
    "x[1:5]": (lambda xp, d: d["x"][1:5], True),
    "x[mask]": (lambda xp, d: d["x"][d["mask"]], True),
    "x[idx] = v": (lambda xp, d: d["x"].__setitem__(d["idx"], d["v"]), False),
    "dot": (lambda xp, d: xp.dot(d["A"], d["B"]), True),
    "matmul": (lambda xp, d: xp.matmul(d["A"], d["B"]), True),
    "A @ B": (lambda xp, d: d["A"] @ d["B"], True),
    "reshape": (lambda xp, d: xp.reshape(d["X"], (-1,)), True),
    "transpose": (lambda xp, d: xp.transpose(d["X"]), True),
    "zeros": (lambda xp, d: xp.zeros(d["n"]), False),
    "array(list)": (lambda xp, d: xp.array(d["lst"]), False),
    "x < y": (lambda xp, d: d["x"] < d["y"], True),
    "greater": (lambda xp, d: xp.greater(d["x"], d["y"]), True),
}
# the nearest PyTorch call of each case (CPU tensors of the same values, no grad): a peer's
# per-call cost, for scale
TORCH_CASES = {
    "add": lambda t, d: t.add(d["x"], d["y"]),
    "multiply": lambda t, d: t.mul(d["x"], d["y"]),
    "x + y": lambda t, d: d["x"] + d["y"],
    "x * 2.0": lambda t, d: d["x"] * 2.0,
    "exp": lambda t, d: t.exp(d["x"]),
    "log": lambda t, d: t.log(d["x"]),
    "maximum": lambda t, d: t.maximum(d["x"], d["y"]),
    "where": lambda t, d: t.where(d["mask"], d["x"], d["y"]),
    "sum": lambda t, d: t.sum(d["x"]),
    "mean": lambda t, d: t.mean(d["x"]),
    "max(axis=0)": lambda t, d: t.amax(d["X"], dim=0),
    "x.sum()": lambda t, d: d["x"].sum(),
    "x[i]": lambda t, d: d["x"][3],
    "x[1:5]": lambda t, d: d["x"][1:5],
    "x[mask]": lambda t, d: d["x"][d["mask"]],
    "x[idx] = v": lambda t, d: d["x"].__setitem__(d["idx"], d["v"]),
    "dot": lambda t, d: t.mm(d["A"], d["B"]),
    "matmul": lambda t, d: t.matmul(d["A"], d["B"]),
    "A @ B": lambda t, d: d["A"] @ d["B"],
    "reshape": lambda t, d: t.reshape(d["X"], (-1,)),
    "transpose": lambda t, d: d["X"].T,
    "zeros": lambda t, d: t.zeros(d["n"], dtype=t.float64),
    "array(list)": lambda t, d: t.tensor(d["lst"], dtype=t.float64),
    "x < y": lambda t, d: d["x"] < d["y"],
    "greater": lambda t, d: t.gt(d["x"], d["y"]),
}
# variants: (library, requires-grad inputs)
VARIANTS = {"numpy": ("numpy", False), "plain": ("gpugrad", False), "grad": ("gpugrad", True),
            "torch": ("torch", False)}


def _has_torch():
    return importlib.util.find_spec("torch") is not None


def _namespace(lib):
    if lib == "numpy":
        return numpy
    if lib == "torch":
        import torch

        return torch
    import gpugrad.numpy

    return gpugrad.numpy


def _inputs(lib, size, grad):
    """Inputs for ``lib``: NumPy arrays, or gpugrad tensors (floats requiring grad if asked)."""
    d = _data(size)
    if lib == "numpy":
        return d
    if lib == "torch":
        import torch

        return {k: torch.from_numpy(v.copy()) if isinstance(v, numpy.ndarray) else v
                for k, v in d.items()}
    import gpugrad.numpy as gnp

    out = {}
    for k, v in d.items():
        if isinstance(v, numpy.ndarray):
            t = gnp.asarray(v)
            out[k] = t.requires_grad_() if grad and v.dtype.kind == "f" and k != "v" else t
        else:
            out[k] = v
    return out


def _stmt(variant, case, size):
    """A no-argument callable that runs ``case`` once under ``variant``, or None if the
    variant does not apply (nothing to differentiate)."""
    lib, grad = VARIANTS[variant]
    fn, graphable = CASES[case]
    if grad and not graphable:
        return None
    if lib == "torch":
        fn = TORCH_CASES.get(case)
        if fn is None:
            return None
    xp, d = _namespace(lib), _inputs(lib, size, grad)
    return lambda: fn(xp, d)


def _number(stmt, target=0.002):
    """Calls per repeat so that one repeat takes about ``target`` seconds (at least 1)."""
    t0 = time.perf_counter()
    stmt()  # the one call allowed before timing: imports, first-call compilation
    t = time.perf_counter() - t0
    t0 = time.perf_counter()
    stmt()
    t = max(min(t, time.perf_counter() - t0), 1e-7)
    return max(1, int(target / t))


def _time(stmt, number):
    t0 = time.perf_counter()
    for _ in range(number):
        stmt()
    return (time.perf_counter() - t0) / number


def _repeats(size):
    return 7 if size == "1e6" else 15


def measure(variants, sizes, interleaved):
    """{variant: {size: {case: [seconds per call, one per repeat]}}}; ``interleaved``
    alternates the variants repeat by repeat, else each variant's repeats run back to back."""
    res = {v: {s: {} for s in sizes} for v in variants}
    for size in sizes:
        for case in CASES:
            stmts = {v: _stmt(v, case, size) for v in variants}
            stmts = {v: s for v, s in stmts.items() if s is not None}
            numbers = {v: _number(s) for v, s in stmts.items()}
            samples = {v: [] for v in stmts}
            if interleaved:
                for _ in range(_repeats(size)):
                    for v, s in stmts.items():
                        samples[v].append(_time(s, numbers[v]))
            else:
                for v, s in stmts.items():
                    samples[v] = [_time(s, numbers[v]) for _ in range(_repeats(size))]
            for v, ts in samples.items():
                res[v][size][case] = ts
    return res


def _separate(sizes):
    """Each library in a process of its own (this script with ``--worker``)."""
    res = {}
    libs = [("numpy", ["numpy"]), ("gpugrad", ["plain", "grad"])]
    for lib, variants in libs + ([("torch", ["torch"])] if _has_torch() else []):
        out = subprocess.run([sys.executable, __file__, "--worker", ",".join(variants),
                              "--sizes", ",".join(sizes)], check=True, capture_output=True,
                             text=True).stdout
        res.update(json.loads(out.splitlines()[-1]))
    return res


def _machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import gpugrad

    return (f"{cpu}, {os.cpu_count()} cores (shared: timings are noisy), Python "
            f"{platform.python_version()}, NumPy {numpy.__version__}, gpugrad "
            f"{getattr(gpugrad, '__version__', '?')}")


def _fmt_t(t):
    return f"{t * 1e6:.2f} us" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def _ratio(res, variant, size, case, paired):
    """gpugrad / NumPy: the median of the per-repeat ratios when the repeats were interleaved
    (each pair ran back to back, under the same load), else the ratio of the medians."""
    t, t_np = res[variant][size].get(case), res["numpy"][size][case]
    if t is None:
        return None
    if paired:
        return statistics.median(a / b for a, b in zip(t, t_np))
    return statistics.median(t) / statistics.median(t_np)


def table(res, sizes, paired):
    """Markdown: NumPy's time per call and the ratios gpugrad / NumPy per case and size."""
    peers = [v for v in ("plain", "grad", "torch") if v in res]
    head = "| function |" + "".join(f" numpy {s} |" + "".join(f" {v} {s} |" for v in peers)
                                    for s in sizes)
    lines = [head, "|---|" + "---:|" * ((1 + len(peers)) * len(sizes))]
    for case in CASES:
        row = f"| `{case}` |"
        for s in sizes:
            row += f" {_fmt_t(statistics.median(res['numpy'][s][case]))} |"
            for v in peers:
                r = _ratio(res, v, s, case, paired)
                row += " - |" if r is None else f" {r:.2f}x |"
        lines.append(row)
    return "\n".join(lines)


def summary(res, sizes, paired):
    """Median and worst ratio of the plain variant (and of PyTorch, when measured) per size."""
    out = []
    for s in sizes:
        for v in ("plain", "torch"):
            if v not in res:
                continue
            r = {c: _ratio(res, v, s, c, paired) for c in CASES}
            r = {c: x for c, x in r.items() if x is not None}
            worst = max(r, key=r.get)
            out.append(f"- {s}: {v}/numpy median {statistics.median(r.values()):.2f}x, worst "
                       f"{r[worst]:.2f}x (`{worst}`)")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=",".join(SIZES), help="comma-separated: tiny,1e3,1e6")
    p.add_argument("--out", default=None, help="markdown file (default "
                   "bench/results/dropin-<date>.md)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    sizes = [s for s in a.sizes.split(",") if s]
    for s in sizes:
        if s not in SIZES:
            p.error(f"unknown size {s!r}; expected some of {', '.join(SIZES)}")
    if a.worker:
        print(json.dumps(measure(a.worker.split(","), sizes, interleaved=False)))
        return
    load0, t0 = os.getloadavg()[0], time.time()
    sep = _separate(sizes)
    inter = measure([v for v in VARIANTS if v != "torch" or _has_torch()], sizes,
                    interleaved=True)
    date = datetime.date.today().isoformat()
    cmd = "python " + " ".join(["bench/bench_dropin.py"] + (argv if argv is not None
                                                             else sys.argv[1:]))
    text = (f"# gpugrad.numpy per-call cost against NumPy, {date}\n\n"
            f"Command: `{cmd}` ({time.time() - t0:.0f} s; load average "
            f"{load0:.2f} before, {os.getloadavg()[0]:.2f} after)\n\n"
            f"Machine: {_machine()}\n\n"
            f"Ratios are gpugrad.numpy / NumPy time per call (lower is better); `plain`: "
            f"arrays without a graph, `grad`: float inputs require grad (graph recorded), "
            f"`torch`: PyTorch's nearest call on CPU tensors (no grad), for scale; "
            f"medians over {_repeats('tiny')} repeats ({_repeats('1e6')} at 1e6); tiny = "
            f"10 elements (3x3 matrices), 1e3 (32x32), 1e6 (1000x1000).\n\n"
            f"## Interleaved in one process (median of the per-repeat ratios)\n\n"
            f"{summary(inter, sizes, True)}\n\n{table(inter, sizes, True)}\n\n"
            f"## Each library in its own process (ratio of the medians)\n\n"
            f"{summary(sep, sizes, False)}\n\n{table(sep, sizes, False)}\n")
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                f"dropin-{date}.md")
    with open(out, "w") as f:
        f.write(text)
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
