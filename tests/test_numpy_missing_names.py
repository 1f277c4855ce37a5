"""Names NumPy has and gpugrad.numpy does not: NumPy's own objects where they hold no arrays
to differentiate (exceptions, dtype classes, typing, testing, ma, __version__; lib but for
stride_tricks, tests/test_stride_tricks.py), the
fallback placeholder for functions, and AttributeError -- as NumPy gives it -- for any name
NumPy lacks, at any depth."""
import numpy as np
import pytest

import gpugrad.numpy as gnp


@pytest.mark.parametrize("name", ["exceptions", "dtypes", "typing", "testing", "ma"])
def test_safe_submodules_are_numpys_own(name):
    assert getattr(gnp, name) is getattr(np, name)


def test_numpy_idioms_work_as_in_numpy():
    assert gnp.__version__ == np.__version__
    with pytest.raises(gnp.exceptions.AxisError):
        gnp.sum(gnp.ones((2, 2)), axis=5)
    assert isinstance(gnp.zeros(2).dtype, gnp.dtypes.Float64DType)
    assert gnp.typing.NDArray[gnp.float64] == np.typing.NDArray[np.float64]
    assert gnp.ma.masked is np.ma.masked
    gnp.testing.assert_allclose(gnp.ones(2).numpy(), [1.0, 1.0])


def test_placeholder_attributes_are_numpys_or_attribute_errors():
    assert gnp.modf.nout == np.modf.nout == 2
    assert gnp.modf.__name__ == "modf"
    assert not hasattr(gnp.modf, "anything")
    with pytest.raises(AttributeError, match="has no attribute 'anything'"):
        gnp.modf.anything
    with pytest.raises(AttributeError):
        gnp.no_such_function_in_numpy
    assert gnp.polynomial.Polynomial is np.polynomial.Polynomial      # a class: NumPy's
    assert not hasattr(gnp.polynomial, "no_such_name")


def test_placeholder_functions_still_take_the_fallback():
    got = gnp.polynomial.polynomial.polyval(gnp.array([1.0, 2.0]), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(got), [3.0, 5.0])
