"""``np.average(pos, weights=w, axis=0)`` (a particle filter's estimate) bit for bit: NumPy
sums the weights once, as an array of the weights' own shape, not broadcast to the data's
shape (summing a broadcast (N, 2) row by row rounds differently from the pairwise sum of the
N weights)."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


@pytest.mark.parametrize("shape,axis", [((300, 2), 0), ((2, 300), 1), ((300, 3), -2),
                                        ((7, 300, 2), 1), ((300,), 0), ((300, 2), None)])
@pytest.mark.parametrize("returned", [False, True])
def test_weighted_average_is_numpys(shape, axis, returned):
    rng = numpy.random.default_rng(5)
    a = rng.uniform(0, 20, shape)
    n = a.size if axis is None else shape[axis]
    w = rng.uniform(size=a.shape if axis is None else n)
    want = numpy.average(a, axis=axis, weights=w, returned=returned)
    got = gnp.average(gnp.array(a), axis=axis, weights=gnp.array(w), returned=returned)
    for g_, w_ in zip(got if returned else [got], want if returned else [want]):
        assert numpy.asarray(g_).shape == numpy.shape(w_)
        numpy.testing.assert_array_equal(numpy.asarray(g_), w_)


def test_weighted_average_gradient():
    rng = numpy.random.default_rng(6)
    a, w = rng.normal(size=(5, 2)), rng.uniform(size=5)
    ga, gw = gg.grad(lambda a_, w_: gnp.sum(gnp.average(a_, axis=0, weights=w_)),
                     argnums=(0, 1))(gnp.array(a), gnp.array(w))
    numpy.testing.assert_allclose(numpy.asarray(ga), numpy.repeat(w[:, None] / w.sum(), 2, 1))
    avg = (a * w[:, None]).sum(0) / w.sum()
    numpy.testing.assert_allclose(numpy.asarray(gw), ((a - avg) / w.sum()).sum(1))
