"""The fused linear layer (``gg.linear(x, W, b, activation=...)``) on float16, which runs the
reference kernels: its activation and the activation's derivative compute in float32 and
round once, as ``gg.sigmoid`` and the other unary ops do on 16-bit input.  In float16
exp(-z) overflows at z < -11.09 while sigmoid(z) (1.5e-5) is still representable: a
sigmoid (or silu) computed in float16 steps answered 0 there."""
import numpy as np
import pytest

import gpugrad as gg

ACTS = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "silu", "gelu", "gelu_tanh"]
Z = np.concatenate([np.linspace(-16, 16, 801), [-11.5, -11.1, -10.0]]).astype(np.float16)


def _layer(z, dtype, act):
    """act(0 @ W + b) with b = z: the pre-activation is exactly z; the bias's gradient is
    dL/dz (one row)."""
    x = gg.ones(1, 1, dtype=dtype)
    W = gg.zeros(1, z.size, dtype=dtype, requires_grad=True)
    b = gg.tensor(z.astype(dtype), requires_grad=True)
    y = gg.linear(x, W, b, activation=act)
    g = np.cos(np.arange(z.size)).astype(np.float16).astype(dtype)   # a 16-bit gradient
    y.backward(gg.tensor(g.reshape(1, -1)))
    return y.numpy().reshape(-1), b.grad.numpy()


@pytest.mark.parametrize("act", ACTS)
def test_float16_fused_activation_is_its_float32_value_rounded_once(act):
    y16, dz16 = _layer(Z, np.float16, act)
    y32, dz32 = _layer(Z, np.float32, act)
    assert y16.dtype == dz16.dtype == np.float16
    want_y = y32.astype(np.float16)
    want_dz = dz32.astype(np.float16)
    if act in ("sigmoid", "tanh"):   # their derivative reads the (16-bit) answer y
        s = y16.astype(np.float32)
        d = s * (1 - s) if act == "sigmoid" else 1 - s * s
        want_dz = (np.cos(np.arange(Z.size)).astype(np.float16).astype(np.float32)
                   * d).astype(np.float16)
    ulp = np.spacing(np.abs(want_y)).astype(np.float64)
    assert np.all(np.abs(y16.astype(np.float64) - want_y) <= ulp), act
    ulp = np.spacing(np.abs(want_dz)).astype(np.float64)
    assert np.all(np.abs(dz16.astype(np.float64) - want_dz) <= ulp), act


@pytest.mark.parametrize("act", ["sigmoid", "silu"])
def test_float16_fused_sigmoid_below_minus_11_is_not_zero(act):
    y, dz = _layer(np.array([-11.5], np.float16), np.float16, act)
    s = 1 / (1 + np.exp(11.5))
    want = s if act == "sigmoid" else -11.5 * s
    assert float(y[0]) == float(np.float16(want)) != 0.0
    assert float(dz[0]) != 0.0
    # the same as the unfused op on float16
    t = gg.tensor(np.array([-11.5], np.float16))
    unfused = gg.sigmoid(t) if act == "sigmoid" else gg.nn.functional.silu(t)
    assert float(unfused.item()) == float(y[0])
