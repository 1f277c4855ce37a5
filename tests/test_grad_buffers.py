"""Memory on the hot path: dW lands in the optimizer's flat gradient buffer with no copy, and a
finished backward lets go of the step's activations."""
import gc
import weakref

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import kernels


def _model_and_batch():
    gg.manual_seed(0)
    model = gg.nn.MLP([8, 16, 4], activation="relu")
    x, y = gg.randn(5, 8), gg.randint(4, size=(5,))
    return model, x, y


def _np_grads64(model, x, y):
    """d(mean cross-entropy)/d(W1, b1, W2, b2) of the relu MLP, by hand in float64 NumPy
    (independent of the fused kernels and of autograd)."""
    W1, b1, W2, b2 = (p.numpy().astype(np.float64) for p in model.parameters())
    x, y = x.numpy().astype(np.float64), y.numpy()
    z1 = x @ W1 + b1
    h = np.maximum(z1, 0.0)
    logits = h @ W2 + b2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d_logits = (p - np.eye(W2.shape[1])[y]) / len(y)
    dh = d_logits @ W2.T
    dz1 = dh * (z1 > 0)
    return [x.T @ dz1, dz1.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0)]


def _assert_grads_match(model, expected, factor=1.0):
    for p, e in zip(model.parameters(), expected):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.numpy(), factor * e, rtol=1e-5, atol=1e-6)


def test_linear_backward_writes_dW_into_the_flat_gradient_buffer(monkeypatch):
    model, x, y = _model_and_batch()
    received = []
    real = kernels.linear_act_backward

    def spy(*args, dW_out=None, **kwargs):
        received.append(dW_out)
        return real(*args, dW_out=dW_out, **kwargs)
    reference = _np_grads64(model, x, y)
    assert all(np.abs(g).max() > 1e-3 for g in reference)     # every gradient is non-trivial
    opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    flat = opt._flats[0].grad
    monkeypatch.setattr(kernels, "linear_act_backward", spy)
    gg.cross_entropy(model(x), y).backward()
    assert len(received) == 2 and all(np.shares_memory(o, flat) for o in received)
    _assert_grads_match(model, reference)
    for p in model.parameters():
        assert p.grad.data is p._grad_view          # the view itself: no copy was made
        assert np.shares_memory(p.grad.data, flat)


def test_second_backward_accumulates_on_top_of_the_buffer():
    model, x, y = _model_and_batch()
    gg.optim.SGD(model.parameters(), lr=0.1)
    expected = _np_grads64(model, x, y)
    gg.cross_entropy(model(x), y).backward()
    _assert_grads_match(model, expected)
    gg.cross_entropy(model(x), y).backward()
    _assert_grads_match(model, expected, 2.0)


def test_hooks_still_see_the_gradient_when_a_buffer_exists():
    model, x, y = _model_and_batch()
    gg.optim.SGD(model.parameters(), lr=0.1)
    w = next(iter(model.parameters()))
    seen = []
    w.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 0)
    gg.cross_entropy(model(x), y).backward()
    assert len(seen) == 1 and np.abs(seen[0]).sum() > 0
    assert np.all(w.grad.numpy() == 0)               # the hook's replacement was used


def test_kernel_dW_out_receives_the_gradient_and_is_checked():
    rng = np.random.default_rng(0)
    x, W = rng.standard_normal((7, 3)), rng.standard_normal((3, 5))
    y, z = kernels.linear_act_forward(x, W, None, "relu")
    dy = rng.standard_normal(y.shape)
    expected = x.T @ (dy * (x @ W > 0))                # by hand, in float64 NumPy
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        xs, Ws, ys, dys = (a.astype(dtype) for a in (x, W, y, dy))
        out = np.full_like(Ws, np.nan)
        _, dW, _ = kernels.linear_act_backward(dys, xs, Ws, ys, None, "relu", dW_out=out)
        assert dW is out
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
    with pytest.raises(ValueError, match=r"dW_out .* shape \(3, 5\).*got ndarray of shape \(5, 3\)"):
        kernels.linear_act_backward(dy, x, W, y, z, "relu", dW_out=np.empty((5, 3)))


def test_backward_releases_the_activations_while_loss_is_kept():
    model, x, y = _model_and_batch()
    hidden = model(x)
    probe = weakref.ref(hidden)
    loss = gg.cross_entropy(hidden, y)
    del hidden
    gc.collect()
    assert probe() is not None                       # the graph holds it before backward
    loss.backward()
    gc.collect()
    assert probe() is None                           # ... and lets it go after
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_retain_graph_keeps_the_graph_usable():
    model, x, y = _model_and_batch()
    expected = _np_grads64(model, x, y)
    loss = gg.cross_entropy(model(x), y)
    loss.backward(retain_graph=True)
    _assert_grads_match(model, expected)
    loss.backward()
    _assert_grads_match(model, expected, 2.0)


def test_a_promoted_gradient_reaches_a_fused_layer_in_the_layers_dtype():
    # y is float32; multiplying by a float64 tensor makes the incoming gradient float64
    gg.manual_seed(0)
    x, W = gg.randn(3, 4), gg.randn(4, 2, requires_grad=True)
    y = gg.linear(x, W, activation="relu")
    (y * gg.tensor(np.full(2, 2.0))).sum().backward()
    assert W.grad.dtype == np.float32
    expected = 2 * x.numpy().T @ (y.numpy() > 0).astype(np.float32)
    np.testing.assert_allclose(W.grad.numpy(), expected, rtol=1e-6)


def test_a_view_of_a_freed_graph_modified_in_place_is_refused_clearly():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    v = h[0:1]
    (v * 3).sum().backward()
    with gg.no_grad():
        h += 1
    with pytest.raises(RuntimeError, match="backward pass freed its graph; clone"):
        v * 2
