"""Every gpugrad kernel against a float64 NumPy reference, on odd shapes and fresh random inputs.

    python bench/gpu_kernel_check.py [--quick] [--no-big] [--seed N] [--json FILE]
    python bench/gpu_kernel_check.py --dry-cpu --quick      # the harness itself, on the CPU

Each check prints one line, ``PASS``, ``FAIL`` or ``SKIP``, its name and the normwise relative
errors ``||got - ref|| / ||ref||`` of its outputs (and 0/inf for yes/no conditions) against the
stated tolerance: float32 1e-5, float64 1e-12, TF32 5e-3, float16 2e-3.  Outputs of O(1) data
use max(||ref||, 0.1 sqrt(size)) as the denominator, so that a one-element output that cancels
to ~0 does not fail on rounding; the optimizers are judged one step at a time from the kernel's
own state.  A check that raises is a FAIL with the exception.  A summary comes last; the exit
status is 1 when any check failed.  ``--seed`` repeats a run's inputs.

On a GPU every CuPy allocation is first filled with 0xFF bytes (NaN in float32 and float64), so
an output element a kernel forgot to write is NaN and fails its check.  The checks:

- linear_act_forward/backward through "cublas", "custom" (the tiled GEMM) and "high" precision
  (TF32 through cuBLAS), every activation, both dtypes, with and without bias, every
  needs_input_grad pattern, dW_out; dy must stay unchanged, CuPy's compute type restored;
- act_forward (also in place and on a transposed view) and act_backward;
- the fused backward epilogue ``_dz_db`` with and without dz and db;
- sgd_update and adam_update, every option combination, three steps;
- the fused cross-entropy: the kernels alone (probabilities, row losses, targets, gradient,
  the status of a bad target, > 2**20 rows) and ``gg.cross_entropy`` on the device against the
  float64 formula and against the CPU path on edge values (-inf, +inf, NaN, ignored rows);
- ``kernels.cuda._gemm`` (one direct cuBLAS call) on C/F layouts, when this version has it;
- > 2**31-element indexing (activation, epilogue, GEMM, cross-entropy, SGD) where free memory
  allows, the custom GEMM with M = 4,194,305 rows (the old gridDim.y limit), and the autotuner;
- no host synchronization in a gpugrad training step (forward, cross_entropy, backward, SGD
  or Adam step) under ``cupyx.allow_synchronize(False)``.

``--dry-cpu`` runs the same checks on NumPy arrays through the CPU kernels and says SKIP for
those that need CuPy: a test of the harness that runs anywhere (with ``--quick``, on three
activations, to keep a cold Numba cache's compile time short).
"""
import argparse
import itertools
import json
import math
import os
import secrets
import sys
import time
import traceback
import warnings

import numpy as np

TOL = {"float16": 2e-3, "float32": 1e-5, "float64": 1e-12, "tf32": 5e-3}
SLOPE = 0.2
SCALE = 0.1        # the floor of relerr's denominator for outputs of O(1) inputs (see relerr)
DTYPES = (np.float32, np.float64)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-cpu", action="store_true",
                    help="NumPy arrays through the CPU kernels; checks that need CuPy say SKIP")
    ap.add_argument("--quick", action="store_true", help="fewer shapes and sizes")
    ap.add_argument("--no-big", action="store_true", help="skip the > 2**31-element checks")
    ap.add_argument("--seed", type=int, help="random seed (default: a fresh one, printed)")
    ap.add_argument("--json", metavar="FILE", help="also write every check's result here")
    args = ap.parse_args(argv)
    if args.seed is not None and not 0 <= args.seed < 2 ** 32:
        ap.error(f"--seed: expected an integer in [0, 2**32), got {args.seed}")
    if args.json:                       # fail now, not after the whole run
        folder = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(folder):
            ap.error(f"--json: the folder {folder} does not exist")
    return args


ARGS = parse_args()
DRY = ARGS.dry_cpu
SEED = ARGS.seed if ARGS.seed is not None else secrets.randbits(31)
rng = np.random.default_rng(SEED)

if DRY:
    xp = np
    kc = linalg = cupyx = None
else:
    import cupy as xp
    import cupyx
    from cupy._core import _routines_linalg as linalg

import gpugrad as gg                                                  # noqa: E402
from gpugrad import kernels  # noqa: E402
from gpugrad.kernels import reference as ref                          # noqa: E402
from gpugrad.kernels.activations import ACTIVATIONS, CODE                        # noqa: E402

if DRY:
    from gpugrad.kernels import cpu as kcpu
else:
    from gpugrad.kernels import cuda as kc
DEVICE = "cpu" if DRY else "cuda"
# --dry-cpu --quick tests the harness: three activations (identity; relu, from y; gelu, from z)
# and sizes below the CPU kernels' threshold for threads, so that a cold Numba cache compiles
# ~30 kernels (~20 s), not ~80
ACTS = ("identity", "relu", "gelu") if DRY and ARGS.quick else ACTIVATIONS


# ------------------------------------------------------------------------------ bookkeeping

ROWS = []


def record(name, status, info="", errs=None, tol=None):
    ROWS.append({"name": name, "status": status, "info": info, "errs": errs, "tol": tol})
    print(f"{status:4s}  {name:64s} {info}", flush=True)


def run(name, fn, *args, gpu_only=False):
    """Run one check; an exception is that check's FAIL, never the end of the script."""
    if gpu_only and DRY:
        record(name, "SKIP", "needs CuPy (--dry-cpu)")
        return
    try:
        fn(name, *args)
    except Exception as exc:                   # noqa: BLE001
        record(name, "FAIL", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        traceback.print_exc(limit=3, file=sys.stdout)


def expect(name, errs, tol):
    worst = max(errs) if errs else 0.0
    record(name, "PASS" if worst <= tol else "FAIL",
           "err " + " ".join(f"{e:.1e}" for e in errs) + f" (tol {tol:.0e})", errs, tol)


def host(a):
    """A NumPy array (or scalar) of ``a``; None stays None."""
    if a is None or DRY or isinstance(a, (np.ndarray, np.generic)):
        return a
    return xp.asnumpy(a)


def dev(a):
    """A device copy (a copy on the CPU too: NumPy's asarray would alias the reference's input)."""
    return np.array(a, copy=True) if DRY else xp.asarray(a)


def relerr(got, want, floor=0.0):
    """||got - want|| / max(||want||, floor * sqrt(size)) over the entries where ``want`` is
    finite; inf when the shapes differ, when got is NaN or infinite where want is not (a
    poisoned, unwritten entry), or when one of them is None and the other is not.  ``floor``:
    the data's scale, for outputs of O(1) data (SCALE), so that a lone entry that cancels to ~0
    is judged against the data's size rather than its own."""
    if want is None or got is None:
        return 0.0 if want is None and got is None else math.inf
    g, w = np.asarray(host(got), np.float64), np.asarray(want, np.float64)
    if g.shape != w.shape:
        return math.inf
    if (np.isnan(g) != np.isnan(w)).any():
        return math.inf
    infs = np.isinf(g) | np.isinf(w)
    if (g[infs] != w[infs]).any():
        return math.inf
    keep = np.isfinite(w)
    d = np.linalg.norm(g[keep] - w[keep])
    n = max(np.linalg.norm(w[keep]), floor * math.sqrt(keep.sum()))
    return float(d / n) if n > 0 else float(d)


def randn(*shape, dtype=np.float64, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


def f64(a):
    """A float64 NumPy copy of ``a`` (always a copy: the reference may update it in place)."""
    return None if a is None else np.array(host(a), np.float64)


def dname(dtype):
    return np.dtype(dtype).name


# ------------------------------------------------------------------- poisoned CuPy allocations

def poison_allocations():
    """Route CuPy's allocations through its pool, each filled with 0xFF bytes (NaN) first."""
    pool = xp.get_default_memory_pool()

    def malloc(size):
        mem = pool.malloc(size)
        if size:
            xp.cuda.runtime.memsetAsync(mem.ptr, 0xFF, size, xp.cuda.get_current_stream().ptr)
        return mem

    xp.cuda.set_allocator(malloc)


def free_bytes():
    """Device bytes free for one big check, after giving the pool's cached blocks back."""
    xp.get_default_memory_pool().free_all_blocks()
    return xp.cuda.runtime.memGetInfo()[0]


# ----------------------------------------------------------------------------- linear layer

LINEAR_SHAPES = [(1, 1, 1, True), (7, 129, 7, False), (65, 17, 10, True), (130, 257, 67, True),
                 (300, 33, 129, False)]
if ARGS.quick:
    LINEAR_SHAPES = [(7, 129, 7, False), (130, 257, 67, True)]
HOWS = ("cpu", "cpu-high") if DRY else ("cublas", "custom", "high")


class forced_path:
    """Force the GEMM path ("cublas"/"custom" via the autotuner's answer) and the matmul
    precision ("high" for TF32) for one check; the CPU ignores both."""

    def __init__(self, how):
        self.how = how

    def __enter__(self):
        kernels.set_matmul_precision("high" if self.how.endswith("high") else "highest")
        if kc is not None and self.how in ("cublas", "custom"):
            self.choose = kc.choose
            kc.choose = lambda *a, **k: self.how
        self.compute_type = None if linalg is None else linalg.get_compute_type(np.float32)
        return self

    def restored(self):
        """CuPy's float32 compute type is what it was before the check (0) or not (inf)."""
        if linalg is None:
            return 0.0
        return 0.0 if linalg.get_compute_type(np.float32) == self.compute_type else math.inf

    def __exit__(self, *exc):
        kernels.set_matmul_precision("highest")
        if hasattr(self, "choose"):
            kc.choose = self.choose


def check_linear(name, how, act, dtype, shape, needs=(True, True, True)):
    n, k, m, has_bias = shape
    x, W, dy = randn(n, k, dtype=dtype), randn(k, m, dtype=dtype, scale=k ** -0.5), \
        randn(n, m, dtype=dtype)
    b = randn(m, dtype=dtype) if has_bias else None
    tol = TOL["tf32"] if how == "high" and dtype == np.float32 else TOL[dname(dtype)]
    with forced_path(how) as path:
        y, z = kernels.linear_act_forward(dev(x), dev(W), None if b is None else dev(b), act, SLOPE)
        y_ref, z_ref = ref.linear_act_forward(f64(x), f64(W), f64(b), act, SLOPE)
        errs = [relerr(y, y_ref, SCALE), relerr(z, z_ref, SCALE)]
        # backward against the reference fed the kernel's own y/z: it isolates the backward (a
        # relu mask taken from the float64 y could differ where y ~ 0)
        dy_d = dev(dy)
        dW_out = xp.full(W.shape, np.nan, dtype) if needs[1] else None
        grads = kernels.linear_act_backward(dy_d, dev(x), dev(W), y, z, act, SLOPE, needs, dW_out)
        want = ref.linear_act_backward(f64(dy), f64(x), f64(W), f64(y), f64(z), act, SLOPE, needs)
        errs += [relerr(g, w, SCALE) for g, w in zip(grads, want)]
        errs.append(0.0 if grads[1] is dW_out else math.inf)             # dW written into dW_out
        errs.append(0.0 if np.array_equal(host(dy_d), dy) else math.inf)  # dy unchanged
        errs.append(path.restored())
    expect(name, errs, tol)


# ----------------------------------------------------------------------------- activations

ACT_SHAPES = [((1,), "new"), ((7, 3, 129), "new"), ((1000, 33), "inplace"),
              ((33, 65), "transposed"), ((4099,), "out")]
if ARGS.quick:
    ACT_SHAPES = [((7, 3, 129), "new"), ((1000, 33), "inplace"), ((33, 65), "transposed")]


def check_act(name, act, dtype, shape, mode):
    z, dy = randn(*shape, dtype=dtype, scale=3.0), randn(*shape, dtype=dtype)
    zd = dev(z)
    if mode == "transposed":                  # a strided view in, a strided view out
        zd, z, dy = zd.T, z.T, dy.T
    out = {"inplace": zd, "out": xp.empty_like(zd)}.get(mode)
    y = kernels.act_forward(zd, act, out=out, negative_slope=SLOPE)
    errs = [relerr(y, ref.act_forward(f64(z), act, SLOPE), SCALE)]
    if out is not None:
        errs.append(0.0 if y is out else math.inf)
    yk = f64(y)
    dz = kernels.act_backward(dev(dy), dev(host(y)), dev(z), act, SLOPE)
    errs.append(relerr(dz, ref.act_backward(f64(dy), yk, f64(z), act, SLOPE), SCALE))
    expect(name, errs, TOL[dname(dtype)])


# ----------------------------------------------------------------------------- fused dz + db

DZ_DB_SHAPES = [(1, 1), (7, 33), (1000, 65), (4097, 31), (5, 5000), (100_003, 7)]
if ARGS.quick:
    DZ_DB_SHAPES = [(7, 33), (4097, 31)] + ([] if DRY else [(100_003, 7)])  # rows past the grid


def dz_db(dy, y, z, dz, act, want_db):
    if DRY:
        return kcpu._dz_db(dy, y, z, dz, CODE[act], SLOPE, want_db)
    return kc._dz_db(dy, y, z, dz, CODE[act], dy.dtype.type(SLOPE), want_db)


def check_dz_db(name, act, dtype, shape, want_dz, want_db):
    dy, z = randn(*shape, dtype=dtype), randn(*shape, dtype=dtype, scale=2.0)
    y = ref.act_forward(f64(z), act, SLOPE).astype(dtype)
    dz = xp.empty(shape, dtype) if want_dz else None
    db = dz_db(dev(dy), dev(y), dev(z), dz, act, want_db)
    dz_ref = ref.act_backward(f64(dy), f64(y), f64(z), act, SLOPE)
    errs = [relerr(dz, dz_ref if want_dz else None, SCALE),
            relerr(db, dz_ref.sum(axis=0) if want_db else None, SCALE)]
    expect(name, errs, TOL[dname(dtype)])


# ----------------------------------------------------------------------------- optimizers

def sgd_options():
    for momentum, dampening, nesterov, wd, maximize in itertools.product(
            (0.0, 0.9), (0.0, 0.3), (False, True), (0.0, 0.1), (False, True)):
        if (momentum == 0 and (dampening or nesterov)) or (nesterov and dampening):
            continue
        yield dict(lr=0.1, momentum=momentum, dampening=dampening, nesterov=nesterov,
                   weight_decay=wd, maximize=maximize)


def adam_options():
    for (b1, b2, eps), wd, decoupled, maximize, amsgrad in itertools.product(
            ((0.9, 0.999, 1e-8), (0.3, 0.99, 1e-6)), (0.0, 0.1), (False, True), (False, True),
            (False, True)):
        yield dict(lr=0.1, beta1=b1, beta2=b2, eps=eps, weight_decay=wd, decoupled=decoupled,
                   maximize=maximize, amsgrad=amsgrad)


OPT_SIZES = (1, 1001, (1 << 20) + 3)
if ARGS.quick:
    OPT_SIZES = (1, 1001) if DRY else (1, 1001, 70_001)


def short(opts):
    return " ".join(f"{k}={v}" for k, v in opts.items() if k != "lr" and v not in (0.0, False))


def check_optimizer(name, kind, dtype, size, opts):
    """Three steps (the first with first_step=True); before each, the float64 reference starts
    from the kernel's own state, so that each step is judged alone (float32 rounding of the
    previous step's p feeding an ill-conditioned spot -- Adam's g / (|g| + eps) at g ~ eps --
    is not counted against the kernel).  Compares the update p - p_before (with lr as the
    floor: a relative check on p itself would hide errors), the state buffers, and that grad
    is unchanged."""
    if kind == "sgd":
        nbuf = 1 if opts["momentum"] else 0                    # momentum_buf None without momentum
    else:
        nbuf = 3 if opts["amsgrad"] else 2                     # max_exp_avg_sq None without amsgrad
    state = [dev(randn(size, dtype=dtype, scale=0.5))]
    state += [xp.zeros(size, dtype) for _ in range(nbuf)]

    def update(module, s, grad, step):
        if kind == "sgd":
            module.sgd_update(s[0], grad, s[1] if nbuf else None, first_step=step == 1, **opts)
        else:
            module.adam_update(s[0], grad, s[1], s[2], step=step,
                               max_exp_avg_sq=s[3] if nbuf == 3 else None, **opts)

    errs = [0.0] * (nbuf + 2)
    for step in (1, 2, 3):
        g = randn(size, dtype=dtype)
        gd = dev(g)
        want = [f64(a) for a in state]
        before = want[0].copy()
        update(ref, want, f64(g), step)
        update(kernels, state, gd, step)
        step_errs = [relerr(f64(state[0]) - before, want[0] - before, opts["lr"])]
        step_errs += [relerr(a, w, SCALE) for a, w in zip(state[1:], want[1:])]
        step_errs.append(0.0 if np.array_equal(host(gd), g) else math.inf)
        errs = [max(a, b) for a, b in zip(errs, step_errs)]
    expect(name, errs, TOL[dname(dtype)])


# ----------------------------------------------------------------------------- cross-entropy

def ce_reference(x, t, eps, ignore_index=-100, reduction="mean"):
    """Loss and d loss / d logits of softmax cross-entropy in float64 (finite logits)."""
    x = f64(x)
    n, c = x.shape
    s = x - x.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    rows = -(1 - eps) * logp[np.arange(n), safe] - eps * logp.mean(axis=1)
    rows = np.where(valid, rows, 0.0)
    count = max(int(valid.sum()), 1)
    w = valid * (1.0 / count if reduction == "mean" else 1.0)
    hot = np.zeros((n, c))
    hot[np.arange(n), safe] = 1.0
    grad = (np.exp(logp) - (1 - eps) * hot - eps / c) * w[:, None]
    loss = {"none": rows, "sum": rows.sum(), "mean": rows.sum() / count}[reduction]
    return loss, grad, np.exp(logp), rows, safe, valid


def ce_inputs(n, c, ignore):
    x = randn(n, c, scale=3.0)
    t = rng.integers(0, c, n)
    if ignore:
        t[::3] = -100
    return x, t


CE_SHAPES = [(1, 1, 0.0, False), (7, 3, 0.0, True), (33, 300, 0.1, True), (5, 5000, 0.25, False),
             (1000, 10, 0.1, True), (3, 257, 0.0, False), ((1 << 20) + 5, 3, 0.1, True)]
if ARGS.quick:
    CE_SHAPES = [(7, 3, 0.0, True), (33, 300, 0.1, True), (5, 5000, 0.25, False)]
    if not DRY:
        CE_SHAPES.append(((1 << 20) + 5, 3, 0.1, True))      # rows past the grid: a stride


def check_ce_kernels(name, dtype, shape):
    """kernels.cuda.cross_entropy_forward/backward alone: every output against float64."""
    n, c, eps, ignore = shape
    x, t = ce_inputs(n, c, ignore)
    x = x.astype(dtype)
    status = xp.zeros(2, np.uint64)
    probs, loss, safe_t, valid = kc.cross_entropy_forward(dev(x), dev(t), -100, eps, status)
    _, grad_ref, p_ref, rows_ref, safe_ref, valid_ref = ce_reference(x, t, eps)
    count = max(int(valid_ref.sum()), 1)
    weight = xp.asarray((valid_ref / count).astype(dtype))
    grad = kc.cross_entropy_backward(probs, safe_t, weight, eps)
    errs = [relerr(probs, p_ref), relerr(loss, rows_ref), relerr(grad, grad_ref),
            0.0 if np.array_equal(host(safe_t), safe_ref) else math.inf,
            0.0 if np.array_equal(host(valid), valid_ref.astype(dtype)) else math.inf,
            0.0 if host(status).tolist() == [0, 0] else math.inf]
    expect(name, errs, TOL[dname(dtype)])


def check_ce_status(name, dtype):
    """A target outside [0, C) gives that row a NaN loss and sets the status to (1, value)."""
    n, c = 9, 5
    x, t = ce_inputs(n, c, True)
    t[4] = c + 7
    status = xp.zeros(2, np.uint64)
    _, loss, safe_t, _ = kc.cross_entropy_forward(dev(x.astype(dtype)), dev(t), -100, 0.0, status)
    rows_ref = ce_reference(x, np.where(np.arange(n) == 4, -100, t), 0.0)[3]
    got = f64(loss)
    ok = (host(status).tolist() == [1, c + 7] and np.isnan(got[4]) and host(safe_t)[4] == 0
          and np.isfinite(np.delete(got, 4)).all())
    errs = [0.0 if ok else math.inf, relerr(np.delete(got, 4), np.delete(rows_ref, 4))]
    expect(name, errs, TOL[dname(dtype)])


def check_ce_op(name, dtype, shape, reduction):
    """gg.cross_entropy on this run's device, forward and backward, against float64."""
    n, c, eps, ignore = shape
    x, t = ce_inputs(n, c, ignore)
    x = x.astype(dtype)
    xt = gg.tensor(x, device=DEVICE, requires_grad=True)
    loss = gg.cross_entropy(xt, gg.tensor(t, device=DEVICE), reduction=reduction,
                            label_smoothing=eps)
    (loss.sum() if reduction == "none" else loss).backward()
    loss_ref, grad_ref = ce_reference(x, t, eps, reduction=reduction)[:2]
    expect(name, [relerr(loss.numpy(), loss_ref), relerr(xt.grad.numpy(), grad_ref)],
           TOL[dname(dtype)])


CE_EDGES = ["neg_inf", "pos_inf", "nan", "all_neg_inf", "empty"]


def check_ce_edge(name, dtype, special, reduction):
    """Edge values through the fused CUDA kernels against the CPU's array path (NaN where it
    has NaN): -inf masks, +inf ties, a NaN logit, a row of -inf, no rows."""
    n, c = (0, 4) if special == "empty" else (6, 4)
    x, t = ce_inputs(n, c, True)
    if n:
        if special == "neg_inf":
            x[:, 0] = -np.inf
            t = np.where(t == 0, 1, t)
        elif special == "pos_inf":
            x[0, :2] = np.inf
        elif special == "nan":
            x[1, 1] = np.nan
        else:
            x[0, :] = -np.inf
            t = np.where(t == 0, 1, t)
    results = []
    for device in ("cpu", "cuda"):
        xt = gg.tensor(x.astype(dtype), device=device, requires_grad=True)
        loss = gg.cross_entropy(xt, gg.tensor(t, device=device), reduction=reduction,
                                label_smoothing=0.1)
        (loss.sum() if reduction == "none" else loss).backward()
        results.append((loss.numpy(), xt.grad.numpy()))
    (l_cpu, g_cpu), (l_gpu, g_gpu) = results
    expect(name, [relerr(l_gpu, l_cpu), relerr(g_gpu, g_cpu)], TOL[dname(dtype)])


# ------------------------------------------------------------------------ direct cuBLAS GEMM

def check_direct_gemm(name, dtype, precision):
    """kernels.cuda._gemm (when this version has it) for C- and F-contiguous operands."""
    errs = []
    for layout, (m, k, n) in itertools.product(("CC", "FC", "CF", "FF"),
                                              ((1, 1, 1), (5, 7, 3), (129, 65, 1), (1, 130, 257))):
        a, b = randn(m, k, dtype=dtype), randn(k, n, dtype=dtype)
        ad, bd = dev(a), dev(b)
        if layout[0] == "F":
            ad = xp.asfortranarray(ad)
        if layout[1] == "F":
            bd = xp.asfortranarray(bd)
        out = xp.empty((m, n), dtype)
        got = kc._gemm(ad, bd, out, precision)
        errs.append(relerr(got, f64(a) @ f64(b)) if got is out else math.inf)
    tol = TOL["tf32"] if precision == "high" and dtype == np.float32 else TOL[dname(dtype)]
    expect(name, errs, tol)


# ----------------------------------------------------------------- > 2**31 elements, grid limits

def sample_rows(n, around):
    idx = np.r_[0:3, around - 3:around + 3, n - 3:n]
    return np.unique(idx[(idx >= 0) & (idx < n)])


def big(need_gb):
    """Decorator: run the check only with ``need_gb`` GB free (SKIP otherwise, saying so)."""
    def wrap(fn):
        def check(name, *args):
            free = free_bytes() / 1e9
            if free < need_gb:
                record(name, "SKIP", f"needs {need_gb} GB free, {free:.0f} GB free")
                return
            try:
                fn(name, *args)
            finally:
                free_bytes()
        return check
    return wrap


@big(30)
def big_act(name):
    n = (1 << 31) + 4099
    z = xp.random.standard_normal(n, dtype=np.float32)
    y = kernels.act_forward(z, "relu")
    same = bool(xp.array_equal(y, xp.maximum(z, 0)))         # relu is exact: every element
    expect(name, [0.0 if same else math.inf], 0.0)


@big(40)
def big_dz_db(name):
    n, m = 524_291, 4096                                     # n * m = 2,147,495,936
    dy = xp.random.standard_normal((n, m), dtype=np.float32)
    y = xp.maximum(xp.random.standard_normal((n, m), dtype=np.float32), 0)
    dz = xp.empty_like(dy)
    db = kc._dz_db(dy, y, y, dz, CODE["relu"], np.float32(SLOPE), True)
    exact = bool(xp.array_equal(dz, dy * (y > 0)))           # relu' is 0 or 1: exact
    db_ref = f64(xp.sum(dz, axis=0, dtype=np.float64))
    expect(name, [0.0 if exact else math.inf, relerr(db, db_ref)], TOL["float32"])


@big(12)
def big_gemm(name):
    M, K, N = 2_100_000, 1024, 16                            # M * K = 2,150,400,000
    x = xp.random.standard_normal((M, K), dtype=np.float32)
    W = xp.random.standard_normal((K, N), dtype=np.float32) * np.float32(K ** -0.5)
    b = xp.random.standard_normal(N, dtype=np.float32)
    y = xp.empty((M, N), np.float32)
    kc._custom_linear(x, W, b, CODE["relu"], np.float32(SLOPE), y, None)
    rows = sample_rows(M, (1 << 31) // K)                    # where the offset passes 2**31
    want = np.maximum(f64(x[xp.asarray(rows)]) @ f64(W) + f64(b), 0)
    expect(name, [relerr(y[xp.asarray(rows)], want),
                  0.0 if bool(xp.isfinite(y).all()) else math.inf], TOL["float32"])


@big(32)
def big_cross_entropy(name):
    n, c = (1 << 21) + 3, 1025                               # n * c = 2,149,583,875
    x = xp.random.standard_normal((n, c), dtype=np.float32) * np.float32(3)
    t = xp.asarray(rng.integers(0, c, n))
    status = xp.zeros(2, np.uint64)
    probs, loss, safe_t, valid = kc.cross_entropy_forward(x, t, -100, 0.1, status)
    del valid
    grad = kc.cross_entropy_backward(probs, safe_t, xp.full(n, 1.0 / n, np.float32), 0.1)
    rows = sample_rows(n, (1 << 31) // c)
    ri = xp.asarray(rows)
    _, _, p_ref, rows_ref, _, _ = ce_reference(f64(x[ri]), host(t[ri]), 0.1)
    hot = np.zeros((len(rows), c))
    hot[np.arange(len(rows)), host(t[ri])] = 1
    g_ref = (p_ref - 0.9 * hot - 0.1 / c) / n
    expect(name, [relerr(probs[ri], p_ref), relerr(loss[ri], rows_ref), relerr(grad[ri], g_ref),
                  0.0 if bool(xp.isfinite(grad).all()) else math.inf], TOL["float32"])


@big(40)
def big_sgd(name):
    n = (1 << 31) + 11
    p = xp.random.standard_normal(n, dtype=np.float32)
    g = xp.random.standard_normal(n, dtype=np.float32)
    p0, buf = p.copy(), xp.empty_like(p)
    kernels.sgd_update(p, g, buf, lr=0.1, momentum=0.9, first_step=True)
    idx = xp.asarray(sample_rows(n, 1 << 31))
    want = f64(p0[idx]) - 0.1 * f64(g[idx])
    unchanged = int(xp.count_nonzero(p == p0))               # an element the kernel never reached
    expect(name, [relerr(f64(p[idx]) - f64(p0[idx]), want - f64(p0[idx]), 0.1),
                  relerr(buf[idx], f64(g[idx])),
                  0.0 if unchanged == 0 else math.inf], TOL["float32"])


def grid_limit(name):
    """The custom GEMM with M = 4,194,305 rows: 65,537 row tiles, past CUDA's gridDim.y limit
    (65,535) where the row tiles once were; every row written, sampled rows right."""
    M, K, N = 4_194_305, 33, 130
    x = xp.random.standard_normal((M, K), dtype=np.float32)
    W = xp.random.standard_normal((K, N), dtype=np.float32) * np.float32(K ** -0.5)
    b = xp.random.standard_normal(N, dtype=np.float32)
    y = xp.empty((M, N), np.float32)
    kc._custom_linear(x, W, b, CODE["relu"], np.float32(SLOPE), y, None)
    rows = sample_rows(M, 65_535 * 64)
    ri = xp.asarray(rows)
    want = np.maximum(f64(x[ri]) @ f64(W) + f64(b), 0)
    errs = [relerr(y[ri], want), 0.0 if bool(xp.isfinite(y).all()) else math.inf]
    with forced_path("custom"):
        y2, _ = kernels.linear_act_forward(x, W, b, "relu", SLOPE)
    errs.append(relerr(y2[ri], want))
    expect(name, errs, TOL["float32"])
    del x, y, y2
    free_bytes()


def autotuner_big(name):
    """choose() on the 4,194,305-row shape answers without raising (it times both paths)."""
    kc._CHOICES.clear()
    answer = kc.choose((4_194_305, 33, 130), np.float32, "relu")
    record(name, "PASS" if answer in ("cublas", "custom") else "FAIL", f"choose -> {answer!r}")
    free_bytes()


# ----------------------------------------------------------------------------- host syncs

def sync_probe(name, optimizer):
    """One training step (forward, cross_entropy, backward, optimizer step, zero_grad) after two
    warm-up steps must not synchronize with the host: cupyx.allow_synchronize(False) raises
    DeviceSynchronized at the first sync, named here by gpugrad's innermost frame."""
    from gpugrad import nn, optim
    model = nn.MLP([257, 512, 130, 10], activation="relu", device="cuda")
    opt = (optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if optimizer == "sgd"
           else optim.Adam(model.parameters(), lr=1e-3))
    x = gg.tensor(randn(300, 257, dtype=np.float32), device="cuda")
    t = rng.integers(0, 10, 300)
    t[::7] = -100
    t = gg.tensor(t, device="cuda")

    def step():
        loss = nn.functional.cross_entropy(model(x), t, label_smoothing=0.1)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    for _ in range(2):
        step()
    xp.cuda.Device().synchronize()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                       # allow_synchronize is experimental
        try:
            with cupyx.allow_synchronize(False):
                loss = step()
        except cupyx.DeviceSynchronized:
            frames = [f for f in traceback.extract_tb(sys.exc_info()[2])
                      if "gpugrad" in f.filename or "/kernels/" in f.filename]
            where = (f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno} "
                     f"{frames[-1].line}" if frames else "outside gpugrad")
            record(name, "FAIL", f"host sync at {where}")
            return
    value = loss.item()                                       # synchronizes: raises a pending check
    record(name, "PASS" if math.isfinite(value) else "FAIL", f"loss {value:.4f}, no sync")


# ----------------------------------------------------------------------------- the plan

def main():
    t0 = time.perf_counter()
    if DRY:
        where = "CPU kernels on NumPy arrays (--dry-cpu)"
    else:
        props = xp.cuda.runtime.getDeviceProperties(xp.cuda.runtime.getDevice())
        where = f"CUDA device {props['name'].decode()}"
    print(f"gpu_kernel_check: {where}; seed {SEED} (rerun with --seed {SEED}); "
          f"{'quick' if ARGS.quick else 'full'}", flush=True)
    if not DRY:
        poison_allocations()

    for how, dtype, act, shape in itertools.product(HOWS, DTYPES, ACTS, LINEAR_SHAPES):
        if how.endswith("high") and dtype != np.float32:
            continue
        run(f"linear {how} {act} {dname(dtype)} {shape[:3]}{'' if shape[3] else ' no-bias'}",
            check_linear, how, act, dtype, shape)
    for how, dtype, act, needs in itertools.product(
            HOWS, DTYPES, ("relu", "gelu"), ((False, True, False), (True, False, True),
                                             (False, False, True), (False, False, False))):
        run(f"linear {how} {act} {dname(dtype)} needs_input_grad={needs}",
            check_linear, how, act, dtype, (65, 17, 10, True), needs)

    for dtype, act, (shape, mode) in itertools.product(DTYPES, ACTS, ACT_SHAPES):
        run(f"act {act} {dname(dtype)} {shape} {mode}", check_act, act, dtype, shape, mode)

    for dtype, act, shape in itertools.product(DTYPES, ACTS, DZ_DB_SHAPES):
        run(f"dz_db {act} {dname(dtype)} {shape}", check_dz_db, act, dtype, shape, True, True)
    for dtype, act in itertools.product(DTYPES, ("identity", "relu", "gelu")):
        run(f"dz_db {act} {dname(dtype)} (999, 77) db only", check_dz_db, act, dtype, (999, 77),
            False, True)
        run(f"dz_db {act} {dname(dtype)} (999, 77) dz only", check_dz_db, act, dtype, (999, 77),
            True, False)

    for dtype, size in itertools.product(DTYPES, OPT_SIZES):
        for opts in sgd_options():
            run(f"sgd {dname(dtype)} n={size} {short(opts)}", check_optimizer, "sgd", dtype, size,
                opts)
        for opts in adam_options():
            run(f"adam {dname(dtype)} n={size} {short(opts)}", check_optimizer, "adam", dtype,
                size, opts)

    for dtype, shape in itertools.product(DTYPES, CE_SHAPES):
        run(f"cross_entropy kernels {dname(dtype)} {shape[:2]} eps={shape[2]}", check_ce_kernels,
            dtype, shape, gpu_only=True)
    for dtype in DTYPES:
        run(f"cross_entropy kernel status {dname(dtype)} bad target", check_ce_status, dtype,
            gpu_only=True)
    for dtype, shape, reduction in itertools.product(DTYPES, CE_SHAPES[:4],
                                                     ("mean", "sum", "none")):
        run(f"cross_entropy op {DEVICE} {dname(dtype)} {shape[:2]} eps={shape[2]} {reduction}",
            check_ce_op, dtype, shape, reduction)
    for dtype, special, reduction in itertools.product(
            (np.float32, np.float64, np.float16), CE_EDGES, ("mean", "none")):
        run(f"cross_entropy cuda vs cpu {dname(dtype)} {special} {reduction}", check_ce_edge,
            dtype, special, reduction, gpu_only=True)

    if DRY or hasattr(kc, "_gemm"):
        for dtype, precision in ((np.float32, "highest"), (np.float32, "high"),
                                 (np.float64, "highest")):
            run(f"direct GEMM _gemm {dname(dtype)} {precision}", check_direct_gemm, dtype,
                precision, gpu_only=True)
    else:
        record("direct GEMM _gemm", "SKIP", "kernels.cuda has no _gemm in this version")

    run("custom GEMM with M = 4,194,305 rows (old gridDim.y limit)", grid_limit, gpu_only=True)
    run("autotuner on the 4,194,305-row shape", autotuner_big, gpu_only=True)
    for name, fn in (("act_forward relu on 2**31 + 4099 elements", big_act),
                     ("_dz_db relu (524291, 4096) = 2**31 + 11,789 elements", big_dz_db),
                     ("custom GEMM with M * K = 2,150,400,000", big_gemm),
                     ("cross_entropy (2**21 + 3, 1025) = 2,149,583,875 logits", big_cross_entropy),
                     ("sgd_update momentum on 2**31 + 11 elements", big_sgd)):
        if ARGS.no_big:
            record(name, "SKIP", "--no-big")
        else:
            run(name, fn, gpu_only=True)

    for optimizer in ("sgd", "adam"):
        run(f"training step ({optimizer}) has no host sync", sync_probe, optimizer, gpu_only=True)

    counts = {s: sum(r["status"] == s for r in ROWS) for s in ("PASS", "FAIL", "SKIP")}
    elapsed = time.perf_counter() - t0
    print(f"\nkernel check summary: PASS={counts['PASS']} FAIL={counts['FAIL']} "
          f"SKIP={counts['SKIP']} (seed {SEED}, {elapsed:.0f} s)")
    for r in ROWS:
        if r["status"] == "FAIL":
            print(f"  FAIL {r['name']}  {r['info']}")
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump({"seed": SEED, "dry_cpu": DRY, "quick": ARGS.quick, "counts": counts,
                       "elapsed_s": elapsed, "checks": ROWS}, f, indent=1,
                      default=lambda o: None if o is None else float(o))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
