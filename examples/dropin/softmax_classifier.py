"""A linear softmax classifier trained by gradient descent with a hand-written gradient.

Plain NumPy: a bias column appended with ``np.hstack``, class scores stabilized in place with
``scores -= np.max(scores, axis=1, keepdims=True)``, probabilities normalized with ``/=``,
the loss accumulated with ``+=`` and the weights stepped with ``-=`` and decayed with ``*=``.

    python examples/dropin/softmax_classifier.py
"""
import numpy as np


def make_data(n_per_class=50, classes=4, dim=5, seed=0):
    """Gaussian classes around random means; a column of ones is appended for the bias."""
    rng = np.random.default_rng(seed)
    means = 2.0 * rng.standard_normal((classes, dim))
    X = np.vstack([m + rng.standard_normal((n_per_class, dim)) for m in means])
    y = np.repeat(np.arange(classes), n_per_class)
    X = np.hstack([X, np.ones((X.shape[0], 1))])
    return X, y


def softmax_loss(W, X, y, reg):
    """Mean cross-entropy of the softmax of ``X @ W`` plus ``0.5 * reg * |W|^2``."""
    N = X.shape[0]
    scores = X @ W
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y]))
    loss += 0.5 * reg * np.sum(W * W)
    return loss


def softmax_grad(W, X, y, reg):
    """The gradient of :func:`softmax_loss` with respect to W, by hand."""
    N = X.shape[0]
    scores = X @ W
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= np.sum(probs, axis=1, keepdims=True)
    probs[np.arange(N), y] -= 1
    dW = X.T @ probs / N
    dW += reg * W
    return dW


def predict(W, X):
    return np.argmax(X @ W, axis=1)


def train(steps=200, lr=0.5, reg=1e-3, decay=1e-3, seed=0, verbose=True):
    """Gradient descent with a small weight decay; returns (losses, accuracy, W)."""
    X, y = make_data(seed=seed)
    rng = np.random.default_rng(seed + 1)
    W = 0.01 * rng.standard_normal((X.shape[1], int(y.max()) + 1))
    history = []
    for step in range(steps):
        history.append(float(softmax_loss(W, X, y, reg)))
        W -= lr * softmax_grad(W, X, y, reg)
        W *= 1.0 - decay
        if verbose and step % 50 == 0:
            print(f"step {step:4d}  loss {history[-1]:.4f}")
    return history, np.mean(predict(W, X) == y), W


def main():
    history, acc, _ = train()
    print(f"loss {history[0]:.4f} -> {history[-1]:.4f}  training accuracy {float(acc):.3f}")


if __name__ == "__main__":
    main()
