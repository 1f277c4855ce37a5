"""Python's copy protocols on an array being differentiated by ``gg.grad`` (and the other
transforms).  Under NumPy ``copy.copy(a)`` and ``copy.deepcopy(a)`` are ``a.copy()``, so
``W = copy.deepcopy(W0)`` at the top of a loss, or a deep copy of a dict of parameters, must
keep the gradient (checked against centered finite differences in float64).  Pickling one
cannot carry the graph: it raises, as ``float(x)`` does, instead of a silently lost
gradient."""
import copy
import pickle

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def fd(f, x, h=1e-6):
    g = numpy.zeros_like(x)
    for i in numpy.ndindex(x.shape):
        e = numpy.zeros_like(x)
        e[i] = h
        g[i] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return g


def plain(g):
    return g.numpy() if isinstance(g, gg.Tensor) else numpy.asarray(g)


X0 = numpy.array([[0.5, -1.25], [2.0, 0.75]])


def through_plain_copy(x):
    return gnp.sum(copy.copy(x) * x) + gnp.sum(copy.deepcopy(x) ** 2)


def through_copy(x):
    y = copy.copy(x)
    y *= 3.0                                   # a copy: x is not changed
    return gnp.sum(y * x) + gnp.sum(x ** 3)


def through_deepcopy(x):
    y = copy.deepcopy(x * 2.0)                 # also a computed array
    return gnp.sum(gnp.tanh(y) * x)


def through_deepcopied_dict(x):
    params = copy.deepcopy({"W": x, "b": x[0]})
    params["W"][0, 0] = 1.0                    # a write into the copy only
    return gnp.sum(params["W"] @ x) + gnp.sum(params["b"] ** 2)


def through_copied_list(x):
    rows = copy.copy([x[0], x[1] * x[0]])
    state = copy.deepcopy(rows)
    return gnp.sum(state[0] * state[1]) + gnp.sum(copy.copy(x.T) @ x)


@pytest.mark.parametrize("f", [through_plain_copy, through_copy, through_deepcopy,
                               through_deepcopied_dict, through_copied_list],
                         ids=lambda f: f.__name__)
def test_copy_protocols_keep_the_gradient(f):
    numpy.testing.assert_allclose(float(f(gnp.array(X0))), float(f(X0)), rtol=1e-15)
    g = plain(gg.grad(f)(X0.copy()))
    numpy.testing.assert_allclose(g, fd(f, X0), rtol=1e-7, atol=1e-8)


def test_the_copy_owns_its_memory_and_keeps_numpys_layout():
    def f(x):
        y = copy.copy(x.T)
        z = copy.deepcopy(x)
        if isinstance(x, gg.Tensor):              # (finite differences call f on arrays)
            ya, za, xa = (t.detach().numpy() for t in (y, z, x))
            assert ya.flags.f_contiguous and not numpy.shares_memory(ya, xa)
            assert not numpy.shares_memory(za, xa)
        before = float(x[0, 0].item())
        z[0, 0] = 100.0
        assert float(x[0, 0].item()) == before
        return gnp.sum(y * z)
    g = plain(gg.grad(f)(X0.copy()))
    numpy.testing.assert_allclose(g, fd(f, X0), rtol=1e-7, atol=1e-8)


def test_second_order_through_a_copy():
    hess_diag = gg.grad(lambda x: gg.grad(lambda y: gnp.sum(copy.deepcopy(y) ** 3))(x)[1])
    numpy.testing.assert_allclose(plain(hess_diag(numpy.array([1.5, -2.0]))), [0.0, -12.0])


def test_pickling_an_array_being_differentiated_raises():
    def f(x):
        return gnp.sum(pickle.loads(pickle.dumps(x)) * x)
    with pytest.raises(TypeError, match="pickle.*gradient"):
        gg.grad(f)(X0.copy())
    assert float(f(gnp.array(X0))) == float(numpy.sum(X0 * X0))   # outside: it pickles
