"""sgd_update / adam_update against kernels.reference, an independent float64 NumPy version
written here, and torch.optim (CPU)."""
import numba
import numpy as np
import pytest

from gpugrad import kernels
from gpugrad.kernels import cpu as kernels_cpu
from gpugrad.kernels import reference

from test_kernels_cpu import assert_close, assert_ran_threaded, randn, spy_kernel_launches

DTYPES = [np.float32, np.float64]
SIZES = [1, 7, 129, 100_003]                   # the last one is split over threads
STEPS = 4

SGD_OPTIONS = [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1),
    dict(lr=0.01, momentum=0.5, maximize=True),
    dict(lr=0.01, weight_decay=0.2, maximize=True),
]
ADAM_OPTIONS = [
    dict(lr=1e-3),
    dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6),
    dict(lr=1e-2, weight_decay=0.1),
    dict(lr=1e-2, weight_decay=0.1, decoupled=True),
    dict(lr=1e-2, amsgrad=True, maximize=True),
    dict(lr=1e-2, beta1=0.3, amsgrad=True, weight_decay=0.05, decoupled=True),
]


def run_sgd(update, params, grads, options):
    p = params.copy()
    buf = np.zeros_like(p) if options.get("momentum", 0) else None
    for step, g in enumerate(grads, 1):
        update(p, g, buf, first_step=step == 1, **options)
    return p, buf


def run_adam(update, params, grads, options):
    p, m, v, vmax = params.copy(), np.zeros_like(params), np.zeros_like(params), np.zeros_like(params)
    for step, g in enumerate(grads, 1):
        update(p, g, m, v, step=step, max_exp_avg_sq=vmax, **options)
    return p, m, v


def np_sgd64(params, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
             maximize=False):
    """torch.optim.SGD's documented update, in float64 on copies: (param, momentum buffer)."""
    p, buf = params.astype(np.float64), None
    for g in grads:
        g = (-1.0 if maximize else 1.0) * g.astype(np.float64) + weight_decay * p
        if momentum:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
    return p, buf


def np_adam64(params, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
              decoupled=False, maximize=False, amsgrad=False):
    """torch.optim.Adam / AdamW's documented update, in float64 on copies: (param, m, v)."""
    p = params.astype(np.float64)
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, 1):
        g = (-1.0 if maximize else 1.0) * g.astype(np.float64)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        vmax = np.maximum(vmax, v)
        vhat = (vmax if amsgrad else v) / (1 - beta2 ** t)
        p = p - lr / (1 - beta1 ** t) * m / (np.sqrt(vhat) + eps)
    return p, m, v


def assert_close64(actual, expected64):
    """``actual`` against a float64 result rounded to its dtype."""
    if expected64 is not None:
        assert_close(actual, expected64.astype(actual.dtype))


def problem(dtype, size, seed=0):
    rng = np.random.default_rng(seed)
    return randn(rng, size, dtype), [randn(rng, size, dtype) for _ in range(STEPS)]


@pytest.mark.parametrize("options", SGD_OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sgd_matches_reference(options, dtype, size, monkeypatch):
    params, grads = problem(dtype, size)
    grads_before = [g.copy() for g in grads]
    launches = spy_kernel_launches(monkeypatch)
    got = run_sgd(kernels.sgd_update, params, grads, options)
    _check_launches(launches, "sgd", size)
    expected = run_sgd(reference.sgd_update, params, grads, options)
    for a, e, e64 in zip(got, expected, np_sgd64(params, grads, **options)):
        if e is not None:
            assert_close(a, e)
            assert_close64(a, e64)
    for g, g0 in zip(grads, grads_before):
        np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("options", ADAM_OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_adam_matches_reference(options, dtype, size, monkeypatch):
    params, grads = problem(dtype, size)
    grads_before = [g.copy() for g in grads]
    launches = spy_kernel_launches(monkeypatch)
    got = run_adam(kernels.adam_update, params, grads, options)
    _check_launches(launches, "adam", size)
    for a, e, e64 in zip(got, run_adam(reference.adam_update, params, grads, options),
                         np_adam64(params, grads, **options)):
        assert_close(a, e)
        assert_close64(a, e64)
    for g, g0 in zip(grads, grads_before):
        np.testing.assert_array_equal(g, g0)


def _check_launches(launches, kind, size):
    """Every step ran the fused kernel; the threaded one exactly when the buffer is large."""
    assert len(launches) == STEPS and {k for k, _, _ in launches} == {kind}, launches
    if size >= 2 * kernels_cpu._CHUNK:
        if numba.get_num_threads() >= 2:        # (one Numba thread: nothing to split over)
            assert_ran_threaded(launches, kind)
    else:
        assert all(not parallel for _, parallel, _ in launches), launches


LAYOUTS = ["1d-strided", "2d-transposed"]


def strided(values, layout, offset=1):
    """A view holding ``values`` that is neither C- nor F-contiguous, inside a larger array whose
    other entries are NaN sentinels; returns (view, the sentinels' view). "1d-strided": every
    third element; "2d-transposed": the (2, n/2) transpose of every other column (a 2-D buffer
    that no reshape can flatten without a copy)."""
    n = values.size
    if layout == "1d-strided":
        base = np.full((n, 3), np.nan, values.dtype)
        view, rest = base[:, offset], base[:, [i for i in range(3) if i != offset]]
    else:
        base = np.full((n // 2, 4), np.nan, values.dtype)
        view, rest = base[:, offset::2].T, base[:, 1 - offset::2]
    view[...] = values.reshape(view.shape)
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    return view, rest


def assert_sentinels_untouched(rest):
    assert np.isnan(rest).all(), "an update wrote outside its strided view"


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("options", SGD_OPTIONS[1:4])
@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
@pytest.mark.parametrize("size", [258, 70_002])           # one chunk / what would be threaded
def test_sgd_on_strided_buffers(layout, options, dtype, size):
    """Non-contiguous param, momentum buffer and gradient, updated in place over several steps,
    against the float64 NumPy version (float16 buffers too)."""
    params, grads = problem(np.float64, size, seed=1)
    params = params.astype(dtype)
    grads = [g.astype(dtype) for g in grads]
    p, prest = strided(params, layout)
    buf, brest = strided(np.zeros(size, dtype), layout, offset=0)
    views = [np.stack([g, g])[:, ::-1][0].reshape(p.shape) if layout == "1d-strided"
             else g.reshape(p.T.shape).T for g in grads]   # negative strides / transposed
    for step, g in enumerate(views, 1):
        assert not g.flags.c_contiguous
        kernels.sgd_update(p, g, buf, first_step=step == 1, **options)
    p64, buf64 = np_sgd64(params.reshape(p.shape), [g.copy() for g in views], **options)
    tol = _low_precision_tol(dtype)
    np.testing.assert_allclose(p.astype(np.float64), p64, **tol)
    np.testing.assert_allclose(buf.astype(np.float64), buf64, **tol)
    assert_sentinels_untouched(prest)
    assert_sentinels_untouched(brest)
    for g, g0 in zip(views, grads):                       # the gradient was not modified
        np.testing.assert_array_equal(g.reshape(-1) if layout == "1d-strided" else g.T.reshape(-1),
                                      g0[::-1] if layout == "1d-strided" else g0)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("options", ADAM_OPTIONS[2:])
@pytest.mark.parametrize("dtype", DTYPES + [np.float16])
@pytest.mark.parametrize("size", [258, 70_002])
def test_adam_on_strided_buffers(layout, options, dtype, size):
    params, grads = problem(np.float64, size, seed=2)
    grads = [np.sign(g) * (0.5 + np.abs(g)) for g in grads]   # float16: keep g*g*(1-beta2) normal
    params, grads = params.astype(dtype), [g.astype(dtype) for g in grads]
    p, prest = strided(params, layout)
    m, mrest = strided(np.zeros(size, dtype), layout, offset=0)
    v, vrest = strided(np.zeros(size, dtype), layout, offset=1)
    vmax, xrest = strided(np.zeros(size, dtype), layout, offset=0)
    grads = [g.reshape(p.shape) for g in grads]
    options = dict(options, eps=max(options.get("eps", 1e-8), 1e-4))
    for step, g in enumerate(grads, 1):
        kernels.adam_update(p, g, m, v, step=step, max_exp_avg_sq=vmax, **options)
    p64, m64, v64 = np_adam64(params.reshape(p.shape), grads, **options)
    tol = _low_precision_tol(dtype)
    for got, expected in ((p, p64), (m, m64), (v, v64)):
        np.testing.assert_allclose(got.astype(np.float64), expected, **tol)
    for rest in (prest, mrest, vrest, xrest):
        assert_sentinels_untouched(rest)


def _low_precision_tol(dtype):
    # float16: a few ulps per step of values of magnitude ~1-4
    return dict(rtol=1e-5, atol=1e-5) if dtype != np.float16 else dict(rtol=1e-2, atol=1e-2)


def test_adam_float16_one_step_against_float64():
    params, grads = problem(np.float64, 258, seed=1)
    g = np.sign(grads[0]) * (0.5 + np.abs(grads[0]))          # float16: keep g*g*(1-beta2) normal
    p16, g16 = params.astype(np.float16), g.astype(np.float16)
    m, v = np.zeros_like(p16), np.zeros_like(p16)
    expected, _, _ = np_adam64(p16, [g16], lr=1e-2, eps=1e-4)
    kernels.adam_update(p16, g16, m, v, step=1, lr=1e-2, eps=1e-4)
    # the first Adam step moves every parameter by lr * sign(g) (up to eps)
    assert_close(p16, (params - 1e-2 * np.sign(g)).astype(np.float16))
    np.testing.assert_allclose(p16.astype(np.float64), expected, rtol=2e-3, atol=2e-3)


# --------------------------------------------------------------------------------- vs PyTorch

@pytest.mark.parametrize("options", SGD_OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_matches_torch(options, dtype):
    torch = pytest.importorskip("torch")
    params, grads = problem(dtype, 129, seed=2)
    p_t = torch.tensor(params, requires_grad=True)
    opt = torch.optim.SGD([p_t], foreach=False, **options)
    for g in grads:
        p_t.grad = torch.tensor(g)
        opt.step()
    p, buf = run_sgd(kernels.sgd_update, params, grads, options)
    assert_close(p, p_t.detach().numpy())
    if buf is not None:
        assert_close(buf, opt.state[p_t]["momentum_buffer"].numpy())


@pytest.mark.parametrize("options", ADAM_OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_matches_torch(options, dtype):
    torch = pytest.importorskip("torch")
    params, grads = problem(dtype, 129, seed=3)
    torch_options = dict(options)
    betas = (torch_options.pop("beta1", 0.9), torch_options.pop("beta2", 0.999))
    cls = torch.optim.AdamW if torch_options.pop("decoupled", False) else torch.optim.Adam
    torch_options.setdefault("weight_decay", 0.0)            # AdamW's default is 0.01
    p_t = torch.tensor(params, requires_grad=True)
    opt = cls([p_t], betas=betas, foreach=False, **torch_options)
    for g in grads:
        p_t.grad = torch.tensor(g)
        opt.step()
    p, m, v = run_adam(kernels.adam_update, params, grads, options)
    state = opt.state[p_t]
    assert_close(p, p_t.detach().numpy())
    assert_close(m, state["exp_avg"].numpy())
    assert_close(v, state["exp_avg_sq"].numpy())


# ------------------------------------------ the 16-bit copy, the found-inf flag, device counts

@pytest.mark.parametrize("low_dtype", ["float16", "bfloat16"])
def test_sgd_and_adam_write_the_16bit_copy_of_the_new_weights(low_dtype):
    ml = pytest.importorskip("ml_dtypes") if low_dtype == "bfloat16" else None
    dt = np.dtype(ml.bfloat16) if ml else np.dtype(np.float16)
    params, grads = problem(np.float32, 1003, seed=4)
    p, low = params.copy(), np.zeros(1003, dt)
    plain = params.copy()
    kernels.sgd_update(p, grads[0], None, lr=0.1, low=low)
    kernels.sgd_update(plain, grads[0], None, lr=0.1)
    np.testing.assert_array_equal(p, plain)                 # the weights as without a copy
    np.testing.assert_array_equal(low.view(np.uint16), p.astype(dt).view(np.uint16))
    m, v = np.zeros_like(p), np.zeros_like(p)
    kernels.adam_update(p, grads[1], m, v, step=1, lr=0.01, low=low)
    np.testing.assert_array_equal(low.view(np.uint16), p.astype(dt).view(np.uint16))


def test_found_inf_skips_every_write_and_a_device_step_count_is_read():
    params, grads = problem(np.float32, 129, seed=5)
    p, buf, low = params.copy(), np.zeros(129, np.float32), np.zeros(129, np.float16)
    kernels.sgd_update(p, grads[0], buf, lr=0.1, momentum=0.9, first_step=np.array([True]),
                       low=low, found_inf=np.array([True]))
    assert np.array_equal(p, params) and not buf.any() and not low.any()
    m, v = np.zeros_like(p), np.zeros_like(p)
    kernels.adam_update(p, grads[0], m, v, step=np.array([3]), lr=0.01,
                        found_inf=np.array([True]))
    assert np.array_equal(p, params) and not m.any()
    ref = [a.copy() for a in (p, m, v)]
    kernels.adam_update(p, grads[0], m, v, step=np.array([3]), lr=0.01,
                        found_inf=np.array([False]))
    kernels.adam_update(ref[0], grads[0], ref[1], ref[2], step=3, lr=0.01)
    for a, b in zip((p, m, v), ref):
        np.testing.assert_array_equal(a, b)


def test_optimizer_kernels_with_copy_and_flag_compile_with_nvrtc():
    """The CuPy ElementwiseKernels of the optimizers (every variant: momentum/amsgrad, the
    float16 copy, the found-inf flag) and Adam's bias-correction kernel, written out as the
    __global__ functions CuPy generates (its headers for float16), compiled by NVRTC."""
    nvrtc = pytest.importorskip("test_kernels_nvrtc")     # skips without CuPy or NVRTC
    from gpugrad.kernels.cuda_sources import elementwise_specs, source

    ctypes = {"int64": "long long", "float64": "double", "float32": "float"}
    parts = ["#include <cupy/carray.cuh>\n#include <cupy/float16.cuh>", source("activations.cu")]
    for ctype in ("float", "double"):
        for name, ins, outs, op in elementwise_specs():
            if not name.startswith(("gpugrad_sgd", "gpugrad_adam")):
                continue
            ins = [p.split() for p in ins.split(",")]
            raws = [(ctypes.get(p[1], p[1]), p[2]) for p in ins if p[0] == "raw"]
            ins = [(ctypes.get(p[0], p[0]), p[1]) for p in ins if p[0] != "raw"]
            outs = [(ctypes.get(t, t), n) for t, n in (p.split() for p in outs.split(","))]
            args = ", ".join([f"const {t} *_in_{n}" for t, n in ins] +
                             [f"const {t} *{n}" for t, n in raws] +
                             [f"{t} *_out_{n}" for t, n in outs])
            body = "".join([f"const {t} {n} = _in_{n}[i];\n" for t, n in ins] +
                           [f"{t} &{n} = _out_{n}[i];\n" for t, n in outs])
            parts.append(f"namespace {ctype}_{name} {{ typedef {ctype} T;\n"
                         f"__global__ void kernel({args}, int size) {{\n"
                         f"for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < size; "
                         f"i += blockDim.x * gridDim.x) {{\n{body}{op};\n}} }} }}\n")
    ptx, _ = nvrtc._compile("\n".join(parts), [], "80")
    text = ptx.decode() if isinstance(ptx, bytes) else str(ptx)
    for name in ("float_gpugrad_adam_True_True_True", "double_gpugrad_sgd_True_True_True",
                 "float_gpugrad_adam_coef"):
        assert name in text
