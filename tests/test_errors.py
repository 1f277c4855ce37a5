"""Bad input gets a specific exception whose message names what was expected and what came."""
import re
import types

import numpy as np
import pytest

import gpugrad as gg


def ones(*shape, **kw):
    return gg.ones(*shape, **kw)


X = gg.ones(2, 3)

BAD_INPUTS = {
    # ------------------------------------------------ shapes
    "reshape": (lambda: gg.reshape(X, 4, 2), ValueError,
                r"cannot reshape tensor of shape (2, 3) into shape (4, 2)"),
    "matmul": (lambda: ones(2, 3) @ ones(4, 5), ValueError,
               r"got (2, 3) and (4, 5) (k = 3 vs 4)"),
    "matmul_0d": (lambda: gg.matmul(ones(), ones(3)), ValueError,
                  r"at least one dimension, got shapes () and (3,)"),
    "dot": (lambda: gg.dot(ones(3), ones(4)), ValueError, r"shapes (3,) and (4,) are not aligned"),
    "einsum": (lambda: gg.einsum("ij,jk->ik", ones(2, 3), ones(4, 2)), ValueError,
               r"index 'j' has size 3 in operand 0 but size 4 in operand 1"),
    "concatenate": (lambda: gg.concatenate([ones(2, 3), ones(2, 4)]), ValueError,
                    r"same shape except along axis 0, got (2, 3) and (2, 4)"),
    "stack": (lambda: gg.stack([ones(3), ones(4)]), ValueError,
              r"same shape, got (3,) and (4,)"),
    "split": (lambda: gg.split(ones(5), 2), ValueError,
              r"axis 0 of size 5 cannot be split into 2 equal sections"),
    "squeeze": (lambda: gg.squeeze(X, 0), ValueError, r"cannot squeeze axis 0 of size 2"),
    "permute": (lambda: gg.permute(X, 0, 0), ValueError,
                r"axes (0, 0) are not a permutation of the 2 dimensions"),
    "mse_loss": (lambda: gg.mse_loss(ones(3), ones(4)), ValueError,
                 r"expected input and target of one shape, got (3,) and (4,)"),
    "bce": (lambda: gg.binary_cross_entropy_with_logits(ones(3), ones(2)), ValueError,
            r"expected logits and target of one shape, got (3,) and (2,)"),
    "cross_entropy_targets": (lambda: gg.cross_entropy(ones(3, 4), gg.tensor([0, 1])),
                              ValueError, r"expected targets of shape (3,), got (2,)"),
    "cross_entropy_logits": (lambda: gg.cross_entropy(ones(4), gg.tensor([0])), ValueError,
                             r"expected logits of shape (N, C), got (4,)"),
    "linear_x": (lambda: gg.linear(ones(2, 3), ones(4, 5)), ValueError,
                 r"expected x of shape (..., 4) and W of shape (k, out), got x (2, 3) and "
                 r"W (4, 5)"),
    "linear_b": (lambda: gg.linear(ones(2, 3), ones(3, 5), ones(4)), ValueError,
                 r"expected b of shape (5,), got (4,)"),
    "item": (lambda: X.item(), ValueError, r"one element, got shape (2, 3)"),
    "creation_shape": (lambda: gg.zeros(-1), ValueError, r"non-negative ints, got (-1,)"),
    "pad": (lambda: gg.pad(X, ((1, 2, 3),)), ValueError,
            r"does not fit a tensor of shape (2, 3)"),
    # ------------------------------------------------ broadcasting
    "add_broadcast": (lambda: ones(2, 3) + ones(4), ValueError,
                      r"could not be broadcast together with shapes (2,3) (4,)"),
    "multiply_broadcast": (lambda: gg.multiply(ones(2, 3), ones(2)), ValueError,
                           r"could not be broadcast together with shapes (2,3) (2,)"),
    "broadcast_to": (lambda: gg.broadcast_to(ones(3), (2, 4)), ValueError,
                     r"cannot broadcast tensor of shape (3,) to shape (2, 4)"),
    "expand": (lambda: gg.expand(ones(3, 2), 3, 4), ValueError,
               r"cannot broadcast tensor of shape (3, 2) to shape (3, 4)"),
    # ------------------------------------------------ axes
    "axis": (lambda: gg.sum(X, axis=2), np.exceptions.AxisError,
             r"axis 2 is out of bounds for a tensor of dimension 2"),
    "axis_neg": (lambda: gg.mean(X, axis=-3), np.exceptions.AxisError,
                 r"axis -3 is out of bounds for a tensor of dimension 2"),
    "axis_repeated": (lambda: gg.sum(X, axis=(0, 0)), ValueError, r"repeated axis in axis (0, 0)"),
    "softmax_axis": (lambda: gg.softmax(X, axis=3), np.exceptions.AxisError,
                     r"axis 3 is out of bounds"),
    "max_empty": (lambda: gg.max(ones(0)), ValueError, r"max of an empty tensor"),
    # ------------------------------------------------ dtypes
    "float_index_tensor": (lambda: X[gg.tensor([0.0, 1.0])], IndexError,
                           r"tensor indices must be integers or booleans, got float32"),
    "float_index_array": (lambda: X[np.array([0.5])], IndexError,
                          r"tensor indices must be integers or booleans, got float64"),
    "float_index_scalar": (lambda: X[1.5], IndexError,
                           r"tensor indices must be integers or booleans, got float"),
    "take_float": (lambda: gg.take(X, np.array([0.0])), IndexError,
                   r"take: indices must be integers, got float64"),
    "take_along_float": (lambda: gg.take_along_axis(X, np.array([[0.0]]), 1), IndexError,
                         r"must be integers or booleans, got float64"),
    "index_out_of_range": (lambda: X[5], IndexError,
                           r"index 5 is out of bounds for axis 0 with size 2"),
    "requires_grad_int": (lambda: gg.tensor([1, 2], requires_grad=True), TypeError,
                          r"only floating-point tensors can require gradients, got dtype int64"),
    "unsupported_dtype": (lambda: gg.zeros(2, dtype="float128"), TypeError,
                          r"unsupported dtype float128; expected one of float16, float32"),
    "unknown_dtype": (lambda: gg.zeros(2, dtype="foo"), TypeError,
                      r"expected a dtype such as 'float32' or gpugrad.float64, got 'foo'"),
    "string_data": (lambda: gg.tensor(["a"]), TypeError,
                    r"cannot make a tensor of dtype <U1; expected numbers or bools"),
    "rand_int": (lambda: gg.rand(2, dtype="int64"), TypeError,
                 r"rand: expected a floating dtype, got int64"),
    "cross_entropy_float_targets": (lambda: gg.cross_entropy(ones(2, 4), gg.tensor([0.0, 1.0])),
                                    TypeError, r"expected integer class targets, got dtype "
                                               r"float32"),
    "cross_entropy_range": (lambda: gg.cross_entropy(ones(2, 4), gg.tensor([0, 4])), IndexError,
                            r"target values must be in [0, 4) (or ignore_index=-100), got 4"),
    "one_hot_float": (lambda: gg.one_hot(gg.tensor([0.0])), TypeError,
                      r"one_hot: expected integer indices, got dtype float32"),
    "one_hot_range": (lambda: gg.one_hot(gg.tensor([0, 5]), 3), IndexError,
                      r"expected indices in [0, 3), got values in [0, 5]"),
    "linear_dtypes": (lambda: gg.linear(ones(2, 3), ones(3, 5, dtype="float64")), TypeError,
                      r"expected x and W of one dtype, got float32 and float64"),
    "inplace_cast": (lambda: gg.tensor([1, 2]).__imul__(2.5), TypeError,
                     r"dtype float64 cannot be cast to the tensor's dtype int64"),
    "from_numpy": (lambda: gg.from_numpy([1, 2]), TypeError,
                   r"expected a numpy.ndarray, got list"),
    # ------------------------------------------------ values and options
    "reduction": (lambda: gg.cross_entropy(ones(2, 4), gg.tensor([0, 1]), reduction="avg"),
                  ValueError, r"reduction must be one of ('mean', 'sum', 'none'), got 'avg'"),
    "label_smoothing": (lambda: gg.cross_entropy(ones(2, 4), gg.tensor([0, 1]),
                                                 label_smoothing=1.5), ValueError,
                        r"label_smoothing must be in [0, 1], got 1.5"),
    "activation": (lambda: gg.linear(ones(2, 3), ones(3, 5), activation="swish"), ValueError,
                   r"unknown activation 'swish'; expected one of"),
    "gelu": (lambda: gg.gelu(X, approximate="fast"), ValueError,
             r"approximate must be 'none' or 'tanh', got 'fast'"),
    "leaky_relu": (lambda: gg.leaky_relu(X, -1.0), ValueError,
                   r"negative_slope must be >= 0, got -1.0"),
    "clip": (lambda: gg.clip(X), ValueError, r"clip needs a_min or a_max (got neither)"),
    "dropout": (lambda: gg.dropout(X, -0.1), ValueError,
                r"dropout probability must be in [0, 1], got -0.1"),
    "seed": (lambda: gg.manual_seed(-1), ValueError, r"seed must be a non-negative int, got -1"),
    # ------------------------------------------------ autograd
    "backward_non_scalar": (lambda: (gg.ones(2, 3, requires_grad=True) * 2).backward(),
                            RuntimeError, r"grad can be implicitly created only for scalar "
                                          r"outputs; got shape (2, 3)"),
    "backward_gradient_shape": (lambda: (gg.ones(2, 3, requires_grad=True) * 2).backward(
        gg.ones(3)), RuntimeError, r"gradient shape mismatch: expected (2, 3), got (3,)"),
    "backward_no_grad": (lambda: gg.ones(2).sum().backward(), RuntimeError,
                         r"does not require grad and has no grad_fn"),
    "grad_input": (lambda: gg.autograd.grad((gg.ones(2, requires_grad=True) * 2).sum(),
                                            [gg.ones(2)]), RuntimeError,
                   r"every input of grad() must be a Tensor with requires_grad=True"),
    "backward_not_tensor": (lambda: gg.autograd.backward([np.ones(2)]), TypeError,
                            r"expected a Tensor to differentiate, got ndarray"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_raises_a_specific_error(name):
    fn, exc, message = BAD_INPUTS[name]
    with pytest.raises(exc, match=re.escape(message)):
        fn()


def test_failed_inplace_leaves_the_tensor_untouched():
    x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    before = x.numpy().copy()
    with pytest.raises(ValueError, match="could not be broadcast"):
        x += gg.ones(4)
    with pytest.raises(RuntimeError, match=r"shape \(2, 2, 3\) cannot be written"):
        x *= gg.ones(2, 2, 3)
    np.testing.assert_array_equal(x.numpy(), before)
    assert x._version == 0


def test_device_mismatch_is_an_error_not_a_copy():
    class FakeGpuArray:  # the device check reads only the module name and .device.id
        def __init__(self):
            self.device = types.SimpleNamespace(id=0)
            self.shape, self.dtype = (3,), np.dtype("float32")
    FakeGpuArray.__module__ = "cupy"
    cpu = gg.ones(3, requires_grad=True)
    gpu = gg.Tensor._make(FakeGpuArray())
    for op in (gg.add, gg.multiply, gg.maximum, gg.subtract):
        with pytest.raises(gg.DeviceMismatchError,
                           match=r"expected all tensors on one device, got cpu and cuda:0; move "
                                 r"one with .to\('cpu'\) first"):
            op(cpu, gpu)
    assert cpu.grad is None
