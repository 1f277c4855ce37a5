"""``clip_grad_norm_`` / ``clip_grad_value_``: low-precision and mixed-dtype gradients (norms
accumulate in at least float32, the total in the widest of them, each gradient is scaled in
its own dtype), complex gradients (PyTorch's abs), NumPy-scalar (``np.generic``) 0-d
gradients, and the device guard for gradients on cuda:1 while cuda:0 is current."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn
from gpugrad.tensor import Tensor

NORMS = [2.0, 1.0, 3.0, 0.5, float("inf")]


def _param(grad, device="cpu", dtype=None):
    g = gg.tensor(grad, dtype=dtype, device=device)
    p = nn.Parameter(gg.zeros(g.shape, dtype=g.dtype, device=device))
    p.grad = g
    return p


def _ref_norm(arrays, norm_type):
    flat = np.concatenate([np.abs(np.asarray(a, dtype=np.complex128)).ravel()
                           for a in arrays]) if arrays else np.zeros(0)
    if math.isinf(norm_type):
        return float(flat.max()) if flat.size else 0.0
    return float((flat ** norm_type).sum() ** (1.0 / norm_type))


def _torch():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------- float16 overflow
def test_float16_gradient_above_256_is_clipped_not_zeroed():
    p = _param([300.0, 4.0], dtype="float16")
    total = nn.clip_grad_norm_([p], 1.0)
    assert math.isclose(total.item(), math.hypot(300.0, 4.0), rel_tol=1e-3)
    assert p.grad.dtype == gg.float16
    np.testing.assert_allclose(p.grad.numpy().astype(np.float64), [1.0, 4.0 / 300.0],
                               rtol=2e-3)


def test_float16_gradient_matches_torch():
    torch = _torch()
    p = _param([300.0, 4.0], dtype="float16")
    tp = torch.zeros(2, dtype=torch.float16, requires_grad=True)
    tp.grad = torch.tensor([300.0, 4.0], dtype=torch.float16)
    total = nn.clip_grad_norm_([p], 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_([tp], 1.0)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-3)
    np.testing.assert_allclose(p.grad.numpy().astype(np.float64),
                               tp.grad.double().numpy(), rtol=1e-3)


def test_float16_norm_above_the_float16_range_still_clips():
    # the norm (~8.5e4) itself does not fit in float16: clipping uses the wide norm
    p = _param([60000.0, 60000.0], dtype="float16")
    total = nn.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isclose(total.item(), 60000.0 * math.sqrt(2), rel_tol=1e-3)
    assert total.dtype == gg.float32
    np.testing.assert_allclose(p.grad.numpy().astype(np.float64), [2 ** -0.5] * 2, rtol=2e-3)


def test_total_is_not_cast_to_the_first_gradients_dtype():
    a = _param([1.0], dtype="float16")
    b = _param([1000.0], dtype="float32")
    total = nn.clip_grad_norm_([a, b], 1.0)
    expected = math.hypot(1.0, 1000.0)
    assert math.isclose(total.item(), expected, rel_tol=1e-6)
    assert a.grad.dtype == gg.float16 and b.grad.dtype == gg.float32
    np.testing.assert_allclose(a.grad.numpy().astype(np.float64), [1.0 / expected], rtol=1e-3)
    np.testing.assert_allclose(b.grad.numpy(), [1000.0 / expected], rtol=1e-6)


def test_float16_with_float64_total_is_float64():
    a = _param([300.0], dtype="float16")
    b = _param([400.0], dtype="float64")
    total = nn.clip_grad_norm_([a, b], 1.0)
    assert total.dtype == gg.float64
    assert math.isclose(total.item(), 500.0, rel_tol=1e-12)
    np.testing.assert_allclose(a.grad.numpy().astype(np.float64), [0.6], rtol=1e-3)
    np.testing.assert_allclose(b.grad.numpy(), [400.0 / (500.0 + 1e-6)], rtol=1e-12)


@pytest.mark.parametrize("norm_type", NORMS)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_every_norm_type_and_dtype_against_a_float64_reference(dtype, norm_type, rng):
    scale = 200.0 if dtype == "float16" else 1e3
    grads = [(rng.standard_normal((3, 4)) * scale).astype(dtype),
             (rng.standard_normal(5) * scale).astype(dtype)]
    ps = [_param(g) for g in grads]
    expected = _ref_norm(grads, norm_type)
    total = nn.clip_grad_norm_(ps, 1.0, norm_type)
    tol = {"float16": 2e-3, "float32": 1e-5, "float64": 1e-12}[dtype]
    assert math.isfinite(total.item())
    np.testing.assert_allclose(total.item(), expected, rtol=tol)
    coef = min(1.0, 1.0 / (expected + 1e-6))
    for p, g in zip(ps, grads):
        assert p.grad.dtype == g.dtype
        np.testing.assert_allclose(p.grad.numpy().astype(np.float64),
                                   g.astype(np.float64) * coef, rtol=2 * tol, atol=1e-7)


@pytest.mark.parametrize("norm_type", NORMS)
def test_float16_matches_torch_for_every_norm(norm_type, rng):
    torch = _torch()
    g = (rng.standard_normal(6) * 100).astype(np.float16)
    p = _param(g)
    tp = torch.zeros(6, dtype=torch.float16, requires_grad=True)
    tp.grad = torch.tensor(g)
    total = nn.clip_grad_norm_([p], 2.0, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_([tp], 2.0, norm_type)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=2e-3)
    np.testing.assert_allclose(p.grad.numpy().astype(np.float64),
                               tp.grad.double().numpy(), rtol=3e-3, atol=1e-4)


def test_error_if_nonfinite():
    p = _param([300.0, 4.0], dtype="float16")          # finite once accumulated widely
    nn.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    q = _param([np.inf, 1.0], dtype="float16")
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.clip_grad_norm_([q], 1.0, error_if_nonfinite=True)
    r = _param([np.nan, 1.0], dtype="float32")
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.clip_grad_norm_([r], 1.0, norm_type=float("inf"), error_if_nonfinite=True)


def test_empty_lists_and_missing_grads():
    assert nn.clip_grad_norm_([], 1.0).item() == 0.0
    nn.clip_grad_value_([], 1.0)
    p = nn.Parameter(gg.zeros(2))                       # no grad
    assert nn.clip_grad_norm_([p], 1.0).item() == 0.0
    nn.clip_grad_value_([p], 1.0)
    assert p.grad is None
    q = _param(np.zeros((0, 3), np.float16))            # an empty gradient
    for norm_type in NORMS:
        assert nn.clip_grad_norm_([q], 1.0, norm_type).item() == 0.0
    r = _param([3.0, 4.0], dtype="float16")
    assert math.isclose(nn.clip_grad_norm_([q, p, r], 1.0, float("inf")).item(), 4.0)


# ---------------------------------------------------------------- complex
@pytest.mark.parametrize("norm_type", NORMS)
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_gradients_use_abs(dtype, norm_type):
    g = np.array([3 + 4j, -1j, 2.0], dtype=dtype)
    p = _param(g)
    expected = _ref_norm([g], norm_type)
    total = nn.clip_grad_norm_([p], 1.0, norm_type)
    real = {"complex64": gg.float32, "complex128": gg.float64}[dtype]
    assert total.dtype == real
    tol = 1e-6 if dtype == "complex64" else 1e-12
    np.testing.assert_allclose(total.item(), expected, rtol=tol)
    assert p.grad.dtype == g.dtype
    np.testing.assert_allclose(p.grad.numpy(), g / (expected + 1e-6), rtol=tol)


def test_complex_matches_torch():
    torch = _torch()
    g = np.array([3 + 4j, -1j, 2.0], dtype=np.complex128)
    p = _param(g)
    tp = torch.zeros(3, dtype=torch.complex128, requires_grad=True)
    tp.grad = torch.tensor(g)
    for norm_type in (2.0, 1.0, float("inf")):
        total = nn.clip_grad_norm_([p], 100.0, norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_([tp], 100.0, norm_type)
        np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-12)
    nn.clip_grad_norm_([p], 1.0)
    torch.nn.utils.clip_grad_norm_([tp], 1.0)
    np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_refuses_complex_gradients():
    p = _param(np.array([3 + 4j], np.complex64))
    with pytest.raises(TypeError, match="complex"):
        nn.clip_grad_value_([p], 1.0)


def test_clip_grad_value_keeps_float16():
    p = _param([-300.0, 0.25, 70.0], dtype="float16")
    nn.clip_grad_value_([p], 64.0)
    assert p.grad.dtype == gg.float16
    assert p.grad.tolist() == [-64.0, 0.25, 64.0]


# ---------------------------------------------------------------- NumPy scalar gradients
def _scalar_param(value, dtype=np.float32):
    p = nn.Parameter(gg.zeros((), dtype=np.dtype(dtype).name))
    p.grad = Tensor._make(np.dtype(dtype).type(value))   # a NumPy scalar, not a 0-d array
    assert isinstance(p.grad.data, np.generic)
    return p


def test_clip_grad_norm_scales_a_numpy_scalar_gradient_alone():
    p = _scalar_param(3.0)
    total = nn.clip_grad_norm_([p], 1.0)
    assert math.isclose(total.item(), 3.0, rel_tol=1e-6)
    assert math.isclose(float(p.grad.data), 1.0, rel_tol=1e-5)
    assert p.grad.shape == () and p.grad.dtype == gg.float32


def test_clip_grad_norm_with_a_numpy_scalar_next_to_arrays():
    s = _scalar_param(3.0)
    a = _param([4.0], dtype="float32")
    total = nn.clip_grad_norm_([s, a], 1.0)
    assert math.isclose(total.item(), 5.0, rel_tol=1e-6)
    assert math.isclose(float(s.grad.data), 0.6, rel_tol=1e-5)
    np.testing.assert_allclose(a.grad.numpy(), [0.8], rtol=1e-5)
    assert s.grad.shape == () and s.grad.dtype == gg.float32


def test_clip_grad_value_with_a_numpy_scalar_gradient():
    s = _scalar_param(-5.0, np.float64)
    a = _param([4.0, -0.5], dtype="float64")
    nn.clip_grad_value_([s, a], 1.0)
    assert float(s.grad.data) == -1.0 and s.grad.dtype == gg.float64
    assert a.grad.tolist() == [1.0, -0.5]


def test_a_numpy_scalar_gradient_below_the_limit_is_unchanged():
    s = _scalar_param(0.25, np.float16)
    nn.clip_grad_norm_([s], 1.0)
    nn.clip_grad_value_([s], 1.0)
    assert float(s.grad.data) == 0.25 and s.grad.dtype == gg.float16


# ---------------------------------------------------------------- devices
@pytest.mark.cuda
def test_gradients_on_two_devices_are_refused_naming_them():
    a = _param([1.0])
    b = _param([1.0], device="cuda")
    with pytest.raises(ValueError, match="one device.*cpu.*cuda:0"):
        nn.clip_grad_norm_([a, b], 1.0)


def _needs_two():
    if gg.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")


@pytest.mark.cuda
@pytest.mark.parametrize("norm_type", NORMS)
def test_clip_grad_norm_on_cuda1_with_cuda0_current(norm_type):
    _needs_two()
    grads = [np.array([300.0, 4.0], np.float16), np.array([[1.0, -2.0]], np.float32)]
    expected = _ref_norm(grads, norm_type)
    cupy = gg.backend._import_cupy()
    with cupy.cuda.Device(0):
        ps = [_param(g, device="cuda:1") for g in grads]
        total = nn.clip_grad_norm_(ps, 1.0, norm_type, error_if_nonfinite=True)
        assert total.device == "cuda:1"
        np.testing.assert_allclose(total.item(), expected, rtol=2e-3)
        for p, g in zip(ps, grads):
            assert p.grad.device == "cuda:1" and p.grad.dtype == g.dtype
            np.testing.assert_allclose(p.grad.numpy().astype(np.float64),
                                       g.astype(np.float64) / (expected + 1e-6), rtol=2e-3)


@pytest.mark.cuda
def test_clip_grad_value_on_cuda1_with_cuda0_current():
    _needs_two()
    cupy = gg.backend._import_cupy()
    with cupy.cuda.Device(0):
        p = _param([-3.0, 0.1, 9.0], device="cuda:1")
        nn.clip_grad_value_([p], 0.5)
        assert p.grad.device == "cuda:1"
        np.testing.assert_allclose(p.grad.numpy(), [-0.5, 0.1, 0.5], rtol=1e-7)


@pytest.mark.cuda
def test_empty_gradients_on_cuda1_with_cuda0_current():
    _needs_two()
    cupy = gg.backend._import_cupy()
    with cupy.cuda.Device(0):
        p = _param(np.zeros(0, np.float32), device="cuda:1")
        for norm_type in NORMS:
            total = nn.clip_grad_norm_([p], 1.0, norm_type)
            assert total.device == "cuda:1" and total.item() == 0.0


def test_clip_grad_value_beyond_the_float16_range_changes_nothing_and_does_not_warn():
    import warnings
    p = _param([3e4, -7.0, np.inf], dtype="float16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.clip_grad_value_([p], 1e6)
    assert p.grad.tolist() == [3e4, -7.0, np.inf]


def test_a_tiny_coefficient_scales_float16_with_one_rounding():
    # coef ~1.2e-8 is subnormal in float16 (it would keep one significant bit there)
    a = _param([6e4, 6e4], dtype="float16")
    b = _param([1e7], dtype="float32")
    total = nn.clip_grad_norm_([a, b], 0.125)
    expected = math.sqrt(2 * 6e4 ** 2 + 1e14)
    assert math.isclose(total.item(), expected, rel_tol=1e-6)
    np.testing.assert_allclose(a.grad.numpy().astype(np.float64), [6e4 * 0.125 / expected] * 2,
                               rtol=1e-3)
