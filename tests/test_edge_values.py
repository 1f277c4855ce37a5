"""Gradients at edge points (zeros, infinities, singular matrices, clip bounds), reductions
over empty shapes, target validation, and the result dtype of reductions on integers.

Expected values are written out (most are PyTorch's, checked with the installed torch where
it is present); where PyTorch gives NaN for a limit that exists, the limit is the value.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gpugrad as gg

inf, nan = math.inf, math.nan


def grads(f, *vals, dtype=np.float64):
    """(f(*vals) as a list, [d sum(f) / d val for each val]) for float inputs."""
    ts = [gg.tensor(np.array(v, dtype=dtype), requires_grad=True) for v in vals]
    y = f(*ts)
    y.sum().backward()
    return y.numpy(), [t.grad.numpy() for t in ts]


def torch_grads(f, *vals):
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in vals]
    y = f(*ts)
    y.sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def same(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, np.float64),
                               rtol=1e-12, atol=1e-12, equal_nan=True)


# ================================================================ var / std at a constant
@pytest.mark.parametrize("fn", ["var", "std"])
@pytest.mark.parametrize("shape,axis", [((3,), None), ((3, 1), 1), ((1,), None), ((2, 3), 0)])
def test_var_std_of_constant_has_zero_gradient(fn, shape, axis):
    x = gg.full(shape, 2.5, dtype="float64", requires_grad=True)
    y = getattr(gg, fn)(x, axis=axis)
    y.sum().backward()
    same(y.numpy(), np.zeros(y.shape))
    same(x.grad.numpy(), np.zeros(shape))


@pytest.mark.torch
@pytest.mark.parametrize("fn", ["var", "std"])
def test_var_std_gradient_matches_torch(fn):
    v = [[1.0, 2.0, 2.0], [3.0, 3.0, 3.0]]
    for ddof, axis in ((0, 1), (1, 1), (1, 0), (0, None)):
        y, (g,) = grads(lambda x: getattr(gg, fn)(x, axis=axis, ddof=ddof), v)
        dim = axis if axis is not None else (0, 1)
        ty, (tg,) = torch_grads(lambda x: getattr(x, fn)(dim=dim, correction=ddof), v)
        same(y, ty)
        same(g, tg)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NumPy's own
def test_var_std_without_degrees_of_freedom_give_nan_with_a_warning():
    x = gg.tensor([1.0], dtype="float64", requires_grad=True)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        y = gg.var(x, ddof=1)
    assert math.isnan(y.item())
    y.backward()
    assert np.isnan(x.grad.numpy()).all()  # as PyTorch
    with pytest.warns(RuntimeWarning):
        s = gg.std(gg.tensor([1.0, 2.0]), ddof=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert s.item() == np.std([1.0, 2.0], ddof=2) == inf


# ================================================================ the power family
POWER_CASES = [  # (base, exponent) -> value, d/dbase, d/dexponent (PyTorch's values)
    ((0.0, 0.0), (1.0, 0.0, 0.0)),
    ((0.0, 0.5), (0.0, inf, 0.0)),
    ((0.0, -1.0), (inf, -inf, -inf)),
    ((0.0, 1.0), (0.0, 1.0, 0.0)),
    ((0.0, 2.0), (0.0, 0.0, 0.0)),
    ((-2.0, 2.0), (4.0, -4.0, nan)),
    ((-2.0, 0.0), (1.0, 0.0, nan)),
    ((2.0, 0.0), (1.0, 0.0, math.log(2.0))),
    ((2.0, 3.0), (8.0, 12.0, 8.0 * math.log(2.0))),
]


@pytest.mark.parametrize("args,expected", POWER_CASES, ids=[str(c[0]) for c in POWER_CASES])
def test_power_with_tensor_exponent_at_edges(args, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own forward warnings
        y, (ga, gb) = grads(lambda a, b: a ** b, [args[0]], [args[1]])
    same([y[0], ga[0], gb[0]], expected)


@pytest.mark.torch
def test_power_with_tensor_exponent_matches_torch():
    torch = pytest.importorskip("torch")
    a = [c[0][0] for c in POWER_CASES]
    b = [c[0][1] for c in POWER_CASES]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y, g = grads(gg.power, a, b)
    ty, tg = torch_grads(torch.pow, a, b)
    same(y, ty)
    same(g[0], tg[0])
    same(g[1], tg[1])


@pytest.mark.parametrize("e,expected", [
    (0.0, [0.0, 0.0, 0.0]), (0.5, [inf, nan, 0.5 / math.sqrt(inf)]), (-1.0, [-inf, -0.25, -0.0]),
    (-0.5, [-inf, nan, -0.0]), (1.0, [1.0, 1.0, 1.0]), (2.0, [0.0, -4.0, inf]),
    (3.0, [0.0, 12.0, inf]), (0, [0.0, 0.0, 0.0]), (2, [0.0, -4.0, inf])])
def test_power_with_number_exponent_at_edges(e, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, (g,) = grads(lambda x: x ** e, [0.0, -2.0, inf])
    same(g, expected)


def test_power_with_number_base():  # 0 ** e: d/de is 0 for e >= 0 and -inf for e < 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        y, (g,) = grads(lambda e: 0.0 ** e, [0.0, 1.0, -1.0])
    same(y, [1.0, 0.0, inf])
    same(g, [0.0, 0.0, -inf])
    _, (g,) = grads(lambda e: gg.power(2.0, e), [0.0, 3.0])
    same(g, [math.log(2.0), 8 * math.log(2.0)])


def test_float_power_at_zero():
    import gpugrad.numpy as gnp

    x = gnp.array([0.0, 0.0, 2.0], dtype="float64")
    e = gnp.array([0.0, 2.0, 0.0], dtype="float64")
    x.requires_grad_(True)
    e.requires_grad_(True)
    gnp.float_power(x, e).sum().backward()
    same(x.grad.numpy(), [0.0, 0.0, 0.0])
    same(e.grad.numpy(), [0.0, 0.0, math.log(2.0)])


def test_power_backward_is_quiet_at_zero():
    x = gg.tensor([0.0, 1.0], dtype="float64", requires_grad=True)
    e = gg.tensor([0.0, 2.0], dtype="float64", requires_grad=True)
    y = x ** e
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y.sum().backward()
    same(x.grad.numpy(), [0.0, 2.0])


# ================================================================ log-sum-exp family
@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
@pytest.mark.parametrize("a,b,ga,gb", [
    (inf, 0.0, 1.0, 0.0), (0.0, inf, 0.0, 1.0), (inf, -inf, 1.0, 0.0), (-inf, 0.0, 0.0, 1.0),
    (inf, inf, nan, nan), (-inf, -inf, 0.5, 0.5), (3.0, 3.0, 0.5, 0.5)])
def test_logaddexp_gradient_at_infinities(name, a, b, ga, gb):
    # (inf, inf): two entries tied at +inf, as in logsumexp -- the limit depends on how each
    # grows, so NaN (PyTorch's answer too); (-inf, -inf) shares, as a fully masked slice
    _, g = grads(getattr(gg, name), a, b)
    same(g, [ga, gb])


@pytest.mark.torch
@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp_matches_torch_where_torch_is_finite(name):
    torch = pytest.importorskip("torch")
    a = [inf, 0.0, -inf, 1.0, -3.0, inf]
    b = [0.0, inf, 0.0, -2.0, 5.0, -inf]
    y, g = grads(getattr(gg, name), a, b)
    ty, tg = torch_grads(getattr(torch, name), a, b)
    same(y, ty)
    same(g[0], tg[0])
    same(g[1], tg[1])


def test_logaddexp_with_a_number_operand():
    _, (g,) = grads(lambda a: gg.logaddexp(a, 0.0), [inf, -inf, 0.0])
    same(g, [1.0, 0.0, 0.5])


def test_softplus_at_infinities():
    for beta, threshold in ((1.0, 20.0), (2.0, 1e30), (0.5, inf)):
        y, (g,) = grads(lambda x: gg.softplus(x, beta, threshold), [inf, -inf, 0.0])
        same(y, [inf, 0.0, math.log(2.0) / beta])
        same(g, [1.0, 0.0, 0.5])


@pytest.mark.parametrize("row,value,grad", [
    ([inf, 0.0], inf, [1.0, 0.0]), ([inf, -inf, -inf], inf, [1.0, 0.0, 0.0]),
    ([-inf, -inf], -inf, [0.5, 0.5]), ([-inf, 0.0], 0.0, [0.0, 1.0]),
    ([inf, -inf], inf, [1.0, 0.0]), ([1.0, 1.0], 1 + math.log(2), [0.5, 0.5]),
    # two or more tied at +inf: the value is +inf, its gradient (the softmax) is undefined
    ([inf, inf, 1.0], inf, [nan, nan, nan]), ([inf, inf, inf], inf, [nan, nan, nan]),
    ([inf, inf, -inf], inf, [nan, nan, nan]), ([nan, 0.0], nan, [nan, nan])])
def test_logsumexp_with_infinite_entries(row, value, grad):
    y, (g,) = grads(lambda x: gg.logsumexp(x), row)
    same(y, value)
    same(g, grad)
    y, (g,) = grads(lambda x: gg.logsumexp(x, axis=1, keepdims=True), [row, [0.0] * len(row)])
    same(y[0, 0], value)
    same(g[0], grad)


@pytest.mark.parametrize("row,sm", [
    ([-inf, 0.0, 0.0], [0.0, 0.5, 0.5]), ([-inf, -inf], [0.5, 0.5]),
    ([inf, 0.0], [1.0, 0.0]), ([inf, -inf, -inf], [1.0, 0.0, 0.0]),
    # ties at +inf: the limit depends on how fast each entry grows -- NaN, as PyTorch
    ([inf, inf, -inf], [nan, nan, nan]), ([inf, inf], [nan, nan]),
    ([inf, inf, inf], [nan, nan, nan]), ([inf, 2.0, inf], [nan, nan, nan])])
def test_softmax_family_with_infinite_entries(row, sm):
    sm = np.array(sm)
    up = np.array([1.0, 2.0, 3.0][:len(row)])
    x = gg.tensor(np.array(row), requires_grad=True)
    y = gg.softmax(x)
    same(y.numpy(), sm)
    y.backward(gg.tensor(up))
    same(x.grad.numpy(), sm * (up - (up * sm).sum()))  # the softmax VJP at the limit
    x = gg.tensor(np.array(row), requires_grad=True)
    y = gg.log_softmax(x)
    with np.errstate(divide="ignore"):
        same(y.numpy(), np.log(sm))
    y.backward(gg.tensor(up))
    same(x.grad.numpy(), up - sm * up.sum())


def test_cross_entropy_with_masked_logits():
    logits = gg.tensor([[-inf, 0.0, 0.0], [1.0, -inf, 1.0]], dtype="float64", requires_grad=True)
    loss = gg.cross_entropy(logits, gg.tensor([1, 2]))
    same(loss.item(), math.log(2.0))
    loss.backward()
    same(logits.grad.numpy(), [[0.0, -0.25, 0.25], [0.25, 0.0, -0.25]])


# ================================================================ det of singular matrices
@pytest.mark.parametrize("a,adj_t", [
    ([[1.0, 2.0], [2.0, 4.0]], [[4.0, -2.0], [-2.0, 1.0]]),
    ([[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]),
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
     [[-3.0, 6.0, -3.0], [6.0, -12.0, 6.0], [-3.0, 6.0, -3.0]]),
    ([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]], np.zeros((3, 3))),
    ([[2.0, 1.0], [1.0, 3.0]], [[3.0, -1.0], [-1.0, 2.0]]),
    ([[5.0]], [[1.0]]),
])
def test_det_gradient_is_the_adjugate(a, adj_t):
    y, (g,) = grads(gg.det, a)
    np.testing.assert_allclose(y, np.linalg.det(np.array(a)), atol=1e-12)
    np.testing.assert_allclose(g, adj_t, atol=1e-12)


def test_det_gradient_batched_and_against_inverse():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3, 3))
    a[1, 2] = a[1, 0] + a[1, 1]  # one singular member
    w = rng.standard_normal(4)
    x = gg.tensor(a, requires_grad=True)
    (gg.det(x) * gg.tensor(w)).sum().backward()
    d = np.linalg.det(a)
    for i in (0, 2, 3):
        ref = w[i] * d[i] * np.linalg.inv(a[i]).T
        np.testing.assert_allclose(x.grad.numpy()[i], ref, rtol=1e-9, atol=1e-12)
    # the singular one against finite differences
    eps, num = 1e-6, np.zeros((3, 3))
    for j in range(3):
        for k in range(3):
            p, m = a[1].copy(), a[1].copy()
            p[j, k] += eps
            m[j, k] -= eps
            num[j, k] = w[1] * (np.linalg.det(p) - np.linalg.det(m)) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy()[1], num, rtol=1e-6, atol=1e-8)


def test_det_float32_singular():
    x = gg.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    gg.det(x).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-5)


# ================================================================ clip: one rule for all bounds
CLIP_X = [-1.0, 0.0, 0.5, 1.0, 2.0]


def _clip_grads(lo, hi, tensor_bounds):
    x = gg.tensor(CLIP_X, dtype="float64", requires_grad=True)
    bl = gg.tensor(lo, dtype="float64", requires_grad=True) if tensor_bounds and lo is not None \
        else lo
    bh = gg.tensor(hi, dtype="float64", requires_grad=True) if tensor_bounds and hi is not None \
        else hi
    y = gg.clip(x, bl, bh)
    y.sum().backward()
    out = [y.numpy(), x.grad.numpy()]
    for b in (bl, bh):
        if isinstance(b, gg.Tensor):
            out.append(b.grad.numpy() if b.grad is not None else np.zeros(b.shape))
    return out


@pytest.mark.parametrize("tensor_bounds", [False, True])
@pytest.mark.parametrize("lo,hi,gx,glo,ghi", [
    (0.0, 1.0, [0, 1, 1, 1, 0], 1.0, 1.0),       # inclusive at both bounds
    (1.0, 0.0, [0, 0, 0, 0, 0], 0.0, 5.0),       # lo > hi: the result is hi everywhere
    (0.5, 0.5, [0, 0, 1, 0, 0], 0.0, 2.0),       # lo == hi (PyTorch's rule)
    (0.0, None, [0, 1, 1, 1, 1], 1.0, None),
    (None, 1.0, [1, 1, 1, 1, 0], None, 1.0),
])
def test_clip_gradient_rule(tensor_bounds, lo, hi, gx, glo, ghi):
    y, g, *gb = _clip_grads(lo, hi, tensor_bounds)
    same(y, np.clip(CLIP_X, lo, hi))
    same(g, gx)
    if tensor_bounds:
        same(gb, [v for v in (glo, ghi) if v is not None])


@pytest.mark.torch
@pytest.mark.parametrize("lo,hi", [(0.0, 1.0), (1.0, 0.0), (0.5, 0.5), (0.0, None),
                                   (None, 1.0)])
def test_clip_matches_torch(lo, hi):
    torch = pytest.importorskip("torch")
    got = _clip_grads(lo, hi, True)
    xt = torch.tensor(CLIP_X, dtype=torch.float64, requires_grad=True)
    bounds = [torch.tensor(b, dtype=torch.float64, requires_grad=True) if b is not None else None
              for b in (lo, hi)]
    torch.clamp(xt, *bounds).sum().backward()
    ref = [xt.grad.numpy()] + [b.grad.numpy() for b in bounds if b is not None]
    for a, b in zip(got[1:], ref):
        same(a, b)
    xt.grad = None
    torch.clamp(xt, lo, hi).sum().backward()
    same(_clip_grads(lo, hi, False)[1], xt.grad.numpy())


def test_clip_with_broadcast_tensor_bounds():
    x = gg.tensor([[-1.0, 0.5], [3.0, 0.2]], dtype="float64", requires_grad=True)
    lo = gg.tensor([0.0, 0.3], dtype="float64", requires_grad=True)
    hi = gg.tensor(1.0, dtype="float64", requires_grad=True)
    y = gg.clip(x, lo, hi)
    same(y.numpy(), [[0.0, 0.5], [1.0, 0.3]])
    y.sum().backward()
    same(x.grad.numpy(), [[0, 1], [0, 0]])
    same(lo.grad.numpy(), [1, 1])
    same(hi.grad.numpy(), 1.0)


# ================================================================ empty tensors
def _lse(a, axis=None, keepdims=False):
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))


EMPTY_REDUCTIONS = {
    "sum": (gg.sum, np.sum), "mean": (gg.mean, np.mean), "var": (gg.var, np.var),
    "std": (gg.std, np.std), "prod": (gg.prod, np.prod), "max": (gg.max, np.max),
    "min": (gg.min, np.min), "logsumexp": (gg.logsumexp, _lse),
    "norm": (lambda x, axis=None, keepdims=False: gg.norm(x, axis=axis, keepdims=keepdims),
             lambda a, axis=None, keepdims=False: np.sqrt(np.sum(a * a, axis=axis,
                                                                 keepdims=keepdims))),
    "norm1": (lambda x, axis=None, keepdims=False: gg.norm(x, 1, axis=axis, keepdims=keepdims),
              lambda a, axis=None, keepdims=False: np.sum(np.abs(a), axis=axis,
                                                          keepdims=keepdims)),
    "norminf": (lambda x, axis=None, keepdims=False: gg.norm(x, np.inf, axis=axis,
                                                             keepdims=keepdims),
                lambda a, axis=None, keepdims=False: np.linalg.norm(
                    a, np.inf, axis=axis, keepdims=keepdims)),
}
EMPTY_SHAPES = [((0,), None), ((0,), 0), ((0, 3), 0), ((0, 3), 1), ((3, 0), 0), ((3, 0), 1),
                ((0, 3), None), ((2, 0, 3), (0, 2))]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", EMPTY_SHAPES, ids=[f"{s}-{a}" for s, a in EMPTY_SHAPES])
@pytest.mark.parametrize("name", list(EMPTY_REDUCTIONS))
def test_reductions_over_empty_shapes(name, shape, axis, keepdims):
    fn, ref = EMPTY_REDUCTIONS[name]
    if name in ("norm1", "norminf") and (isinstance(axis, tuple) or
                                         (axis is None and len(shape) > 1)):
        pytest.skip("matrix 1- and inf-norms are not supported")
    a = np.zeros(shape)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            want = np.asarray(ref(a, axis=axis, keepdims=keepdims))
        except ValueError:
            want = None
    if name == "norminf":
        # NumPy 2.0 raises here; later NumPy (and gpugrad) give 0, the identity of max |x|
        want = np.zeros(np.sum(a, axis=axis, keepdims=keepdims).shape)
    x = gg.tensor(a, requires_grad=True)
    if want is None:
        with pytest.raises(ValueError):
            fn(x, axis=axis, keepdims=keepdims)
        return
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        y = fn(x, axis=axis, keepdims=keepdims)
    assert y.shape == want.shape
    assert y.dtype == np.float64
    same(y.numpy(), want)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # backward of an empty input is quiet
        (y * gg.ones(y.shape, dtype="float64")).sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("shape,axis", [((0,), None), ((0,), 0), ((0, 3), 0), ((0, 3), 1),
                                        ((3, 0), 1)])
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "softmax", "log_softmax", "argmax",
                                  "argmin", "all", "any", "sort"])
def test_other_axis_ops_over_empty_shapes(name, shape, axis):
    if name in ("softmax", "log_softmax", "sort") and axis is None:
        axis = 0
    a = np.zeros(shape)
    x = gg.tensor(a, requires_grad=name not in ("argmax", "argmin", "all", "any"))
    refs = {"softmax": lambda a, axis: a.copy(), "log_softmax": lambda a, axis: a.copy(),
            "sort": lambda a, axis: np.sort(a, axis=axis)}
    ref = refs.get(name) or getattr(np, name)
    try:
        want = ref(a, axis=axis)
    except ValueError:
        with pytest.raises(ValueError):
            getattr(gg, name)(x, axis=axis)
        return
    y = getattr(gg, name)(x, axis=axis)
    assert y.shape == want.shape
    same(y.numpy(), want)
    if x.requires_grad:
        y.sum().backward()
        assert x.grad.shape == shape


def test_prod_backward_on_zero_rows():
    x = gg.tensor(np.zeros((0, 3)), requires_grad=True)
    y = gg.prod(x, axis=0)
    same(y.numpy(), [1.0, 1.0, 1.0])
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    x = gg.tensor(np.ones((3, 0)), requires_grad=True)
    y = gg.prod(x, axis=1)
    same(y.numpy(), [1.0, 1.0, 1.0])
    y.sum().backward()
    assert x.grad.shape == (3, 0)


def test_logsumexp_and_softmax_over_a_zero_length_axis():
    x = gg.tensor(np.zeros((3, 0)), requires_grad=True)
    y = gg.logsumexp(x, axis=1)
    same(y.numpy(), [-inf, -inf, -inf])
    y.sum().backward()
    assert x.grad.shape == (3, 0)
    s = gg.softmax(x, axis=1)
    assert s.shape == (3, 0)
    s.sum().backward()


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NumPy's own
def test_mean_of_empty_warns_like_numpy():
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        y = gg.mean(gg.tensor(np.zeros(0)))
    assert math.isnan(y.item())


# ================================================================ nll_loss targets
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_loss_targets_are_validated(fn):
    f = getattr(gg, fn)
    x = gg.tensor([[-1.0, -2.0], [-0.5, -0.1]])
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        f(x, gg.tensor([-1, 0]))
    with pytest.raises(IndexError, match=r"\[0, 2\)"):
        f(x, gg.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"targets of shape \(2,\)"):
        f(x, gg.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        f(gg.tensor([-1.0, -2.0]), gg.tensor([0]))
    with pytest.raises(TypeError, match="integer"):
        f(x, gg.tensor([0.0, 1.0]))
    y = f(x, gg.tensor([1, -100]))  # ignore_index stays allowed
    assert np.isfinite(y.item())


def test_nll_loss_values():
    lp = gg.tensor([[-1.0, -2.0], [-0.5, -0.1], [-3.0, -4.0]], requires_grad=True)
    t = gg.tensor([1, 0, -100])
    same(gg.nll_loss(lp, t).item(), 1.25)
    same(gg.nll_loss(lp, t, reduction="sum").item(), 2.5)
    same(gg.nll_loss(lp, t, reduction="none").tolist(), [2.0, 0.5, 0.0])
    gg.nll_loss(lp, t).backward()
    same(lp.grad.numpy(), [[0.0, -0.5], [-0.5, 0.0], [0.0, 0.0]])


# ================================================================ integer inputs
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16", "bool"])
@pytest.mark.parametrize("name", ["mean", "var", "std"])
def test_mean_var_std_of_integers_follow_numpy(name, dtype):
    vals = [1, 0, 1] if dtype == "bool" else [16777217, 16777217, 16777219]
    if dtype in ("int8", "uint16"):
        vals = [7, 7, 9]
    a = np.array(vals, dtype=dtype)
    y = getattr(gg, name)(gg.tensor(a))
    want = getattr(np, name)(a)
    assert y.dtype == want.dtype == np.float64
    np.testing.assert_allclose(y.item(), want, rtol=1e-15)


def test_mean_of_large_int32_is_exact():
    y = gg.mean(gg.tensor(np.array([16777217, 16777217], dtype=np.int32)))
    assert y.item() == 16777217.0


@pytest.mark.parametrize("dtype", ["int32", "bool", "uint8"])
@pytest.mark.parametrize("name", ["sum", "prod", "cumsum", "max"])
def test_integer_reductions_keep_numpy_dtypes(name, dtype):
    a = np.array([1, 0, 1], dtype=dtype)
    y = getattr(gg, name)(gg.tensor(a))
    want = getattr(np, name)(a)
    assert y.dtype == want.dtype
    same(y.numpy(), want)


def test_edge_cases_on_every_device(device):
    """A few of the cases above on each available device (CuPy takes the where-paths)."""
    def g(f, *vals):
        ts = [gg.tensor(np.array(v, dtype=np.float64), device=device, requires_grad=True)
              for v in vals]
        y = f(*ts)
        y.backward(gg.ones(y.shape, dtype=y.dtype, device=device))
        return y.numpy(), [t.grad.numpy() for t in ts]

    y, (gx,) = g(lambda x: gg.logsumexp(x), [inf, 0.0])
    same([y, *gx], [inf, 1.0, 0.0])
    y, (gx,) = g(lambda x: gg.softmax(x), [-inf, -inf])
    same(y, [0.5, 0.5])
    y, (gx,) = g(lambda x: gg.softmax(x), [inf, 1.0, inf])
    same([*y, *gx], [nan] * 6)
    y, (gx,) = g(lambda x: gg.logsumexp(x), [inf, 1.0, inf])
    same([y, *gx], [inf, nan, nan, nan])
    _, gs = g(gg.logaddexp, [inf, -inf], [0.0, -inf])
    same(gs, [[1.0, 0.5], [0.0, 0.5]])
    _, (gx,) = g(gg.std, [2.0, 2.0, 2.0])
    same(gx, [0.0, 0.0, 0.0])
    _, (gx,) = g(gg.det, [[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(gx, [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    _, gs = g(lambda x, lo, hi: gg.clip(x, lo, hi), CLIP_X, 0.0, 1.0)
    same(gs[0], [0, 1, 1, 1, 0])
    same(gs[1:], [1.0, 1.0])
    y, (gx,) = g(lambda x: gg.logsumexp(x, axis=1), np.zeros((2, 0)))
    same(y, [-inf, -inf])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, gs = g(lambda a, b: a ** b, [0.0, 0.0], [0.0, -1.0])
    same(gs, [[0.0, -inf], [0.0, -inf]])


def test_ops_that_compare_with_zero_refuse_complex_input():
    z = gg.tensor([1 + 1j, -2 + 0.5j])
    for fn in (gg.relu, gg.leaky_relu):
        with pytest.raises(TypeError, match=r"not defined for complex input \(got dtype complex64\)"):
            fn(z)


def test_complex_branch_cuts_and_negative_real_bases():
    torch = pytest.importorskip("torch")
    z = np.array([-0.5 + 0.3j, -2 + 0.1j, 1.5 - 0.2j])
    x = gg.tensor(z, requires_grad=True)
    (g,) = gg.autograd.grad(gg.real(gg.arccosh(x)).sum(), [x])
    tx = torch.tensor(z, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.real(torch.acosh(tx)).sum(), [tx])
    np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=1e-12)
    b = np.array([0.5 + 0.5j, 1 - 1j])
    a = gg.tensor([-2.0, -0.5], dtype="float64", requires_grad=True)
    bt = gg.tensor(b, requires_grad=True)
    ga, gb = gg.autograd.grad(gg.real(gg.power(a, bt)).sum(), [a, bt])
    ta = torch.tensor([-2.0, -0.5], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    tga, tgb = torch.autograd.grad(torch.real(torch.pow(ta, tb)).sum(), [ta, tb])
    np.testing.assert_allclose(ga.numpy(), tga.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb.numpy(), tgb.numpy(), rtol=1e-12)
    for fn in (gg.logaddexp, gg.logaddexp2, gg.hypot, gg.arctan2):
        with pytest.raises(TypeError, match="not defined for complex input"):
            fn(gg.tensor([1 + 1j]), 0.5)
