"""Every op of the op set, from one table (``op_cases.py``): forward against NumPy in float32
and float64, gradient against ``gpugrad.gradcheck`` in float64, on every available device;
and, where PyTorch is installed, values and gradients against PyTorch."""
import numpy as np
import pytest

import gpugrad as gg
from op_cases import ALIASES, CASES, ONCE_DIFFERENTIABLE, REQUIRED

GRAD_CASES = [c for c in CASES if c.fd]
TORCH_CASES = [c for c in CASES if c.torch is not None]
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


def _inputs(case, arrays, device, dtype=None, requires_grad=True):
    out = []
    for i, a in enumerate(arrays):
        if case.is_float(i):
            out.append(gg.tensor(a if dtype is None else a.astype(dtype), device=device,
                                 requires_grad=requires_grad))
        else:
            out.append(gg.tensor(a, device=device))
    return out


def _assert_matches(actual, expected, tol):
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    if expected.dtype.kind in "biu" and actual.dtype.kind in "biu":
        np.testing.assert_array_equal(actual, expected)
    else:
        scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
        np.testing.assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_forward_matches_numpy(case, dtype, device):
    arrays = case.arrays()
    xs = _inputs(case, arrays, device, dtype)
    out = case.fn(*xs)
    # the reference sees exactly the values gpugrad saw, in float64, on the CPU
    ref = case.ref(*[a.astype(dtype).astype(np.float64) if case.is_float(i) else a
                     for i, a in enumerate(arrays)])
    assert isinstance(out, gg.Tensor)
    assert out.device == gg.device(device)
    expected_dtype = case.out_dtype or (dtype if any(map(case.is_float, range(len(arrays))))
                                        else None)
    if expected_dtype is not None:
        assert out.dtype == np.dtype(expected_dtype)
    _assert_matches(out.numpy(), ref, TOL[dtype])
    if not case.grad:  # comparisons, logical ops, argmax, one_hot...: no gradient flows
        assert not out.requires_grad and out.grad_fn is None
    else:
        assert out.requires_grad and out.grad_fn is not None


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_gradient_matches_finite_differences(case, device):
    xs = _inputs(case, case.arrays(), device, requires_grad=False)
    assert gg.gradcheck(case.fn, xs)


@pytest.mark.torch
@pytest.mark.parametrize("case", TORCH_CASES, ids=str)
def test_matches_torch(case):
    torch = pytest.importorskip("torch")
    arrays = case.arrays()
    floats = [i for i in range(len(arrays)) if case.is_float(i)]
    g_in = _inputs(case, arrays, "cpu", requires_grad=case.grad)
    t_in = [torch.tensor(a, requires_grad=case.grad and i in floats) for i, a in enumerate(arrays)]
    out, t_out = case.fn(*g_in), case.torch(*t_in)
    _assert_matches(out.numpy(), t_out.detach().numpy(), TOL["float64"])
    if not case.grad:
        return
    v = np.random.default_rng(7).standard_normal(out.shape)
    g_grads = gg.autograd.grad(out, [g_in[i] for i in floats], grad_outputs=gg.tensor(v),
                               allow_unused=True)
    t_grads = torch.autograd.grad(t_out, [t_in[i] for i in floats],
                                  grad_outputs=torch.tensor(v, dtype=t_out.dtype),
                                  allow_unused=True)
    for i, gg_g, t_g in zip(floats, g_grads, t_grads):
        gg_g = np.zeros(arrays[i].shape) if gg_g is None else gg_g.numpy()
        t_g = np.zeros(arrays[i].shape) if t_g is None else t_g.numpy()
        _assert_matches(gg_g, t_g, dict(rtol=1e-9, atol=1e-11))


# ---------------------------------------------------------------- coverage of the op set
def test_table_covers_every_required_op():
    names = {c.name for c in CASES}
    assert REQUIRED - names == set()


def test_table_covers_every_public_op():
    names = {c.name for c in CASES} | set(ALIASES)
    assert set(gg.ops.__all__) - names == set()


# ---------------------------------------------------------------- explicit subgradient rules
def test_max_min_ties_split_the_gradient_evenly(device):
    x = gg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], dtype="float64", device=device,
                  requires_grad=True)
    gg.max(x, axis=1).sum().backward()
    # row 0: two maxima share 1/2 each; row 1: three share 1/3 each
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1 / 2, 1 / 2], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    gg.min(x).backward()  # the global minimum 1.0 is unique
    np.testing.assert_allclose(x.grad.numpy(), [[1, 0, 0], [0, 0, 0]])
    x.grad = None
    gg.max(x).backward()  # the global maximum 3.0 is shared by two elements
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1 / 2, 1 / 2], [0, 0, 0]])


INF = np.inf


def _tie_grads(fn, arrays, v, device, tfn=None):
    """Gradients of ``sum(fn(*arrays) * v)`` w.r.t. every array, computed exactly (float64);
    where PyTorch is installed, ``tfn`` (its twin) must give the same ones."""
    xs = [gg.tensor(np.asarray(a, np.float64), device=device, requires_grad=True)
          for a in arrays]
    out = fn(*xs)
    out.backward(gg.tensor(np.asarray(v, np.float64), device=device))
    grads = [x.grad.numpy() for x in xs]
    if tfn is not None:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            ts = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
            tfn(*ts).backward(torch.tensor(np.asarray(v, np.float64)))
            for g, t in zip(grads, ts):
                np.testing.assert_array_equal(g, t.grad.numpy())   # PyTorch agrees exactly
    return grads


def _assert_grads(got, expected):
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, np.asarray(e, np.float64))


def test_maximum_minimum_ties_split_evenly(device):
    # ties of equal finite values, of +-inf, and of 0 with -0.0; the upstream gradient differs
    # per element, so a rule that sends a tie's gradient to one side cannot match
    a = [1.0, 2.0, 3.0, -INF, INF, 0.0, 5.0]
    b = [2.0, 2.0, 1.0, -INF, INF, -0.0, INF]
    v = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    torch_max = lambda x, y: __import__("torch").maximum(x, y)  # noqa: E731
    torch_min = lambda x, y: __import__("torch").minimum(x, y)  # noqa: E731
    _assert_grads(_tie_grads(gg.maximum, [a, b], v, device, torch_max),
                  [[0, 1, 4, 4, 8, 16, 0], [1, 1, 0, 4, 8, 16, 64]])
    _assert_grads(_tie_grads(gg.minimum, [a, b], v, device, torch_min),
                  [[1, 1, 0, 4, 8, 16, 64], [0, 1, 4, 4, 8, 16, 0]])


def test_maximum_minimum_ties_under_broadcasting(device):
    a = [[1.0, 2.0, 3.0], [2.0, 2.0, 0.0]]
    b = [2.0, 2.0, 2.0]                      # broadcast over rows: its halves add up
    v = [[1.0, 2.0, 4.0], [8.0, 16.0, 32.0]]
    torch_max = lambda x, y: __import__("torch").maximum(x, y)  # noqa: E731
    torch_min = lambda x, y: __import__("torch").minimum(x, y)  # noqa: E731
    _assert_grads(_tie_grads(gg.maximum, [a, b], v, device, torch_max),
                  [[[0, 1, 4], [4, 8, 0]], [1 + 4, 1 + 8, 32]])
    _assert_grads(_tie_grads(gg.minimum, [a, b], v, device, torch_min),
                  [[[1, 1, 0], [4, 8, 32]], [4, 1 + 8, 4]])
    # a 0-d tensor against a vector; the tensor against itself (both halves are its own)
    _assert_grads(_tie_grads(gg.maximum, [[2.0, 2.0, 3.0], 2.0], [1.0, 2.0, 4.0], device,
                             torch_max), [[0.5, 1, 4], 1.5])
    _assert_grads(_tie_grads(gg.minimum, [[2.0, 2.0, 3.0], 2.0], [1.0, 2.0, 4.0], device,
                             torch_min), [[0.5, 1, 0], 0.5 + 1 + 4])
    _assert_grads(_tie_grads(lambda x: gg.maximum(x, x), [[1.0, -2.0]], [3.0, 5.0], device),
                  [[3, 5]])
    # a Python number as the other side: a tie at it still gets only half
    _assert_grads(_tie_grads(lambda x: gg.maximum(x, 0.0), [[-1.0, 0.0, 2.0]], [1.0, 2.0, 4.0],
                             device), [[0, 1, 4]])
    _assert_grads(_tie_grads(lambda x: gg.minimum(x, 0.0), [[-1.0, 0.0, 2.0]], [1.0, 2.0, 4.0],
                             device), [[1, 1, 0]])


X_TIES = [[1.0, 3.0, 3.0, -INF], [INF, INF, 0.0, INF], [2.0, 2.0, 2.0, 2.0]]


@pytest.mark.parametrize("name", ["max", "amax"])
def test_max_reductions_share_ties_evenly(name, device):
    f = getattr(gg, name)
    tmax = lambda x, **k: __import__("torch").amax(x, **k)  # noqa: E731
    # along an axis (also negative, and as a Tensor method), ties at +inf included
    expected = [[[0, 0.5, 0.5, 0], [1, 1, 0, 1], [2, 2, 2, 2]]]
    for fn in (lambda x: f(x, axis=1), lambda x: f(x, axis=-1), lambda x: x.max(axis=1)):
        _assert_grads(_tie_grads(fn, [X_TIES], [1.0, 3.0, 8.0], device,
                                 lambda x: tmax(x, dim=1)), expected)
    # the whole tensor: three +inf tie
    _assert_grads(_tie_grads(f, [X_TIES], 6.0, device, lambda x: tmax(x, dim=(0, 1))),
                  [[[0, 0, 0, 0], [2, 2, 0, 2], [0, 0, 0, 0]]])
    # axis 0 with keepdims: columns with two, three and three (-inf) tied maxima
    y = [[1.0, 5.0, -INF], [1.0, 5.0, -INF], [0.0, 5.0, -INF]]
    _assert_grads(_tie_grads(lambda x: f(x, axis=0, keepdims=True), [y], [[2.0, 3.0, 6.0]],
                             device, lambda x: tmax(x, dim=0, keepdim=True)),
                  [[[1, 1, 2], [1, 1, 2], [0, 1, 2]]])
    # a tuple of axes of a 3-D tensor, with and without keepdims
    z = [[[1.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]]
    for keep, v in ((False, [3.0, 6.0]), (True, [[[3.0], [6.0]]])):
        _assert_grads(_tie_grads(lambda x: f(x, axis=(0, 2), keepdims=keep), [z], v, device,
                                 lambda x: tmax(x, dim=(0, 2), keepdim=keep)),
                      [[[[1, 1], [0, 2]], [[1, 0], [2, 2]]]])


@pytest.mark.parametrize("name", ["min", "amin"])
def test_min_reductions_share_ties_evenly(name, device):
    f = getattr(gg, name)
    tmin = lambda x, **k: __import__("torch").amin(x, **k)  # noqa: E731
    neg = [[-v for v in row] for row in X_TIES]             # the max case, mirrored
    for fn in (lambda x: f(x, axis=1), lambda x: x.min(axis=1)):
        _assert_grads(_tie_grads(fn, [neg], [1.0, 3.0, 8.0], device, lambda x: tmin(x, dim=1)),
                      [[[0, 0.5, 0.5, 0], [1, 1, 0, 1], [2, 2, 2, 2]]])
    # -inf is unique in X_TIES; 0 is the minimum of row 1
    _assert_grads(_tie_grads(lambda x: f(x, axis=1, keepdims=True), [X_TIES],
                             [[1.0], [3.0], [8.0]], device,
                             lambda x: tmin(x, dim=1, keepdim=True)),
                  [[[0, 0, 0, 1], [0, 0, 3, 0], [2, 2, 2, 2]]])
    _assert_grads(_tie_grads(f, [[[-INF, 0.0], [-INF, -INF]]], 3.0, device,
                             lambda x: tmin(x, dim=(0, 1))), [[[1, 0], [1, 1]]])


def test_clip_at_its_bounds_passes_the_gradient(device):
    x, v = [-1.0, -0.5, 0.0, 0.5, 1.0], [1.0, 2.0, 4.0, 8.0, 16.0]
    clamp = lambda t, lo=None, hi=None: t.clamp(lo, hi)  # noqa: E731
    _assert_grads(_tie_grads(lambda t: gg.clip(t, -0.5, 0.5), [x], v, device,
                             lambda t: clamp(t, -0.5, 0.5)), [[0, 2, 4, 8, 0]])
    _assert_grads(_tie_grads(lambda t: gg.clip(t, -0.5), [x], v, device,
                             lambda t: clamp(t, -0.5)), [[0, 2, 4, 8, 16]])
    _assert_grads(_tie_grads(lambda t: gg.clip(t, None, 0.5), [x], v, device,
                             lambda t: clamp(t, None, 0.5)), [[1, 2, 4, 8, 0]])
    # tensor bounds: the input keeps the gradient at a bound, the bound gets it only beyond
    _assert_grads(_tie_grads(gg.clip, [x, -0.5, 0.5], v, device, clamp),
                  [[0, 2, 4, 8, 0], 1, 16])
    # lo == hi: only a value on the bound passes it; lo > hi: hi takes everything
    _assert_grads(_tie_grads(gg.clip, [x, 0.5, 0.5], v, device, clamp), [[0, 0, 0, 8, 0], 0, 16])
    _assert_grads(_tie_grads(gg.clip, [x, 0.5, -0.5], v, device, clamp), [[0, 0, 0, 0, 0], 0, 31])
    # infinite values and bounds
    _assert_grads(_tie_grads(lambda t: gg.clip(t, -INF, INF), [[-INF, 0.0, INF]], [1.0, 2.0, 4.0],
                             device, lambda t: clamp(t, -INF, INF)), [[1, 2, 4]])


def test_relu_abs_leaky_relu_at_zero(device):
    # the rules at 0 (PyTorch's): relu' = 0, abs' = sign(0) = 0, leaky_relu' = the slope
    x, v = [-1.0, 0.0, -0.0, 2.0], [1.0, 2.0, 4.0, 8.0]
    _assert_grads(_tie_grads(gg.relu, [x], v, device, lambda t: t.relu()), [[0, 0, 0, 8]])
    _assert_grads(_tie_grads(gg.abs, [x], v, device, lambda t: t.abs()), [[-1, 0, 0, 8]])
    _assert_grads(_tie_grads(lambda t: gg.leaky_relu(t, 0.25), [x], v, device,
                             lambda t: __import__("torch").nn.functional.leaky_relu(t, 0.25)),
                  [[0.25, 0.5, 1, 8]])
    # the fused linear layer keeps relu's rule: pre-activations exactly 0 pass nothing
    W = np.eye(4)
    _assert_grads(_tie_grads(lambda t, w: gg.linear(t, w, activation="relu"), [[x], W],
                             [v], device), [[[0, 0, 0, 8]], np.outer(x, [0, 0, 0, 8])])


def test_prod_gradient_with_zeros(device):
    x = gg.tensor([2.0, 0.0, 3.0], dtype="float64", device=device, requires_grad=True)
    gg.prod(x).backward()
    assert x.grad.tolist() == [0.0, 6.0, 0.0]  # d/dx_i = product of the others
    y = gg.tensor([0.0, 0.0, 3.0], dtype="float64", device=device, requires_grad=True)
    gg.prod(y).backward()
    assert y.grad.tolist() == [0.0, 0.0, 0.0]


def test_repeated_indices_accumulate(device):
    idx = [0, 2, 0, 0]
    x = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[idx].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.bincount(idx, minlength=3))
    m = gg.tensor(np.zeros((3, 2)), device=device, requires_grad=True)
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    (m[[2, 2, 1, 2], [0, 0, 1, 0]] * gg.tensor(w, device=device)).sum().backward()
    assert m.grad.tolist() == [[0, 0], [0, 100], [1 + 10 + 1000, 0]]


# ---------------------------------------------------------------- dropout
def test_dropout_statistics(device):
    p, n = 0.3, 40_000
    x = gg.ones(n, device=device)
    y = gg.dropout(x, p).numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.015          # ~ 5 standard deviations
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.03                 # inverted dropout keeps the mean


def test_dropout_gradient_is_mask_times_scale(device):
    p = 0.4
    x = gg.tensor(np.random.default_rng(0).uniform(0.5, 1.5, (30, 20)), device=device,
                  requires_grad=True)
    y = gg.dropout(x, p)
    v = np.random.default_rng(1).standard_normal(x.shape)
    y.backward(gg.tensor(v, device=device))
    mask = y.numpy() != 0                             # x has no zeros: y == 0 exactly where dropped
    assert 0 < mask.sum() < mask.size
    np.testing.assert_allclose(x.grad.numpy(), v * mask / (1 - p), rtol=1e-12)
    np.testing.assert_allclose(y.numpy(), x.numpy() * mask / (1 - p), rtol=1e-12)


def test_dropout_gradcheck_with_fixed_generator(device):
    def f(x):
        return gg.dropout(x, 0.5, generator=gg.random.Generator(7, device=device))
    assert gg.gradcheck(f, [gg.randn(4, 5, dtype="float64", device=device)])


def test_dropout_identity_cases_and_seeding(device):
    x = gg.randn(50, device=device, requires_grad=True)
    assert gg.dropout(x, 0.0) is x
    assert gg.dropout(x, 0.7, training=False) is x
    assert not gg.dropout(x, 1.0).numpy().any()
    gg.manual_seed(5)
    a = gg.dropout(x, 0.5).numpy()
    gg.manual_seed(5)
    b = gg.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\], got 1.5"):
        gg.dropout(x, 1.5)


# ---------------------------------------------------------------- second order
def _gradgrad(case, device):
    """gradgradcheck of one case: True, or the op's name when its backward refuses to run
    with create_graph=True (the clear error; never a silent wrong second derivative)."""
    xs = _inputs(case, case.arrays(), device, requires_grad=False)
    try:
        return gg.gradgradcheck(case.fn, xs)
    except RuntimeError as e:
        msg = str(e)
        assert "not differentiable" in msg or "could not run on Tensors" in msg, msg
        return "refused"


@pytest.mark.parametrize("case", GRAD_CASES, ids=str)
def test_second_gradient_matches_finite_differences(case, device):
    result = _gradgrad(case, device)
    # a wrong second derivative raises GradcheckError above; "refused" is allowed only for
    # the ops listed as not yet twice differentiable
    assert result is True or case.name in ONCE_DIFFERENTIABLE, result


def test_once_differentiable_list_is_current():
    refused = {c.name for c in GRAD_CASES if c.name in ONCE_DIFFERENTIABLE
               and _gradgrad(c, "cpu") == "refused"}
    assert ONCE_DIFFERENTIABLE - refused == set(), "now twice differentiable: drop these"


# ---------------------------------------------------------------- complex inputs
def _complex_status(case):
    """Gradients of ``case`` on complex128 inputs against PyTorch's (the conjugate Wirtinger
    convention): "match", "refused" (gpugrad raised a clear error), or "torch" (PyTorch
    itself has no complex version of the op)."""
    torch = pytest.importorskip("torch")
    arrays = case.arrays()
    im = case.arrays(seed=1)
    floats = [i for i in range(len(arrays)) if case.is_float(i)]
    zs = [a + 0.5j * b if i in floats else a for i, (a, b) in enumerate(zip(arrays, im))]
    t_in = [torch.tensor(z, requires_grad=i in floats) for i, z in enumerate(zs)]
    try:
        t_out = case.torch(*t_in)
        if not t_out.requires_grad:
            return "torch"
        rng = np.random.default_rng(3)
        vr, vi = rng.standard_normal(t_out.shape), rng.standard_normal(t_out.shape)
        t_loss = (t_out.real * torch.tensor(vr)).sum()
        if t_out.is_complex():
            t_loss = t_loss + (t_out.imag * torch.tensor(vi)).sum()
        t_grads = torch.autograd.grad(t_loss, [t_in[i] for i in floats], allow_unused=True)
    except (RuntimeError, TypeError, NotImplementedError):
        return "torch"
    g_in = [gg.tensor(z, requires_grad=i in floats) for i, z in enumerate(zs)]
    try:
        out = case.fn(*g_in)
        loss = (gg.real(out) * gg.tensor(vr)).sum()
        if out.dtype.kind == "c":
            loss = loss + (gg.imag(out) * gg.tensor(vi)).sum()
        g_grads = gg.autograd.grad(loss, [g_in[i] for i in floats], allow_unused=True)
    except (NotImplementedError, TypeError) as e:
        # ours name the op and "complex"; NumPy's ufuncs say the types are not supported
        assert "complex" in str(e) or "not supported for the input types" in str(e), \
            f"an unclear error for complex input: {e!r}"
        return "refused"
    for i, g, t in zip(floats, g_grads, t_grads):
        g = np.zeros(zs[i].shape) if g is None else g.numpy()
        t = np.zeros(zs[i].shape) if t is None else t.resolve_conj().numpy()
        _assert_matches(g, t, dict(rtol=1e-9, atol=1e-11))
    return "match"


@pytest.mark.torch
@pytest.mark.parametrize("case", [c for c in TORCH_CASES if c.grad], ids=str)
def test_complex_gradients_match_torch_or_raise(case):
    status = _complex_status(case)
    if status == "torch":
        pytest.skip("PyTorch has no complex gradient for this op")
