"""gpugrad.numpy as a drop-in for NumPy: the non-graph fallback, NumPy's random streams,
scalar results, ndarray methods, and the statistics/array functions (forward against NumPy,
gradient against finite differences)."""
import io

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 5))


def leaf(v):
    return gg.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)


# ================================================================ non-graph fallback
def test_fallback_returns_numpys_answer_outside_a_graph(tmp_path):
    t = gnp.array(X)
    np.save(tmp_path / "a.npy", t)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), X)
    buf = io.StringIO()
    np.savetxt(buf, t)
    np.testing.assert_allclose(np.loadtxt(io.StringIO(buf.getvalue())), X)
    assert np.may_share_memory(t, t[1:]) is True
    counts, edges = np.histogram(t, bins=3)
    ref = np.histogram(X, bins=3)
    assert isinstance(counts, gg.Tensor) and counts.tolist() == ref[0].tolist()
    np.testing.assert_array_equal(edges.numpy(), ref[1])
    assert gnp.bincount(gnp.array([0, 2, 2])).tolist() == [1, 0, 2]
    assert gnp.interp(0.5, [0, 1], [0, 10]) == 5.0
    with gg.no_grad():  # a leaf, but nothing is being recorded
        assert np.histogram(leaf(X), bins=3)[0].tolist() == ref[0].tolist()


def test_fallback_raises_inside_a_graph():
    x = leaf(X)
    for call in (lambda: np.histogram(x), lambda: gnp.bincount(x), lambda: np.save("n", x),
                 lambda: np.frexp(x)):
        with pytest.raises(TypeError, match="recorded graph"):
            call()


def test_sklearn_standard_scaler_on_a_tensor():
    pre = pytest.importorskip("sklearn.preprocessing")
    out = pre.StandardScaler().fit_transform(gnp.array(X))
    np.testing.assert_allclose(np.asarray(out), (X - X.mean(0)) / X.std(0))


# ================================================================ random streams
@pytest.mark.parametrize("name,args,kwargs", [
    ("randn", (3, 2), {}), ("rand", (4,), {}), ("randn", (), {}), ("random", (), {}),
    ("randint", (0, 9, 5), {}), ("randint", (7,), {}), ("normal", (1.0, 2.0, 3), {}),
    ("uniform", (-1, 1, (2, 2)), {}), ("choice", (5, 3), {}), ("permutation", (6,), {}),
    ("choice", (range(3),), {"p": [0.2, 0.3, 0.5]}), ("binomial", (10, 0.3, 4), {}),
    ("standard_normal", (5,), {}), ("exponential", (2.0, 3), {}), ("poisson", (3.0, 4), {})])
def test_legacy_functions_give_numpys_stream(name, args, kwargs):
    gnp.random.seed(11)
    ours = getattr(gnp.random, name)(*args, **kwargs)
    np.random.seed(11)
    theirs = getattr(np.random, name)(*args, **kwargs)
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, gg.Tensor) and ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours.numpy(), theirs)
    else:  # NumPy's scalar, of NumPy's type
        assert type(ours) is type(theirs) and ours == theirs


def test_default_rng_and_shuffle_match_numpy():
    ours, theirs = gnp.random.default_rng(5), np.random.default_rng(5)
    for m, args in [("random", ((3,),)), ("normal", (1.0, 2.0, 3)), ("exponential", (2.0, 3)),
                    ("integers", (0, 5, 4)), ("gamma", (2.0, 3)), ("random", ())]:
        a, b = getattr(ours, m)(*args), getattr(theirs, m)(*args)
        np.testing.assert_array_equal(a.numpy() if isinstance(a, gg.Tensor) else a, b)
    gnp.random.seed(3)
    t = gnp.arange(10.0)
    gnp.random.shuffle(t)
    np.random.seed(3)
    n = np.arange(10.0)
    np.random.shuffle(n)
    assert t.tolist() == n.tolist()


def test_random_draws_stay_differentiable_in_tensor_parameters():
    loc = leaf([1.0, 2.0])
    gnp.random.normal(loc, 2.0).sum().backward()
    assert loc.grad.tolist() == [1.0, 1.0]
    pool = leaf([1.0, 2.0, 3.0])
    gnp.random.choice(pool, 5).sum().backward()
    assert pool.grad.numpy().sum() == 5.0


# ================================================================ scalar results
def test_scalar_results_work_where_numpys_do():
    ix_to_char = {0: "a", 1: "b"}
    p = gnp.array([0.5, 0.5])
    ix = gnp.random.choice(range(2), p=p.ravel())
    assert ix_to_char[ix] in "ab" and ["x", "y"][ix] in "xy"
    n = gnp.random.randint(1, 4)
    assert len(range(n)) == n and f"{gnp.random.rand():.3f}".startswith("0.")
    acc = (gnp.array([1, 2, 3]) == gnp.array([1, 0, 3])).mean()
    assert acc.dtype == np.float64 and f"{acc:.2f}" == "0.67"
    k = gnp.sum(gnp.array([True, False, True]))
    assert list(range(k)) == [0, 1] and ["a", "b", "c"][k] == "c"


# ================================================================ ndarray methods
def test_array_methods_match_numpy():
    a, t = X.copy(), gnp.array(X)
    assert t.copy().tolist() == a.copy().tolist() and t.copy().data is not t.data
    assert t.flat[7].item() == a.flat[7] and t.flat[2:5].tolist() == a.flat[2:5].tolist()
    t.flat[[1, 6]] = 0.0
    a.flat[[1, 6]] = 0.0
    assert t.tolist() == a.tolist()
    assert t.item(3) == a.item(3) and t.item(1, 2) == a.item(1, 2)
    assert [i.tolist() for i in t.nonzero()] == [i.tolist() for i in a.nonzero()]
    assert t.ravel(order="F").tolist() == a.ravel(order="F").tolist()
    assert t.astype(np.float64, copy=False) is t and gnp.arange(3).T.tolist() == [0, 1, 2]
    t.put([0, 2], [5.0, 6.0])
    a.put([0, 2], [5.0, 6.0])
    assert t.tolist() == a.tolist()
    s, b = gnp.array(X[0]), X[0].copy()
    s.partition(2)
    b.partition(2)
    assert s.tolist() == b.tolist()
    s.sort()
    b.sort()
    assert s.tolist() == b.tolist() and t.trace().item() == pytest.approx(a.trace())
    f = gnp.zeros(3)
    assert f.fill(2.0) is None and f.tolist() == [2.0] * 3


def test_flat_assignment_is_differentiable():
    x = leaf(X)
    y = x * 1.0
    y.flat[[0, 5]] = 0.0
    (y.flat[:] * 2).sum().backward()
    expect = np.full(X.shape, 2.0)
    expect.flat[[0, 5]] = 0.0
    np.testing.assert_array_equal(x.grad.numpy(), expect)


# ================================================================ functions
CASES = [
    ("nan_to_num", lambda m: m.nan_to_num(m.array([np.nan, 1.0, np.inf, -np.inf]) * 1)),
    ("cov", lambda m: m.cov(m.array(X))), ("cov_cols", lambda m: m.cov(m.array(X), rowvar=False)),
    ("corrcoef", lambda m: m.corrcoef(m.array(X[0]), m.array(X[1]))),
    ("percentile", lambda m: m.percentile(m.array(X), [10, 50, 90], axis=1)),
    ("quantile", lambda m: m.quantile(m.array(X), 0.3, keepdims=True)),
    ("quantile_nearest", lambda m: m.quantile(m.array(X), 0.3, axis=0, method="nearest")),
    ("append", lambda m: m.append(m.array(X), [1.0, 2.0])),
    ("append_axis", lambda m: m.append(m.array(X), m.array(X[:1]), axis=0)),
    ("gradient", lambda m: m.gradient(m.array(X), 0.5)[0]),
    ("gradient_2", lambda m: m.gradient(m.array(X), axis=1, edge_order=2)),
    ("rot90", lambda m: m.rot90(m.array(X))), ("rot90_3", lambda m: m.rot90(m.array(X), 3)),
    ("select", lambda m: m.select([m.array(X) < 0, m.array(X) > 1], [m.array(X), m.array(X) ** 2])),
    ("partition", lambda m: m.partition(m.array(X), 2, axis=1)),
    ("row_stack", lambda m: m.vstack([m.array(X[0]), m.array(X[1])])),
    ("r_", lambda m: m.r_[m.array(X[0]), 0.5, 1:3, m.array([9.0])]),
    ("r_axis", lambda m: m.r_["1", m.array(X), m.array(X)]),
    ("c_", lambda m: m.c_[m.array(X[0]), m.array(X[1])]),
    ("einsum_ellipsis", lambda m: m.einsum("...ij,...jk->...ik", m.array(X[None]), m.array(X.T))),
    ("einsum_trace", lambda m: m.einsum("ii", m.array(X[:4, :4]))),
    ("einsum_diag", lambda m: m.einsum("ii->i", m.array(X[:4, :4]))),
    ("einsum_interleaved", lambda m: m.einsum(m.array(X), [0, 1], m.array(X), [2, 1], [0, 2])),
    ("dot_scalar", lambda m: m.dot(2.0, m.array(X))),
    ("real_0d", lambda m: m.real(m.array(1.5))),
    ("lstsq", lambda m: m.linalg.lstsq(m.array(X.T), m.array(X[0]), rcond=None)[0]),
    ("lstsq_res", lambda m: m.linalg.lstsq(m.array(X.T), m.array(X[0]), rcond=None)[1]),
]


@pytest.mark.parametrize("name,fn", CASES, ids=[c[0] for c in CASES])
def test_function_matches_numpy(name, fn):
    ours, theirs = fn(gnp), fn(np)
    assert isinstance(ours, gg.Tensor) and ours.shape == np.shape(theirs)
    assert ours.dtype == np.asarray(theirs).dtype
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-10, atol=1e-12)


GRADS = [
    lambda x: gnp.cov(x), lambda x: gnp.corrcoef(x), lambda x: gnp.percentile(x, [20, 70], axis=0),
    lambda x: gnp.quantile(x, 0.4), lambda x: gnp.gradient(x, 2.0, edge_order=2)[1],
    lambda x: gnp.rot90(x, 1), lambda x: gnp.select([x > 0], [x ** 2], x),
    lambda x: gnp.partition(x, 1, axis=1), lambda x: gnp.append(x, x[0]),
    lambda x: gnp.einsum("...i,...i->...", x, x), lambda x: gnp.einsum("ii->i", x[:4, :4]),
    lambda x: gnp.r_[x[0], 3.0, x[1]], lambda x: gnp.c_[x[0], x[1]],
    lambda x: gnp.nan_to_num(x), lambda x: gnp.linalg.lstsq(x.T, x[0] + 1.0, rcond=None)[0],
]


@pytest.mark.parametrize("i", range(len(GRADS)))
def test_gradients_against_finite_differences(i):
    assert gg.gradcheck(GRADS[i], [X])


def test_einsum_and_lstsq_errors_and_extras():
    with pytest.raises(ValueError, match="operand"):
        gnp.einsum("ij,jk", gnp.array(X))
    x, res, rank, s = gnp.linalg.lstsq(gnp.array(X.T), gnp.array(X[0]), rcond=None)
    ref = np.linalg.lstsq(X.T, X[0], rcond=None)
    assert int(rank) == ref[2]
    np.testing.assert_allclose(s.numpy(), ref[3])
    w = gnp.linalg.eig(gnp.array([[2.0, 0.0], [0.0, 3.0]])).eigenvalues
    assert sorted(w.tolist()) == [2.0, 3.0]


def test_nditer_multi_index_readwrite_as_gradient_checks_use_it():
    x = gnp.array(X[:2, :3])
    it = gnp.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    seen = []
    while not it.finished:
        seen.append(it.multi_index)
        it[0][...] = it[0] + 1.0
        it.iternext()
    assert seen == [(i, j) for i in range(2) for j in range(3)]
    np.testing.assert_allclose(x.numpy(), X[:2, :3] + 1.0)
