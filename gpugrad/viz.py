"""Drawing the graph behind a tensor: :func:`draw`, :func:`trace`, :func:`graph`.

``draw(loss)`` walks the autograd graph that produced ``loss`` and returns it as an
:class:`SVG` (a ``str`` that shows itself in a notebook): one box per node with the op's
name and output shape, and for small tensors the forward value (green) and the gradient
(red), as in the classic backprop diagrams; edges run from inputs to outputs. Leaves are
marked (blue), parameters too (orange), with their names when ``names=`` gives the Module
they belong to; inputs that need no gradient are grey. Runs of identical blocks (the layers
of a deep MLP) collapse into one "×N" box, so a 100-layer model stays readable.

What is drawable depends on what the graph still holds. The structure always is (a
backward pass keeps every node's links to its inputs' nodes). Forward values of
intermediate results are the tensors the nodes hold as inputs: there before
``backward()``, or after ``backward(retain_graph=True)``; a plain ``backward()`` lets go of
them (so that a kept ``loss`` does not keep the step's activations), and the boxes then show
the ops alone. Leaves keep their values and ``.grad``; an intermediate gradient shows where
``retain_grad()`` kept it. :func:`trace` captures everything: it runs a function, keeps
every intermediate tensor and its gradient, and draws them all.

>>> import gpugrad as gg
>>> x = gg.tensor(3.0, requires_grad=True)
>>> y = x * x + 1
>>> g = graph(y)
>>> [n.label for n in g.nodes], g.edges
(['leaf', 'Multiply', 'Add(·, 1)'], [(0, 1), (1, 2)])
>>> run = trace(lambda x: x * x + 1, 3.0)
>>> run.output.item(), run.inputs[0].grad.item()
(10.0, 6.0)
>>> svg = run.draw()        # graphviz's layout if installed, else the built-in one
>>> svg.count('class="node"'), svg.count('class="edge"')
(3, 2)
"""
from __future__ import annotations

import inspect

import numpy as np

from . import viz_render
from .grad_mode import enable_grad
from .tensor import Tensor
from .viz_collapse import MAX_PERIOD, MIN_REPEAT, collapse as _collapse  # noqa: F401

__all__ = ["draw", "trace", "graph", "Graph", "Node", "Trace", "SVG"]

AUTO_COLLAPSE_OPS = 40  # collapse="auto" collapses graphs with more op nodes than this


class SVG(str):
    """An SVG document: a ``str`` that a notebook shows as a picture (``_repr_svg_``).
    ``.graph`` is the :class:`Graph` it draws; ``save(path)`` writes it (or a PNG)."""

    graph = None
    layout = "python"

    def _repr_svg_(self):
        return str(self)

    def save(self, path):
        """Write this picture to ``path``: ``.svg`` as is; ``.png`` and ``.dot`` redrawn."""
        if str(path).lower().endswith(".svg"):
            with open(path, "w", encoding="utf-8") as f:
                f.write(str(self))
        else:
            self.graph.save(path, layout=self.layout)


class Node:
    """One box: ``kind`` is "op", "leaf" (requires grad), "param" (an nn.Parameter),
    "input" (a tensor that needs no gradient) or "repeat" (a collapsed run of blocks)."""

    __slots__ = ("kind", "label", "name", "shape", "value", "grad", "lines", "output")

    def __init__(self, kind, label, name=None, shape=None, value=None, grad=None, lines=(),
                 output=False):
        self.kind, self.label, self.name, self.shape = kind, label, name, shape
        self.value, self.grad = value, grad  # formatted text, or None
        self.lines = list(lines)             # extra plain lines (repeat boxes)
        self.output = output

    def text(self):
        """The box's lines, as ``(text, role)``; role is "title", "plain", "value" or "grad"."""
        out = [(self.label, "title")]
        out += [(s, "plain") for s in self.lines]
        if self.shape is not None and (len(self.shape) or self.value is None):
            out.append((_shape_text(self.shape), "plain"))
        if self.value is not None:
            out.append((self.value, "value"))
        if self.grad is not None:
            out.append((self.grad, "grad"))
        return out

    def __repr__(self):
        return f"Node({self.kind!r}, {self.label!r})"


class Graph:
    """Boxes and edges ``(source index, target index)``, inputs before outputs: what
    :func:`draw` lays out, with graphviz's ``dot`` or in pure Python. ``legend`` names the
    colours shown: "value", "grad"."""

    def __init__(self, nodes, edges, legend=()):
        self.nodes, self.edges, self.legend = nodes, edges, legend

    def __repr__(self):
        return f"<Graph: {len(self.nodes)} nodes, {len(self.edges)} edges>"

    def svg(self, layout="auto") -> SVG:
        """Draw: ``layout`` is "dot" (graphviz), "python" (built in) or "auto" (dot when its
        binary is on PATH)."""
        use = viz_render.pick(layout)
        text = viz_render.dot_svg(self) if use == "dot" else viz_render.svg(self)
        s = SVG(text)
        s.graph, s.layout = self, use
        return s

    def dot(self) -> str:
        """The graphviz DOT source."""
        return viz_render.dot_source(self)

    def save(self, path, layout="auto"):
        """Write ``.svg``, ``.png`` (graphviz, else matplotlib) or ``.dot`` to ``path``."""
        viz_render.save(self, str(path), layout)

    def _repr_svg_(self):
        return str(self.svg())


class Trace:
    """One forward and backward pass of ``fn`` with every intermediate value and gradient
    kept (see :func:`trace`): ``output``, ``inputs`` (the leaves made from the arguments)
    and ``draw(...)``, as :func:`draw` takes."""

    def __init__(self, output, inputs, outputs_by_node, names):
        self.output, self.inputs = output, inputs
        self._outs, self._names = outputs_by_node, names

    def graph(self, **kw) -> Graph:
        return graph(self, **kw)

    def draw(self, path=None, layout="auto", **kw) -> SVG:
        return draw(self, path=path, layout=layout, **kw)

    def _repr_svg_(self):
        return str(self.draw())


# ---------------------------------------------------------------- the public functions
def draw(t, values=True, grads=True, names=None, collapse="auto", layout="auto", path=None,
         max_elems=6, precision=4) -> SVG:
    """The graph behind tensor ``t`` (or a list of tensors, or a :class:`Trace`) as SVG.

    ``values``/``grads``: show forward values and gradients of tensors with at most
    ``max_elems`` elements (``precision`` significant digits). ``names``: a Module (its
    parameters are labelled with their ``named_parameters()`` names), a dict name -> tensor,
    or (name, tensor) pairs. ``collapse``: True, False, or "auto" (graphs of more than
    ``AUTO_COLLAPSE_OPS`` ops) folds runs of ``MIN_REPEAT`` or more identical blocks into
    one box. ``layout``: "dot" (graphviz's binary), "python", or "auto" (dot when
    installed). ``path``: also write the picture there (``.svg``, ``.png``, ``.dot``).

    >>> import gpugrad as gg
    >>> w = gg.tensor([1.0, 2.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> loss.backward()
    >>> svg = draw(loss, layout="python")
    >>> svg.count('class="node"'), svg.count('class="edge"')
    (3, 2)
    """
    g = graph(t, values=values, grads=grads, names=names, collapse=collapse,
              max_elems=max_elems, precision=precision)
    s = g.svg(layout)
    if path is not None:
        s.save(path)
    return s


def trace(fn, *args, names=None, grad_output=None, **kwargs) -> Trace:
    """Run ``fn(*args, **kwargs)`` and its backward pass, keeping every intermediate value
    and gradient, for drawing small worked examples. (A value that a later in-place op wrote
    over is drawn as "(changed in place)", not as its new contents.)

    Each positional argument becomes a leaf that requires grad, named after ``fn``'s
    parameter: numbers and lists as float64 (exact enough to check by hand), arrays with
    their floating dtype, tensors as detached aliases (their own ``.grad`` is untouched).
    Tensors ``fn`` reaches otherwise (a model's parameters) get gradients accumulated, as in
    a training step. The output's gradient is ``grad_output``, default ones.

    >>> run = trace(lambda a, b: a * b + a, 2.0, 5.0)
    >>> [x.grad.item() for x in run.inputs]
    [6.0, 2.0]
    """
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    leaves, named = [], {}
    for i, a in enumerate(args):
        leaf = _as_leaf(a)
        leaves.append(leaf)
        named[id(leaf)] = params[i] if i < len(params) else f"arg{i}"
    named.update(_name_map(names))
    with enable_grad():
        out = fn(*leaves, **kwargs)
    if not isinstance(out, Tensor):
        raise TypeError(f"trace: fn must return a Tensor, got {type(out).__name__}")
    outs = _outputs(out)
    if out.requires_grad:
        for o in outs.values():
            o.retain_grad()
        if grad_output is None and out.size != 1:
            from .backend import get_array_module
            grad_output = get_array_module(out.data).ones_like(out.data)
        out.backward(grad_output)
    return Trace(out, tuple(leaves), outs, named)


def graph(t, values=True, grads=True, names=None, collapse="auto", max_elems=6,
          precision=4) -> Graph:
    """The :class:`Graph` that :func:`draw` draws (same arguments, no layout)."""
    if isinstance(t, Trace):
        roots, outs, named = [t.output], dict(t._outs), dict(t._names)
        named.update(_name_map(names))
    else:
        roots = [t] if isinstance(t, Tensor) else list(t)
        if not roots or not all(isinstance(r, Tensor) for r in roots):
            raise TypeError("draw: expected a Tensor, a list of Tensors or a Trace")
        outs, named = {}, _name_map(names)
        for r in roots:
            outs.update(_outputs(r))
    fmt = _Formatter(values, grads, max_elems, precision)
    nodes, edges, ops = _walk(roots, outs, named, fmt)
    if collapse == "auto":
        collapse = len(ops) > AUTO_COLLAPSE_OPS
    if collapse:
        nodes, edges = _collapse(nodes, edges, ops)
    legend = tuple(r for r in ("value", "grad") if any(getattr(n, r) is not None for n in nodes))
    return Graph(nodes, edges, legend=legend)


# ---------------------------------------------------------------- building the graph
def _as_leaf(a):
    from .tensor import tensor

    if isinstance(a, Tensor):
        leaf = a.detach()
    else:
        if getattr(getattr(a, "dtype", None), "kind", None) is None:  # numbers, lists
            a = np.asarray(a, dtype=np.float64)
        leaf = tensor(a)
    if leaf.data.dtype.kind not in "fc":
        leaf = leaf.astype("float64")
    return leaf.requires_grad_(True)


def _name_map(names):
    """{id(tensor): name} from a Module, a mapping name -> tensor, or (name, tensor) pairs."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        pairs = names.named_parameters()
    elif hasattr(names, "items"):
        pairs = names.items()
    else:
        pairs = names
    return {id(t): str(n) for n, t in pairs}


def _outputs(root):
    """{id(node): the tensor it made} for every node whose output is still reachable: the
    root, the inputs the nodes hold, and tensors kept by ``retain_grad``."""
    outs = {}
    if root._node is not None:
        outs[id(root._node)] = root
    seen, stack = set(), [root._node] if root._node is not None else []
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        r = n._retain() if n._retain is not None else None
        if r is not None and r._node is n:
            outs.setdefault(id(n), r)
        for p, pn in zip(n.parents, n.pnodes):
            if pn is None:
                continue
            if isinstance(p, Tensor) and p._node is pn:
                outs.setdefault(id(pn), p)
            stack.append(pn)
    return outs


def _walk(roots, outs, named, fmt):
    """Nodes (leaves at first sight, ops once their inputs are done: a topological order)
    and deduplicated edges; ``ops`` lists the op nodes' indices in that order."""
    from .nn.parameter import Parameter

    index, nodes, edges, ops = {}, [], [], []
    seen_edges = set()
    root_ids = {id(r._node) if r._node is not None else id(r) for r in roots}

    def leaf(p):
        k = id(p)
        if k not in index:
            kind = "param" if isinstance(p, Parameter) else ("leaf" if p.requires_grad
                                                             else "input")
            label = named.get(k) or {"param": "Parameter", "leaf": "leaf", "input": "input"}[kind]
            index[k] = len(nodes)
            nodes.append(Node(kind, label, named.get(k), tuple(p.shape), fmt.value(p),
                              fmt.grad(p.grad), output=k in root_ids))
        return index[k]

    def edge(a, b):
        if (a, b) not in seen_edges:
            seen_edges.add((a, b))
            edges.append((a, b))

    for r in roots:
        if r._node is None:
            leaf(r)
            continue
        stack = [(r._node, 0)]
        while stack:
            n, i = stack.pop()
            if id(n) in index:
                continue
            while i < len(n.pnodes) and (n.pnodes[i] is None or id(n.pnodes[i]) in index):
                if n.pnodes[i] is None and isinstance(n.parents[i], Tensor):
                    leaf(n.parents[i])  # leaves numbered in argument order
                i += 1
            if i < len(n.pnodes):
                stack.append((n, i + 1))
                stack.append((n.pnodes[i], 0))
                continue
            srcs = []
            for p, pn in zip(n.parents, n.pnodes):
                if pn is not None:
                    srcs.append(index[id(pn)])
                elif isinstance(p, Tensor):
                    srcs.append(leaf(p))
            o = outs.get(id(n))
            index[id(n)] = len(nodes)
            ops.append(len(nodes))
            nodes.append(Node("op", _op_label(n), None,
                              tuple(o.shape) if o is not None else None,
                              fmt.value(o, stale=_overwritten(n, o)),
                              fmt.grad(o.grad if o is not None else None),
                              output=id(n) in root_ids))
            for s in srcs:
                edge(s, index[id(n)])
    return nodes, edges, ops


def _op_label(n):
    """The op's name, with its non-tensor arguments: ``Power(·, 2)``."""
    parts, const = [], False
    for p, pn in zip(n.parents, n.pnodes):
        if pn is not None or isinstance(p, Tensor):
            parts.append("·")       # a tensor (an intermediate one is None after backward)
        elif p is not None:
            parts.append(_const(p))
            const = True
    return f"{n.name}({', '.join(parts)})" if const else n.name


def _const(a):
    if isinstance(a, (bool, int, float, complex, np.generic)):
        return _num(a, 4)
    shape = getattr(a, "shape", None)
    if shape is not None:
        return f"array{_shape_text(tuple(shape))}"
    text = repr(a)
    return text if len(text) <= 12 else type(a).__name__


def _overwritten(node, t):
    """Whether ``t``, the tensor ``node`` produced, was written in place since (its version
    moved on): its current values are not the ones the node computed, so none are shown."""
    ver = getattr(node, "_out_ver", None)
    return t is not None and ver is not None and t._vc[0] != ver


class _Formatter:
    def __init__(self, values, grads, max_elems, precision):
        self.values, self.grads, self.max, self.p = values, grads, max_elems, precision

    def value(self, t, stale=False):
        if not self.values or t is None or getattr(t, "released", False):
            return None                 # (a released input: backward let go of its values)
        return "(changed in place)" if stale else self._text(t)

    def grad(self, g):
        return self._text(g) if self.grads and g is not None else None

    def _text(self, t):
        if t.size > self.max:
            return None
        a = t.numpy() if isinstance(t, Tensor) else np.asarray(t)
        return _array_text(a, self.p)


def _array_text(a, p):
    if a.ndim == 0:
        return _num(a.item(), p)
    return "[" + ", ".join(_array_text(s, p) for s in a) + "]"


def _num(v, p):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or isinstance(v, int):
        return str(v)
    if isinstance(v, complex):
        return f"{v.real:.{p}g}{v.imag:+.{p}g}j"
    return f"{v:.{p}g}"


def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
