"""The pure-Python layout of a :class:`gpugrad.viz.Graph` (Sugiyama style), left to right.

Layers by longest path (inputs on the left, each node as far right as its consumers allow), a
dummy point per layer crossed by a long edge, orders within layers by barycenter sweeps
(keeping the order with the fewest crossings, then swapping neighbours while that removes
crossings), and vertical positions that pull each node toward its neighbours while keeping
the layer's order and spacing (an isotonic regression). Box sizes come from a fixed
character width, so the result is the same everywhere.
"""
from __future__ import annotations

__all__ = ["Layout", "layout"]

CHAR_W, LINE_H, PAD_X, PAD_Y = 7.2, 16.0, 10.0, 6.0   # 12px monospace text
LAYER_GAP, NODE_GAP, DUMMY_GAP, MARGIN = 56.0, 18.0, 8.0, 16.0


class Layout:
    """``boxes[i]`` = (left, top, width, height) of node i; ``paths[j]`` = the points of edge
    j: start, then (into, out of) each layer it crosses, then end; curves join a point to the
    next across a gap between layers, straight lines inside a layer."""

    def __init__(self, boxes, paths, width, height):
        self.boxes, self.paths, self.width, self.height = boxes, paths, width, height


def _size(node):
    lines = node.text()
    w = max(len(t) for t, _ in lines) * CHAR_W + 2 * PAD_X
    return max(w, 40.0), len(lines) * LINE_H + 2 * PAD_Y


def layout(g) -> Layout:
    n = len(g.nodes)
    succ, pred = [[] for _ in range(n)], [[] for _ in range(n)]
    for a, b in g.edges:
        succ[a].append(b)
        pred[b].append(a)
    topo = _topo(n, succ, pred)
    layer = [0] * n
    for u in topo:
        layer[u] = max((layer[p] + 1 for p in pred[u]), default=0)
    for u in reversed(topo):  # as late as the consumers allow: inputs next to their use
        if succ[u]:
            layer[u] = min(layer[s] for s in succ[u]) - 1
    sizes = [_size(node) for node in g.nodes]
    # dummy points on long edges
    chains, lsucc, lpred = [], [list() for _ in range(n)], [list() for _ in range(n)]
    for a, b in g.edges:
        chain = [a]
        for lay in range(layer[a] + 1, layer[b]):
            d = len(layer)
            layer.append(lay)
            sizes.append((0.0, 0.0))
            lsucc.append([])
            lpred.append([])
            chain.append(d)
        chain.append(b)
        for u, v in zip(chain, chain[1:]):
            lsucc[u].append(v)
            lpred[v].append(u)
        chains.append(chain)
    total = len(layer)
    nlayers = max(layer, default=0) + 1
    rank = {u: i for i, u in enumerate(topo)}
    key = [rank[_dummy_src(u, n, lpred)] for u in range(total)]
    layers = [[] for _ in range(nlayers)]
    for u in sorted(range(total), key=lambda u: (key[u], u)):
        layers[layer[u]].append(u)
    layers = _order(layers, lsucc, lpred)
    # x: columns as wide as their widest box
    colw = [max((sizes[u][0] for u in lay), default=0.0) for lay in layers]
    left = [MARGIN]
    for w in colw[:-1]:
        left.append(left[-1] + w + LAYER_GAP)
    cx = [left[layer[u]] + colw[layer[u]] / 2 for u in range(total)]
    # y: stacked, then pulled toward the neighbours, order and spacing kept
    cy = [0.0] * total
    for lay in layers:
        y = 0.0
        for i, u in enumerate(lay):
            if i:
                y += _sep(lay[i - 1], u, sizes, n)
            cy[u] = y
    for it in range(12):
        seq = layers if it % 2 == 0 else layers[::-1]
        for lay in seq:
            want = []
            for u in lay:
                nb = lpred[u] + lsucc[u]
                want.append(sum(cy[v] for v in nb) / len(nb) if nb else cy[u])
            seps = [_sep(a, b, sizes, n) for a, b in zip(lay, lay[1:])]
            weights = [1.0 if u < n else 0.5 for u in lay]
            for u, y in zip(lay, _pack(want, seps, weights)):
                cy[u] = y
    top = min((cy[u] - sizes[u][1] / 2 for u in range(total)), default=0.0)
    shift = MARGIN - top
    boxes = [(cx[u] - sizes[u][0] / 2, cy[u] + shift - sizes[u][1] / 2) + sizes[u]
             for u in range(n)]
    ports = _ports(chains, cy, sizes, n)
    paths = []
    for j, chain in enumerate(chains):
        a, b = chain[0], chain[-1]
        pts = [(cx[a] + sizes[a][0] / 2, ports[j][0] + shift)]
        for d in chain[1:-1]:
            w = colw[layer[d]]
            pts += [(cx[d] - w / 2, cy[d] + shift), (cx[d] + w / 2, cy[d] + shift)]
        pts.append((cx[b] - sizes[b][0] / 2, ports[j][1] + shift))
        paths.append(pts)
    width = (left[-1] + colw[-1] + MARGIN) if layers else 2 * MARGIN
    bottom = max((cy[u] + shift + sizes[u][1] / 2 for u in range(total)), default=0.0)
    return Layout(boxes, paths, width, bottom + MARGIN)


def _ports(chains, cy, sizes, n):
    """(exit y, entry y) per edge: a node's edges leave and arrive spread along its side, in
    the order of the points at their other ends, so that they do not meet in one point."""
    outs, ins = {}, {}
    for j, chain in enumerate(chains):
        outs.setdefault(chain[0], []).append((cy[chain[1]], j))
        ins.setdefault(chain[-1], []).append((cy[chain[-2]], j))
    ports = [[cy[c[0]], cy[c[-1]]] for c in chains]
    for side, groups in ((0, outs), (1, ins)):
        for u, es in groups.items():
            k = len(es)
            step = min(8.0, sizes[u][1] / (k + 1))
            for i, (_, j) in enumerate(sorted(es)):
                ports[j][side] = cy[u] + (i - (k - 1) / 2) * step
    return ports


def _dummy_src(u, n, lpred):
    while u >= n:
        u = lpred[u][0]
    return u


def _topo(n, succ, pred):
    """Kahn's algorithm, lowest index first (the graph lists inputs before outputs)."""
    import heapq

    indeg = [len(p) for p in pred]
    ready = [u for u in range(n) if not indeg[u]]
    heapq.heapify(ready)
    out = []
    while ready:
        u = heapq.heappop(ready)
        out.append(u)
        for v in succ[u]:
            indeg[v] -= 1
            if not indeg[v]:
                heapq.heappush(ready, v)
    if len(out) != n:
        raise ValueError("the graph has a cycle")
    return out


def _sep(a, b, sizes, n):
    gap = NODE_GAP if a < n and b < n else DUMMY_GAP
    return (sizes[a][1] + sizes[b][1]) / 2 + gap


def _order(layers, lsucc, lpred):
    """Barycenter sweeps, down and up; the order with the fewest crossings wins."""
    best, best_x = [list(lay) for lay in layers], _crossings(layers, lsucc)
    for it in range(8):
        rng = range(1, len(layers)) if it % 2 == 0 else range(len(layers) - 2, -1, -1)
        nbrs = lpred if it % 2 == 0 else lsucc
        for i in rng:
            adj = layers[i - 1] if it % 2 == 0 else layers[i + 1]
            pos = {u: j for j, u in enumerate(adj)}
            cur = {u: j for j, u in enumerate(layers[i])}

            def bary(u):
                ps = [pos[v] for v in nbrs[u] if v in pos]
                return sum(ps) / len(ps) if ps else cur[u]

            layers[i] = sorted(layers[i], key=lambda u: (bary(u), cur[u]))
        x = _crossings(layers, lsucc)
        if x < best_x:
            best, best_x = [list(lay) for lay in layers], x
    _transpose(best, lsucc, lpred)
    return best


def _transpose(layers, lsucc, lpred, rounds=4):
    """Swap neighbours within a layer while that removes crossings (small layers only)."""
    for _ in range(rounds):
        better = False
        for i, lay in enumerate(layers):
            if len(lay) > 60:
                continue
            near = [layers[j] for j in (i - 1, i + 1) if 0 <= j < len(layers)]
            pos = [{u: k for k, u in enumerate(a)} for a in near]
            for k in range(len(lay) - 1):
                u, v = lay[k], lay[k + 1]
                if _pair(u, v, pos, lsucc, lpred) > _pair(v, u, pos, lsucc, lpred):
                    lay[k], lay[k + 1] = v, u
                    better = True
        if not better:
            return


def _pair(u, v, pos, lsucc, lpred):
    """Crossings between u's and v's edges to the neighbouring layers, u placed above v."""
    c = 0
    for p in pos:
        us = [p[w] for w in lsucc[u] + lpred[u] if w in p]
        vs = [p[w] for w in lsucc[v] + lpred[v] if w in p]
        c += sum(1 for a in us for b in vs if a > b)
    return c


def _crossings(layers, lsucc):
    total = 0
    for i in range(len(layers) - 1):
        pos = {u: j for j, u in enumerate(layers[i + 1])}
        es = [(j, pos[v]) for j, u in enumerate(layers[i]) for v in lsucc[u]]
        for k, (a1, b1) in enumerate(es):
            for a2, b2 in es[k + 1:]:
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
    return total


def _pack(want, seps, weights):
    """Positions closest (least squares) to ``want`` with ``p[i+1] - p[i] >= seps[i]``:
    pool-adjacent-violators on the positions less their cumulative spacing."""
    off = [0.0]
    for s in seps:
        off.append(off[-1] + s)
    blocks = []  # [sum of weights, weighted sum, count]
    for w, t in zip(weights, (d - o for d, o in zip(want, off))):
        blocks.append([w, w * t, 1])
        while len(blocks) > 1 and blocks[-2][1] * blocks[-1][0] > blocks[-1][1] * blocks[-2][0]:
            sw, st, c = blocks.pop()
            blocks[-1][0] += sw
            blocks[-1][1] += st
            blocks[-1][2] += c
    out = []
    for sw, st, c in blocks:
        out += [st / sw] * c
    return [q + o for q, o in zip(out, off)]
