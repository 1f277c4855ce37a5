"""Parameters that NumPy takes as numbers, given as 0-d tensors (results of gpugrad.numpy,
as NumPy's scalars would be): NumPy's answer, and, where the parameter is a value the
result depends on, its gradient -- ``isclose(atol=t)`` recursed without end (NumPy's
function, given the tensor, dispatched back into gpugrad's), ``array_split(x, t)`` split
into equal sections only, ``pad(constant_values=t)`` dropped the value's gradient."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

X = numpy.arange(4.0)


@pytest.mark.parametrize("call", [
    lambda np, t: np.isclose(X, 1.2, atol=t), lambda np, t: np.isclose(X, 1.2, rtol=t),
    lambda np, t: np.allclose(X, X + 0.1, atol=t), lambda np, t: np.array_split(X, t * 6)[0],
    lambda np, t: np.array_split(X, t * 6)[2], lambda np, t: np.pad(X, 1, constant_values=t),
    lambda np, t: np.pad(X.reshape(2, 2), 1, constant_values=((t, 2.0), (3.0, t))),
], ids=["isclose_atol", "isclose_rtol", "allclose", "array_split", "array_split_last",
        "pad", "pad_pairs"])
def test_numpys_answer(call):
    want = call(numpy, numpy.array(0.5))
    got = call(gnp, gnp.array(0.5))
    g = numpy.asarray(got.numpy() if isinstance(got, gg.Tensor) else got)
    assert g.dtype == numpy.asarray(want).dtype and g.shape == numpy.shape(want)
    numpy.testing.assert_array_equal(g, want)


def test_isclose_with_a_tensor_in_a_graph():
    t = gg.tensor(0.5, dtype="float64", requires_grad=True)
    numpy.testing.assert_array_equal(gnp.isclose(X, 1.2, atol=t).numpy(),
                                     numpy.isclose(X, 1.2, atol=0.5))


@pytest.mark.parametrize("values,count", [(None, 12), (((None, 2.0), (3.0, None)), 2 + 4)])
def test_pad_constant_value_gradient(values, count):
    """d sum(pad(x, 1, constant_values=c)) / dc = the number of elements c fills; the
    corners belong to the later axis, as NumPy fills them."""
    a = numpy.arange(4.0).reshape(2, 2)

    def f(x, c):
        cv = c if values is None else tuple(tuple(c if v is None else v for v in p)
                                            for p in values)
        return gnp.sum(gnp.pad(x, 1, constant_values=cv))
    gx, gc = gg.grad(f, argnums=(0, 1))(gnp.asarray(a), gnp.array(0.25))
    numpy.testing.assert_array_equal(gx.numpy(), numpy.ones((2, 2)))
    assert float(gc) == count


def test_pad_value_cast_to_the_array_dtype():
    ints = numpy.arange(3)
    got = gg.grad(lambda c: gnp.sum(gnp.pad(gnp.asarray(ints * 1.0), 1, constant_values=c) *
                                    gnp.array([1.0, 0, 0, 0, 2.0])))(gnp.array(2.5))
    assert float(got) == 3.0
    numpy.testing.assert_array_equal(gnp.pad(ints, 1, constant_values=gnp.array(2.7)).numpy(),
                                     numpy.pad(ints, 1, constant_values=2.7))


def test_engine_pad_value_gradient():
    c = gg.tensor(1.5, dtype="float64", requires_grad=True)
    x = gg.tensor(numpy.ones(3), requires_grad=True)
    y = gg.ops.pad(x, (2, 1), constant_values=c)
    numpy.testing.assert_array_equal(y.numpy(), [1.5, 1.5, 1, 1, 1, 1.5])
    (y * gg.tensor(numpy.arange(6.0))).sum().backward()
    assert c.grad.item() == 0 + 1 + 5 and x.grad.tolist() == [2.0, 3.0, 4.0]
