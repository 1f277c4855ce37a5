"""An integer array where NumPy takes a sequence of integers -- a shape computed with array
arithmetic (``np.empty(tile_shape)`` in a GAN's image tiler), a permutation of axes -- is
taken as NumPy takes it; a 0-d integer array stays one integer."""
import numpy
import pytest

import gpugrad.numpy as gnp

SHAPE = numpy.array([2, 3])

CASES = {
    "zeros": lambda m, s: m.zeros(s),
    "ones": lambda m, s: m.ones(s, dtype=m.int32),
    "empty": lambda m, s: m.empty(s).shape,
    "full": lambda m, s: m.full(s, 2.5),
    "zeros_like": lambda m, s: m.zeros_like(m.arange(6.0), shape=s),
    "full_like": lambda m, s: m.full_like(m.ones(2), 3, shape=s),
    "ones_0d": lambda m, s: m.ones(s[1]),
    "transpose": lambda m, s: m.transpose(m.arange(6.0).reshape(2, 3), s - 2),
    "transpose_method": lambda m, s: m.arange(24.0).reshape(2, 3, 4).transpose(m.concatenate([s - 1, s[:1] - 2])),
}


@pytest.mark.parametrize("name", CASES)
def test_integer_array_as_shape_or_axes(name):
    want = numpy.asarray(CASES[name](numpy, SHAPE))
    got = CASES[name](gnp, gnp.array(SHAPE))
    got = numpy.asarray(got)
    assert got.dtype == want.dtype
    numpy.testing.assert_array_equal(got, want)


def test_gan_tile_shape_arithmetic():
    imgs = numpy.zeros((16, 28, 28))
    for m in (numpy, gnp):
        shape = m.array(imgs.shape[1:])
        tile = shape.copy()
        tile[:2] = (shape[:2] + 1) * m.array((4, 4))[:2] - 1
        t = m.empty(tile)
        t[:] = 0
        assert tuple(t.shape) == (115, 115)


def test_non_integer_shape_still_refused():
    with pytest.raises(TypeError, match="shape"):
        gnp.zeros(gnp.array([2.0, 3.0]))
