"""k-means clustering (Lloyd's algorithm) with k-means++ seeding.

Plain NumPy: squared distances through the expansion ``|x|^2 - 2 x.c + |c|^2``, clipped at
zero in place with ``np.maximum(d, 0, out=d)`` (rounding can make them slightly negative),
``argmin`` assignments and per-cluster means.  The objective, ``inertia`` (the sum of each
point's squared distance to its nearest centroid), has the hand-written gradient
``inertia_grad``: ``2 (n_j c_j - sum of the points of cluster j)`` for centroid j.

    python examples/dropin/kmeans.py
"""
import numpy as np


def make_blobs(n_per_blob=40, centers=((0.0, 0.0), (4.0, 1.0), (1.0, 4.0)), scale=0.7, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array(centers)
    X = np.concatenate([c + scale * rng.standard_normal((n_per_blob, 2)) for c in centers])
    y = np.repeat(np.arange(len(centers)), n_per_blob)
    return X, y


def pairwise_sq_dists(X, C):
    """Squared distances (N x K) between the rows of X (N x D) and of C (K x D)."""
    d = np.sum(X ** 2, axis=1)[:, np.newaxis] - 2 * X @ C.T + np.sum(C ** 2, axis=1)
    np.maximum(d, 0, out=d)
    return d


def inertia(C, X):
    return np.sum(np.min(pairwise_sq_dists(X, C), axis=1))


def inertia_grad(C, X):
    """The gradient of :func:`inertia` with respect to the centroids C, by hand."""
    labels = np.argmin(pairwise_sq_dists(X, C), axis=1)
    grad = np.zeros_like(C)
    for j in range(C.shape[0]):
        members = X[labels == j]
        grad[j] = 2 * (len(members) * C[j] - members.sum(axis=0))
    return grad


def init_plus_plus(X, k, rng):
    """k-means++: each new centroid drawn with probability proportional to D(x)^2."""
    centers = [X[rng.integers(len(X))]]
    for _ in range(1, k):
        d = np.min(pairwise_sq_dists(X, np.array(centers)), axis=1)
        centers.append(X[rng.choice(len(X), p=d / d.sum())])
    return np.array(centers)


def kmeans(X, k, iters=50, seed=0):
    """Lloyd iterations until the centroids stop moving; returns (C, labels, inertias)."""
    rng = np.random.default_rng(seed)
    C = init_plus_plus(X, k, rng)
    history = [inertia(C, X)]
    for _ in range(iters):
        labels = np.argmin(pairwise_sq_dists(X, C), axis=1)
        new_C = C.copy()
        for j in range(k):
            if np.any(labels == j):
                new_C[j] = X[labels == j].mean(axis=0)
        if np.array_equal(new_C, C):
            break
        C = new_C
        history.append(inertia(C, X))
    return C, np.argmin(pairwise_sq_dists(X, C), axis=1), history


def main():
    X, y = make_blobs()
    C, labels, history = kmeans(X, 3)
    print(f"inertia {float(history[0]):.3f} -> {float(history[-1]):.3f} "
          f"in {len(history) - 1} iterations")
    for j in range(3):
        print(f"cluster {j}: {int(np.sum(labels == j))} points, "
              f"centre ({float(C[j, 0]):.3f}, {float(C[j, 1]):.3f})")


if __name__ == "__main__":
    main()
