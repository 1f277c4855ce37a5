"""The pure-Python half of the cuBLASLt path (``cublaslt.py``): whether it is on, which epilogue
each layer and operation gets and why it declines, compute types, GEMM dimensions and aux
shapes for gpugrad's row-major operands, plan keys and the per-thread plan cache. Imports
neither CuPy nor nvmath-python, so all of it is unit-tested on any machine
(tests/test_cublaslt_plan.py). The layouts and the numerics it encodes are described in
``cublaslt``'s module text.
"""
from __future__ import annotations

import collections
import math
import os
import threading
from typing import NamedTuple, Optional

import numpy

from .activations import check_activation

# ------------------------------------------------------------------------------------ selection

_ENABLED = os.environ.get("GPUGRAD_CUBLASLT", "0") not in ("", "0")
_GELU_POLICY = os.environ.get("GPUGRAD_CUBLASLT_GELU", "auto")


def enabled():
    """Whether ``kernels.cuda`` tries this path (``GPUGRAD_CUBLASLT=1``; off by default)."""
    return _ENABLED


def set_enabled(flag):
    """Turn the path on or off for this process; returns the previous setting."""
    global _ENABLED
    previous, _ENABLED = _ENABLED, bool(flag)
    return previous


# ----------------------------------------------------------------------- planning (pure Python)

_FLOATS = ("float32", "float64")
_COMPUTE = {("float32", "highest"): "COMPUTE_32F", ("float32", "high"): "COMPUTE_32F_FAST_TF32",
            ("float64", "highest"): "COMPUTE_64F", ("float64", "high"): "COMPUTE_64F"}


class Decision(NamedTuple):
    """An epilogue name (nvmath's ``MatmulEpilog`` member), or None and why not."""
    epilogue: Optional[str]
    reason: str = ""

    @property
    def fused(self):
        return self.epilogue is not None


def _dtype_name(dtype):
    return numpy.dtype(dtype).name


def compute_type(dtype, precision):
    """nvmath's ``ComputeType`` member name for a dtype and matmul precision.

    >>> compute_type("float32", "high"), compute_type("float64", "high")
    ('COMPUTE_32F_FAST_TF32', 'COMPUTE_64F')
    """
    return _COMPUTE[_dtype_name(dtype), precision]


def gelu_epilogue_allowed(dtype, precision, policy=None):
    """cuBLASLt's GELU (tanh approximation, possibly a fast tanh) for gelu_tanh: at float32
    "high" under the default policy "auto"; always with "1", never with "0"."""
    policy = _GELU_POLICY if policy is None else policy
    if policy in ("0", "1"):
        return policy == "1"
    return _dtype_name(dtype) == "float32" and precision == "high"


def bias_grad_epilogue_allowed(dtype, precision):
    """A bias gradient from a GEMM epilogue (summed in the compute precision): float64, or
    float32 at "high". float32 at "highest" keeps gpugrad's double-precision sum."""
    return _dtype_name(dtype) == "float64" or precision == "high"


def _not_float(dtype):
    name = _dtype_name(dtype)
    return None if name in _FLOATS else Decision(None, f"dtype {name}: float32/float64 only")


def forward_epilogue(act, has_bias, dtype, precision="highest", gelu_policy=None):
    """The forward epilogue of ``act(x @ W + b)``, or why there is none.

    >>> forward_epilogue("relu", True, "float32")
    Decision(epilogue='RELU_AUX_BIAS', reason='')
    >>> forward_epilogue("gelu", True, "float32").epilogue is None
    True
    """
    check_activation(act)
    bad = _not_float(dtype)
    if bad:
        return bad
    if act == "relu":
        return Decision("RELU_AUX_BIAS" if has_bias else "RELU_AUX")
    if act == "gelu_tanh":
        if not gelu_epilogue_allowed(dtype, precision, gelu_policy):
            return Decision(None, "gelu_tanh: cuBLASLt's GELU epilogue is used at float32 "
                                  "precision 'high' only (GPUGRAD_CUBLASLT_GELU=1: always)")
        return Decision("GELU_AUX_BIAS" if has_bias else "GELU_AUX")
    if act == "identity":
        if has_bias:
            return Decision("BIAS")
        return Decision(None, "identity without bias is a plain GEMM (cuBLAS)")
    if act == "gelu":
        return Decision(None, "gelu: cuBLASLt's GELU epilogue is the tanh approximation, not erf")
    return Decision(None, f"{act}: no cuBLASLt epilogue")


def weight_grad_epilogue(act, needs, dtype, precision, n_rows):
    """The epilogue of the layer's own weight-gradient GEMM (dW^T = dy^T @ x), given dy: BGRADA
    (db = sum of dy over the batch, the GEMM's K) for the identity layer when dW and db are
    both wanted; otherwise None (dz needs an elementwise pass given dy: cuda.py's fused one).

    >>> weight_grad_epilogue("identity", (True, True, True), "float64", "highest", 64)
    Decision(epilogue='BGRADA', reason='')
    """
    check_activation(act)
    bad = _not_float(dtype)
    if bad:
        return bad
    _, need_dW, need_db = needs
    if act != "identity":
        return Decision(None, f"{act}: dz = dy * act' needs an elementwise pass given dy; "
                              "fused only across layers (input_grad)")
    if not (need_dW and need_db):
        return Decision(None, "BGRADA needs both dW and db wanted")
    if not bias_grad_epilogue_allowed(dtype, precision):
        return Decision(None, "float32 'highest': the bias gradient is summed in double")
    if n_rows < 2:
        return Decision(None, "BGRAD with K == 1 (one row) is not supported by every cuBLASLt")
    return Decision("BGRADA")


def input_grad_epilogue(prev_act, need_db, dtype, precision, k, gelu_policy=None):
    """The epilogue of a layer's input-gradient GEMM (dz @ W^T, K = this layer's out) that
    finishes the *previous* layer's backward: DRELU_BGRAD / DGELU_BGRAD (dz and db of that
    layer), DRELU / DGELU when its db is not wanted or must be summed in double.

    >>> input_grad_epilogue("relu", True, "float32", "highest", 16).epilogue
    'DRELU'
    >>> input_grad_epilogue("relu", True, "float32", "high", 16).epilogue
    'DRELU_BGRAD'
    """
    check_activation(prev_act)
    bad = _not_float(dtype)
    if bad:
        return bad
    if prev_act == "relu":
        base = "DRELU"
    elif prev_act == "gelu_tanh" and gelu_epilogue_allowed(dtype, precision, gelu_policy):
        base = "DGELU"
    else:
        return Decision(None, f"{prev_act}: no cuBLASLt backward epilogue here")
    if k < 2:
        return Decision(None, f"{base} with K == 1 is not supported by cuBLASLt")
    if need_db and bias_grad_epilogue_allowed(dtype, precision):
        return Decision(base + "_BGRAD")
    return Decision(base)


def gemm_dims(kind, n, k, m):
    """cuBLASLt's (M, N, K) for a layer with x (n, k), W (k, m): "forward" (D = W^T x^T, y's
    memory), "weight_grad" (D = dy^T x, dW's memory), "input_grad" (D = W dz^T, dx's memory).

    >>> gemm_dims("forward", 8, 3, 5), gemm_dims("weight_grad", 8, 3, 5), gemm_dims("input_grad", 8, 3, 5)
    ((5, 8, 3), (5, 3, 8), (3, 8, 5))
    """
    return {"forward": (m, n, k), "weight_grad": (m, k, n), "input_grad": (k, n, m)}[kind]


def _round_up(v, base):
    return -(-v // base) * base


def aux_shape(kind, M, N):
    """The shape of cuBLASLt's aux for D (M, N), column-major, as nvmath-python allocates it:
    relu -- a bit-mask in uint8, M/8 bytes padded to 16; gelu -- M padded to 8 elements.

    >>> aux_shape("relu_aux", 5, 3), aux_shape("gelu_aux", 5, 3)
    ((16, 3), (8, 3))
    """
    if kind == "relu_aux":
        return _round_up(math.ceil(M / 8), 16), N
    if kind == "gelu_aux":
        return _round_up(M, 8), N
    raise ValueError(f"unknown aux kind {kind!r}")


def alignment(ptr):
    """The alignment in bytes of a device pointer, capped at 256 (nvmath-python plans with
    ``min(256, alignment)`` of each operand, so it is part of the plan key).

    >>> alignment(0), alignment(4096 + 4), alignment(48)
    (256, 4, 16)
    """
    ptr = int(ptr)
    return 256 if ptr == 0 else min(256, ptr & -ptr)


def _ptr(a):
    return a.data.ptr if hasattr(a.data, "ptr") else a.ctypes.data


def layout_of(a):
    """(shape, strides, pointer alignment) of an operand: what a plan depends on."""
    return tuple(a.shape), tuple(a.strides), alignment(_ptr(a))


def plan_key(kind, epilogue, dtype, precision, device, layouts, inplace=False):
    """The plan cache key: everything nvmath-python's ``Matmul`` is specialized on.  ``layouts``
    is one :func:`layout_of` triple per operand (a, b, c, epilogue inputs), in a fixed order."""
    return (kind, epilogue, _dtype_name(dtype), precision, device, tuple(layouts), bool(inplace))


class _Failed(NamedTuple):
    reason: str


class PlanCache:
    """Planned ``Matmul`` objects per key, per thread (an nvmath ``Matmul`` belongs to the
    thread that made it), least recently used first out (``free()``d).  A key whose planning
    raised is remembered as failed with the reason, and not planned again."""

    def __init__(self, capacity=64):
        self.capacity = capacity
        self._local = threading.local()

    def _entries(self):
        entries = getattr(self._local, "entries", None)
        if entries is None:
            entries = self._local.entries = collections.OrderedDict()
        return entries

    def get(self, key, build):
        """The plan for ``key`` (``build()`` makes it the first time), or None when it failed
        (now or before); :meth:`failure` says why."""
        entries = self._entries()
        plan = entries.get(key)
        if plan is None:
            try:
                plan = build()
            except Exception as e:                   # noqa: BLE001 -- any failure: fall back
                plan = _Failed(f"{type(e).__name__}: {e}")
            entries[key] = plan
            while len(entries) > self.capacity:
                _, old = entries.popitem(last=False)
                _free(old)
        else:
            entries.move_to_end(key)
        return None if isinstance(plan, _Failed) else plan

    def fail(self, key, reason):
        """Mark ``key`` failed (a plan that raised when run), freeing its plan."""
        entries = self._entries()
        _free(entries.get(key))
        entries[key] = _Failed(reason)

    def failure(self, key):
        plan = self._entries().get(key)
        return plan.reason if isinstance(plan, _Failed) else None

    def failures(self):
        return {k: v.reason for k, v in self._entries().items() if isinstance(v, _Failed)}

    def __len__(self):
        return len(self._entries())

    def clear(self):
        entries = self._entries()
        for plan in entries.values():
            _free(plan)
        entries.clear()


def _free(plan):
    if plan is not None and not isinstance(plan, _Failed):
        try:
            plan.free()
        except Exception:                            # noqa: BLE001 -- freeing is best effort
            pass


PLANS = PlanCache()
STATS = collections.Counter()     # (operation, epilogue or "fallback") -> calls
LAST = {}                         # operation -> (epilogue or None, reason) of its latest call


def _note(op, epilogue, reason=""):
    STATS[op, epilogue or "fallback"] += 1
    LAST[op] = (epilogue, reason)
