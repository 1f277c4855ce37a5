"""Gaussian-process regression with an RBF kernel, hyperparameters fitted by gradient ascent.

Plain NumPy as in the textbook algorithm (Rasmussen & Williams, Alg. 2.1): pairwise squared
distances by broadcasting, ``np.linalg.cholesky`` of the kernel matrix, two triangular solves
through ``np.linalg.solve``, the log determinant from ``np.linalg.slogdet``; the hand-written
gradient of the negative log marginal likelihood uses
``0.5 tr((alpha alpha^T - K^-1) dK/dtheta)`` with ``np.linalg.inv`` and ``np.trace``.

    python examples/dropin/gp_regression.py
"""
import numpy as np


def make_data(n=25, seed=0):
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(-3, 3, size=n))[:, None]
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(n)
    return X, y


def sq_dists(A, B):
    return np.sum((A[:, None, :] - B[None, :, :]) ** 2, axis=-1)


def kernel(A, B, log_ell, log_sf):
    return np.exp(2 * log_sf) * np.exp(-0.5 * sq_dists(A, B) / np.exp(2 * log_ell))


def nll(theta, X, y):
    """Negative log marginal likelihood; theta = (log lengthscale, log signal sd, log noise sd)."""
    log_ell, log_sf, log_sn = theta[0], theta[1], theta[2]
    n = len(y)
    K = kernel(X, X, log_ell, log_sf) + np.exp(2 * log_sn) * np.eye(n)
    sign, logdet = np.linalg.slogdet(K)
    alpha = np.linalg.solve(K, y)
    return 0.5 * y @ alpha + 0.5 * logdet + 0.5 * n * np.log(2 * np.pi)


def nll_grad(theta, X, y):
    log_ell, log_sf, log_sn = theta
    n = len(y)
    Kf = kernel(X, X, log_ell, log_sf)
    K = Kf + np.exp(2 * log_sn) * np.eye(n)
    Kinv = np.linalg.inv(K)
    alpha = Kinv @ y
    M = np.outer(alpha, alpha) - Kinv
    dK = [Kf * sq_dists(X, X) / np.exp(2 * log_ell), 2 * Kf, 2 * np.exp(2 * log_sn) * np.eye(n)]
    return np.array([-0.5 * np.trace(M @ d) for d in dK])


def predict(theta, X, y, Xs):
    log_ell, log_sf, log_sn = theta
    K = kernel(X, X, log_ell, log_sf) + np.exp(2 * log_sn) * np.eye(len(y))
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    Ks = kernel(X, Xs, log_ell, log_sf)
    mean = Ks.T @ alpha
    v = np.linalg.solve(L, Ks)
    var = np.exp(2 * log_sf) - np.sum(v ** 2, axis=0)
    return mean, np.sqrt(np.clip(var, 0, None))


def fit(X, y, steps=60, lr=0.05):
    theta = np.array([0.0, 0.0, -1.0])
    history = [float(nll(theta, X, y))]
    for _ in range(steps):
        theta = theta - lr * nll_grad(theta, X, y)
        history.append(float(nll(theta, X, y)))
    return theta, history


def main():
    X, y = make_data()
    theta, history = fit(X, y)
    print(f"nll {history[0]:.6f} -> {history[-1]:.6f}")
    print("lengthscale %.5f, signal sd %.5f, noise sd %.5f" % tuple(np.exp(theta)))
    Xs = np.linspace(-3, 3, 5)[:, None]
    mean, sd = predict(theta, X, y, Xs)
    for x, m, s in zip(Xs[:, 0], mean, sd):
        print(f"x={x:+.2f}: {m:+.5f} +- {s:.5f} (sin {np.sin(x):+.5f})")


if __name__ == "__main__":
    main()
