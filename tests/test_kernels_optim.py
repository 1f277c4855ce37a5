"""sgd_update / adam_update against kernels.reference and against torch.optim (CPU)."""
import numpy as np
import pytest

from gpugrad import kernels
from gpugrad.kernels import reference

from test_kernels_cpu import assert_close, randn

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


def problem(dtype, size, seed=0):
    rng = np.random.default_rng(seed)
    return randn(rng, size, dtype), [randn(rng, size, dtype) for _ in range(STEPS)]


@pytest.mark.parametrize("options", SGD_OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_sgd_matches_reference(options, dtype, size):
    params, grads = problem(dtype, size)
    grads_before = [g.copy() for g in grads]
    got = run_sgd(kernels.sgd_update, params, grads, options)
    expected = run_sgd(reference.sgd_update, params, grads, options)
    for a, e in zip(got, expected):
        if e is not None:
            assert_close(a, e)
    for g, g0 in zip(grads, grads_before):
        np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("options", ADAM_OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_adam_matches_reference(options, dtype, size):
    params, grads = problem(dtype, size)
    grads_before = [g.copy() for g in grads]
    for a, e in zip(run_adam(kernels.adam_update, params, grads, options),
                    run_adam(reference.adam_update, params, grads, options)):
        assert_close(a, e)
    for g, g0 in zip(grads, grads_before):
        np.testing.assert_array_equal(g, g0)


def test_updates_on_strided_and_float16_buffers_fall_back_correctly():
    params, grads = problem(np.float64, 258, seed=1)
    base = np.stack([params, params])                       # param is a strided view below
    p = base.T[:, 0]
    buf = np.zeros(258)
    kernels.sgd_update(p, grads[0][::-1], buf, lr=0.1, momentum=0.9, first_step=True)
    expected = params.copy()
    reference.sgd_update(expected, grads[0][::-1].copy(), np.zeros(258), lr=0.1, momentum=0.9,
                         first_step=True)
    assert_close(base[0], expected)
    g = np.sign(grads[0]) * (0.5 + np.abs(grads[0]))          # float16: keep g*g*(1-beta2) normal
    p16, g16 = params.astype(np.float16), g.astype(np.float16)
    m, v = np.zeros_like(p16), np.zeros_like(p16)
    kernels.adam_update(p16, g16, m, v, step=1, lr=1e-2, eps=1e-4)
    assert_close(p16, (params - 1e-2 * np.sign(g)).astype(np.float16))


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
