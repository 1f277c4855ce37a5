"""The fused linear layer on inputs with a zero-length dimension, against PyTorch: no
features in or out with more than one leading dimension (reshaping (..., 0) to rows of
(-1, 0) is ambiguous, so the rows must be counted explicitly), in every activation, plain
backward and create_graph backward alike."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional

ACTS = {"identity": lambda z: z, "relu": TF.relu, "gelu": TF.gelu, "tanh": torch.tanh,
        "sigmoid": torch.sigmoid, "silu": TF.silu}


def _reference(x, layer, w):
    """Output and gradients of the same layer in PyTorch (gpugrad's W is the transpose)."""
    xt = torch.tensor(x, requires_grad=True)
    W = torch.tensor(layer.weight.numpy().T.copy(), requires_grad=True)
    b = torch.tensor(layer.bias.numpy().copy(), requires_grad=True)
    y = ACTS[layer.activation or "identity"](TF.linear(xt, W, b))
    (y * torch.tensor(w)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy(), W.grad.numpy().T, b.grad.numpy()


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("shape, fan_in, fan_out", [((2, 3, 5), 5, 0), ((2, 3, 0), 0, 4),
                                                     ((0, 3, 5), 5, 4), ((4, 0), 0, 2)])
def test_linear_with_an_empty_dimension_matches_torch(act, shape, fan_in, fan_out):
    gg.manual_seed(0)
    layer = nn.Linear(fan_in, fan_out, activation=None if act == "identity" else act,
                      dtype="float64")
    x = np.random.default_rng(0).standard_normal(shape)
    w = np.ones(shape[:-1] + (fan_out,))
    y_ref, dx_ref, dW_ref, db_ref = _reference(x, layer, w)
    xg = gg.tensor(x, requires_grad=True)
    y = layer(xg)
    assert y.shape == y_ref.shape
    (y * gg.tensor(w)).sum().backward()
    assert xg.grad.shape == shape and np.array_equal(xg.grad.numpy(), dx_ref)
    np.testing.assert_allclose(layer.weight.grad.numpy(), dW_ref, atol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), db_ref, atol=1e-12)


@pytest.mark.parametrize("shape, fan_in, fan_out", [((2, 3, 5), 5, 0), ((2, 3, 0), 0, 4)])
def test_linear_with_an_empty_dimension_twice_differentiable(shape, fan_in, fan_out):
    gg.manual_seed(0)
    layer = nn.Linear(fan_in, fan_out, activation="tanh", dtype="float64")
    xg = gg.tensor(np.ones(shape), requires_grad=True)
    (gx,) = gg.autograd.grad(layer(xg).sum(), [xg], create_graph=True)
    assert gx.shape == shape and not gx.numpy().any()
    (gx * gx).sum().backward()            # through the create_graph (composite) backward
    np.testing.assert_array_equal(layer.weight.grad.numpy(), np.zeros((fan_in, fan_out)))
    # with no features the layer is constant in x (out 0) or a constant tanh(b) (in 0)
    assert layer(xg).shape == shape[:-1] + (fan_out,)
    if fan_in == 0:
        np.testing.assert_allclose(layer(xg).numpy(),
                                   np.broadcast_to(np.tanh(layer.bias.numpy()), (2, 3, 4)))
