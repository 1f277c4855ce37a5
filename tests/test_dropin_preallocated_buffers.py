"""A recurrence written into a preallocated buffer (``h = np.zeros((T + 1, H))``; ``h[t] =
tanh(W @ h[t - 1] + ...)``, as a hand-written LSTM keeps its states): each step reads a row
saved by an earlier node and writes another row.  The write touches memory no saved input
holds, so backward goes on (it raised: "modified by an in-place operation"); a write that
does reach a saved input still raises, or the gradient is the right one -- never the
gradient of the new values."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def _rnn(np, W, U, xs, T=6, H=4):
    h = np.zeros((T + 1, H))
    c = np.zeros((T + 1, H))
    for t in range(T):
        h[t] = np.tanh(np.dot(W, h[t - 1]) + U * xs[t])
        c[t] = c[t - 1] * 0.5 + h[t] * h[t - 1]
    return np.sum(h ** 2) + np.sum(c)


def test_recurrence_in_preallocated_buffer_gradient():
    rng = numpy.random.default_rng(0)
    W, U, xs = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=4), rng.normal(size=6)
    assert float(_rnn(gnp, gnp.array(W), gnp.array(U), xs)) == _rnn(numpy, W, U, xs)
    gW, gU = gg.grad(lambda W_, U_: _rnn(gnp, W_, U_, xs), argnums=(0, 1))(gnp.array(W),
                                                                             gnp.array(U))
    eps = 1e-6
    for P, g, which in ((W, gW, 0), (U, gU, 1)):
        fd = numpy.zeros_like(P)
        for i in numpy.ndindex(P.shape):
            d = numpy.zeros_like(P)
            d[i] = eps
            args_p = (W + d, U) if which == 0 else (W, U + d)
            args_m = (W - d, U) if which == 0 else (W, U - d)
            fd[i] = (_rnn(numpy, *args_p, xs) - _rnn(numpy, *args_m, xs)) / (2 * eps)
        numpy.testing.assert_allclose(numpy.asarray(g), fd, rtol=1e-6, atol=1e-8)


def test_write_into_a_saved_row_is_never_silently_wrong():
    def f(w):
        y = gnp.zeros(3)
        y[0] = w * 2.0
        z = y[0:2] * w         # saves y[0:2]
        y[1] = w * 3.0         # overwrites memory z's node saved
        return gnp.sum(z)

    try:
        g = float(gg.grad(f)(gnp.array(1.5)))
    except RuntimeError as e:
        assert "in-place" in str(e)
    else:
        assert g == pytest.approx(4 * 1.5)  # d/dw (2w * w) : the values z's node read
