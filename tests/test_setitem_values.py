"""x[key] = <list of numbers> converts each number straight to x's dtype, as NumPy does, on
the direct (no graph) path and in a graph alike: no detour through float32."""
import numpy as np
import pytest

import gpugrad as gg

CASES = [("float64", [0.1, 0.2, 0.3]), ("int64", [16777217.0, 3.0, 5.0]),
         ("complex128", [0.1 + 0.1j, 1, 2]), ("float32", [0.1, 1e-40, 3]),
         ("bool", [0, 2, 0]), ("int8", [-128, 127, 0]), ("float16", [0.1, 65504, 1])]


@pytest.mark.parametrize("dtype,value", CASES)
@pytest.mark.parametrize("in_graph", [False, True])
def test_a_list_is_written_as_numpy_writes_it(dtype, value, in_graph):
    ref = np.zeros(3, dtype)
    ref[:] = value
    if in_graph and np.dtype(dtype).kind in "fc":
        w = gg.tensor(np.ones(3, dtype), requires_grad=True)
        x = w * 1
    else:
        x = gg.tensor(np.zeros(3, dtype))
    x[:] = value
    assert x.dtype == ref.dtype
    np.testing.assert_array_equal(x.numpy(), ref)


@pytest.mark.parametrize("value", [[2 ** 40, 1, 2], [float("nan"), 1, 2]])
def test_a_list_numpy_refuses_is_refused(value):
    ref = np.zeros(3, np.int32)
    with pytest.raises((OverflowError, ValueError)) as want:
        ref[:] = value
    x = gg.tensor(np.zeros(3, np.int32))
    with pytest.raises(type(want.value)):
        x[:] = value
    assert x.tolist() == [0, 0, 0]
