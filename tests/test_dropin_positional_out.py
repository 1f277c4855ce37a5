"""NumPy's ufuncs take their output array positionally too (``np.maximum(x, x * a, x)``, a
leaky ReLU in a pure-NumPy GAN): every elementwise function of gpugrad.numpy accepts it, writes
into it and returns it, as NumPy does."""
import warnings

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.numpy import _math


def _cases():
    for name in _math.__all__:
        f = getattr(_math, name)
        npf = getattr(numpy, name, None)
        if not isinstance(npf, numpy.ufunc) or npf.nout != 1 or name in ("matmul", "vecdot"):
            continue
        yield name, npf.nin


@pytest.mark.parametrize("name,nin", list(_cases()))
def test_positional_out_is_numpys(name, nin):
    ints = name in _math._INTS or name.startswith(("bitwise", "left_", "right_", "gcd", "lcm"))
    base = numpy.array([3, 5, 6]) if ints else numpy.array([0.25, 0.5, 0.75])
    args = [base + k for k in range(nin)]
    with warnings.catch_warnings(), numpy.errstate(all="ignore"):
        warnings.simplefilter("ignore", DeprecationWarning)
        want = getattr(numpy, name)(*args)
        out = gnp.zeros(want.shape, dtype=want.dtype)
        got = getattr(gnp, name)(*[gnp.array(a) for a in args], out)
    assert got is out
    assert out.dtype == want.dtype
    numpy.testing.assert_array_equal(numpy.asarray(out), want)


def test_leaky_relu_written_into_its_input():
    x = numpy.array([-2.0, -0.5, 1.0, 3.0])
    g = gnp.array(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        want = numpy.maximum(x, x * 0.01, x)
    got = gnp.maximum(g, g * 0.01, g)
    assert got is g
    numpy.testing.assert_array_equal(numpy.asarray(g), want)


def test_positional_and_keyword_out_is_numpys_error():
    a = gnp.array([1.0, 2.0])
    with pytest.raises(TypeError, match="both a positional and keyword"):
        gnp.add(a, a, a, out=a)
    with pytest.raises(TypeError, match="positional"):
        gnp.add(a, a, a, a)


def test_gradient_through_positional_out():
    x0 = numpy.array([-2.0, -0.5, 1.0, 3.0])

    def f(x):
        y = x * 1.0
        gnp.maximum(y, y * 0.1, y)
        return gnp.sum(y * y)

    g = numpy.asarray(gg.grad(f)(gnp.array(x0)))
    slope = numpy.where(x0 > 0, 1.0, 0.1)
    numpy.testing.assert_allclose(g, 2 * numpy.maximum(x0, 0.1 * x0) * slope)
