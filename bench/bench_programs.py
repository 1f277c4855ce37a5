"""Whole NumPy programs after the import swap: ``examples/dropin/*.py`` run under
``import numpy as np`` and under ``import gpugrad.numpy as np`` (the one line changed, as
``tests/test_examples_dropin.py`` does), timed as a user meets them: each program's
``main()``, start to end, with its printing sent nowhere.

Two ways, both reported:

- **alone**: each library in a process of its own, ``main()`` run ``--repeats`` times; the
  first run (imports, first calls, caches) and the median of the later ones;
- **interleaved**: one process, the two versions alternating run by run, no warm-up; the
  median of the per-pair ratios, and the ratio of the first runs.

Ratios are gpugrad.numpy / NumPy (lower is better).  The table goes to
``bench/results/programs-<date>.md`` (``--out`` to change) with the command and machine::

    .venv/bin/python bench/bench_programs.py               # about a minute
    .venv/bin/python bench/bench_programs.py --repeats 5 --programs char_rnn,kmeans
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
import types

ROOT = pathlib.Path(__file__).resolve().parent.parent
DROPIN = ROOT / "examples" / "dropin"
NUMPY_IMPORT = "import numpy as np"
GPUGRAD_IMPORT = "import gpugrad.numpy as np"
PROGRAMS = sorted(p.stem for p in DROPIN.glob("*.py") if not p.stem.startswith("_"))
FLAVOURS = ("numpy", "gpugrad")


def load(stem, flavour):
    """examples/dropin/<stem>.py as a fresh module, its NumPy import line swapped for
    gpugrad.numpy's when ``flavour == "gpugrad"`` (the only change)."""
    path = DROPIN / f"{stem}.py"
    lines = path.read_text().splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if line.rstrip("\n") == NUMPY_IMPORT]
    if len(at) != 1:
        raise ValueError(f"{path}: expected one line {NUMPY_IMPORT!r}, found {len(at)}")
    if flavour == "gpugrad":
        lines[at[0]] = GPUGRAD_IMPORT + "\n"
    mod = types.ModuleType(f"dropin_{stem}_{flavour}")
    mod.__file__ = str(path)
    exec(compile("".join(lines), str(path), "exec"), mod.__dict__)
    return mod


def run_once(mod):
    """Seconds one ``mod.main()`` takes, its output discarded."""
    with contextlib.redirect_stdout(io.StringIO()):
        t = time.perf_counter()
        mod.main()
        return time.perf_counter() - t


def alone(stem, flavour, repeats):
    """[seconds of each run] of one program under one library, in this (fresh) process."""
    mod = load(stem, flavour)
    return [run_once(mod) for _ in range(repeats)]


def interleaved(stem, repeats):
    """{flavour: [seconds of each run]}, the two versions alternating, in this process."""
    mods = {f: load(stem, f) for f in FLAVOURS}
    times = {f: [] for f in FLAVOURS}
    for _ in range(repeats):
        for f in FLAVOURS:
            times[f].append(run_once(mods[f]))
    return times


def _alone_in_subprocess(stem, flavour, repeats):
    out = subprocess.run([sys.executable, __file__, "--worker", f"{stem}:{flavour}",
                          "--repeats", str(repeats)], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _ms(s):
    return f"{s * 1e3:.1f} ms"


def measure(programs, repeats):
    """Rows of the report, one per program."""
    rows = []
    for stem in programs:
        a = {f: _alone_in_subprocess(stem, f, repeats) for f in FLAVOURS}
        i = interleaved(stem, repeats)
        later = {f: statistics.median(a[f][1:] or a[f]) for f in FLAVOURS}
        pairs = [g / n for n, g in zip(i["numpy"][1:] or i["numpy"],
                                       i["gpugrad"][1:] or i["gpugrad"])]
        rows.append({
            "program": stem,
            "numpy first": a["numpy"][0], "gpugrad first": a["gpugrad"][0],
            "numpy median": later["numpy"], "gpugrad median": later["gpugrad"],
            "alone ratio": later["gpugrad"] / later["numpy"],
            "interleaved ratio": statistics.median(pairs),
            "interleaved first ratio": i["gpugrad"][0] / i["numpy"][0],
        })
        print(f"{stem:20s} alone {rows[-1]['alone ratio']:.2f}x  interleaved "
              f"{rows[-1]['interleaved ratio']:.2f}x", file=sys.stderr)
    return rows


def report(rows, argv, repeats):
    import numpy
    import gpugrad

    lines = [f"# NumPy programs after the import swap, {datetime.date.today().isoformat()}", "",
             f"Command: `{' '.join(['python bench/bench_programs.py'] + argv)}`", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores "
             f"(timings on a shared machine are noisy), Python {platform.python_version()}, "
             f"NumPy {numpy.__version__}, gpugrad {gpugrad.__version__}", "",
             f"Each program's `main()` from `examples/dropin/`, {repeats} runs per library. "
             "Ratios are gpugrad.numpy / NumPy (lower is better). *Alone*: each library in a "
             "process of its own, median of runs 2..n (first run listed apart). "
             "*Interleaved*: one process, alternating, median of the per-pair ratios of runs "
             "2..n, and the ratio of the two first runs.", "",
             "| program | NumPy | gpugrad.numpy | alone | interleaved | first run NumPy | "
             "first run gpugrad | interleaved first |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['program']} | {_ms(r['numpy median'])} | "
                     f"{_ms(r['gpugrad median'])} | {r['alone ratio']:.2f}x | "
                     f"{r['interleaved ratio']:.2f}x | {_ms(r['numpy first'])} | "
                     f"{_ms(r['gpugrad first'])} | {r['interleaved first ratio']:.2f}x |")
    ratios = [r["alone ratio"] for r in rows]
    lines += ["", f"Median alone ratio {statistics.median(ratios):.2f}x, worst "
              f"{max(ratios):.2f}x ({rows[ratios.index(max(ratios))]['program']})."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=7, help="runs of main() per library")
    p.add_argument("--programs", default=",".join(PROGRAMS),
                   help="comma-separated names from examples/dropin")
    p.add_argument("--out", default=None, help="markdown file (default "
                   "bench/results/programs-<date>.md)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats < 2:
        p.error(f"--repeats: expected at least 2 (the first run is reported apart), "
                f"got {args.repeats}")
    if args.worker:
        stem, flavour = args.worker.split(":")
        print(json.dumps(alone(stem, flavour, args.repeats)))
        return
    programs = [s for s in args.programs.split(",") if s]
    unknown = sorted(set(programs) - set(PROGRAMS))
    if unknown:
        p.error(f"--programs: unknown {unknown}; expected names from {PROGRAMS}")
    rows = measure(programs, args.repeats)
    argv = sys.argv[1:] if argv is None else list(argv)
    text = report(rows, argv, args.repeats)
    out = pathlib.Path(args.out) if args.out else \
        ROOT / "bench" / "results" / f"programs-{datetime.date.today().isoformat()}.md"
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
