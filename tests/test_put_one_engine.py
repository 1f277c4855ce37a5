"""``Tensor.put`` and ``gpugrad.numpy.put`` are one engine op (:func:`gpugrad.ops.put`): both
doors give NumPy's answer or NumPy's exception type for the same call (modes, index and value
conversion, empty and 0-d arrays), the gradient reaches only the write that stands at a repeated
index, and a tensor index computed in a :func:`gpugrad.compile` step is followed by each replay
in every mode.  ``t.flat[k] = values`` shares the value conversion (NumPy's OverflowError and
TypeError, never a silently wrapped integer)."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from conftest import DEVICES

# (destination, indices, values, mode) -- each a call NumPy's put answers or refuses
CALLS = {
    "wrap": (np.zeros(4), [5, -6], [1.0, 2.0], "wrap"),
    "clip": (np.zeros(4), [40, -3], [1.0, 2.0], "clip"),
    "repeats-last-wins": (np.zeros(4), [1, 1, 2], [1.0, 2.0, 3.0], "raise"),
    "short-values": (np.zeros(5), [0, 1, 2, 4], [7.0, 8.0], "raise"),
    "long-values": (np.zeros(5), [3, 0], [7.0, 8.0, 9.0], "raise"),
    "empty-values": (np.zeros(4), [1], [], "raise"),
    "empty-values-oob": (np.zeros(4), [10], [], "raise"),
    "float-list-index": (np.zeros(4), [1.5, 2.0], [3.0], "raise"),
    "bool-list-index": (np.zeros(3), [True, False], [5.0], "raise"),
    "bool-array-index": (np.zeros(3), np.array([True, False]), [5.0, 6.0], "raise"),
    "float-array-index": (np.zeros(3), np.array([1.0]), [5.0], "raise"),
    "uint64-array-index": (np.zeros(3), np.array([1], np.uint64), [5.0], "raise"),
    "uint32-array-index": (np.zeros(3), np.array([1], np.uint32), [5.0], "raise"),
    "scalar-index": (np.zeros(3), 2, 5.0, "raise"),
    "2d-index": (np.zeros(6), [[0, 1], [2, 3]], [1.0, 2.0, 3.0], "raise"),
    "2d-dest": (np.zeros((2, 3)), [5, -6, 2], [1.0, 2.0], "raise"),
    "0d-dest": (np.array(1.0), [0, -1], [5.0, 6.0], "raise"),
    "0d-dest-wrap": (np.array(1.0), [3, 7], [5.0, 6.0], "wrap"),
    "empty-dest": (np.zeros(0), [1], [1.0], "clip"),
    "empty-dest-empty-index": (np.zeros(0), [], [1.0], "raise"),
    "out-of-bounds": (np.arange(4.0), [0, 5], [9.0, 9.0], "raise"),
    "negative-out-of-bounds": (np.arange(4.0), [-5], [9.0], "raise"),
    "int8-overflow": (np.zeros(3, np.int8), [0], [300], "raise"),
    "int8-overflow-number": (np.zeros(3, np.int8), [0, 1], 300, "raise"),
    "complex-into-float": (np.zeros(3), [0], [1 + 2j], "raise"),
    "float-into-int": (np.zeros(3, np.int64), [0, 2], [2.7, -1.5], "raise"),
    "float64-into-float32": (np.zeros(3, np.float32), [1], np.array([1 / 3]), "raise"),
    "bad-mode": (np.zeros(3), [0], [1.0], "foo"),
    "mode-0-clip": (np.zeros(3), [5, -1], [1.0, 2.0], 0),
    "mode-1-wrap": (np.zeros(3), [5, -1], [1.0, 2.0], 1),
    "mode-None-raise": (np.zeros(3), [5], [1.0], None),
    "numpy-int-into-int8": (np.zeros(3, np.int8), [0], np.int64(300), "raise"),
    "numpy-float-into-int": (np.zeros(3, np.int64), [1], np.float64(2.7), "raise"),
    "string-value": (np.zeros(3), [1], ["2.5"], "raise"),
    "none-index": (np.zeros(3), None, [1.0], "raise"),
}


def _numpy(dest, ind, vals, mode):
    a = dest.copy()
    try:
        np.put(a, ind, vals, mode=mode)
    except Exception as e:  # noqa: BLE001 -- the exception type is the answer compared
        return type(e), dest
    return None, a


def _ours(door, dest, ind, vals, mode):
    t = gg.tensor(dest.copy(), dtype=dest.dtype)
    ind = gg.tensor(ind) if isinstance(ind, np.ndarray) else ind
    vals = gg.tensor(vals) if isinstance(vals, np.ndarray) else vals
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            t.put(ind, vals, mode=mode) if door == "method" else gnp.put(t, ind, vals, mode=mode)
    except Exception as e:  # noqa: BLE001
        return type(e), t.numpy()
    return None, t.numpy()


@pytest.mark.parametrize("door", ["method", "function"])
@pytest.mark.parametrize("case", list(CALLS))
def test_put_gives_numpys_answer_through_both_doors(door, case):
    dest, ind, vals, mode = CALLS[case]
    err, want = _numpy(dest, ind, vals, mode)
    got_err, got = _ours(door, dest, ind, vals, mode)
    assert got_err is err
    if err is None:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    else:   # a refused put leaves the tensor as it was (NumPy may have written a prefix)
        np.testing.assert_array_equal(got, dest)


@pytest.mark.parametrize("door", ["method", "function"])
@pytest.mark.parametrize("ind, nvals, mode", [([1, 1, 2], 3, "raise"), ([3, 0, -4, 0], 2, "raise"),
                                              ([9, 1, 5], 3, "wrap"), ([-2, 0, 7, 3], 4, "clip")])
def test_put_gradient_reaches_only_the_write_that_stands(door, ind, nvals, mode):
    # NumPy's put: at a repeated position the last write stands; values repeat cyclically
    n = 4
    ids = np.full(n, -1)
    np.put(ids, ind, np.arange(len(ind)), mode=mode)  # which write stands at each position
    up = np.array([1.0, 10.0, 100.0, 1000.0])
    want = np.zeros(nvals)
    for pos, j in enumerate(ids):
        if j >= 0:
            want[j % nvals] += up[pos]
    w = gg.tensor(np.arange(1.0, nvals + 1), dtype="float64", requires_grad=True)
    x = gg.tensor(np.full(n, 0.5), dtype="float64", requires_grad=True)
    y = x * 1.0
    y.put(ind, w, mode=mode) if door == "method" else gnp.put(y, ind, w, mode=mode)
    (y * gg.tensor(up, dtype="float64")).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), want)
    np.testing.assert_array_equal(x.grad.numpy(), np.where(ids >= 0, 0.0, up))
    ref = np.full(n, 0.5)
    np.put(ref, ind, np.arange(1.0, nvals + 1), mode=mode)
    np.testing.assert_array_equal(y.detach().numpy(), ref)


XS = [np.array([0., 1, 5, 2, 3, 4]), np.array([9., 1, 0, 2, 3, 4]), np.array([0., 1, 0, 2, 3, 8])]


@pytest.mark.parametrize("door", ["method", "function"])
@pytest.mark.parametrize("mode, shift", [("raise", 0), ("raise", -6), ("wrap", 4), ("clip", 3)])
def test_put_with_a_tensor_index_follows_each_replay(door, mode, shift):
    def f(x, m):
        y = x.reshape(2, 3) * 1
        k = m.argsort(x)[:3] + shift
        if door == "method":
            y.put(k, -x[:2], mode=mode)
        else:
            m.put(y, k, -x[:2], mode=mode)
        return y

    step = gg.compile(lambda x: f(x, gnp))
    for v in XS:
        want = f(v.copy(), np)
        np.testing.assert_array_equal(np.asarray(step(gnp.array(v))), want)


def test_put_tensor_index_in_a_replay_raises_when_out_of_bounds():
    def f(x):
        y = x * 1
        y.put(gnp.argmax(x) + 3, 1.0)
        return y

    step = gg.compile(f)
    np.testing.assert_array_equal(np.asarray(step(gnp.array([5.0, 0, 0, 0, 0]))),
                                  [5.0, 0, 0, 1, 0])
    with pytest.raises(IndexError):
        step(gnp.array([0.0, 0, 0, 0, 5]))


@pytest.mark.parametrize("dtype, vals", [(np.int8, 300), (np.int8, [300]), (np.int8, [300, 1]),
                                         (np.float64, [1 + 2j]), (np.float64, 1 + 2j),
                                         (np.int64, [2.7, -1.5])])
def test_flat_assignment_converts_values_as_numpy(dtype, vals):
    a, t = np.zeros(3, dtype), gg.tensor(np.zeros(3, dtype), dtype=dtype)
    try:
        a.flat[[0, 1]] = vals
    except Exception as e:  # noqa: BLE001
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(type(e)):
                t.flat[[0, 1]] = vals
        np.testing.assert_array_equal(t.numpy(), np.zeros(3, dtype))
        return
    t.flat[[0, 1]] = vals
    np.testing.assert_array_equal(t.numpy(), a)


@pytest.mark.parametrize("write", [lambda y, v: y.put([0, 2, 2], v), lambda y, v: gnp.put(y, [0, 2, 2], v),
                                   lambda y, v: y.flat.__setitem__([0, 2, 2], v)],
                         ids=["method", "function", "flat"])
def test_values_listing_tensors_keep_their_gradient(write):
    w = gg.tensor(2.0, dtype="float64", requires_grad=True)
    u = gg.tensor(5.0, dtype="float64", requires_grad=True)
    y = gg.zeros(3, dtype="float64") * 1
    write(y, [w, 3.0, u])   # position 2 is written twice: u's write stands
    (y * gg.tensor([1.0, 2.0, 3.0], dtype="float64")).sum().backward()
    assert y.tolist() == [2.0, 0.0, 5.0]
    assert (w.grad.item(), u.grad.item()) == (1.0, 3.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("door", ["method", "function"])
@pytest.mark.parametrize("case", ["wrap", "clip", "repeats-last-wins", "short-values", "2d-dest",
                                  "0d-dest", "int8-overflow", "bool-array-index"])
def test_put_on_each_device(device, door, case):
    dest, ind, vals, mode = CALLS[case]
    err, want = _numpy(dest, ind, vals, mode)
    t = gg.tensor(dest.copy(), dtype=dest.dtype, device=device)
    if isinstance(ind, np.ndarray):
        ind = gg.tensor(ind, device=device)
    call = (lambda: t.put(ind, vals, mode=mode)) if door == "method" else \
        (lambda: gnp.put(t, ind, vals, mode=mode))
    if err is not None:
        with pytest.raises(err):
            call()
        return
    call()
    assert t.device.type == device
    np.testing.assert_array_equal(t.cpu().numpy(), want)
