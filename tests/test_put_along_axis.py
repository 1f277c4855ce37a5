"""gpugrad.numpy.put_along_axis: NumPy's answers and errors, and a gradient (a write at
``take_along_axis``'s positions); on CUDA a bad index is checked on the device (see
test_index_bounds_cuda.py)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from conftest import DEVICES


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("axis, idx, values", [
    (1, [[2], [0]], 7.0), (0, [[1, 0, 1]], [[5.0, 6.0, 7.0]]),
    (-1, [[0, 2], [1, 1]], [[1.0], [2.0]]),
    (None, [5, 0], [8.0, 9.0])])
def test_matches_numpy(device, axis, idx, values):
    want = np.arange(6.0).reshape(2, 3)
    np.put_along_axis(want, np.array(idx), np.array(values), axis)
    a = gg.tensor(np.arange(6.0).reshape(2, 3), device=device)
    assert gnp.put_along_axis(a, gg.tensor(np.array(idx), device=device),
                              gg.tensor(np.array(values), device=device), axis) is None
    assert np.array_equal(a.numpy(), want)


def test_errors_are_numpys():
    a = gg.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 1 with size 3"):
        gnp.put_along_axis(a, gg.tensor([[3], [0]]), 1.0, 1)
    with pytest.raises(ValueError, match="same number of dimensions"):
        gnp.put_along_axis(a, gg.tensor([0]), 1.0, 1)
    with pytest.raises(IndexError, match="integer"):
        gnp.put_along_axis(a, gg.tensor([[0.5]]), 1.0, 1)
    assert a.numpy().tolist() == [[0.0] * 3] * 2
    h = np.zeros(3)                                    # a NumPy array: NumPy's own
    gnp.put_along_axis(h, np.array([1]), 4.0, 0)
    assert h.tolist() == [0.0, 4.0, 0.0]


def test_gradient_flows_to_the_values_and_the_unwritten_base():
    x = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = gg.tensor([[10.0], [20.0]], requires_grad=True)
    y = x * 1
    gnp.put_along_axis(y, gg.tensor([[2], [0]]), v, 1)
    (y * gg.tensor(np.arange(1.0, 7.0).reshape(2, 3))).sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0, 0.0], [0.0, 5.0, 6.0]]
    assert v.grad.tolist() == [[3.0], [4.0]]
