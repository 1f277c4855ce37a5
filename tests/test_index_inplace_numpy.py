"""NumPy's in-place indexing functions on gpugrad tensors: ``put``, ``place``, ``putmask``,
``put_along_axis``, ``copyto``, ``fill_diagonal`` and ``ufunc.at`` write the values NumPy
writes, and a write into a tensor that a recorded node saved is seen by backward (it raises),
never read as the old value -- on every device."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from conftest import DEVICES

A = np.arange(6.0).reshape(2, 3)
MASK = np.array([[True, False, True], [False, False, True]])

# (name, the arguments after the written array); each writes into a copy of A
WRITERS = [
    ("put", ([0, 0, 5], [10.0, 20.0, 30.0])),
    ("place", (MASK, [7.0, 8.0])),
    ("putmask", (MASK, [7.0, 8.0, 9.0])),
    ("put_along_axis", (np.array([[2], [0]]), 9.0, 1)),
    ("copyto", (A + 10.0,)),
    ("fill_diagonal", (5.0,)),
]


def _args(args, device):
    """``args`` with each ndarray as a tensor on ``device`` (CuPy takes no host arrays)."""
    return tuple(gg.tensor(a, device=device) if isinstance(a, np.ndarray) else a
                 for a in args)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,args", WRITERS, ids=[w[0] for w in WRITERS])
def test_writes_numpys_values(name, args, device):
    want = A.copy()
    getattr(np, name)(want, *args)
    x = gg.tensor(A, device=device)
    assert getattr(gnp, name)(x, *_args(args, device)) is None
    np.testing.assert_array_equal(x.cpu().numpy(), want)


@pytest.mark.parametrize("via", ["gnp", "np"])
@pytest.mark.parametrize("name,args", WRITERS, ids=[w[0] for w in WRITERS])
def test_write_into_saved_tensor_keeps_the_old_value_for_backward(name, args, via):
    # y = w * x saves x; writing into x afterwards gives the node a copy of the old x: the
    # gradient of w is the old x -- never one computed from the new x (it gave [20, 1, 2,
    # 3, 4, 30] for put)
    w = gg.tensor(A, requires_grad=True)
    x = gg.tensor(A)
    y = (w * x).sum()
    getattr(gnp if via == "gnp" else np, name)(x, *args)
    assert not np.array_equal(x.numpy(), A)
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), A)


def test_write_through_view_is_seen_by_backward():
    w = gg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64", requires_grad=True)
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype="float64")
    y = (w * x).sum()
    gnp.put(x[1], [0], 100.0)
    assert x.tolist() == [[1.0, 2.0], [100.0, 4.0]]
    y.backward()
    assert w.grad.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_out_argument_of_fallback_is_seen_by_backward():
    # choose has no gpugrad version: NumPy's runs, writing into the tensor given as out=
    w = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    o = gg.tensor([5.0, 6.0], dtype="float64")
    y = (w * o).sum()
    r = gnp.choose(gg.tensor([1, 0]), [gnp.array([1.0, 2.0]), gnp.array([3.0, 4.0])], out=o)
    assert o.tolist() == [3.0, 2.0] and r is o
    y.backward()
    assert w.grad.tolist() == [5.0, 6.0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["add", "subtract"])
def test_add_at_values_and_gradient(name, device):
    a = np.arange(6.0).reshape(2, 3)
    key, v = ([0, 0, 1], [2, 2, 0]), np.array([0.5, -1.0, 2.0])
    want = a.copy()
    getattr(np, name).at(want, key, v)
    x = gg.tensor(a, device=device, requires_grad=True)
    vt = gg.tensor(v, device=device, requires_grad=True)
    y = x * 1.0
    getattr(gnp, name).at(y, key, vt)
    np.testing.assert_array_equal(y.detach().cpu().numpy(), want)
    (y * y).sum().backward()
    # d/dv_i of sum(y**2) = +-2 * y[key_i]; d/dx = 2 * y
    sign = 1.0 if name == "add" else -1.0
    np.testing.assert_allclose(x.grad.cpu().numpy(), 2 * want)
    np.testing.assert_allclose(vt.grad.cpu().numpy(), sign * 2 * want[key])


@pytest.mark.parametrize("device", DEVICES)
def test_add_at_scalar_value(device):
    want = np.array([1.0, 2.0, 3.0])
    np.add.at(want, [0, 0, 2], 1.5)
    y = gg.tensor([1.0, 2.0, 3.0], dtype="float64", device=device)
    gnp.add.at(y, [0, 0, 2], 1.5)
    np.testing.assert_array_equal(y.cpu().numpy(), want)


def test_add_at_scalar_value_in_compiled_step():
    @gg.compile
    def step(x):
        y = x * 1.0
        gnp.add.at(y, [0, 0], 100.0)
        return y * 2

    for k in (1.0, 2.0, 3.0):
        out = step(gg.tensor([1.0, 2.0, 3.0], dtype="float64") * k)
        assert out.tolist() == [2 * (k + 200.0), 4.0 * k, 6.0 * k]


def test_failed_put_leaves_the_tensor_as_it_was():
    # NumPy's put writes index 0 before it finds index 5 out of bounds; the tensor is not
    # half-updated
    x = gg.tensor([1.0, 2.0, 3.0], dtype="float64")
    with pytest.raises(IndexError, match="out of bounds"):
        gnp.put(x, [0, 5], [10.0, 20.0])
    assert x.tolist() == [1.0, 2.0, 3.0]


def test_numpy_ufunc_at_on_saved_tensor_is_seen_by_backward():
    # np.add.at(tensor, ...) reaches NumPy's own ufunc.at through __array_ufunc__
    w = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    x = gg.tensor([3.0, 4.0], dtype="float64")
    y = (w * x).sum()
    np.add.at(x, [0, 0], 1.0)
    assert x.tolist() == [5.0, 4.0]
    y.backward()
    assert w.grad.tolist() == [3.0, 4.0]


def test_add_at_outside_a_graph_rounds_as_numpy():
    """NumPy's add.at adds each value into the array in turn; summing a position's values
    first (the graph's scatter) rounds differently.  Outside a graph the numbers are NumPy's,
    bit for bit (word2vec-style sparse updates into a non-zero buffer gave 1-ulp errors)."""
    import gpugrad.numpy as gnp
    rng = np.random.default_rng(3)
    base = rng.standard_normal((13, 8))
    idx = rng.integers(0, 13, (16, 3))
    vals = rng.standard_normal((16, 3, 8))
    want = base.copy()
    np.add.at(want, idx, vals)
    np.subtract.at(want, idx[:, 0], vals[:, 1])
    got = gnp.array(base)
    gnp.add.at(got, idx, vals)
    gnp.subtract.at(got, gnp.array(idx[:, 0]), gnp.array(vals[:, 1]))
    np.testing.assert_array_equal(got.numpy(), want, strict=True)
