"""A float value written into an integer or bool tensor is cast as NumPy casts it (truncated,
or made a bool), as ``astype`` does: the result holds no gradient path back to the value
(the cast's derivative is zero), as in PyTorch -- never the identity's gradient of 1."""
import numpy as np
import pytest

try:
    import torch
except ImportError:  # (the lowest-versions CI environment has no PyTorch)
    torch = None

import gpugrad as gg

KEYS = [0, slice(None), [0, 0], np.array([True, False, True]), Ellipsis]


@pytest.mark.parametrize("dtype", ["int64", "int8", "uint8", "bool"])
@pytest.mark.parametrize("key", KEYS, ids=["int", "slice", "repeats", "mask", "ellipsis"])
def test_setitem_into_integer_tensor_keeps_no_gradient(key, dtype):
    v = gg.tensor(2.5, dtype="float64", requires_grad=True)
    x = gg.tensor(np.array([1, 0, 3]).astype(dtype))
    x[key] = v
    want = np.array([1, 0, 3]).astype(dtype)
    want[key] = 2.5
    np.testing.assert_array_equal(x.numpy(), want)
    assert x.dtype == np.dtype(dtype)
    assert not x.requires_grad  # (it required grad, and v.grad came out 1.0 per element)
    if torch is not None:
        tx = torch.tensor(np.array([1, 0, 3]).astype(dtype))
        tx[0] = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
        assert not tx.requires_grad  # PyTorch's answer


def test_fill_integer_tensor_keeps_no_gradient():
    v = gg.tensor(2.5, requires_grad=True)
    x = gg.tensor([1, 2, 3]).fill_(v)
    assert x.tolist() == [2, 2, 2] and not x.requires_grad


def test_setitem_of_float_value_in_a_graph_still_differentiates_the_rest():
    # the integer destination drops the value's path only; a float destination keeps it
    v = gg.tensor(2.5, dtype="float64", requires_grad=True)
    x = gg.tensor([1.0, 2.0, 3.0], dtype="float64")
    x[[0, 0]] = v * 2
    (x * x).sum().backward()
    assert v.grad.item() == pytest.approx(2 * 2 * 5.0)
