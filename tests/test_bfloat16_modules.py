"""bfloat16 is a floating dtype to nn: init fills a bfloat16 weight, Module.to converts to and
from it (as PyTorch's module.to(torch.bfloat16)), and the optimizers, which keep float32 or
float64 master weights, refuse a bfloat16 parameter with an error that says what to do."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)


@pytest.mark.parametrize("fill", ["uniform_", "normal_", "xavier_uniform_", "kaiming_normal_"])
def test_init_fills_a_bfloat16_weight(fill):
    w = gg.zeros((64, 32), dtype=BF16)
    getattr(nn.init, fill)(w)
    assert w.dtype == BF16
    vals = w.numpy().astype(np.float32)
    assert np.isfinite(vals).all() and vals.std() > 0


def test_module_to_bfloat16_and_back():
    m = nn.Linear(4, 3)
    w = m.weight.numpy().copy()
    m.to(BF16)
    assert m.weight.dtype == BF16 and m.bias.dtype == BF16
    np.testing.assert_array_equal(m.weight.numpy(), w.astype(BF16))
    m.to("float32")
    assert m.weight.dtype == np.float32


def test_optimizer_refuses_a_bfloat16_parameter_saying_what_to_do():
    p = gg.zeros(3, dtype=BF16, requires_grad=True)
    with pytest.raises(TypeError, match="autocast"):
        gg.optim.SGD([p], lr=0.1)
