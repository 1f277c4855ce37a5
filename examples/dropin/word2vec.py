"""word2vec skip-gram with negative sampling, trained by hand with sparse updates.

Plain NumPy: the unigram^0.75 noise distribution feeds ``np.random.choice(V, size, p=...)``,
centre/context pairs come from a sliding window, the loss is
``-log s(u_o.v_c) - sum_k log s(-u_k.v_c)`` over a minibatch, and the gradients of the two
embedding tables are scattered with ``np.add.at`` (a word may repeat in a batch).

    python examples/dropin/word2vec.py
"""
import numpy as np

CORPUS = ("the quick brown fox jumps over the lazy dog . the dog sleeps and the fox runs . "
          "a quick dog and a lazy fox . the brown dog jumps over the quick fox .").split()


def build_vocab(words):
    vocab, counts = np.unique(words, return_counts=True)
    w2i = {w: i for i, w in enumerate(vocab)}
    return vocab, w2i, counts


def skipgram_pairs(ids, window=2):
    pairs = [(ids[i], ids[j]) for i in range(len(ids))
             for j in range(max(0, i - window), min(len(ids), i + window + 1)) if j != i]
    return np.array(pairs)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def loss(Vin, Uout, centres, contexts, negatives):
    v = Vin[centres]                                # (B, D)
    pos = np.sum(v * Uout[contexts], axis=1)        # (B,)
    neg = np.einsum("bd,bkd->bk", v, Uout[negatives])
    return -np.mean(np.log(sigmoid(pos)) + np.sum(np.log(sigmoid(-neg)), axis=1))


def gradients(Vin, Uout, centres, contexts, negatives):
    B = len(centres)
    v, uo, uk = Vin[centres], Uout[contexts], Uout[negatives]
    gpos = (sigmoid(np.sum(v * uo, axis=1)) - 1) / B           # d loss / d pos
    gneg = sigmoid(np.einsum("bd,bkd->bk", v, uk)) / B         # d loss / d neg
    dv = gpos[:, None] * uo + np.einsum("bk,bkd->bd", gneg, uk)
    dVin = np.zeros_like(Vin)
    dUout = np.zeros_like(Uout)
    np.add.at(dVin, centres, dv)
    np.add.at(dUout, contexts, gpos[:, None] * v)
    np.add.at(dUout, negatives, gneg[:, :, None] * v[:, None, :])
    return dVin, dUout


def train(epochs=30, D=8, K=3, batch=16, lr=0.5, seed=0):
    np.random.seed(seed)
    vocab, w2i, counts = build_vocab(CORPUS)
    pairs = skipgram_pairs([w2i[w] for w in CORPUS])
    noise = counts ** 0.75
    noise = noise / noise.sum()
    Vin = (np.random.rand(len(vocab), D) - 0.5) / D
    Uout = np.zeros((len(vocab), D))
    history = []
    for _ in range(epochs):
        order = np.random.permutation(len(pairs))
        total = 0.0
        for s in range(0, len(order), batch):
            c, o = pairs[order[s:s + batch]].T
            negs = np.random.choice(len(vocab), size=(len(c), K), p=noise)
            total += loss(Vin, Uout, c, o, negs) * len(c)
            dV, dU = gradients(Vin, Uout, c, o, negs)
            Vin -= lr * dV
            Uout -= lr * dU
        history.append(total / len(pairs))
    return history, vocab, w2i, Vin


def most_similar(word, vocab, w2i, Vin, n=3):
    E = Vin / np.linalg.norm(Vin, axis=1, keepdims=True)
    sims = E @ E[w2i[word]]
    best = np.argsort(-sims)[1:n + 1]
    return [(str(vocab[i]), float(sims[i])) for i in best]


def main():
    history, vocab, w2i, Vin = train()
    print(f"vocabulary {len(vocab)} words; loss {history[0]:.5f} -> {history[-1]:.5f}")
    for w in ("fox", "dog"):
        print(w, ", ".join(f"{u} {s:.4f}" for u, s in most_similar(w, vocab, w2i, Vin)))


if __name__ == "__main__":
    main()
