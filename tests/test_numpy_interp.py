"""gnp.interp in a graph: NumPy's own value (the same bits as np.interp, also for infinite
values, NaN points, one knot and unsorted knots) and the gradient of the formula NumPy
evaluates, against central finite differences in float64."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

INF, NAN = np.inf, np.nan
RNG = np.random.default_rng(3)
XP = np.sort(RNG.uniform(0.0, 5.0, 7))


def _req(a):
    return gg.tensor(np.asarray(a, float), dtype="float64", requires_grad=True)


def _same_bits(got, want):
    got = got.detach().numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want)
    assert np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes(), (got, want)


VALUE_CASES = {
    "inf inf 0": ([0.5, 1.5], [0.0, 1.0, 2.0], [INF, INF, 0.0], {}),
    "-inf 0 1": ([0.5, 1.5], [0.0, 1.0, 2.0], [-INF, 0.0, 1.0], {}),
    "inf at the right": ([0.25, 0.5, 1.5], [0.0, 1.0, 2.0], [0.0, 1.0, INF], {}),
    "one knot, NaN x": ([NAN, 0.0, 1.0, 2.0], [1.0], [3.0], {}),
    "one knot, left/right": ([0.0, 1.0, 2.0], [1.0], [3.0], {"left": -1.0, "right": 7.0}),
    "unsorted 4": ([1.0, 1.5], [0.0, 2.0, 1.0, 3.0], [0.0, 1.0, 2.0, 3.0], {}),
    "unsorted 9": (RNG.uniform(-1, 10, 40), RNG.permutation(9).astype(float),
                   RNG.standard_normal(9), {}),
    "NaN and inf x": ([NAN, -INF, INF, 0.5, NAN, 2.0], [0.0, 1.0, 2.0], [1.0, 3.0, -2.0], {}),
    "ties in xp": ([0.5, 1.0, 1.5, 2.0], [0.0, 1.0, 1.0, 2.0], [0.0, 1.0, 5.0, 2.0], {}),
    "knots": (XP, XP, RNG.standard_normal(7), {}),
    "left/right": ([-1.0, 0.3, 9.0], XP, RNG.standard_normal(7), {"left": -3.0, "right": 4.0}),
    "period": (RNG.uniform(-20, 20, 30), XP, RNG.standard_normal(7), {"period": 4.0}),
    "period negative": (RNG.uniform(-20, 20, 30), XP, RNG.standard_normal(7), {"period": -3.5}),
    "random": (RNG.uniform(-1, 6, 200), XP, RNG.standard_normal(7), {}),
    "many knots": (RNG.uniform(-1, 101, 300), np.sort(RNG.uniform(0, 100, 50)),
                   RNG.standard_normal(50), {}),
    "scalar x": (2.5, XP, RNG.standard_normal(7), {}),
    "2-D x": (RNG.uniform(0, 5, (3, 4)), XP, RNG.standard_normal(7), {}),
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
@pytest.mark.parametrize("which", ["fp", "x", "xp"])
def test_graph_value_is_numpys_bits(name, which):
    x, xp, fp, kw = VALUE_CASES[name]
    want = np.interp(x, xp, fp, **kw)
    args = {"x": x, "xp": xp, "fp": fp}
    args[which] = _req(args[which])
    with np.errstate(all="ignore"):
        got = gnp.interp(args["x"], args["xp"], args["fp"], **kw)
    assert got.requires_grad
    _same_bits(got, want)


def test_complex_fp_value_and_gradient():
    fp = RNG.standard_normal(7) + 1j * RNG.standard_normal(7)
    x = RNG.uniform(-1, 6, 20)
    t = gg.tensor(fp, requires_grad=True)
    xt = _req(x)
    r = gnp.interp(xt, XP, t, left=1j, right=2.0)
    _same_bits(r, np.interp(x, XP, fp, left=1j, right=2.0))
    w = RNG.standard_normal(20) + 1j * RNG.standard_normal(20)
    gnp.sum(gnp.real(r * gnp.asarray(w))).backward()

    def loss(x_, fp_):
        return float(np.sum((np.interp(x_, XP, fp_, left=1j, right=2.0) * w).real))
    e = 1e-6
    for k in (0, 3, 6):
        d = np.zeros(7)
        d[k] = e
        fd = (loss(x, fp + d) - loss(x, fp - d)) / (2 * e) \
            + 1j * (loss(x, fp + 1j * d) - loss(x, fp - 1j * d)) / (2 * e)
        np.testing.assert_allclose(t.grad.numpy()[k], fd, rtol=1e-6, atol=1e-8)
    inside = (x > XP[0]) & (x < XP[-1])
    for k in np.flatnonzero(inside)[:4]:
        d = np.zeros(20)
        d[k] = e
        fd = (loss(x + d, fp) - loss(x - d, fp)) / (2 * e)
        np.testing.assert_allclose(xt.grad.numpy()[k], fd, rtol=1e-6, atol=1e-8)
    assert xt.grad.dtype == np.float64 and not np.any(xt.grad.numpy()[~inside])


def _fd_check(make, arrays, which, rtol=1e-6):
    """d(sum(w * interp))/d(arrays[which]) against central differences, along every axis."""
    w = np.random.default_rng(1).standard_normal(np.shape(make(*arrays)))
    ts = [gg.tensor(np.asarray(a, float)) for a in arrays]
    ts[which] = _req(arrays[which])
    r = make(*ts)
    gnp.sum(r * gnp.asarray(w)).backward()
    got = ts[which].grad.numpy()
    base = np.asarray(arrays[which], float)
    for k in range(base.size):
        d = np.zeros(base.size)
        d[k] = 1e-6
        hi = [np.asarray(a, float) for a in arrays]
        lo = [np.asarray(a, float) for a in arrays]
        hi[which] = base + d.reshape(base.shape)
        lo[which] = base - d.reshape(base.shape)
        fd = (np.sum(make(*hi) * w) - np.sum(make(*lo) * w)) / 2e-6
        assert abs(got.ravel()[k] - fd) <= rtol * max(1.0, abs(fd)), (k, got.ravel()[k], fd)


XQ = np.array([-1.0, 0.2, 1.3, 2.6, 3.3, 4.4, 7.0])  # both ends and the interior


def _interp(x, xp, fp, **kw):
    if any(isinstance(a, gg.Tensor) for a in (x, xp, fp)):
        return gnp.interp(x, xp, fp, **kw)
    return np.interp(x, xp, fp, **kw)


@pytest.mark.parametrize("kw", [{}, {"left": -2.0, "right": 3.0}, {"period": 5.5}],
                         ids=["plain", "left-right", "period"])
@pytest.mark.parametrize("which", [0, 1, 2], ids=["x", "xp", "fp"])
def test_gradient_against_finite_differences(kw, which):
    xp = np.array([0.0, 0.9, 2.1, 3.0, 4.2, 5.0])
    fp = np.array([1.0, -0.5, 2.0, 0.3, 1.7, -1.2])
    x = XQ if "period" not in kw else np.array([-4.1, -0.7, 0.4, 1.3, 6.3, 12.9])
    _fd_check(lambda a, b, c: _interp(a, b, c, **kw), [x, xp, fp], which)


def test_left_right_gradients_are_the_sums_outside():
    left, right = _req(-2.0), _req(3.0)
    w = np.arange(1.0, 8.0)
    r = gnp.interp(XQ, [0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 0.0, 5.0], left=left, right=right)
    gnp.sum(r * gnp.asarray(w)).backward()
    assert left.grad.item() == w[XQ < 0.0].sum() and right.grad.item() == w[XQ > 3.0].sum()


def test_infinite_fp_gives_numpys_value_and_finite_fp_gradient():
    fp = _req([INF, INF, 0.0])
    r = gnp.interp([0.5, 1.5], [0.0, 1.0, 2.0], fp)
    _same_bits(r, np.interp([0.5, 1.5], [0.0, 1.0, 2.0], [INF, INF, 0.0]))
    r[0].backward()
    assert fp.grad.tolist() == [0.5, 0.5, 0.0]


def test_unsorted_xp_gradient_follows_numpys_interval():
    xp, fp = np.array([0.0, 2.0, 1.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0])
    t = _req(fp)
    r = gnp.interp(1.5, xp, t)  # NumPy's linear search stops at [xp[0], xp[1]] = [0, 2]
    r.backward()
    assert r.item() == np.interp(1.5, xp, fp) and t.grad.tolist() == [0.25, 0.75, 0.0, 0.0]
    xp9, x9 = VALUE_CASES["unsorted 9"][1], VALUE_CASES["unsorted 9"][0]
    _fd_check(lambda a: _interp(x9, xp9, a), [RNG.standard_normal(9)], 0)


def test_dtypes_shapes_and_errors():
    f32 = gg.tensor(np.array([0.0, 1.0, 3.0], np.float32), requires_grad=True)
    r = gnp.interp(np.float64(1.5), [0.0, 1.0, 2.0], f32)
    assert r.shape == () and r.dtype == np.float64 and r.item() == 2.0
    r.backward()
    assert f32.grad.dtype == np.float32 and f32.grad.tolist() == [0.0, 0.5, 0.5]
    with pytest.raises(ValueError, match="same length"):
        gnp.interp([0.5], [0.0, 1.0], _req([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="empty"):
        gnp.interp([0.5], [], _req([]))
    with pytest.raises(ValueError, match="period"):
        gnp.interp([0.5], [0.0, 1.0], _req([1.0, 2.0]), period=0)


def test_bincount_empty_with_graph_weights_is_numpys_dtype():
    want = np.bincount(np.array([], int), weights=np.array([]), minlength=2)
    got = gnp.bincount(np.array([], int), weights=_req([]), minlength=2)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()
