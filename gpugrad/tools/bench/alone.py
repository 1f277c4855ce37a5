"""``gpugrad bench --interleaved``: each implementation timed two ways, side by side.

- *interleaved*: one timed step of each implementation in turn, in one process, with no settle
  steps, so every timed step pays for switching libraries (another OpenMP pool still awake,
  caches taken by the other library) -- what a script that alternates them sees;
- *alone*: the same steps in a fresh process that runs only that implementation (``python -m
  gpugrad.tools.bench.alone``), so nothing else competes for its threads in the process.

The difference between the two columns is the cost of sharing the process (and, on a busy
machine, of sharing the cores).

>>> times = alone_times("W2", "cpu", "numpy", steps=2, warmup=1)   # doctest: +SKIP
>>> len(times)                                                      # doctest: +SKIP
2
"""
from __future__ import annotations

import json
import subprocess
import sys

__all__ = ["alone_times", "add_alone", "format_alone"]


def alone_times(workload: str, device: str, impl: str, steps: int, warmup: int,
                batch: int | None = None, precision: str = "highest",
                timeout: float = 1800.0) -> list:
    """Seconds per step of ``impl`` on ``workload``, timed in a fresh Python process that runs
    nothing else.  Raises RuntimeError (with the child's last error line) when it fails.

    >>> alone_times("W2", "cpu", "nope", 1, 0)                    # doctest: +SKIP
    Traceback (most recent call last):
    RuntimeError: ...
    """
    cmd = [sys.executable, "-m", "gpugrad.tools.bench.alone", workload, device, impl, str(steps),
           str(warmup), str(batch or 0), precision]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("[")]
    if r.returncode != 0 or not lines:
        err = (r.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"timing {impl} alone on {workload}/{device} failed: expected a "
                           f"list of step times, got exit status {r.returncode}: {err}")
    return json.loads(lines[-1])


def add_alone(entry: dict, wl, device: str, steps: int, warmup: int, batch=None,
              precision: str = "highest") -> dict:
    """Add ``entry["alone"]`` ({impl: summary}) and ``entry["ratios_alone"]`` (each
    implementation alone vs torch alone) to a :func:`gpugrad.tools.bench.run_workload` entry."""
    from gpugrad.tools.bench import summarize
    alone = {}
    for name in entry["impls"]:
        t = alone_times(wl.name, device, name, steps, warmup, batch, precision)
        alone[name] = summarize(t, entry["batch"])
    entry["alone"] = alone
    med = {n: s["median_s"] for n, s in alone.items()}
    entry["ratios_alone"] = {f"{n}/torch": m / med["torch"] for n, m in med.items()
                             if n != "torch" and med.get("torch")}
    return entry


def format_alone(entry: dict) -> str:
    """Lines of median ms per implementation: interleaved (no settle) next to alone.

    >>> e = {"impls": {"a": {"median_s": 2e-3}}, "alone": {"a": {"median_s": 1e-3}}}
    >>> print(format_alone(e))
      impl     interleaved ms  alone ms  interleaved/alone
      a                 2.000     1.000              2.000
    """
    lines = [f"  {'impl':<9}{'interleaved ms':>15}{'alone ms':>10}{'interleaved/alone':>19}"]
    for n, s in entry["impls"].items():
        a = entry.get("alone", {}).get(n)
        am = f"{a['median_s'] * 1e3:10.3f}" if a else f"{'-':>10}"
        r = f"{s['median_s'] / a['median_s']:19.3f}" if a and a["median_s"] > 0 else f"{'-':>19}"
        lines.append(f"  {n:<9}{s['median_s'] * 1e3:15.3f}{am}{r}")
    return "\n".join(lines)


def _worker(argv):
    """The child process: time one implementation alone; prints the step times as JSON."""
    from gpugrad.tools.bench import workloads as bw
    from gpugrad.tools.bench import time_interleaved
    workload, device, impl, steps, warmup, batch, precision = argv
    wl = bw.WORKLOADS[workload]
    impls = bw.make_impls(wl, device, [impl], batch=int(batch) or None, precision=precision)
    times = time_interleaved(impls, int(steps), int(warmup))[impl]
    print(json.dumps(times), flush=True)


if __name__ == "__main__":
    _worker(sys.argv[1:])
