"""A write of ONE element through overlapping windows (``win = sliding_window_view(y, n,
writeable=True)[::hop]; win[i, j] = v`` in a graph) goes into ``y``'s memory and into its
gradient, as a write of a slice of the window does; it was written into a copy of the
element (NumPy's scalar answer of ``win[i, j]``) and lost: ``y`` unchanged, gradient 0."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.numpy.lib.stride_tricks import sliding_window_view

_nswv = numpy.lib.stride_tricks.sliding_window_view


def _program(m, swv, a):
    y = m.zeros(10)
    win = swv(y, 6, writeable=True)[::2]
    win[1, 3] = a[0] * a[1]          # y[5]
    win[2, 0] += a[2]                # y[4]
    row = win[0]
    row[-1] = a[3] * 2.0             # y[5] again
    row[1] -= a[0]                   # y[1]
    return y


@pytest.mark.parametrize("grad", [False, True])
def test_one_element_write_through_windows_values(grad):
    a = numpy.array([0.5, -1.5, 2.0, 3.0])
    want = _program(numpy, _nswv, a)
    t = gg.tensor(a, requires_grad=grad)
    got = _program(gnp, sliding_window_view, t)
    numpy.testing.assert_array_equal(numpy.asarray(got.data), want)


def test_one_element_write_through_windows_gradient():
    a = numpy.array([0.5, -1.5, 2.0, 3.0])
    w = numpy.arange(1.0, 11.0)
    g = numpy.asarray(gg.grad(lambda t: gnp.sum(_program(gnp, sliding_window_view, t) * w))(
        gg.tensor(a)))
    eps = 1e-6
    fd = numpy.zeros_like(a)
    for i in range(a.size):
        d = numpy.zeros_like(a)
        d[i] = eps
        fd[i] = (numpy.sum(_program(numpy, _nswv, a + d) * w)
                 - numpy.sum(_program(numpy, _nswv, a - d) * w)) / (2 * eps)
    numpy.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)
