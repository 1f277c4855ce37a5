"""Principal component analysis through the covariance matrix and its eigendecomposition.

Plain NumPy: center the data, ``np.cov(..., rowvar=False)``, ``np.linalg.eig``, sort the
components by variance, project and reconstruct.  ``captured_variance`` (the variance the
top ``k`` components keep, the sum of the top ``k`` eigenvalues) is a function of the data
whose gradient has a closed form, ``captured_variance_grad``: ``2/(n-1) Xc V V^T``.

    python examples/dropin/pca.py
"""
import numpy as np


def make_data(n=200, seed=0):
    """Points near a tilted plane in 3-D: two strong directions and one weak one."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 2)) * np.array([3.0, 1.0])
    mixing = np.array([[1.0, 0.5, 0.2], [-0.3, 1.0, 0.4]])
    return latent @ mixing + 0.1 * rng.standard_normal((n, 3)) + np.array([1.0, -2.0, 0.5])


def pca(X, k):
    """The mean (d,), the top ``k`` variances (k,) and components (d x k), largest first."""
    mean = X.mean(axis=0)
    C = np.cov(X - mean, rowvar=False)
    eigvals, eigvecs = np.linalg.eig(C)
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    return mean, eigvals[:k], eigvecs[:, :k]


def captured_variance(X, k):
    _, variances, _ = pca(X, k)
    return np.sum(variances)


def captured_variance_grad(X, k):
    """The gradient of :func:`captured_variance` with respect to X, by hand."""
    mean, _, V = pca(X, k)
    return 2.0 / (X.shape[0] - 1) * (X - mean) @ V @ V.T


def reconstruct(X, k):
    mean, _, V = pca(X, k)
    return (X - mean) @ V @ V.T + mean


def run(k=2, n=200, seed=0):
    X = make_data(n, seed)
    mean, variances, components = pca(X, k)
    total = np.trace(np.cov(X, rowvar=False))
    error = np.mean(np.sum((X - reconstruct(X, k)) ** 2, axis=1))
    return {"variances": variances, "components": components, "mean": mean,
            "explained_ratio": np.sum(variances) / total, "reconstruction_error": error}


def main():
    out = run()
    print("variances of the top components:", np.round(out["variances"], 4))
    print(f"explained variance ratio {float(out['explained_ratio']):.4f}")
    print(f"mean squared reconstruction error {float(out['reconstruction_error']):.5f}")


if __name__ == "__main__":
    main()
