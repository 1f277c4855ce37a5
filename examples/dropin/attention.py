"""Causal self-attention (one head) forward and backward by hand with ``np.einsum``.

Plain NumPy as in from-scratch transformer posts: queries, keys and values from one
projection split with ``np.split``, scores ``einsum("btd,bsd->bts")`` scaled by
``1/sqrt(d)``, a causal mask from ``np.triu(np.ones((T, T), dtype=bool), k=1)`` applied with
``np.where(mask, -np.inf, scores)``, a stable softmax, and the hand-written backward pass
(softmax Jacobian-vector product ``p * (dp - sum(dp * p))``) checked against autodiff.

    python examples/dropin/attention.py
"""
import numpy as np


def softmax(z, axis=-1):
    z = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def attention_forward(x, Wqkv, Wo):
    B, T, D = x.shape
    q, k, v = np.split(x @ Wqkv, 3, axis=-1)
    scores = np.einsum("btd,bsd->bts", q, k) / np.sqrt(D)
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)
    p = softmax(np.where(mask, -np.inf, scores))
    ctx = np.einsum("bts,bsd->btd", p, v)
    return ctx @ Wo, (q, k, v, p, ctx)


def loss(params, x, target):
    out, _ = attention_forward(x, params["Wqkv"], params["Wo"])
    return 0.5 * np.sum((out - target) ** 2) / x.shape[0]


def gradients(params, x, target):
    B, T, D = x.shape
    out, (q, k, v, p, ctx) = attention_forward(x, params["Wqkv"], params["Wo"])
    dout = (out - target) / B
    dWo = np.einsum("btd,bte->de", ctx, dout)
    dctx = dout @ params["Wo"].T
    dp = np.einsum("btd,bsd->bts", dctx, v)
    dv = np.einsum("bts,btd->bsd", p, dctx)
    dscores = p * (dp - np.sum(dp * p, axis=-1, keepdims=True)) / np.sqrt(D)
    dq = np.einsum("bts,bsd->btd", dscores, k)
    dk = np.einsum("bts,btd->bsd", dscores, q)
    dqkv = np.concatenate([dq, dk, dv], axis=-1)
    dWqkv = x.reshape(-1, D).T @ dqkv.reshape(-1, 3 * D)
    return {"Wqkv": dWqkv, "Wo": dWo}


def make_problem(B=2, T=5, D=4, seed=0):
    """Target: each position's output is the running mean of the inputs so far."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, D))
    target = np.cumsum(x, axis=1) / np.arange(1, T + 1)[None, :, None]
    params = {"Wqkv": rng.standard_normal((D, 3 * D)) / np.sqrt(D),
              "Wo": rng.standard_normal((D, D)) / np.sqrt(D)}
    return params, x, target


def train(steps=100, lr=0.1):
    params, x, target = make_problem()
    history = []
    for _ in range(steps):
        history.append(float(loss(params, x, target)))
        for name, g in gradients(params, x, target).items():
            params[name] -= lr * g
    return history, params


def main():
    params, x, target = make_problem()
    _, (_, _, _, p, _) = attention_forward(x, params["Wqkv"], params["Wo"])
    print("attention of the last position:", np.round(p[0, -1], 5))
    print("upper triangle is zero:", bool(np.all(p[:, np.triu_indices(5, 1)[0],
                                                     np.triu_indices(5, 1)[1]] == 0)))
    history, params = train()
    print(f"loss {history[0]:.6f} -> {history[-1]:.6f}")


if __name__ == "__main__":
    main()
