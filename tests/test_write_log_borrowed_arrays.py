"""A NumPy array the caller holds, used as an operand beside a tensor that requires grad
(``y = x * c``, ``M @ x``, ``np.where(mask, x, 0)``) or wrapped without a copy
(``np.asarray(a)``, ``gg.as_tensor(a)``, ``gg.from_numpy(a)``), was kept by reference by the
node that read it: NumPy code writing into the array before backward (a scratch buffer
reused in a loop, ``c[...] = ...``) changed the gradient silently, as did a write through a
second tensor made on the same memory (``np.asarray(a)`` twice: two version counters).  A
node now keeps a copy of such memory -- the value its forward read -- when it reads it at
backward and takes no gradient for it.  Against finite differences in float64."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

X = numpy.array([0.3, -1.2, 0.7])


def _check(program):
    """``program(np, x)`` (NumPy's or gpugrad's): its value and gradient against NumPy's
    value and central differences."""
    assert float(program(gnp, gg.tensor(X))) == pytest.approx(program(numpy, X), rel=1e-12)
    g = numpy.asarray(gg.grad(lambda t: program(gnp, t))(gg.tensor(X)).data)
    eps, fd = 1e-6, numpy.zeros_like(X)
    for i in range(X.size):
        d = numpy.zeros_like(X)
        d[i] = eps
        fd[i] = (program(numpy, X + d) - program(numpy, X - d)) / (2 * eps)
    numpy.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


OPERANDS = {
    "x * c": lambda np, x, c, M, m: x * c,
    "c * x": lambda np, x, c, M, m: c * x,
    "multiply": lambda np, x, c, M, m: np.multiply(x, c),
    "x / c": lambda np, x, c, M, m: x / c,
    "c ** x": lambda np, x, c, M, m: c ** x,
    "dot": lambda np, x, c, M, m: np.dot(M, x),
    "M @ x": lambda np, x, c, M, m: M @ x,
    "x @ M": lambda np, x, c, M, m: x @ M,
    "einsum": lambda np, x, c, M, m: np.einsum("ij,j->i", M, x),
    "outer": lambda np, x, c, M, m: np.outer(x, c).ravel(),
    "convolve": lambda np, x, c, M, m: np.convolve(x, c),
    "where": lambda np, x, c, M, m: np.where(m, x, c),
    "interp": lambda np, x, c, M, m: np.interp(x, numpy.array([-2.0, 0.0, 2.0]), c),
}


@pytest.mark.parametrize("op", list(OPERANDS))
def test_a_numpy_operand_written_after_the_op(op):
    def program(np, x):
        c, M = numpy.array([1.0, 2.0, 3.0]), numpy.arange(1.0, 10.0).reshape(3, 3)
        m = numpy.array([True, False, True])
        y = OPERANDS[op](np, x, c, M, m)
        c[...] = -7.0                       # NumPy's own writes: no tensor sees them
        M[...] = -7.0
        m[...] = ~m
        return np.sum(y * y)
    _check(program)


def test_a_scratch_buffer_reused_in_a_loop():
    def program(np, x):
        scratch = numpy.empty(3)
        loss = 0.0
        for t in range(4):
            scratch[...] = numpy.arange(3.0) + t      # refilled before each use
            loss = loss + np.sum(np.tanh(x * scratch))
        return loss
    _check(program)


WRAPS = {"asarray": lambda a: gnp.asarray(a), "as_tensor": lambda a: gg.as_tensor(a),
         "from_numpy": lambda a: gg.from_numpy(a), "array_copy_false": lambda a: gnp.array(
             a, copy=False)}


@pytest.mark.parametrize("wrap", list(WRAPS))
def test_memory_wrapped_twice_written_through_either(wrap):
    def program(np, x):
        raw = numpy.ones(6)
        a = WRAPS[wrap](raw[:4]) if np is gnp else raw[:4]
        z = a[:3] * x                       # reads raw[0:3]
        b = WRAPS[wrap](raw[2:]) if np is gnp else raw[2:]
        b[0] = 5.0                          # raw[2]: another tensor on the same memory
        raw[1] = 9.0                        # and NumPy's own write
        return np.sum(z * z) + np.sum(a * x[0])
    _check(program)


def test_a_write_through_the_tensor_itself_reads_the_old_value():
    def program(np, x):
        h = np.asarray(numpy.zeros(3))
        h[...] = 2.0
        z = h * x                           # reads h's memory
        h[1] = 5.0                          # a write into that memory, through h
        return np.sum(z * z) + np.sum(h * x)
    _check(program)


def test_create_graph_reads_the_old_value_too():
    c = numpy.array([1.0, 2.0, 3.0])
    x = gg.tensor(X, requires_grad=True)
    y = gnp.sum((x * c) ** 3)
    c[...] = 100.0
    (g,) = gg.autograd.grad(y, [x], create_graph=True)
    (h,) = gg.autograd.grad(gnp.sum(g), [x])
    cc = numpy.array([1.0, 2.0, 3.0])
    numpy.testing.assert_allclose(g.numpy(), 3 * cc ** 3 * X ** 2, rtol=1e-12)
    numpy.testing.assert_allclose(h.numpy(), 6 * cc ** 3 * X, rtol=1e-12)
