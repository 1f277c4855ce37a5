"""numpy.lib.stride_tricks on tensors (gpugrad.numpy.lib.stride_tricks, and NumPy's
sliding_window_view through dispatch): NumPy's views and values, differentiable -- im2col
built with as_strided against PyTorch's conv2d, sliding windows against finite differences;
a write through a writeable as_strided view reaches its base's gradient; a view the gradient
cannot follow (memory outside its input) raises, and so does a write through overlapping
windows that shows an element twice."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

torch = pytest.importorskip("torch")


def im2col(np, x, k, stride):
    N, C, H, W = x.shape
    s0, s1, s2, s3 = x.strides
    Ho, Wo = (H - k) // stride + 1, (W - k) // stride + 1
    return np.lib.stride_tricks.as_strided(
        x, shape=(N, C, Ho, Wo, k, k), strides=(s0, s1, stride * s2, stride * s3, s2, s3))


def conv_loss(x, w):
    cols = im2col(gnp, x, 3, 2)
    return gnp.sum(gnp.tensordot(cols, w, axes=([1, 4, 5], [1, 2, 3])) ** 2)


@pytest.mark.parametrize("layout", ["C", "transposed"])
def test_as_strided_im2col_gradient_matches_torch_conv2d(layout):
    rng = numpy.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    loss = (torch.nn.functional.conv2d(xt, wt, stride=2) ** 2).sum()
    loss.backward()
    xg = gnp.array(x) if layout == "C" else gnp.array(
        x.transpose(0, 1, 3, 2).copy()).transpose(0, 1, 3, 2)
    assert numpy.array_equal(im2col(gnp, xg, 3, 2).numpy(), im2col(numpy, x, 3, 2))
    value, (gx, gw) = gg.value_and_grad(conv_loss, argnums=(0, 1))(xg, gnp.array(w))
    assert float(value) == pytest.approx(loss.item(), rel=1e-12)
    numpy.testing.assert_allclose(gx.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    numpy.testing.assert_allclose(gw.numpy(), wt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("via", ["numpy", "gpugrad"])
def test_sliding_window_view_gradient_and_values(via):
    sw = (numpy if via == "numpy" else gnp).lib.stride_tricks.sliding_window_view
    x = numpy.random.default_rng(1).standard_normal((3, 6, 5))

    def f(t):
        win = sw(t, (2, 3), axis=(1, 2))
        return gnp.sum(win.max(axis=(-1, -2)) ** 2 + win.mean(axis=-1).sum(-1) ** 3)

    ref = numpy.lib.stride_tricks.sliding_window_view(x, (2, 3), axis=(1, 2))
    got = sw(gnp.array(x), (2, 3), axis=(1, 2))
    assert isinstance(got, gg.Tensor) and numpy.array_equal(got.numpy(), ref)
    assert not got.numpy().flags.writeable
    g = gg.grad(f)(gnp.array(x)).numpy()
    U = numpy.random.default_rng(2).standard_normal(x.shape)
    h = 1e-6
    fd = (float(f(gnp.array(x + h * U))) - float(f(gnp.array(x - h * U)))) / (2 * h)
    assert abs(fd) > 1e-2 and numpy.vdot(g, U) == pytest.approx(fd, rel=1e-6)


def test_sliding_window_view_is_a_view_of_its_base():
    t = gnp.arange(5.0)
    v = gnp.lib.stride_tricks.sliding_window_view(t, 2)
    t[0] = 7.0
    assert v[0].tolist() == [7.0, 1.0]
    with pytest.raises(ValueError, match="read-only"):
        v[0, 0] = 3.0

    def f(t):  # the base written after the view was made: the view reads the new values
        y = t * 1.0
        v = gnp.lib.stride_tricks.sliding_window_view(y, 2)
        y[0] = y[1] * 3
        return gnp.sum(v[:, 0] * v[:, 1] * gnp.arange(1.0, 5.0))

    x = gnp.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert float(f(x)) == 140.0
    assert gg.grad(f)(x).tolist() == [0.0, 18.0, 16.0, 29.0, 16.0]


def test_write_through_writeable_as_strided_view_reaches_the_gradient():
    def f(t):
        y = t * 1.0
        v = gnp.lib.stride_tricks.as_strided(y, (2,), (16,))  # y[0] and y[2]
        v *= 10
        return gnp.sum(y * gnp.arange(5.0))

    x = gnp.arange(5.0)
    assert float(f(x)) == 66.0
    assert gg.grad(f)(x).tolist() == [0.0, 1.0, 20.0, 3.0, 4.0]  # (it gave [0, 1, 2, 3, 4])


def test_second_derivative_through_windows_matches_torch():
    t = torch.tensor([1.0, 2, 3, 4, 5], dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad(((t[:-1] * t[1:]) ** 2).sum(), t, create_graph=True)
    h, = torch.autograd.grad((g ** 2).sum(), t)

    def inner(u):
        return gnp.sum(gnp.lib.stride_tricks.sliding_window_view(u, 2).prod(axis=1) ** 2)

    ours = gg.grad(lambda u: gnp.sum(gg.grad(inner)(u) ** 2))(gnp.array([1.0, 2, 3, 4, 5]))
    assert ours.tolist() == h.tolist()


def test_views_the_gradient_cannot_follow_raise():
    x = gnp.arange(5.0)
    with pytest.raises(ValueError, match="reads memory outside its input"):
        gg.grad(lambda t: gnp.lib.stride_tricks.as_strided(t, (6,), (8,)).sum())(x)
    with pytest.raises(RuntimeError, match="more than once"):  # overlapping and recorded:
        def write(t):                                          # rows 0 and 1 share y[1]
            y = t * 1.0
            gnp.lib.stride_tricks.as_strided(y, (3, 2), (8, 8))[0:2] = 3.0
            return y.sum()
        gg.grad(write)(x)


def test_lib_is_numpys_but_for_stride_tricks():
    assert gnp.lib.NumpyVersion is numpy.lib.NumpyVersion
    assert gnp.lib.stride_tricks.broadcast_to is gnp.broadcast_to
    out = gnp.lib.stride_tricks.as_strided(numpy.arange(6.0), (2, 2), (16, 8))
    assert isinstance(out, gg.Tensor) and out.tolist() == [[0.0, 1.0], [2.0, 3.0]]
