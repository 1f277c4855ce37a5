"""Checking a hand-written gradient against centered finite differences.

Plain NumPy: ``eval_numerical_gradient`` walks every entry of the parameters with
``np.nditer`` (``multi_index``, ``readwrite``), nudging it in place; the function checked is
a multiclass SVM (hinge) loss whose margins are cut with ``margins[margins < 0] = 0`` and
``margins[np.arange(N), y] = 0``, next to its hand-written vectorized gradient.

    python examples/dropin/gradient_check.py
"""
import numpy as np


def svm_loss(W, X, y, reg):
    """Mean multiclass hinge loss of scores ``X @ W`` (N x C) plus ``reg * |W|^2``."""
    N = X.shape[0]
    scores = X.dot(W)
    correct = scores[np.arange(N), y]
    margins = scores - correct[:, np.newaxis] + 1.0
    margins[margins < 0] = 0
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    loss += reg * np.sum(W * W)
    return loss


def svm_grad(W, X, y, reg):
    """The gradient of :func:`svm_loss` with respect to ``W``, written out by hand."""
    N = X.shape[0]
    scores = X.dot(W)
    correct = scores[np.arange(N), y]
    active = (scores - correct[:, np.newaxis] + 1.0 > 0).astype(X.dtype)
    active[np.arange(N), y] = 0
    active[np.arange(N), y] = -np.sum(active, axis=1)
    dW = X.T.dot(active) / N
    dW += 2 * reg * W
    return dW


def eval_numerical_gradient(f, x, h=1e-5):
    """Centered differences of scalar ``f`` at every entry of ``x`` (restored afterwards)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def rel_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


def make_problem(n=20, d=6, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(0, classes, size=n)
    W = 0.1 * rng.standard_normal((d, classes))
    return W, X, y


def run(n=20, d=6, classes=4, reg=0.05, seed=0):
    """Both gradients of the SVM loss and their relative error."""
    W, X, y = make_problem(n, d, classes, seed)
    W_before = W.copy()
    numeric = eval_numerical_gradient(lambda w: svm_loss(w, X, y, reg), W)
    analytic = svm_grad(W, X, y, reg)
    if not np.array_equal(W, W_before):
        raise RuntimeError("the gradient check did not restore the parameters")
    return {"loss": svm_loss(W, X, y, reg), "numeric": numeric, "analytic": analytic,
            "rel_error": rel_error(numeric, analytic)}


def main():
    out = run()
    print(f"svm loss {float(out['loss']):.6f}")
    print(f"relative error, numeric vs analytic gradient: {float(out['rel_error']):.2e}")


if __name__ == "__main__":
    main()
