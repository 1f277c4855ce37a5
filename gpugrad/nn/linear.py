"""``Linear`` (optionally with a fused activation) and ``MLP``.

``Linear(in, out, activation="relu")`` runs ``relu(x @ W + b)`` as one fused graph node
(:func:`gpugrad.linear`: one GEMM plus one bias+activation pass forward, one fused dZ+bias
gradient pass plus two GEMMs backward).  The weight has shape (in_features, out_features).

>>> import gpugrad as gg
>>> gg.manual_seed(0)
>>> net = MLP([4, 16, 3])
>>> net
MLP(
  (0): Linear(in_features=4, out_features=16, bias=True, activation='relu')
  (1): Linear(in_features=16, out_features=3, bias=True)
)
>>> net(gg.randn(5, 4)).shape
(5, 3)
"""
from __future__ import annotations

from .. import backend, dtypes
from .. import creation, validate
from ..kernels import ACTIVATIONS as FUSED_ACTIVATIONS
from . import functional as F
from . import init
from .activation import ACTIVATION_NAMES, Dropout, activation as _activation
from .containers import Sequential
from .parameter import Parameter
from .module import Module

__all__ = ["Linear", "MLP", "FUSED_ACTIVATIONS"]


class Linear(Module):
    """y = act(x @ weight + bias), weight of shape (in_features, out_features).

    ``activation`` is None (plain affine) or one of the fused activations
    (``FUSED_ACTIVATIONS``: relu, leaky_relu, gelu, gelu_tanh, silu, sigmoid, tanh); the
    layer is then a single autograd node.  Initialization is PyTorch's default (uniform in
    +-1/sqrt(in_features)) from the seeded generator.

    >>> import gpugrad as gg
    >>> layer = Linear(3, 2, activation="relu")
    >>> layer.weight.shape, layer.bias.shape
    ((3, 2), (2,))
    >>> bool((layer(gg.randn(4, 3)).numpy() >= 0).all())
    True
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 activation=None, negative_slope: float = 0.01, device=None, dtype=None):
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"Linear: expected {name} to be a non-negative int, got {n!r}")
        act = activation or "identity"
        if act not in FUSED_ACTIVATIONS:
            raise ValueError(f"Linear: unknown fused activation {activation!r}; expected None or "
                             f"one of {', '.join(a for a in FUSED_ACTIVATIONS if a != 'identity')}"
                             f" (use a separate activation module for others)")
        dt = dtypes.as_dtype(dtype) or dtypes.float32
        dev = backend.device(device)
        self.in_features, self.out_features = in_features, out_features
        self.activation = None if act == "identity" else act
        self.negative_slope = float(negative_slope)
        self.weight = Parameter(creation.empty(in_features, out_features, dtype=dt, device=dev))
        if bias:
            self.bias = Parameter(creation.empty(out_features, dtype=dt, device=dev))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias with PyTorch's default Linear initialization."""
        init.default_linear_init_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias, self.activation, self.negative_slope)

    def extra_repr(self):
        s = (f"in_features={self.in_features}, out_features={self.out_features}, "
             f"bias={self.bias is not None}")
        if self.activation:
            s += f", activation={self.activation!r}"
            if self.activation == "leaky_relu":
                s += f", negative_slope={self.negative_slope}"
        return s


class MLP(Sequential):
    """A multi-layer perceptron over ``sizes = [in, hidden..., out]``.

    Hidden layers are fused ``Linear(..., activation=activation)`` layers (an activation the
    kernels do not fuse, like softplus, gets its own module), each followed by ``Dropout``
    when ``dropout > 0``; the last layer is a plain Linear, or applies ``output_activation``.

    >>> import gpugrad as gg
    >>> net = MLP([8, 32, 32, 2], activation="gelu", dropout=0.1)
    >>> [type(m).__name__ for m in net]
    ['Linear', 'Dropout', 'Linear', 'Dropout', 'Linear']
    """

    def __init__(self, sizes, activation="relu", dropout: float = 0.0, output_activation=None,
                 bias: bool = True, device=None, dtype=None):
        sizes = list(sizes)
        if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int) or n <= 0
                                 for n in sizes):
            raise ValueError(f"MLP: expected sizes [in, hidden..., out] of at least 2 positive "
                             f"ints, got {sizes!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: expected dropout in [0, 1), got {dropout!r}")
        for what, act in (("activation", activation), ("output_activation", output_activation)):
            if act is not None:           # checked even when no layer uses it
                validate.check_choice(act, what, ACTIVATION_NAMES, owner="MLP")
        layers = []
        kw = dict(bias=bias, device=device, dtype=dtype)
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = i == len(sizes) - 2
            act = output_activation if last else activation
            act = act or "identity"
            if act in FUSED_ACTIVATIONS:
                layers.append(Linear(a, b, activation=act, **kw))
            else:
                layers.append(Linear(a, b, **kw))
                layers.append(_activation(act))
            if not last and dropout > 0:
                layers.append(Dropout(dropout))
        super().__init__(*layers)
        self.sizes = tuple(sizes)
