"""Ranking metrics for a small search-results table kept in a NumPy structured array.

Plain NumPy: records with ``np.dtype([("query", "i4"), ("doc", "U8"), ("score", "f8"),
("label", "i4")])``, sorted per query with ``np.lexsort``; precision@k, average precision,
NDCG@k from ``np.argsort`` and ``np.cumsum``, ROC AUC from ranks (``scipy.stats.rankdata``'s
average ranks rebuilt with ``np.unique``), and a smooth pairwise (RankNet) loss whose
hand-written gradient is compared with the automatic one.

    python examples/dropin/ranking.py
"""
import numpy as np

RESULTS = np.dtype([("query", "i4"), ("doc", "U8"), ("score", "f8"), ("label", "i4")])


def make_table(n_queries=3, per_query=6, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for q in range(n_queries):
        labels = rng.integers(0, 3, size=per_query)
        scores = labels + rng.normal(0, 1.0, size=per_query)
        for i in range(per_query):
            rows.append((q, f"d{q}_{i}", round(float(scores[i]), 3), labels[i]))
    return np.array(rows, dtype=RESULTS)


def precision_at_k(labels_in_rank_order, k):
    return np.mean(labels_in_rank_order[:k] > 0)


def average_precision(labels_in_rank_order):
    rel = labels_in_rank_order > 0
    if not rel.any():
        return 0.0
    hits = np.cumsum(rel)
    return np.sum((hits / np.arange(1, len(rel) + 1))[rel]) / rel.sum()


def ndcg_at_k(labels_in_rank_order, k):
    gains = 2.0 ** labels_in_rank_order - 1
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    dcg = np.sum(gains[:k] * discounts[:k])
    ideal = np.sort(gains)[::-1]
    return dcg / np.sum(ideal[:k] * discounts[:k])


def average_ranks(x):
    """1-based ranks, ties sharing their average rank."""
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def roc_auc(scores, positive):
    ranks = average_ranks(scores)
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def ranknet_loss(scores, labels):
    """sum over pairs with labels[i] > labels[j] of log(1 + exp(-(s_i - s_j)))."""
    diff = scores[:, None] - scores[None, :]
    pairs = labels[:, None] > labels[None, :]
    return np.sum(np.where(pairs, np.logaddexp(0, -diff), 0.0))


def ranknet_grad(scores, labels):
    diff = scores[:, None] - scores[None, :]
    pairs = (labels[:, None] > labels[None, :]).astype(float)
    lam = -pairs / (1 + np.exp(diff))
    return lam.sum(axis=1) - lam.sum(axis=0)


def report(table, k=3):
    order = np.lexsort((-table["score"], table["query"]))
    ranked = table[order]
    rows = []
    for q in np.unique(ranked["query"]):
        labels = ranked["label"][ranked["query"] == q]
        rows.append((int(q), precision_at_k(labels, k), average_precision(labels),
                     ndcg_at_k(labels, k)))
    auc = roc_auc(table["score"], table["label"] > 0)
    return ranked, rows, auc


def main():
    table = make_table()
    ranked, rows, auc = report(table)
    print("top documents:", ", ".join(str(d) for d in ranked["doc"][:4]))
    for q, p, ap, ndcg in rows:
        print(f"query {q}: P@3 {float(p):.4f}  AP {float(ap):.4f}  NDCG@3 {float(ndcg):.4f}")
    print(f"ROC AUC {float(auc):.6f}")
    scores = np.asarray(table["score"][:6], dtype=float)
    print(f"RankNet loss {float(ranknet_loss(scores, table['label'][:6])):.6f}")


if __name__ == "__main__":
    main()
