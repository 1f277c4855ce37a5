"""A character-level vanilla RNN trained with hand-written backpropagation through time.

Plain NumPy: one-hot inputs, a tanh recurrence, a softmax over the next character (its
logits stabilized in place with ``y -= np.max(y)``), gradients clipped in place with
``np.clip(..., out=...)`` and an Adagrad update.  ``loss`` is the forward pass alone, so
``gpugrad.grad(loss)`` can be compared with ``loss_and_grads``, the hand-written backward.

    python examples/dropin/char_rnn.py
"""
import numpy as np

TEXT = ("the quick brown fox jumps over the lazy dog. "
        "pack my box with five dozen liquor jugs. "
        "how vexingly quick daft zebras jump. ")
NAMES = ("Wxh", "Whh", "Why", "bh", "by")


def build_vocab(text):
    """The sorted characters of ``text`` and the two lookup tables."""
    chars = sorted(set(text))
    char_to_ix = {ch: i for i, ch in enumerate(chars)}
    ix_to_char = {i: ch for i, ch in enumerate(chars)}
    return chars, char_to_ix, ix_to_char


def init_params(vocab_size, hidden_size, seed=0):
    np.random.seed(seed)
    return {
        "Wxh": np.random.randn(hidden_size, vocab_size) * 0.01,
        "Whh": np.random.randn(hidden_size, hidden_size) * 0.01,
        "Why": np.random.randn(vocab_size, hidden_size) * 0.01,
        "bh": np.zeros((hidden_size, 1)),
        "by": np.zeros((vocab_size, 1)),
    }


def forward(params, inputs, targets, hprev):
    """Unroll the RNN over ``inputs``; returns the summed cross-entropy and the cache."""
    Wxh, Whh, Why, bh, by = (params[k] for k in NAMES)
    vocab_size = Why.shape[0]
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        y -= np.max(y)
        ps[t] = np.exp(y) / np.sum(np.exp(y))
        loss += -np.log(ps[t][targets[t], 0])
    return loss, (xs, hs, ps)


def loss(params, inputs, targets, hprev):
    return forward(params, inputs, targets, hprev)[0]


def loss_and_grads(params, inputs, targets, hprev):
    """The loss, the gradient of every parameter (backprop through time), the last state."""
    loss, (xs, hs, ps) = forward(params, inputs, targets, hprev)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        grads["Why"] += dy @ hs[t].T
        grads["by"] += dy
        dh = params["Why"].T @ dy + dhnext
        dhraw = (1 - hs[t] * hs[t]) * dh
        grads["bh"] += dhraw
        grads["Wxh"] += dhraw @ xs[t].T
        grads["Whh"] += dhraw @ hs[t - 1].T
        dhnext = params["Whh"].T @ dhraw
    return loss, grads, hs[len(inputs) - 1]


def sample(params, h, seed_ix, n):
    """Draw ``n`` character indices from the model, starting after ``seed_ix``."""
    vocab_size = params["Why"].shape[0]
    x = np.zeros((vocab_size, 1))
    x[seed_ix] = 1
    ixes = []
    for _ in range(n):
        h = np.tanh(params["Wxh"] @ x + params["Whh"] @ h + params["bh"])
        y = params["Why"] @ h + params["by"]
        p = np.exp(y - np.max(y))
        p /= np.sum(p)
        ix = np.random.choice(range(vocab_size), p=p.ravel())
        x = np.zeros((vocab_size, 1))
        x[ix] = 1
        ixes.append(ix)
    return ixes


def train(text=TEXT, hidden_size=24, seq_length=16, steps=100, lr=0.1, seed=0, verbose=True):
    """Adagrad on consecutive chunks of ``text``; returns (losses, a sample, params)."""
    chars, char_to_ix, ix_to_char = build_vocab(text)
    params = init_params(len(chars), hidden_size, seed)
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    hprev = np.zeros((hidden_size, 1))
    history = []
    p = 0
    for step in range(steps):
        if p + seq_length + 1 >= len(text):
            hprev = np.zeros((hidden_size, 1))
            p = 0
        inputs = [char_to_ix[ch] for ch in text[p:p + seq_length]]
        targets = [char_to_ix[ch] for ch in text[p + 1:p + seq_length + 1]]
        loss, grads, hprev = loss_and_grads(params, inputs, targets, hprev)
        for k in NAMES:
            np.clip(grads[k], -5, 5, out=grads[k])
            mem[k] += grads[k] * grads[k]
            params[k] += -lr * grads[k] / np.sqrt(mem[k] + 1e-8)
        history.append(float(loss) / seq_length)
        if verbose and step % 40 == 0:
            print(f"step {step:4d}  loss per char {history[-1]:.3f}")
        p += seq_length
    text_out = "".join(ix_to_char[ix] for ix in sample(params, hprev, inputs[0], 40))
    return history, text_out, params


def main():
    history, text_out, _ = train()
    print(f"loss per char {history[0]:.3f} -> {history[-1]:.3f}")
    print("sample:", repr(text_out))


if __name__ == "__main__":
    main()
