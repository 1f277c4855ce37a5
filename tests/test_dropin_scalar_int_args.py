"""An integer read out of an array (``n = np.ravel(framesize)[0]``: NumPy's scalar, gpugrad's
0-d tensor standing for it) passes as the integer wherever NumPy takes an int or a sequence of
ints: window shapes, ``np.resize``, ``random.choice``/``permutation``; a 0-d *array* keeps
NumPy's answer for a 0-d array."""
import numpy
import pytest

import gpugrad.numpy as gnp


def _scalar(m, v):
    return m.ravel(m.array([v]))[0]  # NumPy: np.int64; gpugrad: a 0-d tensor standing for it


CASES = {
    "sliding_window_view": lambda m, k: m.lib.stride_tricks.sliding_window_view(m.arange(6.0), k),
    "as_strided": lambda m, k: m.lib.stride_tricks.as_strided(m.arange(6.0), (k,), (8,)),
    "resize": lambda m, k: m.resize(m.arange(6.0), k),
    "choice": lambda m, k: (m.random.seed(1), m.random.choice(k, 4))[1],
    "permutation": lambda m, k: (m.random.seed(1), m.random.permutation(k))[1],
    "rng_permutation": lambda m, k: m.random.default_rng(2).permutation(k),
    "rng_choice": lambda m, k: m.random.default_rng(2).choice(k, 2, replace=False),
}


@pytest.mark.parametrize("name", CASES)
def test_integer_scalar_argument(name):
    want = CASES[name](numpy, _scalar(numpy, 3))
    got = CASES[name](gnp, _scalar(gnp, 3))
    numpy.testing.assert_array_equal(numpy.asarray(got), want)
    assert numpy.asarray(got).dtype == want.dtype


def test_zero_d_array_keeps_numpys_answer():
    with pytest.raises(IndexError):
        numpy.random.permutation(numpy.array(3))
    with pytest.raises(IndexError):
        gnp.random.permutation(gnp.array(3))
    numpy.random.seed(0)
    want = numpy.random.choice(numpy.array(3), 2)
    gnp.random.seed(0)
    numpy.testing.assert_array_equal(numpy.asarray(gnp.random.choice(gnp.array(3), 2)), want)
