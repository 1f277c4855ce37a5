"""A value being differentiated by ``gg.grad`` (or another transform) turned into a Python
number: ``math.exp(w[0])``, ``float(w[0])``, ``math.sqrt(s)``, ``numpy.float64(s)``,
``complex(z)`` compute outside the graph, so the gradient through them was silently zero
(``grad(lambda w: math.exp(w[0]) * w[1])`` gave 0 for ``w[0]``).  Inside a transform such a
conversion raises TypeError saying what to write (gpugrad.numpy's function, or ``.item()`` to
read the value on purpose), as HIPS autograd and JAX refuse it; reading values explicitly
(``.item()``, f-strings, ``print``), piecewise-constant conversions (``int()``, ``round()``,
``bool()``) and conversions of values the transform does not differentiate still work, and
outside a transform ``float(loss)`` is PyTorch's (a detached value)."""
import math

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

W = numpy.array([0.5, 2.0])


@pytest.mark.parametrize("f", [
    lambda w: math.exp(w[0]) * w[1], lambda w: float(w[0]) * w[1],
    lambda w: math.sqrt(gnp.sum(w * w)) * w[0], lambda w: numpy.float64(w[0]) * w[1],
    lambda w: complex(w[1]).real * w[0], lambda w: gnp.sum(w) * math.log(w[1] / 4.0),
    lambda w: w[0] * ("%.3f" % w[1] == "2.000"),
], ids=["math.exp", "float", "math.sqrt", "float64", "complex", "math.log", "%-format"])
def test_a_differentiated_value_refuses_python_number_conversion(f):
    # (numpy.float64(t) asks for NumPy's conversion: the RuntimeError of np.asarray(t))
    with pytest.raises((TypeError, RuntimeError), match=r"gpugrad.numpy|\.item\(\)"):
        gg.grad(f)(gnp.asarray(W))


def test_the_graph_spelling_gives_the_gradient():
    g = gg.grad(lambda w: gnp.exp(w[0]) * w[1])(gnp.asarray(W))
    numpy.testing.assert_allclose(g.numpy(), [math.exp(0.5) * 2.0, math.exp(0.5)], rtol=1e-15)


def test_reads_and_piecewise_constant_conversions_still_work():
    seen = []

    def f(w):
        loss = gnp.sum(w * w)
        seen.append((loss.item(), f"{loss:.3f}", str(loss), int(w[1]), round(w[0] * 4),
                     bool(w[0] > 0), math.floor(w[1]), math.ceil(w[0]), float(gnp.asarray(W)[0])))
        return loss * math.exp(0.0)
    g = gg.grad(f)(gnp.asarray(W))
    numpy.testing.assert_array_equal(g.numpy(), 2 * W)
    assert seen == [(4.25, "4.250", "4.25", 2, 2, True, 2, 1, 0.5)]


def test_outside_a_transform_float_reads_the_value():
    w = gg.tensor(W, requires_grad=True)
    loss = (w * w).sum()
    assert float(loss) == 4.25 and complex(loss) == 4.25 and math.sqrt(loss) == math.sqrt(4.25)
    loss.backward()
    numpy.testing.assert_array_equal(w.grad.numpy(), 2 * W)
