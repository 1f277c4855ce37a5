"""L2-regularized logistic regression fitted by L-BFGS with a backtracking (Armijo) line search.

Plain NumPy as in optimization course notes: a numerically stable loss via
``np.logaddexp(0, -y * z)``, the hand-written gradient with ``np.where`` for a stable
sigmoid, the two-loop recursion over a short history of ``(s, y)`` pairs kept in Python
lists, the line search halving ``t`` until the sufficient-decrease test passes, and the
stopping test ``np.linalg.norm(g) < tol``; probabilities are clipped with ``np.clip``.

    python examples/dropin/logistic_lbfgs.py
"""
import numpy as np


def make_data(n=80, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = np.array([2.0, -1.0, 0.5, 0.0])
    y = np.where(X @ w_true + 0.5 * rng.standard_normal(n) > 0, 1.0, -1.0)
    return np.hstack([X, np.ones((n, 1))]), y


def sigmoid(z):
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1 / (1 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1 + ez)
    return out


def loss(w, X, y, lam=0.1):
    return np.mean(np.logaddexp(0, -y * (X @ w))) + 0.5 * lam * np.dot(w[:-1], w[:-1])


def grad(w, X, y, lam=0.1):
    m = -y * sigmoid(-y * (X @ w))
    g = X.T @ m / len(y)
    g[:-1] += lam * w[:-1]
    return g


def two_loop(g, S, Y):
    q = g.copy()
    alphas = []
    for s, yv in zip(reversed(S), reversed(Y)):
        a = np.dot(s, q) / np.dot(yv, s)
        q -= a * yv
        alphas.append(a)
    if S:
        q *= np.dot(S[-1], Y[-1]) / np.dot(Y[-1], Y[-1])
    for (s, yv), a in zip(zip(S, Y), reversed(alphas)):
        b = np.dot(yv, q) / np.dot(yv, s)
        q += (a - b) * s
    return -q


def lbfgs(X, y, m=5, tol=1e-8, max_iter=50):
    w = np.zeros(X.shape[1])
    f, g = loss(w, X, y), grad(w, X, y)
    S, Y, history = [], [], [float(f)]
    for it in range(max_iter):
        if np.linalg.norm(g) < tol:
            break
        d = two_loop(g, S, Y)
        t = 1.0
        while loss(w + t * d, X, y) > f + 1e-4 * t * np.dot(g, d):
            t *= 0.5
        w_new = w + t * d
        g_new = grad(w_new, X, y)
        S.append(w_new - w)
        Y.append(g_new - g)
        if len(S) > m:
            S.pop(0)
            Y.pop(0)
        w, g = w_new, g_new
        f = loss(w, X, y)
        history.append(float(f))
    return w, history, it


def main():
    X, y = make_data()
    w, history, iters = lbfgs(X, y)
    p = np.clip(sigmoid(X @ w), 1e-12, 1 - 1e-12)
    acc = np.mean((p > 0.5) == (y > 0))
    print(f"L-BFGS: {iters} iterations, loss {history[0]:.8f} -> {history[-1]:.10f}")
    print("weights", np.array2string(w, precision=6))
    print(f"training accuracy {float(acc):.4f}, |grad| {float(np.linalg.norm(grad(w, X, y))):.3e}")


if __name__ == "__main__":
    main()
