"""Repeated eigen/singular values: a loss that leaves the vectors of the repeated value alone
gets its gradient, one that reaches them -- however weakly -- raises.

``w.sum() + f(V[:, 2])`` at ``Q diag(1, 1, 3) Q^T`` is smooth (the trace, and the eigenvector
of the simple eigenvalue 3) and its cotangent on the columns 0 and 1 of V is exactly 0: the
gradient is finite and equals finite differences and PyTorch's.  The same pattern of
cotangents comes from ``V diag(log w) V^T`` (logm) when the repeated eigenvalue is 1 exactly
(log 1 = 0 on those columns), whose gradient has a term the cotangents do not carry: there
the computed repeated values are bitwise equal, and the backward raises.  With rounding they
are not, logm's cotangent on the columns is ~1e-16 rather than 0, and the backward raises
because the loss reaches them (the old rule, a tolerance on the coupling, let that through
and gave a wrong gradient)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(11)
C3 = np.array([1.0, 2.0, 3.0])


def _orth(m, n, cplx=False, rng=RNG):
    a = rng.standard_normal((m, n)) + (1j * rng.standard_normal((m, n)) if cplx else 0)
    return np.linalg.qr(a)[0]


def _distinct_rounding(make, values):
    """The first of ``make(seed)`` whose computed repeated values are not bitwise equal in any
    of the arrays ``values(a)`` gives (the LAPACK drivers the tests call can round apart)."""
    for seed in range(100):
        a = make(np.random.default_rng(seed))
        if all(np.unique(v).size == np.size(v) for v in values(a)):
            return a
    raise AssertionError("no seed")


def _grads(f, a0):
    """The gradient of ``f`` at ``a0``, from the raw-array backward and from the
    create_graph (Tensor) backward, which must agree."""
    out = []
    for cg in (False, True):
        a = gg.tensor(a0.copy(), requires_grad=True)
        (g,) = gg.autograd.grad(f(a), [a], create_graph=cg)
        out.append(np.asarray(g.data))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12, atol=1e-12)
    return out[0]


def _check_fd(g, fnp, a0, hermitian, n_dirs=4, h=1e-6):
    """``g`` against central differences of ``fnp`` along random directions (Hermitian ones
    when ``hermitian``); complex ``g`` is dL/d(re) + i dL/d(im)."""
    cplx = np.iscomplexobj(a0)
    for _ in range(n_dirs):
        e = RNG.standard_normal(a0.shape) + (1j * RNG.standard_normal(a0.shape) if cplx else 0)
        if hermitian:
            e = e + e.conj().T
        d = (fnp(a0 + h * e) - fnp(a0 - h * e)) / (2 * h)
        got = (np.conj(g) * e).real.sum()
        assert abs(got - d) < 1e-6 * max(1.0, abs(d)), (got, d)


def _torch():
    return pytest.importorskip("torch")


def _match_torch(g, tg, hermitian=False):
    """``g`` against PyTorch's gradient ``tg`` where PyTorch gives a finite one (it divides
    by the gap of the repeated values as it computes them, 0/0 where those are equal);
    eigh's gradient is the Hermitian part (eigh reads a Hermitian matrix)."""
    if hermitian:
        tg = (tg + tg.conj().T) / 2
    if np.isfinite(tg).all():
        np.testing.assert_allclose(g, tg, atol=1e-9)
    return np.isfinite(tg).all()


def _c(lib, x):
    """The constant ``x`` in ``lib``'s own array type (np, gg, torch)."""
    return x if lib is np else lib.tensor(x)


def _host(x):
    if isinstance(x, gg.Tensor):
        return x.numpy()
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


# ================================================================ eigh
EIGH_ROT = _distinct_rounding(lambda r: (lambda q: q @ np.diag([1.0, 1.0, 3.0]) @ q.T)(
    _orth(3, 3, rng=r)), lambda a: [np.linalg.eigvalsh(a), np.linalg.eigh(a)[0]])
EIGH_HERM = _distinct_rounding(lambda r: (lambda u: u @ np.diag([1.0, 1.0, 3.0]) @ u.conj().T)(
    _orth(3, 3, True, r)), lambda a: [np.linalg.eigvalsh(a), np.linalg.eigh(a)[0]])


def _eigh_loss(w, v, lib):
    """w.sum() + sum(c |v[:, 2]|^2): the trace and the simple eigenvalue's eigenvector."""
    return w.sum() + (lib.abs(v[..., :, 2]) ** 2 * _c(lib, C3)).sum()


@pytest.mark.parametrize("a0", [EIGH_ROT, EIGH_HERM], ids=["real", "complex"])
def test_eigh_values_and_a_simple_eigenvector_next_to_a_repeated_eigenvalue(a0):
    g = _grads(lambda a: _eigh_loss(*gg.eigh(a), gg), a0)
    _check_fd(g, lambda a: _eigh_loss(*np.linalg.eigh(a), np), a0, hermitian=True)
    torch = _torch()
    t = torch.tensor(a0, requires_grad=True)
    _eigh_loss(*torch.linalg.eigh(t), torch).backward()
    assert _match_torch(g, t.grad.numpy(), hermitian=True)


def test_eigh_repeated_eigenvalue_weighted_unequally_with_a_simple_eigenvector():
    """(w**2).sum() + 5 w[2] + (v[:, 2] @ c)^2: still no error, and right."""
    def f(w, v):
        return (w ** 2).sum() + 5 * w[2] + ((v[:, 2] * C3).sum()) ** 2

    g = _grads(lambda a: f(*gg.eigh(a)), EIGH_ROT)
    _check_fd(g, lambda a: f(*np.linalg.eigh(a)), EIGH_ROT, hermitian=True)


def test_eigh_batch_mixes_a_relaxed_and_a_distinct_matrix():
    a0 = np.stack([EIGH_ROT, np.diag([1.0, 2.0, 4.0]) + 0.1])
    g = _grads(lambda a: _eigh_loss(*gg.eigh(a), gg), a0)
    for i in range(2):
        _check_fd(g[i], lambda a: _eigh_loss(*np.linalg.eigh(a), np), a0[i], hermitian=True)


def _logm_loss(w, v, c, lib):
    return (c * ((v * lib.log(w)) @ v.T)).sum()


@pytest.mark.parametrize("cluster_diag", [True, False], ids=["generic", "zero_cluster_diagonal"])
def test_eigh_logm_at_a_repeated_eigenvalue_one_raises(cluster_diag):
    """logm via eigh: its cotangent on the repeated eigenvalue's eigenvectors is log(1 +
    rounding) ~ 1e-16, but its gradient there is C's block in that eigenspace.  With C's
    block zero on the diagonal (so the eigenvalues' cotangent is ~0 there too) the old rule
    answered, wrong along v0 v1^T + v1 v0^T."""
    w0, v0 = np.linalg.eigh(EIGH_ROT)
    m = np.array([[1.0, 2.0, 0.3], [2.0, 1.0, 0.5], [0.3, 0.5, 1.0]])
    if not cluster_diag:
        m[0, 0] = m[1, 1] = 0.0
    c = v0 @ m @ v0.T
    e = np.outer(v0[:, 0], v0[:, 1]) + np.outer(v0[:, 1], v0[:, 0])
    h = 1e-6
    d = (_logm_loss(*np.linalg.eigh(EIGH_ROT + h * e), c, np)
         - _logm_loss(*np.linalg.eigh(EIGH_ROT - h * e), c, np)) / (2 * h)
    assert abs(d - 2 * m[0, 1]) < 1e-6      # the in-eigenspace term the cotangents lack
    for cg in (False, True):
        a = gg.tensor(EIGH_ROT.copy(), requires_grad=True)
        with pytest.raises(ValueError, match=r"eigh: .*repeated eigenvalue (1\.0|0\.999)"):
            gg.autograd.grad(_logm_loss(*gg.eigh(a), gg.tensor(c), gg), [a], create_graph=cg)


def test_eigh_values_bitwise_equal_keep_raising_for_values_and_vectors():
    """At diag(1, 1, 3) the repeated values are exactly 1.0: the trace plus v[:, 2] and
    logm (log 1.0 == 0 exactly on the columns 0 and 1) reach backward with the same
    pattern of cotangents, and logm's gradient has an in-eigenspace term: both raise."""
    a0 = np.diag([1.0, 1.0, 3.0])
    c = np.array([[2.0, 1.0, 0.2], [1.0, 0.5, 0.4], [0.2, 0.4, 1.0]])
    for f in (lambda a: _eigh_loss(*gg.eigh(a), gg),
              lambda a: _logm_loss(*gg.eigh(a), gg.tensor(c), gg)):
        a = gg.tensor(a0.copy(), requires_grad=True)
        with pytest.raises(ValueError, match=r"eigh: .*vanishes"):
            f(a).backward()


def test_eigh_relaxed_gradient_on_every_device(device):
    def grad(dev):
        a = gg.tensor(EIGH_ROT, device=dev, requires_grad=True)
        w, v = gg.eigh(a)
        (w.sum() + (v[:, 2] ** 2 * gg.tensor(C3, device=dev)).sum()).backward()
        return a.grad.numpy() if dev == "cpu" else a.grad.cpu().numpy()
    np.testing.assert_allclose(grad(device), grad("cpu"), rtol=1e-12, atol=1e-12)
    a = gg.tensor(EIGH_ROT, device=device, requires_grad=True)
    w, v = gg.eigh(a)
    with pytest.raises(ValueError, match="eigh: .*repeated eigenvalue"):
        (v[:, 0] ** 2 * gg.tensor(C3, device=device)).sum().backward()


# ================================================================ eig
def _eig_matrix(cplx):
    def make(r):
        s = r.standard_normal((3, 3)) + (1j * r.standard_normal((3, 3)) if cplx else 0)
        d = np.array([1 + 1j, 1 + 1j, 3.0]) if cplx else np.array([1.0, 1.0, 3.0])
        return s @ np.diag(d) @ np.linalg.inv(s)
    return _distinct_rounding(make, lambda a: [np.linalg.eigvals(a), np.linalg.eig(a)[0]])


EIG_REAL, EIG_CPLX = _eig_matrix(False), _eig_matrix(True)


def _eig_loss(w, v, lib):
    """sum(re w) + sum(c |v_j|^2), v_j the eigenvector of the eigenvalue nearest 3."""
    j = int(np.argmin(abs(_host(w) - 3.0)))
    return lib.real(w).sum() + (lib.abs(v[:, j]) ** 2 * _c(lib, C3)).sum()


@pytest.mark.parametrize("a0", [EIG_REAL, EIG_CPLX], ids=["real", "complex"])
def test_eig_values_and_a_simple_eigenvector_next_to_a_repeated_eigenvalue(a0):
    g = _grads(lambda a: _eig_loss(*gnp.linalg.eig(a), gg), a0)
    _check_fd(g, lambda a: _eig_loss(*np.linalg.eig(a), np), a0, hermitian=False)
    torch = _torch()
    t = torch.tensor(a0, requires_grad=True)
    _eig_loss(*torch.linalg.eig(t), torch).backward()
    _match_torch(g, t.grad.numpy())


def test_eig_matrix_function_at_a_repeated_eigenvalue_raises():
    """V diag(exp w) V^-1 (expm): its coupling within the repeated eigenspace is 0 for any
    function, and with G's block there zero on the diagonal the eigenvalues' cotangent is ~0
    as well: the old rule answered, wrong; the loss reaches those eigenvectors, so it raises."""
    w0, v0 = np.linalg.eig(EIG_REAL)
    cl = np.flatnonzero(abs(w0 - 1) < 1e-6)
    o = 3 - cl.sum()
    m = np.zeros((3, 3))
    m[cl[0], cl[1]], m[cl[1], cl[0]], m[o, o], m[cl[0], o] = 1.0, 0.7, 1.0, 0.2
    g = np.linalg.inv(v0.T) @ m @ v0.T
    a = gg.tensor(EIG_REAL.copy(), requires_grad=True)
    w, v = gnp.linalg.eig(a)
    loss = (gg.tensor(g) * gg.matmul(v * gg.exp(w), gnp.linalg.inv(v))).sum()
    with pytest.raises(ValueError, match=r"eig: .*repeated eigenvalue"):
        loss.backward()


# ================================================================ svd
def _svd_matrix(m, n):
    k = min(m, n)
    return _distinct_rounding(
        lambda r: _orth(m, k, rng=r) @ np.diag([3.0, 3.0, 1.0][:k]) @ _orth(n, k, rng=r).T,
        lambda a: [np.linalg.svd(a, compute_uv=False), np.linalg.svd(a)[1],
                   np.linalg.svd(a, full_matrices=False)[1]])


SVD_CASES = {"square": _svd_matrix(3, 3), "tall": _svd_matrix(4, 3), "wide": _svd_matrix(3, 4)}


def _svd_loss(side, u, s, vh, lib):
    vec = u[:, 2] if side == "u" else vh[2, :]
    return s.sum() + (vec ** 2 * _c(lib, np.arange(1.0, 1.0 + vec.shape[0]))).sum()


@pytest.mark.parametrize("full", [False, True], ids=["reduced", "full"])
@pytest.mark.parametrize("side", ["u", "vh"])
@pytest.mark.parametrize("shape", sorted(SVD_CASES))
def test_svd_values_and_a_simple_singular_vector_next_to_a_repeated_value(shape, side, full):
    a0 = SVD_CASES[shape]
    g = _grads(lambda a: _svd_loss(side, *gg.svd(a, full_matrices=full), gg), a0)
    _check_fd(g, lambda a: _svd_loss(side, *np.linalg.svd(a, full_matrices=full), np), a0,
              hermitian=False)
    torch = _torch()
    t = torch.tensor(a0, requires_grad=True)
    _svd_loss(side, *torch.linalg.svd(t, full_matrices=full), torch).backward()
    _match_torch(g, t.grad.numpy())


def test_svd_values_bitwise_equal_keep_raising_for_values_and_vectors():
    a = gg.tensor(np.diag([3.0, 3.0, 1.0]), requires_grad=True)
    with pytest.raises(ValueError, match=r"svd: .*vanishes"):
        _svd_loss("u", *gg.svd(a), gg).backward()


def test_svd_reconstruction_through_a_zero_singular_value_of_a_tall_matrix_raises():
    """sum(G * U diag(s) Vh) = sum(G * A) (gradient G) at a tall rank-2 matrix: with u2^T G v2
    = 0 the singular values' cotangent is ~0 at s2 ~ 1e-16, and u2's cotangent (G v2 s2) is
    at rounding level; the old rule measured it against the other columns' and answered,
    missing (I - U U^T) G v2 v2^T."""
    rng = np.random.default_rng(3)
    p, r = _orth(4, 4, rng=rng), _orth(3, 3, rng=rng)
    a0 = p[:, :3] @ np.diag([3.0, 2.0, 0.0]) @ r.T
    u, s, vh = np.linalg.svd(a0, full_matrices=False)
    out = np.eye(4) - u @ u.T
    g = (np.outer(out @ rng.standard_normal(4), vh[2]) + np.outer(u[:, 0], vh[0])
         + np.outer(out @ rng.standard_normal(4), vh[0]))
    a = gg.tensor(a0, requires_grad=True)
    uu, ss, vv = gg.svd(a, full_matrices=False)
    with pytest.raises(ValueError, match=r"svd: .*singular value"):
        (gg.tensor(g) * gg.matmul(uu * ss, vv)).sum().backward()


# ================================================================ svd: a zero singular value
def test_svd_value_and_a_vector_of_a_nonzero_value_next_to_a_zero_one_of_a_tall_matrix():
    """s.sum() + f(u[:, 0]) at a tall rank-2 matrix whose third singular value is ~1e-16:
    u[:, 2] and v[:, 2] are left alone (exact zeros), so no error; the answer (a subgradient
    of the nuclear norm, whose kink is at s2 = 0) matches finite differences along every
    direction that keeps the null-space block (u_null^T E v2) at 0."""
    rng = np.random.default_rng(4)
    a0 = _orth(4, 3, rng=rng) @ np.diag([3.0, 2.0, 0.0]) @ _orth(3, 3, rng=rng).T
    u, s, vh = np.linalg.svd(a0)
    assert 0 < s[2] < 1e-14

    def f(uu, ss, lib):
        return ss.sum() + (uu[:, 0] ** 2 * _c(lib, np.arange(1.0, 5.0))).sum()

    g = _grads(lambda a: f(*gg.svd(a, full_matrices=False)[:2], gg), a0)
    null_u, null_v = u[:, 2:], vh[2:].T
    for _ in range(4):
        e = rng.standard_normal(a0.shape)
        e -= null_u @ (null_u.T @ e @ null_v) @ null_v.T
        h = 1e-6
        d = (f(*np.linalg.svd(a0 + h * e, full_matrices=False)[:2], np)
             - f(*np.linalg.svd(a0 - h * e, full_matrices=False)[:2], np)) / (2 * h)
        assert abs((g * e).sum() - d) < 1e-6 * max(1.0, abs(d))


def test_svd_value_and_vectors_at_an_exact_zero_singular_value_raise():
    """diag-like tall input: s2 is exactly 0.0, where U diag(s) Vh has exact zeros on u2 and
    v2 as well: the same cotangents as s.sum() + f(u[:, 0]), so that raises."""
    a0 = np.zeros((4, 3))
    a0[0, 0], a0[1, 1] = 3.0, 2.0
    a = gg.tensor(a0, requires_grad=True)
    u, s, vh = gg.svd(a, full_matrices=False)
    assert s.numpy()[2] == 0.0
    with pytest.raises(ValueError, match=r"svd: .*singular value 0\.0 .*vanishes"):
        (s.sum() + (u[:, 0] ** 2 * gg.tensor(np.arange(1.0, 5.0))).sum()).backward()
