"""Reporting for ``gpugrad bench``: the machine and library versions, the printed tables, the
markdown summary and the PNG plot.

>>> info = system_info()
>>> sorted(k for k in ("cpu_model", "versions", "threads") if k in info)
['cpu_model', 'threads', 'versions']
"""
from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import re
import shlex
import socket
import sys

from gpugrad.tools.bench import workloads as bw

__all__ = ["system_info", "load_average", "default_stem", "format_entry", "format_footer",
           "format_markdown", "plot"]


# ------------------------------------------------------------------------------ the machine

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    """The 1/5/15-minute load averages, or None where the OS has none.

    >>> la = load_average(); la is None or len(la) == 3
    True
    """
    try:
        return list(os.getloadavg())
    except (OSError, AttributeError):
        return None


def _version(dist):
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _gpu_names():
    from gpugrad import backend, cuda
    if not cuda.is_available():
        return []
    cp = backend.device("cuda").xp
    out = []
    for i in range(cuda.device_count()):
        name = cp.cuda.runtime.getDeviceProperties(i)["name"]
        out.append(name.decode() if isinstance(name, bytes) else str(name))
    return out


def _threads():
    t = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                         "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}
    import numba
    t["numba"] = numba.get_num_threads()
    t["numba_threading_layer_config"] = numba.config.THREADING_LAYER
    if bw.torch_available():
        import torch
        t["torch"] = torch.get_num_threads()
        t["torch_interop"] = torch.get_num_interop_threads()
    try:
        import threadpoolctl
        t["threadpools"] = [{k: p.get(k) for k in ("internal_api", "num_threads", "version",
                                                   "threading_layer", "architecture")}
                            | {"lib": os.path.basename(p.get("filepath", ""))}
                            for p in threadpoolctl.threadpool_info()]
    except ImportError:
        t["threadpools"] = "threadpoolctl not installed"
    return t


def system_info(args=None) -> dict:
    """Everything a result needs to be read later: date, command, machine, devices, library
    versions, thread counts, load average and numeric settings.

    >>> system_info()["schema"]
    'gpugrad-bench/1'
    """
    import numpy
    from gpugrad import __version__, get_matmul_precision
    gpus = _gpu_names()
    cpu = _cpu_model()
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cupy = None
    if gpus:
        from gpugrad import backend
        cupy = backend.device("cuda").xp.__version__
    else:
        cupy = _version("cupy-cuda12x") or _version("cupy-cuda13x") or _version("cupy")
    torch_info = {}
    if bw.torch_available():
        import torch
        torch_info = {"version": torch.__version__,
                      "cuda_matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32),
                      "float32_matmul_precision": torch.get_float32_matmul_precision()}
    info = {
        "schema": "gpugrad-bench/1",
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "args": {k: v for k, v in vars(args).items() if not callable(v)} if args else None,
        "host": socket.gethostname(), "platform": platform.platform(),
        "python": platform.python_version(), "cpu_model": cpu, "cpu_count": os.cpu_count(),
        "cpus_usable": ncpu, "devices": {"cpu": cpu, "cuda": gpus},
        "machine": gpus[0] if gpus else f"{cpu}, {ncpu} CPUs",
        "versions": {"gpugrad": __version__, "numpy": numpy.__version__,
                     "numba": _version("numba"), "torch": torch_info.get("version"),
                     "cupy": cupy, "matplotlib": _version("matplotlib")},
        "torch": torch_info, "threads": _threads(), "load_average_before": load_average(),
        "settings": {"dtype": "float32", "loss": "mean softmax cross-entropy, integer labels",
                     "optimizer": f"SGD lr={bw.LR} momentum={bw.MOMENTUM}", "activation": "relu",
                     "gpugrad_matmul_precision": get_matmul_precision(),
                     "timing": "median of per-step wall times after warm-up; implementations "
                               "interleaved one step each, order rotated every round; on CUDA "
                               "each step is bracketed by device synchronization"},
    }
    return info


def default_stem(report: dict, quick: bool = False) -> str:
    """File stem <device>-<date>[-quick]: the GPU's name when CUDA ran, else the CPU's.

    >>> default_stem({"devices": {"cpu": "AMD EPYC", "cuda": []}, "cpus_usable": 2,
    ...               "date": "2025-01-02T03:04:05", "results": []})
    'cpu-amd-epyc-2c-2025-01-02'
    """
    ran_cuda = any(e["device"] == "cuda" for e in report.get("results", []))
    gpus = report["devices"].get("cuda") or []
    cpu = f"cpu-{report['devices']['cpu']}-{report['cpus_usable']}c"
    dev = gpus[0] if ran_cuda and gpus else cpu
    slug = re.sub(r"[^a-z0-9]+", "-", dev.lower()).strip("-")
    return f"{slug}-{report['date'][:10]}" + ("-quick" if quick else "")


# ------------------------------------------------------------------------------ tables

def _fmt_s(s):
    return f"{s * 1e3:10.3f}"


def format_entry(e: dict) -> str:
    """The table of one workload on one device: median/p10/p90 ms, samples/s and ratios.

    >>> e = {"workload": "W2", "device": "cpu", "description": "d", "steps": 1, "batch": 2,
    ...      "ratios": {}, "impls": {"numpy": {"median_s": 1.0, "p10_s": 1.0, "p90_s": 1.0,
    ...      "samples_per_s": 2.0}}}
    >>> "numpy" in format_entry(e)
    True
    """
    tf32 = " (TF32)" if e.get("precision") == "high" and e["device"] == "cuda" else ""
    head = (f"{e['workload']} on {e['device']}{tf32}: {e['description']}; {e['steps']} timed "
            f"steps")
    lines = [head, f"  {'impl':<9}{'median ms':>10}{'p10 ms':>10}{'p90 ms':>10}"
                   f"{'samples/s':>12}{'vs torch':>10}{'vs GEMM':>9}"]
    for n, s in e["impls"].items():
        vt = e["ratios"].get(f"{n}/torch", 1.0 if n == "torch" and "torch" in e["impls"] else None)
        vg = e["ratios"].get(f"{n}/gemm", 1.0 if n == "gemm" else None)
        fmt = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        lines.append(f"  {n:<9}{_fmt_s(s['median_s'])}{_fmt_s(s['p10_s'])}{_fmt_s(s['p90_s'])}"
                     f"{s['samples_per_s']:12.1f}{fmt(vt):>10}{fmt(vg):>9}")
    if "non_gemm_s" in e:
        ng = e["non_gemm_s"]
        lines.append("  non-GEMM time (median of step - GEMM floor, same round): " + ", ".join(
            f"{k} {v * 1e3:.3f} ms" for k, v in ng.items()))
        r = e["ratios"].get("non_gemm fused/unfused")
        if r is not None:
            lines.append(f"  fused/unfused non-GEMM time: {r:.3f}")
        elif ng.get("unfused", 1.0) <= 0:
            lines.append("  fused/unfused non-GEMM time: not measurable (the unfused path's "
                         "non-GEMM time is within the noise; more --steps)")
    ag = e.get("agreement")
    if ag:
        errs = ", ".join(f"{n} " + " ".join(f"{k} {v:.1e}" for k, v in es.items())
                         for n, es in ag["errors"].items())
        lines.append(f"  agreement with {ag['reference']} over {ag['steps']} step(s), relative "
                     f"errors: {errs or '-'}")
        lines += [f"  DISAGREES: {m}" for m in ag["disagreements"]]
    return "\n".join(lines)


def format_footer(report: dict) -> str:
    """Peak memory, targets met/missed and the method notes.

    >>> "Targets" in format_footer({"memory": [], "targets": []})
    True
    """
    lines = []
    for m in report.get("memory", []):
        lines.append(f"Peak memory of a {m['workload']} step on {m['device']} (MiB, see note 1):")
        for n, r in m["impls"].items():
            if "error" in r:
                lines.append(f"  {n:<9} error: {r['error']}")
            else:
                lines.append(f"  {n:<9} peak {r['peak_mib']:8.1f} = state {r['state_mib']:7.1f} "
                             f"+ transient {r['transient_mib']:7.1f}   (model+data "
                             f"{r['model_data_mib']:.1f})")
        if "ratio_gpugrad_torch" in m:
            lines.append(f"  gpugrad/torch peak: {m['ratio_gpugrad_torch']:.3f}")
    lines.append("Targets (ratios from this run):")
    for t in report.get("targets", []):
        status = "met   " if t["met"] else "MISSED"
        extra = "" if t["met"] else f"  (over by {t['missed_by'] * 100:.1f}%)"
        lines.append(f"  [{status}] {t['target']}: {t['value']:.3f}{extra}")
    if not report.get("targets"):
        lines.append("  (none of the targeted measurements ran)")
    lines.append("Notes: times are medians of per-step wall times; implementations take turns, "
                 "one timed step each per round (order rotated every round), each timed step "
                 "right after 'settle' untimed steps of the same implementation; 'gemm' is only "
                 "the GEMMs of the step, into preallocated buffers.")
    if report.get("memory"):
        lines.append("  1. " + report["memory"][0]["method"])
    return "\n".join(lines)


def format_markdown(report: dict) -> str:
    """A markdown table of medians and ratios for every workload and device in ``report``.

    >>> format_markdown({"results": []}).startswith("| workload")
    True
    """
    rows = ["| workload | device | impl | median ms | p10-p90 ms | samples/s | vs torch "
            "| vs GEMM |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for e in report.get("results", []):
        for n, s in e["impls"].items():
            vt = e["ratios"].get(f"{n}/torch")
            vg = e["ratios"].get(f"{n}/gemm")
            rows.append(f"| {e['workload']} | {e['device']} | {n} | {s['median_s'] * 1e3:.3f} | "
                        f"{s['p10_s'] * 1e3:.3f}-{s['p90_s'] * 1e3:.3f} | "
                        f"{s['samples_per_s']:,.0f} | {'-' if vt is None else f'{vt:.3f}'} | "
                        f"{'-' if vg is None else f'{vg:.3f}'} |")
    return "\n".join(rows)


# ------------------------------------------------------------------------------ plot

def plot(report: dict, path: str) -> bool:
    """Grouped bars of samples/s, one panel per (workload, device), one bar per implementation.
    Returns False (with a message) when matplotlib is not installed.

    >>> plot({"results": []}, "/tmp/none.png")                 # doctest: +SKIP
    False
    """
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)")
        return False
    entries = report.get("results", [])
    if not entries:
        return False
    colors = {"gpugrad": "#d62728", "fused": "#d62728", "unfused": "#ff9896", "torch": "#1f77b4",
              "numpy": "#2ca02c", "gemm": "#7f7f7f"}
    n = len(entries)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, e in zip(axes.flat, entries):
        names = list(e["impls"])
        vals = [e["impls"][k]["samples_per_s"] for k in names]
        lo = [v - e["batch"] / e["impls"][k]["p90_s"] for k, v in zip(names, vals)]
        hi = [e["batch"] / e["impls"][k]["p10_s"] - v for k, v in zip(names, vals)]
        ax.bar(names, vals, yerr=[lo, hi], capsize=3,
               color=[colors.get(k, "#9467bd") for k in names])
        ax.set_title(f"{e['workload']} on {e['device']} (batch {e['batch']})", fontsize=10)
        ax.set_ylabel("samples/s (median; p10-p90)")
        for i, v in enumerate(vals):
            ax.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(f"gpugrad bench - {report.get('machine', '')} - {report.get('date', '')[:10]}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
