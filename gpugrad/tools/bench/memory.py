"""Peak memory of a training step for ``gpugrad bench``: each implementation is probed in a
fresh Python process, so nothing another library allocated or cached is counted.

>>> r = measure_memory("W2", "numpy")                   # doctest: +SKIP
>>> r["peak_mib"] >= r["state_mib"]                      # doctest: +SKIP
True
"""
from __future__ import annotations

from gpugrad.tools.bench import workloads as bw

__all__ = ["memory_probe", "measure_memory", "MEMORY_METHOD"]


MEMORY_METHOD = (
    "Each implementation runs in a fresh Python process: two steps of a small MLP first (kernel "
    "compilation, thread pools and lazy library set-up are not counted), then the model, "
    "optimizer and batch are built (base = live memory now), two steps run (optimizer state and "
    "gradient buffers now exist), the peak is reset and two more steps run. peak = peak during "
    "those steps - base: the memory training needs beyond model and data (state = kept between "
    "steps, transient = the rest). CPU: live = VmRSS after gc + malloc_trim(0) (freed heap "
    "memory returned, so RSS counts what is in use), peak = VmHWM after /proc/self/clear_refs=5. "
    "CUDA: CuPy pool bytes in use (peak through a wrapping allocator) for gpugrad/numpy; "
    "torch.cuda.memory_allocated/max_memory_allocated for torch.")
_MARK = "GPUGRAD_BENCH_MEMORY:"


def _proc_status_kb(field_name):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _RssMeter:
    """Host memory: live = VmRSS after gc and malloc_trim (freed heap memory handed back, so
    RSS counts what is in use); peak = VmHWM since the last reset (ru_maxrss without one)."""
    method = "VmHWM after clear_refs, VmRSS after malloc_trim"

    def __init__(self):
        import ctypes
        import ctypes.util
        try:
            self._trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        except (OSError, AttributeError):
            self._trim = None
            self.method += " (no malloc_trim: freed heap memory may be counted)"

    def live(self):
        import gc
        gc.collect()
        if self._trim is not None:
            self._trim(0)
        return _proc_status_kb("VmRSS") * 1024

    def reset_peak(self):
        if not _reset_hwm():
            self.method = "ru_maxrss (no clear_refs: an upper bound since process start)"

    def peak(self):
        import resource
        if self.method.startswith("ru_maxrss"):
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return _proc_status_kb("VmHWM") * 1024


class _CupyMeter:
    """CuPy's default pool: live = bytes in use; peak tracked by a wrapping allocator."""
    method = "CuPy memory pool used bytes (peak via a wrapping allocator)"

    def __init__(self):
        cp = bw.xp_for("cuda")
        self.pool, self._peak = cp.get_default_memory_pool(), 0
        pool, me = self.pool, self

        def alloc(size):
            mem = pool.malloc(size)
            me._peak = max(me._peak, pool.used_bytes())
            return mem
        cp.cuda.set_allocator(alloc)

    def live(self):
        import gc
        gc.collect()
        return self.pool.used_bytes()

    def reset_peak(self):
        self._peak = self.pool.used_bytes()

    def peak(self):
        return self._peak


class _TorchCudaMeter:
    method = "torch.cuda.memory_allocated / max_memory_allocated"

    def __init__(self):
        import torch
        self.cuda = torch.cuda

    def live(self):
        import gc
        gc.collect()
        self.cuda.synchronize()
        return self.cuda.memory_allocated()

    def reset_peak(self):
        self.cuda.reset_peak_memory_stats()

    def peak(self):
        return self.cuda.max_memory_allocated()


def memory_probe(workload: str, impl: str, device: str = "cpu", steps: int = 2) -> dict:
    """Memory (MiB) a training step of one implementation needs beyond its model and data,
    measured in this process (meant to be a fresh one: see :func:`measure_memory`).

    Keys: ``peak_mib`` (the target's figure: peak during steady-state steps - model and data),
    ``state_mib`` (kept between steps: optimizer state, gradient buffers), ``transient_mib``
    (peak - what was live before the step) and ``model_data_mib``. See ``MEMORY_METHOD``.

    >>> r = memory_probe("W2", "numpy")          # doctest: +SKIP
    >>> r["peak_mib"] >= r["state_mib"]           # doctest: +SKIP
    True
    """
    wl = bw.WORKLOADS[workload]
    meter = (_TorchCudaMeter() if impl == "torch" else _CupyMeter()) if device == "cuda" \
        else _RssMeter()
    small = bw.Workload("small", wl.kind, (32, 64, 64, 10) if wl.kind == "mlp" else (32, 32),
                        {"cpu": 16, "cuda": 16}, (device,), {}, {})
    warm = bw.make_impls(small, device, [impl])[impl]   # compile kernels, start thread pools
    for _ in range(2):
        warm.step()
    warm.sync()
    del warm
    empty = meter.live()
    im = bw.make_impls(wl, device, [impl])[impl]
    im.sync()
    base = meter.live()
    for _ in range(2):                                   # allocate optimizer state, warm up
        im.step()
    im.sync()
    before = meter.live()
    meter.reset_peak()
    for _ in range(steps):
        im.step()
    im.sync()
    peak = meter.peak()
    mib = 2.0 ** 20
    return {"workload": workload, "impl": impl, "device": device, "steps": steps,
            "method": meter.method, "peak_mib": (peak - base) / mib,
            "state_mib": (before - base) / mib, "transient_mib": (peak - before) / mib,
            "model_data_mib": (base - empty) / mib}


def measure_memory(workload: str, impl: str, device: str = "cpu", timeout: float = 300) -> dict:
    """Run :func:`memory_probe` in a fresh Python process; on failure the dict has ``error``.

    >>> measure_memory("W2", "numpy")["peak_mib"] > 0        # doctest: +SKIP
    True
    """
    import json
    import subprocess
    import sys
    code = (f"import json, gpugrad.tools.bench.memory as b; r = b.memory_probe({workload!r}, "
            f"{impl!r}, {device!r}); print({_MARK!r} + json.dumps(r))")
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"workload": workload, "impl": impl, "device": device,
                "error": f"timed out after {timeout} s"}
    for line in p.stdout.splitlines():
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK):])
    tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
    return {"workload": workload, "impl": impl, "device": device,
            "error": f"exit code {p.returncode}: {' | '.join(tail)}"}
