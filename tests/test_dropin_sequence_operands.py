"""A Python list or tuple beside a tensor in an arithmetic operator (``particles[:, 0:2] += u +
randn(N, 2) * std`` with ``std = (0.2, 0.2)``, from a particle filter) is converted as NumPy
converts it -- ``np.asarray(seq)``: float64 for floats -- and then promoted as NumPy
promotes.  It went through float32 first: a float64 answer with float32-rounded values."""
import operator

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

SEQ = [0.1, 0.2 + 1e-12]
OPS = ["add", "sub", "mul", "truediv", "pow", "mod", "floordiv", "lt", "eq", "ne", "ge"]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "complex128"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("seq", [SEQ, tuple(SEQ), [3, 4], [True, False]])
def test_operator_with_sequence_is_numpys(op, dtype, seq):
    if dtype == "complex128" and op in ("mod", "floordiv", "lt", "ge"):
        return
    a = numpy.array([1.5, 2.25]).astype(dtype)
    f = getattr(operator, op)
    with numpy.errstate(all="ignore"):
        for x, y in ((a, seq), (seq, a)):
            try:
                want = f(x, y)
            except TypeError:
                continue
            got = f(gnp.array(x) if x is a else x, gnp.array(y) if y is a else y)
            assert numpy.asarray(got).dtype == want.dtype, (op, dtype, seq)
            numpy.testing.assert_array_equal(numpy.asarray(got), want)


@pytest.mark.parametrize("op", ["iadd", "isub", "imul", "itruediv"])
def test_inplace_operator_with_sequence(op):
    a = numpy.array([[1.5, 2.25], [3.0, 4.5]])
    g = gnp.array(a)
    getattr(operator, op)(a[:, 0:2], (0.2, 0.3))
    getattr(operator, op)(g[:, 0:2], (0.2, 0.3))
    numpy.testing.assert_array_equal(numpy.asarray(g), a)


def test_engine_ops_with_sequence_keep_float64_values():
    t = gg.tensor(numpy.array([1.0, 2.0]))
    for name in ("add", "multiply", "divide", "maximum", "arctan2", "hypot", "logaddexp"):
        got = numpy.asarray(getattr(gg.ops, name)(t, [0.1, 0.3]))
        numpy.testing.assert_array_equal(got, getattr(numpy, name)(numpy.array([1.0, 2.0]),
                                                                   [0.1, 0.3]))


def test_gradient_with_sequence_operand():
    x0 = numpy.array([[0.5, -1.0], [2.0, 0.25]])
    g = gg.grad(lambda x: gnp.sum((x * (0.2, 0.3) + [0.1, 0.7]) ** 2))(gnp.array(x0))
    want = 2 * (x0 * [0.2, 0.3] + [0.1, 0.7]) * [0.2, 0.3]
    numpy.testing.assert_allclose(numpy.asarray(g), want, rtol=1e-15)
