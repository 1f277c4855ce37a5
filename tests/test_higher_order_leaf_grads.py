"""``backward(create_graph=True)``: each leaf's ``.grad`` is a tensor of its own.

A gradient that records a graph is kept as a Tensor with that graph, but never as the very
object that also flows to another leaf, to a retained non-leaf or back to the caller (the
``gradient=`` passed in): as the plain path copies a first gradient, and as PyTorch's
AccumulateGrad clones it, so an in-place change of one ``.grad`` (``clip_grad_norm_``, an
optimizer's ``mul_``) changes that gradient alone.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.nn as nn


def f64(v, **kw):
    return gg.tensor(v, dtype="float64", **kw)


def _sum_of_leaves():
    x = f64([1.0, 2.0], requires_grad=True)
    w = f64([0.5, -1.0], requires_grad=True)
    ((x + w) ** 2).sum().backward(create_graph=True)   # Add hands one gradient to both
    return x, w


def test_two_leaves_get_two_gradients():
    x, w = _sum_of_leaves()
    assert x.grad is not w.grad and x.grad.data is not w.grad.data
    x.grad.mul_(0.5)
    np.testing.assert_array_equal(x.grad.numpy(), [1.5, 1.0])
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 2.0])   # 2 (x + w), untouched


def test_clip_grad_norm_scales_each_gradient_once():
    x, w = _sum_of_leaves()
    nn.clip_grad_norm_([x, w], 1.0)
    g = np.array([3.0, 2.0]) / np.sqrt(26.0)   # both gradients 2 (x + w); norm sqrt(26)
    np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), g, rtol=1e-6)


def test_the_kept_gradients_are_still_differentiable():
    x, w = _sum_of_leaves()
    assert x.grad.requires_grad and w.grad.requires_grad
    (hx, hw) = gg.autograd.grad(x.grad.sum(), [x, w])   # d/d. sum 2 (x + w) = 2
    np.testing.assert_array_equal(hx.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(hw.numpy(), [2.0, 2.0])


def test_a_gradient_passed_in_is_not_kept_as_the_leafs_grad():
    x = f64([1.0, 2.0], requires_grad=True)
    v = f64([3.0, 5.0], requires_grad=True)
    (x + 0.0).backward(v, create_graph=True)
    assert x.grad is not v
    x.grad.mul_(2.0)
    np.testing.assert_array_equal(v.numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 10.0])
    (gv,) = gg.autograd.grad(x.grad.sum(), [v])   # x.grad = 2 v after the mul_
    np.testing.assert_array_equal(gv.numpy(), [2.0, 2.0])


def test_a_retained_gradient_is_its_own_tensor():
    x = f64([1.0, 2.0], requires_grad=True)
    w = f64([0.5, -1.0], requires_grad=True)
    y = x * 3.0
    y.retain_grad()
    ((y + w) ** 2).sum().backward(create_graph=True)
    assert y.grad is not w.grad
    y.grad.mul_(0.0)
    np.testing.assert_array_equal(w.grad.numpy(), [7.0, 10.0])   # 2 (3x + w)
    np.testing.assert_array_equal(x.grad.numpy(), [21.0, 30.0])


@pytest.mark.parametrize("hook", [False, True])
def test_accumulating_over_passes_keeps_owned_gradients(hook):
    x = f64([1.0, 2.0], requires_grad=True)
    w = f64([0.5, -1.0], requires_grad=True)
    if hook:
        x.register_hook(lambda g: g * 1.0)
    for _ in range(2):
        ((x + w) ** 2).sum().backward(create_graph=True)
    assert x.grad is not w.grad
    w.grad.mul_(0.0)
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 4.0])


def test_grad_scaler_unscales_each_gradient_once():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    w = gg.tensor([0.5, -1.0], requires_grad=True)
    opt = gg.optim.SGD([x, w], lr=0.1)
    scaler = gg.amp.GradScaler(init_scale=8.0)
    scaler.scale(((x + w) ** 2).sum()).backward(create_graph=True)
    scaler.unscale_(opt)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 2.0])
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 2.0])
    scaler.step(opt)
    np.testing.assert_allclose(x.numpy(), [0.7, 1.8], rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), [0.2, -1.2], rtol=1e-6)
