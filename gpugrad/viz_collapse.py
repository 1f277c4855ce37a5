"""Collapsing repeated blocks of a :class:`gpugrad.viz.Graph`: the layers of a deep model.

The ops, in the graph's topological order, get a signature each: the op (with its constants),
its output shape, and per input either the distance back to the op that made it or the kind
and shape of the leaf. A run of MIN_REPEAT or more identical consecutive blocks of up to
MAX_PERIOD ops is then the same computation repeated (a Linear -> ReLU layer, an RNN step);
each run becomes one "×N" box, found greedily left to right (the run covering most ops first).
Contracting a contiguous stretch of a topological order keeps the graph acyclic.
"""
from __future__ import annotations

__all__ = ["collapse", "MIN_REPEAT", "MAX_PERIOD"]

MIN_REPEAT = 3   # the fewest identical consecutive blocks that collapse into one box
MAX_PERIOD = 64  # the most ops in one repeated block


def collapse(nodes, edges, ops):
    """Fold each run of MIN_REPEAT or more identical consecutive blocks of ops into one
    "repeat" box; a leaf used by one block only (that layer's parameters) goes inside it."""
    pos = {k: i for i, k in enumerate(ops)}
    preds = {}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
    sig_ids, sigs = {}, []
    for i, k in enumerate(ops):
        parts = [nodes[k].label, nodes[k].shape]
        for a in preds.get(k, ()):
            if a in pos:
                parts.append(("op", i - pos[a]))
            else:
                parts.append((nodes[a].kind, nodes[a].shape))
        sigs.append(sig_ids.setdefault(tuple(parts), len(sig_ids)))
    runs = _find_runs(sigs, [any(a not in pos for a in preds.get(k, ())) for k in ops])
    if not runs:
        return nodes, edges
    owner = {}  # node index -> (run number, block number)
    for r, (start, period, count) in enumerate(runs):
        for j in range(period * count):
            owner[ops[start + j]] = (r, j // period)
    consumers = {}
    for a, b in edges:
        consumers.setdefault(a, set()).add(owner.get(b, ("out", b)))
    hidden = {}  # leaf -> run
    for k, n in enumerate(nodes):
        if k not in pos and len(consumers.get(k, ())) == 1:
            (c,) = consumers[k]
            if c[0] != "out":
                hidden[k] = c[0]
                owner[k] = c
    new_nodes, new_index, boxes = [], {}, {}
    for k, n in enumerate(nodes):
        if k in owner:
            r = owner[k][0]
            if r not in boxes:
                boxes[r] = len(new_nodes)
                new_nodes.append(None)
            new_index[k] = boxes[r]
        else:
            new_index[k] = len(new_nodes)
            new_nodes.append(n)
    for r, (start, period, count) in enumerate(runs):
        members = [ops[start + j] for j in range(period * count)]
        params = [k for k, rr in hidden.items() if rr == r]
        new_nodes[boxes[r]] = _repeat_node(nodes, members, params, period, count)
    new_edges, seen = [], set()
    for a, b in edges:
        e = (new_index[a], new_index[b])
        if e[0] != e[1] and e not in seen:
            seen.add(e)
            new_edges.append(e)
    return new_nodes, new_edges


def _find_runs(sigs, takes_leaf):
    """[(start, period, count)]: greedy, left to right, the run covering the most ops (the
    shortest period on ties) with at least MIN_REPEAT identical blocks, its blocks starting
    where possible at an op that takes a leaf (where a layer's parameters come in)."""
    runs, i, n = [], 0, len(sigs)
    while i < n:
        best = None
        for p in range(1, min(MAX_PERIOD, (n - i) // MIN_REPEAT) + 1):
            c = _repeats(sigs, i, p)
            if c >= MIN_REPEAT and (best is None or p * c > best[0] * best[1]):
                best = (p, c)
        if best is None:
            i += 1
            continue
        p, c = best
        r = next((r for r in range(p) if takes_leaf[i + r]), 0)
        if r and _repeats(sigs, i + r, p) >= MIN_REPEAT:
            i, c = i + r, _repeats(sigs, i + r, p)
        runs.append((i, p, c))
        i += p * c
    return runs


def _repeats(sigs, i, p):
    """How many copies of the block sigs[i:i+p] follow one another from i."""
    block, c = sigs[i:i + p], 1
    while sigs[i + c * p:i + (c + 1) * p] == block:
        c += 1
    return c


def _repeat_node(nodes, members, params, period, count):
    ops = [nodes[k].label for k in members[:period]]
    seq = " → ".join(ops if len(ops) <= 4 else ops[:3] + [f"… ({len(ops)} ops)"])
    lines = [seq]
    names = [nodes[k].name for k in params if nodes[k].name]
    if names:
        lines.append(names[0] + (f" … {names[-1]}" if len(names) > 1 else ""))
    elif params:
        lines.append(f"{len(params) // count} parameters per block")
    from .viz import Node

    last = nodes[members[-1]]
    return Node("repeat", f"×{count}", shape=last.shape, lines=lines, output=last.output)
