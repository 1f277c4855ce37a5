"""Batch normalization forward and backward by hand, inside a small MLP trained with momentum.

Plain NumPy in the style of the CS231n assignment: the training forward pass keeps a cache
and updates the running statistics (``running_mean = momentum * running_mean + (1 -
momentum) * mu``); the backward pass is the compact closed form
``dx = (1/N) * istd * (N dxhat - sum(dxhat) - xhat * sum(dxhat * xhat))``; inverted dropout
draws its mask as ``(np.random.rand(*h.shape) < p) / p``.

    python examples/dropin/batchnorm.py
"""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode, eps, momentum = bn_param["mode"], bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1], dtype=x.dtype))
    cache = None
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        istd = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * istd
        out = gamma * xhat + beta
        cache = (xhat, istd, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, istd, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = (1.0 / N) * istd * (N * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0))
    return dx, dgamma, dbeta


def loss(params, X, y, bn_param, mask=None):
    """Linear -> batchnorm -> ReLU (-> dropout) -> linear -> mean squared error."""
    h, _ = batchnorm_forward(X @ params["W1"], params["gamma"], params["beta"], bn_param)
    a = np.maximum(0, h)
    if mask is not None:
        a = a * mask
    pred = a @ params["W2"]
    return np.mean((pred[:, 0] - y) ** 2)


def gradients(params, X, y, bn_param, mask=None):
    z = X @ params["W1"]
    h, cache = batchnorm_forward(z, params["gamma"], params["beta"], bn_param)
    a = np.maximum(0, h)
    if mask is not None:
        a = a * mask
    pred = a @ params["W2"]
    dpred = 2 * (pred - y[:, None]) / len(y)
    dW2 = a.T @ dpred
    da = dpred @ params["W2"].T
    if mask is not None:
        da = da * mask
    dh = da * (h > 0)
    dz, dgamma, dbeta = batchnorm_backward(dh, cache)
    return {"W1": X.T @ dz, "gamma": dgamma, "beta": dbeta, "W2": dW2}


def make_data(n=64, D=5, seed=0):
    rng = np.random.default_rng(seed)
    X = 3.0 * rng.standard_normal((n, D)) + 2.0
    y = np.tanh(X[:, 0] - X[:, 1]) + 0.5 * X[:, 2] ** 2 / 10
    return X, y


def init_params(D, H, seed=1):
    rng = np.random.default_rng(seed)
    return {"W1": rng.standard_normal((D, H)) / np.sqrt(D), "gamma": np.ones(H),
            "beta": np.zeros(H), "W2": rng.standard_normal((H, 1)) / np.sqrt(H)}


def train(steps=80, lr=0.05, mu=0.9, p=0.8, H=16, seed=0):
    np.random.seed(seed)
    X, y = make_data()
    params = init_params(X.shape[1], H)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    bn_param = {"mode": "train"}
    history = []
    for _ in range(steps):
        mask = (np.random.rand(X.shape[0], H) < p) / p
        history.append(float(loss(params, X, y, dict(bn_param), mask)))
        grads = gradients(params, X, y, bn_param, mask)
        for k in params:
            velocity[k] = mu * velocity[k] - lr * grads[k]
            params[k] += velocity[k]
    bn_param["mode"] = "test"
    test_loss = loss(params, X, y, bn_param)
    return history, test_loss, params, bn_param


def main():
    history, test_loss, params, bn_param = train()
    print(f"train loss {history[0]:.6f} -> {history[-1]:.6f}; test-mode loss {test_loss:.6f}")
    print("running mean", np.array2string(bn_param["running_mean"][:4], precision=5))
    print("running var ", np.array2string(bn_param["running_var"][:4], precision=5))


if __name__ == "__main__":
    main()
