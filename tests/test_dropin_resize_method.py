"""``ndarray.resize``, NumPy's in-place change of shape (an STFT pitch shifter trims its
output with ``output.resize(shape, refcheck=False)``): the elements in C order, cut or padded
with zeros, NumPy's errors for a view and for a non-integer size; a tensor in a graph refuses,
as PyTorch's ``resize_``, instead of losing its gradient."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

CASES = [((2, 4), {}), ((2, 2), {}), ((6,), {}), ((4,), {"refcheck": False}), ((), {}),
         ((3, 1, 2), {})]


@pytest.mark.parametrize("shape,kw", CASES)
@pytest.mark.parametrize("spread", [False, True])
def test_resize_is_numpys(shape, kw, spread):
    a, g = numpy.arange(6.0, dtype=numpy.float32), gnp.arange(6.0, dtype=gnp.float32)
    args = shape if spread else ((shape,) if shape else ())
    assert a.resize(*args, **kw) is None
    assert g.resize(*args, **kw) is None
    assert g.dtype == a.dtype and g.shape == a.shape
    numpy.testing.assert_array_equal(numpy.asarray(g), a)


def test_resize_integer_and_bool():
    for dt in ("int16", "bool"):
        a, g = numpy.ones(3, dtype=dt), gnp.ones(3, dtype=dt)
        a.resize(5)
        g.resize(5)
        numpy.testing.assert_array_equal(numpy.asarray(g), a)
        assert g.dtype == a.dtype


def test_resize_errors_are_numpys():
    for make in (lambda m: m.arange(6.0)[1:], lambda m: m.arange(6.0).reshape(2, 3)):
        with pytest.raises(ValueError, match="does not own its data"):
            make(numpy).resize(3)
        with pytest.raises(ValueError, match="does not own its data"):
            make(gnp).resize(3)
    with pytest.raises(TypeError):
        gnp.arange(6.0).resize(2.5)


def test_resize_in_graph_refuses():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="resize"):
        y.resize(3)
    with pytest.raises(RuntimeError, match="resize"):
        x.resize(3)
    assert y.tolist() == [2.0, 4.0]
