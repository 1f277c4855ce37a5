"""16-bit inputs to the order statistics, sinc, the spaced ranges, the real-output FFTs, the
random draws and NumPy's functions run inside a compiled step: float16 answers in NumPy's
dtype, bfloat16 follows the float16 pattern (bfloat16 where float16 gives float16), and the
values are the float64 computation on the same inputs rounded once to the 16-bit dtype."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

BF16 = gg.bfloat16
needs_bf16 = pytest.mark.skipif(BF16 is None, reason="bfloat16 needs ml_dtypes (NumPy >= 2.1)")
DTYPES = [np.dtype(np.float16), pytest.param(BF16, marks=needs_bf16, id="bfloat16")]
ULP = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7, "float32": 2.0 ** -23,
       "float64": 2.0 ** -50}  # relative spacing just above 1


def pattern(np16_dtype, dt):
    """The dtype ``dt`` input answers in: float16's pattern with float16 read as ``dt``."""
    return dt if np.dtype(np16_dtype) == np.float16 else np.dtype(np16_dtype)


def close(got, want64, dt, ulps=1):
    """``got`` has dtype ``dt`` and is ``want64`` within ``ulps`` of the 16-bit dtype."""
    got = got.numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    assert got.dtype == dt, (got.dtype, dt)
    np.testing.assert_allclose(got.astype(np.float64), want64, atol=1e-6,
                               rtol=ulps * ULP[np.dtype(dt).name])


A = np.array([3.0, 1.25, 7.5, 2.0, 1003.0, 5.5, 17.25, 0.375])


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name, q", [("quantile", [0.1, 0.35, 0.9]), ("percentile", 35.0),
                                     ("nanquantile", 0.35), ("nanpercentile", [10.0, 90.0])])
@pytest.mark.parametrize("method", ["linear", "lower", "midpoint", "nearest", "weibull"])
def test_quantiles_of_16_bit_floats(name, q, method, dt):
    a16 = A.astype(dt)
    np16 = getattr(np, name)(A.astype(np.float16), q, method=method)
    want = getattr(np, name)(a16.astype(np.float64), q, method=method)
    close(getattr(gnp, name)(gnp.array(a16), q, method=method), want, pattern(np16.dtype, dt))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["median", "nanmedian"])
def test_median_of_16_bit_floats(name, dt):
    a16 = A[:6].reshape(2, 3).astype(dt)
    for axis in (None, 0, 1):
        np16 = getattr(np, name)(A[:6].reshape(2, 3).astype(np.float16), axis=axis)
        want = getattr(np, name)(a16.astype(np.float64), axis=axis)
        close(getattr(gnp, name)(gnp.array(a16), axis=axis), want, pattern(np16.dtype, dt))


@pytest.mark.parametrize("dt", DTYPES)
def test_median_gradient_of_16_bit_floats(dt):
    x = gg.tensor(np.array([4.0, 1.0, 3.0, 2.0]).astype(dt), requires_grad=True)
    gnp.median(x).backward()
    assert x.grad.dtype == dt and x.grad.numpy().astype(np.float64).tolist() == [0, 0, .5, .5]


@pytest.mark.parametrize("dt", DTYPES)
def test_sinc_of_16_bit_floats_rounds_once(dt):
    x16 = np.linspace(-20.0, 20.0, 3001).astype(dt)
    assert np.sinc(x16[:3].astype(np.float16)).dtype == np.float16
    close(gnp.sinc(gnp.array(x16)), np.sinc(x16.astype(np.float64)), dt)
    x = gg.tensor(x16[1000:1003], requires_grad=True)
    gnp.sinc(x).sum().backward()
    assert x.grad.dtype == dt


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["deg2rad", "radians", "rad2deg", "degrees"])
def test_angle_conversions_of_16_bit_floats_round_once(name, dt):
    x16 = np.linspace(-700.0, 700.0, 20001).astype(dt)
    want = getattr(np, name)(x16.astype(np.float64)).astype(dt)
    got = getattr(gnp, name)(gnp.array(x16)).numpy()
    assert got.dtype == dt
    np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64))


def _scalar(v, dt):
    return np.array(v).astype(dt)[()]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["linspace", "logspace", "geomspace"])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["scalars", "tensors"])
def test_spaced_ranges_of_16_bit_endpoints(name, as_tensor, dt):
    lo, hi = (0.5, 2.75) if name != "linspace" else (-3.0, 1001.0)
    np16 = getattr(np, name)(np.float16(lo), np.float16(hi), 7)
    a, b = _scalar(lo, dt), _scalar(hi, dt)
    want = getattr(np, name)(float(a), float(b), 1001)
    if as_tensor:
        a, b = gnp.array(a), gnp.array(b)
    close(getattr(gnp, name)(a, b, 1001), want, pattern(np16.dtype, dt))


@pytest.mark.parametrize("dt", DTYPES)
def test_linspace_of_16_bit_tensor_endpoints_keeps_dtype_and_gradient(dt):
    a = gg.tensor(np.array(1.0).astype(dt), requires_grad=True)
    b = gg.tensor(np.array(3.0).astype(dt), requires_grad=True)
    y = gg.linspace(a, b, 5)
    close(y, np.linspace(1.0, 3.0, 5), dt)
    y.sum().backward()  # d/da sum = sum(1 - i/4) = 2.5, d/db = 2.5
    assert a.grad.item() == 2.5 and b.grad.item() == 2.5
    assert gg.linspace(gg.tensor(0.0, dtype="float64"), 1.0, 3).dtype == np.float64
    assert gg.linspace(0.0, 1.0, 3).dtype == np.float32
    mixed = gg.linspace(gg.tensor(np.array(0.5).astype(dt)), 2.0, 4)
    close(mixed, np.linspace(0.5, 2.0, 4), dt)  # (a Python number is weak, as in NumPy)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["irfft", "hfft", "irfftn", "irfft2"])
def test_real_output_ffts_of_16_bit_floats(name, dt):
    a = np.linspace(-1.0, 2.0, 12).reshape(2, 6)
    a16 = a.astype(dt)
    np16 = getattr(np.fft, name)(a.astype(np.float16))
    want = getattr(np.fft, name)(a16.astype(np.float64))
    got = getattr(gnp.fft, name)(gnp.array(a16))
    got64 = got.numpy().astype(np.float64)
    assert got.dtype == pattern(np16.dtype, dt)
    np.testing.assert_allclose(got64, want, atol=4 * ULP[np.dtype(dt).name] * abs(want).max())


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["rand", "randn"])
def test_random_tensors_of_16_bit_dtype(name, dt):
    gg.manual_seed(3)
    r = getattr(gg, name)(20000, dtype=dt)
    like = getattr(gg, name + "_like")(gg.zeros(4, dtype=dt))
    assert r.dtype == dt and like.dtype == dt and like.shape == (4,)
    v = r.numpy().astype(np.float64)
    if name == "rand":
        assert v.min() >= 0.0 and v.max() < 1.0 and abs(v.mean() - 0.5) < 0.02
    else:
        assert abs(v.mean()) < 0.05 and abs(v.std() - 1.0) < 0.05


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["random", "standard_normal", "standard_exponential"])
def test_numpy_generator_names_a_16_bit_dtype_it_cannot_draw(name, dt):
    g = gnp.random.default_rng(0)
    with pytest.raises(TypeError, match=f"{np.dtype(dt).name}.*float32.*astype"):
        getattr(g, name)(3, dtype=dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_numpy_functions_widen_16_bit_inside_a_compiled_step(dt):
    a = np.ones(30000)
    a[5] = np.nan

    def f(x):
        return gnp.nancumsum(x)[-1] + gnp.nanvar(x)
    step = gg.compile(f)
    for _ in range(3):  # records, then replays
        got = step(gnp.array(a.astype(dt)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert got.dtype == dt  # NumPy's float16 scan stalls at 2048, bfloat16's at 256
            assert float(got) == float(np.array(29999.0).astype(dt))
