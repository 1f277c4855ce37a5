"""The activation table shared by every kernel target, and the input checks they all use.

An activation is named by a string; kernels are specialized on its integer code (its index in
``ACTIVATIONS``). The backward of an activation needs either the layer's output ``y`` or its
pre-activation ``z``; ``needs_preactivation`` says which.
"""

ACTIVATIONS = ("identity", "relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh")
CODE = {name: code for code, name in enumerate(ACTIVATIONS)}
IDENTITY, RELU, LEAKY_RELU, GELU, GELU_TANH, SILU, SIGMOID, TANH = range(len(ACTIVATIONS))

_FROM_PREACTIVATION = frozenset({"gelu", "gelu_tanh", "silu"})


def check_activation(act, negative_slope=0.01):
    """Return the integer code of ``act``; raise ValueError naming the valid ones otherwise."""
    if act not in CODE:
        raise ValueError(f"unknown activation {act!r}; expected one of: {', '.join(ACTIVATIONS)}")
    if act == "leaky_relu" and not negative_slope >= 0:
        raise ValueError("leaky_relu: negative_slope must be >= 0 (its gradient is taken from the "
                         f"output), got {negative_slope!r}")
    return CODE[act]


def needs_preactivation(act):
    """True when the backward of ``act`` needs the pre-activation ``z`` (gelu, gelu_tanh, silu);
    False when the output ``y`` suffices (identity, relu, leaky_relu, sigmoid, tanh).

    >>> needs_preactivation("gelu"), needs_preactivation("relu")
    (True, False)
    """
    check_activation(act)
    return act in _FROM_PREACTIVATION
