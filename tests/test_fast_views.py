"""The no-graph fast paths of the view ops (basic and array indexing, reshape, transpose,
ravel, expand_dims, squeeze, swapaxes) and of ``x[key] = v``: taken for plain NumPy-backed
tensors (no graph node is made), and equal to the op path -- taken under anomaly detection,
which the fast paths leave alone -- in values, dtypes, shapes, memory sharing, version
counters and the link a view keeps to its base, so later writes and gradients through the
base behave as before."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import autograd, ops


def _op_path(fn, *args):
    """``fn(*args)`` through the op's own path (anomaly detection turns the fast paths off)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with autograd.detect_anomaly():
            return fn(*args)


def _same(fast, slow, x):
    """The fast answer is the op path's: values, dtype, shape, memory, version counter, link."""
    assert type(fast) is gg.Tensor and fast.dtype == slow.dtype and fast.shape == slow.shape
    np.testing.assert_array_equal(fast.numpy(), slow.numpy())
    assert np.shares_memory(fast.data, x.data) == np.shares_memory(slow.data, x.data)
    assert (fast._vc is x._vc) == (slow._vc is x._vc)
    assert (fast._view is None) == (slow._view is None)
    assert not fast.requires_grad and fast._node is None
    if slow._view is not None:
        fl, sl = fast._view, slow._view
        assert type(fl) is type(sl) and fl.parents[0] is x and fl.needs == sl.needs
        assert fl._ng_ver == sl._ng_ver
        for k in ("key", "in_shape", "axes"):
            assert getattr(fl, k, None) == getattr(sl, k, None), k


X1 = np.arange(10.0)
X2 = np.arange(12).reshape(3, 4)
KEYS = [
    (X1, 3), (X1, -1), (X1, slice(1, 5)), (X1, (slice(None, None, -2),)), (X1, ()),
    (X1, Ellipsis), (X1, None), (X1, (None, 2)), (X2, 1), (X2, (1, 2)), (X2, (1, slice(1, 3))),
    (X2, (Ellipsis, 1)), (X2, (slice(None), None, 0)), (X1, X1 > 4), (X1, [0, 0, 3]),
    (X2, np.array([2, 0])), (X2, X2 > 5), (X1, np.array([True] * 10)),
]


@pytest.mark.parametrize("arr,key", KEYS)
@pytest.mark.parametrize("grad_mode", [True, False])
def test_getitem_fast_path_equals_the_op_path(applies, arr, key, grad_mode):
    x = gnp.asarray(arr.copy())
    gkey = gg.Tensor._make(key) if isinstance(key, np.ndarray) else key
    with gg.set_grad_enabled(grad_mode):
        fast = x[gkey]
        assert applies == []
        slow = _op_path(ops.getitem, x, gkey)
    assert "GetItemBasic" in applies or "GetItemAdvanced" in applies
    _same(fast, slow, x)
    assert fast.tolist() == arr[key].tolist()


def test_an_element_of_a_1d_tensor_is_a_0d_copy():
    x = gnp.asarray(np.arange(3.0))
    e = x[1]
    x[1] = 9.0
    assert e.ndim == 0 and e.item() == 1.0 and e._vc is not x._vc and e._view is None
    assert float(e) == 1.0 and {1.0: "one"}[e] == "one"


def test_bad_keys_raise_the_op_paths_errors():
    x = gnp.asarray(np.arange(3.0))
    with pytest.raises(IndexError, match="out of bounds"):
        x[5]
    with pytest.raises(IndexError, match="tensor indices must be integers or booleans"):
        x[1.0]
    with pytest.raises(IndexError, match="tensor indices must be integers or booleans"):
        x[gnp.asarray(np.array([0.5]))]


SHAPE_CALLS = {
    "reshape": lambda x: ops.reshape(x, (4, 3)), "reshape(-1)": lambda x: x.reshape(-1),
    "reshape copy": lambda x: ops.reshape(ops.transpose(x), (12,)),
    "gnp.reshape": lambda x: gnp.reshape(x, (2, -1)), "T": lambda x: x.T,
    "transpose": lambda x: gnp.transpose(x), "transpose axes": lambda x: ops.transpose(x, (1, 0)),
    "ravel": lambda x: ops.ravel(x), "expand_dims": lambda x: gnp.expand_dims(x, -1),
    "expand_dims 0": lambda x: ops.expand_dims(x, 0),
    "squeeze": lambda x: gnp.squeeze(ops.expand_dims(x, 1)),
    "squeeze axis": lambda x: ops.squeeze(ops.expand_dims(x, 0), 0),
    "swapaxes": lambda x: gnp.swapaxes(x, 0, -1),
}


@pytest.mark.parametrize("name", list(SHAPE_CALLS))
@pytest.mark.parametrize("grad_mode", [True, False])
def test_shape_fast_paths_equal_the_op_path(applies, name, grad_mode):
    x = gnp.asarray(np.arange(12.0).reshape(3, 4))
    with gg.set_grad_enabled(grad_mode):
        fast = SHAPE_CALLS[name](x)
        assert applies == []
        slow = _op_path(SHAPE_CALLS[name], x)
    assert applies
    if name in ("reshape copy", "squeeze", "squeeze axis"):  # a view of an intermediate
        np.testing.assert_array_equal(fast.numpy(), slow.numpy())
        assert fast._vc is x._vc if name != "reshape copy" else fast._vc is not x._vc
    else:
        _same(fast, slow, x)


def test_shape_errors_are_the_ops():
    x = gnp.asarray(np.arange(6.0))
    with pytest.raises(ValueError, match="cannot reshape tensor of shape"):
        ops.reshape(x, (4, 2))
    with pytest.raises(ValueError, match="not a permutation"):
        ops.transpose(x, (1,))
    with pytest.raises(ValueError, match="cannot squeeze axis"):
        ops.squeeze(x, 0)
    with pytest.raises(np.exceptions.AxisError):
        ops.swapaxes(x, 0, 3)


def test_write_through_a_fast_view_then_differentiate_the_base():
    a = gnp.zeros(4)
    v = a[1:3]                                  # a view of a constant: a link, no node
    w = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    v[...] = w                                  # a joins the graph through the link
    (a * a).sum().backward()
    assert a.tolist() == [0.0, 1.0, 2.0, 0.0] and w.grad.tolist() == [2.0, 4.0]
    b = gnp.zeros((2, 3))
    t = b.T                                     # a transpose view: the same through it
    t += gg.tensor([[1.0, 2.0]] * 3, dtype="float64", requires_grad=True)
    assert b.requires_grad and b.tolist() == [[1.0] * 3, [2.0] * 3]


def test_requires_grad_on_the_base_after_taking_a_view():
    a = gnp.asarray(np.array([1.0, 2.0, 3.0]))
    v, r = a[1:], a.reshape(3, 1)
    a.requires_grad_()
    (v * 2).sum().backward()
    assert a.grad.tolist() == [0.0, 2.0, 2.0]
    a.grad = None
    (r * 3).sum().backward()
    assert a.grad.tolist() == [3.0, 3.0, 3.0]


def test_in_place_on_a_no_grad_view_of_a_graph_tensor_is_refused():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with gg.no_grad():
        v = y[1:]                               # fast path (grad mode off): PyTorch's rule
        assert v._view is not None and v._view._ng_ver == y._version
    with pytest.raises(RuntimeError, match="view was created in no_grad mode"):
        v += 1.0
    row = y[0:2]                                # y is in the graph: the op path records
    row *= 3.0
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0, 2.0]


def test_setitem_fast_path_keeps_versions_and_views(applies):
    x = gnp.zeros(5)
    v = x[1:4]
    ver = x._version
    x[2] = 7.0
    x[gnp.asarray(np.array([0, 4]))] = gnp.asarray(np.array([1.0, 2.0]))
    v[0] = 3
    assert applies == [] and x._version == v._version == ver + 3
    assert x.tolist() == [1.0, 3.0, 7.0, 0.0, 2.0]
    row = gnp.zeros((2, 2))[1]
    row[0] = 1.0                                # a view of a view of a constant
    assert row.tolist() == [1.0, 0.0]


def test_setitem_of_a_value_that_requires_grad_records(applies):
    x = gnp.zeros(3)
    w = gg.tensor(2.0, dtype="float64", requires_grad=True)
    x[1] = w
    assert applies and x.requires_grad
    (x * 3).sum().backward()
    assert w.grad.item() == 3.0


def test_setitem_into_a_view_of_a_graph_base_records():
    w = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    a = gnp.zeros(2)
    v = a[:]
    a[...] = w                                  # the base joins the graph
    v[0] = 5.0                                  # a constant into its view: the op path
    a.sum().backward()
    assert a.tolist() == [5.0, 2.0] and w.grad.tolist() == [0.0, 1.0]


def test_capture_sees_the_view_ops():
    """gpugrad.compile records every op (the fast paths stand aside while it records), so a
    replay on new data computes the views from that data."""
    def step(x):
        y = x[1:3].reshape(2, 2).T
        y = ops.expand_dims(ops.ravel(ops.swapaxes(y, 0, 1)), 0)
        return (y * y).sum() + x[0, 0]

    fn = gg.compile(step)
    for seed in range(3):
        x = gg.tensor(np.random.default_rng(seed).random((3, 2)), dtype="float64")
        want = float((x.numpy()[1:3] ** 2).sum() + x.numpy()[0, 0])
        assert fn(x).item() == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("key", [np.int64(3), np.int32(-2), (np.int64(1), np.intp(2)),
                                 (np.int64(1), slice(None)), np.uint8(0)], ids=repr)
def test_numpy_integer_keys_take_the_fast_path_with_numpy_answers(key):
    a = np.arange(100.0).reshape(10, 10)
    x = gnp.arange(100.0).reshape(10, 10)
    got = x[key]
    assert type(got.data) is np.ndarray
    np.testing.assert_array_equal(got.data, a[key])
    assert np.shares_memory(got.data, x.data) == np.shares_memory(a[key], a)
    a[key] = -1.0
    x[key] = -1.0
    np.testing.assert_array_equal(x.data, a)
    w = gg.tensor(np.ones((10, 10)), requires_grad=True)
    (w[key] * 2.0).sum().backward()         # and the graph path indexes the same elements
    expect = np.zeros((10, 10))
    expect[key] = 2.0
    np.testing.assert_array_equal(w.grad.data, expect)
