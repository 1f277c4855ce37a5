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
    "bf16_cast.cu": {"gpugrad_bf16_cast": False},      # built by cublas_bf16.py
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

# The optimizer kernels' options: ``low`` also writes the new weight's float16 copy (an extra
# output), ``flag`` skips the update where GradScaler's found-inf flag is set and takes the
# first-step flag (SGD) or the bias corrections (Adam, from the step count on the device) from
# device arrays.
LOW_OUT = ", float16 low"
LOW_WRITE = "low = (float16)param;"
SGD_FLAG_PARAMS = ", raw bool found, raw bool first"
ADAM_FLAG_PARAMS = ", raw bool found, raw T coef"
# Adam's bias corrections from a step count on the device: coef[0] = lr / (1 - beta1^t),
# coef[1] = sqrt(1 - beta2^t), in double as the host computes them, then rounded to T
ADAM_COEF = ("raw int64 step, float64 lr, float64 beta1, float64 beta2", "T coef",
             "const double t = (double)step[0]; "
             "coef = i == 0 ? (T)(lr / (1.0 - pow(beta1, t))) : (T)sqrt(1.0 - pow(beta2, t))")


def optimizer_spec(name, variant, low=False, flag=False):
    """(in_params, out_params, operation) of one optimizer ElementwiseKernel: ``name`` "sgd"
    (``variant``: with momentum) or "adam" (``variant``: amsgrad).

    >>> "found[0]" in optimizer_spec("adam", False, low=True, flag=True)[2]
    True
    """
    if name == "sgd":
        ins, outs = SGD_PARAMS, "T param" + (", T buf" if variant else "")
        body = SGD.format(momentum=SGD_MOMENTUM if variant else "")
        if flag:
            ins, body = ins + SGD_FLAG_PARAMS, body.replace("first_step ?", "first[0] ?")
    else:
        ins, outs = ADAM_PARAMS, "T param, T m, T v" + (", T vmax" if variant else "")
        body = ADAM.format(amsgrad=ADAM_AMSGRAD if variant else "")
        if flag:
            ins = ins + ADAM_FLAG_PARAMS
            body = ("const T step_size_d = coef[0], bc2_sqrt_d = coef[1];" +
                    body.replace("step_size *", "step_size_d *")
                    .replace("/ bc2_sqrt", "/ bc2_sqrt_d"))
    if low:
        outs, body = outs + LOW_OUT, body + LOW_WRITE
    if flag:
        body = "if (!found[0]) {" + body + "}"
    return ins, outs, body


def elementwise_specs():
    """Every ElementwiseKernel cuda.py builds, as (name, in_params, out_params, operation)."""
    specs = []
    for code in range(8):
        for variant, (in_params, out_params, op) in FORWARD.items():
            specs.append((f"gpugrad_{variant}_{code}", in_params, out_params, op.format(c=code)))
        in_params, out_params, op = ACT_BACKWARD
        specs.append((f"gpugrad_act_backward_{code}", in_params, out_params, op.format(c=code)))
    for variant in (False, True):
        for low in (False, True):
            for flag in (False, True):
                for name in ("sgd", "adam"):
                    specs.append((f"gpugrad_{name}_{variant}_{low}_{flag}",
                                  *optimizer_spec(name, variant, low, flag)))
    specs.append(("gpugrad_adam_coef", *ADAM_COEF))
    specs.append(("gpugrad_cross_entropy_bwd", *CROSS_ENTROPY_BACKWARD))
    return specs
