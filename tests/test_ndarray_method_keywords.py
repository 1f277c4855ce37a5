"""Tensor's NumPy ``ndarray`` methods take NumPy's arguments (positions, keyword names,
meaning): the reductions' ``dtype=``/``out=``/``initial=``/``where=``, ``clip(min=, max=)``,
``view(dtype)``, ``astype``'s order and casting, ``put``'s names, ``reshape(copy=)``;
``flatten`` always copies; ``order=`` takes exactly NumPy's spellings."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

A_INT = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64)
A_FLT = np.array([[1.5, -2.0, 3.25], [4.0, 0.5, -6.0]])

CALLS = [
    "x.mean(dtype=float)", "x.mean(dtype=np.float32)", "x.mean(0, None, None, True)",
    "x.prod(dtype=float)", "x.prod(axis=1, initial=2)", "x.cumsum(dtype=float)",
    "x.cumsum(0, float)", "x.cumprod(axis=1, dtype=np.float32)", "x.sum(0, float)",
    "x.sum(axis=1, initial=10)", "x.sum(where=x > 1)", "x.sum(axis=0, where=x > 2)",
    "x.max(initial=10)", "x.min(initial=-10)", "x.max(axis=0, where=x > 1, initial=0)",
    "x.min(axis=1, keepdims=True)", "x.all(where=x > 0)", "x.any(axis=0, where=x > 4)",
    "x.mean(where=x > 1)", "x.var(axis=0, ddof=1)", "x.std(0, None, None, 1)",
    "x.argmax(axis=0, keepdims=True)", "x.clip(min=2)", "x.clip(max=3)", "x.clip(2, 4)",
    "x.clip(min=2, max=4)", "x.clip()", "x.round(1)", "x.round(decimals=1)",
    "x.take([0, 3])", "x.take(indices=[1], axis=1)", "x.trace(dtype=float)",
    "x.compress([True, False], axis=0)", "x.repeat(2, axis=0)", "x.squeeze()",
    "x.astype(np.float32, copy=False)", "x.astype(float, 'F')", "x.reshape(3, 2, order='F')",
    "x.reshape((3, 2), order=None)", "x.reshape(-1, order='a')", "x.flatten('F')",
    "x.flatten(order=None)", "x.ravel('k')", "x.diagonal()", "x.view(np.int64)",
    "x.view(np.float32)", "x.view('u1')", "x.view()",
]


def _result(r):
    if isinstance(r, gg.Tensor):
        r = r.numpy()
    r = np.asarray(r)
    return r.dtype, r.shape, r.tolist(), r.flags.f_contiguous and not r.flags.c_contiguous


@pytest.mark.parametrize("a", [A_INT, A_FLT], ids=["int64", "float64"])
@pytest.mark.parametrize("call", CALLS)
def test_method_matches_numpy(call, a):
    if call == "x.clip()" and np.lib.NumpyVersion(np.__version__) < "2.1.0":
        pytest.skip("NumPy 2.0's clip needs a bound (2.1 copies; gpugrad follows 2.1)")
    try:
        want = _result(eval(call, {"x": a.copy(), "np": np}))
    except (TypeError, ValueError) as e:
        with pytest.raises(type(e)):
            eval(call, {"x": gnp.asarray(a.copy()), "np": np})
        return
    got = _result(eval(call, {"x": gnp.asarray(a.copy()), "np": np}))
    assert got[:2] == want[:2], (call, got, want)
    assert np.allclose(np.asarray(got[2], float), np.asarray(want[2], float), equal_nan=True)
    assert got[3] == want[3], f"{call}: layout"


@pytest.mark.parametrize("call", [
    "x.sum(axis=0, out=o)", "x.max(axis=0, out=o)", "x.cumsum(axis=1, out=o2)",
    "x.round(1, out=o2)", "x.argmax(axis=0, out=oi)", "x.trace(out=o0)",
    "x.compress([True, False], axis=1, out=oc)", "x.dot(x.T, out=o22)",
    "x.clip(0, 2, out=o2)", "x.take([0, 4], out=ot)", "x.mean(axis=0, out=o)",
])
@pytest.mark.parametrize("into", ["tensor", "ndarray"])
def test_out_is_written_as_numpy_writes_it(call, into):
    def run(x, mod):
        ns = dict(x=x, o=mod.zeros(3), o2=mod.zeros((2, 3)), oi=mod.zeros(3, dtype=np.int64),
                  o0=mod.zeros(()), oc=mod.zeros((2, 1)), o22=mod.zeros((2, 2)),
                  ot=mod.zeros(2))
        r = eval(call, ns)
        out = ns[call.split("out=")[1].rstrip(")")]
        return r, out
    r_np, out_np = run(A_FLT.copy(), np)
    r_gg, out_gg = run(gnp.asarray(A_FLT.copy()), gnp if into == "tensor" else np)
    assert r_gg is out_gg                      # out= is what comes back, as NumPy's
    got = out_gg.numpy() if isinstance(out_gg, gg.Tensor) else out_gg
    assert got.dtype == out_np.dtype and np.array_equal(got, out_np)


def _same_as_function_form(method, function):
    """The method gives what the gpugrad.numpy function gives (or raises what it raises)."""
    try:
        want = function()
    except NotImplementedError as e:
        with pytest.raises(NotImplementedError, match=str(e)[:30]):
            method()
        return None
    got = method()
    host = [v.numpy() if isinstance(v, gg.Tensor) else np.asarray(v) for v in (got, want)]
    assert host[0].dtype == host[1].dtype and np.array_equal(*host)
    return got


@pytest.mark.parametrize("grad", [False, True])
def test_keywords_go_to_the_function_form(grad):
    x = gnp.asarray(A_FLT.copy())
    if grad:  # (in a graph: the NotImplementedError of a keyword with no gradient)
        x = gg.tensor(A_FLT.copy(), requires_grad=True)
    _same_as_function_form(lambda: x.take([0, 9], mode="clip"),
                           lambda: gnp.take(x, [0, 9], mode="clip"))
    _same_as_function_form(lambda: x.var(mean=x.mean(keepdims=True)),
                           lambda: gnp.var(x, mean=x.mean(keepdims=True)))


def test_gradients_through_numpy_keywords():
    x = gg.tensor(A_FLT, requires_grad=True)
    m = A_FLT > 0
    x.sum(where=m).backward()
    assert np.array_equal(x.grad.numpy(), m.astype(float))
    x.grad = None
    x.max(initial=100.0).backward()             # the initial value wins: no gradient
    assert np.array_equal(x.grad.numpy(), np.zeros_like(A_FLT))
    x.grad = None
    x.clip(min=0.0).sum().backward()
    assert np.array_equal(x.grad.numpy(), (A_FLT >= 0).astype(float))
    f32 = gg.tensor([1.0, 3.0], requires_grad=True)
    y = f32.mean(dtype=float)
    assert y.dtype == np.float64
    y.backward()
    assert f32.grad.dtype == np.float32 and f32.grad.tolist() == [0.5, 0.5]


def test_clamp_takes_pytorchs_keywords():
    x = gg.tensor([-1.0, 0.5, 2.0])
    assert x.clamp(min=0.0).tolist() == [0.0, 0.5, 2.0]
    assert x.clamp(max=1.0).tolist() == [-1.0, 0.5, 1.0]


# ---------------------------------------------------------------- view(dtype)
def test_view_dtype_reinterprets_the_same_memory():
    a = np.array([1.0, -2.0, 0.5])
    t = gg.tensor(a)
    v = t.view(np.int64)
    assert v.dtype == np.int64 and v.tolist() == a.view(np.int64).tolist()
    assert np.shares_memory(v.data, t.data)
    before = t._version
    v[0] = 0                                    # a write through the view...
    assert t.tolist()[0] == 0.0                 # ...is in the base's memory
    assert t._version == v._version > before    # ...and bumps the shared version counter
    assert t.view("f4").shape == (6,) and t.view(dtype=np.uint8).shape == (24,)
    assert t.view(3, 1).shape == (3, 1) and t.view((1, 3)).shape == (1, 3)  # shapes too


def test_view_dtype_refuses_a_graph_and_subclasses():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no gradient"):
        x.view(gg.int32)
    with gg.no_grad():
        assert x.view(gg.int16).shape == (4,)
    with pytest.raises(TypeError, match="ndarray subclass"):
        gg.tensor([1.0]).view(np.matrix)


def test_view_of_saved_tensor_written_keeps_the_value_the_graph_saved():
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x * 1.0
    z = (y * y).sum()                           # saves y
    with gg.no_grad():
        y.view(gg.int64)[0] = 0                 # y changes under the graph: the node that
    assert y.tolist() == [0.0, 2.0]             # saved it gets the old value first
    z.backward()
    assert x.grad.tolist() == [2.0, 4.0]        # d(sum y^2)/dx at the y that z was made of


# ---------------------------------------------------------------- always a copy
@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (0, 3), (2, 3)])
@pytest.mark.parametrize("how", ["flatten()", "flatten('F')", "flatten(0, -1)", "copy()",
                                 "copy('K')", "astype(t.dtype)", "astype(t.dtype, 'F')",
                                 "reshape(t.shape, copy=True)"])
def test_copies_never_share_memory(shape, how):
    t = gg.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape))
    if how == "flatten(0, -1)" and t.ndim == 0:
        pytest.skip("PyTorch's start/end dims need an axis")
    r = eval(f"t.{how}", {"t": t})
    base = r.data.base if r.data.base is not None else r.data
    assert base is not t.data and r.data is not t.data and t.data.base is not base
    if r.size:
        r.data.reshape(-1)[0] = 99.0
        assert t.data.reshape(-1)[0] == 1.0


def test_reshape_copy_false_refuses_a_copy():
    t = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.shares_memory(t.reshape(4, copy=False).data, t.data)
    with pytest.raises(ValueError, match="copy=False"):
        t.T.reshape(4, copy=False)


def test_astype_takes_numpys_positions_and_casting():
    t = gg.tensor(A_FLT)
    assert t.astype(np.float32, "F").data.flags.f_contiguous
    with pytest.raises(TypeError, match="according to the rule 'safe'"):
        t.astype(np.int64, casting="safe")
    assert t.astype(np.float64, casting="no").dtype == np.float64
    with pytest.raises(ValueError):
        t.astype(np.float64, casting="bogus")


def test_put_takes_numpys_keyword_names():
    t, a = gg.tensor(A_INT.copy()), A_INT.copy()
    t.put(indices=[0, 5], values=[9, 8])
    a.put(indices=[0, 5], values=[9, 8])
    assert t.tolist() == a.tolist()


# ---------------------------------------------------------------- order spellings
ORDERS = [None, "C", "c", "F", "f", "A", "a", "K", "k", b"C", b"F", b"k", np.str_("F"),
          "CF", "", "K ", b"CF", 1, True, bytearray(b"F")]
ORDER_FNS = {
    "Tensor.flatten": lambda m, x, o: x.flatten(o),
    "Tensor.flatten(order=)": lambda m, x, o: x.flatten(order=o),
    "Tensor.ravel": lambda m, x, o: x.ravel(o),
    "Tensor.reshape": lambda m, x, o: x.reshape(-1, order=o),
    "Tensor.copy": lambda m, x, o: x.copy(o),
    "Tensor.astype": lambda m, x, o: x.astype(np.float32, order=o),
    "Tensor.tobytes": lambda m, x, o: np.frombuffer(x.tobytes(o), x.dtype),
    "ravel": lambda m, x, o: m.ravel(x, o),
    "reshape": lambda m, x, o: m.reshape(x, (3, 2), order=o),
    "array": lambda m, x, o: m.array(x, order=o),
    "asarray": lambda m, x, o: m.asarray(x, order=o),
    "zeros": lambda m, x, o: m.zeros((2, 3), order=o),
    "empty_like": lambda m, x, o: m.zeros_like(x, order=o),
}


@pytest.mark.parametrize("fn", sorted(ORDER_FNS))
@pytest.mark.parametrize("order", ORDERS, ids=repr)
def test_order_spellings_as_numpy(fn, order):
    a = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    f = ORDER_FNS[fn]
    if fn == "Tensor.flatten" and type(order) in (int, bool):
        pytest.skip("a positional integer is PyTorch's start_dim")
    try:
        want = _result(f(np, a.copy(order="K"), order))
    except (TypeError, ValueError) as e:
        with pytest.raises(type(e)) as info:
            f(gnp, gnp.asarray(a.copy(order="K")), order)
        assert str(info.value).split(" (got")[0] == str(e).split(" (got")[0]
        return
    got = _result(f(gnp, gnp.asarray(a.copy(order="K")), order))
    assert got[:3] == want[:3]
    if got[1] != (6,):                          # (a 1-D result is both C and F)
        assert got[3] == want[3], "layout"
