"""gpugrad bench: fixed training-step workloads timed against PyTorch eager, a hand-written
NumPy/CuPy backprop and the GEMM-only floor, interleaved in one run, on every available device.

Writes ``<out>/<device-or-cpu>-<date>.json`` (every raw timing, medians, ratios, targets, the
machine and library versions) and a PNG of samples/s per workload and device, and prints a
table. The workloads and implementations live in :mod:`gpugrad.tools.bench.workloads`.

Before timing a workload, fresh copies of its implementations run a few steps from the same
start and must agree (:func:`check_agreement`): losses and parameters for an MLP, output and
gradients for the layer.  When one disagrees, the run still finishes and writes its report, but
ends with one ``gpugrad bench: error: <impl> disagrees ...`` line per disagreement and exit
status 1: a time is worth nothing if the step it times is wrong.

>>> report = main(["--quick", "--workloads", "W2", "--steps", "3", "--no-plot",
...                "--out", "/tmp/gg-bench"])                 # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time

import numpy as np

from gpugrad.tools.bench import memory as mem
from gpugrad.tools.bench.check import check_agreement
from gpugrad.tools.bench import report as rep
from gpugrad.tools.bench import workloads as bw

__all__ = ["add_parser", "run", "main", "time_interleaved", "summarize", "run_workload",
           "check_agreement", "evaluate_targets", "TARGETS"]

# (label, device, workload, ratio key or "memory", limit[, precision]): a ratio from the same
# run <= limit, measured at that matmul precision (default "highest": float32)
TARGETS = [
    ("CPU W1 gpugrad <= 0.85 x torch eager", "cpu", "W1", "gpugrad/torch", 0.85),
    ("CPU W1 gpugrad <= 1.10 x GEMM floor", "cpu", "W1", "gpugrad/gemm", 1.10),
    ("CPU W2 gpugrad <= 1.0 x torch eager", "cpu", "W2", "gpugrad/torch", 1.0),
    ("CPU W1 peak step memory gpugrad <= torch", "cpu", "W1", "memory", 1.0),
    ("GPU W3 gpugrad <= 0.9 x torch eager", "cuda", "W3", "gpugrad/torch", 0.9),
    ("GPU W3 float32 gpugrad <= 1.05 x GEMM floor", "cuda", "W3", "gpugrad/gemm", 1.05),
    ("GPU W3 TF32 gpugrad <= 1.15 x TF32 GEMM floor", "cuda", "W3", "gpugrad/gemm", 1.15, "high"),
    ("GPU W1 peak step memory gpugrad <= torch", "cuda", "W1", "memory", 1.0),
    ("GPU layer non-GEMM time fused <= 0.5 x unfused", "cuda", "layer", "non_gemm fused/unfused",
     0.5),
    ("CPU W2 captured step <= 0.6 x jax.jit", "cpu", "W2", "compiled/jax", 0.6),
    ("CPU W1 captured step <= 1.03 x GEMM floor", "cpu", "W1", "compiled/gemm", 1.03),
    ("GPU W4 captured step <= 0.5 x torch eager", "cuda", "W4", "compiled/torch", 0.5),
    ("GPU W3 gpugrad-bf16 <= 0.9 x torch-bf16 (both under autocast)", "cuda", "W3",
     "gpugrad-bf16/torch-bf16", 0.9),
]


# ------------------------------------------------------------------------------ CLI

def add_parser(subparsers):
    """Register the ``bench`` subcommand on an argparse ``subparsers`` object; returns it.

    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="command")
    >>> _ = add_parser(sub); p.parse_args(["bench", "--quick"]).quick
    True
    """
    p = subparsers.add_parser(
        "bench", help="time training steps against PyTorch, NumPy and the GEMM floor",
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.set_defaults(run=run)
    return p


def _add_arguments(p):
    p.add_argument("--workloads", nargs="+", metavar="W", choices=sorted(bw.WORKLOADS),
                   help="workloads to run (default: each one on its default devices: W1 W2 "
                        "layer on the CPU; all on CUDA)")
    p.add_argument("--devices", nargs="+", metavar="D", choices=["cpu", "cuda"],
                   help="devices (default: cpu, plus cuda when a GPU is available)")
    p.add_argument("--impls", nargs="+", metavar="I",
                   choices=sorted(set(bw.IMPLS) | set(bw.LAYER_IMPLS) | set(bw.AUTOCAST_IMPLS)),
                   help="implementations to time (default: all available: gpugrad torch numpy "
                        "gemm; for the layer: fused unfused torch gemm)")
    p.add_argument("--steps", type=int, help="timed steps per workload (default: per workload)")
    p.add_argument("--warmup", type=int, help="untimed warm-up steps (default: per workload)")
    p.add_argument("--quick", action="store_true", help="CI-sized run: few steps, tagged -quick")
    p.add_argument("--all-on-cpu", action="store_true",
                   help="also run the GPU-sized workloads (W3, W4) on the CPU when named")
    p.add_argument("--layer-batch", type=int, help="batch of the fused-layer benchmark "
                   "(default 256 on the CPU, 4096 on CUDA)")
    p.add_argument("--settle", type=int,
                   help="untimed steps of the same implementation right before each timed one "
                        "(absorbs the cost of switching libraries; default: per workload)")
    p.add_argument("--interleaved", action="store_true",
                   help="time every implementation interleaved with no settle steps (each "
                        "timed step pays for switching libraries) and, next to it, alone in a "
                        "fresh process of its own (see gpugrad.tools.bench.alone)")
    p.add_argument("--gap-ms", type=float, default=0.0,
                   help="idle milliseconds before each timed step (default 0)")
    p.add_argument("--check-steps", type=int, default=3,
                   help="steps every implementation runs, from the same start, before timing; "
                        "their losses and parameters (the layer: output and gradients) must "
                        "agree or the run exits 1 (default 3; 0 skips the check)")
    p.add_argument("--precision", choices=["highest", "high"], default="highest",
                   help="float32 matmul precision of every implementation: highest (float32, "
                        "the default) or high (TF32 tensor cores on CUDA, each library's own "
                        "switch; no effect on the CPU, whose entries say highest); the file "
                        "stem gets -tf32. The agreement check runs at float32 precision")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--out", default=os.path.join("bench", "results"),
                   help="output folder (default: bench/results)")
    p.add_argument("--name", help="file stem (default: <device>-<date>[-quick])")


def main(argv=None) -> int:
    """``gpugrad bench [options]`` (also ``python -m gpugrad.tools.bench``); returns the exit status:
    0; 1 when an implementation disagreed with the reference (one ``gpugrad bench: error: ...``
    line each); 2 with one ``gpugrad bench: error: ...`` line for bad input.

    >>> main(["--steps", "0"])                                 # doctest: +SKIP
    2
    """
    from gpugrad.tools.cli import main as cli_main
    return cli_main(["bench"] + list(sys.argv[1:] if argv is None else argv))


def _plan(args):
    """[(workload, device)] to run, and messages about what was skipped."""
    from gpugrad.backend import CudaUnavailableError, cuda
    notes = []
    has_cuda = cuda.is_available()
    if args.devices:
        devices = list(dict.fromkeys(args.devices))
        if "cuda" in devices and not has_cuda:
            raise CudaUnavailableError("--devices cuda was asked for, but no CUDA GPU is "
                                       "available (install gpugrad[cuda12] on a machine with one)")
    else:
        devices = ["cpu"] + (["cuda"] if has_cuda else [])
    names = args.workloads or list(bw.WORKLOADS)
    plan = []
    for dev in devices:
        for name in names:
            wl = bw.WORKLOADS[name]
            if dev in wl.devices or (dev == "cpu" and args.all_on_cpu and args.workloads):
                plan.append((wl, dev))
            elif args.workloads:
                notes.append(f"skipping {name} on {dev}: a {'/'.join(wl.devices)} workload "
                             f"(--all-on-cpu runs it on the CPU anyway)")
    return plan, notes


def run(args) -> int:
    """Run the benchmark described by parsed ``args`` (see :func:`add_parser`); returns 0, or
    1 when an implementation disagreed (see :func:`check_agreement`).

    >>> run(_parser().parse_args(["--quick", "--workloads", "W2"]))   # doctest: +SKIP
    0
    """
    for flag, lo in (("steps", 1), ("warmup", 0), ("layer_batch", 1), ("settle", 0),
                     ("gap_ms", 0), ("check_steps", 0)):
        v = getattr(args, flag, None)
        if v is not None and not v >= lo:
            raise ValueError(f"expected --{flag.replace('_', '-')} >= {lo}, got {v}")
    plan, notes = _plan(args)
    for n in notes:
        print(n)
    if not plan:
        raise ValueError(f"nothing to run: expected a workload for the device(s) here, got "
                         f"{' '.join(args.workloads or [])} (W3 and W4 run on CUDA; "
                         f"add --all-on-cpu to run them on the CPU)")
    report = rep.system_info(args)
    report["precision"] = args.precision
    report["results"], report["memory"] = [], []
    t_start = time.perf_counter()
    disagreements = []
    for wl, dev in plan:
        steps = args.steps or (wl.quick_steps if args.quick else wl.steps)[dev]
        warmup = args.warmup if args.warmup is not None else (1 if args.quick else wl.warmup[dev])
        batch = args.layer_batch if wl.kind == "layer" and args.layer_batch else None
        tf32 = " (TF32)" if args.precision == "high" and dev == "cuda" else ""
        print(f"{wl.name} on {dev}{tf32}: {wl.description}; {warmup} warm-up + {steps} timed "
              f"steps ...", flush=True)
        settle = args.settle if args.settle is not None else 0 if args.quick else wl.settle[dev]
        if getattr(args, "interleaved", False):
            if args.settle:
                raise ValueError(f"--interleaved times every step with no settle steps; "
                                 f"expected no --settle (or 0), got --settle {args.settle}")
            settle = 0
        check_steps = getattr(args, "check_steps", 3)
        agreement = (check_agreement(wl, dev, args.impls, steps=check_steps, batch=batch)
                     if check_steps else None)
        if agreement is not None:
            disagreements += agreement["disagreements"]
        entry = run_workload(wl, dev, steps, warmup, batch=batch, gap=args.gap_ms / 1e3,
                             impls=args.impls, settle=settle, precision=args.precision)
        entry["agreement"] = agreement
        report["results"].append(entry)
        print(rep.format_entry(entry), flush=True)
        if getattr(args, "interleaved", False):
            from gpugrad.tools.bench.alone import add_alone, format_alone
            add_alone(entry, wl, dev, steps, warmup, batch=batch, precision=args.precision)
            print(format_alone(entry), flush=True)
        if wl.name == "W1" and not args.no_memory:
            report["memory"].append(measure_memory_entry(wl, dev, args.impls))
    report["elapsed_s"] = time.perf_counter() - t_start
    report["load_average_after"] = rep.load_average()
    report["threads"]["numba_threading_layer"] = _numba_layer()
    report["targets"] = evaluate_targets(report)
    print(rep.format_footer(report))
    os.makedirs(args.out, exist_ok=True)
    tf32 = args.precision == "high" and any(dev == "cuda" for _, dev in plan)
    stem = args.name or rep.default_stem(report, quick=args.quick) + ("-tf32" if tf32 else "")
    path = os.path.join(args.out, stem + ".json")
    report["files"] = {"json": path}
    if not args.no_plot:
        png = os.path.join(args.out, stem + ".png")
        if rep.plot(report, png):
            report["files"]["png"] = png
    with open(path + ".tmp", "w") as f:
        json.dump(report, f, indent=1, default=_json_default)
    os.replace(path + ".tmp", path)
    print(f"wrote {', '.join(report['files'].values())}")
    for msg in disagreements:
        sys.stderr.write(f"gpugrad bench: error: {msg}\n")
    return 1 if disagreements else 0


def _numba_layer():
    import numba
    try:
        return numba.threading_layer()
    except ValueError:                      # no parallel Numba kernel ran
        return None


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


# ------------------------------------------------------------------------------ timing

def time_interleaved(impls: dict, steps: int, warmup: int = 1, gap: float = 0.0,
                     settle: int = 0) -> dict:
    """Run ``warmup`` untimed rounds, then ``steps`` rounds of one timed step of each
    implementation in turn (the order rotates every round); returns {name: [seconds per step]}.

    Each timed step is bracketed by the implementation's ``sync()`` (a no-op on the CPU), so
    GPU steps are timed to completion; ``settle`` untimed steps of the same implementation
    right before it take the cost of switching libraries (waking a thread pool, another
    library's pool still spinning), and ``gap`` seconds of sleep come before those.

    >>> class Nop:
    ...     def step(self): pass
    ...     def sync(self): pass
    >>> t = time_interleaved({"a": Nop(), "b": Nop()}, steps=3)
    >>> sorted(t), len(t["a"])
    (['a', 'b'], 3)
    """
    names = list(impls)
    for _ in range(warmup):
        for n in names:
            impls[n].step()
            impls[n].sync()
    gc.collect()
    times = {n: [] for n in names}
    clock = time.perf_counter
    for r in range(steps):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            im = impls[n]
            if gap:
                time.sleep(gap)
            for _ in range(settle):
                im.step()
            im.sync()
            t0 = clock()
            im.step()
            im.sync()
            times[n].append(clock() - t0)
    return times


def summarize(times: list, batch: int) -> dict:
    """Median, p10, p90, mean (seconds) and samples/s of one list of step times.

    >>> summarize([0.1, 0.2, 0.3], batch=30)["samples_per_s"]
    150.0
    """
    a = np.asarray(times, dtype=np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"summarize: expected a non-empty list of finite times, got {times!r}")
    med = float(np.median(a))
    return {"median_s": med, "p10_s": float(np.percentile(a, 10)),
            "p90_s": float(np.percentile(a, 90)), "mean_s": float(a.mean()),
            "min_s": float(a.min()),
            "samples_per_s": batch / med if med > 0 else math.inf, "times_s": a.tolist()}


def run_workload(wl, device: str, steps: int, warmup: int, batch=None, gap: float = 0.0,
                 impls=None, settle: int = 0, precision: str = "highest") -> dict:
    """Time the available implementations of ``wl`` on ``device`` (those named in ``impls``,
    default all); one result entry.

    >>> e = run_workload(bw.WORKLOADS["W2"], "cpu", steps=2, warmup=1)      # doctest: +SKIP
    >>> e["ratios"]["gpugrad/torch"] > 0                                     # doctest: +SKIP
    True
    """
    names = [n for n in bw.impl_names(wl, device, impls) if impls is None or n in impls]
    if not names:
        raise ValueError(f"none of the implementations {impls} runs {wl.name} on {device}; "
                         f"expected some of {bw.impl_names(wl, device)}")
    impls = bw.make_impls(wl, device, names, batch=batch, precision=precision)
    batch = batch or wl.batch_for(device)
    times = time_interleaved(impls, steps, warmup, gap, settle)
    entry = {"workload": wl.name, "device": device, "kind": wl.kind, "description":
             wl.description, "precision": precision if device == "cuda" else "highest",
             "batch": batch, "sizes": list(wl.sizes),
             "params": wl.params,
             "steps": steps, "warmup": warmup, "settle": settle, "gap_s": gap,
             "impls": {n: summarize(t, batch) for n, t in times.items()}}
    med = {n: s["median_s"] for n, s in entry["impls"].items()}
    ratios = {}
    for a in med:                     # every implementation vs torch, the floor and jax.jit
        for b in ("torch", "gemm", "jax"):
            if b in med and a != b and med[b] > 0:
                ratios[f"{a}/{b}"] = med[a] / med[b]
    from gpugrad.tools.bench.autocast_impls import peer_ratios
    ratios.update(peer_ratios(med))   # gpugrad-bf16/torch-bf16, gpugrad-fp16/torch-fp16
    if "fused" in med and "unfused" in med:
        ratios["fused/unfused"] = med["fused"] / med["unfused"]
    if wl.kind == "layer" and "gemm" in med:
        # non-GEMM time: the median over rounds of (step - the GEMM floor's step of the same
        # round), which cancels slow drifts of the machine better than a difference of medians
        g = np.asarray(times["gemm"])
        ng = {n: float(np.median(np.asarray(t) - g)) for n, t in times.items() if n != "gemm"}
        entry["non_gemm_s"] = ng
        entry["non_gemm_diff_of_medians_s"] = {n: med[n] - med["gemm"] for n in ng}
        if "fused" in ng and "unfused" in ng and ng["unfused"] > 0:
            ratios["non_gemm fused/unfused"] = ng["fused"] / ng["unfused"]
    entry["ratios"] = ratios
    del impls
    gc.collect()
    return entry


def measure_memory_entry(wl, device: str, impls=None) -> dict:
    """Peak step memory of ``wl`` for gpugrad, torch and numpy, each in a fresh process."""
    names = [n for n in bw.impl_names(wl, device) if n != "gemm" and (not impls or n in impls)]
    out = {"workload": wl.name, "device": device, "method": mem.MEMORY_METHOD, "impls": {}}
    for n in names:
        print(f"  peak memory of a {wl.name} step on {device}: {n} ...", flush=True)
        out["impls"][n] = mem.measure_memory(wl.name, n, device)
    peaks = {n: r.get("peak_mib") for n, r in out["impls"].items()}
    if peaks.get("gpugrad") is not None and peaks.get("torch"):
        out["ratio_gpugrad_torch"] = peaks["gpugrad"] / peaks["torch"]
    return out


def evaluate_targets(report: dict) -> list:
    """[{target, value, limit, met}] for each target whose measurement is in ``report``.

    >>> evaluate_targets({"results": [], "memory": []})
    []
    """
    out = []
    for label, dev, wl, key, limit, *prec in TARGETS:
        prec = prec[0] if prec else "highest"
        value = None
        if key == "memory":
            if prec != report.get("precision", "highest"):
                continue
            for m in report.get("memory", []):
                if (m["workload"], m["device"]) == (wl, dev):
                    value = m.get("ratio_gpugrad_torch")
        else:
            for e in report.get("results", []):
                if (e["workload"], e["device"], e.get("precision", "highest")) == (wl, dev, prec):
                    value = e["ratios"].get(key)
        if value is not None:
            out.append({"target": label, "device": dev, "workload": wl, "ratio": key,
                        "value": value, "limit": limit, "met": bool(value <= limit),
                        "missed_by": max(0.0, value / limit - 1.0)})
    return out


def _parser():
    p = argparse.ArgumentParser(prog="gpugrad bench")
    _add_arguments(p)
    return p


if __name__ == "__main__":
    sys.exit(main())
