"""Shape/indexing and linear-algebra ops: forward against NumPy, gradients against float64
central differences (``gpugrad.gradcheck``), error messages, and PyTorch where installed."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import ops as L
from gpugrad import ops as S

rng = np.random.default_rng(0)


def rnd(*shape):
    return rng.standard_normal(shape)


def T(a, grad=False):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def check(fn, ref, *arrays, grad=True):
    """fn(*tensors) matches ref(*arrays) and its gradient matches finite differences."""
    out = fn(*[T(a) for a in arrays])
    want = ref(*arrays)
    assert out.shape == np.shape(want)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-10, atol=1e-12)
    if grad:
        assert gg.gradcheck(fn, [np.asarray(a, dtype=np.float64) for a in arrays])


def vjp(fn, *arrays, g=None):
    """Gradients of sum(fn(*xs) * g) w.r.t. every input (g defaults to ones)."""
    xs = [T(a, grad=True) for a in arrays]
    out = fn(*xs)
    out.backward(T(np.ones(out.shape) if g is None else g))
    return [x.grad.numpy() for x in xs]


# ================================================================ reshape family
def test_reshape_forms_and_grad():
    x = rnd(2, 3, 4)
    check(lambda t: S.reshape(t, 4, -1), lambda a: a.reshape(4, -1), x)
    check(lambda t: S.reshape(t, (6, 4)), lambda a: a.reshape(6, 4), x)
    check(lambda t: S.reshape(t, [-1]), lambda a: a.reshape(-1), x)
    check(lambda t: S.reshape(t, 1, 1), lambda a: a.reshape(1, 1), np.array(2.0))  # 0-d
    check(lambda t: S.reshape(t, ()), lambda a: a.reshape(()), np.array([3.0]))


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"cannot reshape tensor of shape \(2, 3\) into shape \(4,\)"):
        S.reshape(gg.zeros((2, 3)), 4)
    with pytest.raises(ValueError, match=r"into shape \(-1, -1\)"):
        S.reshape(gg.zeros((2, 3)), -1, -1)
    with pytest.raises(ValueError, match=r"into shape \(-1, 4\)"):
        S.reshape(gg.zeros((2, 3)), -1, 4)
    with pytest.raises(TypeError, match="reshape: expected integers"):
        S.reshape(gg.zeros((2, 3)), 2.0, 3)


def test_reshape_is_a_view_sharing_the_version_counter():
    x = T(rnd(2, 3), grad=True)
    y = S.reshape(x, 6)
    assert np.shares_memory(y.data, x.data) and y._vc is x._vc


@pytest.mark.parametrize("fn,ref", [
    (lambda t: S.squeeze(t), lambda a: np.squeeze(a)),
    (lambda t: S.squeeze(t, axis=-1), lambda a: np.squeeze(a, axis=-1)),
    (lambda t: S.squeeze(t, axis=(0, 3)), lambda a: np.squeeze(a, axis=(0, 3))),
    (lambda t: S.expand_dims(t, -1), lambda a: np.expand_dims(a, -1)),
    (lambda t: S.unsqueeze(t, (0, 2)), lambda a: np.expand_dims(a, (0, 2))),
    (lambda t: S.flatten(t), lambda a: a.reshape(-1)),
    (lambda t: S.flatten(t, 1, -2), lambda a: a.reshape(1, 6, 1)),
    (lambda t: S.ravel(t), lambda a: np.ravel(a)),
])
def test_squeeze_expand_flatten(fn, ref):
    check(fn, ref, rnd(1, 2, 3, 1))


def test_squeeze_expand_flatten_edge_cases():
    assert S.flatten(gg.tensor(1.0)).shape == (1,)
    assert S.expand_dims(gg.tensor(1.0), 0).shape == (1,)
    assert S.squeeze(gg.tensor(1.0)).shape == ()
    with pytest.raises(ValueError, match=r"cannot squeeze axis 1 of size 3 \(tensor of shape \(1, 3\)\)"):
        S.squeeze(gg.zeros((1, 3)), 1)
    with pytest.raises(np.exceptions.AxisError, match="axis 2 is out of bounds for a tensor of dimension 2"):
        S.squeeze(gg.zeros((1, 3)), 2)
    with pytest.raises(ValueError, match=r"flatten: start_dim \(2\) must not come after end_dim"):
        S.flatten(gg.zeros((1, 2, 3)), 2, 1)


# ================================================================ permutations
@pytest.mark.parametrize("fn,ref", [
    (lambda t: S.transpose(t), lambda a: a.T),
    (lambda t: S.transpose(t, (1, -1, 0)), lambda a: np.transpose(a, (1, 2, 0))),
    (lambda t: S.transpose(t, 2, 0, 1), lambda a: np.transpose(a, (2, 0, 1))),
    (lambda t: S.permute(t, 2, 0, 1), lambda a: np.transpose(a, (2, 0, 1))),
    (lambda t: S.permute(t, (0, 2, 1)), lambda a: np.transpose(a, (0, 2, 1))),
    (lambda t: S.swapaxes(t, 0, -1), lambda a: np.swapaxes(a, 0, -1)),
    (lambda t: S.moveaxis(t, 0, -1), lambda a: np.moveaxis(a, 0, -1)),
    (lambda t: S.moveaxis(t, (0, 1), (-1, 0)), lambda a: np.moveaxis(a, (0, 1), (-1, 0))),
])
def test_permutations(fn, ref):
    check(fn, ref, rnd(2, 3, 4))


def test_permutation_errors_and_view():
    x = gg.zeros((2, 3))
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) are not a permutation"):
        S.transpose(x, (0, 0))
    with pytest.raises(ValueError, match="permute: axes"):
        S.permute(x, 0, 1, 2)
    with pytest.raises(ValueError, match="moveaxis: source and destination"):
        S.moveaxis(x, (0, 1), 0)
    assert S.transpose(x)._vc is x._vc
    assert S.transpose(gg.tensor(2.0)).shape == ()


# ================================================================ broadcasting
def test_broadcast_to_and_expand():
    check(lambda t: S.broadcast_to(t, (4, 2, 3)), lambda a: np.broadcast_to(a, (4, 2, 3)),
          rnd(2, 1))
    check(lambda t: S.broadcast_to(t, (2, 3)), lambda a: np.broadcast_to(a, (2, 3)),
          np.array(1.5))
    check(lambda t: S.expand(t, 4, -1, 3), lambda a: np.broadcast_to(a, (4, 2, 3)), rnd(2, 1))
    (g,) = vjp(lambda t: S.broadcast_to(t, (4, 3)), rnd(3))
    np.testing.assert_allclose(g, [4.0, 4.0, 4.0])
    with pytest.raises(ValueError, match=r"cannot broadcast tensor of shape \(2, 3\) to shape \(4, 3\)"):
        S.broadcast_to(gg.zeros((2, 3)), (4, 3))
    with pytest.raises(ValueError, match="expand: -1 is not allowed"):
        S.expand(gg.zeros(3), -1, 3)
    with pytest.raises(ValueError, match="expand: expected at least 2 sizes"):
        S.expand(gg.zeros((2, 3)), 3)


# ================================================================ joining and splitting
def test_concatenate_and_stack():
    a, b, c = rnd(2, 3), rnd(1, 3), rnd(4, 3)
    check(lambda x, y, z: S.concatenate([x, y, z]), lambda x, y, z: np.concatenate([x, y, z]),
          a, b, c)
    check(lambda x, y: S.cat((x, y), axis=-1), lambda x, y: np.concatenate((x, y), -1),
          rnd(2, 3), rnd(2, 1))
    check(lambda x, y: S.concatenate([x, y], axis=None),
          lambda x, y: np.concatenate([x, y], axis=None), rnd(2, 2), rnd(3))
    check(lambda x, y: S.stack([x, y], axis=-1), lambda x, y: np.stack([x, y], -1),
          rnd(2, 3), rnd(2, 3))
    check(lambda x, y: S.stack([x, y]), lambda x, y: np.stack([x, y]), np.array(1.0),
          np.array(2.0))


def test_concatenate_mixed_inputs_and_dtypes():
    x = T(rnd(2), grad=True)
    y = S.concatenate([x, np.zeros(3), [5.0]])  # array-likes join a tensor
    assert y.shape == (6,) and y.requires_grad
    y.backward(gg.ones(6, dtype="float64"))
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    a = gg.tensor([1.0], requires_grad=True)  # float32
    b = gg.tensor(np.array([2.0]), requires_grad=True)  # float64
    out = S.stack([a, b])
    assert out.dtype == np.float64
    out.backward(T(np.ones((2, 1))))
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_join_errors():
    with pytest.raises(ValueError, match=r"concatenate: all tensors must have the same shape "
                                         r"except along axis 0, got \(2, 3\) and \(2, 4\)"):
        S.concatenate([gg.zeros((2, 3)), gg.zeros((2, 4))])
    with pytest.raises(ValueError, match="zero-dimensional tensors cannot be concatenated"):
        S.concatenate([gg.tensor(1.0), gg.tensor(2.0)])
    with pytest.raises(ValueError, match="expected a non-empty sequence"):
        S.concatenate([])
    with pytest.raises(TypeError, match="expected a list or tuple of tensors"):
        S.stack(gg.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"stack: all tensors must have the same shape, got \(3,\) and \(2,\)"):
        S.stack([gg.zeros(3), gg.zeros(2)])


def test_split():
    x = rnd(6, 2)
    for ios, axis in [(3, 0), ([1, 4], 0), ([2, -1], 0), (2, -1), ([0, 9], 0)]:
        parts = S.split(T(x), ios, axis)
        want = np.split(x, ios, axis)
        assert len(parts) == len(want)
        for p, w in zip(parts, want):
            np.testing.assert_array_equal(p.numpy(), w)
    # differentiable: recombine the pieces in another order
    check(lambda t: S.concatenate(S.split(t, [1, 4])[::-1]),
          lambda a: np.concatenate(np.split(a, [1, 4])[::-1]), x)
    with pytest.raises(ValueError, match=r"split: axis 0 of size 6 cannot be split into 4 equal"):
        S.split(T(x), 4)


def test_split_pieces_used_twice_accumulate():
    x = T(rnd(4), grad=True)
    a, b = S.split(x, 2)
    S.concatenate([a, a, b]).backward(T(np.arange(6.0)))
    np.testing.assert_array_equal(x.grad.numpy(), [0 + 2, 1 + 3, 4, 5])


# ================================================================ getitem
BASIC_KEYS = [
    1, -1, (0, 1), (slice(None), 2), (slice(None, None, -2), slice(1, None)),
    (Ellipsis, 0), (None, 0, Ellipsis, None), (slice(1, 2), None), (0, 1, 1),
]
ADVANCED_KEYS = [
    [0, 0, 2], (slice(None), [3, 1, 3]), ([1, 1], [0, 0]), np.array([[0, 2], [2, 2]]),
    (np.array([True, False, True]),), (slice(None), np.array([True, False, True, True])),
    (0, [2, 2], slice(None)), ([[0], [2]], slice(1, None), [1, 1, 0]), np.array(-1),
    ([0, 1, 0], np.array([True, False, True, True])), [],
]


@pytest.mark.parametrize("key", BASIC_KEYS + ADVANCED_KEYS, ids=repr)
def test_getitem_matches_numpy_and_gradchecks(key):
    check(lambda t: S.getitem(t, key), lambda a: np.asarray(a[key]), rnd(3, 4, 2))


def test_getitem_basic_is_a_view_and_0d():
    x = T(rnd(3, 4), grad=True)
    y = S.getitem(x, (1, 2, Ellipsis))
    assert y.shape == () and np.shares_memory(y.data, x.data) and y._vc is x._vc
    e = S.getitem(x, (1, 2))   # one element by integers alone: a copy, as NumPy's scalar is
    assert e.shape == () and not np.shares_memory(e.data, x.data) and e._vc is not x._vc
    z = S.getitem(x, [0, 1])
    assert not np.shares_memory(z.data, x.data)
    s = T(2.0, grad=True)
    assert S.getitem(s, ()).shape == () and S.getitem(s, None).shape == (1,)


def test_getitem_repeated_indices_accumulate():
    (g,) = vjp(lambda t: S.getitem(t, [0, 2, 0, 0, -1]), np.arange(4.0))
    np.testing.assert_array_equal(g, [3.0, 0.0, 1.0, 1.0])
    (g,) = vjp(lambda t: S.getitem(t, ([1, 1, 1], [0, 0, 2])), rnd(2, 3),
               g=np.array([1.0, 2.0, 4.0]))
    np.testing.assert_array_equal(g, [[0, 0, 0], [3, 0, 4]])


def test_getitem_tensor_keys():
    x = T(np.arange(12.0).reshape(3, 4), grad=True)
    idx = gg.tensor([2, 0, 2])
    mask = gg.tensor(np.array([True, False, True]))
    np.testing.assert_array_equal(S.getitem(x, idx).numpy(), x.numpy()[[2, 0, 2]])
    np.testing.assert_array_equal(S.getitem(x, (mask, 1)).numpy(), x.numpy()[[0, 2], 1])
    np.testing.assert_array_equal(S.getitem(x, gg.tensor(1)).numpy(), x.numpy()[1])


def test_getitem_errors():
    x = gg.zeros((3, 4))
    with pytest.raises(IndexError, match="tensor indices must be integers or booleans, got float32"):
        S.getitem(x, gg.tensor([0.0, 1.0]))
    with pytest.raises(IndexError, match="tensor indices must be integers or booleans, got float$"):
        S.getitem(x, (0, 1.5))
    with pytest.raises(IndexError, match="got float64"):
        S.getitem(x, [0.5])
    with pytest.raises(IndexError, match="got str"):
        S.getitem(x, "a")
    with pytest.raises(IndexError):
        S.getitem(x, 5)


def test_tensor_getitem_operator():
    x = T(rnd(3, 4), grad=True)
    x[1:, [0, 0]].backward(T(np.ones((2, 2))))
    want = np.zeros((3, 4))
    want[1:, 0] = 2
    np.testing.assert_array_equal(x.grad.numpy(), want)


# ================================================================ setitem
SET_CASES = [
    (1, rnd(4)), ((slice(None), 2), rnd(3)), ((slice(None), 2), rnd(1)),
    ((slice(0, 2), slice(1, 3)), rnd(2, 1)), ([0, 2], rnd(2, 4)), ([2, 0], rnd(4)),
    ((np.array([True, False, True]),), rnd(1, 4)), ((0, [1, 3]), rnd(1, 2)), ((1, 2), rnd()),
]


@pytest.mark.parametrize("key,value", SET_CASES, ids=lambda v: repr(v)[:30])
def test_setitem_out_of_place(key, value):
    x = rnd(3, 4)

    def ref(a, v):
        out = a.copy()
        out[key] = v
        return out

    t = T(x)
    check(lambda a, v: S.setitem(a, key, v), ref, x, value)
    S.setitem(t, key, T(value))
    np.testing.assert_array_equal(t.numpy(), x)  # untouched


def test_setitem_gradients_and_scalar_values():
    gx, gv = vjp(lambda a, v: S.setitem(a, (slice(None), 1), v), rnd(2, 3), rnd(1),
                 g=np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(gx, [[0, 0, 2], [3, 0, 5]])
    np.testing.assert_array_equal(gv, [1 + 4])
    out = S.setitem(T(np.zeros(3), grad=True), [0, 2], 7.0)
    assert out.tolist() == [7.0, 0.0, 7.0] and out.requires_grad
    v = gg.tensor(np.array(2.0), requires_grad=True)  # value needs grad, x does not
    S.setitem(gg.zeros(3, dtype="float64"), 1, v).backward(T([1.0, 5.0, 1.0]))
    assert v.grad.item() == 5.0


def test_tensor_setitem_operator_in_graph():
    w = T(np.arange(4.0), grad=True)
    v = T([10.0], grad=True)
    y = w * 1.0
    y[1:3] = v * 2
    np.testing.assert_array_equal(y.numpy(), [0, 20, 20, 3])
    y.backward(T([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(w.grad.numpy(), [1, 0, 0, 4])
    np.testing.assert_array_equal(v.grad.numpy(), [2 * (2 + 3)])


# ================================================================ take, take_along_axis
def test_take():
    x = rnd(3, 4)
    for idx, axis in [([0, 0, 2], None), ([3, -1, 0], 1), (np.array([[1, 1], [0, 2]]), 0),
                      (2, 1), ([1, 1, 1], -2)]:
        check(lambda t: S.take(t, idx, axis), lambda a: np.take(a, idx, axis), x)
    with pytest.raises(IndexError, match="take: indices must be integers, got float64"):
        S.take(gg.zeros(3), np.array([0.0]))


def test_take_along_axis():
    x = rnd(3, 4)
    for idx, axis in [(np.array([[1, 1, 3], [0, 0, 0], [2, 3, 1]]), 1),
                      (np.array([[2, 0, 0, 1]]), 0), (np.array([[0], [3], [3]]), -1),
                      (np.argsort(x, axis=1), 1)]:
        check(lambda t: S.take_along_axis(t, idx, axis),
              lambda a: np.take_along_axis(a, idx, axis), x)
    check(lambda t: S.take_along_axis(t, np.array([5, 5, 0]), None),
          lambda a: np.take_along_axis(a, np.array([5, 5, 0]), None), x)
    with pytest.raises(ValueError, match="must have the same number of dimensions, got 1 and 2"):
        S.take_along_axis(gg.zeros((2, 3)), np.array([0]), 1)
    with pytest.raises(IndexError, match="integers or booleans, got float64"):
        S.take_along_axis(gg.zeros((2, 3)), np.zeros((2, 1)), 1)


# ================================================================ pad
@pytest.mark.parametrize("pw", [1, (1, 2), ((0, 1), (2, 0)), [(1,), (2,)], ((3, 1),)])
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
def test_pad(pw, mode):
    kw = {"constant_values": 1.5} if mode == "constant" else {}
    check(lambda t: S.pad(t, pw, mode=mode, **kw), lambda a: np.pad(a, pw, mode=mode, **kw),
          rnd(3, 4))


def test_pad_errors_and_gradient():
    (g,) = vjp(lambda t: S.pad(t, 2, mode="reflect"), rnd(3))
    np.testing.assert_array_equal(g, [2.0, 3.0, 2.0])  # reflected copies accumulate
    with pytest.raises(ValueError, match="pad: pad_width must be non-negative"):
        S.pad(gg.zeros(3), -1)
    with pytest.raises(ValueError, match=r"pad: pad_width .* does not fit a tensor of shape \(2, 3\)"):
        S.pad(gg.zeros((2, 3)), ((1, 1), (1, 1), (1, 1)))
    with pytest.raises(NotImplementedError, match="pad: mode 'mean' is not supported"):
        S.pad(gg.zeros(3), 1, mode="mean")
    with pytest.raises(TypeError, match="pad: pad_width must be integers"):
        S.pad(gg.zeros(3), 1.5)


# ================================================================ flip, roll, tile, repeat
@pytest.mark.parametrize("fn,ref", [
    (lambda t: S.flip(t), lambda a: np.flip(a)),
    (lambda t: S.flip(t, -1), lambda a: np.flip(a, -1)),
    (lambda t: S.flip(t, (0, 2)), lambda a: np.flip(a, (0, 2))),
    (lambda t: S.roll(t, 2), lambda a: np.roll(a, 2)),
    (lambda t: S.roll(t, -1, 1), lambda a: np.roll(a, -1, 1)),
    (lambda t: S.roll(t, (1, 2), (0, -1)), lambda a: np.roll(a, (1, 2), (0, -1))),
    (lambda t: S.tile(t, 2), lambda a: np.tile(a, 2)),
    (lambda t: S.tile(t, (2, 1, 3)), lambda a: np.tile(a, (2, 1, 3))),
    (lambda t: S.tile(t, (2, 1, 1, 2)), lambda a: np.tile(a, (2, 1, 1, 2))),
    (lambda t: S.repeat(t, 2), lambda a: np.repeat(a, 2)),
    (lambda t: S.repeat(t, 3, axis=-1), lambda a: np.repeat(a, 3, axis=-1)),
    (lambda t: S.repeat(t, [1, 0, 2], axis=1), lambda a: np.repeat(a, [1, 0, 2], axis=1)),
    (lambda t: S.repeat(t, [2], axis=0), lambda a: np.repeat(a, [2], axis=0)),
])
def test_flip_roll_tile_repeat(fn, ref):
    check(fn, ref, rnd(2, 3, 2))


def test_flip_roll_tile_repeat_edge_cases():
    check(lambda t: S.tile(t, (2, 2)), lambda a: np.tile(a, (2, 2)), np.array(3.0))
    check(lambda t: S.repeat(t, 3), lambda a: np.repeat(a, 3), np.array(3.0))
    check(lambda t: S.flip(t), lambda a: np.flip(a), np.array(3.0))
    with pytest.raises(ValueError, match=r"repeat: expected 1 or 3 repeat counts for axis 0"):
        S.repeat(gg.zeros(3), [1, 2])
    with pytest.raises(ValueError, match="repeat: repeats must be non-negative"):
        S.repeat(gg.zeros(3), -1)
    with pytest.raises(ValueError, match="tile: reps must be non-negative"):
        S.tile(gg.zeros(3), -1)


# ================================================================ copy, astype, to_device
def test_copy_astype_to_device():
    x = T(rnd(3), grad=True)
    y = S.copy(x)
    assert not np.shares_memory(x.data, y.data) and y.requires_grad
    x32 = gg.tensor([1.5, -2.5], requires_grad=True)
    y64 = S.astype(x32, "float64")
    assert y64.dtype == np.float64 and y64.requires_grad
    (y64 * 3.0).sum().backward()
    assert x32.grad.dtype == np.float32 and x32.grad.tolist() == [3.0, 3.0]
    yi = S.astype(x32, "int64")
    assert yi.dtype == np.int64 and not yi.requires_grad and yi.grad_fn is None
    assert S.to_device(x, "cpu") is x
    check(lambda t: S.astype(t, np.float32) * 1.0, lambda a: a.astype(np.float32), rnd(3),
          grad=False)


@pytest.mark.skipif(not gg.cuda.is_available(), reason="needs a CUDA GPU with CuPy")
def test_to_device_cuda_roundtrip_gradient():
    x = T(rnd(3), grad=True)
    y = S.to_device(x, "cuda")
    assert str(y.device) == "cuda:0"
    S.to_device(y * 2.0, "cpu").sum().backward()
    assert x.grad.device == gg.device("cpu")
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])


# ================================================================ in-place safety
def test_shape_ops_do_not_save_inputs():
    # these backwards read no input data, so an in-place change afterwards is not an error
    for fn in (lambda t: S.reshape(t, 6), lambda t: S.concatenate([t, t]),
               lambda t: S.getitem(t, [0, 0]), lambda t: S.pad(t, 1),
               lambda t: S.transpose(t), lambda t: S.flip(t, 0)):
        w = T(rnd(2, 3), grad=True)
        h = w * 1.0
        y = fn(h)
        h += 1.0
        y.backward(T(np.ones(y.shape)))
        assert w.grad.shape == (2, 3)


# ================================================================ matmul
MATMUL_SHAPES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)), ((5, 1, 2, 3), (4, 3, 2)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
    ((1, 2, 3), (4, 3, 1)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul(sa, sb):
    check(L.matmul, np.matmul, rnd(*sa), rnd(*sb))


def test_matmul_dtypes_and_constant_operand():
    a = gg.tensor(rnd(2, 3).astype(np.float32), requires_grad=True)
    b = T(rnd(3, 4))
    out = L.matmul(a, b)
    assert out.dtype == np.float64
    out.backward(T(np.ones((2, 4))))
    assert a.grad.dtype == np.float32 and b.grad is None
    np.testing.assert_allclose(a.grad.numpy(), np.ones((2, 4)) @ b.numpy().T, rtol=1e-6)


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"matmul: expected a \(\.\.\., n, k\) @ \(\.\.\., k, m\) "
                                         r"shapes, got \(2, 3\) and \(4, 5\)"):
        L.matmul(gg.zeros((2, 3)), gg.zeros((4, 5)))
    with pytest.raises(ValueError, match=r"got \(3,\) and \(4,\)"):
        L.matmul(gg.zeros(3), gg.zeros(4))
    with pytest.raises(ValueError, match="matmul: batch dimensions"):
        L.matmul(gg.zeros((2, 2, 3)), gg.zeros((3, 3, 4)))
    with pytest.raises(ValueError, match="matmul: expected tensors with at least one dimension"):
        L.matmul(gg.tensor(2.0), gg.zeros(3))


# ================================================================ dot, inner, outer, tensordot
@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)),
                                   ((2, 3), (3, 4)), ((), (2, 3)), ((3,), ())], ids=str)
def test_dot(sa, sb):
    check(L.dot, np.dot, rnd(*sa), rnd(*sb))


@pytest.mark.parametrize("sa,sb", [((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3)),
                                   ((3, 4), (2, 4, 5)), ((2, 3, 4), (5, 4, 2))], ids=str)
def test_dot_of_more_dimensions_is_numpys(sa, sb):
    check(L.dot, np.dot, rnd(*sa), rnd(*sb))


def test_dot_errors():
    with pytest.raises(ValueError, match=r"dot: shapes \(2, 3\) and \(4,\) are not aligned"):
        L.dot(gg.zeros((2, 3)), gg.zeros(4))
    with pytest.raises(ValueError, match=r"4 \(last dim of a\) != 3 \(second-to-last dim"):
        L.dot(gg.zeros((2, 2, 4)), gg.zeros((5, 3, 2)))


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 1, 3), (3,)), ((), (2,))],
                         ids=str)
def test_inner(sa, sb):
    check(L.inner, np.inner, rnd(*sa), rnd(*sb))


def test_outer():
    check(L.outer, np.outer, rnd(3), rnd(2, 2))
    check(L.outer, np.outer, rnd(), rnd(2))
    with pytest.raises(ValueError, match="inner: the last dimensions must match"):
        L.inner(gg.zeros(2), gg.zeros(3))


@pytest.mark.parametrize("sa,sb,axes", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4,), 0),
    ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])), ((2, 3, 4), (5, 2), ([0], [-1])),
    ((3, 4), (4, 3), ([0, 1], [1, 0])),
], ids=str)
def test_tensordot(sa, sb, axes):
    check(lambda a, b: L.tensordot(a, b, axes), lambda a, b: np.tensordot(a, b, axes),
          rnd(*sa), rnd(*sb))


def test_tensordot_errors():
    with pytest.raises(ValueError, match="tensordot: shape mismatch for sum: a has size 3 on axis 1"):
        L.tensordot(gg.zeros((2, 3)), gg.zeros((4, 5)), 1)
    with pytest.raises(ValueError, match="tensordot: a and b must name the same number of axes"):
        L.tensordot(gg.zeros((2, 3)), gg.zeros((3, 2)), ([0, 1], [0]))
    with pytest.raises(ValueError, match="tensordot: axes=3 is out of range"):
        L.tensordot(gg.zeros((2, 3)), gg.zeros((3, 2)), 3)


# ================================================================ einsum
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,ij->", [(2, 3), (2, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), ("i,j->ij", [(2,), (3,)]), ("ij,j->i", [(2, 3), (3,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("ij,kj->ik", [(2, 3), (4, 3)]),
    ("ijk,jkl", [(2, 3, 2), (3, 2, 2)]), ("ij,jk", [(2, 3), (3, 2)]), ("ba,ac", [(2, 3), (3, 2)]),
    ("ij,k->i", [(2, 3), (4,)]), ("ij,k->ik", [(2, 3), (4,)]), ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("ij->j", [(2, 3)]), ("i,i->", [(3,), (3,)]), ("ij", [(2, 3)]),
    ("ji", [(2, 3)]), (",ij->ij", [(), (2, 3)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,ij->ij", [(3, 1), (3, 4)]), ("ij,jk->ik", [(2, 1), (3, 4)]),
    ("abc,cd->abd", [(2, 1, 3), (3, 2)]), ("i j , j k -> i k", [(2, 3), (3, 2)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUM_CASES, ids=lambda v: str(v))
def test_einsum(spec, shapes):
    arrays = [rnd(*s) for s in shapes]
    check(lambda *ts: L.einsum(spec, *ts), lambda *a: np.einsum(spec, *a), *arrays)


def test_einsum_list_form_and_errors():
    a, b = T(rnd(2, 3)), T(rnd(3, 2))
    np.testing.assert_allclose(L.einsum("ij,jk->ik", [a, b]).numpy(), a.numpy() @ b.numpy())
    with pytest.raises(NotImplementedError, match="einsum: repeated index 'i' within one operand"):
        L.einsum("ii->i", gg.zeros((2, 2)))
    with pytest.raises(NotImplementedError, match=r"einsum: '\.\.\.'"):
        L.einsum("...ij->...ji", gg.zeros((2, 2)))
    with pytest.raises(ValueError, match="name 2 operand"):
        L.einsum("ij,jk->ik", gg.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"operand 1 has shape \(3,\) \(1 dimensions\) but subscripts 'jk' name 2"):
        L.einsum("ij,jk->ik", gg.zeros((2, 3)), gg.zeros(3))
    with pytest.raises(ValueError, match="index 'j' has size 3 in operand 0 but size 4 in operand 1"):
        L.einsum("ij,jk->ik", gg.zeros((2, 3)), gg.zeros((4, 2)))
    with pytest.raises(ValueError, match="output index 'z' does not appear"):
        L.einsum("ij->iz", gg.zeros((2, 3)))
    with pytest.raises(TypeError, match="expected a subscripts string"):
        L.einsum(gg.zeros(2), [0])


# ================================================================ trace, diag
def test_trace_and_diag():
    check(L.trace, np.trace, rnd(3, 3))
    check(lambda t: L.trace(t, 1), lambda a: np.trace(a, 1), rnd(3, 4))
    check(lambda t: L.trace(t, -1, 2, 0), lambda a: np.trace(a, -1, 2, 0), rnd(3, 2, 4))
    for k in (0, 1, -2):
        check(lambda t: L.diag(t, k), lambda a: np.diag(a, k), rnd(3))
        check(lambda t: L.diag(t, k), lambda a: np.diag(a, k), rnd(3, 4))
    d = L.diag(T(rnd(3, 3)))
    d.data[0] = 1.0  # owns writable memory
    with pytest.raises(ValueError, match=r"diag: expected a 1-D or 2-D tensor, got shape \(2, 2, 2\)"):
        L.diag(gg.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"trace: expected a tensor with at least 2 dimensions"):
        L.trace(gg.zeros(3))


# ================================================================ norm
@pytest.mark.parametrize("shape,kw", [
    ((4,), {}), ((3, 4), {}), ((3, 4), {"ord": "fro"}), ((2, 3, 4), {}),
    ((3, 4), {"axis": 1}), ((3, 4), {"axis": -2, "keepdims": True}),
    ((2, 3, 4), {"axis": (0, 2)}), ((4,), {"ord": 1}), ((3, 4), {"ord": 1, "axis": 0}),
    ((4,), {"ord": 2}), ((4,), {"ord": np.inf}), ((3, 4), {"ord": np.inf, "axis": 1}),
], ids=str)
def test_norm(shape, kw):
    check(lambda t: L.norm(t, **kw), lambda a: np.linalg.norm(a, **kw), rnd(*shape))


def test_norm_gradient_at_zero_and_errors():
    for ord_ in (None, 1, np.inf):
        (g,) = vjp(lambda t: L.norm(t, ord_), np.zeros(3))
        np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    (g,) = vjp(lambda t: L.norm(t, axis=1), np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_allclose(g, [[0, 0], [0.6, 0.8]])
    with pytest.raises(NotImplementedError, match="norm: matrix norm ord=2 is not supported"):
        L.norm(gg.zeros((2, 2)), 2)
    with pytest.raises(NotImplementedError, match="norm: vector norm ord=3 is not supported"):
        L.norm(gg.zeros(2), 3)
    with pytest.raises(ValueError, match="norm: ord=1 needs a 1-D tensor or an explicit axis"):
        L.norm(gg.zeros((2, 2, 2)), 1)


# ================================================================ inv, det, solve
def well_conditioned(*shape):
    n = shape[-1]
    return rnd(*shape) + 3 * np.eye(n)


def test_inv_det():
    check(L.inv, np.linalg.inv, well_conditioned(3, 3))
    check(L.inv, np.linalg.inv, well_conditioned(2, 3, 3))
    check(L.det, np.linalg.det, well_conditioned(3, 3))
    check(L.det, np.linalg.det, well_conditioned(2, 2, 2))
    with pytest.raises(ValueError, match=r"inv: expected square matrices of shape \(\.\.\., n, n\), got \(2, 3\)"):
        L.inv(gg.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"det: expected square matrices"):
        L.det(gg.zeros(3))


@pytest.mark.parametrize("sa,sb", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)),
                                   ((2, 3, 3), (3,)), ((2, 3, 3), (3, 2)), ((3, 3), (4, 3, 2))],
                         ids=str)
def test_solve(sa, sb):
    check(L.solve, np.linalg.solve, well_conditioned(*sa), rnd(*sb))


def test_solve_errors():
    with pytest.raises(ValueError, match=r"solve: expected a of shape \(\.\.\., n, n\) and b of "
                                         r"shape \(n,\) or \(\.\.\., n, k\).*got \(3, 3\) and \(2,\)"):
        L.solve(gg.eye(3), gg.zeros(2))


# ================================================================ against PyTorch
def _torch_pair(a, torch):
    return T(a, grad=True), torch.tensor(a, requires_grad=True)


@pytest.mark.torch
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul_vs_torch(sa, sb):
    torch = pytest.importorskip("torch")
    (a, ta), (b, tb) = _torch_pair(rnd(*sa), torch), _torch_pair(rnd(*sb), torch)
    out, tout = L.matmul(a, b), torch.matmul(ta, tb)
    g = rnd(*tout.shape)
    out.backward(T(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("spec,shapes", EINSUM_CASES[:20], ids=lambda v: str(v))
def test_einsum_vs_torch(spec, shapes):
    torch = pytest.importorskip("torch")
    pairs = [_torch_pair(rnd(*s), torch) for s in shapes]
    out = L.einsum(spec, *[p[0] for p in pairs])
    tout = torch.einsum(spec.replace(" ", ""), *[p[1] for p in pairs])
    g = rnd(*tout.shape)
    out.backward(T(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for x, tx in pairs:
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("key", [
    (slice(None), [3, 1, 3]), ([0, 0, 2], slice(1, None)), ([[1, 1], [0, 2]],),
    (np.array([True, False, True]),), (1, slice(None, None, 2)), ([2, 2], [0, 0]),
], ids=repr)
def test_getitem_vs_torch(key):
    torch = pytest.importorskip("torch")
    x, tx = _torch_pair(rnd(3, 4), torch)
    tkey = tuple(torch.tensor(k) if isinstance(k, (list, np.ndarray)) else k for k in key)
    out, tout = S.getitem(x, key), tx[tkey]
    g = rnd(*tout.shape)
    out.backward(T(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(out.numpy(), tout.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_vs_torch(mode):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    x, tx = _torch_pair(rnd(2, 3, 4), torch)  # torch pads the last dims, listed last first
    pw = ((0, 0), (1, 2), (2, 1))
    out = S.pad(x, pw, mode=mode)
    tmode = {"edge": "replicate", "wrap": "circular"}.get(mode, mode)
    tout = F.pad(tx[None] if mode != "constant" else tx, (2, 1, 1, 2), mode=tmode)
    tout = tout[0] if mode != "constant" else tout
    g = rnd(*tout.shape)
    out.backward(T(g))
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
