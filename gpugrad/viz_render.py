"""Writing a :class:`gpugrad.viz.Graph`: SVG from the Python layout
(:mod:`gpugrad.viz_layout`) or from graphviz's ``dot`` binary when it is installed, PNG from
``dot`` or matplotlib, and the DOT source. The Python layout's SVG is deterministic: fixed
number formatting, no timestamps.
"""
from __future__ import annotations

import shutil
import subprocess
from xml.sax.saxutils import escape

from .viz_layout import CHAR_W, LINE_H, MARGIN, PAD_Y, layout

__all__ = ["svg", "dot_source", "dot_svg", "save", "pick"]

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
FILL = {"op": "#ffffff", "leaf": "#e3f2fd", "param": "#fff3e0", "input": "#f2f2f2",
        "repeat": "#ede7f6"}
STROKE = {"op": "#455a64", "leaf": "#1565c0", "param": "#e65100", "input": "#9e9e9e",
          "repeat": "#5e35b1"}
COLOR = {"title": "#212121", "plain": "#616161", "value": "#2e7d32", "grad": "#c62828"}
EDGE = "#616161"
LEGEND = {"value": "value", "grad": "gradient"}


# ---------------------------------------------------------------- choosing a backend
def _dot_binary():
    return shutil.which("dot")


def pick(layout):
    """"dot" or "python" for ``layout`` ("auto": dot when graphviz is installed)."""
    if layout == "auto":
        return "dot" if _dot_binary() else "python"
    if layout == "dot":
        if not _dot_binary():
            raise RuntimeError("layout='dot' needs graphviz's `dot` binary on PATH (apt install "
                               "graphviz, brew install graphviz, conda install graphviz); "
                               "layout='python' needs nothing")
        return "dot"
    if layout == "python":
        return "python"
    raise ValueError(f"layout must be 'auto', 'dot' or 'python', got {layout!r}")


def save(g, path, layout="auto"):
    low = path.lower()
    if low.endswith(".svg"):
        data = (dot_svg(g) if pick(layout) == "dot" else svg(g)).encode("utf-8")
    elif low.endswith((".dot", ".gv")):
        data = dot_source(g).encode("utf-8")
    elif low.endswith(".png"):
        if pick(layout) == "dot":
            data = _run_dot(g, "png")
        else:
            _png_matplotlib(g, path)
            return
    else:
        raise ValueError(f"cannot tell the format of {path!r}: use .svg, .png or .dot")
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- graphviz
def _html(s):
    return escape(s)


def dot_source(g) -> str:
    """The graph in graphviz's DOT language (left to right, HTML-like labels)."""
    out = ["digraph gpugrad {", "  rankdir=LR;", '  bgcolor="white";',
           f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=11];',
           f'  edge [color="{EDGE}", arrowsize=0.7];']
    for i, n in enumerate(g.nodes):
        parts = []
        for text, role in n.text():
            s = _html(text)
            s = f'<FONT COLOR="{COLOR[role]}">{s}</FONT>'
            if role == "title":
                s = f"<B>{s}</B>"
            parts.append(s)
        attrs = [f"label=<{'<BR/>'.join(parts)}>", f'fillcolor="{FILL[n.kind]}"',
                 f'color="{STROKE[n.kind]}"']
        if n.kind == "repeat":
            attrs.append('shape=box3d, style="filled"')
        if n.output:
            attrs.append("penwidth=2.4")
        out.append(f"  n{i} [{', '.join(attrs)}];")
    for a, b in g.edges:
        out.append(f"  n{a} -> n{b};")
    if g.legend:
        items = "   ".join(f'<FONT COLOR="{COLOR[r]}">{LEGEND[r]}</FONT>' for r in g.legend)
        out.append(f"  label=<{items}>;")
        out.append(f'  labelloc=b; labeljust=l; fontname="{FONT}"; fontsize=11;')
    out.append("}")
    return "\n".join(out) + "\n"


def _run_dot(g, fmt):
    exe = _dot_binary() or "dot"
    try:
        r = subprocess.run([exe, f"-T{fmt}"], input=dot_source(g).encode("utf-8"),
                           capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"graphviz's dot failed to run: {e}") from e
    if r.returncode != 0:
        raise RuntimeError(f"graphviz's dot failed (exit {r.returncode}): "
                           f"{r.stderr.decode('utf-8', 'replace').strip()}")
    return r.stdout


def dot_svg(g) -> str:
    """The graph laid out and drawn by graphviz (``dot -Tsvg``)."""
    return _run_dot(g, "svg").decode("utf-8")


# ---------------------------------------------------------------- writing SVG
def _legend(g):
    """(x, role) of each legend entry, left to right along the bottom."""
    x, out = MARGIN, []
    for role in g.legend:
        out.append((x, role))
        x += (len(LEGEND[role]) + 3) * CHAR_W
    return out


def _f(v):
    s = f"{v:.1f}"
    return "0.0" if s == "-0.0" else s


def _segments(pts):
    """[("C", c1, c2, end) | ("L", end)] after a move to pts[0]: curves between layers."""
    segs = []
    for i in range(len(pts) - 1):
        (x0, y0), (x1, y1) = pts[i], pts[i + 1]
        if i % 2 == 0:
            dx = (x1 - x0) / 2
            segs.append(("C", (x0 + dx, y0), (x1 - dx, y1), (x1, y1)))
        else:
            segs.append(("L", (x1, y1)))
    return segs


def svg(g) -> str:
    """The graph laid out in Python, as a standalone SVG document."""
    lay = layout(g)
    legend_h = 24.0 if g.legend else 0.0
    W, H = lay.width, lay.height + legend_h
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_f(W)}" height="{_f(H)}" '
           f'viewBox="0 0 {_f(W)} {_f(H)}" font-family="{FONT}" font-size="12">',
           '<defs><marker id="gg-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
           f'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
           f'fill="{EDGE}"/></marker></defs>',
           f'<rect width="{_f(W)}" height="{_f(H)}" fill="white"/>']
    for (a, b), pts in zip(g.edges, lay.paths):
        d = f"M{_f(pts[0][0])},{_f(pts[0][1])}"
        for seg in _segments(pts):
            d += " " + seg[0] + " ".join(f"{_f(x)},{_f(y)}" for x, y in seg[1:])
        out.append(f'<g class="edge"><title>n{a}-&gt;n{b}</title><path d="{d}" fill="none" '
                   f'stroke="{EDGE}" stroke-width="1.2" marker-end="url(#gg-arrow)"/></g>')
    for i, (node, (x, y, w, h)) in enumerate(zip(g.nodes, lay.boxes)):
        fill, stroke = FILL[node.kind], STROKE[node.kind]
        sw = "2.4" if node.output else "1.2"
        out.append(f'<g class="node" id="n{i}" data-kind="{node.kind}">'
                   f'<title>{escape(node.label)}</title>')
        if node.kind == "repeat":  # a stack of boxes
            for k in (2, 1):
                out.append(f'<rect x="{_f(x + 4 * k)}" y="{_f(y - 4 * k)}" width="{_f(w)}" '
                           f'height="{_f(h)}" rx="4" fill="{fill}" stroke="{stroke}"/>')
        out.append(f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(w)}" height="{_f(h)}" rx="4" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>')
        for j, (text, role) in enumerate(node.text()):
            bold = ' font-weight="bold"' if role == "title" else ""
            out.append(f'<text class="{role}" x="{_f(x + w / 2)}" '
                       f'y="{_f(y + PAD_Y + LINE_H * (j + 1) - 4)}" text-anchor="middle" '
                       f'fill="{COLOR[role]}"{bold}>{escape(text)}</text>')
        out.append("</g>")
    if g.legend:
        out.append('<g class="legend">')
        for x, role in _legend(g):
            out.append(f'<text x="{_f(x)}" y="{_f(lay.height + 12)}" fill="{COLOR[role]}">'
                       f'{LEGEND[role]}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- PNG without graphviz
def _png_matplotlib(g, path, scale=2):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
        from matplotlib.path import Path
    except ImportError as e:
        raise RuntimeError("writing a PNG needs graphviz's `dot` binary on PATH or matplotlib "
                           "(pip install matplotlib); or write .svg instead") from e
    lay = layout(g)
    legend_h = 24.0 if g.legend else 0.0
    W, H = lay.width, lay.height + legend_h
    fig = Figure(figsize=(W / 96, H / 96), dpi=96 * scale)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    ax.axis("off")
    pt = 12 * 72 / 96  # 12px text
    for pts in lay.paths:
        verts, codes = [pts[0]], [Path.MOVETO]
        for seg in _segments(pts):
            verts += list(seg[1:])
            codes += [Path.CURVE4] * 3 if seg[0] == "C" else [Path.LINETO]
        ax.add_patch(PathPatch(Path(verts, codes), fill=False, edgecolor=EDGE, lw=0.9))
        x, y = pts[-1]
        ax.add_patch(Polygon([(x, y), (x - 7, y - 3.5), (x - 7, y + 3.5)], closed=True,
                             color=EDGE))
    for node, (x, y, w, h) in zip(g.nodes, lay.boxes):
        fill, stroke = FILL[node.kind], STROKE[node.kind]
        stack = (2, 1, 0) if node.kind == "repeat" else (0,)
        for k in stack:
            ax.add_patch(FancyBboxPatch((x + 4 * k, y - 4 * k), w, h,
                                        boxstyle="round,pad=0,rounding_size=4", facecolor=fill,
                                        edgecolor=stroke,
                                        lw=1.8 if node.output and not k else 0.9))
        for j, (text, role) in enumerate(node.text()):
            ax.text(x + w / 2, y + PAD_Y + LINE_H * (j + 1) - 4, text, ha="center",
                    va="baseline", fontsize=pt, family="monospace", color=COLOR[role],
                    weight="bold" if role == "title" else "normal")
    for x, role in _legend(g):
        ax.text(x, lay.height + 12, LEGEND[role], fontsize=pt, family="monospace",
                color=COLOR[role], va="baseline")
    fig.savefig(path, dpi=96 * scale, facecolor="white")
