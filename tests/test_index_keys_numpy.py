"""Index keys read as NumPy reads them: every component NumPy accepts (ints of any integer
type, objects with ``__index__``, slices, None, Ellipsis, booleans, ranges, lists and tuples
of ints or bools, nested lists, empty sequences, 0-d and N-d integer arrays and tensors)
gives NumPy's answer for reading and writing, on the no-graph path and in a graph, with the
gradient of the scatter/gather; every key NumPy refuses raises NumPy's exception type."""
import itertools

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


class _Idx:
    """An integer-like object that is not an int (NumPy reads it through ``__index__``)."""

    def __index__(self):
        return 1


# index components NumPy accepts along an axis of length >= 3 (or refuses, with its error)
_COMPONENTS = [
    0, -1, 2, np.int64(1), np.uint8(2), _Idx(), slice(None), slice(1, None), slice(None, None, -2),
    None, Ellipsis, True, False, np.True_,
    range(2), range(3), range(2, -1, -1), range(0), [0, 2], [2, 2, 0], [], [[]], [[0, 1]],
    [True, False, True], (0, 1), [(0, 1), (1, 2)], [np.int64(1), 0],
    np.array(1), np.array([1, 0]), np.array([True, False, True]),
    "T0", "T[1,0]", "Tmask",
    # refused by NumPy
    1.0, np.float64(1), "a", [1.0], np.array([1.0]), [slice(None)], object(), "Tfloat", 3,
    [0, [1, 2]],
]


def _tensor_key(c):
    """Components spelled as strings stand for tensors (made fresh: a key must not share)."""
    if isinstance(c, str) and c.startswith("T"):
        return {"T0": lambda: gg.tensor(1), "T[1,0]": lambda: gg.tensor([1, 0]),
                "Tmask": lambda: gg.tensor([True, False, True]),
                "Tfloat": lambda: gg.tensor([1.0])}[c]()
    return c


def _numpy_of(k):
    """NumPy's spelling of a key component: a tensor's array, and for a 0-d integer tensor
    the NumPy scalar it stands for (gpugrad.numpy returns 0-d tensors where NumPy returns
    scalars, and a key reads them as integers: tests/test_scalar_tensor_keys.py)."""
    if not isinstance(k, gg.Tensor):
        return k
    return k.data[()] if k.ndim == 0 and k.dtype.kind in "iu" else k.data


def _numpy_key(key):
    return tuple(_numpy_of(k) for k in key) if isinstance(key, tuple) else _numpy_of(key)


def _keys():
    single = [_tensor_key(c) for c in _COMPONENTS]
    pairs = [(_tensor_key(a), _tensor_key(b))
             for a, b in itertools.product(_COMPONENTS, repeat=2)]
    return single + pairs + [(Ellipsis, Ellipsis), (0, 0, 0),
                             (range(2), [True, False, True, False])]


def _numpy_outcome(f):
    try:
        return f(), None
    except (IndexError, ValueError, TypeError) as e:
        return None, type(e)


def test_getitem_and_setitem_follow_numpy_over_generated_keys():
    a = np.arange(12.0).reshape(3, 4)
    checked = refused = 0
    for key in _keys():
        nkey = _numpy_key(key)
        want, err = _numpy_outcome(lambda: a[nkey])
        for t in (gnp.array(a), gg.tensor(a, requires_grad=True) * 1.0):  # no graph / graph
            if err is not None:
                with pytest.raises(err):
                    t[key]
                refused += 1
                continue
            got = t[key]
            assert got.shape == np.shape(want) and got.dtype == np.asarray(want).dtype, key
            np.testing.assert_array_equal(got.numpy(), want, err_msg=repr(key))
            if isinstance(want, np.ndarray) and t._node is None:   # a view exactly where NumPy's is
                assert np.shares_memory(got.data, t.data) == np.shares_memory(want, a), key
            checked += 1
        # writing: a scalar, and an array of the selection's shape (last write wins on repeats)
        for value in (100.0, None):
            b = a.copy()
            v = 100.0 if value is not None else 1.0 if err is not None else \
                1000.0 + np.arange(np.size(want)).reshape(np.shape(want))
            werr = _numpy_outcome(lambda: b.__setitem__(nkey, v))[1]
            t = gnp.array(a)
            if werr is not None:
                with pytest.raises(werr):
                    t[key] = v
                assert np.array_equal(t.numpy(), a), key      # nothing half-written
                continue
            t[key] = v
            np.testing.assert_array_equal(t.numpy(), b, err_msg=repr(key))
    assert checked > 1500 and refused > 500   # the generated set covers both sides


def _ids(shape, key):
    """For each element of ``x[key]``, its flat position in ``x`` (NumPy's own indexing)."""
    return np.arange(int(np.prod(shape))).reshape(shape)[key]


@pytest.mark.parametrize("key", [
    (range(3), [1, 1, 0]), ([2, 0, 2], range(3)), range(2), (Ellipsis, range(3, 0, -1)),
    ([True, False, True], range(2)), ([[0, 1]], slice(1, None)), (np.array(1), [0, 0]),
    ("T0", "T[1,0]"), ((0, 1), 2), ([(0, 1), (1, 1)], None), (np.uint8(2), _Idx()),
])
def test_gradients_through_getitem_and_setitem_with_numpy_keys(key):
    key = tuple(_tensor_key(k) for k in key) if isinstance(key, tuple) else key
    nkey = _numpy_key(key)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    ids = _ids(a.shape, nkey)
    # getitem: the gradient scatter-adds (repeated positions accumulate)
    x = gg.tensor(a, requires_grad=True)
    w = rng.standard_normal(np.shape(ids))
    (x[key] * gg.tensor(w)).sum().backward()
    want = np.zeros(a.size)
    np.add.at(want, np.ravel(ids), np.ravel(w))
    np.testing.assert_allclose(x.grad.numpy(), want.reshape(a.shape))
    # setitem: the base's gradient is zero where written; the value's goes to surviving writes
    x = gg.tensor(a, requires_grad=True)
    v = gg.tensor(rng.standard_normal(np.shape(ids)), requires_grad=True)
    y = x * 1.0
    y[key] = v
    g = rng.standard_normal(a.shape)
    (y * gg.tensor(g)).sum().backward()
    pos = np.full(a.size, -1)
    pos[np.ravel(ids)] = np.arange(np.size(ids))      # NumPy's last write wins
    gv = np.zeros(np.size(ids))
    np.add.at(gv, pos[pos >= 0], g.ravel()[pos >= 0])
    np.testing.assert_allclose(x.grad.numpy(), np.where(pos >= 0, 0.0, g.ravel()).reshape(a.shape))
    np.testing.assert_allclose(v.grad.numpy(), gv.reshape(np.shape(ids)))


def test_range_keys_in_the_cs231n_idioms():
    scores = gg.tensor(np.arange(12.0).reshape(3, 4) / 7, requires_grad=True)
    y = gnp.array([3, 0, 1])
    probs = gnp.exp(scores)
    probs = probs / probs.sum(axis=1, keepdims=True)
    loss = -gnp.log(probs[range(3), y]).mean()
    loss.backward()
    p = np.exp(scores.numpy()); p /= p.sum(1, keepdims=True)
    dp = p.copy(); dp[range(3), y.numpy()] -= 1
    np.testing.assert_allclose(scores.grad.numpy(), dp / 3, rtol=1e-12)
    d = gnp.array(p)
    d[range(3), y] -= 1                     # the in-place write, no graph
    np.testing.assert_array_equal(d.numpy(), dp)


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.1.0",
                    reason="NumPy 2.0's .flat refuses a range (2.1 reads it as an array)")
def test_flat_take_and_put_take_ranges_as_numpy():
    a = np.arange(10.0)
    t = gnp.array(a)
    np.testing.assert_array_equal(t.flat[range(2, 5)].numpy(), a.flat[range(2, 5)])
    np.testing.assert_array_equal(gnp.take(t, range(3)).numpy(), np.take(a, range(3)))
    t.flat[range(2)] = 7.0
    b = a.copy(); b.flat[range(2)] = 7.0
    np.testing.assert_array_equal(t.numpy(), b)
    gnp.put(t, range(3, 5), [1.0, 2.0]); np.put(b, range(3, 5), [1.0, 2.0])
    np.testing.assert_array_equal(t.numpy(), b)


def test_a_range_key_replays_in_a_compiled_step():
    def f(x, y):
        return (x[range(3), y] * 2.0).sum()

    fc = gg.compile(f)
    for seed in range(3):
        a = np.random.default_rng(seed).standard_normal((3, 4))
        y = gg.tensor(np.array([seed % 4, 1, 3]))
        np.testing.assert_allclose(fc(gg.tensor(a), y).item(), f(gg.tensor(a), y).item())


def test_a_view_written_into_its_own_base_keeps_versions_and_graph_rules():
    a = gnp.arange(6.0)
    ver = a._vc[0]
    a[1:-1] = a[2:]                                   # the stencil write: NumPy's own
    assert a.tolist() == [0.0, 2.0, 3.0, 4.0, 5.0, 5.0] and a._vc[0] == ver + 1
    # a value that is a view of a tensor in the graph still records the write
    x = gg.tensor(np.arange(6.0), requires_grad=True)
    y = x * 1.0
    y[1:-1] = y[2:] * 1.0
    z = gnp.zeros(6)
    w = y[1:3]                                        # (y requires grad: w is in the graph)
    z[0:2] = w
    (z.sum() + y.sum()).backward()
    # y = [x0, x2, x3, x4, x5, x5]; z = [x2, x3, 0, ...]
    assert x.grad.tolist() == [1.0, 0.0, 2.0, 2.0, 1.0, 2.0]


# keys of a 3-d array that mix integer arrays with boolean masks (1-d and 2-d) around an
# Ellipsis and None: the masks must be checked against, and expanded on, NumPy's axes
_MASK_PARTS = [
    [0], [1, 0], np.array([[1], [0]]), 1, slice(None), None,
    np.array([True, False]), np.array([True, False, True]), np.array([True, False, True, True]),
    np.array([[True, False, True], [False, True, True]]),
    np.array([[True, False, True, True], [False, True, False, True], [True, True, False, False]]),
]


def _mask_keys():
    keys = []
    for n in (2, 3):
        for parts in itertools.product(range(len(_MASK_PARTS)), repeat=n):
            for at in range(n + 1):                  # where the Ellipsis goes (n: nowhere)
                key = [_MASK_PARTS[i] for i in parts]
                if at < n:
                    key.insert(at, Ellipsis)
                if any(getattr(k, "dtype", None) == bool for k in key):
                    keys.append(tuple(key))
    return keys


def test_masks_with_integer_arrays_around_an_ellipsis_follow_numpy():
    a = np.arange(24.0).reshape(2, 3, 4)
    checked = refused = 0
    for key in _mask_keys():
        want, err = _numpy_outcome(lambda: a[key])
        b = a.copy()
        werr = _numpy_outcome(lambda: b.__setitem__(key, -1.0))[1]
        assert werr == err, key
        for t in (gnp.array(a), gg.tensor(a, requires_grad=True) * 1.0):
            if err is not None:
                with pytest.raises(err):
                    t[key]
                refused += 1
                continue
            got = t[key]
            assert got.shape == want.shape, key
            np.testing.assert_array_equal(got.numpy(), want, err_msg=repr(key))
            checked += 1
        t = gnp.array(a)
        if err is not None:
            with pytest.raises(err):
                t[key] = -1.0
            assert np.array_equal(t.numpy(), a), key          # nothing half-written
            continue
        t[key] = -1.0
        np.testing.assert_array_equal(t.numpy(), b, err_msg=repr(key))
    assert checked > 400 and refused > 400


@pytest.mark.parametrize("key", [
    ([0], Ellipsis, np.array([True, False, True, True])),
    ([1, 0], None, Ellipsis, np.array([True, False, False, True])),
    (np.array([True, False]), Ellipsis, [2, 0]),
    ([0], Ellipsis, None, np.array([[True, False, True, True], [False, True, False, True],
                                    [True, True, False, False]])),
    (Ellipsis, np.array([[True, False, True], [False, True, True]]), [3, 3, 1, 0]),
])
def test_gradients_through_masks_around_an_ellipsis(key):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4))
    ids = _ids(a.shape, key)
    x = gg.tensor(a, requires_grad=True)
    w = rng.standard_normal(ids.shape)
    (x[key] * gg.tensor(w)).sum().backward()
    want = np.zeros(a.size)
    np.add.at(want, ids.ravel(), w.ravel())
    np.testing.assert_allclose(x.grad.numpy(), want.reshape(a.shape))
    x = gg.tensor(a, requires_grad=True)
    v = gg.tensor(rng.standard_normal(ids.shape), requires_grad=True)
    y = x * 1.0
    y[key] = v
    (y * 2.0).sum().backward()
    written = np.zeros(a.size, bool)
    written[ids.ravel()] = True
    np.testing.assert_allclose(x.grad.numpy(), np.where(written, 0.0, 2.0).reshape(a.shape))
    pos = np.full(a.size, -1)
    pos[ids.ravel()] = np.arange(ids.size)                # NumPy's last write wins
    gv = np.zeros(ids.size)
    gv[pos[pos >= 0]] = 2.0
    np.testing.assert_allclose(v.grad.numpy(), gv.reshape(ids.shape))


def test_foreign_array_keys_with_index_are_read_as_numpy_reads_them():
    torch = pytest.importorskip("torch")
    a = np.arange(12.0).reshape(3, 4)
    for key in (torch.tensor([0, 2]), torch.tensor([2]), torch.tensor(1), torch.tensor(True),
                (slice(None), torch.tensor([0, 3])), torch.tensor([True, False, True]),
                torch.tensor([[0, 1]]), torch.tensor([1.0, 2.0]), torch.tensor(1.0)):
        want, err = _numpy_outcome(lambda: a[key])
        if err is not None:
            with pytest.raises(err):
                gnp.array(a)[key]
            continue
        np.testing.assert_array_equal(gnp.array(a)[key].numpy(), want, err_msg=repr(key))
        b, t = a.copy(), gnp.array(a)
        b[key] = -1.0
        t[key] = -1.0
        np.testing.assert_array_equal(t.numpy(), b, err_msg=repr(key))
