"""A small multilayer perceptron written in plain NumPy, trained with ``gpugrad.grad``.

``mlp_gpugrad.py`` is this file with only the NumPy import changed to
``import gpugrad.numpy as np``; that version runs on the default device, so
``GPUGRAD_DEVICE=cuda python examples/mlp_gpugrad.py`` trains on a GPU.  The parameters
are a list of (W, b) pairs: ``gpugrad.grad`` returns gradients in the same structure.

    python examples/mlp_numpy.py
"""
import gpugrad.numpy as np

import gpugrad


def make_data(n=600, seed=0):
    """Three concentric rings in the plane: not linearly separable."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    r = np.sqrt(np.sum(X * X, axis=1))
    y = (r > 0.8).astype(np.int64) + (r > 1.5).astype(np.int64)
    return X, y


def init(sizes, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((m, k)) / np.sqrt(m), np.zeros(k))
            for m, k in zip(sizes[:-1], sizes[1:])]


def predict(params, X):
    h = X
    for W, b in params[:-1]:
        h = np.tanh(h @ W + b)
    W, b = params[-1]
    return h @ W + b


def logsumexp(z):
    m = np.max(z, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))


def loss(params, X, Y):
    z = predict(params, X)
    return -np.mean(np.sum(Y * (z - logsumexp(z)), axis=1))


def accuracy(params, X, y):
    return float(np.mean(np.argmax(predict(params, X), axis=1) == y))


def train(steps=300, lr=0.2, n=600, hidden=32, seed=0, verbose=True):
    X, y = make_data(n, seed)
    Y = np.eye(3)[y]
    params = init([2, hidden, hidden, 3], seed + 1)
    dloss = gpugrad.value_and_grad(loss)
    history = []
    for step in range(steps):
        value, grads = dloss(params, X, Y)
        params = [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, grads)]
        history.append(float(value))
        if verbose and step % 50 == 0:
            print(f"step {step:4d}  loss {float(value):.4f}")
    acc = accuracy(params, X, y)
    if verbose:
        print(f"final loss {float(loss(params, X, Y)):.4f}  accuracy {acc:.3f}")
    return history, acc, params


if __name__ == "__main__":
    train()
