"""Summarize a folder written by bench/repro_bench.sh, bench/repro_train.sh and
bench/compile_times.py: medians and min-max over the repeated runs, as a Markdown table.

`python bench/summarize_claims.py FOLDER` prints the tables that FOLDER/README.md quotes.
"""
import glob
import json
import os
import re
import sys
from datetime import datetime, timedelta

BUSY_LOG = "busy-processes.log"   # `HH:MM:SS pid %cpu command` lines, one per busy process per 2 s


def foreign_busy(folder, start, seconds, own=("gpugrad", "ps -eo", "awk")):
    """Commands other than our own that the busy log saw between start and start + seconds."""
    path = os.path.join(folder, BUSY_LOG)
    if not os.path.exists(path):
        return []
    t0 = start.strftime("%H:%M:%S")
    t1 = (start + timedelta(seconds=seconds)).strftime("%H:%M:%S")
    seen = set()
    for line in open(path):
        parts = line.split(None, 3)
        if len(parts) == 4 and t0 <= parts[0] <= t1 and not any(o in parts[3] for o in own):
            seen.add(parts[3].strip()[:60])
    return sorted(seen)


def med(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fmt(v, nd):
    return f"{med(v):.{nd}f} ({min(v):.{nd}f}-{max(v):.{nd}f}), n={len(v)}"


def bench(folder):
    print("| settle | workload | gpugrad ms | torch ms | GEMM floor ms | gpugrad/torch | gpugrad/floor | torch/floor |")
    print("|---|---|---|---|---|---|---|---|")
    machine, notes = None, []
    for s in ("1", "0"):
        runs = []
        for f in sorted(glob.glob(os.path.join(folder, f"settle{s}-*.json"))):
            d = json.load(open(f))
            busy = foreign_busy(folder, datetime.fromisoformat(d["date"]).replace(tzinfo=None), d["elapsed_s"])
            if busy:
                notes.append(f"left out {os.path.basename(f)}: other jobs ran during it: {busy}")
            else:
                runs.append(d)
        if not runs:
            continue
        machine = machine or (runs[0]["machine"], runs[0]["platform"], runs[0]["versions"], runs[0]["threads"].get("numba_threading_layer"))
        for wl in ("W1", "W2"):
            rs = [r for d in runs for r in d["results"] if r["workload"] == wl]
            ms = {k: [r["impls"][k]["median_s"] * 1e3 for r in rs] for k in ("gpugrad", "torch", "gemm")}
            rat = {k: [r["ratios"][k] for r in rs] for k in ("gpugrad/torch", "gpugrad/gemm", "torch/gemm")}
            nd = 1 if wl == "W1" else 3
            print(f"| {rs[0]['settle']} | {wl} | {fmt(ms['gpugrad'], nd)} | {fmt(ms['torch'], nd)} | {fmt(ms['gemm'], nd)} "
                  f"| {fmt(rat['gpugrad/torch'], 3)} | {fmt(rat['gpugrad/gemm'], 3)} | {fmt(rat['torch/gemm'], 3)} |")
        notes.append(f"settle{s} runs: " + "; ".join(
            f"{os.path.basename(d['files']['json'])} load {d['load_average_before'][0]:.2f}->{d['load_average_after'][0]:.2f}"
            for d in runs))
    print("\n" + "\n".join("- " + n for n in notes))
    print(f"\nmachine: {machine}\n")


def train(folder):
    for kind in ("warm", "cold"):
        walls, accs, times = [], [], []
        for f in sorted(glob.glob(os.path.join(folder, f"train-{kind}-*.time"))):
            m = re.search(r"wall_s ([\d.]+)", open(f).read())
            if m:
                walls.append(float(m.group(1)))
            mf = f.replace(".time", ".metrics.json")
            if os.path.exists(mf):
                d = json.load(open(mf))
                accs.append(d["epochs"][-1].get("test_accuracy"))
                times.append(d["total_time_s"])
        if walls:
            print(f"- {kind}: wall s {fmt(walls, 1)}; in-process total_time_s {fmt(times, 1)}; "
                  f"final test accuracy {fmt(accs, 4)}")


def compile_times(folder):
    f = os.path.join(folder, "compile-times.json")
    if not os.path.exists(f):
        return
    d = json.load(open(f))
    print("\n| first call | cold cache s | warm cache s |\n|---|---|---|")
    for k in d["rounds"][0]["cold"]:
        print(f"| {k} | {fmt([r['cold'][k] for r in d['rounds']], 2)} | {fmt([r['warm'][k] for r in d['rounds']], 3)} |")


if __name__ == "__main__":
    folder = sys.argv[1]
    bench(folder)
    train(folder)
    compile_times(folder)
