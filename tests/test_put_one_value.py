"""``put`` of one number (``a.put(idx, 0.0)``, ``gnp.put(a, idx, 1)``): the number is
converted once (NumPy's checks: OverflowError for 300 into int8, TypeError for a complex
into a real array) and the write broadcasts it, with no repeat of the values made as ops --
the one put behind Tensor.put and gnp.put (ops/flat_writes.py) had doubled the cost of this
common call by tiling a one-element tensor to the index count."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
@pytest.mark.parametrize("value", [3.0, 7, True, np.float32(2.5)])
def test_one_number_matches_numpy(mode, value):
    ref = np.arange(12.0).reshape(3, 4)
    got = gnp.array(ref)
    idx = [1, -2, 5, 5] if mode == "raise" else [1, 13, -20, 5]
    np.put(ref, idx, value, mode=mode)
    gnp.put(got, idx, value, mode=mode)
    np.testing.assert_array_equal(got.numpy(), ref)
    t = gnp.array(np.arange(12.0).reshape(3, 4))
    t.put(idx, value, mode=mode)
    np.testing.assert_array_equal(t.numpy(), ref)


def test_one_number_makes_no_tile(applies):
    a = gnp.zeros(10)
    a.put([1, 2, 3], 5.0)
    assert "Tile" not in applies and a.tolist() == [0, 5, 5, 5, 0, 0, 0, 0, 0, 0]


def test_one_number_is_converted_as_numpy_converts_it():
    a = gnp.zeros(4, dtype=np.int8)
    with pytest.raises(OverflowError):
        gnp.put(a, [0, 1], 300)
    assert a.tolist() == [0, 0, 0, 0]
    f = gnp.zeros(3)
    with pytest.raises(TypeError):
        f.put([0, 2], 1j)
    assert f.tolist() == [0.0, 0.0, 0.0]


def test_zero_d_target_and_gradient():
    z = gnp.array(1.0)
    z.put([0, 0, -1], 4.0)
    assert float(z) == 4.0
    x = gg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    y = x * 1.0
    y.put([0, 2], 0.0)               # the written places lose their gradient
    (y * gg.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 0.0]
