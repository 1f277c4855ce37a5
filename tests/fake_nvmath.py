"""A NumPy stand-in for nvmath-python's stateful ``nvmath.linalg.advanced.Matmul`` with the
cuBLASLt epilogues gpugrad uses, so that kernels/cublaslt.py's execution layer (operand views,
result and aux layouts, plan reuse, fallbacks) runs on a CPU.  Install it with
``cublaslt.set_nvmath(fake_nvmath)``.

It follows nvmath-python's observable rules, as read in its source (matmulmod.py,
_internal/epilog_protocol.py): operands are logical (M, K) and (K, N) matrices whose layout
(row- or column-major) comes from their strides; the result is column-major for the bias, aux
and D* epilogues and BGRADB, else laid out like C or, without C, like A; aux outputs are
column-major, the relu bit-mask uint8 (ceil(M / 8) rounded up to 16, N), the gelu input
(M rounded up to 8, N); BGRADA needs a column-major A; DRELU/DGELU refuse K == 1;
``reset_operands`` insists on the planned shapes, strides and dtypes.  The relu bit-mask's bit
order is this fake's own (cuBLASLt's is opaque): only its epilogues read it.  Numerics are
plain NumPy in the operands' dtype (gelu_tanh from kernels.reference): it checks layouts, not
cuBLASLt's arithmetic.
"""
import dataclasses
import enum
import math

import numpy as np

from gpugrad.kernels import reference

MatmulEpilog = enum.Enum("MatmulEpilog", [
    ("DEFAULT", 1), ("RELU", 2), ("RELU_AUX", 130), ("BIAS", 4), ("RELU_BIAS", 6),
    ("RELU_AUX_BIAS", 134), ("DRELU", 136), ("DRELU_BGRAD", 152), ("GELU", 32),
    ("GELU_AUX", 160), ("GELU_BIAS", 36), ("GELU_AUX_BIAS", 164), ("DGELU", 192),
    ("DGELU_BGRAD", 208), ("BGRADA", 256), ("BGRADB", 512)])
ComputeType = enum.IntEnum("ComputeType", [("COMPUTE_32F", 68), ("COMPUTE_32F_FAST_TF32", 77),
                                           ("COMPUTE_64F", 70)])


@dataclasses.dataclass
class MatmulOptions:
    inplace: bool = False
    compute_type: object = None
    logger: object = None


class Counters:
    created = 0          # Matmul objects made
    planned = 0
    executed = 0
    fail_plan = None     # an exception to raise from plan()
    fail_execute = None  # an exception to raise from execute()


counters = Counters()


def reset_counters():
    for name in ("created", "planned", "executed"):
        setattr(counters, name, 0)
    counters.fail_plan = counters.fail_execute = None


_COL_RESULT = {"BIAS", "RELU_BIAS", "RELU_AUX_BIAS", "GELU_BIAS", "GELU_AUX_BIAS", "RELU_AUX",
               "GELU_AUX", "DRELU", "DRELU_BGRAD", "DGELU", "DGELU_BGRAD", "BGRADB"}
_INPUTS = {"BIAS": {"bias"}, "RELU_BIAS": {"bias"}, "RELU_AUX_BIAS": {"bias"},
           "GELU_BIAS": {"bias"}, "GELU_AUX_BIAS": {"bias"}, "DRELU": {"relu_aux"},
           "DRELU_BGRAD": {"relu_aux"}, "DGELU": {"gelu_aux"}, "DGELU_BGRAD": {"gelu_aux"}}


def relu_aux_shape(m, n):
    return -(-math.ceil(m / 8) // 16) * 16, n


def gelu_aux_shape(m, n):
    return -(-m // 8) * 8, n


def _order(a):
    """"COL" or "ROW" as nvmath decides it from element strides (first dimension first)."""
    s0, s1 = (s // a.itemsize for s in a.strides)
    if s0 == 1:
        return "COL"
    if s1 == 1:
        return "ROW"
    raise ValueError(f"Unsupported layout {a.strides}")


def _empty(shape, dtype, order):
    return np.empty(shape, dtype, order="F" if order == "COL" else "C")


def _spec(a):
    return a.shape, a.strides, a.dtype


class Matmul:
    def __init__(self, a, b, c=None, *, alpha=None, beta=None, options=None, stream=None):
        options = options or MatmulOptions()
        if c is None and options.inplace:
            raise ValueError("The operation cannot be inplace if operand C is not provided.")
        if c is not None and beta is None:
            raise ValueError("A value for beta must be provided if operand C is provided.")
        if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
            raise ValueError("unsupported dtypes")
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ValueError("The 'K' extent must match")
        for o in (a, b) + ((c,) if c is not None else ()):
            _order(o)
        self.options, self.beta = options, beta
        self.specs = [_spec(a), _spec(b)] + ([_spec(c)] if c is not None else [])
        self.operands = [a, b] + ([c] if c is not None else [])
        self.epilog, self.inputs, self.input_specs = None, {}, {}
        self.released = False
        counters.created += 1

    @property
    def mnk(self):
        (m, k), (_, n) = self.specs[0][0], self.specs[1][0]
        return m, n, k

    def plan(self, *, epilog=None, epilog_inputs=None, preferences=None, algorithms=None,
             stream=None):
        if counters.fail_plan is not None:
            raise counters.fail_plan
        name = epilog.name if epilog is not None else "DEFAULT"
        inputs = dict(epilog_inputs or {})
        if set(inputs) != _INPUTS.get(name, set()):
            raise ValueError(f"The epilog {name} requires {_INPUTS.get(name, set())}, got {set(inputs)}")
        m, n, k = self.mnk
        if "bias" in inputs:
            bias = inputs["bias"]
            if bias.shape != (m,) or bias.strides[0] != bias.itemsize:
                raise ValueError("The M dimension of the bias vector must match the M dimension of A.")
        if "relu_aux" in inputs and (inputs["relu_aux"].shape != relu_aux_shape(m, n)
                                     or inputs["relu_aux"].dtype != np.uint8
                                     or _order(inputs["relu_aux"]) != "COL"):
            raise ValueError("bad relu_aux")
        if "gelu_aux" in inputs and (inputs["gelu_aux"].shape != gelu_aux_shape(m, n)
                                     or _order(inputs["gelu_aux"]) != "COL"):
            raise ValueError("bad gelu_aux")
        if name in ("DRELU", "DRELU_BGRAD", "DGELU", "DGELU_BGRAD") and k == 1:
            raise ValueError("K=1 is not supported for DRELU epilogs")
        if name == "BGRADA" and _order(self.operands[0]) != "COL":
            raise ValueError("BGRADA: 'a' must be column-major")
        self.epilog, self.inputs = name, inputs
        self.input_specs = {k_: _spec(v) for k_, v in inputs.items()}
        counters.planned += 1
        return ()

    def reset_operands(self, *, a=None, b=None, c=None, alpha=None, beta=None,
                       epilog_inputs=None, stream=None):
        for i, o in enumerate((a, b, c)):
            if o is None:
                continue
            if _spec(o) != self.specs[i]:
                raise ValueError(f"operand {'abc'[i]}: {_spec(o)} != planned {self.specs[i]}")
            self.operands[i] = o
        for name, v in (epilog_inputs or {}).items():
            if _spec(v) != self.input_specs[name]:
                raise ValueError(f"epilog input {name}: {_spec(v)} != planned")
            self.inputs[name] = v
        self.released = False

    reset_operands_unchecked = reset_operands

    def release_operands(self):
        self.operands = [None] * len(self.operands)
        self.inputs = dict.fromkeys(self.inputs)
        self.released = True

    def execute(self, *, algorithm=None, release_workspace=False, stream=None):
        if self.released:
            raise RuntimeError("Execution cannot be performed after the operands have been released.")
        if counters.fail_execute is not None:
            raise counters.fail_execute
        counters.executed += 1
        a, b = self.operands[0], self.operands[1]
        m, n, _ = self.mnk
        acc = a @ b
        name, aux = self.epilog, {}
        if "bias" in self.inputs:
            acc = acc + self.inputs["bias"][:, None]
        if name in ("RELU_AUX", "RELU_AUX_BIAS"):
            mask = np.zeros(relu_aux_shape(m, n), np.uint8, order="F")
            packed = np.packbits(acc > 0, axis=0, bitorder="little")
            mask[:packed.shape[0]] = packed
            aux["relu_aux"] = mask
            acc = np.where(acc > 0, acc, np.zeros_like(acc))
        elif name in ("GELU_AUX", "GELU_AUX_BIAS"):
            pre = np.zeros(gelu_aux_shape(m, n), acc.dtype, order="F")
            pre[:m] = acc
            aux["gelu_aux"] = pre
            acc = reference.act_forward(acc, "gelu_tanh")
        elif name in ("DRELU", "DRELU_BGRAD"):
            bits = np.unpackbits(self.inputs["relu_aux"], axis=0, bitorder="little")[:m]
            acc = np.where(bits.astype(bool), acc, np.zeros_like(acc))
        elif name in ("DGELU", "DGELU_BGRAD"):
            acc = reference.act_backward(acc, None, self.inputs["gelu_aux"][:m], "gelu_tanh")
        if name in ("DRELU_BGRAD", "DGELU_BGRAD"):
            aux[name.lower()] = acc.sum(axis=1).astype(acc.dtype)
        if name == "BGRADA":
            aux["bgrada"] = a.sum(axis=1).astype(acc.dtype)
        if self.options.inplace:
            out = self.operands[2]
        elif name in _COL_RESULT:
            out = _empty((m, n), acc.dtype, "COL")
        else:
            out = _empty((m, n), acc.dtype, _order(self.operands[2] if len(self.operands) == 3
                                                    else a))
        out[...] = acc
        return (out, aux) if aux else out

    def free(self):
        pass
