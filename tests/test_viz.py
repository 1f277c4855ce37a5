"""gg.viz: drawing the graph behind a tensor (pure-Python layout, graphviz, PNG, collapsing).

The committed picture docs/backprop_example.svg is regenerated here and must match; to update
it after a deliberate change, run this file with GPUGRAD_REGENERATE_DOCS=1.
"""
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import viz_layout, viz_render

ROOT = Path(__file__).resolve().parents[1]
PICTURE = ROOT / "docs" / "backprop_example.svg"
SVG_NS = "{http://www.w3.org/2000/svg}"
HAVE_DOT = viz_render._dot_binary() is not None


def lecture(x, y):
    """The lecture notes' worked example."""
    return (x + gg.sigmoid(y)) / (gg.sigmoid(x) + (x + y) ** 2)


def parse(svg):
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg"
    groups = root.iter(SVG_NS + "g")
    nodes, edges = [], []
    for g in groups:
        cls = g.get("class")
        if cls == "node":
            nodes.append(g)
        elif cls == "edge":
            edges.append(g)
    return root, nodes, edges


def texts(node, role=None):
    return [t.text for t in node.iter(SVG_NS + "text")
            if role is None or t.get("class") == role]


@pytest.fixture
def no_dot(monkeypatch):
    """Graphviz absent: "auto" lays out in Python."""
    monkeypatch.setattr(viz_render, "_dot_binary", lambda: None)


# ---------------------------------------------------------------- small graphs, Python layout
def test_small_graph_nodes_and_edges(no_dot):
    x = gg.tensor(3.0, requires_grad=True)
    y = gg.tensor(2.0, requires_grad=True)
    a = x * y
    out = a + x            # x feeds two ops: 4 nodes, 4 edges
    svg = gg.viz.draw(out)
    assert svg.layout == "python"
    _, nodes, edges = parse(svg)
    assert len(nodes) == 4 and len(edges) == 4
    g = svg.graph
    assert [n.kind for n in g.nodes] == ["leaf", "leaf", "op", "op"]
    assert sorted(g.edges) == [(0, 2), (0, 3), (1, 2), (2, 3)]
    assert [texts(n)[0] for n in nodes] == ["leaf", "leaf", "Multiply", "Add"]


def test_square_uses_one_edge_and_constants_show_in_the_label(no_dot):
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x) ** 2 - 1
    g = gg.viz.graph(y)
    assert [n.label for n in g.nodes] == ["leaf", "Multiply", "Power(·, 2)", "Subtract(·, 1)"]
    assert g.edges == [(0, 1), (1, 2), (2, 3)]
    assert g.nodes[-1].output and not g.nodes[1].output


def test_a_leaf_alone_and_a_list_of_roots(no_dot):
    x = gg.tensor(1.0, requires_grad=True)
    _, nodes, edges = parse(gg.viz.draw(x))
    assert len(nodes) == 1 and not edges
    a, b = x * 2, x + 1
    g = gg.viz.graph([a, b])
    assert len(g.nodes) == 3 and len(g.edges) == 2
    assert sum(n.output for n in g.nodes) == 2
    with pytest.raises(TypeError):
        gg.viz.draw([1.0])


def test_layout_geometry(no_dot):
    run = gg.viz.trace(lecture, 3.0, -4.0)
    g = run.graph()
    lay = viz_layout.layout(g)
    for (a, b), pts in zip(g.edges, lay.paths):      # every edge runs left to right
        xs = [p[0] for p in pts]
        assert xs == sorted(xs) and xs[0] < xs[-1]
    boxes = lay.boxes
    for i in range(len(boxes)):                      # no two boxes overlap
        for j in range(i):
            (x1, y1, w1, h1), (x2, y2, w2, h2) = boxes[i], boxes[j]
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
    assert all(0 <= x and x + w <= lay.width and 0 <= y and y + h <= lay.height
               for x, y, w, h in boxes)


# ---------------------------------------------------------------- values and gradients
def expected_lecture():
    """Every value and gradient of the example, by hand (the chain rule, float64)."""
    x, y = 3.0, -4.0
    sy, sx = 1 / (1 + math.exp(-y)), 1 / (1 + math.exp(-x))
    num, xy = x + sy, x + y
    sq = xy ** 2
    den = sx + sq
    f = num / den
    dnum, dden = 1 / den, -num / den ** 2
    dsq = dsx = dden
    dxy = 2 * xy * dsq
    dsy = dnum
    dx = dnum + dsx * sx * (1 - sx) + dxy
    dy = dsy * sy * (1 - sy) + dxy
    return {"x": (x, dx), "y": (y, dy), "sig(y)": (sy, dsy), "num": (num, dnum),
            "sig(x)": (sx, dsx), "x+y": (xy, dxy), "sq": (sq, dsq), "den": (den, dden),
            "f": (f, 1.0)}


def test_lecture_example_values_and_gradients(no_dot):
    run = gg.viz.trace(lecture, 3.0, -4.0)
    exp = expected_lecture()
    assert run.output.item() == pytest.approx(1.5456448841066441, rel=1e-15)
    assert run.output.item() == pytest.approx(exp["f"][0], rel=1e-15)
    assert [t.grad.item() for t in run.inputs] == pytest.approx([exp["x"][1], exp["y"][1]],
                                                                rel=1e-14)
    svg = run.draw()
    _, nodes, edges = parse(svg)
    assert len(nodes) == 9 and len(edges) == 11
    shown = {}
    for n in nodes:
        (title,) = texts(n, "title")
        (v,), (gr,) = texts(n, "value"), texts(n, "grad")
        shown.setdefault(title, []).append((float(v), float(gr), v, gr))
    pairs = {"x": ["x"], "y": ["y"], "Sigmoid": ["sig(y)", "sig(x)"],
             "Add": ["num", "x+y", "den"], "Power(·, 2)": ["sq"], "Divide": ["f"]}
    assert sorted(shown) == sorted(pairs)
    for title, keys in pairs.items():
        want = sorted(exp[k] for k in keys)
        got = sorted(shown[title])
        for (v, gr), (sv, sg, tv, tg) in zip(want, got):
            assert tv == f"{v:.4g}" and tg == f"{gr:.4g}", (title, tv, tg)
            assert sv == pytest.approx(v, rel=5e-4, abs=1e-12)
            assert sg == pytest.approx(gr, rel=5e-4, abs=1e-12)
    assert "1.546" in svg and "2.06" in svg and "1.592" in svg


def test_values_and_grads_can_be_left_out(no_dot):
    run = gg.viz.trace(lecture, 3.0, -4.0)
    for values, grads in ((False, True), (True, False), (False, False)):
        _, nodes, _ = parse(run.draw(values=values, grads=grads))
        assert any(texts(n, "value") for n in nodes) == values
        assert any(texts(n, "grad") for n in nodes) == grads
    big = gg.viz.trace(lambda a: (a * 2).sum(), np.arange(10.0))
    nodes = big.graph().nodes           # 10 elements > max_elems: the shape, no numbers
    assert nodes[0].value is None and nodes[0].shape == (10,)
    assert big.graph(max_elems=10).nodes[0].value.startswith("[0, 1, 2")


def test_trace_leaves_and_outputs():
    user = gg.tensor([1.0, 2.0], requires_grad=True)
    run = gg.viz.trace(lambda v, k: v * k, user, 3)    # a vector output: ones as its gradient
    assert user.grad is None                            # traced through an alias
    assert run.inputs[1].dtype == gg.float64
    np.testing.assert_allclose(run.inputs[0].grad.numpy(), [3.0, 3.0])
    assert [n.label for n in run.graph().nodes if n.kind == "leaf"] == ["v", "k"]
    with pytest.raises(TypeError):
        gg.viz.trace(lambda v: 1.0, 2.0)


def test_draw_after_backward(no_dot):
    x = gg.tensor(3.0, dtype="float64", requires_grad=True)
    y = gg.tensor(-4.0, dtype="float64", requires_grad=True)
    f = lecture(x, y)
    before = gg.viz.graph(f)
    assert all(n.value is not None for n in before.nodes)   # values: there until backward
    f.backward(retain_graph=True)
    kept = gg.viz.graph(f)
    assert all(n.value is not None for n in kept.nodes)
    assert [n.grad for n in kept.nodes[:2]] == ["2.06", "1.592"]  # leaves' .grad
    sy = gg.sigmoid(y)
    sy.retain_grad()                    # keeps this intermediate's value and gradient
    f2 = (x + sy) / (gg.sigmoid(x) + (x + y) ** 2)
    f2.backward()                       # a plain backward frees the other intermediates
    after = gg.viz.graph(f2)
    assert [n.label for n in after.nodes] == [n.label for n in kept.nodes]
    assert after.edges == kept.edges
    ops = {(n.label, n.value, n.grad, n.shape) for n in after.nodes if n.kind == "op"}
    assert ops == {("Sigmoid", "0.01799", "0.5121", ()), ("Add", None, None, None),
                   ("Sigmoid", None, None, None), ("Power(·, 2)", None, None, None),
                   ("Divide", "1.546", None, ())}   # the tensor drawn is still held
    _, nodes, edges = parse(gg.viz.draw(f2))
    assert len(nodes) == 9 and len(edges) == 11


# ---------------------------------------------------------------- leaves, parameters, names
def test_parameters_marked_and_named(no_dot):
    gg.manual_seed(0)
    net = gg.nn.Sequential(gg.nn.Linear(3, 2), gg.nn.ReLU(), gg.nn.Linear(2, 1))
    scale = gg.tensor(2.0, requires_grad=True)
    loss = (net(gg.randn(4, 3)) * scale).sum()
    svg = gg.viz.draw(loss, names=net)
    _, nodes, _ = parse(svg)
    kinds = {texts(n)[0]: n.get("data-kind") for n in nodes}
    assert kinds["0.weight"] == kinds["0.bias"] == kinds["2.weight"] == "param"
    assert kinds["leaf"] == "leaf" and kinds["input"] == "input"
    assert kinds["Linear"] == kinds["Relu"] == kinds["Sum"] == "op"
    weight = [n for n in svg.graph.nodes if n.label == "0.weight"][0]
    assert weight.shape == (3, 2) and weight.name == "0.weight"
    unnamed = gg.viz.graph(loss)        # without names= parameters still show as such
    assert sum(n.label == "Parameter" for n in unnamed.nodes) == 4
    named = gg.viz.graph(loss, names={"scale": scale, **dict(net.named_parameters())})
    assert "scale" in [n.label for n in named.nodes]
    pairs = gg.viz.graph(loss, names=[("s", scale)])
    assert "s" in [n.label for n in pairs.nodes]


def test_repr_svg_for_notebooks(no_dot):
    run = gg.viz.trace(lecture, 3.0, -4.0)
    for obj in (run, run.draw(), run.graph()):
        out = obj._repr_svg_()
        assert type(out) is str and out.startswith("<svg")
        parse(out)


def test_drawing_is_deterministic(no_dot):
    a = gg.viz.trace(lecture, 3.0, -4.0).draw()
    b = gg.viz.trace(lecture, 3.0, -4.0).draw(layout="python")
    assert a == b


# ---------------------------------------------------------------- collapsing repeated layers
def deep_mlp(fused):
    gg.manual_seed(0)
    if fused:
        net = gg.nn.MLP([8] + [16] * 100 + [2])       # 101 fused Linear nodes
    else:
        layers = [gg.nn.Linear(8, 16), gg.nn.ReLU()]
        for _ in range(99):
            layers += [gg.nn.Linear(16, 16), gg.nn.ReLU()]
        net = gg.nn.Sequential(*layers, gg.nn.Linear(16, 2))
    loss = ((net(gg.randn(4, 8)) - 1) ** 2).mean()
    return net, loss


@pytest.mark.parametrize("fused", [True, False])
def test_100_layer_mlp_collapses(no_dot, fused):
    net, loss = deep_mlp(fused)
    full = gg.viz.graph(loss, names=net, collapse=False)
    assert len(full.nodes) > 300
    g = gg.viz.graph(loss, names=net)                # "auto": collapses a graph this large
    assert len(g.nodes) <= 15 and len(g.edges) <= 15
    (box,) = [n for n in g.nodes if n.kind == "repeat"]
    assert box.label in ("×98", "×99")
    assert box.lines[0] == ("Linear" if fused else "Linear → Relu")
    assert "…" in box.lines[1] and box.lines[1].endswith(".bias")
    assert box.shape == (4, 16)
    names = [n.label for n in g.nodes]
    assert "0.weight" in names and any(s.endswith(".weight") and s != "0.weight" for s in names)
    _, nodes, edges = parse(gg.viz.draw(loss, names=net))
    assert (len(nodes), len(edges)) == (len(g.nodes), len(g.edges))
    loss.backward()                                  # after backward: the same picture
    assert [n.label for n in gg.viz.graph(loss, names=net).nodes] == names


def test_collapse_keeps_shared_weights_outside():
    gg.manual_seed(0)
    w = gg.nn.Parameter(gg.randn(4, 4) * 0.1)
    h = gg.zeros(2, 4)
    xs = gg.randn(10, 2, 4)
    for t in range(10):                      # an RNN: one weight, used at every step
        h = gg.tanh(h @ w + xs[t])
    g = gg.viz.graph(h.sum(), names={"W": w}, collapse=True)
    labels = [n.label for n in g.nodes]
    assert "W" in labels and any(n.kind == "repeat" for n in g.nodes)
    wi = labels.index("W")
    box = [i for i, n in enumerate(g.nodes) if n.kind == "repeat"][0]
    assert (wi, box) in g.edges
    assert len(g.nodes) < 15
    small = gg.viz.graph(h.sum())            # "auto": 30 ops is small enough to show all
    assert not any(n.kind == "repeat" for n in small.nodes)


# ---------------------------------------------------------------- graphviz
class FakeDot:
    """subprocess.run standing in for graphviz's dot: records the call, returns a fixed
    picture."""

    SVG = (b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
           b'<svg xmlns="http://www.w3.org/2000/svg" width="10pt" height="10pt">'
           b'<g id="graph0" class="graph"><g id="node1" class="node"><title>n0</title></g>'
           b'</g></svg>\n')

    def __init__(self, rc=0):
        self.calls, self.rc = [], rc

    def __call__(self, args, input=None, capture_output=False, timeout=None):
        self.calls.append((list(args), input.decode("utf-8")))
        out = self.SVG if args[1] == "-Tsvg" else b"\x89PNG\r\n\x1a\nfake"
        return subprocess.CompletedProcess(args, self.rc, out if self.rc == 0 else b"",
                                           b"" if self.rc == 0 else b"Error: syntax error")


@pytest.fixture
def fake_dot(monkeypatch):
    fake = FakeDot()
    monkeypatch.setattr(viz_render, "_dot_binary", lambda: "/usr/bin/dot")
    monkeypatch.setattr(viz_render.subprocess, "run", fake)
    return fake


def test_dot_path_sends_the_graph(fake_dot, tmp_path):
    run = gg.viz.trace(lecture, 3.0, -4.0)
    svg = run.draw()                         # "auto" with dot installed: graphviz lays out
    assert svg.layout == "dot" and str(svg) == FakeDot.SVG.decode()
    assert svg._repr_svg_() == str(svg)
    (args, src), = fake_dot.calls
    assert args == ["/usr/bin/dot", "-Tsvg"]
    assert src.startswith("digraph gpugrad {") and "rankdir=LR;" in src
    lines = src.splitlines()
    node_lines = [s for s in lines if s.startswith("  n") and "[label=<" in s]
    edge_lines = [s for s in lines if " -> " in s]
    assert len(node_lines) == 9 and len(edge_lines) == 11
    assert "  n0 -> n3;" in edge_lines
    assert "<B><FONT" in node_lines[0] and ">x</FONT></B>" in node_lines[0]
    assert '<FONT COLOR="#2e7d32">3</FONT>' in node_lines[0]      # value, green
    assert '<FONT COLOR="#c62828">2.06</FONT>' in node_lines[0]   # gradient, red
    assert "Power(·, 2)" in src and "penwidth=2.4" in node_lines[-1]
    assert src == run.graph().dot()
    run.draw(path=tmp_path / "g.png")
    assert fake_dot.calls[-1][0] == ["/usr/bin/dot", "-Tpng"]
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    run.graph().save(tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text() == src


def test_dot_path_escapes_and_collapses(fake_dot):
    net, loss = deep_mlp(fused=False)
    gg.viz.draw(loss, names={"a<b&c": net[0].weight})
    src = fake_dot.calls[-1][1]
    assert "a&lt;b&amp;c" in src and "shape=box3d" in src and "×" in src


def test_dot_failure_is_reported(monkeypatch):
    monkeypatch.setattr(viz_render, "_dot_binary", lambda: "/usr/bin/dot")
    monkeypatch.setattr(viz_render.subprocess, "run", FakeDot(rc=1))
    with pytest.raises(RuntimeError, match="syntax error"):
        gg.viz.trace(lecture, 3.0, -4.0).draw(layout="dot")


def test_dot_requested_but_missing(no_dot):
    with pytest.raises(RuntimeError, match="graphviz"):
        gg.viz.trace(lecture, 3.0, -4.0).draw(layout="dot")
    with pytest.raises(ValueError, match="layout"):
        gg.viz.trace(lecture, 3.0, -4.0).draw(layout="neato")


@pytest.mark.skipif(not HAVE_DOT, reason="graphviz's dot is not installed")
def test_real_dot(tmp_path):
    run = gg.viz.trace(lecture, 3.0, -4.0)
    svg = run.draw(layout="dot")
    _, nodes, edges = parse(svg)
    assert len(nodes) == 9 and len(edges) == 11
    assert "1.546" in svg and "2.06" in svg
    net, loss = deep_mlp(fused=True)
    _, nodes, _ = parse(gg.viz.draw(loss, names=net, layout="dot"))
    assert len(nodes) <= 15
    run.draw(path=tmp_path / "g.png", layout="dot")
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")


# ---------------------------------------------------------------- files
def test_png_with_matplotlib(no_dot, tmp_path):
    pytest.importorskip("matplotlib")
    run = gg.viz.trace(lecture, 3.0, -4.0)
    svg = run.draw(path=tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")
    svg.save(tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_text() == svg
    net, loss = deep_mlp(fused=False)
    gg.viz.draw(loss, names=net, path=tmp_path / "mlp.png")
    assert (tmp_path / "mlp.png").stat().st_size > 1000


def test_png_without_dot_or_matplotlib(no_dot, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    run = gg.viz.trace(lecture, 3.0, -4.0)
    with pytest.raises(RuntimeError, match="matplotlib"):
        run.draw(path=tmp_path / "g.png")
    with pytest.raises(ValueError, match="format"):
        run.draw(path=tmp_path / "g.jpeg")
    run.draw(path=tmp_path / "g.svg")                       # SVG needs neither
    parse((tmp_path / "g.svg").read_text())


def test_committed_picture_is_current(no_dot):
    """docs/backprop_example.svg, the README's picture, is exactly what this code draws."""
    svg = gg.viz.trace(lecture, 3.0, -4.0).draw(layout="python")
    if os.environ.get("GPUGRAD_REGENERATE_DOCS"):
        PICTURE.parent.mkdir(exist_ok=True)
        PICTURE.write_text(svg, encoding="utf-8")
    assert PICTURE.exists(), "docs/backprop_example.svg is missing: run with " \
                             "GPUGRAD_REGENERATE_DOCS=1"
    assert PICTURE.read_text(encoding="utf-8") == svg, (
        "docs/backprop_example.svg is out of date: regenerate it with "
        "GPUGRAD_REGENERATE_DOCS=1 pytest tests/test_viz.py")
    parse(svg)


@pytest.mark.cuda
def test_tensors_on_a_gpu(no_dot):
    x = gg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    run = gg.viz.trace(lambda v: (v * v * 3).sum(), x)
    assert run.inputs[0].device.type == "cuda"
    nodes = run.graph().nodes
    assert (nodes[0].value, nodes[0].grad) == ("[1, 2]", "[6, 12]")
    assert (nodes[-1].value, nodes[-1].grad) == ("15", "1")
    y = gg.tensor([[1.0, -1.0]], device="cuda", requires_grad=True)
    vec = gg.viz.trace(lambda v: gg.relu(v) * 2, y)     # a vector output: ones as seed
    assert vec.graph().nodes[0].grad == "[[2, 0]]"
    parse(run.draw())


def test_a_value_overwritten_in_place_later_is_not_shown_as_the_nodes_value():
    """y = x * 1 then y.mul_(3): the first Multiply computed [1, 2]; y now holds [3, 6]. The
    drawing must not show [3, 6] for it (it shows that it was changed in place)."""
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.mul_(3)
    s = y.sum()
    values = {n.label: n.value for n in gg.viz.graph(s).nodes}
    first = [v for label, v in values.items() if label.startswith("Multiply") and "1" in label]
    assert first == ["(changed in place)"]
    assert "[3, 6]" in values.values()
