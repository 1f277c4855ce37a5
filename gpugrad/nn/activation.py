"""Activation modules, Dropout, Flatten and Identity.

>>> import gpugrad as gg
>>> ReLU()(gg.tensor([-1.0, 2.0])).tolist()
[0.0, 2.0]
>>> activation("gelu_tanh")
GELU(approximate='tanh')
"""
from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "GELU", "Sigmoid", "Tanh", "SiLU", "Softplus", "Dropout",
           "Flatten", "Identity", "activation", "ACTIVATION_NAMES"]


class Identity(Module):
    """Return the input unchanged (a placeholder layer).

    >>> import gpugrad as gg
    >>> Identity()(gg.ones(2)).tolist()
    [1.0, 1.0]
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class ReLU(Module):
    """max(x, 0).

    >>> import gpugrad as gg
    >>> ReLU()(gg.tensor([-3.0])).tolist()
    [0.0]
    """

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x.

    >>> import gpugrad as gg
    >>> LeakyReLU(0.5)(gg.tensor([-2.0])).tolist()
    [-1.0]
    """

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        if not negative_slope >= 0:
            raise ValueError(f"LeakyReLU: expected negative_slope >= 0, got {negative_slope}")
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """Gaussian error linear unit; ``approximate="tanh"`` uses the tanh formula.

    >>> import gpugrad as gg
    >>> round(GELU()(gg.tensor(1.0)).item(), 4)
    0.8413
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """1 / (1 + exp(-x)).

    >>> import gpugrad as gg
    >>> Sigmoid()(gg.tensor([0.0])).tolist()
    [0.5]
    """

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent.

    >>> import gpugrad as gg
    >>> Tanh()(gg.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, x):
        return F.tanh(x)


class SiLU(Module):
    """x * sigmoid(x).

    >>> import gpugrad as gg
    >>> SiLU()(gg.tensor([0.0])).tolist()
    [0.0]
    """

    def forward(self, x):
        return F.silu(x)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta (linear above ``threshold``).

    >>> import gpugrad as gg
    >>> round(Softplus()(gg.tensor(0.0)).item(), 4)
    0.6931
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus: expected beta > 0, got {beta}")
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Dropout(Module):
    """Inverted dropout with probability ``p`` in training mode; the identity in eval mode.
    Masks come from gpugrad's seeded generator of the input's device.

    >>> import gpugrad as gg
    >>> Dropout(0.5).eval()(gg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: expected a probability p in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` into one (default: all but the batch).

    >>> import gpugrad as gg
    >>> Flatten()(gg.zeros(2, 3, 4)).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return F.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


_FACTORIES = {
    "identity": Identity, "relu": ReLU, "leaky_relu": LeakyReLU, "gelu": GELU,
    "gelu_tanh": lambda: GELU("tanh"), "sigmoid": Sigmoid, "tanh": Tanh, "silu": SiLU,
    "softplus": Softplus,
}
ACTIVATION_NAMES = tuple(_FACTORIES)


def activation(name: str) -> Module:
    """A new activation module from its name (one of ``ACTIVATION_NAMES``).

    >>> activation("relu")
    ReLU()
    """
    if name is None:
        name = "identity"
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of "
                         f"{', '.join(ACTIVATION_NAMES)}") from None
