"""The fused layer through cuBLASLt epilogues (nvmath-python), an optional path on CUDA.

Where it applies, ``y = act(x @ W + b)`` is ONE ``cublasLtMatmul`` whose epilogue adds the bias,
applies the activation and writes the activation's auxiliary output, and gradients come out of
GEMM epilogues (``DRELU_BGRAD`` / ``DGELU_BGRAD`` / ``BGRADA``) instead of elementwise passes.
It runs through nvmath-python's stateful ``nvmath.linalg.advanced.Matmul``, planned once per
(operation, epilogue, dtype, precision, shapes, strides, pointer alignments, device) and per
thread, then reused with ``reset_operands`` on every call; nvmath-python is an optional
dependency (the ``cublaslt12`` / ``cublaslt13`` extras).  Everything returns None -- "not
here, use the cuBLAS + fused-kernel path of ``cuda.py``" -- when nvmath-python is missing,
planning or running fails (remembered per plan key, not retried), or the layer has no
epilogue.

Selection: ``kernels.cuda`` calls in here only when :func:`enabled`: ``GPUGRAD_CUBLASLT=1``.
It is OFF by default: it has not run on a GPU yet (tests/test_kernels_cuda.py's ``cublaslt``
tests are the check), nvmath-python's per-call host work may cost more than the launches it
saves on small layers, and cuBLASLt's epilogue numerics differ from gpugrad's kernels in the
ways listed below.

Which GEMM carries which epilogue (cuBLASLt is column-major; gpugrad's arrays are row-major:
x (N, in), W (in, out), b (out,), y (N, out), all C-contiguous).  A C-contiguous (r, c) array is
the column-major (c, r) matrix, so every product is computed transposed, on views (``.T``),
never copies: nvmath-python gives an F-contiguous operand CUBLASLT_ORDER_COL and a C-contiguous
one ORDER_ROW (W in the input-gradient GEMM, x in the weight-gradient one), and writes these
epilogues' D column-major (BGRADA: like A, which it needs column-major):

==================  ============================  =============  =========================
what                cuBLASLt D = A @ B (M, N, K)  epilogue       D's memory is
==================  ============================  =============  =========================
forward             W.T @ x.T   (out, N, in)      RELU_AUX_BIAS  y (N, out) C-contiguous
                                                  GELU_AUX_BIAS  (aux: the relu bit-mask /
                                                  BIAS           gelu's input z, per column
                                                                 of D = per row of y)
dW (+ db)           dy.T @ x    (out, in, N)      BGRADA         dW (in, out) C-contiguous;
                                                                 db = sum of A over K = N
dx of layer L+1     W @ dz.T    (in, N, out)      DRELU_BGRAD    dz of layer L (N, in)
(= dz, db of L)                                   DGELU_BGRAD    C-contiguous, db of L
==================  ============================  =============  =========================

The bias of a cuBLASLt epilogue runs along D's rows (length M), which is gpugrad's ``out``
because D = y^T.  The bias gradient of a layer is a sum over the batch, which is the K of only
one GEMM, the weight gradient's: in the orientation whose D is dW's memory (dW^T = dy^T @ x)
the summed operand is A, hence BGRADA (BGRADB is the same sum for dW = x^T @ dy, whose D
would be an F-contiguous dW: it does not fit gpugrad's C-contiguous gradient buffers).  The
D* epilogues apply the activation's derivative to the GEMM's *output*, so ``dz = dy * act'``
of layer L is fused into the GEMM whose output is dy of layer L, which is layer L+1's input
gradient ``dz_{L+1} @ W_{L+1}^T``: :func:`input_grad`.  Within one layer, given dy, dz needs
one elementwise pass whatever the GEMM library (gpugrad's fused ``dz_db`` pass already does
dz and db in one), so :func:`linear_backward` only fuses the identity layer's bias gradient.

The aux / backward contract
---------------------------
* :func:`linear_forward` returns ``(y, z)`` with exactly the meaning of
  ``kernels.linear_act_forward``: y = act(x @ W + b), C-contiguous; z the pre-activation when
  ``needs_preactivation(act)`` (gelu_tanh here), else None.  For gelu_tanh z IS cuBLASLt's
  aux (the GELU input, bias included): ``aux[:out].T``, a view of shape (N, out) whose row
  stride is ``round_up(out, 8)`` elements (C-contiguous when out % 8 == 0).  So any backward
  -- this module's, ``cuda.py``'s fused kernels (which make z contiguous when it is not),
  ``reference`` -- can take a cuBLASLt forward: the two paths interoperate per call, and a
  layer may go forward one way and backward the other.
* relu keeps z = None and its backward keeps reading y (y > 0), as everywhere in gpugrad.
  cuBLASLt's relu aux is an opaque bit-mask (uint8, (round_up(ceil(out / 8), 16), N),
  column-major) that only a DRELU epilogue can read.  It is kept beside y, in a registry
  keyed by the identity of the y object and dropped with it (a weak reference):
  :func:`aux_of` ``(y)`` gives ``(act, kind, aux)`` or None.  The gelu aux is registered too.
  The consumer of y -- the next layer, whose input x *is* y -- finds it from its own x:
  :func:`input_grad` ``(dz, W, x)`` returns the previous layer's (dz, db), or None when x has
  no registered aux (then the caller computes dx and the previous layer runs its own
  elementwise backward from y / z, as before).  The aux describes y as returned: a y modified
  in place afterwards no longer matches it (gpugrad's autograd refuses saved tensors that were
  modified in place; raw-kernel callers must not do it).
* Wiring :func:`input_grad` into autograd is left to ``gpugrad/ops/nn.py``'s Linear node: node
  L+1 may hand (dz_L, db_L) to node L instead of dx_{L+1} only when node L is a fused Linear
  whose output has no other consumer, no hook and no retained grad (dz_L differs from the true
  gradient of y_L where the mask is 0).  Until then the aux is computed and unused: relu's
  bit-mask is 1/32 of y's bytes in float32.

Numerics, and where this path declines (returns None) on purpose
----------------------------------------------------------------
* Compute types: float32 "highest" -> CUBLAS_COMPUTE_32F, float32 "high" ->
  CUBLAS_COMPUTE_32F_FAST_TF32, float64 -> CUBLAS_COMPUTE_64F.  Other dtypes: not here.
* gelu (erf): no epilogue -- cuBLASLt's GELU is the tanh approximation.  gelu_tanh: cuBLASLt's
  GELU epilogues may evaluate tanh approximately, so they are used at precision "high" in
  float32 only (where TF32 already bounds the accuracy), unless ``GPUGRAD_CUBLASLT_GELU=1``
  (always) or ``0`` (never).  leaky_relu, silu, sigmoid, tanh: no epilogue.  identity without
  bias: a plain GEMM, cuBLAS's.
* Bias gradients (BGRADA, *_BGRAD) are reduced by cuBLASLt in the compute precision, while
  gpugrad's float32 bias gradient is summed in double and rounded once
  (``test_bias_gradient_of_a_million_rows_is_accurate_in_float32``).  So float32 at "highest"
  never takes a bias gradient from an epilogue: the identity layer's backward falls back, and
  :func:`input_grad` uses DRELU / DGELU and leaves db to the caller.
* cuBLASLt's limits, as nvmath-python checks them: no DRELU/DGELU with K == 1, no BGRAD with
  K == 1 before cuBLASLt 12.3.4 (declined for every version).  A bias that is not 16-byte
  aligned (a view at an odd offset of a flat parameter buffer) is declined here: nvmath-python
  states no alignment for it.  Operand alignments are part of the plan key (nvmath-python
  plans with them).
* relu of NaN: gpugrad's kernels keep the NaN (``z < 0 ? 0 : z``); an epilogue computing
  max(z, 0) would give 0.  ``test_cublaslt_relu_propagates_nan_like_the_reference`` checks it
  on a GPU; it is one of the questions before this path can be on by default.

The per-layer account of this path against the current one for the W3 hidden layer (bytes
moved, launches) is in bench/layer_account.md.
"""
from __future__ import annotations

import logging
import weakref
from typing import NamedTuple

import numpy

__all__ = ["enabled", "set_enabled", "Decision", "forward_epilogue", "weight_grad_epilogue",
           "input_grad_epilogue", "compute_type", "gemm_dims", "aux_shape", "alignment",
           "plan_key", "PlanCache", "nvmath_status", "set_nvmath", "linear_forward",
           "linear_backward", "input_grad", "aux_of", "STATS"]

_LOGGER = logging.getLogger("gpugrad.cublaslt")   # nvmath-python logs here, not on the root logger

from .cublaslt_plan import (  # noqa: F401 -- the planning half, re-exported
    LAST, PLANS, STATS, Decision, PlanCache, _note, _ptr, alignment, aux_shape,
    bias_grad_epilogue_allowed, compute_type, enabled, forward_epilogue, gelu_epilogue_allowed,
    gemm_dims, input_grad_epilogue, layout_of, plan_key, set_enabled, weight_grad_epilogue)

# ------------------------------------------------------------------------------- nvmath-python

class _Nvmath(NamedTuple):
    Matmul: object
    MatmulOptions: object
    MatmulEpilog: object
    ComputeType: object


_nvmath = None
_nvmath_error = None


def _load_nvmath():
    global _nvmath, _nvmath_error
    if _nvmath is None and _nvmath_error is None:
        try:
            from nvmath.linalg import advanced
            try:
                from nvmath.linalg import ComputeType
            except ImportError:                       # older nvmath-python layouts
                from nvmath.bindings.cublas import ComputeType
            _nvmath = _Nvmath(advanced.Matmul, advanced.MatmulOptions, advanced.MatmulEpilog,
                              ComputeType)
        except Exception as e:                        # noqa: BLE001 -- missing or broken
            _nvmath_error = f"nvmath-python unavailable ({type(e).__name__}: {e})"
    return _nvmath


def nvmath_status():
    """None when nvmath-python imports, else why not (the import is tried once)."""
    _load_nvmath()
    return _nvmath_error


def set_nvmath(module=None, error=None):
    """Use ``module`` (an object with Matmul, MatmulOptions, MatmulEpilog, ComputeType) as
    nvmath-python, or, with ``error``, act as if it failed to import; ``set_nvmath()`` goes
    back to importing the real one.  Clears the plan cache.  For tests."""
    global _nvmath, _nvmath_error
    _nvmath = None if module is None else _Nvmath(module.Matmul, module.MatmulOptions,
                                                  module.MatmulEpilog, module.ComputeType)
    _nvmath_error = error
    PLANS.clear()


# ------------------------------------------------------------------------------------ execution

def _xp(a):
    if type(a).__module__.startswith("cupy"):
        import cupy
        return cupy
    return numpy


def _device(a):
    dev = getattr(a, "device", None)
    return getattr(dev, "id", "cpu")


def _matmul(op, epilogue, dtype, precision, a, b, c=None, inputs=None):
    """Run D = a @ b (+ epilogue) through a cached plan: (D, aux dict), or None after noting why.
    ``c`` given: D is written into it (beta = 0)."""
    nv = _load_nvmath()
    if nv is None:
        _note(op, None, _nvmath_error)
        return None
    inputs = inputs or {}
    operands = [a, b] + ([c] if c is not None else []) + [inputs[k] for k in sorted(inputs)]
    key = plan_key(op, epilogue, dtype, precision, _device(a), [layout_of(o) for o in operands],
                   inplace=c is not None)

    def build():
        options = {"compute_type": nv.ComputeType[compute_type(dtype, precision)],
                   "logger": _LOGGER}
        if c is not None:
            options["inplace"] = True
        mm = nv.Matmul(a, b, c, beta=0.0 if c is not None else None,
                       options=nv.MatmulOptions(**options))
        try:
            mm.plan(epilog=nv.MatmulEpilog[epilogue], epilog_inputs=dict(inputs) or None)
        except BaseException:
            mm.free()
            raise
        return mm

    mm = PLANS.get(key, build)
    if mm is None:
        _note(op, None, PLANS.failure(key))
        return None
    operands = {"a": a, "b": b}
    if c is not None:
        operands["c"] = c
    if inputs:
        operands["epilog_inputs"] = dict(inputs)
    try:
        (getattr(mm, "reset_operands_unchecked", None) or mm.reset_operands)(**operands)
        out = mm.execute()
        release = getattr(mm, "release_operands", None)   # the cache must not keep x, W alive
        if release is not None:
            release()
    except Exception as e:                           # noqa: BLE001 -- fall back, don't retry
        reason = f"{type(e).__name__}: {e}"
        PLANS.fail(key, reason)
        _note(op, None, reason)
        return None
    return out if isinstance(out, tuple) else (out, {})


def _transposed(op, got, shape):
    """(D.T, aux) of a :func:`_matmul` result: D.T is the row-major answer, which must be the
    C-contiguous ``shape`` expected; None (and noted) otherwise, or when ``got`` is None."""
    if got is None:
        return None
    d, aux = got
    t = d.T
    if t.shape != shape or not t.flags.c_contiguous:
        _note(op, None, f"unexpected result layout {d.shape} {d.strides}")
        return None
    return t, aux


_AUX = {}


def _register(y, act, kind, aux):
    key = id(y)

    def drop(ref, key=key):
        entry = _AUX.get(key)
        if entry is not None and entry[0] is ref:
            del _AUX[key]

    _AUX[key] = (weakref.ref(y, drop), act, kind, aux)


def aux_of(y):
    """(act, kind, aux) that the cuBLASLt forward which returned ``y`` kept ("relu_aux": the
    opaque bit-mask; "gelu_aux": the padded pre-activation), or None."""
    entry = _AUX.get(id(y))
    if entry is None or entry[0]() is not y:
        return None
    return entry[1:]


def linear_forward(x, W, b, act="identity", precision="highest"):
    """(y, z) of ``act(x @ W + b)`` as one cuBLASLt matmul (see the module's contract), or None
    (use the other path)."""
    op = "forward"
    decision = forward_epilogue(act, b is not None, x.dtype, precision)
    if not decision.fused:
        _note(op, None, decision.reason)
        return None
    n, k = x.shape
    m = W.shape[1]
    if not (n and k and m):
        _note(op, None, "an empty extent")
        return None
    xp = _xp(x)
    x, W = xp.ascontiguousarray(x), xp.ascontiguousarray(W)
    inputs = {}
    if b is not None:
        b = xp.ascontiguousarray(b)
        if alignment(_ptr(b)) < 16:
            _note(op, None, "bias pointer not 16-byte aligned")
            return None
        inputs["bias"] = b
    got = _transposed(op, _matmul(op, decision.epilogue, x.dtype, precision, W.T, x.T, None,
                                  inputs), (n, m))
    if got is None:
        return None
    y, aux = got
    z = None
    if "gelu_aux" in aux:
        z = aux["gelu_aux"][:m].T
        _register(y, act, "gelu_aux", aux["gelu_aux"])
    elif "relu_aux" in aux:
        _register(y, act, "relu_aux", aux["relu_aux"])
    _note(op, decision.epilogue)
    return y, z


def linear_backward(dy, x, W, y, z, act="identity", needs=(True, True, True),
                    precision="highest", dW_out=None, matmul=None):
    """(dx, dW, db) of one layer given dy, where an epilogue removes a pass (the identity
    layer's db as the weight-gradient GEMM's BGRADA); None otherwise.  ``matmul(a, b, out,
    precision)`` does the plain input-gradient GEMM (``cuda._cublas_matmul``)."""
    op = "weight_grad"
    need_dx = needs[0]
    decision = weight_grad_epilogue(act, needs, dy.dtype, precision, x.shape[0])
    if not decision.fused:
        _note(op, None, decision.reason)
        return None
    if not (x.shape[0] and x.shape[1] and W.shape[1]):
        _note(op, None, "an empty extent")
        return None
    xp = _xp(dy)
    dy, x = xp.ascontiguousarray(dy), xp.ascontiguousarray(x)
    c = dW_out.T if dW_out is not None else None
    got = _matmul(op, decision.epilogue, dy.dtype, precision, dy.T, x, c)
    if got is None:
        return None
    d, aux = got
    dW = dW_out if dW_out is not None else d.T
    if dW.shape != W.shape or not dW.flags.c_contiguous:
        _note(op, None, f"unexpected result layout {d.shape} {d.strides}")
        return None
    dx = None
    if need_dx:
        matmul = matmul or (lambda a, b_, out, _p: xp.matmul(a, b_, out=out))
        dx = matmul(dy, W.T, xp.empty(x.shape, dy.dtype), precision)
    _note(op, decision.epilogue)
    return dx, dW, aux["bgrada"]


def input_grad(dz, W, x, precision="highest", need_db=True):
    """The previous layer's (dz, db) straight out of this layer's input-gradient GEMM:
    (dz @ W^T) * act'(.) of the layer whose output is ``x``, with its bias gradient (None when
    not wanted, or when it must be summed in double: float32 at "highest" -- the caller sums
    dz then).  None when x has no cuBLASLt aux (see :func:`aux_of`) or no epilogue applies:
    then compute dx = dz @ W^T as usual."""
    op = "input_grad"
    entry = aux_of(x)
    if entry is None:
        _note(op, None, "x has no cuBLASLt aux (not the y of a cuBLASLt relu/gelu_tanh forward)")
        return None
    prev_act, kind, aux = entry
    n, m = dz.shape
    k = W.shape[0]
    decision = input_grad_epilogue(prev_act, need_db, dz.dtype, precision, m)
    if not decision.fused:
        _note(op, None, decision.reason)
        return None
    if aux.shape != aux_shape(kind, k, n) or tuple(x.shape) != (n, k):
        _note(op, None, "x's aux does not match this GEMM")
        return None
    xp = _xp(dz)
    dz, W = xp.ascontiguousarray(dz), xp.ascontiguousarray(W)
    got = _transposed(op, _matmul(op, decision.epilogue, dz.dtype, precision, W, dz.T, None,
                                  {kind: aux}), (n, k))
    if got is None:
        return None
    dz_prev, out = got
    _note(op, decision.epilogue)
    return dz_prev, out.get("drelu_bgrad", out.get("dgelu_bgrad"))
