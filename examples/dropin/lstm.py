"""An LSTM run over a short sequence, forward and backward through time by hand.

Plain NumPy in the style of the classic from-scratch LSTM posts: the input and the previous
hidden state are joined with ``np.hstack``, one matrix product gives all four gates, which
``np.split`` separates; the backward pass joins the gate gradients again with
``np.concatenate`` and accumulates the weight gradient with ``+=``.

    python examples/dropin/lstm.py
"""
import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def init_params(D, H, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.uniform(-0.5, 0.5, size=(D + H, 4 * H))
    b = np.zeros(4 * H)
    b[H:2 * H] = 1.0  # forget-gate bias
    return {"W": W, "b": b, "Wy": 0.5 * rng.standard_normal((H, 1))}


def forward(params, xs):
    """xs (T, D); returns predictions (T,) and the cache for the backward pass."""
    H = params["Wy"].shape[0]
    h, c = np.zeros(H), np.zeros(H)
    cache, ys = [], []
    for x in xs:
        z = np.hstack((x, h))
        i, f, o, g = np.split(z @ params["W"] + params["b"], 4)
        i, f, o, g = sigmoid(i), sigmoid(f), sigmoid(o), np.tanh(g)
        c_prev = c
        c = f * c + i * g
        h = o * np.tanh(c)
        cache.append((z, i, f, o, g, c_prev, c))
        ys.append((h @ params["Wy"])[0])
    return np.array(ys), cache


def loss(params, xs, targets):
    ys, _ = forward(params, xs)
    return 0.5 * np.sum((ys - targets) ** 2)


def gradients(params, xs, targets):
    ys, cache = forward(params, xs)
    H = params["Wy"].shape[0]
    D = xs.shape[1]
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next, dc_next = np.zeros(H), np.zeros(H)
    for t in reversed(range(len(xs))):
        z, i, f, o, g, c_prev, c = cache[t]
        dy = ys[t] - targets[t]
        h = o * np.tanh(c)
        grads["Wy"] += np.outer(h, dy)
        dh = params["Wy"][:, 0] * dy + dh_next
        do = dh * np.tanh(c)
        dc = dh * o * (1 - np.tanh(c) ** 2) + dc_next
        di, df, dg = dc * g, dc * c_prev, dc * i
        dgates = np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o),
                                 dg * (1 - g ** 2)])
        grads["W"] += np.outer(z, dgates)
        grads["b"] += dgates
        dz = params["W"] @ dgates
        dh_next, dc_next = dz[D:], f * dc
    return grads


def make_data(T=12, seed=1):
    """Predict a lagged running sum of a noisy input: a task that needs memory."""
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((T, 2))
    targets = 0.3 * np.cumsum(xs[:, 0]) - 0.2 * np.roll(xs[:, 1], 1)
    return xs, targets


def train(steps=40, lr=0.05, H=6):
    xs, targets = make_data()
    params = init_params(xs.shape[1], H)
    history = []
    for _ in range(steps):
        history.append(float(loss(params, xs, targets)))
        grads = gradients(params, xs, targets)
        for k in params:
            np.clip(grads[k], -5, 5, out=grads[k])
            params[k] -= lr * grads[k]
    return history, params


def main():
    history, params = train()
    print(f"loss {history[0]:.6f} -> {history[-1]:.6f}")
    for k in sorted(params):
        print(f"{k}: mean {params[k].mean():+.6f}, max |.| {np.abs(params[k]).max():.6f}")


if __name__ == "__main__":
    main()
