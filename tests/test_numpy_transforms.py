"""gpugrad.grad / value_and_grad / jacobian on functions written against gpugrad.numpy and
against plain NumPy (through the dispatch protocols)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

W = np.array([0.3, -1.2, 0.8])
X = np.random.default_rng(0).standard_normal((5, 3))


def loss_gnp(w, X):
    return gnp.mean(gnp.logaddexp(0.0, -(X @ w))) + 0.1 * gnp.sum(w ** 2)


def loss_np(w, X):
    return np.mean(np.logaddexp(0.0, -(X @ w))) + 0.1 * np.sum(w ** 2)


def analytic(w, X):
    z = X @ w
    return -(X.T @ (1 / (1 + np.exp(z)))) / len(z) + 0.2 * w


@pytest.mark.parametrize("loss", [loss_gnp, loss_np])
def test_grad_of_numpy_code(loss):
    g = gg.grad(loss)(W, X)
    assert isinstance(g, np.ndarray) and g.dtype == np.float64
    np.testing.assert_allclose(g, analytic(W, X), rtol=1e-10)
    v, g2 = gg.value_and_grad(loss)(W, X)
    assert isinstance(v, float)
    np.testing.assert_allclose(v, float(loss_np(W, X)))
    np.testing.assert_allclose(g2, g)


def test_kinds_in_kinds_out():
    f = lambda w: gnp.sum(gnp.sin(w) * w)  # noqa: E731
    t = gg.tensor(W, requires_grad=False)
    gt = gg.grad(f)(t)
    assert isinstance(gt, gg.Tensor)
    assert isinstance(gg.grad(lambda s: gnp.sin(s) * s)(0.5), float)
    gl = gg.grad(f)([0.1, 0.2])  # a list is a container (pytree): one float per element
    assert isinstance(gl, list) and np.allclose(gl, np.cos([0.1, 0.2]) * [0.1, 0.2] + np.sin([0.1, 0.2]))
    assert isinstance(gg.value_and_grad(f)(t)[0], gg.Tensor)
    np.testing.assert_allclose(gg.grad(f)(W), np.cos(W) * W + np.sin(W))


def test_argnums_has_aux_and_pytrees():
    def f(w, b, X):
        z = X @ w + b
        return gnp.sum(z ** 2), z

    (gw, gb), z = gg.grad(f, argnums=(0, 1), has_aux=True)(W, 0.5, X)
    zz = X @ W + 0.5
    np.testing.assert_allclose(gw, 2 * X.T @ zz)
    assert isinstance(gb, float) and np.isclose(gb, 2 * zz.sum())
    np.testing.assert_allclose(z.numpy(), zz)
    params = {"w": W, "layers": [(X[:3], np.ones(3))]}

    def g(p):
        (A, c), = p["layers"]
        return gnp.sum((A @ p["w"] + c) ** 2)
    gp = gg.grad(g)(params)
    assert set(gp) == {"w", "layers"} and isinstance(gp["layers"], list)
    r = X[:3] @ W + 1
    np.testing.assert_allclose(gp["w"], 2 * X[:3].T @ r)
    np.testing.assert_allclose(gp["layers"][0][1], 2 * r)
    assert gp["layers"][0][0].shape == (3, 3)


def test_unused_argument_gets_zero_gradient_and_errors():
    g = gg.grad(lambda a, b: gnp.sum(a * 2), argnums=(0, 1))(W, W)
    np.testing.assert_allclose(g[1], 0 * W)
    with pytest.raises(TypeError, match="scalar"):
        gg.grad(lambda a: a * 2)(W)
    with pytest.raises(TypeError, match="aux"):
        gg.grad(lambda a: gnp.sum(a), has_aux=True)(W)


def test_jacobian():
    J = gg.jacobian(lambda w: gnp.tanh(X @ w))(W)
    want = (1 - np.tanh(X @ W) ** 2)[:, None] * X
    assert J.shape == (5, 3)
    np.testing.assert_allclose(J, want, rtol=1e-10)
    J2 = gg.jacobian(lambda w, X: np.exp(X @ w), argnums=(0, 1))(W, X)  # plain NumPy code
    np.testing.assert_allclose(J2[0], np.exp(X @ W)[:, None] * X)
    assert J2[1].shape == (5, 5, 3)
    Js = gg.jacobian(lambda w: gnp.sum(w ** 2))(W)
    np.testing.assert_allclose(Js, 2 * W)
    H = gg.jacobian(lambda w: gg.grad(lambda v: gnp.sum(v ** 3))(w))
    assert H is not None
    t = gg.jacobian(lambda w: w[:2] * 3)(gg.tensor(W))
    assert isinstance(t, gg.Tensor) and t.tolist() == [[3, 0, 0], [0, 3, 0]]


def test_grad_on_device(device):
    gg.set_default_device(device)
    X_ = gnp.asarray(X, device=device)
    g = gg.grad(loss_gnp)(gnp.asarray(W, device=device), X_)
    assert g.device == device
    np.testing.assert_allclose(g.numpy() if device == "cpu" else g.cpu().numpy(), analytic(W, X),
                               rtol=1e-10)
