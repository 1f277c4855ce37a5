"""CUDA C sources of the CuPy kernels in ``cuda.py``, kept free of CuPy so that the nvcc test can
compile them on machines without it: ``source(name)`` reads a .cu file with its local #includes
expanded, and the tables below are the (in_params, out_params, operation) of each
``cupy.ElementwiseKernel`` (``{c}`` is the activation code; the preamble is activations.cu).

>>> "gpugrad_act" in source("linear_act.cu")
True
"""
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent


def source(name):
    """A .cu file beside this module with its local #includes expanded: one self-contained
    source, so that CuPy's compile cache keys on everything it compiles."""
    text = (HERE / name).read_text()
    return re.sub(r'#include "(\w+\.cu)"', lambda m: source(m.group(1)), text)


# The RawModule kernels cuda.py compiles: {file: {template: instantiated with an activation
# code?}}; each is instantiated for float and double.
RAW_KERNELS = {
    "linear_act.cu": {"gpugrad_linear_act": True},
    "epilogue.cu": {"gpugrad_dz_db": True, "gpugrad_sum_partials": False},
    "cross_entropy.cu": {"gpugrad_cross_entropy_fwd": False},
}


def raw_kernel_names():
    """Every (file, name expression) cuda.py can compile, e.g. ("linear_act.cu",
    "gpugrad_linear_act<1, float>").

    >>> ("cross_entropy.cu", "gpugrad_cross_entropy_fwd<double>") in raw_kernel_names()
    True
    """
    out = []
    for filename, templates in RAW_KERNELS.items():
        for template, with_code in templates.items():
            for ctype in ("float", "double"):
                codes = range(8) if with_code else [None]
                out += [(filename, f"{template}<{ctype}>" if c is None else
                         f"{template}<{c}, {ctype}>") for c in codes]
    return out


FORWARD = {  # variant: (in_params, out_params, operation)
    "bias_inplace": ("T b, T slope", "T y", "y = gpugrad_act<{c}>(T(y + b), slope)"),
    "bias_keep_z": ("T b, T slope", "T z, T y", "z = z + b; y = gpugrad_act<{c}>(z, slope)"),
    "act": ("T z, T slope", "T y", "y = gpugrad_act<{c}>(z, slope)"),
}
ACT_BACKWARD = ("T dy, T y, T z, T slope", "T dz", "dz = dy * gpugrad_dact<{c}>(y, z, slope)")
# softmax cross-entropy's gradient from the probabilities: row r = i / c, class j = i % c
CROSS_ENTROPY_BACKWARD = (
    "T p, raw T w, raw int64 t, int64 c, T eps", "T grad",
    "const long long r = i / c; "
    "grad = w[r] * (p - eps / (T)c - (i - r * c == t[r] ? (T)1 - eps : (T)0))")

SGD_PARAMS = ("T grad, T lr, T momentum, T damp1, T weight_decay, bool nesterov, bool maximize, "
              "bool first_step")
SGD = """
T g = maximize ? -grad : grad;
if (weight_decay != T(0)) g = g + weight_decay * param;
{momentum}
param = param - lr * g;
"""
SGD_MOMENTUM = """
buf = first_step ? g : momentum * buf + damp1 * g;
g = nesterov ? g + momentum * buf : buf;
"""

ADAM_PARAMS = ("T grad, T step_size, T w1, T beta2, T w2, T eps, T weight_decay, T decay, "
               "T bc2_sqrt, bool decoupled, bool maximize")
ADAM = """
T g = maximize ? -grad : grad;
T p = param;
if (weight_decay != T(0)) {{
    if (decoupled) p = p * decay; else g = g + weight_decay * p;
}}
m = w1 < T(0.5) ? m + w1 * (g - m) : g - (g - m) * (T(1) - w1);   // torch's lerp
v = beta2 * v + w2 * g * g;
T vv = v;
{amsgrad}
param = p - step_size * (m / (gpugrad_sqrt(vv) / bc2_sqrt + eps));
"""
ADAM_AMSGRAD = "vmax = vmax > v ? vmax : v; vv = vmax;"


def elementwise_specs():
    """Every ElementwiseKernel cuda.py builds, as (name, in_params, out_params, operation)."""
    specs = []
    for code in range(8):
        for variant, (in_params, out_params, op) in FORWARD.items():
            specs.append((f"gpugrad_{variant}_{code}", in_params, out_params, op.format(c=code)))
        in_params, out_params, op = ACT_BACKWARD
        specs.append((f"gpugrad_act_backward_{code}", in_params, out_params, op.format(c=code)))
    for variant in (False, True):
        specs.append((f"gpugrad_sgd_{variant}", SGD_PARAMS, "T param" + (", T buf" if variant else ""),
                      SGD.format(momentum=SGD_MOMENTUM if variant else "")))
        specs.append((f"gpugrad_adam_{variant}", ADAM_PARAMS,
                      "T param, T m, T v" + (", T vmax" if variant else ""),
                      ADAM.format(amsgrad=ADAM_AMSGRAD if variant else "")))
    specs.append(("gpugrad_cross_entropy_bwd", *CROSS_ENTROPY_BACKWARD))
    return specs
