"""CUDA kernels on CuPy arrays: a GEMM (cuBLAS through ``cuda_blas``, or the custom tiled GEMM
of ``linear_act.cu`` with the epilogue fused into its store, picked per shape by ``choose``),
fused epilogue kernels
(bias + activation forward as ``ElementwiseKernel``s; dZ + bias-gradient backward as the
RawKernel of ``epilogue.cu``) and one-launch optimizer updates (which can also write the
weights' float16 copy, and skip themselves under GradScaler's found-inf flag on the device).

Imported by ``gpugrad.kernels`` only when CuPy arrays arrive. Kernels are compiled lazily and
memoized per (dtype, activation, device); their names start with ``gpugrad_``. float32/float64
take these paths, other dtypes go to ``reference``. The hot path never synchronizes, except
``choose``'s one-time timing of a new (shape, dtype, activation, precision).
"""
import functools
import math
import os

import cupy
import numpy

from . import cublaslt, reference
from .cuda_blas import (Blas, _cublas_matmul, _gemm, compute_type,  # noqa: F401 (re-exported)
                        on_operands_device)
from .activations import CODE, GELU, GELU_TANH, IDENTITY, SILU
from .launch import MAX_GRID_Y, custom_grid, dz_db_grid, shape_bucket
from .cuda_sources import (ACT_BACKWARD, ADAM_COEF, CROSS_ENTROPY_BACKWARD, FORWARD,
                           optimizer_spec, source)

FAST_DTYPES = reference.FAST_DTYPES
_CTYPE = {numpy.dtype(numpy.float32): "float", numpy.dtype(numpy.float64): "double"}


def _device():
    return cupy.cuda.runtime.getDevice()


# ---------------------------------------------------------------------------- elementwise epilogues

@functools.lru_cache(maxsize=None)
def _forward_kernel(variant, code, dtype, device):
    in_params, out_params, op = FORWARD[variant]
    return cupy.ElementwiseKernel(in_params, out_params, op.format(c=code),
                                  f"gpugrad_{variant}_{code}_{dtype.char}",
                                  preamble=source("activations.cu"))


@functools.lru_cache(maxsize=None)
def _backward_act_kernel(code, dtype, device):
    in_params, out_params, op = ACT_BACKWARD
    return cupy.ElementwiseKernel(in_params, out_params, op.format(c=code),
                                  f"gpugrad_act_backward_{code}_{dtype.char}",
                                  preamble=source("activations.cu"))


@functools.lru_cache(maxsize=None)
def _raw_kernel(filename, template, code, dtype, device, options=()):
    name = f"{template}<{_CTYPE[dtype]}>" if code is None else f"{template}<{code}, {_CTYPE[dtype]}>"
    module = cupy.RawModule(code=source(filename), options=("--std=c++14",) + options,
                            name_expressions=[name])
    return module.get_function(name)


@functools.lru_cache(maxsize=None)
def _sm_count(device):
    return cupy.cuda.Device(device).attributes["MultiProcessorCount"]


def _dz_db(dy, y, z, dz, code, slope, want_db):
    """dz = dy * act'(y or z) (skipped when dz is None) and, with want_db, db = dz.sum(0)."""
    n, m = dy.shape
    gx, gy = dz_db_grid(n, m, _sm_count(_device()))
    partial = cupy.empty((gy, m), numpy.float64) if want_db else dy   # dy: unread placeholder
    kernel = _raw_kernel("epilogue.cu", "gpugrad_dz_db", code, dy.dtype, _device())
    kernel((gx, gy), (32, 8), (dy, y, z, dz if dz is not None else dy, partial, numpy.int32(n),
                               numpy.int32(m), dy.dtype.type(slope), numpy.int32(dz is not None),
                               numpy.int32(want_db)))
    if not want_db:
        return None
    db = cupy.empty(m, dy.dtype)
    _raw_kernel("epilogue.cu", "gpugrad_sum_partials", None, dy.dtype, _device())(
        (max(1, min((m + 255) // 256, 4096)),), (256,), (partial, db, numpy.int32(gy), numpy.int32(m)))
    return db


# ----------------------------------------------------------------------------------------- GEMMs

def _custom_linear(x, W, b, code, slope, y, z):
    """y = act(x @ W + b) (and z = x @ W + b) by the tiled GEMM of linear_act.cu, one launch."""
    x, W = cupy.ascontiguousarray(x), cupy.ascontiguousarray(W)
    has_bias, keep_z = b is not None, z is not None
    b = cupy.ascontiguousarray(b) if has_bias else y                 # y: a placeholder, unread
    z = z if keep_z else y
    (M, K), N = x.shape, W.shape[1]
    grid = custom_grid(M, N)
    if grid is None:
        raise ValueError(f"the custom GEMM cannot launch for {N} output columns (at most "
                         f"{64 * MAX_GRID_Y}); use the cuBLAS path")
    kernel = _raw_kernel("linear_act.cu", "gpugrad_linear_act", code, x.dtype, _device())
    kernel(grid, (256,), (x, W, b, y, z, numpy.int32(M), numpy.int32(N), numpy.int32(K),
                          x.dtype.type(slope), numpy.int32(has_bias), numpy.int32(keep_z)))


def _cublas_linear(x, W, b, code, slope, y, z, precision):
    """cuBLAS GEMM into the preallocated z (or y), then one fused elementwise epilogue."""
    key = (code, x.dtype, _device())
    if z is not None:
        _cublas_matmul(x, W, z, precision)
        if b is not None:
            _forward_kernel("bias_keep_z", *key)(b, x.dtype.type(slope), z, y)
        else:
            _forward_kernel("act", *key)(z, x.dtype.type(slope), y)
    else:
        _cublas_matmul(x, W, y, precision)
        if b is not None:
            _forward_kernel("bias_inplace", *key)(b, x.dtype.type(slope), y)
        elif code != IDENTITY:
            _forward_kernel("act", *key)(y, x.dtype.type(slope), y)


_CHOICES = {}


def choose(shape, dtype, act, precision="highest"):
    """"cublas" (cuBLAS + elementwise epilogue) or "custom" (the fused tiled GEMM, float32 /
    float64 CUDA cores) for an (N, in, out) layer, whichever ran faster when this shape bucket
    (:func:`shape_bucket`), dtype, activation and device were first seen: both are timed with
    CUDA events on fixed-seed random data of the bucket's size (deterministic, and not drawn from
    CuPy's global generator), and the winner is remembered for the process.  "high" precision
    (TF32) always answers "cublas", as does a candidate set where the custom kernel cannot run or
    fails; ``GPUGRAD_AUTOTUNE=0`` always answers "cublas".  The timing synchronizes once per key.

    >>> choose((512, 1024, 2048), numpy.float32, "relu")      # doctest: +SKIP
    'cublas'
    """
    dtype = numpy.dtype(dtype)
    if os.environ.get("GPUGRAD_AUTOTUNE", "1") == "0" or precision == "high":
        return "cublas"
    key = (shape_bucket(shape), dtype, act, _device())
    if key not in _CHOICES:
        _CHOICES[key] = _time_candidates(key[0], dtype, act)
    return _CHOICES[key]


def _time_candidates(shape, dtype, act, repeats=10):
    n, k, m = shape
    if custom_grid(n, m) is None:
        return "cublas"
    try:                                              # out of memory here: answer cuBLAS
        rs = cupy.random.RandomState(20261130)        # its own stream: the user's is untouched
        x, W = rs.standard_normal((n, k), dtype=dtype), rs.standard_normal((k, m), dtype=dtype)
        b = rs.standard_normal(m, dtype=dtype)
        y = cupy.empty((n, m), dtype)
        z = cupy.empty((n, m), dtype) if CODE[act] in (GELU, GELU_TANH, SILU) else None
    except cupy.cuda.memory.OutOfMemoryError:
        return "cublas"
    candidates = {"cublas": lambda: _cublas_linear(x, W, b, CODE[act], 0.01, y, z, "highest"),
                  "custom": lambda: _custom_linear(x, W, b, CODE[act], 0.01, y, z)}
    times = {}
    for name, run in candidates.items():
        try:
            run()                                               # compile + warm up
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record()
            for _ in range(repeats):
                run()
            stop.record()
            stop.synchronize()
            times[name] = cupy.cuda.get_elapsed_time(start, stop)
        except Exception:                    # noqa: BLE001 -- a candidate that cannot run loses
            continue
    return min(times, key=times.get) if times else "cublas"


# -------------------------------------------------------------------------------- public kernels

@on_operands_device
def linear_act_forward(x, W, b, act="identity", negative_slope=0.01, precision="highest"):
    if cublaslt.enabled():                # one cuBLASLt matmul with the epilogue, where one fits
        done = cublaslt.linear_forward(x, W, b, act, precision)
        if done is not None:
            return done
    code = CODE[act]
    y = cupy.empty((x.shape[0], W.shape[1]), x.dtype)
    z = cupy.empty_like(y) if code in (GELU, GELU_TANH, SILU) else None
    if y.size == 0 or x.shape[1] == 0:
        return reference.linear_act_forward(x, W, b, act, negative_slope)
    how = choose((x.shape[0], x.shape[1], W.shape[1]), x.dtype, act, precision)
    if how == "cublas":
        _cublas_linear(x, W, b, code, negative_slope, y, z, precision)
    else:
        _custom_linear(x, W, b, code, negative_slope, y, z)
    return y, z


@on_operands_device
def linear_act_backward(dy, x, W, y, z, act="identity", negative_slope=0.01,
                        needs_input_grad=(True, True, True), precision="highest", dW_out=None):
    if dy.size == 0:
        return reference.linear_act_backward(dy, x, W, y, z, act, negative_slope, needs_input_grad,
                                             dW_out=dW_out)
    if cublaslt.enabled():                # db from the dW GEMM's epilogue, where one fits
        done = cublaslt.linear_backward(dy, x, W, y, z, act, needs_input_grad, precision, dW_out,
                                        _cublas_matmul)
        if done is not None:
            return done
    need_dx, need_dW, need_db = needs_input_grad
    code = CODE[act]
    dy = cupy.ascontiguousarray(dy)
    if code == IDENTITY:
        dz = dy
        db = _dz_db(dy, dy, dy, None, code, 0.0, True) if need_db else None
    else:
        y = cupy.ascontiguousarray(y if y is not None else z)
        z = cupy.ascontiguousarray(z) if z is not None else y
        dz = cupy.empty_like(dy)
        db = _dz_db(dy, y, z, dz, code, negative_slope, need_db)
    dx = _cublas_matmul(dz, W.T, cupy.empty(x.shape, dy.dtype), precision) if need_dx else None
    if need_dW:
        dW_out = cupy.empty(W.shape, dy.dtype) if dW_out is None else dW_out
    dW = _cublas_matmul(x.T, dz, dW_out, precision) if need_dW else None
    return dx, dW, db


@on_operands_device
def act_forward(z, act, out=None, negative_slope=0.01):
    out = cupy.empty_like(z) if out is None else out
    _forward_kernel("act", CODE[act], z.dtype, _device())(z, z.dtype.type(negative_slope), out)
    return out


@on_operands_device
def act_backward(dy, y, z, act, negative_slope=0.01):
    y = y if y is not None else (z if z is not None else dy)
    z = z if z is not None else y
    return _backward_act_kernel(CODE[act], dy.dtype, _device())(dy, y, z,
                                                                dy.dtype.type(negative_slope))


# ----------------------------------------------------------------------------- cross-entropy

@on_operands_device
def cross_entropy_forward(logits, target, ignore_index, label_smoothing, status):
    """(probs, loss per row, safe targets, valid rows as 0/1 in the logits' dtype) of softmax
    cross-entropy over integer targets, in one launch (cross_entropy.cu); a target outside
    [0, C) that is not ``ignore_index`` gives a NaN loss and is reported in ``status``."""
    logits = cupy.ascontiguousarray(logits)
    target = cupy.ascontiguousarray(target, dtype=numpy.int64)
    n, c = logits.shape
    dtype = logits.dtype
    probs = cupy.empty_like(logits)
    loss, valid = cupy.empty(n, dtype), cupy.empty(n, dtype)
    safe_t = cupy.empty(n, numpy.int64)
    if n:
        kernel = _raw_kernel("cross_entropy.cu", "gpugrad_cross_entropy_fwd", None, dtype,
                             _device())
        kernel((min(n, 1 << 20),), (256,), (logits, target, probs, loss, safe_t, valid, status,
                                            numpy.int32(n), numpy.int32(c),
                                            numpy.int64(ignore_index), dtype.type(label_smoothing)))
    return probs, loss, safe_t, valid


@functools.lru_cache(maxsize=None)
def _cross_entropy_backward_kernel(dtype, device):
    return cupy.ElementwiseKernel(*CROSS_ENTROPY_BACKWARD, f"gpugrad_cross_entropy_bwd_{dtype.char}")


@on_operands_device
def cross_entropy_backward(probs, safe_t, row_weight, label_smoothing):
    """d loss / d logits = w_r (p - eps / C - (1 - eps) [j == t_r]), one elementwise pass;
    ``row_weight`` (n,) is w_r (0 for ignored rows)."""
    n, c = probs.shape
    return _cross_entropy_backward_kernel(probs.dtype, _device())(
        probs, row_weight, safe_t, numpy.int64(c), probs.dtype.type(label_smoothing))


# ------------------------------------------------------------------------------------- optimizers

@functools.lru_cache(maxsize=None)
def _optimizer_kernel(name, variant, dtype, device, low=False, flag=False):
    """One ElementwiseKernel per optimizer; variant: SGD with momentum, Adam with amsgrad;
    ``low``: also writes the float16 copy; ``flag``: GradScaler's in-kernel skip."""
    suffix = ({"sgd": "_momentum", "adam": "_amsgrad"}[name] if variant else "") + \
        ("_low" if low else "") + ("_flag" if flag else "")
    return cupy.ElementwiseKernel(*optimizer_spec(name, variant, low, flag),
                                  f"gpugrad_{name}{suffix}_{dtype.char}",
                                  preamble=source("activations.cu"))


@functools.lru_cache(maxsize=None)
def _adam_coef_kernel(dtype, device):
    return cupy.ElementwiseKernel(*ADAM_COEF, f"gpugrad_adam_coef_{dtype.char}")


def _low_out(param, low):
    if low is not None and low.dtype != numpy.float16:
        raise TypeError(f"expected a float16 copy on CUDA (CuPy has no bfloat16), got {low.dtype}")
    return () if low is None else (low,)


@on_operands_device
def sgd_update(param, grad, momentum_buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, maximize=False, first_step=False, low=None, found_inf=None):
    flag = found_inf is not None
    if param.dtype not in FAST_DTYPES:
        if flag:
            raise TypeError(f"found_inf needs float32/float64 weights, got {param.dtype}")
        reference.sgd_update(param, grad, momentum_buf, lr=lr, momentum=momentum,
                             dampening=dampening, nesterov=nesterov, weight_decay=weight_decay,
                             maximize=maximize, first_step=first_step)
        if low is not None:
            low[...] = param.astype(low.dtype)
        return
    s = param.dtype.type
    buffers = (param, momentum_buf) if momentum != 0 else (param,)
    extra = ()
    if flag:
        first = first_step if hasattr(first_step, "shape") else cupy.full(1, bool(first_step))
        extra = (found_inf, first)
    _optimizer_kernel("sgd", momentum != 0, param.dtype, _device(), low is not None, flag)(
        grad, s(lr), s(momentum), s(1 - dampening), s(weight_decay), bool(nesterov),
        bool(maximize), bool(first_step) if not flag else False, *extra, *buffers,
        *_low_out(param, low))


@on_operands_device
def adam_update(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                weight_decay=0.0, decoupled=False, maximize=False, amsgrad=False,
                max_exp_avg_sq=None, low=None, found_inf=None):
    device_step = hasattr(step, "shape")
    if param.dtype not in FAST_DTYPES:
        if device_step or found_inf is not None:
            raise TypeError(f"a device step count or found_inf needs float32/float64 weights, "
                            f"got {param.dtype}")
        reference.adam_update(param, grad, exp_avg, exp_avg_sq, step=step, lr=lr, beta1=beta1,
                              beta2=beta2, eps=eps, weight_decay=weight_decay,
                              decoupled=decoupled, maximize=maximize, amsgrad=amsgrad,
                              max_exp_avg_sq=max_exp_avg_sq)
        if low is not None:
            low[...] = param.astype(low.dtype)
        return
    s = param.dtype.type
    flag = found_inf is not None or device_step
    buffers = (param, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ())
    if flag:              # bias corrections from the count on the device: no host read
        coef = _adam_coef_kernel(param.dtype, _device())(
            step.astype(numpy.int64, copy=False), float(lr), float(beta1), float(beta2),
            cupy.empty(2, param.dtype))
        found = found_inf if found_inf is not None else cupy.zeros(1, bool)
        step_size, bc2_sqrt, extra = s(0), s(1), (found, coef)
    else:
        bc1, bc2 = 1 - beta1 ** step, 1 - beta2 ** step
        step_size, bc2_sqrt, extra = s(lr / bc1), s(math.sqrt(bc2)), ()
    _optimizer_kernel("adam", bool(amsgrad), param.dtype, _device(), low is not None, flag)(
        grad, step_size, s(1 - beta1), s(beta2), s(1 - beta2), s(eps), s(weight_decay),
        s(1 - lr * weight_decay), bc2_sqrt, bool(decoupled), bool(maximize), *extra,
        *buffers, *_low_out(param, low))
