"""View-or-copy answers of the drop-in's shape functions against NumPy's: memory sharing and
write-through for C-, F-, non-contiguous and negative-stride inputs, on the no-graph path and
through the op (anomaly mode forces each call through its node)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.ops._fast import in_graph

LAYOUTS = {
    "C": lambda m: m.arange(12.0).reshape(3, 4),
    "F": lambda m: m.asfortranarray(m.arange(12.0).reshape(3, 4)),
    "strided": lambda m: m.arange(24.0).reshape(3, 8)[:, ::2],
    "neg2d": lambda m: m.arange(12.0).reshape(3, 4)[::-1],
    "neg1d": lambda m: m.arange(6.0)[::-1],
    "T": lambda m: m.arange(12.0).reshape(3, 4).T,
    "negT": lambda m: m.arange(12.0).reshape(3, 4)[:, ::-2].T,
}
FUNCS = {
    "ravel": lambda m, a: m.ravel(a),
    "ravel_F": lambda m, a: m.ravel(a, order="F"),
    "ravel_A": lambda m, a: m.ravel(a, order="A"),
    "ravel_K": lambda m, a: m.ravel(a, order="K"),
    "method_ravel": lambda m, a: a.ravel(),
    "method_ravel_K": lambda m, a: a.ravel("K"),
    "flatten": lambda m, a: a.flatten(),
    "flatten_A": lambda m, a: a.flatten("A"),
    "reshape": lambda m, a: m.reshape(a, (a.size,)),
    "method_reshape": lambda m, a: a.reshape(-1),
    "reshape_F": lambda m, a: m.reshape(a, (a.size,), order="F"),
    "squeeze": lambda m, a: m.squeeze(a[None]),
    "expand_dims": lambda m, a: m.expand_dims(a, 0),
    "ascontiguousarray": lambda m, a: m.ascontiguousarray(a),
    "asarray": lambda m, a: m.asarray(a),
    "array": lambda m, a: m.array(a),
    "astype_nocopy": lambda m, a: a.astype(a.dtype, copy=False),
    "transpose": lambda m, a: m.transpose(a),
    "swapaxes": lambda m, a: m.swapaxes(a, 0, -1),
    "moveaxis": lambda m, a: m.moveaxis(a, 0, -1),
    "flat_slice": lambda m, a: a.flat[:],
    "copy": lambda m, a: m.copy(a),
}


def _arr(t):
    return t if isinstance(t, np.ndarray) else t.data


def _case(fname, layout, graph):
    a = LAYOUTS[layout](np)
    r = FUNCS[fname](np, a)
    x = LAYOUTS[layout](gnp)
    if graph:
        root = x
        while root._view is not None:
            root = root._view.parents[0]
        root.requires_grad_()          # the view was taken first: it joins the graph too
        with gg.autograd.detect_anomaly():
            y = FUNCS[fname](gnp, x)
        assert in_graph(y)             # (an answer that is x itself joins with it)
    else:
        y = FUNCS[fname](gnp, x)
    return a, r, x, y


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fname", FUNCS)
def test_shares_memory_and_values_as_numpy(fname, layout):
    a, r, x, y = _case(fname, layout, graph=False)
    assert np.shares_memory(_arr(y), _arr(x)) == np.shares_memory(r, a)
    np.testing.assert_array_equal(_arr(y), r)
    # write-through: a write into the answer shows in the input exactly when NumPy's does
    r[(0,) * r.ndim] = -99.0
    y[(0,) * y.ndim] = -99.0
    np.testing.assert_array_equal(_arr(x), a)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fname", ["ravel", "ravel_F", "ravel_K", "method_ravel", "flatten",
                                   "reshape", "reshape_F", "squeeze", "transpose",
                                   "ascontiguousarray", "flat_slice"])
def test_op_path_shares_memory_as_numpy(fname, layout):
    a, r, x, y = _case(fname, layout, graph=True)
    assert np.shares_memory(_arr(y), _arr(x)) == np.shares_memory(r, a)
    np.testing.assert_array_equal(_arr(y), r)


@pytest.mark.parametrize("order", ["C", "F", "A", "K"])
@pytest.mark.parametrize("layout", ["C", "T", "strided", "negT"])
def test_ravel_orders_gradient(order, layout):
    # these layouts' values are their elements' flat positions in their base
    x = LAYOUTS[layout](gnp)
    base = x
    while base._view is not None:
        base = base._view.parents[0]
    base.requires_grad_()
    w = gnp.arange(float(x.size)) + 1.0
    (gnp.ravel(x, order=order) * w).sum().backward()
    expect = np.zeros(base.size)
    expect[np.ravel(LAYOUTS[layout](np), order=order).astype(int)] = w.data
    np.testing.assert_array_equal(base.grad.data.ravel(), expect)


def test_reshape_order_F_gradient_and_write_through():
    x = gnp.arange(6.0).reshape(2, 3)
    x.requires_grad_()
    y = gnp.reshape(x * 1.0, (3, 2), order="F")
    assert y.tolist() == np.reshape(np.arange(6.0).reshape(2, 3), (3, 2), order="F").tolist()
    w = gnp.arange(6.0).reshape(3, 2)
    (y * w).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.reshape(np.arange(6.0).reshape(3, 2),
                                                          (2, 3), order="F"))
    for make in (lambda m: m.zeros((2, 3)), lambda m: m.asfortranarray(m.zeros((2, 3)))):
        a, t = make(np), make(gnp)
        r, v = a.reshape(3, 2, order="F"), t.reshape(3, 2, order="F")
        assert np.shares_memory(v.data, t.data) == np.shares_memory(r, a)
        r[0, 1] = v[0, 1] = 5.0
        np.testing.assert_array_equal(t.data, a)


def test_write_into_F_reshape_view_keeps_gradient():
    w = gnp.ones(6, dtype=float)
    w.requires_grad_()
    t = w * 1.0
    v = gnp.reshape(t, (3, 2), order="F")
    v[0] *= 3.0
    t.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.reshape(
        np.array([[3.0, 3.0], [1.0, 1.0], [1.0, 1.0]]), -1, order="F"))


@pytest.mark.parametrize("bad", [True, 2.0])
def test_reshape_refuses_bool_and_float_sizes(bad):
    with pytest.raises(TypeError):
        np.arange(6.0).reshape(bad, 6)
    with pytest.raises(TypeError):
        gnp.arange(6.0).reshape(bad, 6)
