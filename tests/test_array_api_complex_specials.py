"""Complex ``expm1`` and ``tanh`` of the array API at the standard's special values (2023.12).
``expm1`` of zero and of inputs with an infinite or NaN part answers as ``exp(x) - 1`` does,
finite inputs keep NumPy's accurate ``expm1``, and the gradient is ``exp(x)``; ``tanh`` of
``+-inf + bj`` is ``+-1`` with an imaginary zero of ``b``'s sign."""
import math

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.array_api as xp

INF, NAN = math.inf, math.nan


def _same(got, want):
    """Equal as the standard's special-case tests compare: NaN matches NaN, zeros by sign."""
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        if math.isnan(w):
            assert math.isnan(g), (got, want)
        else:
            assert g == w and math.copysign(1, g) == math.copysign(1, w), (got, want)


@pytest.mark.parametrize("z, want", [
    (complex(0.0, 0.0), complex(0.0, 0.0)),
    (complex(-0.0, 0.0), complex(0.0, 0.0)),
    (complex(INF, 0.0), complex(INF, 0.0)),
    (complex(-INF, 1.0), complex(-1.0, 0.0)),
    (complex(-INF, NAN), complex(-1.0, 0.0)),
    (complex(INF, NAN), complex(INF, NAN)),
    (complex(NAN, 0.0), complex(NAN, 0.0)),
    (complex(NAN, 1.0), complex(NAN, NAN)),
    (complex(1.0, INF), complex(NAN, NAN)),
])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_special_values_follow_the_standard(z, want, dtype):
    with np.errstate(all="ignore"):
        got = complex(xp.expm1(xp.asarray([z], dtype=getattr(xp, dtype)))[0].item())
    _same(got, want)


def test_infinite_real_part_with_infinite_imaginary_part():
    # the standard leaves a sign free here: inf+nanj (real part of either sign), -1+-0j
    with np.errstate(all="ignore"):
        a, b = (complex(v.item()) for v in xp.expm1(xp.asarray([complex(INF, INF),
                                                                complex(-INF, INF)])))
    assert math.isinf(a.real) and math.isnan(a.imag)
    assert (b.real, abs(b.imag)) == (-1.0, 0.0)


def test_finite_inputs_keep_numpys_accurate_answer():
    z = np.array([1e-12 + 1e-12j, 0.5 - 2j, -3 + 0.25j, 1e-300j])
    got = xp.expm1(xp.asarray(z)).numpy()
    assert np.array_equal(got, np.expm1(z))


def test_real_inputs_are_numpys():
    x = np.array([-0.0, 1e-10, 2.0, np.inf, -np.inf, np.nan])
    got = xp.expm1(xp.asarray(x)).numpy()
    np.testing.assert_array_equal(got, np.expm1(x))
    assert np.signbit(got[0])


def test_gradient_is_exp_at_finite_and_zero_inputs():
    z = np.array([0j, 0.3 + 0.2j, -1.5 + 2j])
    t = gg.tensor(z, requires_grad=True)
    gg.sum(xp.expm1(t).real).backward()
    # d/dz of a holomorphic f, seen through the real part: conj(f'(z)) (gpugrad's convention)
    np.testing.assert_allclose(t.grad.numpy(), np.conj(np.exp(z)), rtol=1e-12)


@pytest.mark.parametrize("b", [1.0, 2.0, 1e300, -1.0, -2.0, 0.0, -0.0])
@pytest.mark.parametrize("a", [INF, -INF])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_tanh_at_infinite_real_part_takes_the_zeros_sign_from_b(a, b, dtype):
    # the standard: tanh(+inf + bj) = 1 + 0j for finite b > 0; odd, and conj(tanh(z)) =
    # tanh(conj(z)), so the imaginary zero carries b's sign and the real part a's
    got = complex(xp.tanh(xp.asarray([complex(a, b)], dtype=getattr(xp, dtype)))[0].item())
    _same(got, complex(math.copysign(1.0, a), math.copysign(0.0, b)))


def test_tanh_elsewhere_is_numpys():
    z = np.array([0.5 + 2j, -3 + 0.1j, complex(1.0, INF), complex(NAN, 1.0), 20 + 1j])
    with np.errstate(all="ignore"):
        got = xp.tanh(xp.asarray(z)).numpy()
        np.testing.assert_array_equal(got, np.tanh(z))
    x = np.array([-INF, -1.0, 0.0, 2.0, INF])
    np.testing.assert_array_equal(xp.tanh(xp.asarray(x)).numpy(), np.tanh(x))
