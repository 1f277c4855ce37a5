"""The Tensor operators' no-graph fast path (``ops._fast.binary_operator`` /
``unary_operator``, reflected ones included) and the ``gpugrad.numpy`` functions built on it:
the fast path is taken exactly when ``_binary_data`` (the one rule, also used by the in-place
operators) says so, the answers are NumPy's, and calls with other arguments reach the
function's own path with its own errors."""
import operator

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import device_checks as dc
from gpugrad.ops import _fast


def _operands():
    """name -> operand, of every kind the rule tells apart."""
    base = gnp.asarray(np.array([1.0, 2.0, 4.0]))
    leaf = gg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    joined = gnp.zeros(3)
    late = joined[0:3]                       # a view of a constant that then joins a graph
    joined[...] = leaf
    ops = {
        "plain": gnp.asarray(np.array([0.5, 3.0, -1.0])), "int": gnp.arange(3),
        "view": base[0:3], "leaf": leaf, "graph": leaf * 2, "late view": late,
        "0-d": gnp.asarray(np.array([1.5, 2.5]))[1], "float": 2.5, "int number": 3,
        "bool": True, "np.float32": np.float32(1.5), "list": [1.0, 2.0, 3.0], "none": None,
        "ndarray": np.array([1.0, 2.0, 3.0]),
    }
    try:
        import ml_dtypes
        ops["bfloat16"] = gnp.asarray(np.array([1.0, 2.0, 3.0], dtype=ml_dtypes.bfloat16))
    except ImportError:
        pass
    return ops


@pytest.mark.parametrize("differentiable", [True, False])
@pytest.mark.parametrize("reflected", [False, True])
def test_the_fast_path_is_taken_exactly_where_binary_data_allows(differentiable, reflected):
    ops = _operands()
    slow_calls = []

    def slow(a, b):
        slow_calls.append((a, b))
        return "slow"

    op = _fast.binary_operator(operator.add, slow, differentiable, reflected)
    for na, a in ops.items():
        for nb, b in ops.items():
            del slow_calls[:]
            r = op(b, a) if reflected else op(a, b)
            fast = _fast._binary_data(a, b, differentiable) is not None
            assert isinstance(r, str) is not fast, (na, nb)
            if not fast:
                assert len(slow_calls) == 1 and slow_calls[0][0] is a and slow_calls[0][1] is b
            else:
                assert isinstance(r, gg.Tensor) and r._node is None and not r.requires_grad


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                operator.pow, operator.mod, operator.floordiv, operator.lt,
                                operator.ge, operator.eq, operator.ne])
@pytest.mark.parametrize("number", [2, 2.5, True, np.float32(1.5), np.int8(3)])
def test_reflected_operators_with_numbers_are_numpys(op, number):
    for dt in (np.float64, np.float32, np.int64, np.int32, np.bool_):
        a = np.array([1, 2, 3]).astype(dt)
        t = gnp.asarray(a.copy())
        with np.errstate(all="ignore"):
            try:
                want = op(number, a)
            except Exception as e:  # noqa: BLE001 -- the same error type both ways
                with pytest.raises(type(e)):
                    op(number, t)
                continue
            got = op(number, t)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.numpy(), want)


def test_reflected_operators_record_the_graph_with_operands_in_order():
    x = gg.tensor([1.0, 2.0, 4.0], dtype="float64", requires_grad=True)
    y = (2.0 - x) + (3.0 / x) + (2.0 ** x) + (5.0 * x)
    y.sum().backward()
    xv = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), -1 - 3 / xv ** 2 + np.log(2) * 2 ** xv + 5)


def test_a_sequence_times_a_0d_integer_tensor_repeats_it():
    k = gnp.arange(4)[2]
    assert [1, 2] * k == [1, 2, 1, 2] and k * (7,) == (7, 7)
    with pytest.raises(TypeError, match="non-int"):
        [1, 2] * gnp.asarray(np.array([1.5, 2.5]))[0]


@pytest.mark.parametrize("call, message", [
    (lambda x: gnp.add(x), "takes 2 positional"), (lambda x: gnp.add(), "takes 2 positional"),
    (lambda x: gnp.exp(), "takes 1 positional"), (lambda x: gnp.exp(x, x, x), "got 3"),
    (lambda x: gnp.add(x, b=1), "unexpected keyword"),
    (lambda x: gnp.exp(x=x), "unexpected keyword")])
def test_numpy_functions_pass_other_calls_to_their_own_path(call, message):
    x = gnp.arange(3.0)          # (== of a tensor is elementwise: never asked of an argument)
    with pytest.raises(TypeError, match=message):
        call(x)


def test_numpy_functions_with_out_and_keywords_still_work():
    x, y = gnp.arange(3.0), gnp.ones(3)
    out = gnp.zeros(3)
    assert gnp.add(x, y, out) is out and out.tolist() == [1.0, 2.0, 3.0]
    assert gnp.exp(x, out=out) is out
    assert gnp.add(x, y, dtype="float32").dtype == np.float32
    assert gnp.negative(x, where=x > 0, out=gnp.ones(3)).tolist() == [1.0, -1.0, -2.0]


def test_number_conversions_of_numpy_data_read_the_element():
    t = gnp.asarray(np.array([0.0, 2.5, -1.0]))
    i = gnp.arange(5)[3]
    assert bool(t[1]) is True and bool(t[0]) is False and float(t[2]) == -1.0
    assert int(t[1]) == 2 and int(i) == 3 and [10, 11, 12, 13][i] == 13
    assert bool(gnp.asarray(np.array([[7]]))) is True
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="integer tensors"):
        [1, 2][t[1]]


def test_number_conversions_are_synchronization_points():
    dc._defer(np.array([True]), np.array([-3]), ("conversion",),
              lambda v: IndexError(f"bad value {v}"), np, 0)
    with pytest.raises(IndexError, match="bad value -3"):
        bool(gg.tensor(2.0))
    assert dc.pending() == 0


def test_a_0d_integer_tensor_key_reads_as_its_int():
    x = gnp.asarray(np.arange(12.0).reshape(3, 4))
    k = gnp.arange(5)[2]
    row = x[k]
    assert row._vc is x._vc and row.tolist() == [8.0, 9.0, 10.0, 11.0]   # a view, as x[2]
    v = x[1][k]
    assert v.ndim == 0 and v.item() == 6.0 and v._scalar
    x[1, 2] = 60.0
    assert v.item() == 6.0 and x[1][k].item() == 60.0                   # the read was a copy
