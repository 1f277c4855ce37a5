"""Writes at repeated indices: ``setitem`` and ``x[key] = v`` follow NumPy (the last write in
C order wins), and the gradient for the written values follows exactly the writes that
survive; the base's gradient is zero exactly at the written positions.  Reads at repeated
indices (``getitem``), by contrast, accumulate their gradient (a scatter-add)."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import ops

rng = np.random.default_rng(7)


def T(a, grad=False, dtype=np.float64):
    return gg.tensor(np.asarray(a, dtype=dtype), requires_grad=grad)


def np_set(x, key, v):
    out = np.array(x, copy=True)
    out[key] = v
    return out


def ref_grads(x, key, v, g):
    """Exact gradients of sum(g * setitem(x, key, v)) using NumPy as the oracle: the output is
    linear in x and v with 0/1 coefficients, so a unit step per element measures it exactly."""
    base = np_set(x, key, v)
    gv = np.zeros(np.shape(v))
    for j in np.ndindex(gv.shape):
        step = np.array(v, dtype=np.float64, copy=True)
        step[j] += 1.0
        gv[j] = (g * (np_set(x, key, step) - base)).sum()
    written = np.zeros(np.shape(x), bool)
    written[key] = True
    return np.where(written, 0.0, g), gv


def F(idx):
    return np.asfortranarray(np.array(idx))


# (shape of x, key, shape of v)
CASES = [
    ((3,), [0, 0], (2,)),                                   # the issue: last write wins
    ((3,), [0, 0, 2], ()),                                   # broadcast scalar value
    ((3,), [0, 0, 2], (1,)),
    ((3,), [0, 0, 0], (3,)),
    ((3,), [0, -3], (2,)),                                   # -3 aliases 0 on length 3
    ((3,), [-3, 0, 2, -1], (4,)),
    ((3,), [[0, 0], [2, 0]], (2, 2)),                        # a 2-D index array
    ((3,), [[0, 0], [2, 0]], (2,)),                          # ...with a broadcast value
    ((3,), [0, 0], (1, 2)),                                  # value with a leading 1
    ((3,), np.array([], np.intp), (0,)),
    ((3, 2), [1, 1], (2, 2)),                                # duplicate rows
    ((3, 2), [1, 1], (2,)),                                  # one row broadcast to both
    ((3, 2), [1, 1], (2, 1)),
    ((3, 2), [1, 1], ()),
    ((3, 2), [1, -2, 0], (3, 2)),
    ((3, 3), ([0, 0], [1, 1]), (2,)),                        # multi-dimensional advanced
    ((3, 3), ([0, -3], [1, -2]), (2,)),
    ((3, 3), (np.array([[0, 1], [0, 0]]), 1), (2, 2)),
    ((3, 3), (np.array([[0, 1], [0, 0]]), 1), (2, 1)),
    ((3, 3), (F([[0, 0], [1, 0]]), 1), (2, 2)),              # a Fortran-ordered index
    ((3, 4), ([[0], [0]], [[1, 1, 2]]), (2, 3)),             # broadcast index arrays
    ((3, 4), (slice(None), [1, 1]), (3, 2)),                 # mixed slice + array
    ((3, 4), (slice(None), [1, -3]), (2,)),
    ((3, 4), (slice(1, 3), [2, 2, 0]), (1, 3)),
    ((2, 3, 4), ([0, 0], slice(None), [1, 1]), (2, 3)),      # separated: advanced dims first
    ((2, 3, 4), (0, slice(1, 3), [2, 2, 0]), (3, 2)),
    ((2, 2, 2), (Ellipsis, [0, 0]), (2, 2, 2)),
    ((3, 2), ([0, 0], np.array([False, True])), (2,)),       # boolean mask + duplicates
    ((3, 2), (np.array([True, False, True]),), (2, 2)),      # boolean mask alone
    ((3, 2), (np.array([True, False, True]),), (2,)),
    ((3, 2), np.array([[True, False], [False, True], [True, True]]), (4,)),
    ((3, 2), (1, slice(None)), (2,)),                        # basic indexing
    ((3, 2), (slice(None), 0), ()),
]
IDS = [f"{s}-{k!r}-{v}".replace("\n", "")[:60] for s, k, v in CASES]


def _data(xshape, vshape):
    return rng.standard_normal(xshape), rng.standard_normal(vshape)


def test_the_issue_cases():
    v = T([10.0, 20.0], grad=True)
    y = ops.setitem(gg.zeros(3, dtype="float64"), [0, 0], v)
    assert y.tolist() == [20.0, 0.0, 0.0]
    y.sum().backward()
    assert v.grad.tolist() == [0.0, 1.0]

    s = T(5.0, grad=True)
    y = ops.setitem(gg.zeros(3, dtype="float64"), [0, 0, 2], s)
    assert y.tolist() == [5.0, 0.0, 5.0]
    y.sum().backward()
    assert s.grad.item() == 2.0

    x = T([1.0, 2.0, 3.0], grad=True)
    s = T(5.0, grad=True)
    y = x * 1.0
    y[[0, 0, 2]] = s
    assert y.tolist() == [5.0, 2.0, 5.0]
    y.backward(T([1.0, 10.0, 100.0]))
    assert s.grad.item() == 101.0
    assert x.grad.tolist() == [0.0, 10.0, 0.0]

    x = T([1.0, 2.0, 3.0], grad=True)
    v = T([10.0, 20.0, 30.0], grad=True)
    y = x * 1.0
    y[[0, 0, 2]] = v
    assert y.tolist() == [20.0, 2.0, 30.0]
    y.backward(T([1.0, 10.0, 100.0]))
    assert v.grad.tolist() == [0.0, 1.0, 100.0]
    assert x.grad.tolist() == [0.0, 10.0, 0.0]


def test_negative_indices_alias_positive_ones():
    v = T([1.0, 2.0, 3.0], grad=True)
    y = ops.setitem(gg.zeros(3, dtype="float64"), [0, -3, 2], v)
    assert y.tolist() == [2.0, 0.0, 3.0]
    y.sum().backward()
    assert v.grad.tolist() == [0.0, 1.0, 1.0]
    v = T([1.0, 2.0], grad=True)
    y = ops.setitem(gg.zeros(3, dtype="float64"), [-1, 2], v)
    assert y.tolist() == [0.0, 0.0, 2.0]
    y.sum().backward()
    assert v.grad.tolist() == [0.0, 1.0]


def test_duplicate_rows_in_two_dimensions():
    x = T(np.zeros((3, 2)), grad=True)
    v = T([[1.0, 2.0], [3.0, 4.0]], grad=True)
    y = ops.setitem(x, [1, 1], v)
    np.testing.assert_array_equal(y.numpy(), [[0, 0], [3, 4], [0, 0]])
    y.backward(T(np.arange(6.0).reshape(3, 2)))
    np.testing.assert_array_equal(v.grad.numpy(), [[0, 0], [2, 3]])
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1], [0, 0], [4, 5]])
    v = T([[1.0], [3.0]], grad=True)                     # broadcast along the columns
    y = ops.setitem(T(np.zeros((3, 2))), [1, 1], v)
    y.backward(T(np.arange(6.0).reshape(3, 2)))
    np.testing.assert_array_equal(v.grad.numpy(), [[0], [5]])


@pytest.mark.parametrize("xshape,key,vshape", CASES, ids=IDS)
def test_forward_matches_numpy(xshape, key, vshape):
    x, v = _data(xshape, vshape)
    np.testing.assert_array_equal(ops.setitem(T(x), key, T(v)).numpy(), np_set(x, key, v))


@pytest.mark.parametrize("xshape,key,vshape", CASES, ids=IDS)
def test_gradients_follow_surviving_writes(xshape, key, vshape):
    x, v = _data(xshape, vshape)
    g = rng.standard_normal(xshape)
    tx, tv = T(x, grad=True), T(v, grad=True)
    ops.setitem(tx, key, tv).backward(T(g))
    want_gx, want_gv = ref_grads(x, key, v, g)
    np.testing.assert_allclose(tx.grad.numpy(), want_gx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tv.grad.numpy(), want_gv, rtol=0, atol=1e-12)


@pytest.mark.parametrize("xshape,key,vshape", CASES, ids=IDS)
def test_gradcheck(xshape, key, vshape):
    x, v = _data(xshape, vshape)
    assert gg.gradcheck(lambda a, b: ops.setitem(a, key, b), [x, v])


@pytest.mark.parametrize("xshape,key,vshape", CASES, ids=IDS)
def test_inplace_form(xshape, key, vshape):
    x, v = _data(xshape, vshape)
    g = rng.standard_normal(xshape)

    def f(a, b):
        y = a * 1.0
        y[key] = b
        return y

    tx, tv = T(x, grad=True), T(v, grad=True)
    y = f(tx, tv)
    np.testing.assert_array_equal(y.numpy(), np_set(x, key, v))
    y.backward(T(g))
    want_gx, want_gv = ref_grads(x, key, v, g)
    np.testing.assert_allclose(tx.grad.numpy(), want_gx, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tv.grad.numpy(), want_gv, rtol=0, atol=1e-12)
    assert gg.gradcheck(f, [x, v])


def test_inplace_write_through_a_view_with_repeats():
    x = T(np.zeros((2, 3)), grad=True)
    v = T([1.0, 2.0], grad=True)
    y = x * 1.0
    row = y[1]
    row[[2, 2]] = v                               # writes into y's memory through the view
    np.testing.assert_array_equal(y.numpy(), [[0, 0, 0], [0, 0, 2]])
    y.backward(T(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(v.grad.numpy(), [0, 5])
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 2], [3, 4, 0]])


def test_only_one_side_requires_grad():
    v = T([1.0, 2.0, 3.0], grad=True)             # the base does not require grad
    ops.setitem(gg.zeros(2, dtype="float64"), [1, 0, 1], v).sum().backward()
    assert v.grad.tolist() == [0.0, 1.0, 1.0]
    x = T([1.0, 2.0, 3.0], grad=True)             # the value is a constant
    ops.setitem(x, [2, 2], np.array([7.0, 8.0])).backward(T([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [1.0, 2.0, 0.0]
    x = T([1.0, 2.0, 3.0], grad=True)             # a Python scalar value
    y = ops.setitem(x, [0, 0], 9.0)
    assert y.tolist() == [9.0, 2.0, 3.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]


def test_value_dtype_is_kept_for_its_gradient():
    v = T([1.0, 2.0], grad=True, dtype=np.float32)
    y = ops.setitem(T(np.zeros(3)), [1, 1], v)
    assert y.dtype == np.float64 and y.tolist() == [0.0, 2.0, 0.0]
    y.sum().backward()
    assert v.grad.dtype == np.float32 and v.grad.tolist() == [0.0, 1.0]


def test_bad_value_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="shape"):
        ops.setitem(T(np.zeros(3)), [0, 0], T([1.0, 2.0, 3.0]))
    with pytest.raises(IndexError):
        ops.setitem(T(np.zeros(3)), [0, 3], T([1.0, 2.0]))


def test_reads_at_repeated_indices_accumulate():
    # the scatter-add side: every read contributes, so repeats add up
    x = T([1.0, 2.0, 3.0], grad=True)
    ops.getitem(x, [0, 0, -3, 2]).backward(T([1.0, 10.0, 100.0, 1000.0]))
    assert x.grad.tolist() == [111.0, 0.0, 1000.0]
    for key in ([0, 0, -3, 2], ([1, 1], slice(None)), (slice(None), [[0, 0], [1, 0]])):
        assert gg.gradcheck(lambda a, k=key: ops.getitem(a, k), [rng.standard_normal((3, 2))])


def test_take_along_axis_repeats_accumulate():
    idx = gg.tensor(np.array([[1, 1], [0, 0]]))
    assert gg.gradcheck(lambda a: ops.take_along_axis(a, idx, 1),
                        [rng.standard_normal((2, 2))])


def test_forward_and_gradient_agree_on_every_device(device):
    # which duplicate wins is NumPy's rule on CPU; on any backend the gradient must pick the
    # same element whose value appears in the output
    x = gg.zeros((4, 3), dtype="float64", device=device)
    v = gg.tensor(np.arange(1.0, 19.0).reshape(6, 3), device=device, requires_grad=True)
    key = gg.tensor(np.array([2, 0, 2, 2, -2, 0]), device=device)
    y = ops.setitem(x, key, v)
    y.sum().backward()
    out, gv = y.numpy(), v.grad.numpy()
    vals = np.arange(1.0, 19.0).reshape(6, 3)
    assert gv.sum() == 6 and set(np.unique(gv)) <= {0.0, 1.0}
    for col in range(3):
        winners = vals[gv[:, col] == 1, col]
        np.testing.assert_array_equal(np.sort(winners), np.sort(out[[0, 2], col]))
    if device == "cpu":
        np.testing.assert_array_equal(out, np_set(np.zeros((4, 3)), [2, 0, 2, 2, -2, 0], vals))


@pytest.mark.parametrize("shape", [(3,), (3, 2), (3, 2, 2)])
def test_third_order_through_repeated_writes(shape):
    # only rows 1 and 2 survive: loss = sum over them of v^6 (plus constants)
    x = gg.tensor(np.ones(shape), requires_grad=True)
    vv = np.arange(1.0, 1 + np.prod(shape)).reshape(shape)
    v = gg.tensor(vv, requires_grad=True)
    y = gg.setitem(x, [0, 0, 2], v ** 3)
    (gv,) = gg.autograd.grad((y * y).sum(), [v], create_graph=True)
    (hv,) = gg.autograd.grad(gv.sum(), [v], create_graph=True)
    (tv,) = gg.autograd.grad(hv.sum(), [v])
    mask = np.zeros(shape)
    mask[1:] = 1
    np.testing.assert_allclose(gv.numpy(), 6 * vv ** 5 * mask)
    np.testing.assert_allclose(hv.numpy(), 30 * vv ** 4 * mask)
    np.testing.assert_allclose(tv.numpy(), 120 * vv ** 3 * mask)
