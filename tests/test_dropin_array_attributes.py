"""ndarray attributes and methods programs use, with NumPy's meaning on tensors: ``a.shape =``
(an in-place reshape of the same memory, NumPy's AttributeError where a copy would be
needed), ``a.base`` (the tensor owning the memory a view reads, None for one owning its
own), ``a.setflags(write=False)``, ``a.choose(choices)``; and ``linspace(..., retstep=True)``'s
step as NumPy's scalar."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def test_shape_assignment_reshapes_in_place():
    for np in (numpy, gnp):
        a = np.arange(6.0)
        alias = a
        a.shape = (2, 3)
        assert alias.shape == (2, 3) and a[1, 0] == 3.0
        a.shape = -1, 2
        assert a.shape == (3, 2)
        a.shape = 6
        assert a.shape == (6,)
        t = np.arange(6.0).reshape(2, 3).T
        with pytest.raises(AttributeError, match="Incompatible shape"):
            t.shape = (6,)


def test_shape_assignment_in_a_graph_keeps_the_gradient():
    w = numpy.arange(1.0, 7.0)

    def f(x):
        h = x * x
        h.shape = (2, 3)
        return gnp.sum(h[1] * 2.0)
    g = gg.grad(f)(gnp.asarray(w))
    numpy.testing.assert_array_equal(g.numpy(), [0, 0, 0, 16.0, 20.0, 24.0])
    leaf = gg.tensor(w, requires_grad=True)
    with pytest.raises(RuntimeError, match="shape"):
        leaf.shape = (2, 3)


def test_base_tells_views_from_owners():
    for np in (numpy, gnp):
        a = np.arange(6.0)
        b = a.reshape(2, 3)
        assert a.base is None and b.base is a
        assert b[0].base is a and b.T.base is a and a[::2].base is a
        assert (a + 1).base is None and a.copy().base is None and a[[0, 1]].base is None


def test_setflags_makes_a_tensor_read_only():
    for np in (numpy, gnp):
        a = np.arange(3.0)
        a.setflags(write=False)
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1.0
        a.setflags(write=True)
        a[0] = 5.0
        assert a[0] == 5.0


def test_choose_method():
    choices = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    want = numpy.arange(3).choose(choices)
    got = gnp.arange(3).choose(choices)
    numpy.testing.assert_array_equal(got.numpy(), want)
    want = numpy.array([0, 5, -1]).choose(choices, mode="clip")
    numpy.testing.assert_array_equal(gnp.array([0, 5, -1]).choose(choices, mode="clip").numpy(),
                                     want)


@pytest.mark.parametrize("args", [(0, 1, 5), (0.0, 2.0, 4), (numpy.float32(0), numpy.float32(1), 5),
                                  (0, 1, 1), (0j, 1, 3), (numpy.float16(1), 2, 3)])
@pytest.mark.parametrize("endpoint", [True, False])
def test_linspace_step_is_numpys_scalar(args, endpoint):
    want = numpy.linspace(*args, endpoint=endpoint, retstep=True)[1]
    got = gnp.linspace(*args, endpoint=endpoint, retstep=True)[1]
    assert type(got) is type(want)
    assert repr(got) == repr(want)
