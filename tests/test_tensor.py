"""The Tensor: creation and dtype rules, attributes, conversions, Python protocols, in-place
operators and their autograd rules, seeding."""
import numpy as np
import pytest

import gpugrad as gg


# ---------------------------------------------------------------- creation and dtype rules
@pytest.mark.parametrize("data, dtype", [
    (1.5, "float32"), ([1.0, 2.0], "float32"), ([[1, 2.5]], "float32"), (3, "int64"),
    ([1, 2], "int64"), (True, "bool"), ([True, False], "bool"),
    (np.zeros(2), "float64"), (np.zeros(2, np.float32), "float32"),
    (np.arange(3, dtype=np.int32), "int32"), (np.float32(1.5), "float32"),
    (np.array([1, 2], np.uint8), "uint8"), (np.zeros(2, np.float16), "float16"),
])
def test_tensor_dtype_from_data(data, dtype, device):
    t = gg.tensor(data, device=device)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


@pytest.mark.parametrize("spec", ["float64", np.float64, np.dtype("float64"), gg.float64,
                                  gg.double, "f8"])
def test_dtype_specs(spec, device):
    assert gg.tensor([1, 2], dtype=spec, device=device).dtype == np.dtype("float64")
    assert gg.zeros(2, dtype=spec, device=device).dtype == np.dtype("float64")
    assert gg.tensor([1.0]).astype(spec).dtype == np.dtype("float64")


@pytest.mark.parametrize("expr, dtype", [
    (lambda: gg.tensor([1.0, 2.0]) * 2.0, "float32"),        # weak Python float
    (lambda: 2 + gg.tensor([1.0]), "float32"),               # weak Python int
    (lambda: gg.tensor([1, 2], dtype="int32") + 1, "int32"),
    (lambda: gg.tensor([1, 2]) * 2.5, "float64"),            # int64 with a float: NumPy's rule
    (lambda: gg.tensor([1.0]) + gg.tensor(np.ones(1)), "float64"),
    (lambda: gg.tensor(np.ones(1)) * gg.tensor([1.0]), "float64"),
    (lambda: gg.tensor([1.0]) + gg.tensor([1]), "float64"),   # float32 + int64 -> float64
    (lambda: gg.tensor([1.0]) * np.float64(2.0), "float64"),  # a NumPy scalar is strong
    (lambda: gg.tensor([1.0], dtype="float16") * 3.0, "float16"),
    (lambda: gg.exp(gg.tensor([1, 2], dtype="int32")), "float32"),
])
def test_promotion_follows_numpy(expr, dtype):
    assert expr().dtype == np.dtype(dtype)


def test_tensor_copies_but_as_tensor_and_from_numpy_share():
    a = np.arange(3.0)
    t, s, f = gg.tensor(a), gg.as_tensor(a), gg.from_numpy(a)
    a[0] = 9.0
    assert t.tolist()[0] == 0.0
    assert s.tolist()[0] == 9.0 and f.tolist()[0] == 9.0
    assert gg.as_tensor(a, dtype="float32").dtype == np.float32
    same = gg.tensor([1.0])
    assert gg.as_tensor(same) is same


def test_creation_functions(device):
    dev = gg.device(device)
    cases = [
        (gg.zeros(2, 3, device=device), np.zeros((2, 3), np.float32)),
        (gg.zeros((2, 3), device=device), np.zeros((2, 3), np.float32)),
        (gg.ones(4, dtype="int64", device=device), np.ones(4, np.int64)),
        (gg.full((2, 2), 7, device=device), np.full((2, 2), 7, np.int64)),
        (gg.full((2,), 1.5, device=device), np.full(2, 1.5, np.float32)),
        (gg.full(3, True, device=device), np.full(3, True)),
        (gg.arange(4, device=device), np.arange(4)),
        (gg.arange(1, 2, 0.25, device=device), np.arange(1, 2, 0.25, dtype=np.float32)),
        (gg.linspace(0, 1, 5, device=device), np.linspace(0, 1, 5, dtype=np.float32)),
        (gg.eye(3, device=device), np.eye(3, dtype=np.float32)),
        (gg.eye(2, 3, k=1, dtype="int64", device=device), np.eye(2, 3, 1, dtype=np.int64)),
        (gg.zeros_like(gg.tensor([1, 2], device=device)), np.zeros(2, np.int64)),
        (gg.ones_like(gg.tensor([[1.0]], device=device)), np.ones((1, 1), np.float32)),
        (gg.full_like(gg.ones(2, device=device), 5.0), np.full(2, 5.0, np.float32)),
    ]
    for t, expected in cases:
        assert t.device == dev
        assert t.dtype == expected.dtype and t.shape == expected.shape
        np.testing.assert_array_equal(t.numpy(), expected)
    assert gg.empty(2, 5, device=device).shape == (2, 5)
    assert gg.empty_like(gg.ones(3)).shape == (3,)
    w = gg.zeros(3, requires_grad=True, device=device)
    assert w.requires_grad and w.is_leaf and w.grad is None


def test_random_creation_and_manual_seed(device):
    gg.manual_seed(42)
    a = [gg.rand(3, 4, device=device), gg.randn(5, dtype="float64", device=device),
         gg.randint(0, 10, (6,), device=device), gg.randn_like(gg.ones(2, device=device))]
    gg.manual_seed(42)
    b = [gg.rand(3, 4, device=device), gg.randn(5, dtype="float64", device=device),
         gg.randint(0, 10, (6,), device=device), gg.randn_like(gg.ones(2, device=device))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
        assert x.device == gg.device(device)
    assert a[0].dtype == np.float32 and a[1].dtype == np.float64 and a[2].dtype == np.int64
    assert ((a[0].numpy() >= 0) & (a[0].numpy() < 1)).all()
    assert ((a[2].numpy() >= 0) & (a[2].numpy() < 10)).all()
    gg.manual_seed(43)
    assert not np.array_equal(gg.rand(3, 4, device=device).numpy(), a[0].numpy())
    state = gg.get_rng_state()
    c = gg.randn(4)
    gg.set_rng_state(state)
    np.testing.assert_array_equal(gg.randn(4).numpy(), c.numpy())
    assert gg.randn(3, requires_grad=True).requires_grad


def test_randn_statistics():
    x = gg.randn(20000, dtype="float64").numpy()
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05


# ---------------------------------------------------------------- attributes and conversions
def test_attributes(device):
    x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device, requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and x.numel() == 6
    assert x.dtype == gg.float32 and x.device == gg.device(device)
    assert x.requires_grad and x.is_leaf and x.grad is None and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    assert gg.tensor(1.0).shape == () and gg.tensor(1.0).ndim == 0 and gg.tensor(1.0).size == 1


def test_numpy_item_tolist(device):
    x = gg.tensor([[1.5, 2.5]], device=device)
    arr = x.numpy()
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr, [[1.5, 2.5]])
    assert x.tolist() == [[1.5, 2.5]]
    assert gg.tensor([[3.25]], device=device).item() == 3.25
    assert isinstance(gg.tensor(7, device=device).item(), int)
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with one element, got shape "
                                         r"\(1, 2\)"):
        x.item()
    assert float(gg.tensor(2.5)) == 2.5 and int(gg.tensor(3)) == 3 and bool(gg.tensor(1.0))


def test_numpy_shares_memory_on_cpu():
    x = gg.tensor([1.0, 2.0])
    x.numpy()[0] = 5.0
    assert x.tolist() == [5.0, 2.0]


def test_to_cpu_astype(device):
    x = gg.tensor([1.5, -2.5], device=device, requires_grad=True)
    assert x.to("float64").dtype == np.float64
    assert x.to(gg.float64).dtype == np.float64
    assert x.to(device).device == gg.device(device)
    assert x.to(device) is x
    both = x.to(device="cpu", dtype="float64")
    assert both.device == gg.device("cpu") and both.dtype == np.float64
    assert x.cpu().device == gg.device("cpu")
    assert x.astype("int64").tolist() == [1, -2] and not x.astype("int64").requires_grad
    y = x.to("float64")                       # differentiable cast: the gradient comes back
    (y * y).sum().backward()                  # in the leaf's own dtype
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -5.0])
    c = x.to("float32", copy=True)
    assert c is not x and c.numpy() is not x.numpy()


def test_detach_requires_grad_retain_grad():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])
    z = gg.tensor([3.0])
    assert z.requires_grad_() is z and z.requires_grad
    z.requires_grad_(False)
    assert not z.requires_grad
    with pytest.raises(RuntimeError, match="only be turned off on a leaf"):
        (x * 2).requires_grad_(False)
    y = x * 3
    y.retain_grad()
    w = y * y
    w.retain_grad()
    w.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * y.numpy() * 3)
    assert (x * 5).grad is None                 # non-leaves keep no grad unless retained


def test_repr():
    assert repr(gg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(gg.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(gg.tensor(np.zeros(2))) == "tensor([0., 0.], dtype=float64)"
    assert repr(gg.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(gg.tensor([1.0], requires_grad=True) * 2) == \
        "tensor([2.], grad_fn=<MultiplyBackward>)"
    assert repr(gg.tensor(3.5)) == "tensor(3.5)"


def test_len_iter_array_protocol(device):
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device, requires_grad=True)
    assert len(x) == 3
    rows = list(x)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    sum(r.sum() * k for k, r in enumerate(rows)).backward()   # rows are differentiable
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [1, 1], [2, 2]])
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(gg.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(gg.tensor(1.0)).__next__()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(gg.tensor([1.0, 2.0]))


def test_array_protocol_on_cpu():
    x = gg.tensor([1.0, 2.0])
    a = np.asarray(x)
    assert a.dtype == np.float32 and a.tolist() == [1.0, 2.0]
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(np.array(x, copy=True), [1.0, 2.0])
    assert np.sum(x) == 3.0


# ---------------------------------------------------------------- in-place operators
def test_inplace_operators_compute(device):
    x = gg.tensor([1.0, 2.0, 4.0], device=device)
    ident = x
    x += 1
    x -= gg.tensor([1.0, 1.0, 1.0], device=device)
    x *= 3
    x /= 2
    x **= 2
    assert x is ident
    np.testing.assert_allclose(x.numpy(), (np.array([1.0, 2.0, 4.0]) * 3 / 2) ** 2)
    assert x._version == 5
    x[0] = 0.0
    x[1:] = gg.tensor([7.0, 8.0], device=device)
    assert x.tolist() == [0.0, 7.0, 8.0]
    x.zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    x.fill_(2.5)
    assert x.tolist() == [2.5, 2.5, 2.5]
    x.copy_(gg.tensor([1.0, 2.0, 3.0], device=device))
    assert x.tolist() == [1.0, 2.0, 3.0]
    x.add_(1).mul_(2).sub_(1).div_(2)
    assert x.tolist() == [1.5, 2.5, 3.5]
    i = gg.tensor([1, 2], device=device)
    i *= 3
    assert i.dtype == np.int64 and i.tolist() == [3, 6]


def test_inplace_on_leaf_requiring_grad_raises():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.__iadd__(1), lambda: w.__imul__(2), lambda: w.__setitem__(0, 3.0),
               lambda: w.zero_(), lambda: w.fill_(1.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* in-place"):
            op()
    assert w.tolist() == [1.0, 2.0]                  # nothing was half-updated
    with gg.no_grad():                               # the optimizer's way
        w -= 0.5
    assert w.tolist() == [0.5, 1.5] and w.is_leaf and w.requires_grad


def test_inplace_on_view_of_leaf_requiring_grad_raises():
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = w[:2]
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* in-place"):
        v *= 3
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad .* in-place"):
        w.reshape(3, 1)[0] = 5.0
    assert w.tolist() == [1.0, 2.0, 3.0]


def test_inplace_on_tensor_saved_for_backward_keeps_the_old_value():
    x = gg.tensor([0.5, 1.0], requires_grad=True)
    y = gg.exp(x)          # exp's backward reads its output y: the write gives it a copy
    z = (y * 1).sum()
    y += 1
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.0]), rtol=1e-6)
    a = gg.tensor([2.0, 3.0], requires_grad=True)
    b = a * 1
    c = b * a              # multiply saves b (for a's gradient): the write gives it a copy
    b *= 10
    c.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [4.0, 6.0])


def test_inplace_on_non_leaf_without_saved_use_gives_correct_grads():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2              # multiply by a constant saves nothing
    y += 1
    y *= 3
    y[0] = 0.0             # element 0 no longer depends on x
    (y * y).sum().backward()
    # y = [0, 3(2 x1 + 1), 3(2 x2 + 1)]; d sum(y^2)/dx = 2 y * 6
    expected = 2 * np.array([0.0, 3 * 5.0, 3 * 7.0]) * 6 * np.array([0, 1, 1])
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_inplace_with_a_tensor_operand_gives_correct_grads():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    w = gg.tensor([5.0, 7.0], requires_grad=True)
    y = x * 3
    y += w                 # y becomes x * 3 + w
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0] and w.grad.tolist() == [1.0, 1.0]
    a = gg.zeros(2)        # a plain tensor joins the graph through an in-place op
    a += w
    (a * a).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [1.0 + 10.0, 1.0 + 14.0])


def test_inplace_does_not_rewire_earlier_consumers():
    # z was computed from y before the in-place update; its gradient must not see w
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    w = gg.tensor([5.0, 7.0], requires_grad=True)
    y = x * 1
    z = y * 2
    y += w
    (z.sum() + y.sum()).backward()
    assert x.grad.tolist() == [3.0, 3.0]   # 2 through z, 1 through the updated y
    assert w.grad.tolist() == [1.0, 1.0]   # only through the updated y


def test_inplace_through_a_view_updates_the_base_gradient():
    # writing through a view changes its base: the base's gradient must see the write
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = y[:2]
    v *= 3
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 1.0]


def test_inplace_result_must_fit():
    x = gg.zeros(3)
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) cannot be written into a tensor of "
                                           r"shape \(3,\)"):
        x += gg.zeros((2, 3))
    i = gg.tensor([1, 2])
    with pytest.raises(TypeError, match="dtype float64 cannot be cast to the tensor's dtype int64"):
        i *= 2.5
    assert i.tolist() == [1, 2]


def test_view_used_after_its_base_changed_follows_numpy_semantics():
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    w = gg.tensor(10.0, requires_grad=True)
    y = x * 1
    row = y[0]                 # a view of y
    early = (row * 1).sum()    # used before the write: it saw x[0, 1]
    y[0, 1] = w                # written through the base
    assert row.tolist() == [1.0, 10.0]
    (row * 2).sum().backward(retain_graph=True)      # used after: it sees w
    assert x.grad.tolist() == [[2.0, 0.0], [0.0, 0.0]] and w.grad.item() == 2.0
    x.grad = w.grad = None
    early.backward()
    assert x.grad.tolist() == [[1.0, 1.0], [0.0, 0.0]] and w.grad is None


def test_write_through_a_basic_index_view_reaches_the_base():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y[:2] *= 3                 # Python: v = y[:2]; v *= 3; y[:2] = v
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0, 2.0]
    x.grad = None
    y = x * 2
    first = y[:2]
    first += 5                 # no setitem afterwards: the base must still see it
    head = first[0, ...]       # (a 0-d view; first[0] is a copy, as NumPy's scalar is)
    head *= 10                 # a view of a view: both bases are rewired
    assert y.tolist() == [70.0, 9.0, 6.0]
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 * 70.0 * 20, 2 * 9.0 * 2, 2 * 6.0 * 2])


def test_cached_view_of_a_parameter_survives_an_optimizer_step():
    W = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    Wt = W.T                   # e.g. tied weights, computed once
    (Wt * 2).sum().backward()
    with gg.no_grad():
        W -= 0.5 * W.grad      # the step changes W (and so Wt) in place
    assert Wt.tolist() == [[0.0, 2.0], [1.0, 3.0]]
    W.grad = None
    (Wt * Wt).sum().backward()
    np.testing.assert_allclose(W.grad.numpy(), 2 * W.numpy())


def test_base_changed_through_an_untracked_alias_raises_when_used():
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    yt = y.T
    yt *= 3                    # a transposed view re-links y as the transpose of yt
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 6.0))
    z = x * 2
    z.detach()[0] = 7.0        # a detached alias shares z's memory too
    with pytest.raises(RuntimeError, match="clone\\(\\) the tensor before modifying it"):
        z * 1


def test_reshape_that_copies_is_a_snapshot():
    x = gg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    w = gg.tensor(100.0, requires_grad=True)
    y = x * 1
    flat = y.T.reshape(-1)     # not expressible as a view: NumPy copies
    y += w
    assert flat.tolist() == [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    (flat * gg.arange(6.0)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]])
    assert w.grad is None
