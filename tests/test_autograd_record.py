"""The bookkeeping shortcuts of graph recording and of the backward pass agree with the
general path: answers of ``Function.apply`` are whole tensors, a leaf's gradient added in
place equals the one handed over through hooks, casts and recorded gradients, released
inputs share one zero-stride array per shape and dtype, and a released node keeps no array."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import released_inputs
from gpugrad.autograd import Function
from gpugrad.node_record import distinct_arrays, release_arrays
from gpugrad.released_inputs import ReleasedInput
from gpugrad.tensor import Tensor

# (_scalar is set only on answers standing for NumPy scalars: gpugrad.zero_d)
_SLOTS = [s for s in Tensor.__slots__ if s not in ("__weakref__", "_scalar")]


class _Twice(Function):
    def forward(self, x):
        return x * 2

    def backward(self, g):
        return (g * 2,)


class _Row(Function):  # a view op: row 0
    view = True

    def forward(self, x):
        return x[0]

    def backward(self, g):
        raise NotImplementedError


def _answers():
    """Function.apply's answers (not the no-graph fast paths of the ops) in every case."""
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = {"recorded": _Twice.apply(x), "recorded view": _Row.apply(x),
           "constant": _Twice.apply(c), "view": _Row.apply(c), "number": _Twice.apply(3.0)}
    with gg.no_grad():
        out["no_grad"], out["no_grad view"] = _Twice.apply(x), _Row.apply(x)
    return out


@pytest.mark.parametrize("kind", list(_answers()))
def test_apply_sets_every_tensor_slot(kind):
    t = _answers()[kind]
    for name in _SLOTS:  # an unset slot raises AttributeError
        getattr(t, name)
    assert t.grad is None and t._hooks is None
    assert t.requires_grad == (t._node is not None) == kind.startswith("recorded")
    assert (t._view is not None) == (kind in ("view", "no_grad view"))


def _grads(x, y, hook=None, dtype=None):
    """x.grad after two backward passes of (x * y).sum() (x accumulates)."""
    if hook is not None:
        x.register_hook(hook)
    for _ in range(2):
        xx = x if dtype is None else x.astype(dtype)
        (xx * y).sum().backward()
    return x.grad


def test_leaf_gradient_in_place_matches_general_path():
    y = gg.tensor([1.0, -2.0, 3.0], dtype="float64")
    plain = _grads(gg.tensor([0.5, 1.0, 2.0], dtype="float64", requires_grad=True), y)
    assert plain.tolist() == [2.0, -4.0, 6.0]
    hooked = _grads(gg.tensor([0.5, 1.0, 2.0], dtype="float64", requires_grad=True), y,
                    hook=lambda g: g * 1)          # through _deliver_leaf's hook path
    np.testing.assert_array_equal(hooked.numpy(), plain.numpy())
    x32 = gg.tensor([0.5, 1.0, 2.0], dtype="float32", requires_grad=True)
    cast = _grads(x32, y, dtype="float64")         # astype's gradient comes back in float32
    assert cast.dtype == np.float32 and cast.tolist() == [2.0, -4.0, 6.0]


def test_leaf_gradient_added_to_a_recorded_grad_keeps_the_graph():
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)      # x.grad = 3x^2, with a graph
    first = x.grad
    assert first.requires_grad
    (x * 2).sum().backward()                        # a plain pass adds, never in place
    assert x.grad is not first and x.grad.requires_grad
    assert x.grad.tolist() == [5.0, 14.0] and first.tolist() == [3.0, 12.0]
    (gx,) = gg.autograd.grad(x.grad.sum(), [x])
    assert gx.tolist() == [6.0, 12.0]               # d/dx (3x^2 + 2) = 6x


def test_released_inputs_share_a_read_only_zero_stride_array():
    a, b = gg.ones(5, 3), gg.zeros(5, 3)
    ra, rb = ReleasedInput(a), ReleasedInput(b)
    assert ra is not rb and ra.data is rb.data      # one array per (dtype, shape)
    assert ra.shape == (5, 3) and ra.dtype == a.dtype and ra.data.strides == (0, 0)
    assert not ra.data.flags.writeable and ra.data.base.nbytes == a.data.itemsize
    assert ReleasedInput(gg.ones(5, 3, dtype="float64")).data is not ra.data


def test_released_input_cache_stays_bounded(monkeypatch):
    monkeypatch.setattr(released_inputs, "_ZERO_STRIDE", {})
    for n in range(1, 200):
        r = ReleasedInput(gg.ones(n))
        assert r.shape == (n,) and float(r.data.sum()) == 0.0
        assert len(released_inputs._ZERO_STRIDE) <= 64


def test_backward_releases_batch_and_node_arrays():
    w = gg.tensor([[1.0], [2.0]], requires_grad=True)
    batch = gg.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = batch @ w
    node = y._node
    y.sum().backward()
    assert isinstance(node.parents[0], ReleasedInput) and node.parents[1] is w
    assert node.saved == () and node._in_arrays == ()
    assert not any(isinstance(v, np.ndarray) for v in vars(node).values())


def test_release_arrays_drops_arrays_and_device_arrays_only():
    class DeviceArray:  # what CuPy arrays look like to the engine
        __cuda_array_interface__ = {}

    d = {"mask": np.zeros(2), "dev": DeviceArray(), "shape": (2,), "n": 3, "s": np.float64(1),
         "nested": [np.zeros(1)]}
    release_arrays(d)
    assert sorted(d) == ["n", "nested", "s", "shape"]


def test_distinct_arrays_splits_shared_memory_between_three_inputs():
    x, w = gg.tensor([1.0, 2.0]), gg.tensor([3.0, 4.0])
    xd = x.detach()                                  # another tensor over x's very array
    arrays = [x.data, w.data, xd.data]
    distinct_arrays((x, w, xd), arrays)
    assert arrays[0] is x.data and arrays[1] is w.data
    assert arrays[2] is not x.data and arrays[2].base is x.data
    same = [x.data, w.data, x.data, None, None]      # one tensor twice, constants: untouched
    distinct_arrays((x, w, x, None, None), same)
    assert same == [x.data, w.data, x.data, None, None] and same[2] is x.data


class _Product3(Function):
    twice_differentiable = True

    def forward(self, a, b, c):
        self.saved = (a, b, c)
        return a * b * c

    def backward(self, g):
        a, b, c = self.saved
        return g * b * c, g * a * c, g * a * b


def test_create_graph_tells_apart_inputs_sharing_an_array():
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    w = gg.tensor([3.0, 5.0], dtype="float64")
    y = _Product3.apply(w, x.detach(), x).sum()    # x.detach() shares x's array
    (g,) = gg.autograd.grad(y, [x], create_graph=True)
    assert g.tolist() == [3.0, 10.0] and not g.requires_grad  # w * x.detach(): a constant
