"""Overlap-add through a writeable ``sliding_window_view`` (an inverse STFT: ``frames =
sliding_window_view(y, n, writeable=True)[::hop]; frames[i] += w * irfft(F[i])``): the
windows overlap, but each write goes through one window, whose elements are distinct in
``y``, so the write is well defined and differentiable.  A write through a view that does
show an element twice still raises."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.numpy.lib.stride_tricks import sliding_window_view


def overlap_add(m, swv, frames, n, hop):
    y = m.zeros(len(frames) * hop + n)
    win = swv(y, n, writeable=True)[::hop]
    for i in range(len(frames)):
        win[i] += frames[i]
    return y


def test_overlap_add_values_and_gradient():
    rng = numpy.random.default_rng(0)
    F = rng.normal(size=(5, 8))
    want = overlap_add(numpy, numpy.lib.stride_tricks.sliding_window_view, F, 8, 3)
    got = overlap_add(gnp, sliding_window_view, gnp.array(F), 8, 3)
    numpy.testing.assert_array_equal(numpy.asarray(got), want)

    wts = rng.normal(size=want.shape)

    def loss(a):
        return gnp.sum(overlap_add(gnp, sliding_window_view, a * F, 8, 3) ** 2 * wts)

    g = float(gg.grad(loss)(gnp.array(0.7)))
    # d/da sum(wts * (a * OLA(F))**2) = 2 a sum(wts * OLA(F)**2)
    numpy.testing.assert_allclose(g, 2 * 0.7 * numpy.sum(wts * want ** 2), rtol=1e-12)

    gF = numpy.asarray(gg.grad(lambda F_: gnp.sum(overlap_add(gnp, sliding_window_view, F_, 8, 3)
                                                  * wts))(gnp.array(F)))
    numpy.testing.assert_array_equal(gF, numpy.lib.stride_tricks.sliding_window_view(wts, 8)[::3][:5])


def test_write_through_a_view_showing_an_element_twice_raises():
    x = gg.tensor(numpy.arange(6.0), requires_grad=True)
    y = gnp.zeros(6)
    win = sliding_window_view(y, 3, writeable=True)
    with pytest.raises(RuntimeError, match="more than once"):
        win[0:2] += x[:3]
