"""``var``/``std`` of complex input bit for bit as NumPy's: NumPy sums ``re**2 + im**2`` of the
deviations once (one pairwise sum), so the answer is not ``var(real) + var(imag)`` (two sums,
rounded apart: one ulp off).  The gradient is PyTorch's, first and second order."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

torch = pytest.importorskip("torch")


def _z(shape, seed=1):
    rng = numpy.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": 1, "ddof": 1},
                                {"axis": (0, 1), "keepdims": True}, {"dtype": numpy.complex64}])
def test_complex_moments_are_numpys(name, kw):
    z = _z((20, 20))
    want = getattr(numpy, name)(z, **kw)
    for got in (getattr(gnp, name)(gnp.asarray(z), **kw), getattr(gnp.asarray(z), name)(**kw)):
        g = numpy.asarray(got.numpy())
        assert g.dtype == numpy.asarray(want).dtype and g.shape == numpy.shape(want)
        numpy.testing.assert_array_equal(g, want)


@pytest.mark.parametrize("name,tname", [("var", "var"), ("std", "std")])
def test_complex_moment_gradients_are_torchs(name, tname):
    z = _z((4, 5), seed=2)
    w = numpy.arange(5.0)
    g = gg.grad(lambda x: gnp.sum(getattr(gnp, name)(x, axis=0, ddof=1) * w))(gnp.asarray(z))
    t = torch.tensor(z, requires_grad=True)
    (getattr(torch, tname)(t, dim=0, correction=1) * torch.tensor(w)).sum().backward()
    numpy.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_complex_variance_second_order():
    z = _z((6,), seed=3)
    v = numpy.linspace(-1, 1, 6) + 0.5j

    def hvp(x):
        (g,) = gg.autograd.grad(gnp.var(x), [x], create_graph=True)
        return gnp.sum(gnp.real(g * numpy.conj(v)))
    h = gg.grad(hvp)(gnp.asarray(z))
    # var = mean |x - mean|^2: its gradient 2 (x - mean) / N is linear; the second derivative
    # along v is 2 (v - mean v) / N
    numpy.testing.assert_allclose(h.numpy(), 2 * (v - v.mean()) / 6, rtol=1e-12)
