"""In-place writes into views of constants (``W[i] -= lr * g``, ``row = W[i]; row += g``)
take NumPy's own write when nothing is in a graph: the same values, versions, write log and
errors as the op path; any tensor up the chain that requires grad or has a node takes the op
path (a view of a leaf that requires grad is refused)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import autograd
from gpugrad.write_log import _byte_bounds, _bounds


def _leaf_view_made_under_no_grad():
    """``r``, a view made under no_grad of ``p``, a view of a constant that was made a leaf
    requiring grad afterwards: a write into ``r`` in grad mode is a write into that leaf."""
    W = gnp.zeros((3, 4))
    p = W[1:]
    p.requires_grad_()
    with gg.no_grad():
        r = p[0]
    return W, r


@pytest.mark.parametrize("write", [
    lambda r: r.__setitem__(0, 1.0), lambda r: r.__setitem__(slice(None), 1.0),
    lambda r: r.__iadd__(1.0), lambda r: r.__isub__(gnp.ones(4)), lambda r: r.add_(1.0),
    lambda r: r.__imul__(2.0), lambda r: r.__itruediv__(2.0)])
def test_a_write_into_a_view_of_a_leaf_that_requires_grad_is_refused(write):
    W, r = _leaf_view_made_under_no_grad()
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        write(r)
    assert W.numpy().tolist() == np.zeros((3, 4)).tolist()   # nothing written


@pytest.mark.parametrize("op", ["__iadd__", "__isub__", "__imul__", "__itruediv__"])
@pytest.mark.parametrize("other", ["tensor", "number", "view"])
def test_an_inplace_operator_on_a_view_of_a_constant_is_numpys(op, other):
    rng = np.random.default_rng(0)
    ref = rng.random((5, 4)) + 0.5
    W = gnp.asarray(ref.copy())
    o = {"tensor": gnp.asarray(rng.random(4) + 0.5), "number": 1.5, "view": W[4]}[other]
    on = o.numpy().copy() if other != "number" else o
    before = W._vc[0]
    r = W[2]
    getattr(r, op)(o)
    getattr(ref[2], op)(on)
    np.testing.assert_array_equal(W.numpy(), ref)
    assert r._vc is W._vc and W._vc[0] == before + 1
    lo, hi = _byte_bounds(W.data[2])
    assert W._vc[-1] == (before + 1, lo, hi)       # logged, as the op path logs it
    assert r._node is None and not r.requires_grad and not W.requires_grad


def test_row_update_idiom_matches_numpy_and_keeps_graphs_right():
    rng = np.random.default_rng(1)
    Wn = rng.random((6, 3))
    W = gnp.asarray(Wn.copy())
    for i, g in [(1, rng.random(3)), (4, rng.random(3)), (1, rng.random(3))]:
        W[i] -= 0.1 * gnp.asarray(g)
        Wn[i] -= 0.1 * g
    np.testing.assert_array_equal(W.numpy(), Wn)
    # a graph that read a row: a write through a view into another row, or into that row,
    # leaves its gradient the row's value when it was read
    for k in (3, 0):
        x = gg.tensor(np.ones(3), requires_grad=True)
        old = W.numpy()[0].copy()
        y = (W[0] * x).sum()
        row = W[k]
        row += 1.0
        y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), old)


def test_a_non_contiguous_or_strided_view_takes_the_op_path_with_the_same_answer(monkeypatch):
    calls = []
    real = type(gg.zeros(1))._inplace
    monkeypatch.setattr(type(gg.zeros(1)), "_inplace",
                        lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    ref = np.arange(12.0).reshape(3, 4)
    W = gnp.asarray(ref.copy())
    col = W[:, 1]
    col += 1.0
    ref[:, 1] += 1.0
    np.testing.assert_array_equal(W.numpy(), ref)
    assert calls == [1]


def test_a_view_that_joined_the_graph_records_the_write():
    W = gnp.zeros(3)
    r = W[1:]
    w = gg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    W[...] = w                  # W joins the graph, and r with it
    r *= 2.0
    W.sum().backward()
    assert w.grad.tolist() == [1.0, 2.0, 2.0]


def test_anomaly_detection_takes_the_op_path():
    W = gnp.ones((2, 2))
    r = W[0]
    with autograd.detect_anomaly():
        r += 1.0
    assert W.numpy().tolist() == [[2.0, 2.0], [1.0, 1.0]]


@pytest.mark.parametrize("make", [
    lambda b: b, lambda b: b[1], lambda b: b[:, 1], lambda b: b.T, lambda b: b[::-1],
    lambda b: b[1:1], lambda b: b[0, 0:1]])
def test_fast_byte_bounds_are_numpys(make):
    a = make(np.zeros((3, 4)))
    assert _bounds(a) == _byte_bounds(a)
    ro = a.view()
    ro.flags.writeable = False
    assert _bounds(ro) == _byte_bounds(ro)


def test_a_views_root_known_when_made_is_the_one_view_root_finds():
    from gpugrad.view_links import _view_root

    W = gnp.zeros((4, 5))
    views = []
    t = W
    for i, no_grad in enumerate([False, True, False, True, True, False]):
        with gg.set_grad_enabled(not no_grad):
            t = t[1:] if i % 2 else t.reshape(-1)[1:].reshape(-1) if t.ndim > 1 else t[::1]
        W.data[...] += 1              # a write between makes versions differ
        W._vc[0] += 1
        views.append(t)
    for v in views:
        link = v._view
        known = link._chain
        assert known is not None
        chain = [link]
        while chain[-1].parents[0]._view is not None:
            chain.append(chain[-1].parents[0]._view)
        for c in chain:
            c._chain = None           # as if never asked: _view_root walks the links
        assert _view_root(link) == known
