"""Small realistic NumPy programs run under NumPy and under gpugrad.numpy, compared exactly:
logistic regression with a gradient check, a Kalman filter, histogram equalization, Monte
Carlo pi, polynomial fitting, a Markov chain's stationary distribution, CSV-like parsing
with genfromtxt, a sliding window, k-means with top-k.  Then the everyday Python uses of a
0-d result (dict keys, indices, formatting, math, sorting) that NumPy scalars support."""
import io
import json
import math

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

def logistic_regression(np):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    w_true = np.array([1.5, -2.0, 0.5])
    y = (X @ w_true + 0.3 * rng.normal(size=40) > 0).astype(float)

    def loss(w):
        z = X @ w
        return np.mean(np.logaddexp(0, z) - y * z)

    def grad(w):
        p = 1 / (1 + np.exp(-X @ w))
        return X.T @ (p - y) / len(y)

    w = np.zeros(3)
    for _ in range(50):
        w = w - 0.5 * grad(w)
    eps = 1e-6
    num = np.array([(loss(w + eps * e) - loss(w - eps * e)) / (2 * eps) for e in np.eye(3)])
    ok = bool(np.allclose(num, grad(w), atol=1e-6))
    acc = float(np.mean((X @ w > 0) == (y > 0.5)))
    return {"w": w, "loss": float(loss(w)), "gradcheck": ok, "acc": acc,
            "report": f"loss={loss(w):.4f} acc={acc:.2f}"}


def kalman_filter(np):
    rng = np.random.default_rng(1)
    F = np.array([[1.0, 1.0], [0.0, 1.0]])
    H = np.array([[1.0, 0.0]])
    Q, R = 0.01 * np.eye(2), np.array([[0.5]])
    truth = np.cumsum(np.ones(30) * 0.7)
    zs = truth + rng.normal(scale=0.7, size=30)
    x, P = np.zeros(2), np.eye(2)
    out = []
    for z in zs:
        x = F @ x
        P = F @ P @ F.T + Q
        S = H @ P @ H.T + R
        K = P @ H.T @ np.linalg.inv(S)
        x = x + (K @ (np.atleast_1d(z) - H @ x))
        P = (np.eye(2) - K @ H) @ P
        out.append(x[0])
    est = np.array(out)
    return {"est": est, "rmse": float(np.sqrt(np.mean((est - truth) ** 2))),
            "trace": float(np.trace(P))}


def histogram_equalization(np):
    rng = np.random.default_rng(2)
    img = np.clip(rng.normal(90, 20, size=(16, 16)), 0, 255).astype(np.uint8)
    hist = np.bincount(img.ravel(), minlength=256)
    cdf = np.cumsum(hist)
    cdf_min = cdf[np.flatnonzero(cdf)[0]]
    lut = np.round((cdf - cdf_min) / (img.size - cdf_min) * 255).clip(0, 255).astype(np.uint8)
    eq = lut[img]
    counts, edges = np.histogram(eq, bins=8, range=(0, 256))
    return {"eq": eq, "counts": counts, "edges": edges, "levels": len(np.unique(eq)),
            "min": int(eq.min()), "max": int(eq.max())}


def monte_carlo_pi(np):
    rng = np.random.default_rng(3)
    pts = rng.random((2000, 2))
    inside = np.count_nonzero(np.sum(pts ** 2, axis=1) <= 1.0)
    est = 4 * inside / len(pts)
    runs = [4 * np.mean(np.sum(rng.random((500, 2)) ** 2, axis=1) <= 1) for _ in range(5)]
    return {"inside": int(inside), "pi": est, "runs": np.array(runs),
            "std": float(np.std(runs)), "line": "pi ~ %.3f" % est}


def polynomial_fit(np):
    rng = np.random.default_rng(4)
    x = np.linspace(-1, 1, 25)
    y = 2 * x ** 3 - x + 0.5 + 0.05 * rng.normal(size=x.size)
    coef = np.polyfit(x, y, 3)
    A = np.vander(x, 4)
    sol, res, rank, sv = np.linalg.lstsq(A, y, rcond=None)
    fit = np.polyval(coef, x)
    return {"coef": coef, "lstsq": sol, "rank": int(rank), "fit": fit,
            "res": float(np.sum((fit - y) ** 2)), "roots": np.sort(np.roots(coef).real)}


def markov_stationary(np):
    P = np.array([[0.9, 0.075, 0.025], [0.15, 0.8, 0.05], [0.25, 0.25, 0.5]])
    w, v = np.linalg.eig(P.T)
    k = np.argmin(np.abs(w - 1))
    pi = np.real(v[:, k])
    pi = pi / pi.sum()
    pw = np.linalg.matrix_power(P, 50)[0]
    return {"pi": pi, "power": pw, "k": int(k), "close": bool(np.allclose(pi, pw)),
            "order": np.argsort(-pi)}


def csv_parsing(np):
    text = "a,b,c\n1,2.5,3\n4,,6\n7,8.5,nan\n10,11,12\n"
    data = np.genfromtxt(io.StringIO(text), delimiter=",", skip_header=1)
    colmean = np.nanmean(data, axis=0)
    filled = np.where(np.isnan(data), colmean, data)
    rows = np.flatnonzero(~np.isnan(data).any(axis=1))
    return {"data": data, "filled": filled, "rows": rows, "colmean": colmean,
            "summary": ", ".join(f"{m:.2f}" for m in colmean)}


def sliding_window(np):
    rng = np.random.default_rng(5)
    sig = np.cumsum(rng.normal(size=64))
    win = np.lib.stride_tricks.sliding_window_view(sig, 8)
    ma = win.mean(axis=1)
    mx = win.max(axis=1)
    peaks = np.flatnonzero((sig[1:-1] > sig[:-2]) & (sig[1:-1] > sig[2:])) + 1
    return {"ma": ma, "mx": mx, "peaks": peaks, "argmax": int(np.argmax(ma)),
            "shape": win.shape}


def kmeans_topk(np):
    rng = np.random.default_rng(6)
    pts = np.round(rng.normal(size=(60, 2)) * 4) / 4   # coarse grid: many ties
    cent = pts[:3].copy()
    for _ in range(5):
        d = ((pts[:, None, :] - cent[None]) ** 2).sum(-1)
        lab = np.argmin(d, axis=1)
        cent = np.array([pts[lab == j].mean(axis=0) for j in range(3)])
    score = np.round(np.abs(pts).sum(1), 1)
    top = np.argsort(-score)[:5]
    part = np.argpartition(score, 10)[:10]
    u, inv, cnt = np.unique(lab, return_inverse=True, return_counts=True)
    return {"lab": lab, "cent": cent, "top": top, "part": np.sort(part), "cnt": cnt,
            "inv": inv, "ranks": np.argsort(score, kind="stable"),
            "best": {int(k): float(v) for k, v in zip(u, cnt)}}


PROGRAMS = [logistic_regression, kalman_filter, histogram_equalization, monte_carlo_pi,
            polynomial_fit, markov_stationary, csv_parsing, sliding_window, kmeans_topk]


def _host(v):
    return numpy.asarray(v.numpy()) if isinstance(v, gg.Tensor) else v


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_gives_numpys_answer(program):
    expected, got = program(numpy), program(gnp)
    assert expected.keys() == got.keys()
    for k, e in expected.items():
        g = _host(got[k])
        if isinstance(e, (numpy.ndarray, numpy.generic)):
            g = numpy.asarray(g)
            assert (e.dtype, e.shape) == (g.dtype, g.shape), k
            assert numpy.array_equal(e, g, equal_nan=True), f"{program.__name__}: {k}"
        elif isinstance(g, numpy.ndarray) and g.ndim == 0 and isinstance(e, (int, float)):
            # NumPy (2.0's count_nonzero) gave a Python number; gpugrad gives a 0-d tensor
            assert g.item() == e, f"{program.__name__}: {k}: {e!r} != {g!r}"
        else:
            assert type(e) is type(g) and e == g, f"{program.__name__}: {k}: {e!r} != {g!r}"


def test_zero_d_results_work_where_numpy_scalars_do():
    f = gnp.sum(gnp.array([1.25, 2.0]))
    i = gnp.sum(gnp.array([1, 2]))
    fs = [gnp.max(gnp.array([v])) for v in (3.0, 1.0, 2.0)]
    assert {f: "a"}[3.25] == "a" and {3.25: "b"}[f] == "b" and len({f, 3.25}) == 1
    assert [0, 1, 2, 3][i] == 3 and list(range(i)) == [0, 1, 2] and [0, 1, 2, 3][:i] == [0, 1, 2]
    assert "%d|%.2f|%s" % (i, f, f) == "3|3.25|3.25"
    assert f"{f:.3f}|{i:03d}|{f}|{f:>6}|{f:.1e}" == "3.250|003|3.25|  3.25|3.2e+00"
    assert round(f) == 3 and type(round(f)) is int and float(round(f, 1)) == 3.2
    assert (math.sqrt(f), math.floor(f), math.ceil(f), math.trunc(-f)) == (math.sqrt(3.25), 3, 4, -3)
    assert math.isclose(f, 3.25) and math.factorial(i) == 6 and math.gcd(i, 6) == 3
    assert [float(v) for v in sorted(fs)] == [1.0, 2.0, 3.0]
    assert float(max(fs)) == 3.0 and float(min(fs)) == 1.0 and float(sum(fs)) == 6.0
    assert math.fsum(fs) == 6.0 and json.dumps(float(f)) == "3.25" and json.dumps(int(i)) == "3"
    assert "ab" * i == "ababab" and hex(i) == "0x3" and divmod(int(i), 2) == (1, 1)
    with pytest.raises(TypeError):
        math.trunc(gnp.array([1.5]))  # a tensor with dimensions is not a number


def test_what_stays_different_from_numpy_scalars():
    """The README's "Known differences": a 0-d result is a tensor, not a NumPy scalar."""
    f = gnp.sum(gnp.array([1.25, 2.0]))
    assert isinstance(numpy.sum(numpy.array([1.25])), numpy.floating)
    assert not isinstance(f, (numpy.floating, float)) and not gnp.isscalar(f)
    with pytest.raises(TypeError):
        json.dumps(f)
