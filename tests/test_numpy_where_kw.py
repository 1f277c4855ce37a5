"""NumPy's ``where=`` on gpugrad.numpy's ufuncs and reductions: NumPy's bits outside a
graph, NumPy's values inside one, and gradients that reach only the selected elements."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))
B = np.where(RNG.random(4) < 0.4, 0.0, RNG.standard_normal(4))
B[0] = 0.0


def _fd(f, x0, h=1e-6):
    """(analytic, central finite difference) of ``sum(f(x) * w)`` along a random direction."""
    rng = np.random.default_rng(3)
    u = rng.standard_normal(x0.shape)
    out = f(gg.tensor(x0)).numpy()
    w = rng.standard_normal(out.shape)

    def value(x):
        with gg.no_grad():
            return float(np.sum(f(gg.tensor(x)).numpy() * w))
    t = gg.tensor(x0, requires_grad=True)
    gnp.sum(f(t) * gnp.asarray(w)).backward()
    return float(np.vdot(t.grad.numpy(), u)), (value(x0 + h * u) - value(x0 - h * u)) / (2 * h)


def test_safe_division_idiom_matches_numpy_bits():
    ref = np.divide(A, B, out=np.zeros_like(A), where=B != 0)
    got = gnp.divide(gnp.asarray(A), gnp.asarray(B), out=gnp.zeros_like(gnp.asarray(A)),
                     where=gnp.asarray(B) != 0)
    np.testing.assert_array_equal(got.numpy(), ref)
    o = np.full_like(B, -np.inf)  # an ndarray out is written in place, as NumPy
    assert gnp.log(gnp.asarray(np.abs(B)), out=o, where=B > 0) is o
    np.testing.assert_array_equal(o, np.log(np.abs(B), out=np.full_like(B, -np.inf), where=B > 0))


@pytest.mark.parametrize("name", ["sqrt", "log", "exp", "tanh", "negative", "arcsin"])
def test_unary_where_without_out_gives_zeros_elsewhere(name):
    x = np.abs(A) / 3
    m = A > 0
    got = getattr(gnp, name)(gnp.asarray(x), where=m).numpy()
    np.testing.assert_array_equal(got[m], getattr(np, name)(x)[m])
    assert np.all(got[~m] == 0)
    g = getattr(gnp, name)(gg.tensor(x, requires_grad=True), where=m)  # the graph path
    np.testing.assert_allclose(g.detach().numpy(), got, rtol=1e-15)


def test_binary_where_with_out_gradient_goes_to_operands_or_out():
    m = B != 0
    a, b = gg.tensor(A, requires_grad=True), gg.tensor(B, requires_grad=True)
    old = gg.tensor(np.full(A.shape, 5.0), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is divided by the zeros outside the mask
        r = gnp.divide(a, b, out=old * 1.0, where=m)
        w = RNG.standard_normal(A.shape)
        gnp.sum(r * gnp.asarray(w)).backward()
    mm = np.broadcast_to(m, A.shape)
    np.testing.assert_allclose(r.detach().numpy(), np.where(mm, A / np.where(m, B, 1), 5.0))
    np.testing.assert_allclose(a.grad.numpy(), np.where(mm, w / np.where(m, B, 1), 0.0))
    np.testing.assert_allclose(old.grad.numpy(), np.where(mm, 0.0, w))
    assert np.all(np.isfinite(b.grad.numpy())) and np.all(b.grad.numpy()[~m] == 0)
    an, fd = _fd(lambda t: gnp.divide(gnp.asarray(A), t, out=gnp.ones(A.shape), where=m), B + 2.0)
    assert abs(an - fd) <= 1e-6 * max(1.0, abs(fd))


def test_where_mask_broadcasts_and_scalars():
    got = gnp.add(gnp.asarray([1.0, 2.0]), 1.0, where=np.array([[True], [False]]))
    assert got.shape == (2, 2) and got.tolist() == [[2.0, 3.0], [0.0, 0.0]]
    assert gnp.true_divide(gnp.asarray(A), 2.0, where=True).tolist() == (A / 2).tolist()
    with pytest.raises(TypeError, match="bool"):
        gnp.add(gnp.asarray([1.0]), 1.0, where=np.array([0.5]))
    with pytest.raises(TypeError, match="cannot carry a gradient"):
        gnp.exp(gg.tensor(A, requires_grad=True), out=np.zeros_like(A), where=A > 0)


REDUCTIONS = [("sum", {}), ("prod", {}), ("mean", {}), ("var", {"ddof": 1}), ("std", {}),
              ("max", {"initial": -4.0}), ("min", {"initial": 4.0}), ("nansum", {}),
              ("nanmean", {})]


@pytest.mark.parametrize("name,kw", REDUCTIONS)
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_reductions_with_where_values_bits_and_gradients(name, kw, axis):
    m = np.array([[1, 1, 0, 1], [1, 0, 1, 1], [0, 1, 1, 1]], bool)  # >= 2 per row and column
    ref = getattr(np, name)(A, axis=axis, where=m, **kw)
    np.testing.assert_array_equal(getattr(gnp, name)(gnp.asarray(A), axis=axis, where=m, **kw)
                                  .numpy(), ref)  # plain: NumPy's own, same bits
    t = gg.tensor(A, requires_grad=True)
    r = getattr(gnp, name)(t, axis=axis, where=m, **kw)
    np.testing.assert_allclose(r.detach().numpy(), ref, rtol=1e-12)
    gnp.sum(r).backward()
    assert np.all(t.grad.numpy()[~np.broadcast_to(m, A.shape)] == 0)
    an, fd = _fd(lambda x: getattr(gnp, name)(x, axis=axis, where=m, **kw), A)
    assert abs(an - fd) <= 1e-5 * max(1.0, abs(fd)), (an, fd)


def test_empty_selection_and_max_needs_initial():
    m = np.zeros(A.shape, bool)
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        r = gnp.mean(gg.tensor(A, requires_grad=True), where=m)
    assert np.isnan(r.item())
    with pytest.warns(RuntimeWarning):
        assert np.isnan(gnp.mean(gnp.asarray(A), where=m).item())
    with pytest.raises(ValueError, match="initial"):
        gnp.max(gg.tensor(A, requires_grad=True), where=A > 0)
    with pytest.raises(ValueError, match="initial"):
        gnp.max(gnp.asarray(A), where=A > 0)
    assert gnp.sum(gnp.asarray(A), where=m).item() == 0.0


def test_logical_and_ufunc_reduce_where():
    m = A > 0
    assert gnp.all(gnp.asarray(A > -1), where=m).item() == np.all(A > -1, where=m)
    assert gnp.any(gnp.asarray(A > 1), axis=0, where=m).tolist() == \
        np.any(A > 1, axis=0, where=m).tolist()
    t = gg.tensor(A, requires_grad=True)
    r = gnp.add.reduce(t, axis=1, where=m)
    np.testing.assert_allclose(r.detach().numpy(), np.add.reduce(A, axis=1, where=m))
    r.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), m.astype(float))
