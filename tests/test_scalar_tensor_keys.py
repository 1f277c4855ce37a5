"""A 0-d integer tensor in an index key acts as the integer it holds, as the NumPy scalar it
stands for does (gpugrad.numpy returns 0-d tensors where NumPy returns scalars: iterating an
integer array, argmax, integer random draws): ``X[i]`` is a view, so a write through it
reaches ``X``.  A 0-d ndarray key keeps NumPy's meaning (an index array: a copy).  On CUDA
and inside a gg.compile recording the key stays an index array (no host read of its value)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def _both(program):
    want, got = program(np), program(gnp)
    np.testing.assert_array_equal(np.asarray(got.numpy() if hasattr(got, "numpy") else got),
                                  want)


def test_writes_through_a_row_picked_by_an_iterated_index():
    def program(m):
        X = m.zeros((3, 3))
        for i in m.arange(3):
            X[i][i] = 1
        return X
    _both(program)


def test_writes_through_a_row_picked_by_argmax():
    def program(m):
        X = m.zeros((3, 2))
        idx = m.argmax(m.array([0.0, 5.0, 1.0]))
        X[idx][0] = 7
        row = X[idx, :]
        row += 1
        return X
    _both(program)


def test_the_row_is_a_view_and_differentiates():
    x = np.arange(6.0).reshape(3, 2)
    i = gnp.argmax(gnp.array([0.0, 5.0, 1.0]))

    def loss(x):
        y = x * 1.0
        r = y[i]
        r *= 3.0
        return (y * y).sum()
    g = gg.grad(loss)(x)
    want = 2 * np.arange(6.0).reshape(3, 2)
    want[1] *= 9.0
    np.testing.assert_allclose(np.asarray(g), want)


def test_a_zero_d_ndarray_key_keeps_numpy_meaning():
    X = gnp.zeros((3, 3))
    X[np.array(1)][0] = 5.0        # NumPy: an index array, a copy -- the write is lost
    want = np.zeros((3, 3))
    want[np.array(1)][0] = 5.0
    np.testing.assert_array_equal(X.numpy(), want)
