"""Logistic regression written in plain NumPy, trained with ``gpugrad.value_and_grad``.

``logistic_regression_gpugrad.py`` is this file with only the NumPy import changed to
``import gpugrad.numpy as np``; that version runs on the default device, so
``GPUGRAD_DEVICE=cuda python examples/logistic_regression_gpugrad.py`` trains on a GPU.
With plain NumPy, gpugrad still differentiates ``loss``: NumPy hands calls on gpugrad
tensors to gpugrad (``__array_ufunc__`` / ``__array_function__``).

    python examples/logistic_regression_numpy.py
"""
import gpugrad.numpy as np

import gpugrad


def make_data(n=512, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = (X @ w_true + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    return X, y


def loss(w, b, X, y):
    z = X @ w + b
    margins = -(2 * y - 1) * z
    return np.mean(np.logaddexp(0.0, margins)) + 1e-3 * np.sum(w * w)


def accuracy(w, b, X, y):
    return float(np.mean((X @ w + b > 0) == (y > 0.5)))


def train(steps=200, lr=0.5, n=512, d=8, seed=0, verbose=True):
    X, y = make_data(n, d, seed)
    w, b = np.zeros(d), 0.0
    step_fn = gpugrad.value_and_grad(loss, argnums=(0, 1))
    history = []
    for step in range(steps):
        value, (gw, gb) = step_fn(w, b, X, y)
        w = w - lr * gw
        b = b - lr * gb
        history.append(float(value))
        if verbose and step % 50 == 0:
            print(f"step {step:4d}  loss {float(value):.4f}")
    acc = accuracy(w, b, X, y)
    if verbose:
        print(f"final loss {float(loss(w, b, X, y)):.4f}  accuracy {acc:.3f}")
    return history, acc, w


if __name__ == "__main__":
    train()
