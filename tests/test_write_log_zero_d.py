"""A write into a 0-d tensor in a graph (``a = np.zeros(()); a[()] = w * 2``): the gradient
reaching the write's node is a NumPy scalar (0-d math answers one), and the write's backward
wrote zeros into it in place -- ``TypeError: 'numpy.float64' object does not support item
assignment`` at backward, for every key a 0-d array takes (``()``, ``...``, ``None``,
``True``).  Against finite differences in float64, and against PyTorch."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

X = numpy.array([0.3, -1.2, 0.7])
KEYS = {"()": (), "...": Ellipsis, "None": None, "True": True, "(..., None)": (Ellipsis, None),
        "array(True)": numpy.array(True)}


def _program(np, x, key):
    a = np.zeros(())
    a[key] = x[0] * 2
    z = a + x[1]                 # (saves nothing: the writes below may follow)
    a[key] = x[2] ** 2
    a[key] *= x[0]               # reads the old a (its node keeps a copy)
    return np.sum(z * z) + np.sum(a * x[2])


@pytest.mark.parametrize("key", list(KEYS))
def test_a_write_into_a_zero_d_tensor_differentiates(key):
    k = KEYS[key]
    assert float(_program(gnp, gg.tensor(X), k)) == _program(numpy, X, k)
    g = numpy.asarray(gg.grad(lambda t: _program(gnp, t, k))(gg.tensor(X)).data)
    eps, fd = 1e-6, numpy.zeros_like(X)
    for i in range(X.size):
        d = numpy.zeros_like(X)
        d[i] = eps
        fd[i] = (_program(numpy, X + d, k) - _program(numpy, X - d, k)) / (2 * eps)
    numpy.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)


def test_a_zero_d_write_against_pytorch():
    torch = pytest.importorskip("torch")
    x = torch.tensor(X, requires_grad=True)
    a = torch.zeros((), dtype=torch.float64)
    a[()] = x[0] * 2
    z = a + x[1]
    a[()] = x[2] ** 2
    a[()] *= x[0]
    (z * z + a * x[2]).backward()
    g = gg.grad(lambda t: _zero_d_sum(t))(gg.tensor(X))
    numpy.testing.assert_allclose(numpy.asarray(g.data), x.grad.numpy(), rtol=1e-12)


def _zero_d_sum(x):
    a = gnp.zeros(())
    a[()] = x[0] * 2
    z = a + x[1]
    a[()] = x[2] ** 2
    a[()] *= x[0]
    return z * z + a * x[2]
