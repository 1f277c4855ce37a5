"""CPU kernels: GEMMs through NumPy/BLAS into preallocated outputs, and Numba epilogues that make
one parallel pass over memory (bias + activation forward; dZ + bias gradient backward; SGD and
Adam updates).

Epilogues are specialized per activation (a factory closes over the activation's integer code,
so LLVM folds the other activations away) and per dtype by Numba itself. Kernels compile lazily
on first use and are cached on disk (``cache=True``, in kernels/__pycache__). Measured on the
2-core dev box (while busy): compiling one (kernel, activation, dtype) costs about 2 s on its
first use ever -- a first training step of an MLP with one activation compiles the forward and
backward epilogues and one optimizer kernel, ~6 s; later processes load each from the disk cache
in 20-40 ms, after a one-time ~1.3 s of Numba start-up (threading layer, typing) per process.

float32 and float64 take the fused path; other dtypes (float16, ...) go to ``reference`` in the
package's dispatch, and optimizer buffers that are not contiguous go there from here.
Activations are evaluated in float64 arithmetic and rounded once on store (the passes are
memory- or libm-bound: float32 math measured only ~20% faster for gelu); bias-gradient column
sums are accumulated in float64 per thread chunk.
fastmath is limited to ``contract`` (FMA), which keeps NaN/inf semantics and never loses
accuracy. Work is split into at most ``gpugrad.get_num_threads()`` chunks of >= 256K elements
(a pass of ~0.1 ms or more per thread: on a busy machine, waking a thread costs a scheduler time
slice), so small arrays don't wake threads they can't use; an array of one chunk runs a
single-threaded twin of the kernel (compiled without ``parallel``), which skips the thread pool
entirely. GEMMs below ``gpugrad.threads.SMALL_GEMM`` multiply-adds run with BLAS on one thread.
"""
import functools
import importlib
import math
import threading

import numba
import numpy as np
from numba import njit, prange

from . import threads as _threads
from . import half_bits, reference
from .half_bits import bf16_bits, f16_bits
from .activations import CODE, GELU, GELU_TANH, IDENTITY, SILU
from .cpu_act import _act, _dact  # (the scalar math; cuda_numba compiles its source too)

FAST_DTYPES = reference.FAST_DTYPES
_FAST = {"contract"}
_CHUNK = 1 << 18          # elements per thread below which an extra thread isn't worth waking


# ------------------------------------------------------------ epilogue kernels, one per activation

@functools.lru_cache(maxsize=None)
def _epilogues(code, parallel):
    """(forward, backward) kernels for one activation code, a compile-time constant. Rows are
    split into nchunks; the boolean flags are loop-invariant, and LLVM unswitches them.
    ``parallel=False`` builds the single-threaded twin used for small arrays, where waking the
    thread pool costs more than the work (and, on a busy machine, milliseconds)."""

    @njit(parallel=parallel, cache=True, fastmath=_FAST)
    def forward(src, b, dst, has_bias, write_src, slope, nchunks):
        # dst = act(src + b); with write_src, src = src + b too (the kept pre-activation)
        n, m = src.shape
        nchunks = nchunks if parallel else 1   # also keys the disk cache per variant
        for t in prange(nchunks):
            for i in range(t * n // nchunks, (t + 1) * n // nchunks):
                for j in range(m):
                    v = src[i, j] + b[j] if has_bias else src[i, j]
                    if write_src:
                        src[i, j] = v
                    dst[i, j] = _act(v, code, slope)

    @njit(parallel=parallel, cache=True, fastmath=_FAST)
    def backward(dy, y, z, dz, partial, write_dz, want_db, slope, nchunks):
        # dz = dy * act'(y or z); partial[t] = float64 column sums of dz over chunk t's rows
        n, m = dy.shape
        nchunks = nchunks if parallel else 1
        for t in prange(nchunks):
            for i in range(t * n // nchunks, (t + 1) * n // nchunks):
                for j in range(m):
                    g = dy[i, j] * _dact(y[i, j], z[i, j], code, slope)
                    if write_dz:
                        dz[i, j] = g
                    if want_db:
                        partial[t, j] += g

    return forward, backward


def _nchunks(rows, size, nthreads=None):
    """Chunks of a pass over ``size`` elements in ``rows`` rows; ``nthreads``: what
    :func:`parallel_threads` says now (asked when None)."""
    if size < 2 * _CHUNK:                       # one chunk: no need to ask for the thread count
        return 1
    if nthreads is None:
        nthreads = parallel_threads()
    return max(1, min(nthreads, rows, size // _CHUNK))


def parallel_threads():
    """Threads a parallel kernel launched from the calling thread uses now (1 where Numba's
    pool takes launches from the main thread only).  A captured step's replay asks once and
    hands the answer to each kernel (``nthreads=``), as each eager call would ask.

    >>> parallel_threads() >= 1
    True
    """
    if not (_pool_threadsafe() or threading.current_thread() is threading.main_thread()):
        return 1                # Numba's workqueue pool: one launching thread only (below)
    return _threads.get_num_threads()


@functools.lru_cache(maxsize=None)
def _pool_threadsafe():
    """True when Numba's threading layer takes parallel launches from several threads at once
    (omp, tbb); False for workqueue (where Numba has neither), whose concurrent use aborts
    the process: parallel kernels then launch from the main thread only."""
    layer = numba.config.THREADING_LAYER
    if layer in ("omp", "tbb", "threadsafe", "safe"):
        return True
    if layer == "workqueue":
        return False
    for name in ("tbbpool", "omppool"):
        try:
            importlib.import_module("numba.np.ufunc." + name)
            return True
        except ImportError:
            pass
    return False


def is_small_gemm(m, k, n):
    """True when an (m, k) @ (k, n) product runs with BLAS on one thread (see :func:`_matmul`).

    >>> is_small_gemm(64, 256, 256), is_small_gemm(4096, 4096, 4096)
    (True, False)
    """
    return m * k * n < _threads.SMALL_GEMM


def _matmul(a, b, out, blas_set=False):
    """``np.matmul(a, b, out=out)``, with BLAS on one thread when the product is small (see
    :mod:`gpugrad.threads`: waking its pool costs more than it brings on a busy machine).
    ``blas_set``: the caller already holds BLAS at the thread count this product takes (a
    replay inside one :class:`~gpugrad.threads.sequential_blas` block)."""
    if blas_set or not is_small_gemm(a.shape[0], a.shape[1], b.shape[1]):
        return np.matmul(a, b, out=out)
    with _threads.sequential_blas():
        return np.matmul(a, b, out=out)


def _as_2d(a):
    """A C-contiguous 2-D view (or copy) of ``a``: (shape[0], rest) or (1, size) for ndim < 2."""
    a = np.ascontiguousarray(a)
    return a.reshape(a.shape[0] if a.ndim >= 2 else 1, -1)


def _blasable(a):
    """``a`` itself when BLAS can read it in place, else one C-contiguous copy (numpy's matmul
    otherwise silently takes a slow non-BLAS loop for arbitrary strides)."""
    return a if a.flags.c_contiguous or a.flags.f_contiguous else np.ascontiguousarray(a)


_NO_BIAS = {}   # dtype -> the empty stand-in for a missing bias


def _bias_act(src, b, dst, code, slope, write_src, nthreads=None):
    has_bias = b is not None
    if has_bias:
        b = np.ascontiguousarray(b)
    else:
        b = _NO_BIAS.get(src.dtype)
        if b is None:
            b = _NO_BIAS.setdefault(src.dtype, np.empty(0, src.dtype))
    nchunks = _nchunks(src.shape[0], src.size, nthreads)
    forward, _ = _epilogues(code, nchunks > 1)
    forward(src, b, dst, has_bias, write_src, float(slope), nchunks)


# ------------------------------------------------------------------------------ public kernels

def act_forward(z, act, out=None, negative_slope=0.01):
    direct = out is not None and out.flags.c_contiguous
    dst = out if direct else np.empty(z.shape, z.dtype)
    if z.size:
        z2 = _as_2d(z)
        _bias_act(z2, None, dst.reshape(z2.shape), CODE[act], negative_slope, write_src=False)
    if out is not None and not direct:
        out[...] = dst
        return out
    return dst


def act_backward(dy, y, z, act, negative_slope=0.01):
    dz = np.empty(dy.shape, dy.dtype)
    if dy.size:
        dy2 = _as_2d(dy)
        _dz_db(dy2, y, z, dz.reshape(dy2.shape), CODE[act], negative_slope, want_db=False)
    return dz


def _dz_db(dy2, y, z, dz2, code, slope, want_db, nthreads=None):
    """Fill dz2 = dy2 * act'(.) (unless it is None) and return the float64 column sums (or None)."""
    src = y if y is not None else z if z is not None else dy2      # identity reads neither
    y2 = _as_2d(src).reshape(dy2.shape)
    z2 = _as_2d(z).reshape(dy2.shape) if z is not None else y2
    n, m = dy2.shape
    nchunks = _nchunks(n, dy2.size, nthreads)
    partial = np.zeros((nchunks, m) if want_db else (1, 1), np.float64)
    write_dz = dz2 is not None
    _, backward = _epilogues(code, nchunks > 1)
    backward(dy2, y2, z2, dz2 if write_dz else dy2, partial, write_dz, want_db, float(slope), nchunks)
    return partial.sum(axis=0) if want_db else None


def linear_act_forward(x, W, b, act="identity", negative_slope=0.01, precision="highest", *,
                       out=None, z_out=None, nthreads=None, blas_set=False):
    """(y, z) as the package's ``linear_act_forward``, unchecked.  ``out`` (and ``z_out``, for
    an activation that keeps z), C-contiguous (N, out) arrays of x's dtype, receive y (and z)
    instead of new arrays -- the same values bit for bit.  ``nthreads``: as :func:`_nchunks`;
    ``blas_set``: as :func:`_matmul` (a captured step's replay sets both once)."""
    # precision: float32 GEMMs are always full precision on CPU
    code = CODE[act]
    keep_z = code in (GELU, GELU_TANH, SILU)
    dst = z_out if keep_z else out                            # where the GEMM writes
    if dst is None:
        dst = np.empty((x.shape[0], W.shape[1]), x.dtype)
    dst = _matmul(_blasable(x), _blasable(W), dst, blas_set)
    if keep_z:                                                # keep z = x @ W + b, y = act(z)
        y = np.empty_like(dst) if out is None else out
        if dst.size:
            _bias_act(dst, b, y, code, negative_slope, True, nthreads)
        return y, dst
    if dst.size and (b is not None or code != IDENTITY):      # y = act(x @ W + b), in place
        _bias_act(dst, b, dst, code, negative_slope, False, nthreads)
    return dst, None


def linear_act_backward(dy, x, W, y, z, act="identity", negative_slope=0.01,
                        needs_input_grad=(True, True, True), precision="highest", dW_out=None,
                        *, dx_out=None, dz_out=None, db_out=None, nthreads=None,
                        blas_set=False):
    """(dx, dW, db) as the package's ``linear_act_backward``, unchecked.  ``dx_out``,
    ``db_out`` and ``dz_out`` (the (N, out) scratch of dZ), C-contiguous arrays of dy's
    dtype, are written instead of new arrays -- the same values bit for bit;
    ``nthreads``/``blas_set`` as in :func:`linear_act_forward`."""
    need_dx, need_dW, need_db = needs_input_grad
    code = CODE[act]
    dy = np.ascontiguousarray(dy)
    db = None
    if code == IDENTITY:                                      # dZ is dy itself: only sum it
        dz = dy
        if need_db and dy.size:
            db = _dz_db(dy, dy, None, None, code, 0.0, True, nthreads)
    else:
        dz = np.empty(dy.shape, dy.dtype) if dz_out is None else dz_out
        if dy.size:
            db = _dz_db(dy, y, z, dz, code, negative_slope, need_db, nthreads)
    if need_db:
        if db_out is None:
            db = np.zeros(dy.shape[1], dy.dtype) if db is None else db.astype(dy.dtype)
        else:
            db_out[...] = 0 if db is None else db            # the same rounding as astype
            db = db_out
    if need_dx:
        dx = _matmul(dz, _blasable(W).T,
                     np.empty(x.shape, dy.dtype) if dx_out is None else dx_out, blas_set)
    else:
        dx = None
    if need_dW:
        dW_out = np.empty(W.shape, dy.dtype) if dW_out is None else dW_out
    dW = _matmul(_blasable(x).T, dz, dW_out, blas_set) if need_dW else None
    return dx, dW, db


# ----------------------------------------------------------------------------------- optimizers

# Chunks are sliced so that the inner loops run from 0: with a computed start, Numba's index
# wraparound checks keep LLVM from vectorizing them (measured 2x slower). No FMA contraction
# here: each variant of a kernel (with or without the 16-bit copy, threaded or not) then
# rounds every weight exactly alike, as the copies' bit-exactness needs (and the passes are
# memory-bound: FMA bought no speed).

@functools.lru_cache(maxsize=None)
def _sgd_kernel(low_kind, parallel):
    """SGD over flat buffers; ``parallel=False`` is the single-threaded twin for small buffers;
    ``low_kind`` (a ``half_bits.LOW_KIND``) also writes each new weight's 16-bit copy."""

    @njit(parallel=parallel, cache=True, fastmath=False)
    def sgd(param, grad, buf, low, sign, lr, mu, damp1, wd, momentum, nesterov, first_step,
            nchunks):
        # sign = -1 to maximize (exact); the remaining flags are few enough for LLVM to unswitch
        n = param.size
        nchunks = nchunks if parallel else 1
        for t in prange(nchunks):
            lo, hi = t * n // nchunks, (t + 1) * n // nchunks
            p, gr, bf, lw = param[lo:hi], grad[lo:hi], buf[lo:hi], low[lo:hi]
            for i in range(hi - lo):
                g = sign * gr[i]
                if wd != 0:
                    g = g + wd * p[i]
                if momentum:
                    m = g if first_step else mu * bf[i] + damp1 * g
                    bf[i] = m
                    g = g + mu * m if nesterov else m
                p[i] = p[i] - lr * g
                _store_low(lw, i, p[i], low_kind)

    return sgd


@njit(inline="always")
def _store_low(low, i, x, kind):
    if kind == 1:
        low[i] = f16_bits(x)
    elif kind == 2:
        low[i] = bf16_bits(x)


@functools.lru_cache(maxsize=None)
def _adam_kernel(decay_mode, amsgrad, low_kind, parallel):
    """Adam over flat buffers for one (decay_mode, amsgrad): 0 no weight decay, 1 L2 added to
    the gradient (Adam), 2 decoupled (AdamW). Constants, because with all flags at run time LLVM
    stops unswitching and the loop runs scalar (measured 7x slower). ``low_kind``: as SGD's."""

    @njit(parallel=parallel, cache=True, fastmath=False)
    def adam(param, grad, m, v, vmax, low, sign, step_size, w, beta2, w2, eps, wd, decay,
             bc2_sqrt, nchunks):
        # sign = -1 to maximize; w = 1 - beta1 (the lerp weight), w2 = 1 - beta2,
        # decay = 1 - lr * wd
        n = param.size
        nchunks = nchunks if parallel else 1
        for t in prange(nchunks):
            lo, hi = t * n // nchunks, (t + 1) * n // nchunks
            pc, gc, mc, vc, vmc = param[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], vmax[lo:hi]
            lw = low[lo:hi]
            for i in range(hi - lo):
                g = sign * gc[i]
                p = pc[i]
                if decay_mode == 2:
                    p = p * decay
                if decay_mode == 1:
                    g = g + wd * p
                # torch's lerp(m, g, w): exact at both ends of the weight
                mi = mc[i] + w * (g - mc[i]) if w < 0.5 else g - (g - mc[i]) * (1 - w)
                vi = beta2 * vc[i] + w2 * g * g
                mc[i] = mi
                vc[i] = vi
                if amsgrad:
                    vi = max(vmc[i], vi)
                    vmc[i] = vi
                pc[i] = p - step_size * (mi / (math.sqrt(vi) / bc2_sqrt + eps))
                _store_low(lw, i, pc[i], low_kind)

    return adam


def _flat_fast(param, *buffers):
    """True when the fused optimizer kernels apply: fast dtype, all buffers C-contiguous (a
    16-bit copy only of float32 weights)."""
    low = buffers[-1]
    if low is not None and param.dtype != np.float32:
        return False
    return param.dtype in FAST_DTYPES and all(a is None or a.flags.c_contiguous
                                              for a in (param,) + buffers)


def _write_low(param, low):
    """The unfused paths' 16-bit copy: a cast after the update."""
    if low is not None:
        low[...] = param.astype(low.dtype)


_NO_LOW = np.empty(0, np.uint16)   # (never indexed: kind 0 stores nothing)


def _low_args(param, low):
    """(kind, uint16 view of ``low`` or a 0-length stand-in) for the kernels."""
    kind = half_bits.low_kind(low)
    return kind, (low.reshape(-1).view(np.uint16) if kind else _NO_LOW)


def sgd_update(param, grad, momentum_buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, maximize=False, first_step=False, low=None, found_inf=None):
    if found_inf is not None and found_inf[0]:          # a skipped step writes nothing
        return
    first_step = bool(first_step[0]) if hasattr(first_step, "shape") else first_step
    if not _flat_fast(param, momentum_buf, low):
        reference.sgd_update(param, grad, momentum_buf, lr=lr, momentum=momentum,
                             dampening=dampening, nesterov=nesterov, weight_decay=weight_decay,
                             maximize=maximize, first_step=first_step)
        return _write_low(param, low)
    s = param.dtype.type
    p = param.reshape(-1)
    buf = momentum_buf.reshape(-1) if momentum_buf is not None else p
    kind, lw = _low_args(p, low)
    nchunks = _nchunks(p.size, p.size)
    _sgd_kernel(kind, nchunks > 1)(p, np.ascontiguousarray(grad).reshape(-1), buf, lw,
                                   s(-1 if maximize else 1), s(lr), s(momentum), s(1 - dampening),
                                   s(weight_decay), momentum != 0, bool(nesterov),
                                   bool(first_step), nchunks)


def adam_update(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                weight_decay=0.0, decoupled=False, maximize=False, amsgrad=False,
                max_exp_avg_sq=None, low=None, found_inf=None):
    if found_inf is not None and found_inf[0]:
        return
    step = int(step[0]) if hasattr(step, "shape") else step     # a count held in an array
    if not _flat_fast(param, exp_avg, exp_avg_sq, max_exp_avg_sq, low):
        reference.adam_update(param, grad, exp_avg, exp_avg_sq, step=step, lr=lr, beta1=beta1,
                              beta2=beta2, eps=eps, weight_decay=weight_decay,
                              decoupled=decoupled, maximize=maximize, amsgrad=amsgrad,
                              max_exp_avg_sq=max_exp_avg_sq)
        return _write_low(param, low)
    s = param.dtype.type
    p = param.reshape(-1)
    vmax = max_exp_avg_sq.reshape(-1) if amsgrad else p
    bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
    decay_mode = 0 if weight_decay == 0 else 2 if decoupled else 1
    kind, lw = _low_args(p, low)
    nchunks = _nchunks(p.size, p.size)
    adam = _adam_kernel(decay_mode, bool(amsgrad), kind, nchunks > 1)
    adam(p, np.ascontiguousarray(grad).reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
         vmax, lw, s(-1 if maximize else 1), s(lr / bc1), s(1 - beta1), s(beta2), s(1 - beta2),
         s(eps), s(weight_decay), s(1 - lr * weight_decay), s(math.sqrt(bc2)), nchunks)
