"""Export MLPs to ONNX: ``gg.onnx.export(model, "model.onnx")``.

The model is a :class:`~gpugrad.nn.Linear`, an :class:`~gpugrad.nn.MLP` or a
:class:`~gpugrad.nn.Sequential` (nested ones too) of Linear layers (fused activation or
not), activation modules and Dropout.  Each Linear becomes a ``Gemm`` node (the weight
stored as gpugrad holds it, ``(in_features, out_features)``, so ``transB=0``) followed by its
activation's nodes:

=============== ==============================================================
relu            ``Relu``
leaky_relu      ``LeakyRelu`` (``alpha`` = the negative slope); in float64
                ``Where(x > 0, x, slope * x)`` (an attribute would round the slope)
gelu            ``0.5 x (1 + Erf(x / sqrt 2))``
gelu_tanh       ``0.5 x (1 + Tanh(sqrt(2/pi) (x + 0.044715 x^3)))``
sigmoid, tanh   ``Sigmoid``, ``Tanh``
silu            ``x * Sigmoid(x)``
softplus        ``Relu(z) + Log(1 + Exp(-|z|)) / beta`` for ``z = beta x``, and ``x``
                where ``z > threshold`` (as gpugrad computes it)
identity        nothing; Dropout (the identity at inference) is left out as well
=============== ==============================================================

GELU is written out rather than as opset 20's ``Gelu`` node so that every opset gets the same
graph and float64 keeps float64 accuracy (onnxruntime's float64 ``Gelu`` does not).

The graph has one input, ``input``, of shape ``(batch, in_features)`` with a dynamic
``batch`` dimension, and one output, ``output``, of shape ``(batch, out_features)``, both of
the model's dtype (float32 or float64; ``dtype=`` converts).  ``standardizer=`` (a
:class:`~gpugrad.datasets.Standardizer` or its ``{"mean", "std"}`` state dict) puts
``(input - mean) / std`` in front, so the exported model takes raw features;
``softmax=True`` appends ``Softmax(axis=-1)`` (class probabilities instead of logits).
Any other layer raises ``ValueError`` naming it.

The default opset is 17 (``DEFAULT_OPSET``; onnxruntime 1.12 and later run it); any opset
from 13 (``MIN_OPSET``) to the installed onnx package's newest may be asked for.
Needs the ``onnx`` package (``pip install 'gpugrad[export]'``, which also brings
onnxruntime).  Note: onnxruntime (1.32) has no float64 kernel for ``Erf``, so a float64
model with exact GELU is valid ONNX that onnxruntime refuses to load; export it with
``dtype="float32"`` for onnxruntime.

>>> import gpugrad as gg, tempfile, os                      # doctest: +SKIP
>>> model = gg.nn.MLP([4, 16, 3], activation="gelu")         # doctest: +SKIP
>>> proto = gg.onnx.export(model, os.path.join(tempfile.mkdtemp(), "m.onnx"))  # doctest: +SKIP
>>> [n.op_type for n in proto.graph.node][:3]                # doctest: +SKIP
['Gemm', 'Mul', 'Erf']
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np

from gpugrad import nn
from gpugrad.atomic_file import write_file
from gpugrad.tensor import Tensor

__all__ = ["export", "DEFAULT_OPSET", "MIN_OPSET", "SUPPORTED_LAYERS"]

DEFAULT_OPSET = 17
MIN_OPSET = 13
SUPPORTED_LAYERS = ("Linear", "Sequential", "MLP", "ReLU", "LeakyReLU", "GELU", "Sigmoid",
                    "Tanh", "SiLU", "Softplus", "Identity", "Dropout")


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("gg.onnx.export needs the onnx package: pip install "
                          "'gpugrad[export]' (or pip install onnx)") from None
    return onnx


# ---------------------------------------------------------------- the graph being built
class _Graph:
    """Nodes and initializers of one graph, with fresh names for every value."""

    def __init__(self, onnx, dtype, opset):
        self.onnx, self.dtype, self.opset = onnx, np.dtype(dtype), opset
        self.nodes, self.initializers, self._n = [], [], 0

    def fresh(self, hint):
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint, value):
        name = self.fresh(hint)
        arr = np.ascontiguousarray(np.asarray(value, dtype=self.dtype))
        self.initializers.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def node(self, op, inputs, hint=None, **attrs):
        out = self.fresh(hint or op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), [out],
                                                     name=self.fresh(op), **attrs))
        return out


# ---------------------------------------------------------------- activations
def _gelu(g, x, approximate):
    if approximate == "none":
        e = g.node("Erf", [g.node("Mul", [x, g.const("inv_sqrt2", 1 / math.sqrt(2))])])
        half_x = g.node("Mul", [x, g.const("half", 0.5)])
        return g.node("Mul", [half_x, g.node("Add", [e, g.const("one", 1.0)])], "gelu")
    cube = g.node("Mul", [g.node("Mul", [x, x]), x])
    inner = g.node("Add", [x, g.node("Mul", [cube, g.const("c", 0.044715)])])
    t = g.node("Tanh", [g.node("Mul", [inner, g.const("k", math.sqrt(2 / math.pi))])])
    half_x = g.node("Mul", [x, g.const("half", 0.5)])
    return g.node("Mul", [half_x, g.node("Add", [t, g.const("one", 1.0)])], "gelu_tanh")


def _softplus(g, x, beta, threshold):
    z = x if beta == 1.0 else g.node("Mul", [x, g.const("beta", beta)])
    tail = g.node("Log", [g.node("Add", [g.const("one", 1.0),
                                         g.node("Exp", [g.node("Neg", [g.node("Abs", [z])])])])])
    sp = g.node("Add", [g.node("Relu", [z]), tail])
    if beta != 1.0:
        sp = g.node("Div", [sp, g.const("beta", beta)])
    linear = g.node("Greater", [z, g.const("threshold", threshold)])
    return g.node("Where", [linear, x, sp], "softplus")


def _activation(g, x, name, slope=0.01, approximate="none", beta=1.0, threshold=20.0):
    if name in (None, "identity"):
        return x
    if name == "relu":
        return g.node("Relu", [x])
    if name == "leaky_relu":
        if g.dtype == np.float32:
            return g.node("LeakyRelu", [x], alpha=float(slope))
        # an attribute is a float32: the slope would be rounded
        scaled = g.node("Mul", [x, g.const("slope", slope)])
        return g.node("Where", [g.node("Greater", [x, g.const("zero", 0.0)]), x, scaled],
                      "leaky_relu")
    if name in ("gelu", "gelu_tanh"):
        return _gelu(g, x, "tanh" if name == "gelu_tanh" else approximate)
    if name == "sigmoid":
        return g.node("Sigmoid", [x])
    if name == "tanh":
        return g.node("Tanh", [x])
    if name == "silu":
        return g.node("Mul", [x, g.node("Sigmoid", [x])], "silu")
    if name == "softplus":
        return _softplus(g, x, float(beta), float(threshold))
    raise ValueError(f"gg.onnx.export: no ONNX form for the activation {name!r}")


# ---------------------------------------------------------------- walking the model
def _layers(module, prefix=""):
    """``(dotted name, module)`` of every leaf layer in order, nested Sequentials opened."""
    if type(module).forward is nn.Sequential.forward and isinstance(module, nn.Sequential):
        for name, child in module._modules.items():
            yield from _layers(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or type(module).__name__, module


def _plain(m, cls):
    return type(m).forward is cls.forward and isinstance(m, cls)


def _emit(g, x, name, m, host):
    """Nodes for one leaf layer; returns the output's name."""
    if _plain(m, nn.Linear):
        ins = [x, g.const(f"{name}.weight", host(m.weight))]
        if m.bias is not None:
            ins.append(g.const(f"{name}.bias", host(m.bias)))
        y = g.node("Gemm", ins, "linear")
        return _activation(g, y, m.activation, slope=m.negative_slope)
    if _plain(m, nn.ReLU):
        return _activation(g, x, "relu")
    if _plain(m, nn.LeakyReLU):
        return _activation(g, x, "leaky_relu", slope=m.negative_slope)
    if _plain(m, nn.GELU):
        return _activation(g, x, "gelu", approximate=m.approximate)
    for cls, act in ((nn.Sigmoid, "sigmoid"), (nn.Tanh, "tanh"), (nn.SiLU, "silu")):
        if _plain(m, cls):
            return _activation(g, x, act)
    if _plain(m, nn.Softplus):
        return _activation(g, x, "softplus", beta=m.beta, threshold=m.threshold)
    if _plain(m, nn.Identity) or _plain(m, nn.Dropout):
        return x
    raise ValueError(f"gg.onnx.export: cannot export layer {name!r} ({type(m).__name__}); "
                     f"supported layers: {', '.join(SUPPORTED_LAYERS)}")


def _model_dtype(layers, dtype):
    if dtype is not None:
        dt = np.dtype(dtype)
    else:
        kinds = {p.dtype for _, m in layers for p in m.parameters()}
        if len(kinds) != 1:
            raise ValueError(f"gg.onnx.export: expected one parameter dtype, got "
                             f"{sorted(d.name for d in kinds)}; pass dtype='float32' or "
                             f"'float64'")
        dt = np.dtype(kinds.pop())
    if dt not in (np.float32, np.float64):
        raise ValueError(f"gg.onnx.export: expected dtype float32 or float64, got {dt.name}")
    return dt


def _standardizer_arrays(standardizer, n_in):
    state = standardizer.state_dict() if hasattr(standardizer, "state_dict") else standardizer
    try:
        mean, std = (np.asarray(state[k].numpy() if isinstance(state[k], Tensor) else state[k],
                                dtype=np.float64).reshape(-1) for k in ("mean", "std"))
    except (KeyError, TypeError):
        raise ValueError("gg.onnx.export: expected standardizer to be a Standardizer or a "
                         "{'mean': array, 'std': array} dict") from None
    if mean.shape != (n_in,) or std.shape != (n_in,):
        raise ValueError(f"gg.onnx.export: the standardizer has {mean.size} means and "
                         f"{std.size} stds; the model takes {n_in} features")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise ValueError("gg.onnx.export: the standardizer's mean and std must be finite "
                         "with std > 0")
    return mean, std


# ---------------------------------------------------------------- export
def export(model, path, *, opset: int = DEFAULT_OPSET, dtype=None, standardizer=None,
           softmax: bool = False, input_name: str = "input", output_name: str = "output"):
    """Write ``model`` (a Linear, MLP or Sequential of supported layers) to ``path`` as ONNX.

    Args:
        model: the gpugrad module; its parameters may live on any device.
        path: the ``.onnx`` file to write (atomically: a temporary file, then a rename).
        opset: the ONNX opset, ``MIN_OPSET`` (13) to the onnx package's newest; default 17.
        dtype: ``"float32"`` or ``"float64"`` for the graph (default: the parameters').
        standardizer: a :class:`~gpugrad.datasets.Standardizer` (or its state dict) whose
            ``(x - mean) / std`` is put in front of the model.
        softmax: append ``Softmax(axis=-1)``.
        input_name, output_name: the graph's input and output names.

    Returns the ``onnx.ModelProto`` written.  The input is ``(batch, in_features)``, batch
    dynamic; the output ``(batch, out_features)``.

    Raises ImportError without the onnx package; ValueError for an unsupported layer (named),
    mixed or non-float parameter dtypes, a model without a Linear layer, a standardizer of
    the wrong length, or an opset out of range.

    >>> import gpugrad as gg, tempfile, os                                # doctest: +SKIP
    >>> p = os.path.join(tempfile.mkdtemp(), "mlp.onnx")                  # doctest: +SKIP
    >>> gg.onnx.export(gg.nn.MLP([8, 32, 2]), p).graph.input[0].name      # doctest: +SKIP
    'input'
    """
    onnx = _onnx()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"gg.onnx.export: expected opset an int in [{MIN_OPSET}, {newest}], "
                         f"got {opset!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"gg.onnx.export: expected a gpugrad nn.Module, got "
                        f"{type(model).__name__}")
    active = [m for m in model.modules() if isinstance(m, nn.Dropout) and m.training and m.p > 0]
    if active:                # the exported graph is the eval one: say so, not silently
        warnings.warn(f"gg.onnx.export: the model is in training mode with {len(active)} active "
                      f"Dropout layer(s); the ONNX model is the eval-mode graph (no dropout): "
                      f"call model.eval() before exporting", UserWarning, stacklevel=2)
    layers = list(_layers(model))
    linears = [m for _, m in layers if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("gg.onnx.export: the model has no Linear layer (nothing fixes the "
                         "number of input features)")
    first = next(i for i, (_, m) in enumerate(layers) if isinstance(m, nn.Linear))
    dt = _model_dtype(layers, dtype)
    n_in = linears[0].in_features
    n_out = linears[-1].out_features
    g = _Graph(onnx, dt, opset)

    def host(t):
        return t.numpy().astype(dt)

    x = input_name
    if standardizer is not None:
        mean, std = _standardizer_arrays(standardizer, n_in)
        x = g.node("Sub", [x, g.const("mean", mean)])
        x = g.node("Div", [x, g.const("std", std)], "standardized")
    for i, (name, m) in enumerate(layers):
        if i < first and not _plain(m, nn.Dropout) and not _plain(m, nn.Identity):
            raise ValueError(f"gg.onnx.export: cannot export layer {name!r} "
                             f"({type(m).__name__}) before the first Linear layer")
        x = _emit(g, x, name, m, host)
    if softmax:
        x = g.node("Softmax", [x], axis=-1)
    if x == input_name:
        x = g.node("Identity", [x])
    g.nodes[-1].output[0] = output_name

    elem = onnx.helper.np_dtype_to_tensor_dtype(dt)
    graph = onnx.helper.make_graph(
        g.nodes, type(model).__name__,
        [onnx.helper.make_tensor_value_info(input_name, elem, ["batch", n_in])],
        [onnx.helper.make_tensor_value_info(output_name, elem, ["batch", n_out])],
        initializer=g.initializers)
    from gpugrad import __version__
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)],
                                   producer_name="gpugrad", producer_version=__version__)
    proto.ir_version = min(proto.ir_version, _ir_version_for(onnx, opset))
    onnx.checker.check_model(proto, full_check=True)
    _write(proto.SerializeToString(), os.fspath(path))
    return proto


def _ir_version_for(onnx, opset):
    """The oldest IR version that carries ``opset`` (newer runtimes read older IRs)."""
    for ir, ops in ((7, 14), (8, 18), (9, 20), (10, 22)):
        if opset <= ops:
            return ir
    return onnx.IR_VERSION


def _write(data, path):
    if os.path.isdir(path):
        raise IsADirectoryError(f"gg.onnx.export: {path!r} is a directory; expected a file path")
    # atomically, with the umask (or a replaced file's mode) as every gpugrad file is written
    write_file(path, lambda f: f.write(data))
