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
from .activations import (CODE, GELU, GELU_TANH, IDENTITY, LEAKY_RELU, RELU, SIGMOID, SILU, TANH)

FAST_DTYPES = reference.FAST_DTYPES
_FAST = {"contract"}
_CHUNK = 1 << 18          # elements per thread below which an extra thread isn't worth waking

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
# gelu's Phi(v) = erfc(-v / sqrt 2) / 2 to full relative precision down to its underflow: the
# argument carried as two doubles, t + e (1/sqrt 2 = _SQRT_HALF_HI + _SQRT_HALF_LO, with _HI of
# 24 bits; v rounded to a multiple of 2**-20 by adding and taking off _ROUND20 gives a head of
# <= 26 bits, whose product with _HI is exact), then erfc(t + e) = erfc(t) - e 2/sqrt(pi) e^-t^2.
# Plain erfc(-v * 0.7071...) is off by ~v^2 ulps (2e-13 relative at v = -37).
_SQRT_HALF_HI = 0.7071067690849304              # float32(1 / sqrt 2), exactly
_SQRT_HALF_LO = 1.210161710447897e-08           # 1 / sqrt 2 - _SQRT_HALF_HI
_ROUND20 = 6442450944.0                         # 1.5 * 2**32: its ulp is 2**-20
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_GELU_TAIL = 64.0   # |v| beyond: Phi(v) is exactly 0 or 1 in float64, the pdf terms exactly 0
_K2 = 2.0 * _SQRT_2_OVER_PI                     # gelu_tanh: 2u = _K2 * (v + 0.044715 v^3)


# --------------------------------------------------------------- scalar activations (code-folded)

# Plain math only (no calls to other jitted functions): cuda_numba compiles the same Python
# functions (``_act.py_func``) as CUDA device functions.
@njit(inline="always")
def _act(v, code, slope):
    if code == RELU:
        return 0.0 if v < 0 else v
    if code == LEAKY_RELU:
        return v * slope if v < 0 else v
    if code == GELU:                 # v Phi(v), Phi as explained at _SQRT_HALF_HI
        if v < -_GELU_TAIL:          # (the limit -0 at -inf too, where v * 0 is nan)
            return -0.0
        if v > _GELU_TAIL:
            return v + 0.0
        h = (v + _ROUND20) - _ROUND20
        p = h * -_SQRT_HALF_HI
        q = (v - h) * -_SQRT_HALF_HI - v * _SQRT_HALF_LO
        t = p + q
        return 0.5 * v * (math.erfc(t) - ((p - t) + q) * _TWO_OVER_SQRT_PI * math.exp(-t * t))
    if code == GELU_TANH:            # v (1 + tanh u) / 2 = v sigmoid(2u): no 1 + tanh to cancel
        w = _K2 * (v + 0.044715 * v * v * v)
        e = math.exp(-abs(w))        # sigmoid(w) = 1 / (1 + e) or e / (1 + e): nothing overflows
        s = 1.0 / (1.0 + e) if w >= 0 else e / (1.0 + e)
        return -0.0 if s == 0.0 else v * s   # s == 0: gelu(v) below 1e-308, or v = -inf
    if code == SILU:
        return v / (1.0 + math.exp(-v))
    if code == SIGMOID:
        return 1.0 / (1.0 + math.exp(-v))
    if code == TANH:
        return math.tanh(v)
    return v + 0.0


@njit(inline="always")
def _dact(y, z, code, slope):
    """act'(.) from the output y (relu, leaky_relu, sigmoid, tanh) or pre-activation z."""
    if code == RELU:
        return 1.0 if y > 0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if y > 0 else slope
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == TANH:
        return 1.0 - y * y
    if code == GELU:                 # Phi(z) + z phi(z), Phi as in _act
        if z < -_GELU_TAIL:
            return 0.0
        if z > _GELU_TAIL:
            return 1.0
        h = (z + _ROUND20) - _ROUND20
        p = h * -_SQRT_HALF_HI
        q = (z - h) * -_SQRT_HALF_HI - z * _SQRT_HALF_LO
        t = p + q
        return (0.5 * (math.erfc(t) - ((p - t) + q) * _TWO_OVER_SQRT_PI * math.exp(-t * t))
                + z * _INV_SQRT_2PI * math.exp(-0.5 * z * z))
    if code == GELU_TANH:            # s + 2 z s (1 - s) u', s = sigmoid(2u), 1 - s = sigmoid(-2u)
        w = _K2 * (z + 0.044715 * z * z * z)
        e = math.exp(-abs(w))
        d = 1.0 / (1.0 + e)
        s = d if w >= 0 else e * d
        r = e * d * d                # s (1 - s) = (1 - tanh(u)^2) / 4, either sign of w
        return s if r == 0.0 else s + z * r * _K2 * (1.0 + 0.134145 * z * z)
    if code == SILU:
        s = 1.0 / (1.0 + math.exp(-z))
        return s * (1.0 + z * (1.0 - s))
    return 1.0


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


def _nchunks(rows, size):
    if size < 2 * _CHUNK:                       # one chunk: no need to ask for the thread count
        return 1
    if not (_pool_threadsafe() or threading.current_thread() is threading.main_thread()):
        return 1                # Numba's workqueue pool: one launching thread only (below)
    return max(1, min(_threads.get_num_threads(), rows, size // _CHUNK))


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


def _matmul(a, b, out):
    """``np.matmul(a, b, out=out)``, with BLAS on one thread when the product is small (see
    :mod:`gpugrad.threads`: waking its pool costs more than it brings on a busy machine)."""
    if a.shape[0] * a.shape[1] * b.shape[1] >= _threads.SMALL_GEMM:
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


def _bias_act(src, b, dst, code, slope, write_src):
    has_bias = b is not None
    b = np.ascontiguousarray(b) if has_bias else np.empty(0, src.dtype)
    nchunks = _nchunks(src.shape[0], src.size)
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


def _dz_db(dy2, y, z, dz2, code, slope, want_db):
    """Fill dz2 = dy2 * act'(.) (unless it is None) and return the float64 column sums (or None)."""
    src = y if y is not None else z if z is not None else dy2      # identity reads neither
    y2 = _as_2d(src).reshape(dy2.shape)
    z2 = _as_2d(z).reshape(dy2.shape) if z is not None else y2
    n, m = dy2.shape
    nchunks = _nchunks(n, dy2.size)
    partial = np.zeros((nchunks, m) if want_db else (1, 1), np.float64)
    write_dz = dz2 is not None
    _, backward = _epilogues(code, nchunks > 1)
    backward(dy2, y2, z2, dz2 if write_dz else dy2, partial, write_dz, want_db, float(slope), nchunks)
    return partial.sum(axis=0) if want_db else None


def linear_act_forward(x, W, b, act="identity", negative_slope=0.01, precision="highest"):
    # precision: float32 GEMMs are always full precision on CPU
    code = CODE[act]
    out = _matmul(_blasable(x), _blasable(W), np.empty((x.shape[0], W.shape[1]), x.dtype))
    if code in (GELU, GELU_TANH, SILU):                       # keep z = x @ W + b, y = act(z)
        y = np.empty_like(out)
        if out.size:
            _bias_act(out, b, y, code, negative_slope, write_src=True)
        return y, out
    if out.size and (b is not None or code != IDENTITY):      # y = act(x @ W + b), in place
        _bias_act(out, b, out, code, negative_slope, write_src=False)
    return out, None


def linear_act_backward(dy, x, W, y, z, act="identity", negative_slope=0.01,
                        needs_input_grad=(True, True, True), precision="highest", dW_out=None):
    need_dx, need_dW, need_db = needs_input_grad
    code = CODE[act]
    dy = np.ascontiguousarray(dy)
    db = None
    if code == IDENTITY:                                      # dZ is dy itself: only sum it
        dz = dy
        if need_db and dy.size:
            db = _dz_db(dy, dy, None, None, code, 0.0, True)
    else:
        dz = np.empty(dy.shape, dy.dtype)
        if dy.size:
            db = _dz_db(dy, y, z, dz, code, negative_slope, need_db)
    if need_db:
        db = np.zeros(dy.shape[1], dy.dtype) if db is None else db.astype(dy.dtype)
    dx = _matmul(dz, _blasable(W).T, np.empty(x.shape, dy.dtype)) if need_dx else None
    if need_dW:
        dW_out = np.empty(W.shape, dy.dtype) if dW_out is None else dW_out
    dW = _matmul(_blasable(x).T, dz, dW_out) if need_dW else None
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


def _low_args(param, low):
    """(kind, uint16 view of ``low`` or a 0-length stand-in) for the kernels."""
    kind = half_bits.low_kind(low)
    return kind, (low.reshape(-1).view(np.uint16) if kind else np.empty(param.size, np.uint16))


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
