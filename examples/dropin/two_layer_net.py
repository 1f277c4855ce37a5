"""A two-layer ReLU network on a spiral data set, trained with a hand-written backward pass.

Plain NumPy: the ReLU runs in place (``np.maximum(hidden, 0, out=hidden)``), inverted
dropout multiplies in place (``hidden *= mask``), the scores are stabilized with
``scores -= np.max(scores, axis=1, keepdims=True)``; the backward pass routes the gradient
through the ReLU with ``dhidden[hidden <= 0] = 0`` and the SGD step updates with ``-=``.

    python examples/dropin/two_layer_net.py
"""
import numpy as np


def make_spiral(points_per_class=40, classes=3, seed=0):
    """``classes`` interleaved spiral arms in the plane; returns X (N x 2) and labels y."""
    rng = np.random.default_rng(seed)
    N = points_per_class * classes
    X = np.zeros((N, 2))
    y = np.zeros(N, dtype=np.int64)
    for j in range(classes):
        ix = np.arange(points_per_class * j, points_per_class * (j + 1))
        r = np.linspace(0.0, 1.0, points_per_class)
        t = np.linspace(j * 4.0, (j + 1) * 4.0, points_per_class)
        t = t + 0.2 * rng.standard_normal(points_per_class)
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return X, y


def init_params(D, H, C, std=0.5, seed=1):
    rng = np.random.default_rng(seed)
    return {"W1": std * rng.standard_normal((D, H)), "b1": np.zeros(H),
            "W2": std * rng.standard_normal((H, C)) / np.sqrt(H), "b2": np.zeros(C)}


def forward(params, X, mask=None):
    """Hidden activations (N x H) and class scores (N x C)."""
    hidden = X @ params["W1"] + params["b1"]
    np.maximum(hidden, 0, out=hidden)
    if mask is not None:
        hidden *= mask
    scores = hidden @ params["W2"] + params["b2"]
    return hidden, scores


def loss(params, X, y, reg=0.0, mask=None):
    """Mean softmax cross-entropy plus ``0.5 * reg * (|W1|^2 + |W2|^2)``."""
    N = X.shape[0]
    _, scores = forward(params, X, mask)
    scores -= np.max(scores, axis=1, keepdims=True)
    log_probs = scores - np.log(np.sum(np.exp(scores), axis=1, keepdims=True))
    data_loss = -np.sum(log_probs[np.arange(N), y])
    data_loss /= N
    W1, W2 = params["W1"], params["W2"]
    return data_loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))


def gradients(params, X, y, reg=0.0, mask=None):
    """The gradient of :func:`loss` for every parameter, by hand."""
    N = X.shape[0]
    hidden, scores = forward(params, X, mask)
    scores -= np.max(scores, axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= np.sum(probs, axis=1, keepdims=True)
    dscores = probs
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W2": hidden.T @ dscores + reg * params["W2"], "b2": np.sum(dscores, axis=0)}
    dhidden = dscores @ params["W2"].T
    if mask is not None:
        dhidden *= mask
    dhidden[hidden <= 0] = 0
    grads["W1"] = X.T @ dhidden + reg * params["W1"]
    grads["b1"] = np.sum(dhidden, axis=0)
    return grads


def dropout_mask(shape, keep, rng):
    return (rng.random(shape) < keep) / keep


def accuracy(params, X, y):
    return np.mean(np.argmax(forward(params, X)[1], axis=1) == y)


def train(hidden_size=32, steps=300, lr=1.0, reg=1e-3, keep=0.9, seed=0, verbose=True):
    """Full-batch SGD with dropout; returns (losses, training accuracy, params)."""
    X, y = make_spiral(seed=seed)
    params = init_params(X.shape[1], hidden_size, 3, seed=seed + 1)
    rng = np.random.default_rng(seed + 2)
    history = []
    for step in range(steps):
        mask = dropout_mask((X.shape[0], hidden_size), keep, rng)
        history.append(float(loss(params, X, y, reg, mask)))
        grads = gradients(params, X, y, reg, mask)
        for k in params:
            params[k] -= lr * grads[k]
        if verbose and step % 100 == 0:
            print(f"step {step:4d}  loss {history[-1]:.4f}")
    return history, accuracy(params, X, y), params


def main():
    history, acc, _ = train()
    print(f"loss {history[0]:.4f} -> {history[-1]:.4f}  training accuracy {float(acc):.3f}")


if __name__ == "__main__":
    main()
