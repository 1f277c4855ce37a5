"""gpugrad.kernels: fused kernels on raw arrays (numpy.ndarray or cupy.ndarray), no autograd.

A layer is ``y = act(x @ W + b)`` with x (N, in), W (in, out), b (out,) or None. NumPy arrays
go to ``cpu`` (BLAS + Numba epilogues), CuPy arrays to ``cuda`` (cuBLAS or a custom GEMM + fused
CuPy kernels); ``reference`` holds the plain ``xp`` versions. Importing this package imports
neither cupy nor numba.cuda. Inputs are checked here, before anything is written.

>>> import numpy as np
>>> from gpugrad import kernels
>>> x, W, b = np.ones((4, 3), np.float32), np.ones((3, 2), np.float32), np.zeros(2, np.float32)
>>> y, z = kernels.linear_act_forward(x, W, b, "relu")
>>> y.tolist(), z
([[3.0, 3.0], [3.0, 3.0], [3.0, 3.0], [3.0, 3.0]], None)
"""
import contextlib
import importlib
import os
import threading

# Idle OpenMP workers sleep instead of spinning: Numba's parallel epilogues share the cores with
# BLAS's own threads, and spinning workers starve BLAS (measured up to 10x slower steps on two
# busy cores). Must be set before Numba first starts its OpenMP pool; a user's choice wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import reference
from .activations import ACTIVATIONS, check_activation, needs_preactivation

__all__ = ["ACTIVATIONS", "needs_preactivation", "linear_act_forward", "linear_act_backward",
           "act_forward", "act_backward", "sgd_update", "adam_update", "set_matmul_precision",
           "get_matmul_precision", "matmul_precision"]

_PRECISIONS = ("highest", "high")
def _cupy_tf32() -> bool:
    """CuPy's own switch for the same thing, read as CuPy reads it (an integer > 0)."""
    try:
        return int(os.environ.get("CUPY_TF32", "0")) > 0
    except ValueError:
        return False


_precision = "high" if _cupy_tf32() else "highest"


def set_matmul_precision(precision):
    """Set the float32 GEMM precision of every product gpugrad computes on CUDA -- ``linear``
    and ``nn.Linear``, ``matmul``/``@``, ``dot``, ``tensordot``, ``einsum``, forward and
    backward: "highest" (full float32, the default) or "high" (TF32 tensor cores: 10-bit
    mantissa inputs, float32 accumulation, as PyTorch's ``allow_tf32``). No effect on the CPU.
    The starting value is "high" when CuPy's ``CUPY_TF32=1`` is set, else "highest"; each
    product sets CuPy's compute type for its own call only.

    >>> set_matmul_precision("high"); get_matmul_precision()
    'high'
    >>> set_matmul_precision("highest")
    """
    global _precision
    if precision not in _PRECISIONS:
        raise ValueError(f"matmul precision must be one of {_PRECISIONS}, got {precision!r}")
    _precision = precision


class _Local(threading.local):
    precision = None          # this thread's matmul_precision() block, if any


_local = _Local()


def get_matmul_precision():
    """The current matmul precision, "highest" or "high": the calling thread's innermost
    :func:`matmul_precision` block, else the process-wide :func:`set_matmul_precision`.

    >>> get_matmul_precision()
    'highest'
    """
    return _local.precision or _precision


@contextlib.contextmanager
def matmul_precision(precision):
    """Context manager: products computed by the calling thread inside the block use
    ``precision`` ("highest" or "high"); other threads, and the process-wide setting, are
    untouched (set_matmul_precision changes that one for every thread).

    >>> with matmul_precision("high"):
    ...     get_matmul_precision()
    'high'
    >>> get_matmul_precision()
    'highest'
    """
    if precision not in _PRECISIONS:
        raise ValueError(f"matmul precision must be one of {_PRECISIONS}, got {precision!r}")
    prev, _local.precision = _local.precision, precision
    try:
        yield
    finally:
        _local.precision = prev


# ------------------------------------------------------------------------------- dispatch + checks

def _is_cupy(a):
    return type(a).__module__.startswith("cupy")


_modules = {}   # ".cpu"/".cuda" -> the kernel module, imported on first use


def _backend(*arrays):
    """The kernel module for these arrays: ``cpu`` for NumPy, ``cuda`` for CuPy; mixing is an error."""
    if all(a is None or type(a).__module__ == "numpy" for a in arrays):   # the common case
        mod = _modules.get(".cpu")
        return mod if mod is not None else _import(".cpu")
    kinds = {_is_cupy(a) for a in arrays if a is not None}
    if len(kinds) > 1:
        names = ", ".join(type(a).__module__.split(".")[0] for a in arrays if a is not None)
        raise TypeError(f"arrays on different devices (got {names}); move them to one device first")
    name = ".cuda" if kinds == {True} else ".cpu"
    mod = _modules.get(name)
    return mod if mod is not None else _import(name)


def _import(name):
    mod = _modules[name] = importlib.import_module(name, __name__)
    return mod


def _check_same(fn, expected_shape, **arrays):
    """Every array given (None skipped) must have ``expected_shape`` and the first one's dtype."""
    dtype = None
    for name, a in arrays.items():
        if a is None:
            continue
        if tuple(a.shape) != tuple(expected_shape):
            raise ValueError(f"{fn}: expected {name} of shape {tuple(expected_shape)}, "
                             f"got {tuple(a.shape)}")
        if dtype is None:
            dtype, first = a.dtype, name
        elif a.dtype != dtype:
            raise TypeError(f"{fn}: expected {name} of dtype {dtype} (like {first}), got {a.dtype}")


def _check_linear(fn, x, W, b):
    if x.ndim != 2 or W.ndim != 2:
        raise ValueError(f"{fn}: expected 2-D x (N, in) and W (in, out), got x of shape "
                         f"{tuple(x.shape)} and W of shape {tuple(W.shape)}")
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"{fn}: x of shape {tuple(x.shape)} does not match W of shape "
                         f"{tuple(W.shape)}; expected W.shape[0] == x.shape[1] == {x.shape[1]}")
    if x.dtype.kind != "f" and x.dtype.char != "E":   # 'E': ml_dtypes' bfloat16
        raise TypeError(f"{fn}: expected a floating dtype, got x of dtype {x.dtype}")
    if x.dtype != W.dtype:
        raise TypeError(f"{fn}: expected x and W of one dtype, got {x.dtype} and {W.dtype}")
    if b is not None and tuple(b.shape) != (W.shape[1],):
        raise ValueError(f"{fn}: expected b of shape ({W.shape[1]},) to match W of shape "
                         f"{tuple(W.shape)}, got {tuple(b.shape)}")
    if b is not None and b.dtype != W.dtype:
        raise TypeError(f"{fn}: expected b of dtype {W.dtype} (like W), got {b.dtype}")


# ---------------------------------------------------------------------------------- linear layer

def _upcast_on_cpu(*arrays):
    """For bfloat16 (ml_dtypes') on the CPU: the arrays in float32 (None kept), else None.
    NumPy has no bfloat16 GEMM, so such a layer runs as the float32 kernels on the rounded
    inputs -- float32 accumulation -- and its results are rounded back to bfloat16 (float16
    keeps the reference path: NumPy's float16 matmul accumulates in float32 itself)."""
    a = arrays[0]
    if a.dtype.char != "E" or type(a).__module__ != "numpy":
        return None
    return tuple(None if v is None else v.astype("float32") for v in arrays)


def _round_to(dtype, *arrays):
    return tuple(None if v is None else v.astype(dtype) for v in arrays)


def linear_act_forward(x, W, b, act="identity", negative_slope=0.01):
    """y = act(x @ W + b) in one GEMM and one fused in-place epilogue pass.

    Returns (y, z): z is the pre-activation x @ W + b when ``needs_preactivation(act)`` (gelu,
    gelu_tanh, silu), else None. b may be None.

    >>> import numpy as np
    >>> x, W = np.array([[1.0, -2.0]]), np.array([[1.0], [1.0]])
    >>> linear_act_forward(x, W, np.array([0.5]), "relu")
    (array([[0.]]), None)
    """
    check_activation(act, negative_slope)
    _check_linear("linear_act_forward", x, W, b)
    if x.dtype not in reference.FAST_DTYPES:   # float16 and the like, on any device
        wide = _upcast_on_cpu(x, W, b)
        if wide is not None:
            return _round_to(x.dtype, *linear_act_forward(*wide, act, negative_slope))
        return reference.linear_act_forward(x, W, b, act, negative_slope)
    return _backend(x, W, b).linear_act_forward(x, W, b, act, negative_slope,
                                                      get_matmul_precision())


def linear_act_backward(dy, x, W, y, z, act="identity", negative_slope=0.01,
                        needs_input_grad=(True, True, True), dW_out=None):
    """Gradients (dx, dW, db) of y = act(x @ W + b), given dy = dL/dy and what forward returned.

    One fused pass computes dZ = dy * act'(y or z) and db = dZ.sum(0) (on CUDA its per-block
    column sums, added by a second small kernel in double); then dx = dZ @ W.T and
    dW = x.T @ dZ through BLAS. Entries whose flag in ``needs_input_grad`` is false are None.
    dy is never modified. y may be None when the activation needs z, and z None when it doesn't.
    ``dW_out``, a C-contiguous array shaped and typed like W, receives dW directly (the GEMM
    writes into it: an optimizer's flat gradient buffer, with no copy) and is returned as dW.

    >>> import numpy as np
    >>> x, W = np.array([[1.0, 2.0]]), np.array([[1.0], [1.0]])
    >>> y, z = linear_act_forward(x, W, None, "relu")
    >>> linear_act_backward(np.ones_like(y), x, W, y, z, "relu", needs_input_grad=(True, True, False))
    (array([[1., 1.]]), array([[1.],
           [2.]]), None)
    """
    fn = "linear_act_backward"
    check_activation(act, negative_slope)
    _check_linear(fn, x, W, None)
    out_shape = (x.shape[0], W.shape[1])
    kept = "z" if needs_preactivation(act) else "y"
    saved = z if kept == "z" else y
    if saved is None and act != "identity":
        raise ValueError(f"{fn}: activation {act!r} needs {kept} (the "
                         f"{'pre-activation' if kept == 'z' else 'output'}), got None")
    _check_same(fn, out_shape, dy=dy, **{kept: saved})
    if dy.dtype != x.dtype:
        raise TypeError(f"{fn}: expected dy of dtype {x.dtype} (like x), got {dy.dtype}")
    if len(needs_input_grad) != 3:
        raise ValueError(f"{fn}: needs_input_grad must be 3 flags (dx, dW, db), "
                         f"got {needs_input_grad!r}")
    if dW_out is not None and (dW_out.shape != W.shape or dW_out.dtype != W.dtype
                               or type(dW_out) is not type(W)
                               or not dW_out.flags.c_contiguous):
        raise ValueError(f"{fn}: expected dW_out as a C-contiguous {type(W).__name__} of shape "
                         f"{W.shape} and dtype {W.dtype}, got {type(dW_out).__name__} of shape "
                         f"{dW_out.shape}, dtype {dW_out.dtype}")
    y, z = (None, saved) if kept == "z" else (saved, None)
    if not any(needs_input_grad):
        return None, None, None
    if dy.dtype not in reference.FAST_DTYPES:
        wide = _upcast_on_cpu(dy, x, W, y, z)
        if wide is not None:
            grads = _round_to(dy.dtype, *linear_act_backward(
                *wide, act, negative_slope, needs_input_grad))
            if dW_out is not None and grads[1] is not None:
                dW_out[...] = grads[1]
                grads = (grads[0], dW_out, grads[2])
            return grads
        return reference.linear_act_backward(dy, x, W, y, z, act, negative_slope,
                                             tuple(bool(f) for f in needs_input_grad),
                                             dW_out=dW_out)
    return _backend(dy, x, W, y, z).linear_act_backward(
        dy, x, W, y, z, act, negative_slope, tuple(bool(f) for f in needs_input_grad),
        get_matmul_precision(), dW_out)


# ----------------------------------------------------------------------------------- activations

def act_forward(z, act, out=None, negative_slope=0.01):
    """Elementwise act(z) of any shape, into ``out`` when given (``out`` may be ``z`` itself).

    >>> import numpy as np
    >>> act_forward(np.array([-1.0, 2.0]), "leaky_relu", negative_slope=0.5)
    array([-0.5,  2. ])
    """
    check_activation(act, negative_slope)
    if out is not None:
        _check_same("act_forward", z.shape, z=z, out=out)
    if z.dtype not in reference.FAST_DTYPES:            # float16 and the like: the reference, on any device
        y = reference.act_forward(z, act, negative_slope)
        if out is None:
            return y
        out[...] = y
        return out
    return _backend(z, out).act_forward(z, act, out, negative_slope)


def act_backward(dy, y, z, act, negative_slope=0.01):
    """dZ = dy * act'(.) elementwise, from y (identity, relu, leaky_relu, sigmoid, tanh) or z
    (gelu, gelu_tanh, silu); the other may be None. Returns a new array.

    >>> import numpy as np
    >>> act_backward(np.ones(2), np.array([0.0, 3.0]), None, "relu")
    array([0., 1.])
    """
    check_activation(act, negative_slope)
    kept = "z" if needs_preactivation(act) else "y"
    if kept == "z" and z is None or kept == "y" and y is None and act != "identity":
        raise ValueError(f"act_backward: activation {act!r} needs {kept}, got None")
    _check_same("act_backward", dy.shape, dy=dy, **{kept: z if kept == "z" else y})
    if dy.dtype not in reference.FAST_DTYPES:
        return reference.act_backward(dy, y, z, act, negative_slope)
    return _backend(dy, y, z).act_backward(dy, y, z, act, negative_slope)


# ----------------------------------------------------------------------------------- optimizers

def sgd_update(param, grad, momentum_buf, *, lr, momentum=0.0, dampening=0.0, nesterov=False,
               weight_decay=0.0, maximize=False, first_step=False, low=None, found_inf=None):
    """One torch.optim.SGD step, in place on ``param`` (and ``momentum_buf``), in one pass.

    Meant for flat 1-D buffers holding all parameters of one dtype and device. On the first
    step (``first_step=True``) the buffer is set to the gradient (weight decay included), not
    dampened. ``momentum_buf`` may be None when momentum == 0. ``grad`` is not modified.
    ``low`` (float16, or bfloat16 on the CPU; param float32): also receives the new weights
    rounded to it, in the same pass (``param.astype(low.dtype)``, bit for bit).
    ``found_inf`` (a 1-element bool array on param's device): where set, nothing is written
    (GradScaler's skipped step, decided on the device); ``first_step`` may then be such an
    array too.

    >>> import numpy as np
    >>> p, g, buf = np.ones(3), np.full(3, 0.5), np.zeros(3)
    >>> sgd_update(p, g, buf, lr=0.1, momentum=0.9, first_step=True); p
    array([0.95, 0.95, 0.95])
    """
    fn = "sgd_update"
    if momentum != 0 and momentum_buf is None:
        raise ValueError(f"{fn}: momentum={momentum} needs a momentum_buf, got None")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{fn}: Nesterov momentum requires a momentum and zero dampening, "
                         f"got momentum={momentum}, dampening={dampening}")
    for name, v in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
        if not v >= 0:
            raise ValueError(f"{fn}: expected {name} >= 0, got {v!r}")
    _check_same(fn, param.shape, param=param, grad=grad,
                momentum_buf=momentum_buf if momentum != 0 else None)
    _check_low(fn, param, low, found_inf)
    _backend(param, grad, momentum_buf, low, found_inf).sgd_update(
        param, grad, momentum_buf, lr=lr, momentum=momentum, dampening=dampening,
        nesterov=nesterov, weight_decay=weight_decay, maximize=maximize, first_step=first_step,
        low=low, found_inf=found_inf)


def _check_low(fn, param, low, found_inf):
    """The optimizer kernels' 16-bit copy and found-inf flag, checked before any write."""
    if low is not None:
        if tuple(low.shape) != tuple(param.shape):
            raise ValueError(f"{fn}: expected low of shape {tuple(param.shape)} (like param), "
                             f"got {tuple(low.shape)}")
        if param.dtype.name != "float32" or low.dtype.name not in ("float16", "bfloat16"):
            raise TypeError(f"{fn}: expected a float16 or bfloat16 low copy of float32 "
                            f"weights, got low {low.dtype} for param {param.dtype}")
    if found_inf is not None and (tuple(found_inf.shape) != (1,) or found_inf.dtype != bool):
        raise ValueError(f"{fn}: expected found_inf as a 1-element bool array, got shape "
                         f"{tuple(found_inf.shape)} dtype {found_inf.dtype}")


def adam_update(param, grad, exp_avg, exp_avg_sq, *, step, lr, beta1=0.9, beta2=0.999, eps=1e-8,
                weight_decay=0.0, decoupled=False, maximize=False, amsgrad=False,
                max_exp_avg_sq=None, low=None, found_inf=None):
    """One torch.optim.Adam (``decoupled=False``) or AdamW (``decoupled=True``) step, in place.

    ``step`` is the 1-based step count after increment: an int, or a 1-element integer array
    on param's device (a count kept on the device; read there, never on the host).
    ``low`` and ``found_inf`` as in :func:`sgd_update`. Bias corrections follow PyTorch's
    single-tensor path: denom = sqrt(v) / sqrt(1 - beta2**step) + eps and
    param -= lr / (1 - beta1**step) * m / denom. With ``amsgrad`` the running maximum of v is
    kept in ``max_exp_avg_sq``. ``grad`` is not modified.

    >>> import numpy as np
    >>> p, m, v = np.ones(2), np.zeros(2), np.zeros(2)
    >>> adam_update(p, np.array([1.0, -1.0]), m, v, step=1, lr=0.1); p.round(6)
    array([0.9, 1.1])
    """
    fn = "adam_update"
    on_device = getattr(step, "shape", None) == (1,) and step.dtype.kind in "iu"
    if not on_device and (not (isinstance(step, int) or hasattr(step, "__index__")) or step < 1):
        raise ValueError(f"{fn}: expected step to be an int >= 1 (after increment) or a "
                         f"1-element integer array, got {step!r}")
    if amsgrad and max_exp_avg_sq is None:
        raise ValueError(f"{fn}: amsgrad=True needs max_exp_avg_sq, got None")
    for name, v, lo, hi in (("beta1", beta1, 0, 1), ("beta2", beta2, 0, 1)):
        if not lo <= v < hi:
            raise ValueError(f"{fn}: expected 0 <= {name} < 1, got {v!r}")
    for name, v in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
        if not v >= 0:
            raise ValueError(f"{fn}: expected {name} >= 0, got {v!r}")
    vmax = max_exp_avg_sq if amsgrad else None
    _check_same(fn, param.shape, param=param, grad=grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
                max_exp_avg_sq=vmax)
    _check_low(fn, param, low, found_inf)
    _backend(param, grad, exp_avg, exp_avg_sq, vmax, low, found_inf).adam_update(
        param, grad, exp_avg, exp_avg_sq, step=step if on_device else int(step), lr=lr,
        beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, decoupled=decoupled,
        maximize=maximize, amsgrad=amsgrad, max_exp_avg_sq=vmax, low=low, found_inf=found_inf)
