"""A tensor made on another tensor's memory counts versions on that tensor's counter, so a
write through either is seen by a node that saved the other: ``nn.Parameter(t)`` shares
``t``'s array, and had a counter of its own -- a write into ``t`` after a node saved the
parameter gave the gradient of the new values, silently (PyTorch raises)."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def _buffer():
    h = gnp.zeros((2, 3))
    h[...] = 1.0
    return h


def test_write_into_the_tensor_a_parameter_was_made_on_is_seen():
    h = _buffer()
    p = gg.nn.Parameter(h[0])
    assert numpy.shares_memory(p.data, h.data)
    z = gnp.sum(p * p)
    h[0] = 5.0
    try:
        z.backward()
    except RuntimeError as e:
        assert "in-place" in str(e)
    else:   # only the gradient of the values p * p read (1.0) is right
        numpy.testing.assert_array_equal(p.grad.numpy(), [2.0, 2.0, 2.0])


def test_write_through_the_parameter_is_seen_by_a_node_that_saved_the_tensor():
    w = gg.tensor([2.0], requires_grad=True)
    h = _buffer()
    z = gnp.sum(h[0] * w)          # saves h[0] for w's gradient (3.0)
    p = gg.nn.Parameter(h)
    with gg.no_grad():
        p *= 4.0                   # an update of the parameter: h's memory changes
    z.backward()                   # z's node kept h[0]'s old value
    assert w.grad.tolist() == [3.0] and h.tolist()[0] == [4.0, 4.0, 4.0]


def test_a_write_elsewhere_in_the_memory_is_never_wrong():
    h = _buffer()
    p = gg.nn.Parameter(h[0])
    z = gnp.sum(p * p)
    h[1] = 5.0                     # the other row: p's values are the ones z read
    try:
        z.backward()
    except RuntimeError as e:      # (NumPy's own write into a constant is not logged)
        assert "in-place" in str(e)
    else:
        numpy.testing.assert_array_equal(p.grad.numpy(), [2.0, 2.0, 2.0])
