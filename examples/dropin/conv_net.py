"""A convolution layer and 2x2 max-pooling, forward and backward by hand, as in a CNN course.

Plain NumPy: the input is zero-padded with ``np.pad``, the convolution runs as one matrix
product over patches cut out by ``np.lib.stride_tricks.sliding_window_view``; the backward
pass scatters the patch gradients back with ``np.add.at`` (col2im); max-pooling keeps its
argmax per window (``np.take_along_axis``) and routes the gradient there
(``np.put_along_axis``).  The gradient with respect to the input image goes through the
sliding windows too.

    python examples/dropin/conv_net.py
"""
import numpy as np


def conv_forward(x, w, b, pad=1):
    """x (N, C, H, W), w (F, C, KH, KW), b (F,): stride-1 convolution, output (N, F, H', W')."""
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    win = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
    Ho, Wo = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, C * KH * KW)
    out = cols @ w.reshape(F, -1).T + b
    return out.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), cols


def conv_backward(dout, x, w, cols, pad=1):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    d2 = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    db = d2.sum(axis=0)
    dw = (d2.T @ cols).reshape(w.shape)
    dcols = (d2 @ w.reshape(F, -1)).reshape(N, Ho, Wo, C, KH, KW)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    for i in range(KH):
        for j in range(KW):
            np.add.at(dxp, (slice(None), slice(None), slice(i, i + Ho), slice(j, j + Wo)),
                      dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2))
    return dxp[:, :, pad:-pad, pad:-pad], dw, db


def maxpool_forward(x):
    """2x2, stride 2; returns the pooled map and the argmax inside each window."""
    N, C, H, W = x.shape
    win = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
        N, C, H // 2, W // 2, 4)
    idx = np.argmax(win, axis=-1)
    out = np.take_along_axis(win, idx[..., None], axis=-1)[..., 0]
    return out, idx


def maxpool_backward(dout, idx, shape):
    N, C, H, W = shape
    dwin = np.zeros(idx.shape + (4,))
    np.put_along_axis(dwin, idx[..., None], dout[..., None], axis=-1)
    return dwin.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def loss(params, x, y):
    """ReLU(conv) -> maxpool -> linear -> softmax cross-entropy (mean over the batch)."""
    h, _ = conv_forward(x, params["w"], params["b"])
    h = np.maximum(h, 0)
    p, _ = maxpool_forward(h)
    scores = p.reshape(x.shape[0], -1) @ params["V"]
    scores = scores - scores.max(axis=1, keepdims=True)
    logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y])


def gradients(params, x, y, with_input=False):
    N = x.shape[0]
    h, cols = conv_forward(x, params["w"], params["b"])
    a = np.maximum(h, 0)
    p, idx = maxpool_forward(a)
    flat = p.reshape(N, -1)
    scores = flat @ params["V"]
    probs = np.exp(scores - scores.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    probs[np.arange(N), y] -= 1
    dscores = probs / N
    dV = flat.T @ dscores
    dp = (dscores @ params["V"].T).reshape(p.shape)
    da = maxpool_backward(dp, idx, a.shape)
    dh = np.where(h > 0, da, 0.0)
    dx, dw, db = conv_backward(dh, x, params["w"], cols)
    grads = {"w": dw, "b": db, "V": dV}
    if with_input:
        grads["x"] = dx
    return grads


def make_problem(N=4, C=2, H=6, F=3, K=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, H))
    y = rng.integers(0, K, size=N)
    params = {"w": 0.5 * rng.standard_normal((F, C, 3, 3)), "b": 0.1 * rng.standard_normal(F),
              "V": 0.3 * rng.standard_normal((F * (H // 2) ** 2, K))}
    return params, x, y


def train(steps=30, lr=0.5):
    params, x, y = make_problem()
    history = []
    for _ in range(steps):
        history.append(float(loss(params, x, y)))
        for k, g in gradients(params, x, y).items():
            params[k] -= lr * g
    return history, params


def main():
    params, x, y = make_problem()
    g = gradients(params, x, y)
    for k in sorted(g):
        print(f"d{k}: shape {g[k].shape}, norm {np.linalg.norm(g[k]):.6f}")
    history, _ = train()
    print(f"loss {history[0]:.5f} -> {history[-1]:.5f}")


if __name__ == "__main__":
    main()
