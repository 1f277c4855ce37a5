"""NumPy's in-place idioms under differentiation: ``-=``, ``*=``, ``/=``, ``x[mask] = 0``,
``np.maximum(x, 0, out=x)``, ``dx[x <= 0] = 0``, ``s -= s.max(axis=1, keepdims=True)``,
``np.exp(s, out=s)`` and writes through slice views, differentiated by ``gg.grad`` (and twice,
with ``create_graph``) against PyTorch's out-of-place equivalents in float64; a write into
any op's answer or input after the op, over the whole op table, gives the gradient of the
same program without the write, or a clear RuntimeError -- never a different gradient;
single-element indexing returns a copy, as NumPy's scalar is; ``np.linalg.eig`` is
differentiable for real eigenvalues."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as np
from op_cases import CASES

TOL = dict(rtol=1e-10, atol=1e-12)
RNG = numpy.random.default_rng(11)
X = RNG.standard_normal((4, 3))
W1 = RNG.standard_normal((3, 5))
W2 = RNG.standard_normal((5, 2))
WEIGHTS = numpy.array([1.0, 3.0])


# ================================================================ the idioms, one per program
# each: (gpugrad.numpy program with in-place writes, the same in PyTorch out of place, input)
def sub_then(x):                      # the user study's silent wrong gradient
    p = x / np.sum(x)
    p -= 1
    return np.sum(p * np.array(WEIGHTS))


def sub_then_t(x, torch):
    return torch.sum((x / torch.sum(x) - 1) * torch.tensor(WEIGHTS))


def softmax_div(s):                   # /= on np.exp's answer, which Exp saved
    p = np.exp(s)
    p /= np.sum(p)
    return np.sum(p * np.array(WEIGHTS))


def softmax_div_t(s, torch):
    return torch.sum(torch.softmax(s, 0) * torch.tensor(WEIGHTS))


def mul_in_place(x):                  # *= reads the old value for the operand's gradient
    y = np.exp(x)
    y *= x
    y *= y
    return np.sum(y)


def mul_in_place_t(x, torch):
    y = torch.exp(x) * x
    return torch.sum(y * y)


def masked_zero(x):                   # x[mask] = 0
    y = x * x
    y[y > 1.0] = 0
    return np.sum(y * x)


def masked_zero_t(x, torch):
    y = x * x
    return torch.sum(torch.where(y > 1.0, 0.0, y) * x)


def stable_softmax(W):                # s -= s.max(axis=1, keepdims=True); np.exp(s, out=s)
    s = np.dot(np.array(X), W)
    s -= s.max(axis=1, keepdims=True)
    np.exp(s, out=s)
    s /= np.sum(s, axis=1, keepdims=True)
    return np.sum(np.log(s[[0, 1, 2, 3], [0, 2, 1, 0]]) * np.array([1.0, 2.0, 3.0, 4.0]))


def stable_softmax_t(W, torch):
    s = torch.tensor(X) @ W
    logp = torch.log_softmax(s, 1)
    return torch.sum(logp[[0, 1, 2, 3], [0, 2, 1, 0]] * torch.tensor([1.0, 2.0, 3.0, 4.0]))


def relu_out_and_backward(W):         # np.maximum(h, 0, out=h); a hand-written backward with
    h = np.dot(np.array(X), W)        # dh[h <= 0] = 0, itself differentiated
    np.maximum(h, 0, out=h)
    out = np.dot(h, np.array(W2))
    dh = np.dot(out, np.array(W2).T)
    dh[h <= 0] = 0
    dW = np.dot(np.array(X).T, dh)
    return np.sum(out * out) + np.sum(dW * dW)


def relu_out_and_backward_t(W, torch):
    h = torch.relu(torch.tensor(X) @ W)
    out = h @ torch.tensor(W2)
    dh = torch.where(h <= 0, 0.0, out @ torch.tensor(W2).T)
    dW = torch.tensor(X).T @ dh
    return torch.sum(out * out) + torch.sum(dW * dW)


def slice_views(x):                   # writes through basic-slice views
    y = x * 1.0
    v = y[:, 1:]
    v *= 2
    v += x[:, :2] ** 2
    row = y[0]
    row -= 1
    return np.sum(y * y)


def slice_views_t(x, torch):
    v = torch.cat([x[:, :1], x[:, 1:] * 2 + x[:, :2] ** 2], 1)
    v = torch.cat([v[:1] - 1, v[1:]], 0)
    return torch.sum(v * v)


IDIOMS = [
    (sub_then, sub_then_t, numpy.array([1.0, 2.0])),
    (softmax_div, softmax_div_t, numpy.array([1.0, 2.0])),
    (mul_in_place, mul_in_place_t, RNG.standard_normal(5)),
    (masked_zero, masked_zero_t, numpy.array([0.3, -1.5, 2.0, -0.2, 0.9])),
    (stable_softmax, stable_softmax_t, W1),
    (relu_out_and_backward, relu_out_and_backward_t, W1),
    (slice_views, slice_views_t, RNG.standard_normal((3, 3))),
]
IDS = [f.__name__ for f, _, _ in IDIOMS]


def test_the_user_study_program_gets_the_right_gradient():
    g = gg.grad(sub_then)(numpy.array([1.0, 2.0]))
    numpy.testing.assert_allclose(numpy.asarray(g), [-4 / 9, 2 / 9], **TOL)


@pytest.mark.parametrize("f, ft, x0", IDIOMS, ids=IDS)
def test_idiom_gradient_matches_torch(f, ft, x0):
    torch = pytest.importorskip("torch")
    g = numpy.asarray(gg.grad(f)(x0.copy()))
    xt = torch.tensor(x0, requires_grad=True)
    ft(xt, torch).backward()
    assert numpy.abs(xt.grad.numpy()).max() > 1e-3
    numpy.testing.assert_allclose(g, xt.grad.numpy(), **TOL)


@pytest.mark.parametrize("f, ft, x0", IDIOMS, ids=IDS)
def test_idiom_second_order_matches_torch(f, ft, x0):
    """A Hessian-vector product through the in-place program (create_graph)."""
    torch = pytest.importorskip("torch")
    u = numpy.random.default_rng(5).standard_normal(x0.shape)
    x = gg.tensor(x0, requires_grad=True)
    (gx,) = gg.autograd.grad(f(x), [x], create_graph=True)
    (hv,) = gg.autograd.grad(np.sum(gx * gg.tensor(u)), [x])
    xt = torch.tensor(x0, requires_grad=True)
    (gt,) = torch.autograd.grad(ft(xt, torch), [xt], create_graph=True)
    (ht,) = torch.autograd.grad(torch.sum(gt * torch.tensor(u)), [xt])
    numpy.testing.assert_allclose(gx.numpy(), gt.detach().numpy(), **TOL)
    numpy.testing.assert_allclose(hv.numpy(), ht.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("f, ft, x0", IDIOMS[:4], ids=IDS[:4])
def test_idiom_gradient_matches_finite_differences(f, ft, x0):
    g = numpy.asarray(gg.grad(f)(x0.copy()))
    u = numpy.random.default_rng(2).standard_normal(x0.shape)
    h = 1e-6
    fd = (float(f(x0 + h * u)) - float(f(x0 - h * u))) / (2 * h)
    assert numpy.vdot(g, u) == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_a_reader_outside_the_write_gets_the_old_value():
    """q's node read p and is neither p's producer nor an operand of the write: it gets a
    copy of p's old value, so q's gradient is d(2 x^2)/dx = 4 x, as without the write."""
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    p = x * 2
    q = p * x
    p += 1
    q.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]


# ================================================================ the kind, over the op table
GRAD_CASES = [c for c in CASES if c.grad]


def _grads(case, write):
    arrays = case.arrays()
    leaves = [gg.tensor(a, requires_grad=case.is_float(i)) for i, a in enumerate(arrays)]
    xs = [x * 1.0 if case.is_float(i) else x for i, x in enumerate(leaves)]  # not leaves:
    y = case.fn(*xs)                                                       # writable
    if write == "output":
        y += numpy.ones(y.shape, y.dtype)    # a constant: the gradient does not change
    elif write == "inputs":
        for i, x in enumerate(xs):
            if case.is_float(i):
                x += 0.25                    # after the op read it
    w = numpy.random.default_rng(3).standard_normal(y.shape).astype(y.dtype)
    floats = [x for i, x in enumerate(leaves) if case.is_float(i)]
    return gg.autograd.grad(y, floats, grad_outputs=gg.tensor(w), allow_unused=True)


@pytest.mark.parametrize("write", ["output", "inputs"])
def test_a_write_after_any_op_keeps_the_gradient_or_raises(write):
    """For every op: y = op(x); then ``y += c`` (or ``x += c``); the gradient of
    <y, w> must be the one without the write (the old values are kept for the nodes that
    read them) or a RuntimeError naming the in-place write -- never a different gradient.
    A write into an answer must always work, except NumPy's read-only broadcast views."""
    wrong, raised = [], []
    for case in GRAD_CASES:
        expected = _grads(case, None)
        try:
            got = _grads(case, write)
        except RuntimeError as e:
            assert "in-place" in str(e) and ("instead" in str(e) or "clone()" in str(e)), e
            raised.append(case.id)
            continue
        except ValueError as e:               # broadcast_to / expand: read-only, as in NumPy
            assert write == "output" and "read-only" in str(e), (case.id, e)
            continue
        for a, b in zip(got, expected):
            if (a is None) != (b is None) or (a is not None and not numpy.allclose(
                    a.numpy(), b.numpy(), **TOL)):
                wrong.append(case.id)
    assert wrong == [], f"silently different gradients after a write ({write}): {wrong}"
    if write == "output":
        assert raised == [], f"a write into the answer raised for: {raised}"
    assert len(GRAD_CASES) > 400


# ================================================================ single-element indexing
def test_an_element_picked_by_integers_is_a_copy():
    x = np.zeros(3)
    old = x[1]
    x[1] = 5.0
    assert float(old) == 0.0 and float(x[1]) == 5.0
    m = np.zeros((2, 3))
    e, neg = m[1, 2], m[-1, -1]
    m[1, 2] = 7.0
    assert float(e) == 0.0 and float(neg) == 0.0


def test_partial_and_sliced_indexing_stay_views_as_in_numpy():
    ref = numpy.zeros((2, 3))
    m = np.zeros((2, 3))
    views = [m[1], m[1, 1:], m[1, ...], m[1, None], m[:, 2]]
    ref_views = [ref[1], ref[1, 1:], ref[1, ...], ref[1, None], ref[:, 2]]
    m[1, 2] = 7.0
    ref[1, 2] = 7.0
    for v, r in zip(views, ref_views):
        numpy.testing.assert_array_equal(v.numpy(), r)
        assert float(v.numpy().max()) == 7.0


def test_the_element_copy_is_differentiable():
    x = gg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1.0
    a = y[1, 0]
    y[1, 0] = 7.0
    (a * y).sum().backward()                     # a * (1 + 2 + 7 + 4)
    numpy.testing.assert_array_equal(x.grad.numpy(), [[3.0, 3.0], [14.0, 3.0]])


def test_the_nditer_gradient_check_idiom():
    """``old = x[ix]; x[ix] = old + h; ...; x[ix] = old`` (the classic numerical gradient)
    leaves x as it was and gives the analytic gradient."""
    x = np.array(numpy.array([[0.5, -1.0], [2.0, 0.25]]))
    f = lambda a: float(np.sum(a ** 3))  # noqa: E731
    num = numpy.zeros((2, 2))
    h = 1e-5
    for ix in numpy.ndindex(2, 2):
        old = x[ix]
        x[ix] = old + h
        fp = f(x)
        x[ix] = old - h
        fm = f(x)
        x[ix] = old
        num[ix] = (fp - fm) / (2 * h)
    numpy.testing.assert_array_equal(x.numpy(), [[0.5, -1.0], [2.0, 0.25]])
    numpy.testing.assert_allclose(num, 3 * x.numpy() ** 2, rtol=1e-8)


# ================================================================ np.linalg.eig
def _real_spectrum(n, seed):
    rng = numpy.random.default_rng(seed)
    q = numpy.linalg.qr(rng.standard_normal((n, n)))[0]
    t = numpy.triu(rng.standard_normal((n, n)), 1) * 0.3 + numpy.diag(numpy.arange(1.0, n + 1))
    return q @ t @ q.T                       # non-symmetric, eigenvalues 1..n


def test_eig_gradient_matches_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    A0 = _real_spectrum(4, 0)
    rng = numpy.random.default_rng(1)
    cw, cv = rng.standard_normal(4), rng.standard_normal((4, 4))

    def f(A):                                # sign-invariant in the eigenvectors
        w, v = np.linalg.eig(A)
        return np.sum(w * cw) + np.sum(v * v * cv)

    g = numpy.asarray(gg.grad(f)(A0))
    At = torch.tensor(A0, requires_grad=True)
    w, v = torch.linalg.eig(At)
    (torch.sum(w.real * torch.tensor(cw))
     + torch.sum((v.real ** 2 - v.imag ** 2) * torch.tensor(cv))).backward()
    numpy.testing.assert_allclose(g, At.grad.numpy(), rtol=1e-9, atol=1e-11)
    u, h = rng.standard_normal((4, 4)), 1e-6
    fd = (float(f(A0 + h * u)) - float(f(A0 - h * u))) / (2 * h)
    assert numpy.vdot(g, u) == pytest.approx(fd, rel=1e-6)


def test_eig_second_order():
    assert gg.gradgradcheck(lambda A: np.sum(np.linalg.eigvals(A) ** 2 * np.array(
        [1.0, 2.0, 3.0])), [gg.tensor(_real_spectrum(3, 2))])


def test_eig_of_a_covariance_as_in_pca():
    Xd = numpy.random.default_rng(4).standard_normal((30, 3))
    g = gg.grad(lambda Z: np.sum(np.linalg.eig(np.cov(Z, rowvar=False))[0]))(Xd)
    # the sum of the eigenvalues is the trace: d/dZ = 2 (Z - mean) / (n - 1)
    numpy.testing.assert_allclose(numpy.asarray(g), 2 * (Xd - Xd.mean(0)) / 29, **TOL)


def test_eig_forward_is_numpys_and_complex_eigenvalues_have_their_gradient():
    A0 = numpy.array([[0.0, -1.0], [1.0, 0.0]])          # eigenvalues +-i
    A = gg.tensor(A0, requires_grad=True)
    w, v = np.linalg.eig(A)
    wn, vn = numpy.linalg.eig(A0)
    assert w.dtype == wn.dtype == numpy.complex128
    numpy.testing.assert_allclose(w.numpy(), wn, **TOL)
    numpy.testing.assert_allclose(v.numpy(), vn, **TOL)
    (g,) = gg.autograd.grad(np.sum(np.real(w)), [A])   # the trace: identity, real
    assert g.dtype == numpy.float64
    numpy.testing.assert_allclose(g.numpy(), numpy.eye(2), atol=1e-12)
    w, v = np.linalg.eig(A)
    with pytest.raises(ValueError, match="ill-defined"):  # a loss of the vectors' phases
        gg.autograd.grad(np.sum(np.real(v)), [A])
    with pytest.raises(ValueError, match="square"):
        np.linalg.eig(gg.tensor(numpy.ones((2, 3)), requires_grad=True))
