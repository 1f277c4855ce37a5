"""The no-graph fast path of gpugrad.numpy and the Tensor operators: taken for plain
NumPy-backed tensors (no graph node is made), declined whenever a graph, autocast, anomaly
detection or capture needs the op's own path, and equal to that path in values, dtypes,
shapes and errors.  (Timing is in bench/bench_dropin.py, not here.)"""
import operator
import sys
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import autograd, capture_hooks, ops
from gpugrad.numpy import _core
from gpugrad.ops import _fast


def _plain(*shape, dtype=np.float64, seed=0):
    return gnp.asarray(np.random.default_rng(seed).random(shape).astype(dtype) + 0.5)


FAST_CALLS = {
    "gnp.add": lambda a, b: gnp.add(a, b), "gnp.exp": lambda a, b: gnp.exp(a),
    "gnp.greater": lambda a, b: gnp.greater(a, b), "a + b": lambda a, b: a + b,
    "2.0 * a": lambda a, b: 2.0 * a, "a < b": lambda a, b: a < b, "-a": lambda a, b: -a,
    "a.exp()": lambda a, b: a.exp(), "gnp.where": lambda a, b: gnp.where(a > 1, a, b),
    "gnp.dot": lambda a, b: gnp.dot(a, b), "gnp.matmul": lambda a, b: gnp.matmul(a, b),
    "a @ b": lambda a, b: a @ b, "gnp.zeros": lambda a, b: gnp.zeros(3),
    "gnp.array(list)": lambda a, b: gnp.array([1.0, 2.0]),
    "gnp.array(tensor)": lambda a, b: gnp.array(a),
    "gnp.sum": lambda a, b: gnp.sum(a), "a.sum()": lambda a, b: a.sum(),
}


@pytest.mark.parametrize("name", list(FAST_CALLS))
def test_plain_tensors_make_no_graph_node(applies, name):
    a, b = _plain(3), _plain(3, seed=1)
    r = FAST_CALLS[name](a, b)
    assert applies == [] and isinstance(r, gg.Tensor) and not r.requires_grad


@pytest.mark.parametrize("name", ["gnp.add", "gnp.exp", "a + b", "2.0 * a", "-a", "a.exp()",
                                  "gnp.where", "gnp.dot", "a @ b", "gnp.array(tensor)",
                                  "gnp.sum", "a.sum()"])
def test_inputs_that_require_grad_record_the_graph(applies, name):
    a, b = _plain(3).requires_grad_(), _plain(3, seed=1)
    r = FAST_CALLS[name](a, b)
    assert applies and r.requires_grad
    with gg.no_grad():  # grad mode off: nothing to record, the fast path again
        del applies[:]
        r = FAST_CALLS[name](a, b)
        assert applies == [] and not r.requires_grad


def test_comparisons_of_graph_tensors_take_the_fast_path(applies):
    a = _plain(3).requires_grad_()
    assert (a < 1.0).dtype == np.bool_ and gnp.isnan(a).dtype == np.bool_ and applies == []


def test_autocast_anomaly_and_capture_take_the_op_path(applies, monkeypatch):
    a, b = _plain(3, dtype=np.float32), _plain(3, dtype=np.float32, seed=1)
    with gg.autocast(dtype=gg.float16):
        r = gnp.exp(a)
    assert "Exp" in applies and r.dtype == np.float32
    del applies[:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with autograd.detect_anomaly():
            a + b
    assert applies == ["Add"]
    monkeypatch.setattr(capture_hooks, "_on", 1)
    assert _fast.watched()


def test_a_view_whose_base_joined_the_graph_records(applies):
    y = gnp.zeros(3)
    v = y[0:2]                        # a view of a constant: no node
    w = gg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    y[...] = w                        # y joins the graph, and v with it
    r = v * 2.0
    assert r.requires_grad
    r.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 0.0]


# ---------------------------------------------------------------- same answers as the op path
DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_]
SCALARS = [2, 2.5, True, np.float32(1.5), -3]
BINARY = ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "remainder",
          "floor_divide", "equal", "not_equal", "less", "less_equal", "greater",
          "greater_equal", "logical_and", "logical_or", "logical_xor"]
UNARY = ["exp", "log", "sqrt", "sin", "tanh", "arccosh", "negative", "absolute", "floor",
         "rint", "isnan", "isinf", "isfinite", "square", "sign"]


def _outcome(fn):
    """(type, dtype, shape, values) of ``fn()``'s answer, or its exception type."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = fn()
        except Exception as e:  # noqa: BLE001 -- both paths must raise the same
            return type(e)
    return type(r), r.dtype, r.shape, r.numpy().tolist()


def _same(fast, slow):
    a, b = _outcome(fast), _outcome(slow)
    if isinstance(a, tuple) and isinstance(b, tuple):
        va, vb = np.asarray(a[3], dtype=a[1]), np.asarray(b[3], dtype=b[1])
        assert a[:3] == b[:3] and np.array_equal(va, vb, equal_nan=va.dtype.kind in "fc")
    else:
        assert a == b


def _values(dt, shape=(4,)):
    v = np.array([-1.5, 0.0, 2.0, 7.25]).reshape(shape) if shape else np.array(2.0)
    return gnp.asarray(v.astype(dt))


@pytest.mark.parametrize("name", BINARY)
def test_binary_fast_path_equals_the_op_path(name):
    f = getattr(gnp, name)
    for da in DTYPES:
        for db in DTYPES:
            a, b = _values(da), _values(db)[::-1].copy()
            _same(lambda: f(a, b), lambda: f(a, b, casting="same_kind"))  # keyword: slow path
        for s in SCALARS:
            _same(lambda: f(a, s), lambda: f(a, s, casting="same_kind"))
            _same(lambda: f(s, a), lambda: f(s, a, casting="same_kind"))
    zero_d = _values(np.float64, ())
    _same(lambda: f(zero_d, zero_d), lambda: f(zero_d, zero_d, casting="same_kind"))
    _same(lambda: f(_values(np.float64), _values(np.float64, (2, 2))),  # broadcast error
          lambda: f(_values(np.float64), _values(np.float64, (2, 2)), casting="same_kind"))


@pytest.mark.parametrize("name", UNARY)
def test_unary_fast_path_equals_the_op_path(name):
    f = getattr(gnp, name)
    for dt in DTYPES:
        x = _values(dt)
        _same(lambda: f(x), lambda: f(x, casting="same_kind"))
    x = _values(np.float32, ())
    _same(lambda: f(x), lambda: f(x, casting="same_kind"))


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                operator.pow, operator.mod, operator.floordiv, operator.lt,
                                operator.eq, operator.ge])
def test_operators_equal_the_ops(op):
    slow = {operator.add: ops.add, operator.sub: ops.subtract, operator.mul: ops.multiply,
            operator.truediv: ops.divide, operator.pow: ops.power, operator.mod: ops.remainder,
            operator.floordiv: ops.floor_divide, operator.lt: ops.less, operator.eq: ops.equal,
            operator.ge: ops.greater_equal}[op]
    for dt in DTYPES:
        a, b = _values(dt), _values(np.float32)[::-1].copy()
        _same(lambda: op(a, b), lambda: slow(a, b))
        for s in SCALARS:
            _same(lambda: op(a, s), lambda: slow(a, s))
            _same(lambda: op(s, a), lambda: slow(s, a))


def test_bfloat16_with_a_number_keeps_its_dtype():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = gnp.asarray(np.ones(2, ml_dtypes.bfloat16))
    assert (x * 2.0).dtype == x.dtype and gnp.add(x, 2.0).dtype == x.dtype
    assert (x @ x).dtype == x.dtype


def test_where_and_products_equal_the_op_path():
    c = gnp.asarray(np.array([True, False, True]))
    a, b = _plain(3, dtype=np.float32), _plain(3, seed=2)
    for x, y in [(a, b), (a, 0.5), (2, b), (a, np.float64(1.0))]:
        _same(lambda: gnp.where(c, x, y), lambda: ops.where(c, x, y))
    for sa, sb in [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((2, 3), (2, 3)),
                   ((2, 2, 3), (3, 2))]:
        p, q = _plain(*sa), _plain(*sb, dtype=np.float32, seed=3)
        _same(lambda: gnp.matmul(p, q), lambda: ops.matmul(p, q))
        _same(lambda: p @ q, lambda: ops.matmul(p, q))
        if p.ndim < 3:
            _same(lambda: gnp.dot(p, q), lambda: ops.dot(p, q))
    with pytest.raises(ValueError, match="not aligned"):
        gnp.dot(_plain(2, 3), _plain(2, 3))


def test_whole_sums_equal_the_op_path():
    for dt in DTYPES:
        for shape in [(4,), (2, 2), ()]:
            x = _values(dt, shape)
            _same(lambda: gnp.sum(x), lambda: ops.sum(x))
            _same(lambda: x.sum(), lambda: ops.sum(x))
    assert gnp.sum(_values(np.float16)).dtype == np.float16  # (summed in float32 by the op)


def test_creation_fast_paths():
    x = _plain(3)
    y = gnp.array(x)
    assert y.data is not x.data and y.tolist() == x.tolist() and gnp.array(x, copy=False) is x
    assert gnp.zeros(3).dtype == np.float64 and gnp.zeros(np.int64(2)).shape == (2,)
    assert gnp.zeros((2, 1), dtype=int).dtype == np.int64


def test_holds_tensor_finds_tensors_at_any_depth():
    t = gg.tensor(1.0)
    assert not _core.holds_tensor([1.0] * 1000) and not _core.holds_tensor([[1, 2], (3, 4.0)])
    assert _core.holds_tensor([1.0, t]) and _core.holds_tensor([[1.0], [(2.0, t)]])
    w = gg.tensor(2.0, dtype="float64", requires_grad=True)
    r = gnp.array([[1.0, w], [w, 3.0]])
    assert r.requires_grad and r.shape == (2, 2)


def test_numpy_array_tells_lists_holding_tensors_by_numpys_own_conversion(monkeypatch):
    """gnp.array of a list converts with NumPy once; a tensor inside (any depth, in a graph
    or not, tuples too) is told by the calls NumPy made to Tensor.__array__, and the list is
    then stacked; a count moved by some other conversion only costs a second look."""
    t = gg.tensor([1.0, 2.0])
    assert _core.numpy_array([[1.0, 2.0], (3, 4)]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert _core.numpy_array([[1.0, 2.0], (3, t)]) is None
    assert _core.numpy_array([t, t]) is None
    w = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)  # (refuses __array__)
    assert _core.numpy_array([w, [3.0, 4.0]]) is None
    with pytest.raises(ValueError):  # (NumPy's error, no tensor in it)
        _core.numpy_array([[1.0], [2.0, 3.0]])
    r = gnp.array([w, (3.0, 4.0)])
    assert r.requires_grad and r.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with gg.no_grad():
        r = gnp.array([[w, w]])
    assert not r.requires_grad and r.shape == (1, 2, 2)
    real = np.array
    def moved(*a, **k):  # another thread's conversion of a tensor, during ours
        next(sys.modules["gpugrad.tensor"]._array_calls)
        return real(*a, **k)
    monkeypatch.setattr(_core._np, "array", moved)
    r = gnp.array([1.0, 2.0, 3.0])
    monkeypatch.undo()
    assert type(r) is gg.Tensor and r.tolist() == [1.0, 2.0, 3.0] and r.dtype == np.float64


@pytest.mark.parametrize("key,value", [
    (5, 2.0), (slice(1, 4), [1.0, 2.0, 3.0]), ([0, 0, 3], np.array([1.7, 2.0, 3.0])),
    (np.arange(10) > 6, 0.0), ((Ellipsis,), gnp.asarray(np.full(10, 4.0)))])
def test_setitem_without_a_graph_writes_in_place_as_numpy(applies, key, value):
    """x[key] = v on a plain CPU tensor is NumPy's own assignment into x's memory (no copy of
    the whole array, no node), with NumPy's answer (last write wins on repeated indices)."""
    for dtype in (np.float64, np.int64):
        ref = np.arange(10).astype(dtype)
        x = gnp.asarray(ref.copy())
        before = x.data
        x[key] = value
        ref[key] = value.numpy() if isinstance(value, gg.Tensor) else value
        assert applies == [] and x.data is before and x.dtype == ref.dtype
        np.testing.assert_array_equal(x.numpy(), ref)


def test_setitem_in_a_graph_still_records():
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    y[1] = 5.0
    y.sum().backward()
    assert w.grad.tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("make", [
    lambda m, a: [a.sum(), a.max(), a[1]],
    lambda m, a: [a[0] * 2, 3.5, 1],
    lambda m, a: [m.float32(1.5), a.astype(m.float32).sum(), 2],
    lambda m, a: [[a.argmax(), 7], [a.argmin(), True]],
    lambda m, a: [a.astype(m.int32)[0], a.astype(m.int8)[1]],
    lambda m, a: [a[:2], a[1:]],
], ids=["reductions", "mixed", "float32", "nested-int", "int32+int8", "arrays"])
def test_a_list_of_plain_results_converts_as_numpy_does(applies, make):
    """np.array([f1, f2, f3]) of 0-d results (an ODE's right-hand side, called thousands of
    times) is NumPy's conversion when no tensor is in a graph: it was stacked tensor by
    tensor through graph nodes, 21 x NumPy's time for a whole RK4 program."""
    a = np.array([0.5, 2.0, -1.0])
    ref = np.array(make(np, a))
    items = make(gnp, gnp.asarray(a))
    del applies[:]
    got = gnp.array(items)
    assert applies == []
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_array_equal(got.numpy(), ref)


def test_a_list_holding_a_graph_tensor_is_still_stacked_differentiably():
    w = gnp.array([1.0, 2.0, 3.0])
    g = gg.grad(lambda w: gnp.sum(gnp.array([w[0] * w[1], w.sum(), 2.0]) ** 2))(w)
    # d/dw of (w0 w1)^2 + (sum w)^2: [2 w0 w1^2 + 2 s, 2 w0^2 w1 + 2 s, 2 s], s = 6
    np.testing.assert_allclose(g.numpy(), [2 * 4 + 12, 2 * 2 + 12, 12])
    with gg.no_grad():
        assert gnp.array([w.requires_grad_().sum(), 1.0]).tolist() == [6.0, 1.0]


def test_functions_taking_lists_of_plain_results_answer_as_numpy():
    """np.append(X, [X[-1] + dx], axis=0), the RK4 integrator's growing trajectory, and the
    other functions that read a list holding tensors through the same conversion."""
    for m in (np, gnp):
        X = m.array([[5.0, 5.0, 5.0]])
        for _ in range(3):
            X = m.append(X, [X[-1] + 0.5 * X[-1][0]], axis=0)
        out = (X, m.concatenate([X[0], [X[1, 2], 7]]), m.stack([X[0, 0], X[1].max(), 2]),
               m.polyval([X[0, 0], 1.0], 2.0))
        if m is np:
            ref = out
    for r, g in zip(ref, out):
        assert g.dtype == r.dtype and g.shape == r.shape
        np.testing.assert_array_equal(np.asarray(g), r)
