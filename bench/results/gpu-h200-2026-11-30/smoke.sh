#!/usr/bin/env bash
# gpugrad GPU smoke check for an H100/H200 machine without a package registry; one call, under
# 4 minutes by default. Written against the code as of 2026-11-30: a reference and a fallback until
# the project's own bench/gpu_check.sh exists.
#
# Use: copy it into the checkout as an untracked file (so it travels with the working tree), run
#   bash gpu_smoke.sh        (results and logs land in $OUT, or /tmp/gg-smoke-out)
# Optional environment: SMOKE_BUDGET=225 (seconds for all phases; the optional ones run only if
# time is left), SMOKE_TORCH=1 (add PyTorch eager to the timings), SMOKE_PHASES="env ktests
# check perf bench sanitize suite" (subset), SMOKE_W3_STEPS=10, SMOKE_W4_STEPS=30.
#
# Phases (logs in $OUT, at most 8 files so that all come back; summary printed last):
#   env      GPU, driver, CuPy/NVRTC/numba versions, where CuPy finds CUDA headers (crt/mma.h?),
#            pip install -e ., nvcc sm_90 -Xptxas -v of the .cu files + SASS instruction counts
#   ktests   tests/test_kernels_cuda.py (xdist), test_kernels_cuda_numba.py, test_kernels_nvcc.py
#   check    every kernel vs a float64 NumPy reference on odd shapes (poisoned allocations),
#            > 2**31-element indexing, the gridDim.y limit, numba.cuda on CuPy arrays, host-sync
#            probe of a training step
#   perf     ceilings (copy, SGEMM/TF32/FP16), each W3-layer kernel vs bytes/FLOPs, autotuner
#            candidates, W3/W4 steps: gpugrad vs hand-written CuPy vs GEMM-only floor, FP32 and TF32
#   bench    `python -m gpugrad bench --quick` on W3 W4 layer (the project's own CLI on CUDA)
#   sanitize compute-sanitizer memcheck + racecheck on small launches of every kernel (optional)
#   suite    pytest -m cuda over the rest of tests/ (optional, whatever time is left)
set -u
START=$(date +%s)
BUDGET=${SMOKE_BUDGET:-225}
PHASES=${SMOKE_PHASES:-"env ktests check perf bench sanitize suite"}
ROOT=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
cd "$ROOT" || exit 2
OUT=${OUT:-/tmp/gg-smoke-out}
WORK=$(mktemp -d /tmp/gg-smoke.XXXX)
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

left() { echo $(( START + BUDGET - $(date +%s) )); }
want() { case " $PHASES " in *" $1 "*) return 0;; *) return 1;; esac; }
note() { echo "$*" | tee -a "$SUMMARY"; }

# run_phase NAME LIMIT MIN_LEFT CMD...: run CMD with a timeout of min(LIMIT, time left), log to
# $OUT/NAME.log, one summary line. Skipped when fewer than MIN_LEFT seconds remain.
run_phase() {
    local name=$1 limit=$2 min_left=$3; shift 3
    want "$name" || return 0
    local l; l=$(left)
    if [ "$l" -lt "$min_left" ]; then note "[$name] SKIPPED: ${l}s left of ${BUDGET}s"; return 0; fi
    [ "$limit" -gt "$l" ] && limit=$l
    local t0; t0=$(date +%s)
    echo ">>> [$name] (limit ${limit}s)"
    timeout -k 5 "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    local msg="rc=$rc"; [ $rc -eq 124 ] || [ $rc -eq 137 ] && msg="TIMEOUT after ${limit}s"
    note "[$name] $msg in $(( $(date +%s) - t0 ))s"
}

# ------------------------------------------------------------------------------ helper programs
cat > "$WORK/gg_check.py" <<'PYEOF'
"""Correctness of every gpugrad CUDA kernel against float64 NumPy references, on odd shapes.

Each check prints PASS/FAIL/KNOWN with the normwise relative error; every CuPy allocation is
poisoned with NaN bytes first (so an unwritten output element fails). --dry-cpu runs the
dispatch-level checks on NumPy arrays (the harness's own test, no GPU needed).
"""
import argparse
import os
import sys
import time
import traceback
import warnings

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--dry-cpu", action="store_true")
ap.add_argument("--no-big", action="store_true", help="skip the > 2**31-element checks")
ap.add_argument("--quick", action="store_true", help="fewer shapes")
args = ap.parse_args()
DRY = args.dry_cpu

if DRY:
    xp = np
else:
    import cupy as xp
    import cupyx  # noqa: F401

from gpugrad import kernels                                        # noqa: E402
from gpugrad.kernels import reference as ref                       # noqa: E402
from gpugrad.kernels.activations import ACTIVATIONS, CODE          # noqa: E402

if not DRY:
    from gpugrad.kernels import cuda as kc
    from cupy._core import _routines_linalg as linalg

ROWS = []
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12, "tf32": 5e-3}
SLOPE = 0.2


def record(name, status, info=""):
    ROWS.append((name, status, info))
    print(f"{status:5s} {name}  {info}", flush=True)


def host(a):
    if a is None:
        return None
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def relerr(got, exp):
    """Normwise relative error of got against a float64 reference; inf on NaN/shape mismatch."""
    if exp is None:
        return 0.0 if got is None else np.inf
    if got is None:
        return np.inf
    g = host(got).astype(np.float64)
    e = np.asarray(exp, np.float64)
    if g.shape != e.shape or not np.isfinite(g).all():
        return np.inf
    d = np.linalg.norm((g - e).ravel())
    n = np.linalg.norm(e.ravel())
    return d / n if n > 0 else d


def run(name, fn):
    try:
        fn()
    except Exception as exc:   # a crash is a failure of that check, not of the whole script
        record(name, "FAIL", f"{type(exc).__name__}: {str(exc)[:400]}")
        traceback.print_exc(limit=4)


def expect(name, errs, tol):
    worst = max(errs) if errs else 0.0
    record(name, "PASS" if worst <= tol else "FAIL",
           "err " + " ".join(f"{e:.1e}" for e in errs) + f" (tol {tol:.0e})")


rng = np.random.default_rng(int(time.time()))          # fresh inputs every run (METHOD.md)


def randn(*shape, dtype=np.float64, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def dev(a):
    return xp.array(a)          # always a copy (NumPy's asarray would alias in --dry-cpu)


# ----------------------------------------------------------------------------- poison allocator
if not DRY:
    _pool = xp.get_default_memory_pool()

    def _poisoned(size):
        mem = _pool.malloc(size)
        if size:
            xp.cuda.runtime.memsetAsync(mem.ptr, 0xFF, size, xp.cuda.get_current_stream().ptr)
        return mem

    xp.cuda.set_allocator(_poisoned)          # 0xFF.. is NaN in float32 and float64


# ----------------------------------------------------------------------------- linear layer
SHAPES = [(1, 1, 1), (7, 129, 7), (65, 17, 10), (130, 257, 67), (300, 33, 129)]
if args.quick:
    SHAPES = [(7, 129, 7), (130, 257, 67)]


def check_linear(act, dtype, shape, how):
    n, k, m = shape
    x, W, b, dy = randn(n, k), randn(k, m, scale=k ** -0.5), randn(m), randn(n, m)
    x, W, b, dy = (a.astype(dtype) for a in (x, W, b, dy))
    tol = TOL["tf32"] if how in ("tf32", "cublas-high") else TOL[np.dtype(dtype)]
    precision = "high" if how in ("tf32", "cublas-high") else "highest"
    if not DRY:
        kc.choose = lambda *a, **kw: {"cublas-high": "cublas"}.get(how, how)
        before = linalg.get_compute_type(np.float32)
    kernels.set_matmul_precision(precision)
    try:
        y, z = kernels.linear_act_forward(dev(x), dev(W), dev(b), act, SLOPE)
        y_ref, z_ref = ref.linear_act_forward(x.astype(np.float64), W.astype(np.float64),
                                              b.astype(np.float64), act, SLOPE)
        errs = [relerr(y, y_ref), relerr(z, z_ref)]
        # backward against the reference fed the kernel's own y/z (isolates backward; a relu
        # mask from float64 y would differ where y ~ 0)
        yk, zk = host(y), host(z)
        dW_out = xp.full(W.shape, np.nan, dtype)
        dy_d = dev(dy)
        dx, dW, db = kernels.linear_act_backward(dy_d, dev(x), dev(W), y, z, act, SLOPE,
                                                 dW_out=dW_out)
        g_ref = ref.linear_act_backward(dy.astype(np.float64), x.astype(np.float64),
                                        W.astype(np.float64),
                                        None if yk is None else yk.astype(np.float64),
                                        None if zk is None else zk.astype(np.float64), act, SLOPE)
        errs += [relerr(g, r) for g, r in zip((dx, dW, db), g_ref)]
        errs.append(0.0 if dW is dW_out else np.inf)                       # wrote into dW_out
        errs.append(relerr(dy_d, dy.astype(np.float64)))                   # dy not modified
        if not DRY:
            errs.append(0.0 if linalg.get_compute_type(np.float32) == before else np.inf)
    finally:
        kernels.set_matmul_precision("highest")
    expect(f"linear {how:11s} {act:10s} {np.dtype(dtype).name} {shape}", errs, tol)


HOWS = ["cublas"] if DRY else ["cublas", "custom", "cublas-high"]
if not DRY:
    _orig_choose = kc.choose
for how in HOWS:
    for dtype in (np.float32, np.float64):
        if how in ("tf32", "cublas-high") and dtype != np.float32:
            continue
        for act in ACTIVATIONS:
            for shape in SHAPES:
                run(f"linear {how} {act} {np.dtype(dtype).name} {shape}",
                    lambda: check_linear(act, dtype, shape, how))
if not DRY:
    kc.choose = _orig_choose


# ----------------------------------------------------------------------------- activations
def check_act(act, dtype, shape, inplace):
    z = randn(*shape, scale=3.0).astype(dtype)
    dy = randn(*shape).astype(dtype)
    zd = dev(z)
    y = kernels.act_forward(zd, act, out=zd if inplace else None, negative_slope=SLOPE)
    y_ref = ref.act_forward(z.astype(np.float64), act, SLOPE)
    yk = host(y)
    dz = kernels.act_backward(dev(dy), dev(yk), dev(z), act, SLOPE)
    dz_ref = ref.act_backward(dy.astype(np.float64), yk.astype(np.float64),
                              z.astype(np.float64), act, SLOPE)
    expect(f"act {act:10s} {np.dtype(dtype).name} {shape} inplace={inplace}",
           [relerr(y, y_ref), relerr(dz, dz_ref)], TOL[np.dtype(dtype)])


for dtype in (np.float32, np.float64):
    for act in ACTIVATIONS:
        for shape, inplace in (((1,), False), ((7, 3, 129), False), ((1000, 33), True)):
            run(f"act {act} {shape}", lambda: check_act(act, dtype, shape, inplace))


# ----------------------------------------------------------------------------- fused dz + db
def check_dz_db(act, dtype, shape, want_dz, want_db):
    n, m = shape
    dy, zz = randn(n, m).astype(dtype), randn(n, m, scale=2.0).astype(dtype)
    yy = ref.act_forward(zz.astype(np.float64), act, SLOPE).astype(dtype)
    code = CODE[act]
    dyd, yd, zd = dev(dy), dev(yy), dev(zz)
    dz = xp.empty_like(dyd) if want_dz else None
    db = kc._dz_db(dyd, yd, zd, dz, code, dtype(SLOPE), want_db)
    dz_ref = ref.act_backward(dy.astype(np.float64), yy.astype(np.float64), zz.astype(np.float64),
                              act, SLOPE)
    errs = [relerr(dz, dz_ref) if want_dz else 0.0,
            relerr(db, dz_ref.sum(0)) if want_db else (0.0 if db is None else np.inf)]
    expect(f"dz_db {act:10s} {np.dtype(dtype).name} {shape} dz={want_dz} db={want_db}", errs,
           TOL[np.dtype(dtype)])


if not DRY:
    for dtype in (np.float32, np.float64):
        for act in ACTIVATIONS:
            for shape in ((1, 1), (7, 33), (1000, 65), (4097, 31), (5, 5000)):
                run(f"dz_db {act} {shape}", lambda: check_dz_db(act, dtype, shape, True, True))
        run("dz_db identity no-dz", lambda: check_dz_db("identity", dtype, (999, 77), False, True))
        run("dz_db gelu no-db", lambda: check_dz_db("gelu", dtype, (999, 77), True, False))


# ----------------------------------------------------------------------------- optimizers
def check_opt(kind, dtype, size, opts):
    p0 = randn(size).astype(dtype)
    grads = [randn(size).astype(dtype) for _ in range(3)]
    state = [dev(p0)] + [xp.zeros(size, dtype) for _ in range(3)]
    st64 = [p0.astype(np.float64)] + [np.zeros(size) for _ in range(3)]
    for step, g in enumerate(grads, 1):
        if kind == "sgd":
            kernels.sgd_update(state[0], dev(g), state[1], first_step=step == 1, **opts)
            ref.sgd_update(st64[0], g.astype(np.float64), st64[1], first_step=step == 1, **opts)
        else:
            kernels.adam_update(state[0], dev(g), state[1], state[2], step=step,
                                max_exp_avg_sq=state[3], **opts)
            ref.adam_update(st64[0], g.astype(np.float64), st64[1], st64[2], step=step,
                            max_exp_avg_sq=st64[3], **opts)
    n = 2 if kind == "sgd" else 3
    # compare the update (p - p0), not p: it is ~lr, so a relative check on p would hide errors
    errs = [relerr(host(state[0]).astype(np.float64) - p0, st64[0] - p0)]
    errs += [relerr(a, e) for a, e in zip(state[1:n], st64[1:n])]
    expect(f"{kind} {np.dtype(dtype).name} n={size} {opts}", errs,
           1e-4 if dtype == np.float32 else 1e-10)


SGD_OPTS = [dict(lr=0.1), dict(lr=0.05, momentum=0.9, weight_decay=0.1),
            dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True),
            dict(lr=0.05, momentum=0.9, dampening=0.3)]
ADAM_OPTS = [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1, decoupled=True),
             dict(lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True),
             dict(lr=1e-2, beta1=0.3, beta2=0.99, eps=1e-6)]
for dtype in (np.float32, np.float64):
    for size in (1, 1001, (1 << 20) + 3):
        for o in SGD_OPTS:
            run(f"sgd {o}", lambda: check_opt("sgd", dtype, size, o))
        for o in ADAM_OPTS:
            run(f"adam {o}", lambda: check_opt("adam", dtype, size, o))


# ----------------------------------------------------------------------------- numba.cuda kernels
def check_numba(act, dtype, shape):
    from gpugrad.kernels import cuda_numba as cn
    n, k, m = shape
    x, W, b, dy = randn(n, k), randn(k, m, scale=k ** -0.5), randn(m), randn(n, m)
    x, W, b, dy = (a.astype(dtype) for a in (x, W, b, dy))
    y, z = cn.linear_act_forward(dev(x), dev(W), dev(b), act, SLOPE)
    y_ref, z_ref = ref.linear_act_forward(*(a.astype(np.float64) for a in (x, W, b)), act, SLOPE)
    yk, zk = host(y), host(z)
    g = cn.linear_act_backward(dev(dy), dev(x), dev(W), y, z, act, SLOPE)
    g_ref = ref.linear_act_backward(dy.astype(np.float64), x.astype(np.float64),
                                    W.astype(np.float64), yk.astype(np.float64),
                                    None if zk is None else zk.astype(np.float64), act, SLOPE)
    zz = randn(n, m).astype(dtype)
    y2, z2 = cn.bias_act_forward(dev(zz), dev(b), act, SLOPE)
    y2_ref, z2_ref = ref.linear_act_forward(zz.astype(np.float64), np.eye(m), b.astype(np.float64),
                                            act, SLOPE)
    errs = [relerr(y, y_ref), relerr(z, z_ref)] + [relerr(a, e) for a, e in zip(g, g_ref)]
    errs += [relerr(y2, y2_ref), relerr(z2, z2_ref)]
    expect(f"numba.cuda {act:10s} {np.dtype(dtype).name} {shape}", errs, TOL[np.dtype(dtype)])


def numba_sync_probe():
    """Does a numba.cuda launch on CuPy arrays block the host (CUDA-array-interface stream sync)?"""
    from gpugrad.kernels import cuda_numba as cn
    z, b = xp.ones((64, 64), np.float32), xp.zeros(64, np.float32)
    cn.bias_act_forward(z, b, "relu")                        # compile
    a = xp.random.standard_normal((8192, 8192), dtype=np.float32)
    xp.cuda.Device().synchronize()
    for _ in range(3):
        a @ a                                                 # ~60 ms of queued GPU work
    t0 = time.perf_counter()
    cn.bias_act_forward(z, b, "relu")
    host_ms = (time.perf_counter() - t0) * 1e3
    xp.cuda.Device().synchronize()
    status = "KNOWN" if host_ms > 20 else "PASS"
    record("numba.cuda launch on CuPy arrays does not block the host", status,
           f"host time of one launch behind ~60 ms of queued work: {host_ms:.1f} ms "
           f"({'synchronizes: CAI stream sync' if host_ms > 20 else 'async'})")


if not DRY:
    for act in ("relu", "gelu"):                  # each (act, dtype, layout) is a numba compile
        for dtype in (np.float32, np.float64):
            for shape in ((130, 33, 67),):
                run(f"numba.cuda {act}", lambda: check_numba(act, dtype, shape))
    run("numba sync probe", numba_sync_probe)


# ----------------------------------------------------------------------------- > 2**31 elements
def free():
    xp.get_default_memory_pool().free_all_blocks()


def big_act():
    N = (1 << 31) + 4099
    z = xp.random.standard_normal(N, dtype=np.float32)
    y = kernels.act_forward(z, "relu")
    idx = np.r_[0:1000, (1 << 31) - 1000:(1 << 31) + 1000, N - 1000:N]
    got, zz = host(y[xp.asarray(idx)]), host(z[xp.asarray(idx)])
    expect(f"act_forward relu on {N} elements (int64 indexing)", [relerr(got, np.maximum(zz, 0))],
           1e-7)
    del z, y
    free()


def big_dz_db():
    n, m = 524_291, 4096                                    # n*m = 2_147_495_936 > 2**31 - 1
    dy = xp.random.standard_normal((n, m), dtype=np.float32)
    y = xp.maximum(xp.random.standard_normal((n, m), dtype=np.float32), 0)
    dz = xp.empty_like(dy)
    db = kc._dz_db(dy, y, y, dz, CODE["relu"], np.float32(0), True)
    tail = slice(n - 3, n)
    got = host(dz[tail])
    exp = host(dy[tail]).astype(np.float64) * (host(y[tail]) > 0)
    db_ref = host((dy * (y > 0)).sum(axis=0, dtype=np.float64))
    expect(f"dz_db relu ({n}, {m}) = {n * m} elements", [relerr(got, exp), relerr(db, db_ref)],
           1e-5)
    del dy, y, dz
    free()


def big_gemm():
    M, K, N = 2_100_000, 1024, 16                           # M*K = 2.15e9 > 2**31 - 1
    x = xp.random.standard_normal((M, K), dtype=np.float32)
    W = (xp.random.standard_normal((K, N), dtype=np.float32) * K ** -0.5).astype(np.float32)
    b = xp.random.standard_normal(N, dtype=np.float32)
    y = xp.empty((M, N), np.float32)
    kc._custom_linear(x, W, b, CODE["relu"], np.float32(0.01), y, None)
    rows = np.r_[0:5, M - 5:M]
    xr, Wh, bh = host(x[xp.asarray(rows)]).astype(np.float64), host(W).astype(np.float64), host(b)
    exp = np.maximum(xr @ Wh + bh, 0)
    expect(f"custom GEMM with M*K = {M * K} (64-bit offsets)", [relerr(y[xp.asarray(rows)], exp)],
           1e-5)
    del x, y
    free()


def grid_limit_probe():
    """gridDim.y = ceil(M / 64) must stay <= 65535: M > 4,194,240 rows cannot launch."""
    M, K, N = 4_194_305, 4, 4
    x = xp.random.standard_normal((M, K), dtype=np.float32)
    W = xp.random.standard_normal((K, N), dtype=np.float32)
    b = xp.zeros(N, np.float32)
    y = xp.empty((M, N), np.float32)
    try:
        kc._custom_linear(x, W, b, CODE["relu"], np.float32(0.01), y, None)
        xp.cuda.Device().synchronize()
        record("custom GEMM launches with M = 4,194,305 rows", "PASS", "no grid.y limit hit")
    except Exception as exc:
        record("custom GEMM launches with M = 4,194,305 rows", "KNOWN",
               f"defect reproduced: {type(exc).__name__}: {str(exc)[:120]}")
    try:
        kc._CHOICES.clear()
        choice = kc.choose((M, K, N), np.float32, "relu")
        record("autotuner survives a shape the custom GEMM cannot launch", "PASS", choice)
    except Exception as exc:
        record("autotuner survives a shape the custom GEMM cannot launch", "KNOWN",
               f"defect reproduced (forward would crash): {type(exc).__name__}")
    del x, y
    free()


def big_checks():
    free_b = xp.cuda.runtime.memGetInfo()[0]
    if free_b < 40e9:
        record("big-index checks", "SKIP", f"only {free_b / 1e9:.0f} GB free")
        return
    for name, fn in (("big act", big_act), ("big dz_db", big_dz_db), ("big gemm", big_gemm),
                     ("grid limit", grid_limit_probe)):
        run(name, fn)


if not DRY and not args.no_big:
    run("big-index checks", big_checks)


# ----------------------------------------------------------------------------- host syncs, devices
def sync_probe(loss_kind):
    import gpugrad as gg
    from gpugrad import nn, optim
    model = nn.MLP([1024, 1024, 1024, 10], activation="relu", device="cuda")
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = gg.tensor(randn(1024, 1024).astype(np.float32), device="cuda")
    if loss_kind == "cross_entropy":
        t = gg.tensor(rng.integers(0, 10, 1024), device="cuda")
        lossf = nn.functional.cross_entropy
    else:
        t = gg.tensor(randn(1024, 10).astype(np.float32), device="cuda")
        lossf = nn.functional.mse_loss

    def step():
        loss = lossf(model(x), t)
        loss.backward()
        opt.step()
        opt.zero_grad()

    for _ in range(2):
        step()
    xp.cuda.Device().synchronize()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with cupyx.allow_synchronize(False):
                step()
            record(f"training step with {loss_kind} has no CuPy host sync", "PASS")
        except cupyx.DeviceSynchronized:
            tb = traceback.extract_tb(sys.exc_info()[2])
            where = [f"{os.path.basename(f.filename)}:{f.lineno} {f.line}" for f in tb
                     if "gpugrad" in f.filename][-1:]
            record(f"training step with {loss_kind} has no CuPy host sync", "KNOWN",
                   f"host sync at {where}")


if not DRY:
    run("sync probe ce", lambda: sync_probe("cross_entropy"))
    run("sync probe mse", lambda: sync_probe("mse"))

    def second_device():
        if xp.cuda.runtime.getDeviceCount() < 2:
            record("cuda:1 checks", "SKIP", "one GPU only")
            return
        import gpugrad as gg
        lin = gg.nn.Linear(64, 32, activation="relu", device="cuda:1")
        out = lin(gg.randn(8, 64, device="cuda:1"))
        record("Linear on cuda:1 (current device 0) stays on cuda:1",
               "PASS" if str(out.device) == "cuda:1" else "FAIL", str(out.device))
    run("cuda:1", second_device)

# ----------------------------------------------------------------------------- summary
counts = {}
for _, status, _ in ROWS:
    counts[status] = counts.get(status, 0) + 1
print("check summary:", " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
for name, status, info in ROWS:
    if status in ("FAIL", "KNOWN"):
        print(f"  {status} {name}  {info}")
sys.exit(1 if counts.get("FAIL") else 0)
PYEOF

cat > "$WORK/gg_perf.py" <<'PYEOF'
"""GPU timings for gpugrad: the machine's ceilings, each kernel of a W3 layer against them, the
autotuner's candidates, and W3/W4 training steps against PyTorch-free peers.
Usage: gg_perf.py ceil|kernels|steps   (CUDA events, median of repeats, random data)."""
import os
import sys
import time

import numpy as np
import cupy as cp
from cupy._core import _routines_linalg as linalg

from gpugrad import kernels
from gpugrad.kernels import cuda as kc
from gpugrad.kernels.activations import CODE

PART = sys.argv[1] if len(sys.argv) > 1 else "all"
F32 = np.float32
DEV = cp.cuda.runtime.getDevice()


def t_events(fn, reps=10, warm=3):
    """Median milliseconds of fn() between two events on the current stream."""
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        s, e = cp.cuda.Event(), cp.cuda.Event()
        s.record()
        fn()
        e.record()
        e.synchronize()
        ts.append(cp.cuda.get_elapsed_time(s, e))
    return float(np.median(ts))


class compute_type:
    """Set CuPy's float32 GEMM compute type (TF32 or default) inside a with block."""
    def __init__(self, tf32):
        self.want = linalg.COMPUTE_TYPE_TF32 if tf32 else linalg.COMPUTE_TYPE_DEFAULT

    def __enter__(self):
        self.prev = linalg.get_compute_type(np.dtype(F32))
        linalg.set_compute_type(np.dtype(F32), self.want)

    def __exit__(self, *a):
        linalg.set_compute_type(np.dtype(F32), self.prev)


def rnd(*shape, dtype=F32, scale=1.0):
    return (cp.random.standard_normal(shape, dtype=F32) * scale).astype(dtype)


def line(label, ms, work=None, unit="GB/s"):
    # work in bytes -> GB/s (bytes / ms / 1e6); in FLOPs -> TFLOP/s (FLOPs / ms / 1e9)
    scale = 1e6 if unit == "GB/s" else 1e9
    extra = f"  {work / ms / scale:8.1f} {unit}" if work else ""
    print(f"  {label:58s} {ms:9.3f} ms{extra}", flush=True)


RATES = {}


def ceilings():
    print("== ceilings (CUDA events, median of 10 after 3 warm-ups, random data)")
    a = rnd(1 << 28)                                           # 1 GiB
    b = cp.empty_like(a)
    ms = t_events(lambda: cp.copyto(b, a))
    line("device-to-device copy 1 GiB (bytes read + written)", ms, 2 * a.nbytes, "GB/s")
    RATES["copy_GBps"] = 2 * a.nbytes / ms / 1e6
    del a, b
    for n in (8192, 4096):
        A, B = rnd(n, n), rnd(n, n)
        C = cp.empty((n, n), F32)
        fl = 2 * n ** 3
        for label, tf32 in (("FP32", False), ("TF32", True)):
            with compute_type(tf32):
                ms = t_events(lambda: cp.matmul(A, B, out=C))
            print(f"  GEMM {n}^3 {label} NN{'':40s} {ms:9.3f} ms  {fl / ms / 1e9:8.1f} TFLOP/s")
            RATES[f"gemm{n}_{label}"] = fl / ms / 1e9
            if n == 4096:
                for lay, fn in (("NT (dz @ W.T)", lambda: cp.matmul(A, B.T, out=C)),
                                ("TN (x.T @ dz)", lambda: cp.matmul(A.T, B, out=C))):
                    with compute_type(tf32):
                        ms = t_events(fn)
                    print(f"  GEMM {n}^3 {label} {lay:38s} {ms:9.3f} ms  {fl / ms / 1e9:8.1f} TFLOP/s")
        A16, B16 = A.astype(cp.float16), B.astype(cp.float16)
        C16 = cp.empty((n, n), cp.float16)
        ms = t_events(lambda: cp.matmul(A16, B16, out=C16))
        print(f"  GEMM {n}^3 FP16 NN (tensor cores){'':26s} {ms:9.3f} ms  {fl / ms / 1e9:8.1f} TFLOP/s")
        RATES[f"gemm{n}_FP16"] = fl / ms / 1e9
        del A, B, C, A16, B16, C16
    cp.get_default_memory_pool().free_all_blocks()


def kernel_timings():
    n = k = m = 4096
    act = CODE["relu"]
    print(f"== one W3 hidden layer ({n}x{k} @ {k}x{m}, float32), each kernel alone")
    x, W, b, dy = rnd(n, k), rnd(k, m, scale=k ** -0.5), rnd(m), rnd(n, m)
    y, z, dz = cp.empty((n, m), F32), rnd(n, m), cp.empty((n, m), F32)
    A = n * m * 4
    fl = 2 * n * k * m
    for tf32 in (False, True):
        with compute_type(tf32):
            ms = t_events(lambda: cp.matmul(x, W, out=y))
        print(f"  cuBLAS GEMM {'TF32' if tf32 else 'FP32'}{'':42s} {ms:9.3f} ms  {fl / ms / 1e9:8.1f} TFLOP/s")
    ep = kc._forward_kernel("bias_inplace", act, np.dtype(F32), DEV)
    line("epilogue bias+relu in place (ElementwiseKernel)", t_events(lambda: ep(b, F32(0.01), y)),
         2 * A, "GB/s")
    epz = kc._forward_kernel("bias_keep_z", CODE["gelu"], np.dtype(F32), DEV)
    line("epilogue bias+gelu keep z (reads z, writes z and y)",
         t_events(lambda: epz(b, F32(0.01), z, y)), 3 * A, "GB/s")
    cp.maximum(y, 0, out=y)
    line("dz_db relu: dz = dy*(y>0), db (RawKernel + partial.sum)",
         t_events(lambda: kc._dz_db(dy, y, y, dz, act, F32(0), True)), 3 * A, "GB/s")
    line("dz_db gelu (from z)", t_events(lambda: kc._dz_db(dy, z, z, dz, CODE["gelu"], F32(0), True)),
         3 * A, "GB/s")
    for label, tf32 in (("custom tiled GEMM + fused epilogue, FP32", False),):
        try:
            ms = t_events(lambda: kc._custom_linear(x, W, b, act, F32(0.01), y, None), reps=5)
            print(f"  {label:58s} {ms:9.3f} ms  {fl / ms / 1e9:8.1f} TFLOP/s")
        except Exception as exc:
            print(f"  {label:58s} unavailable: {type(exc).__name__}: {str(exc).strip().splitlines()[0][:150]}")
    kc._CHOICES.clear()
    for prec in ("highest", "high"):
        kernels.set_matmul_precision(prec)
        try:
            line(f"linear_act_forward relu, precision {prec} (after autotune)",
                 t_events(lambda: kernels.linear_act_forward(x, W, b, "relu")))
            yy, _ = kernels.linear_act_forward(x, W, b, "relu")
            line(f"linear_act_backward relu (dx, dW, db), precision {prec}",
                 t_events(lambda: kernels.linear_act_backward(dy, x, W, yy, None, "relu")))
        finally:
            kernels.set_matmul_precision("highest")
    P = 3 * (4096 * 4096 + 4096) + 4096 * 10 + 10            # W3's parameter count
    p, g, buf = rnd(P), rnd(P), rnd(P)
    line(f"sgd_update momentum, {P} params (5 x 4 B each)",
         t_events(lambda: kernels.sgd_update(p, g, buf, lr=1e-3, momentum=0.9)), 20 * P, "GB/s")
    mm, vv = rnd(P), cp.abs(rnd(P))
    line(f"adam_update, {P} params (7 x 4 B each)",
         t_events(lambda: kernels.adam_update(p, g, mm, vv, step=3, lr=1e-3)), 28 * P, "GB/s")
    print("  (bytes = each input read once + each output written once; compare with the copy ceiling)")
    del x, W, b, dy, y, z, dz, p, g, buf, mm, vv
    cp.get_default_memory_pool().free_all_blocks()

    print("== autotuner candidates (ms, events, median of 10): what choose() picks")
    for (nn, kk, mm_, a) in ((4096, 4096, 4096, "relu"), (4096, 4096, 10, "identity"),
                             (1024, 1024, 1024, "relu"), (1024, 1024, 10, "identity"),
                             (512, 1024, 2048, "relu"), (64, 64, 256, "relu"), (64, 256, 10, "identity")):
        x, W, b = rnd(nn, kk), rnd(kk, mm_, scale=kk ** -0.5), rnd(mm_)
        y = cp.empty((nn, mm_), F32)
        for prec in ("highest", "high"):
            row = {}
            cands = {"cublas": lambda: kc._cublas_linear(x, W, b, CODE[a], F32(0.01), y, None, prec),
                     "custom": lambda: kc._custom_linear(x, W, b, CODE[a], F32(0.01), y, None)}
            for name, fn in cands.items():
                try:
                    row[name] = t_events(fn, reps=10, warm=2)
                except Exception as exc:
                    row[name] = float("nan")
            kc._CHOICES.clear()
            try:
                pick = kc.choose((nn, kk, mm_), F32, a, prec)
            except Exception as exc:
                pick = f"crash {type(exc).__name__}"
            print(f"  ({nn},{kk},{mm_}) {a:8s} {prec:7s} " +
                  " ".join(f"{k_}={v:.4f}" for k_, v in row.items()) + f"  -> choose: {pick}")
        del x, W, b, y
    cp.get_default_memory_pool().free_all_blocks()


def step_flops(sizes, batch):
    f = 0
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        f += 2 * 2 * batch * a * b + (2 * batch * a * b if i > 0 else 0)
    return f


class Precision:
    """Run an implementation's step with TF32 allowed (gpugrad: matmul precision "high";
    CuPy peers: CuPy's float32 compute type; torch: allow_tf32)."""
    def __init__(self, impl, kind):
        self.impl, self.kind = impl, kind

    def step(self):
        if self.kind == "gpugrad":
            kernels.set_matmul_precision("high")
            try:
                self.impl.step()
            finally:
                kernels.set_matmul_precision("highest")
        elif self.kind == "torch":
            import torch
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                self.impl.step()
            finally:
                torch.backends.cuda.matmul.allow_tf32 = False
        else:
            with compute_type(True):
                self.impl.step()

    def sync(self):
        self.impl.sync()


def steps():
    from gpugrad import bench_workloads as bw
    with_torch = os.environ.get("SMOKE_TORCH", "0") == "1" and bw.torch_cuda_available()
    for name, n_steps in (("W3", int(os.environ.get("SMOKE_W3_STEPS", 10))),
                          ("W4", int(os.environ.get("SMOKE_W4_STEPS", 30)))):
        wl = bw.WORKLOADS[name]
        batch = wl.batch_for("cuda")
        names = ["gpugrad", "numpy", "gemm"] + (["torch"] if with_torch else [])
        impls = bw.make_impls(wl, "cuda", names)
        tf = bw.make_impls(wl, "cuda", ["gpugrad", "gemm"])
        impls["gpugrad-tf32"] = Precision(tf["gpugrad"], "gpugrad")
        impls["gemm-tf32"] = Precision(tf["gemm"], "cupy")
        if with_torch:
            impls["torch-tf32"] = Precision(bw.make_impls(wl, "cuda", ["torch"])["torch"], "torch")
        flops = step_flops(wl.sizes, batch)
        print(f"== {name}: {wl.description}; {flops / 1e12:.3f} TFLOP per step; "
              f"{n_steps} timed steps each, interleaved")
        for im in impls.values():                       # warm-up: compile, autotune, cuBLAS heuristics
            for _ in range(3):
                im.step()
            im.sync()
        t, enq = {k: [] for k in impls}, {k: [] for k in impls}
        for r in range(n_steps):
            order = list(impls.items())
            order = order[r % len(order):] + order[:r % len(order)]
            for k_, im in order:
                im.sync()
                t0 = time.perf_counter()
                im.step()
                t1 = time.perf_counter()
                im.sync()
                t2 = time.perf_counter()
                t[k_].append(t2 - t0)
                enq[k_].append(t1 - t0)
        med = {k_: float(np.median(v)) * 1e3 for k_, v in t.items()}
        for k_ in impls:
            base = "gemm-tf32" if "tf32" in k_ else "gemm"
            print(f"  {name} {k_:13s} {med[k_]:9.3f} ms  (p10 {np.percentile(t[k_], 10) * 1e3:8.3f}, "
                  f"p90 {np.percentile(t[k_], 90) * 1e3:8.3f})  host enqueue {np.median(enq[k_]) * 1e3:7.3f} ms"
                  f"  {flops / med[k_] / 1e9:7.1f} TFLOP/s  x{med[k_] / med[base]:.3f} of {base}")
        for label, key, peak in (("FP32", "gemm4096_FP32", 66.9), ("TF32", "gemm4096_TF32", 494.7)):
            meas = RATES.get(key)
            lim = flops / (peak * 1e12) * 1e3
            txt = f"  {name} GEMM-only limit {label}: {lim:.3f} ms at the datasheet {peak} TFLOP/s"
            if meas:
                txt += f"; {flops / (meas * 1e12) * 1e3:.3f} ms at the measured 4096^3 rate {meas:.0f}"
            print(txt)
        del impls, tf
        cp.get_default_memory_pool().free_all_blocks()


if __name__ == "__main__":
    print(f"device {cp.cuda.runtime.getDeviceProperties(DEV)['name'].decode()}, "
          f"cupy {cp.__version__}, CUDA runtime {cp.cuda.runtime.runtimeGetVersion()}")
    if PART in ("ceil", "all"):
        ceilings()
    if PART in ("kernels", "all"):
        kernel_timings()
    if PART in ("steps", "all"):
        steps()
PYEOF

cat > "$WORK/gg_san.py" <<'PYEOF'
"""Tiny launches of every gpugrad RawKernel/ElementwiseKernel on odd shapes, for
compute-sanitizer (memcheck / racecheck / synccheck). No memory pool: each array is its own
cudaMalloc, so an out-of-bounds access past an array's end is caught."""
import numpy as np
import cupy as cp

cp.cuda.set_allocator(None)
from gpugrad import kernels                                  # noqa: E402
from gpugrad.kernels import cuda as kc                       # noqa: E402
from gpugrad.kernels.activations import CODE                 # noqa: E402

dev = kc._device()
rng = np.random.default_rng(0)
for dtype in (np.float32, np.float64):
    for (M, K, N) in ((65, 33, 130), (1, 17, 1), (129, 16, 63)):
        x = cp.asarray(rng.standard_normal((M, K)), dtype)
        W = cp.asarray(rng.standard_normal((K, N)), dtype)
        b = cp.asarray(rng.standard_normal(N), dtype)
        y, z = cp.empty((M, N), dtype), cp.asarray(rng.standard_normal((M, N)), dtype)
        for act in ("relu", "gelu"):
            kc._custom_linear(x, W, b, CODE[act], dtype(0.01), y, z if act == "gelu" else None)
            kc._cublas_linear(x, W, b, CODE[act], dtype(0.01), y, z if act == "gelu" else None, "highest")
            dy = cp.asarray(rng.standard_normal((M, N)), dtype)
            dz = cp.empty_like(dy)
            kc._dz_db(dy, y, z, dz, CODE[act], dtype(0.01), True)
            kc._dz_db(dy, y, z, None, CODE["identity"], dtype(0), True)
        p, g, buf = (cp.asarray(rng.standard_normal(1001), dtype) for _ in range(3))
        kernels.sgd_update(p, g, buf, lr=0.1, momentum=0.9)
        m, v, vmax = cp.zeros_like(p), cp.zeros_like(p), cp.zeros_like(p)
        kernels.adam_update(p, g, m, v, step=1, lr=1e-3, amsgrad=True, max_exp_avg_sq=vmax)
cp.cuda.Device().synchronize()
print("gg_san: all launches done")
PYEOF


# ------------------------------------------------------------------------------ phase scripts
export PY WORK OUT ROOT
XDIST_OK=0; $PY -c "import xdist" 2>/dev/null && XDIST_OK=1
TIMEOUT_OK=0; $PY -c "import pytest_timeout" 2>/dev/null && TIMEOUT_OK=1
export XDIST_OK TIMEOUT_OK

cat > "$WORK/phase_env.sh" <<'EOS'
set -u
echo "== machine"; date -u
nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,pstate,clocks.sm,clocks.max.sm,clocks.mem,memory.total,memory.used,temperature.gpu,power.draw,power.limit --format=csv
echo "== install: $PY -m pip install --no-build-isolation --no-deps -e ."
$PY -m pip install -q --no-build-isolation --no-deps -e . 2>&1 | grep -v -i "warning\|notice" | tail -5
$PY - <<'EOF'
import importlib, os, sys
print("python", sys.executable, sys.version.split()[0])
for m in ("numpy", "cupy", "numba", "numba_cuda", "pytest", "xdist", "pytest_timeout", "torch"):
    try:
        mod = importlib.import_module(m)
        print(f"  {m:15s} {getattr(mod, '__version__', '?')}")
    except Exception as e:
        print(f"  {m:15s} MISSING ({type(e).__name__})")
import cupy as cp
rt = cp.cuda.runtime
p = rt.getDeviceProperties(0)
print("device", p["name"].decode(), f"cc {p['major']}.{p['minor']}", "SMs", p["multiProcessorCount"],
      "L2", p["l2CacheSize"] >> 20, "MiB", "smem/block opt-in", p.get("sharedMemPerBlockOptin"),
      "count", rt.getDeviceCount())
print("CUDA runtime", rt.runtimeGetVersion(), "driver", rt.driverGetVersion())
from cupy_backends.cuda.libs import nvrtc
print("NVRTC", nvrtc.getVersion())
try:
    from cuda.pathfinder import find_nvidia_header_directory
    d = find_nvidia_header_directory("cudart") or ""
    print("CuPy's CUDA header dir (cuda.pathfinder, wheels first):", d,
          "| mma.h:", os.path.exists(os.path.join(d, "mma.h")),
          "| crt/mma.h:", os.path.exists(os.path.join(d, "crt", "mma.h")))
except Exception as e:
    print("cuda.pathfinder:", type(e).__name__, e)
print("CUDA_PATH", os.environ.get("CUDA_PATH"), "| /usr/local/cuda/include/crt/mma.h:",
      os.path.exists("/usr/local/cuda/include/crt/mma.h"))
import gpugrad
print("gpugrad", gpugrad.__file__, "| cuda available:", gpugrad.cuda.is_available(),
      "| devices:", gpugrad.cuda.device_count())
EOF
echo "== tools"; for t in nvcc cuobjdump compute-sanitizer ncu; do printf '  %-18s %s\n' "$t" "$(command -v $t || echo missing)"; done
nvcc --version 2>/dev/null | tail -2
K="$ROOT/kernels"
if command -v nvcc >/dev/null; then
    cat > "$WORK/all_kernels.cu" <<'EOC'
#include "linear_act.cu"
#include "epilogue.cu"
#define L(A, T) template __global__ void gpugrad_linear_act<A, T>(const T*, const T*, const T*, T*, T*, int, int, int, T, int, int);
#define D(A, T) template __global__ void gpugrad_dz_db<A, T>(const T*, const T*, const T*, T*, T*, int, int, T, int, int);
#define ALL(A) L(A, float) L(A, double) D(A, float) D(A, double)
ALL(0) ALL(1) ALL(2) ALL(3) ALL(4) ALL(5) ALL(6) ALL(7)
EOC
    echo "== nvcc -gencode arch=compute_90,code=sm_90 -Xptxas -v (registers / stack / smem per kernel)"
    nvcc -c -std=c++14 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -I"$K" "$WORK/all_kernels.cu" \
        -o "$WORK/all_kernels.o" 2>&1 | grep -E "Compiling entry|Used|stack frame" | paste - - - \
        | sed -E 's/ptxas info +: //g; s/Compiling entry function .(_Z[0-9]+)(gpugrad_[a-z_0-9]+)ILi([0-9])E([fd]?)[^ ]*/\2<\3 \4>/; s/Function properties for [^ ]+//; s/for .sm_90.//' \
        | awk '{$1=$1; print "  " $0}' | sort
    if command -v cuobjdump >/dev/null; then
        echo "== SASS instruction counts per kernel (HGMMA = wgmma, HMMA = mma.sync, LDL/STL = local memory)"
        cuobjdump --dump-sass "$WORK/all_kernels.o" > "$WORK/sass.txt" 2>&1
        awk '/Function :/ {f=$3} /HGMMA/ {h[f]++} /HMMA/ {m[f]++} /FFMA/ {ff[f]++} /DFMA/ {d[f]++} /LDS\.128/ {l4[f]++} / LDS(\.[0-9U]+)? / {l[f]++} /LDL|STL/ {loc[f]++} /Function :/ {k[f]=1}
             END {for (f in k) if (f ~ /ILi[03]E/) printf "  %-60s HGMMA %d HMMA %d FFMA %d DFMA %d LDS %d LDS.128 %d LDL/STL %d\n", f, h[f], m[f], ff[f], d[f], l[f], l4[f], loc[f]}' "$WORK/sass.txt" | sort
    fi
fi
EOS

cat > "$WORK/phase_ktests.sh" <<'EOS'
set -u
X=""; [ "$XDIST_OK" = 1 ] && X="-n 6"
T=""; [ "$TIMEOUT_OK" = 1 ] && T="--timeout 150"
( $PY -m pytest -q -p no:cacheprovider $T -rfE --tb=short tests/test_kernels_cuda_numba.py \
      tests/test_kernels_nvcc.py > "$WORK/kt_b.log" 2>&1; echo "numba-sim + nvcc tests rc=$?" >> "$WORK/kt_b.log" ) &
echo "== tests/test_kernels_cuda.py $X"
$PY -m pytest -q -p no:cacheprovider $X $T -rfE --tb=short tests/test_kernels_cuda.py
echo "test_kernels_cuda rc=$?"
wait
echo "== tests/test_kernels_cuda_numba.py tests/test_kernels_nvcc.py"
cat "$WORK/kt_b.log"
EOS

cat > "$WORK/phase_check.sh" <<'EOS'
set -u
B=""; [ "${SMOKE_BIG:-1}" = 0 ] && B="--no-big"
$PY "$WORK/gg_check.py" $B
EOS

cat > "$WORK/phase_perf.sh" <<'EOS'
set -u
$PY "$WORK/gg_perf.py" all
EOS

cat > "$WORK/phase_bench.sh" <<'EOS'
set -u
I="gpugrad numpy gemm fused unfused jax"; [ "${SMOKE_TORCH:-0}" = 1 ] && I="$I torch"
$PY -m gpugrad bench --quick --workloads W3 W4 layer --devices cuda --impls $I --no-memory \
    --no-plot --out "$WORK/bench"
echo "bench rc=$?"
EOS

cat > "$WORK/phase_sanitize.sh" <<'EOS'
set -u
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [ -z "$CS" ]; then echo "compute-sanitizer: not found"; exit 0; fi
$PY "$WORK/gg_san.py" || exit 1                    # compile/cache outside the sanitizer
for tool in memcheck racecheck; do
    echo "== compute-sanitizer --tool $tool"
    timeout 32 "$CS" --tool "$tool" --error-exitcode 3 --print-limit 20 $PY "$WORK/gg_san.py" 2>&1 | tail -40
    echo "$tool rc=${PIPESTATUS[0]}"
done
EOS

cat > "$WORK/phase_suite.sh" <<'EOS'
set -u
X=""; [ "$XDIST_OK" = 1 ] && X="-n 8"
T=""; [ "$TIMEOUT_OK" = 1 ] && T="--timeout 60"
$PY -m pytest -q -p no:cacheprovider -m cuda $X $T --maxfail 40 -rfE --tb=line tests \
    --ignore=tests/test_kernels_cuda.py --ignore=tests/test_kernels_cuda_numba.py \
    --ignore=tests/test_kernels_nvcc.py
echo "suite rc=$?"
EOS

# ------------------------------------------------------------------------------ run
run_phase env      45  20 bash "$WORK/phase_env.sh"
run_phase ktests   90  30 bash "$WORK/phase_ktests.sh"
run_phase check    80  30 bash "$WORK/phase_check.sh"
run_phase perf     75  25 bash "$WORK/phase_perf.sh"
run_phase bench    60  20 bash "$WORK/phase_bench.sh"
run_phase sanitize 70  25 bash "$WORK/phase_sanitize.sh"
run_phase suite   300  25 bash "$WORK/phase_suite.sh"

# ------------------------------------------------------------------------------ report
sec() { [ -f "$OUT/$1.log" ] && { echo; echo "################ $1"; shift; "$@"; }; }
# most important last: the reply carries only the last 12,000 characters (full logs are in $OUT)
sec env      grep -E "^device|CUDA runtime|NVRTC|header dir|crt/mma|^gpugrad |  (cupy|numba|numba_cuda|torch) |HGMMA| [1-9][0-9]* bytes stack frame|NVIDIA H" "$OUT/env.log"
sec suite    tail -n 12 "$OUT/suite.log"
sec sanitize grep -E "ERROR SUMMARY|rc=|not found|Device not supported|Error" "$OUT/sanitize.log"
sec bench    tail -n 22 "$OUT/bench.log"
sec perf     grep -v "^$" "$OUT/perf.log"
sec ktests   bash -c 'grep -E "passed|failed|skipped|FAILED|ERROR|rc=" "$1" | tail -n 40' _ "$OUT/ktests.log"
sec check    bash -c '{ grep -q "^check summary" "$1" && sed -n "/^check summary/,\$p" "$1" || tail -n 25 "$1"; } | head -n 45' _ "$OUT/check.log"
echo; echo "################ summary (${BUDGET}s budget, $(( $(date +%s) - START ))s used)"; cat "$SUMMARY"
