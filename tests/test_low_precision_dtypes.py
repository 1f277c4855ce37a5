"""16-bit inputs outside autocast: float16 results have NumPy's dtype, bfloat16 results follow
the float16 pattern (bfloat16 where float16 gives float16), values are the float64 answer
rounded to the 16-bit dtype, and the LAPACK functions refuse both 16-bit floats as NumPy does."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

BF16 = gg.bfloat16
needs_bf16 = pytest.mark.skipif(BF16 is None, reason="bfloat16 needs ml_dtypes (NumPy >= 2.1)")
DTYPES = [np.dtype(np.float16), pytest.param(BF16, marks=needs_bf16, id="bfloat16")]
EPS = {"float16": 2.0 ** -10, "bfloat16": 2.0 ** -7}


def close16(got, want64, dt):
    """``got`` has dtype ``dt`` and is float64 ``want64`` within two ulps of ``dt``."""
    got = got.numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    assert got.dtype == dt, (got.dtype, dt)
    np.testing.assert_allclose(got.astype(np.float64), want64, rtol=2 * EPS[dt.name], atol=1e-6)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanvar", "nanstd", "nanprod",
                                  "nancumsum", "nancumprod", "nanmax", "nanmedian"])
def test_nan_functions_skip_nans_in_16_bit(name, dt):
    a = np.array([1.0, np.nan, 2.0, 4.0, 0.5])
    want = getattr(np, name)(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np16 = getattr(np, name)(a.astype(np.float16))  # NumPy's float16 dtype
    close16(getattr(gnp, name)(gnp.array(a.astype(dt))), want,
            dt if np16.dtype == np.float16 else np16.dtype)


@pytest.mark.parametrize("dt", DTYPES)
def test_nanargmax_nanargmin_skip_nans_in_16_bit(dt):
    x = gnp.array(np.array([1.0, np.nan, 2.0, -4.0]).astype(dt))
    assert int(gnp.nanargmax(x)) == 2 and int(gnp.nanargmin(x)) == 3


@pytest.mark.parametrize("dt", DTYPES)
def test_nancumsum_of_many_values_does_not_stall(dt):
    a = np.ones(30052).astype(dt)
    a[5] = np.nan
    got = gnp.nancumsum(gnp.array(a))
    want = np.nancumsum(a.astype(np.float64))
    close16(got, want, dt)  # NumPy's own gives 2048 (float16) and 256 (bfloat16) at the end


@pytest.mark.parametrize("dt", DTYPES)
def test_sort_puts_nan_last_in_16_bit(dt):
    a = np.array([1.0, np.nan, -2.0, 4.0]).astype(dt)
    assert gnp.argsort(gnp.array(a)).tolist() == [2, 0, 3, 1]
    got = gnp.sort(gnp.array(a)).numpy().astype(np.float64)
    np.testing.assert_array_equal(got, [-2.0, 1.0, 4.0, np.nan])


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["erf", "gelu", "gelu_tanh", "softmax", "log_softmax"])
def test_elementwise_and_normalizers_keep_the_16_bit_dtype(name, dt):
    torch = pytest.importorskip("torch")
    a = np.array([-1.5, -0.25, 0.5, 2.0]).astype(dt)
    x = gg.tensor(a, requires_grad=True)
    y = getattr(gg, name)(x)
    t = torch.tensor(a.astype(np.float64))
    ref = {"erf": torch.erf, "gelu": torch.nn.functional.gelu,
           "gelu_tanh": lambda v: torch.nn.functional.gelu(v, approximate="tanh"),
           "softmax": lambda v: torch.softmax(v, -1),
           "log_softmax": lambda v: torch.log_softmax(v, -1)}[name](t).numpy()
    close16(y, ref, dt)
    (y.astype(np.float32) * gg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.dtype == dt


@needs_bf16
def test_bce_with_logits_keeps_bfloat16():
    x = gg.tensor(np.array([0.5, -1.0]).astype(BF16), requires_grad=True)
    t = gg.tensor(np.array([1.0, 0.0]).astype(BF16))
    loss = gg.binary_cross_entropy_with_logits(x, t)
    a = np.array([0.5, -1.0]).astype(BF16).astype(np.float64)
    close16(loss, np.mean(np.log1p(np.exp(-np.abs(a))) + np.maximum(a, 0) - a * [1, 0]), BF16)
    loss.backward()
    assert x.grad.dtype == BF16


@needs_bf16
def test_where_and_clip_with_numbers_keep_bfloat16():
    x = gg.tensor(np.array([1.0, np.nan, -2.0, 0.3]).astype(BF16), requires_grad=True)
    c = gg.tensor(np.array([True, False, True, True]))
    for y, want in [(gg.where(c, 0.0, x), [0.0, np.nan, 0.0, 0.0]),
                    (gg.where(c, x, 1.0), [1.0, 1.0, -2.0, 0.30078125]),
                    (gg.clip(x, 0.0, 0.5), [0.5, np.nan, 0.0, 0.30078125]),
                    (gg.clip(x, None, 0.5), [0.5, np.nan, -2.0, 0.30078125])]:
        assert y.dtype == BF16
        np.testing.assert_array_equal(y.numpy().astype(np.float64), want)
    gg.clip(x, 0.0, 0.5).sum().backward()
    assert x.grad.dtype == BF16 and x.grad.numpy().astype(float).tolist()[::2] == [0.0, 0.0]


@pytest.mark.parametrize("dt", DTYPES)
def test_fallback_functions_compute_wider_and_keep_the_dtype(dt):
    a = np.array([0.25, 0.5, 1.0, 3.0]).astype(dt)
    close16(gnp.i0(gnp.array(a)), np.i0(a.astype(np.float64)), dt)
    close16(gnp.unwrap(gnp.array(a * 3)), np.unwrap((a * 3).astype(np.float64)), dt)
    b = gnp.array(np.ones(3).astype(dt))
    assert gnp.histogram(b + 0.0 * b)[1].dtype == dt  # NumPy's float16 edges are float16


_LINALG = {
    "inv": lambda a: gg.inv(a), "det": lambda a: gg.det(a), "solve": lambda a: gg.solve(a, a),
    "cholesky": gg.cholesky, "eigh": gg.eigh, "eigvalsh": gg.eigvalsh, "svd": gg.svd,
    "svdvals": gg.svdvals, "qr": gg.qr, "slogdet": gg.slogdet, "eig": gnp.linalg.eig,
    "eigvals": gnp.linalg.eigvals, "pinv": gnp.linalg.pinv, "lstsq": lambda a: gnp.linalg.lstsq(a, a),
    "matrix_power": lambda a: gnp.linalg.matrix_power(a, -1), "cond": gnp.linalg.cond,
    "matrix_rank": gnp.linalg.matrix_rank, "norm2": lambda a: gnp.linalg.norm(a, 2),
}


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", sorted(_LINALG))
def test_lapack_functions_refuse_16_bit_floats_as_numpy(name, dt):
    a = (np.eye(3) * 2 + 0.25).astype(dt)
    with pytest.raises(TypeError, match="unsupported in linalg"):
        np.linalg.inv(a.astype(np.float16))  # NumPy's own rule, for float16
    for graph in (False, True):
        x = gg.tensor(a, requires_grad=graph)
        with pytest.raises(TypeError, match=f"array type {np.dtype(dt).name} is unsupported in "
                                            "linalg"):
            _LINALG[name](x)
    assert gg.inv(gg.tensor(a.astype(np.float32))).dtype == np.float32  # the advice works
