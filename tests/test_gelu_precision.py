"""gelu and gelu_tanh (and their derivatives) to full relative precision for negative inputs, in
every implementation reachable on a CPU, against mpmath.

0.5 v (1 + erf(v / sqrt 2)) and 0.5 v (1 + tanh u) cancel catastrophically for v < 0 (relative
errors ~1e-6 at v = -5 in float64, garbage or 0 long before the true value underflows); the
implementations now compute v Phi(v) with Phi(v) = erfc(-v / sqrt 2) / 2 (its argument carried
in two doubles) and v sigmoid(2u), with 1 - sigmoid(2u) as sigmoid(-2u).

Tolerances, relative, wherever the true value is a normal number of the dtype: gelu (erf) 1e-13
in float64 and 1e-5 in float32. gelu_tanh the same, or 8 |2u| eps if larger: sigmoid(2u) ~
exp(2u) turns the rounding of 2u = 2 sqrt(2/pi) (v + 0.044715 v^3) (and of the two constants)
into a relative error ~|2u| eps, which no evaluation in the dtype's own arithmetic avoids; it
passes 1e-13 in float64 only down to v ~ -8.5 (at v = -20, 2u ~ -600). The float32 paths that
evaluate in float64 (the CPU kernels, the reference) meet 1e-5 throughout; the float32 autograd op
computes in float32. Derivatives, which cross zero (v ~ -0.75), are measured against the sum of
their two terms' magnitudes.
"""
import functools
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

mpmath = pytest.importorskip("mpmath")  # the reference values; it comes with the ref extra

import gpugrad as gg
from gpugrad import kernels
from gpugrad.kernels import reference

mpmath.mp.dps = 60
ACTS = ["gelu", "gelu_tanh"]
DTYPES = [np.float64, np.float32]
TOL = {np.float64: 1e-13, np.float32: 1e-5}
SPECIAL = [-30.0, -10.0, -8.0, -5.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 10.0, 1e4, -1e4]


def inputs(dtype):
    rng = np.random.default_rng(7)
    spread = np.concatenate([rng.uniform(-40, 8, 160), 3 * rng.standard_normal(40),
                             -np.geomspace(1e-6, 39, 30), [-37.5, -38.4, -13.0, -13.3, -9.9]])
    return np.concatenate([SPECIAL, spread]).astype(dtype)


# ------------------------------------------------------------------------ mpmath reference

_K2 = 2 * mpmath.sqrt(2 / mpmath.pi)   # 2u = _K2 (v + 0.044715 v^3)
_C = mpmath.mpf("0.044715")


def _tanh_parts(v):
    w = _K2 * (v + _C * v ** 3)
    return w, 1 / (1 + mpmath.exp(-w)), 1 / (1 + mpmath.exp(w))


@functools.lru_cache(maxsize=None)
def truth(act, v):
    """(f(v), f'(v), scale of f'(v): the sum of its terms' magnitudes, |2u| or 0) in mpmath."""
    v = mpmath.mpf(v)
    if act == "gelu":
        cdf, pdf_term = mpmath.ncdf(v), v * mpmath.npdf(v)
        return v * cdf, cdf + pdf_term, abs(cdf) + abs(pdf_term), 0
    w, s, rest = _tanh_parts(v)
    term = v * s * rest * _K2 * (1 + 3 * _C * v * v)
    return v * s, s + term, abs(s) + abs(term), abs(w)


def second_derivative(act, v):
    v = mpmath.mpf(v)
    if act == "gelu":
        return (2 - v * v) * mpmath.npdf(v)
    return mpmath.diff(_dgelu_tanh, v)


def _dgelu_tanh(v):
    _, s, rest = _tanh_parts(v)
    return s + v * s * rest * _K2 * (1 + 3 * _C * v * v)


def check(name, act, x, got, which):
    """got (f or f' at x) within the tolerance wherever the true value is normal; elsewhere (it
    underflows) no larger than the smallest normal; exactly 0 where the truth is 0."""
    dtype = x.dtype.type
    tiny, eps = np.finfo(dtype).tiny, np.finfo(dtype).eps
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    assert got.shape == x.shape
    bad = []
    for xi, gi in zip(x.tolist(), got.tolist()):
        f, df, scale, w = truth(act, xi)
        true, size = (f, abs(f)) if which == "f" else (df, scale)
        tol = max(TOL[dtype], 8 * float(w) * eps) if act == "gelu_tanh" else TOL[dtype]
        if size >= tiny:
            ok = abs(gi - true) <= tol * size
        elif size == 0:
            ok = gi == 0
        else:
            ok = abs(gi) <= tiny and abs(gi - true) <= tiny
        if not ok:
            rel = float(abs(gi - true) / size) if size else math.inf
            bad.append((xi, gi, float(true), rel, tol))
    assert not bad, f"{name} {act} {which} {dtype.__name__}: {len(bad)} off, e.g. {bad[:4]}"


# ------------------------------------------------------------------------ the implementations

def _op(act):
    return (lambda t: gg.gelu(t)) if act == "gelu" else (lambda t: gg.gelu(t, approximate="tanh"))


def _functional(act):
    return lambda t: gg.nn.functional.gelu(t, "none" if act == "gelu" else "tanh")


def _linear_op(act):
    return lambda t: gg.linear(t.reshape(-1, 1), gg.ones((1, 1), dtype=t.dtype),
                               activation=act).reshape(-1)


def _autograd(fn, create_graph):
    def run(x, act):
        t = gg.tensor(x, requires_grad=True)
        y = fn(act)(t)
        (g,) = gg.autograd.grad(y.sum(), [t], create_graph=create_graph)
        return y.numpy(), g.numpy()
    return run


def _reference(x, act):
    return reference.act_forward(x, act), reference.act_backward(np.ones_like(x), None, x, act)


def _cpu_kernels(x, act):
    return kernels.act_forward(x, act), kernels.act_backward(np.ones_like(x), None, x, act)


def _cpu_linear(x, act):
    x2, W = x.reshape(-1, 1), np.ones((1, 1), x.dtype)
    y, z = kernels.linear_act_forward(x2, W, None, act)
    dx, _, _ = kernels.linear_act_backward(np.ones_like(y), x2, W, y, z, act,
                                           needs_input_grad=(True, False, False))
    return y.reshape(-1), dx.reshape(-1)


IMPLEMENTATIONS = {
    "reference": _reference,
    "cpu act kernels": _cpu_kernels,
    "cpu linear_act kernels": _cpu_linear,
    "gg.gelu": _autograd(_op, False),
    "gg.gelu create_graph": _autograd(_op, True),
    "nn.functional.gelu": _autograd(_functional, False),
    "gg.linear": _autograd(_linear_op, False),
    "gg.linear create_graph": _autograd(_linear_op, True),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_gelu_and_its_derivative_to_full_precision(name, act, dtype):
    x = inputs(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        y, dy = IMPLEMENTATIONS[name](x, act)           # (no overflow or nan on the way)
    assert y.dtype == dtype and dy.dtype == dtype
    check(name, act, x, y, "f")
    check(name, act, x, dy, "df")


EDGES = np.array([np.nan, -np.inf, np.inf, -1e300, 1e300, -1e30, 1e30])
EDGE_F = [np.nan, 0.0, np.inf, 0.0, 1e300, 0.0, 1e30]    # (-0.0 below 0: the limit's sign)
EDGE_DF = [np.nan, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("name", IMPLEMENTATIONS)
def test_nan_and_infinities(name, act, dtype):
    """nan in, nan out; the limits at +-inf (gelu(-inf) = -0, where torch gives nan; gelu'(-inf)
    = 0, gelu'(inf) = 1, where torch gives nan) and at overflowing |v|^3 (float32 1e30)."""
    with np.errstate(over="ignore"):                    # (1e300 is inf in float32)
        x, f = EDGES.astype(dtype), np.array(EDGE_F, dtype)
    y, dy = IMPLEMENTATIONS[name](x, act)
    np.testing.assert_array_equal(y, f)
    np.testing.assert_array_equal(dy, np.array(EDGE_DF, dtype))
    neg = x < 0
    assert np.signbit(y[neg]).all(), y                  # -0.0, as v * (+0) for finite v < 0


# ------------------------------------------------------------------ numba.cuda, simulated

SIM_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from numba import config
    assert config.ENABLE_CUDASIM, "the CUDA simulator is not on"
    from gpugrad.kernels import cuda_numba
    x = np.load(sys.argv[1])
    out = {}
    for act in ("gelu", "gelu_tanh"):
        v = x.reshape(1, -1).copy()
        y, z = cuda_numba.bias_act_forward(v.copy(), np.zeros(v.shape[1]), act, 0.01)
        dz, _ = cuda_numba.act_backward_bias_sum(np.ones_like(v), y, z, act, 0.01)
        out[act + "_f"], out[act + "_df"] = y.reshape(-1), dz.reshape(-1)
    np.savez(sys.argv[2], **out)
""")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """cuda_numba's kernels on float64 inputs (their math is float64 on the device), run by
    Numba's CUDA simulator in a subprocess (NUMBA_ENABLE_CUDASIM must precede numba.cuda).
    float32 is left out: the simulator runs the device functions as Python on NumPy scalars, in
    float32 arithmetic, unlike the compiled kernels."""
    d = tmp_path_factory.mktemp("sim")
    x = np.concatenate([inputs(np.float64), EDGES])
    np.save(d / "x.npy", x)
    proc = subprocess.run([sys.executable, "-c", SIM_SCRIPT, str(d / "x.npy"), str(d / "out.npz")],
                          env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return x, dict(np.load(d / "out.npz"))


@pytest.mark.parametrize("act", ACTS)
def test_cuda_numba_under_simulator(simulated, act):
    x, out = simulated
    n = len(x) - len(EDGES)
    check("cuda_numba (simulated)", act, x[:n], out[act + "_f"][:n], "f")
    check("cuda_numba (simulated)", act, x[:n], out[act + "_df"][:n], "df")
    np.testing.assert_array_equal(out[act + "_f"][n:], EDGE_F)
    np.testing.assert_array_equal(out[act + "_df"][n:], EDGE_DF)


# ------------------------------------------------------------------ second order

@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("fn", [_op, _linear_op], ids=["gg.gelu", "gg.linear"])
def test_first_and_second_derivative_in_the_tail(fn, act):
    """Nested gg.autograd.grad at v = -8 (and a few more) in float64: the create_graph
    formulas (Tensor ops, NormalCdf / Sigmoid) are as precise as the kernels."""
    v = np.array([-8.0, -5.0, -1.0, 0.5, 3.0])
    t = gg.tensor(v, requires_grad=True)
    (g,) = gg.autograd.grad(fn(act)(t).sum(), [t], create_graph=True)
    (h,) = gg.autograd.grad(g.sum(), [t])
    for vi, gi, hi in zip(v, g.numpy(), h.numpy()):
        d1, d2 = truth(act, float(vi))[1], second_derivative(act, float(vi))
        assert abs(gi - d1) <= 1e-13 * abs(d1), (vi, gi, d1)
        assert abs(hi - d2) <= 1e-12 * abs(d2), (vi, hi, d2)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("fn", [_op, _linear_op], ids=["gg.gelu", "gg.linear"])
def test_second_derivative_at_infinities_is_the_limit(fn, act):
    """f'' -> 0 at +-inf and at huge |v| (no 0 * inf from a where's untaken branch)."""
    t = gg.tensor(np.array([np.inf, -np.inf, 1e300, -1e300, np.nan]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", under="ignore"):
        (g,) = gg.autograd.grad(fn(act)(t).sum(), [t], create_graph=True)
        (h,) = gg.autograd.grad(g.sum(), [t])
    np.testing.assert_array_equal(g.numpy(), [1.0, 0.0, 1.0, 0.0, np.nan])
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.0, 0.0, 0.0, np.nan])


@pytest.mark.parametrize("v", [-8.0, -6.5, -4.0])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gradgradcheck_in_the_tail(approximate, v):
    x = gg.tensor(np.array([v]), requires_grad=True)   # atol 0: the values are ~1e-14 at -8
    assert gg.gradgradcheck(lambda t: gg.gelu(t, approximate), [x], atol=0.0, rtol=1e-5)


# ------------------------------------------------------------------ torch, moderate values

@pytest.mark.parametrize("act", ACTS)
def test_matches_torch_at_moderate_values(act):
    torch = pytest.importorskip("torch")
    v = np.linspace(-3, 3, 121)
    approximate = "none" if act == "gelu" else "tanh"
    tv = torch.tensor(v, requires_grad=True)
    ty = torch.nn.functional.gelu(tv, approximate=approximate)
    (tg,) = torch.autograd.grad(ty.sum(), tv)
    for name, impl in IMPLEMENTATIONS.items():
        y, dy = impl(v, act)
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
        np.testing.assert_allclose(dy, tg.numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
