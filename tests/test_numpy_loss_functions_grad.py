"""Gradients through the NumPy functions programs put inside a loss (polynomials,
convolution, integration, interpolation, running extrema, log-add-exp reductions,
bincount/reduceat): NumPy's bits outside a graph, NumPy's values inside one, gradients
against central finite differences in float64 and, where it has the op, PyTorch."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(11)
V = RNG.standard_normal(7)
K = RNG.standard_normal(3)
XP = np.sort(RNG.uniform(0.0, 5.0, 6))
XQ = np.array([-1.0, 0.3, 1.7, 2.2, 4.9, 7.0, XP[2], XP[-1], XP[0]])


def _check(f, x0, rtol=1e-6):
    """f's gradient at x0 along a random direction against central differences; f's value
    against the same call on a plain tensor (NumPy's own)."""
    rng = np.random.default_rng(5)
    plain = _array(f(gnp.asarray(x0)))
    w = rng.standard_normal(plain.shape)

    def value(x):
        with gg.no_grad():
            return float(np.sum(_array(f(gg.tensor(x))) * w))
    t = gg.tensor(x0, requires_grad=True)
    r = f(t)
    r = r.coeffs if isinstance(r, gnp.poly1d) else r
    np.testing.assert_allclose(r.detach().numpy(), plain, rtol=1e-12, atol=1e-12)
    gnp.sum(r * gnp.asarray(w)).backward()
    u = rng.standard_normal(x0.shape)
    an, fd = float(np.vdot(t.grad.numpy(), u)), (value(x0 + 1e-6 * u) - value(x0 - 1e-6 * u)) / 2e-6
    assert abs(an - fd) <= rtol * max(1.0, abs(fd)), (an, fd)


def _array(r):
    r = r.coeffs if isinstance(r, gnp.poly1d) else r
    return np.asarray(r.numpy() if isinstance(r, gg.Tensor) else r)


CASES = {
    "polyval c": (lambda c: gnp.polyval(c, np.linspace(-1, 1, 5)), V[:4]),
    "polyval x": (lambda x: gnp.polyval([1.0, -2.0, 0.5], x), V),
    "polyval 2-D": (lambda c: gnp.polyval(c.reshape(3, 2), np.array([0.5, -1.5])), V[:6]),
    "poly1d call": (lambda c: gnp.poly1d(c)(np.linspace(-1, 1, 4)), V[:4]),
    "poly1d arith": (lambda c: (gnp.poly1d(c) ** 2 - gnp.poly1d(c) * 3.0 + 1.0).coeffs, V[:3]),
    "poly1d deriv/integ": (lambda c: gnp.poly1d(c).deriv().integ(k=2.0).coeffs, V[:4]),
    "polyder m=2": (lambda c: gnp.polyder(c, 2), V[:5]),
    "polyint m=2 k": (lambda c: gnp.polyint(c, 2, [1.0, -1.0]), V[:3]),
    "polyint k": (lambda k: gnp.polyint(np.array([1.0, 2.0]), 1, k), V[:1]),
    "polyadd/sub/mul": (lambda c: gnp.concatenate([gnp.polyadd(c, [1.0]), gnp.polysub([2.0], c),
                                                    gnp.polymul(c, c[:2])]), V[:3]),
    "vander": (lambda x: gnp.vander(x, 4), V[:3]),
    "vander increasing": (lambda x: gnp.vander(x, increasing=True), V[:4]),
    "interp fp": (lambda f: gnp.interp(XQ, XP, f), V[:6]),
    "interp fp left/right": (lambda f: gnp.interp(XQ, XP, f, left=-3.0, right=f[2]), V[:6]),
    "interp fp period": (lambda f: gnp.interp(XQ, XP, f, period=5.0), V[:6]),
    "interp x": (lambda x: gnp.interp(x, XP, V[:6]), np.array([0.3, 1.7, 2.2, 4.1])),
    "interp xp": (lambda xp: gnp.interp(np.array([0.3, 1.7, 2.2, 4.1]), xp, V[:6]), XP),
    "trapezoid": (lambda y: gnp.trapezoid(y), V),
    "trapezoid x": (lambda y: gnp.trapezoid(y.reshape(7, 1), np.cumsum(XP[:7 - 0][:6].tolist() + [6.0]), axis=0), V),
    "trapezoid dx axis": (lambda y: gnp.trapezoid(y[:6].reshape(2, 3), dx=0.3, axis=0), V),
    "bincount weights": (lambda w: gnp.bincount([0, 1, 1, 3, 3, 3, 0], weights=w, minlength=6), V),
    "maximum.accumulate": (lambda x: gnp.maximum.accumulate(x), V),
    "minimum.accumulate 2-D": (lambda x: gnp.minimum.accumulate(x[:6].reshape(2, 3), axis=1), V),
    "logaddexp.reduce": (lambda x: gnp.logaddexp.reduce(x), V),
    "logaddexp2.reduce axis": (lambda x: gnp.logaddexp2.reduce(x[:6].reshape(2, 3), axis=1), V),
    "add.reduceat": (lambda x: gnp.add.reduceat(x, [0, 2, 2, 5, 1]), V),
    "multiply.reduceat": (lambda x: gnp.multiply.reduceat(x, [0, 3]), V),
    "maximum.reduceat 2-D": (lambda x: gnp.maximum.reduceat(x[:6].reshape(2, 3), [0, 2], axis=1), V),
}
for _mode in ("full", "same", "valid"):
    for _n, _m in ((7, 3), (3, 7), (4, 4)):
        CASES[f"convolve a {_mode} {_n},{_m}"] = (
            lambda a, mode=_mode, m=_m: gnp.convolve(a, np.arange(1.0, m + 1) ** 2, mode),
            RNG.standard_normal(_n))
        CASES[f"correlate v {_mode} {_n},{_m}"] = (
            lambda v, mode=_mode, n=_n: gnp.correlate(np.arange(1.0, n + 1) ** 2, v, mode),
            RNG.standard_normal(_m))


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_against_finite_differences(name):
    f, x0 = CASES[name]
    _check(f, x0)


@pytest.mark.parametrize("name,args", [
    ("polyval", ([1.0, -2.0, 0.5], V)), ("polyder", (V[:4], 2)), ("polyint", (V[:3],)),
    ("vander", (V[:4],)), ("convolve", (V, K)), ("correlate", (V, K, "same")),
    ("trapezoid", (V,)), ("interp", (XQ, XP, V[:6])), ("polymul", (V[:3], K)),
    ("bincount", (np.array([0, 2, 2, 5]), V[:4]))])
def test_plain_inputs_give_numpy_bits(name, args):
    ref = getattr(np, name)(*args)
    got = getattr(gnp, name)(*[gnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args])
    assert isinstance(got, gg.Tensor) and got.dtype == ref.dtype and got.shape == np.shape(ref)
    np.testing.assert_array_equal(got.numpy(), ref)


def test_poly1d_behaves_as_numpy():
    p, ref = gnp.poly1d([0.0, 1.0, 2.0, 3.0]), np.poly1d([0.0, 1.0, 2.0, 3.0])
    assert p.order == ref.order and len(p) == len(ref) and p.coeffs.tolist() == ref.coeffs.tolist()
    assert p[0].item() == ref[0] and p[5] == 0 and str(p) == str(ref)
    assert (p * p).coeffs.tolist() == (ref * ref).coeffs.tolist()
    assert p == gnp.poly1d(ref) and p != gnp.poly1d([1.0])
    np.testing.assert_allclose(gnp.sort(p.roots).numpy(), np.sort(ref.roots))
    assert gnp.polyval(p, gnp.poly1d([1.0, 0.0])) == p  # composition with x
    with pytest.raises(ValueError, match="1d"):
        gnp.poly1d(np.ones((2, 2)))


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    x, k = RNG.standard_normal(9), RNG.standard_normal(4)
    tx, tk = torch.tensor(x, requires_grad=True), torch.tensor(k, requires_grad=True)
    (torch.nn.functional.conv1d(tx.view(1, 1, -1), tk.view(1, 1, -1), padding=3) ** 2).sum().backward()
    gx, gk = gg.tensor(x, requires_grad=True), gg.tensor(k, requires_grad=True)
    gnp.sum(gnp.correlate(gx, gk, "full") ** 2).backward()
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gk.grad.numpy(), tk.grad.numpy(), rtol=1e-12)
    y, xs = RNG.standard_normal((3, 5)), np.cumsum(RNG.uniform(0.1, 1.0, 5))
    ty, gy = torch.tensor(y, requires_grad=True), gg.tensor(y, requires_grad=True)
    (torch.trapezoid(ty, torch.tensor(xs)) ** 2).sum().backward()
    gnp.sum(gnp.trapezoid(gy, xs) ** 2).backward()
    np.testing.assert_allclose(gy.grad.numpy(), ty.grad.numpy(), rtol=1e-12)
    z = RNG.standard_normal((4, 6))
    z[1, 2] = z[1, 1]  # a tie: the later element takes the gradient, as torch.cummax
    for fn, ref in (("maximum", torch.cummax), ("minimum", torch.cummin)):
        tz, gz = torch.tensor(z, requires_grad=True), gg.tensor(z, requires_grad=True)
        (ref(tz, dim=1).values ** 2).sum().backward()
        gnp.sum(getattr(gnp, fn).accumulate(gz, axis=1) ** 2).backward()
        np.testing.assert_allclose(gz.grad.numpy(), tz.grad.numpy(), rtol=1e-12)


def test_running_max_nan_and_errors():
    x = gg.tensor([1.0, np.nan, 3.0, np.nan], requires_grad=True)
    r = gnp.maximum.accumulate(x)
    np.testing.assert_array_equal(r.detach().numpy(), np.maximum.accumulate(x.detach().numpy()))
    r.sum().backward()
    assert x.grad.tolist() == [1.0, 3.0, 0.0, 0.0]  # NaN propagates from the first NaN
    with pytest.raises(IndexError, match="out-of-bounds"):
        gnp.add.reduceat(gg.tensor(V, requires_grad=True), [0, 9])
    with pytest.raises(ValueError, match="mode"):
        gnp.convolve(gg.tensor(V, requires_grad=True), K, "middle")
    with pytest.raises(TypeError, match="apply_along_axis"):  # left without a gradient
        gnp.apply_along_axis(lambda r: r, 0, gg.tensor(V, requires_grad=True))
