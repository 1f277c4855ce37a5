"""Gradients of spectral decompositions at repeated eigenvalues / singular values: right, or a
clear error -- never a silently basis-dependent or zeroed answer.

At a repeated eigenvalue the eigenvectors of its eigenspace are any rotation of each other.
A loss of the eigenvalues alone (a symmetric function of the repeated ones) has a gradient the
backward gets right.  A loss that reaches those eigenvectors raises: when it depends on the
chosen basis the gradient does not exist, and even when it does not (a projector, a
reconstruction ``V diag(f(w)) V^T``) the in-eigenspace part of the gradient depends on f'
which the eigenvector cotangent does not carry (the projector and ``V_b diag(w_b) V_b^T`` at
w_b = 1 reach backward with the same gV and have different gradients), so zeroing
those terms -- the old behaviour -- was silently wrong for reconstructions.
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(7)


def _rot(n, rng=RNG):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q


def _grad(f, a0, create_graph=False):
    a = gg.tensor(a0.copy(), requires_grad=True)
    (ga,) = gg.autograd.grad(f(a), [a], create_graph=create_graph)
    return a, ga


def _fd(fnp, a0, sym, n_dirs=4, h=1e-6):
    """Directional derivatives of the NumPy reference ``fnp`` along random (symmetric when
    ``sym``) directions: [(E, d)]."""
    out = []
    for _ in range(n_dirs):
        e = RNG.standard_normal(a0.shape)
        if sym:
            e = e + e.T
        out.append((e, (fnp(a0 + h * e) - fnp(a0 - h * e)) / (2 * h)))
    return out


def _check_fd(ga, fnp, a0, sym, tol=1e-6):
    g = np.asarray(ga.data if hasattr(ga, "data") else ga)
    for e, d in _fd(fnp, a0, sym):
        assert abs((g * e).sum() - d) < tol * max(1.0, abs(d)), ((g * e).sum(), d)


DEG = np.diag([1.0, 1.0, 2.0])
Q = _rot(3)
DEG_ROT = Q @ DEG @ Q.T  # repeated eigenvalue 1, equal only up to rounding


# ================================================================ eigh: eigenvalue losses
@pytest.mark.parametrize("a0", [DEG, DEG_ROT, np.eye(3), np.zeros((3, 3))],
                         ids=["diag", "rotated", "eye", "zeros"])
@pytest.mark.parametrize("name", ["sum", "square", "exp", "cluster_sum"])
def test_eigh_value_losses_at_repeated_eigenvalues(a0, name):
    f, fnp = {
        "sum": (lambda w: w.sum(), lambda w: w.sum()),
        "square": (lambda w: (w * w).sum(), lambda w: (w * w).sum()),
        "exp": (lambda w: gg.exp(w).sum(), lambda w: np.exp(w).sum()),
        "cluster_sum": (lambda w: w[:2].sum() * 3.0 + w[2], lambda w: w[:2].sum() * 3 + w[2]),
    }[name]
    if name == "cluster_sum" and a0 is not DEG and a0 is not DEG_ROT:
        pytest.skip("w[:2] is a whole eigenspace only for diag(1, 1, 2)")
    for fn in (lambda a: f(gg.eigh(a)[0]), lambda a: f(gg.eigvalsh(a))):
        _, ga = _grad(fn, a0)
        _check_fd(ga, lambda a: fnp(np.linalg.eigvalsh(a)), a0, sym=True)


def test_eigh_value_gradient_is_twice_the_matrix_for_sum_of_squares():
    _, ga = _grad(lambda a: (gg.eigvalsh(a) ** 2).sum(), DEG_ROT)
    np.testing.assert_allclose(ga.data, 2 * DEG_ROT, atol=1e-12)


def test_eigh_eigenvector_of_simple_eigenvalue_next_to_a_repeated_one():
    """V[:, 2] (eigenvalue 2, simple) is smooth at diag(1, 1, 2): no error, the right
    gradient; a sign-invariant loss of it, plus its eigenvalue."""
    c = np.array([1.0, 2.0, 3.0])

    def f(a):
        w, v = gg.eigh(a)
        return w[2] + (v[:, 2] ** 2 * gg.tensor(c)).sum()

    def fnp(a):
        w, v = np.linalg.eigh(a)
        return w[2] + (v[:, 2] ** 2 * c).sum()

    for a0 in (DEG, DEG_ROT):
        _, ga = _grad(f, a0)
        _check_fd(ga, fnp, a0, sym=True)


# ================================================================ eigh: eigenvector losses
def _v0(a):
    return gg.eigh(a)[1][:, 0].sum()


def _projector(a):
    v = gg.eigh(a)[1]
    p = gg.matmul(v[:, :2], v[:, :2].T)
    return (p * gg.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])).sum()


G_OFF = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def _reconstruction(a):
    w, v = gg.eigh(a)
    return (gg.matmul(v * w, v.T) * gg.tensor(G_OFF)).sum()


@pytest.mark.parametrize("a0", [DEG, DEG_ROT, np.eye(3)], ids=["diag", "rotated", "eye"])
@pytest.mark.parametrize("f", [_v0, _projector, _reconstruction],
                         ids=["basis_dependent", "projector", "reconstruction"])
def test_eigh_eigenvector_losses_at_repeated_eigenvalue_raise(a0, f):
    a = gg.tensor(a0.copy(), requires_grad=True)
    loss = f(a)
    with pytest.raises(ValueError, match=r"eigh: .*repeated eigenvalue"):
        loss.backward()


def test_values_and_vectors_together_at_a_repeated_eigenvalue_raise():
    """V diag(w) V^T at a repeated 0: gV is 0 on that eigenspace (the factor w vanishes), so
    the coupling looks clean, but the true gradient is ones (the loss is sum(A)); the old
    answer had zeros at [0, 1] and [1, 0].  Where the repeated values are computed exactly
    equal (diagonal input), using them together with any eigenvector raises, since exact
    zeros there prove nothing; the same loss without the eigenvalue term works.  (With
    values equal only up to rounding: test_linalg_degenerate_reach.py.)"""
    a0 = np.diag([0.0, 0.0, 2.0])
    a = gg.tensor(a0, requires_grad=True)
    w, v = gg.eigh(a)
    with pytest.raises(ValueError, match=r"eigh: .*repeated \(or zero\) eigenvalue 0.0"):
        gg.matmul(v * w, v.T).sum().backward()
    a = gg.tensor(np.diag([1.0, 1.0, 2.0]), requires_grad=True)
    w, v = gg.eigh(a)
    with pytest.raises(ValueError, match="eigh: "):
        (w.sum() + (v[:, 2] ** 2).sum()).backward()


def test_svd_reconstruction_with_zero_singular_values_raises():
    """sum(C * U diag(s) Vh) = sum(C * A) has gradient C; at repeated zero singular values (square)
    or one zero singular value of a tall matrix, the singular vectors of 0 get gU = 0, and the
    old answer missed entries.  Now: an error."""
    for a0, full in ((np.diag([2.0, 0.0, 0.0]), True),
                     (np.outer([1.0, 2.0, 2.0], [1.0, 1.0]), False)):
        a = gg.tensor(a0, requires_grad=True)
        u, s, vh = gg.svd(a, full_matrices=full)
        c = gg.tensor(np.arange(1.0, 1.0 + a0.size).reshape(a0.shape))
        with pytest.raises(ValueError, match=r"svd: .*singular value 0.0"):
            (gg.matmul(u * s, vh) * c).sum().backward()


def test_reconstruction_gradient_is_not_the_zeroed_one():
    """Why the basis-independent reconstruction must raise: its true gradient at diag(1, 1, 2)
    is G_OFF (the loss is <G_OFF, A>), while zeroing the repeated pair's terms gave 0."""
    d = _fd(lambda a: (a * G_OFF).sum(), DEG, sym=True, n_dirs=1)[0]
    assert abs((G_OFF * d[0]).sum() - d[1]) < 1e-8 and abs(d[1]) > 1e-3


def test_eigh_basis_dependent_error_names_the_value_and_a_way_out():
    a = gg.tensor(DEG.copy(), requires_grad=True)
    with pytest.raises(ValueError) as err:
        _v0(a).backward()
    msg = str(err.value)
    assert "eigh" in msg and "1.0" in msg and "eigenvalues only" in msg


def test_eigh_batch_reports_only_the_degenerate_matrix():
    a0 = np.stack([np.diag([1.0, 2.0, 3.0]), DEG])
    a = gg.tensor(a0, requires_grad=True)
    with pytest.raises(ValueError, match=r"matrix \(1,\)"):
        gg.eigh(a)[1][..., 0].sum().backward()
    a = gg.tensor(a0[:1].copy(), requires_grad=True)  # the distinct one alone: fine
    gg.eigh(a)[1][..., 0].sum().backward()
    assert np.isfinite(a.grad.data).all()


def test_eigh_distinct_eigenvalues_match_torch():
    torch = pytest.importorskip("torch")
    a0 = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 3.0]])
    a = gg.tensor(a0, requires_grad=True)
    w, v = gg.eigh(a)
    (w.sum() + (v ** 3).sum()).backward()
    t = torch.tensor(a0, requires_grad=True)
    tw, tv = torch.linalg.eigh(t)
    (tw.sum() + (tv ** 3).sum()).backward()
    np.testing.assert_allclose(a.grad.data, t.grad.numpy(), atol=1e-10)


def test_eigh_higher_order_at_repeated_eigenvalue():
    """create_graph: the first derivative of an eigenvalue loss is right; the second pass
    reaches the eigenvectors of the repeated eigenspace and raises (never a silent zero)."""
    a, ga = _grad(lambda t: (gg.eigvalsh(t) ** 2).sum(), DEG, create_graph=True)
    np.testing.assert_allclose(ga.data, 2 * DEG, atol=1e-12)
    with pytest.raises(ValueError, match="eigh: .*repeated"):
        gg.autograd.grad((ga * gg.tensor(G_OFF)).sum(), [a])


def test_eigh_higher_order_at_distinct_eigenvalues():
    a0 = np.diag([1.0, 2.0, 4.0]) + 0.1
    a, ga = _grad(lambda t: (gg.eigvalsh(t) ** 2).sum(), a0, create_graph=True)
    (h,) = gg.autograd.grad((ga * gg.tensor(G_OFF)).sum(), [a])
    np.testing.assert_allclose(h.data, 2 * G_OFF, atol=1e-9)  # d<G, 2A>/dA = 2G


def test_complex_hermitian_eigh_phase_dependent_loss_is_a_clear_error():
    """A loss that depends on the complex eigenvectors' phases has no gradient: ValueError
    (PyTorch raises too, with the same "ill-defined")."""
    torch = pytest.importorskip("torch")
    a0 = np.array([[2.0, 1j], [-1j, 3.0]])
    a = gg.tensor(a0, requires_grad=True)
    with pytest.raises(ValueError, match="eigh.*ill-defined"):
        v = gg.eigh(a)[1]
        (gg.real(v).sum() + gg.imag(v).sum()).backward()
    t = torch.tensor(a0, requires_grad=True)
    tv = torch.linalg.eigh(t)[1]
    with pytest.raises(RuntimeError, match="ill-defined"):
        (tv.real.sum() + tv.imag.sum()).backward()


# ================================================================ svd
S_DEG = _rot(3) @ np.diag([3.0, 3.0, 1.0]) @ _rot(3).T


@pytest.mark.parametrize("a0", [np.eye(3), np.diag([3.0, 3.0, 1.0]), S_DEG, _rot(3)],
                         ids=["eye", "diag", "rotated", "orthogonal"])
def test_svd_value_losses_at_repeated_singular_values(a0):
    cases = [(lambda s: s.sum(), lambda s: s.sum()),
             (lambda s: (s * s).sum(), lambda s: (s * s).sum())]
    for f, fnp in cases:
        ref = lambda a: fnp(np.linalg.svd(a, compute_uv=False))  # noqa: E731
        for fn in (lambda a: f(gg.svd(a)[1]), lambda a: f(gg.svdvals(a))):
            _, ga = _grad(fn, a0)
            _check_fd(ga, ref, a0, sym=False)
    _, ga = _grad(lambda a: gnp.linalg.norm(a, "nuc"), a0)  # nuclear norm: U V^T
    _check_fd(ga, lambda a: np.linalg.norm(a, "nuc"), a0, sym=False)


def _u0(a):
    return gg.svd(a)[0][:, 0].sum()


def _svd_reconstruction(a):
    u, s, vh = gg.svd(a)
    return gg.matmul(u * s, vh).sum()


@pytest.mark.parametrize("a0", [np.eye(3), S_DEG, _rot(3)], ids=["eye", "rotated", "orthogonal"])
@pytest.mark.parametrize("f", [_u0, _svd_reconstruction], ids=["u_column", "reconstruction"])
def test_svd_vector_losses_at_repeated_singular_values_raise(a0, f):
    """The reconstruction U diag(s) Vh = A has gradient ones, but the old zeroed terms gave
    the identity at A = I: the singular-vector part of the gradient is not determined there."""
    a = gg.tensor(a0.copy(), requires_grad=True)
    loss = f(a)
    with pytest.raises(ValueError, match=r"svd: .*repeated singular value"):
        loss.backward()


def test_svd_vectors_of_simple_singular_values_still_work():
    a0 = np.diag([3.0, 2.0, 1.0]) + 0.05 * RNG.standard_normal((3, 3))

    def fnp(a):
        u, s, vh = np.linalg.svd(a)
        return (u[:, 0] ** 2 * np.array([1.0, 2.0, 3.0])).sum() + (u * s) @ vh @ np.ones(3) @ np.ones(3)

    def f(a):
        u, s, vh = gg.svd(a)
        return ((u[:, 0] ** 2 * gg.tensor([1.0, 2.0, 3.0])).sum()
                + gg.matmul(u * s, vh).sum())

    _, ga = _grad(f, a0)
    _check_fd(ga, fnp, a0, sym=False)


def test_svd_null_space_vector_of_a_tall_matrix_raises():
    """A (3, 2) matrix of rank 1: u[:, 1] is any unit vector orthogonal to u[:, 0] (s1 = 0),
    so a loss of it has no gradient; values-only losses still work."""
    a0 = np.outer([1.0, 2.0, 2.0], [1.0, 1.0])
    a = gg.tensor(a0, requires_grad=True)
    loss = gg.svd(a, full_matrices=False)[0][:, 1].sum()
    with pytest.raises(ValueError, match=r"svd: .*singular value 0"):
        loss.backward()
    _, ga = _grad(lambda t: (gg.svdvals(t) ** 2).sum(), a0)
    np.testing.assert_allclose(ga.data, 2 * a0, atol=1e-12)


# ================================================================ eig
def test_eig_eigenvector_loss_at_repeated_eigenvalue_raises_not_nan():
    a = gg.tensor(np.eye(2), requires_grad=True)
    w, v = gnp.linalg.eig(a)
    with pytest.raises(ValueError, match=r"eig: .*repeated eigenvalue"):
        v[:, 0].sum().backward()


def test_eig_simple_eigenvector_next_to_a_repeated_eigenvalue():
    a0 = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.2], [0.0, 0.0, 2.0]])
    c = np.array([1.0, 2.0, 3.0])

    def fnp(a):
        w, v = np.linalg.eig(a)
        i = np.argmax(w.real)
        return w.real[i] + (v[:, i].real ** 2 * c).sum()

    def f(a):
        w, v = gnp.linalg.eig(a)
        return w[2] + (v[:, 2] ** 2 * gg.tensor(c)).sum()

    assert np.argmax(np.linalg.eig(a0)[0]) == 2
    _, ga = _grad(f, a0)
    _check_fd(ga, fnp, a0, sym=False)


def test_eig_eigenvalue_loss_at_repeated_eigenvalue():
    a0 = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, 0.2], [0.0, 0.0, 2.0]])
    _, ga = _grad(lambda a: gnp.linalg.eigvals(a).sum(), a0)
    np.testing.assert_allclose(ga.data, np.eye(3), atol=1e-12)


# ================================================================ pinv (built on the SVD)
@pytest.mark.parametrize("a0", [np.eye(3), _rot(3), 2.0 * _rot(3),
                                np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),
                                np.diag([2.0, 2.0, 0.0])],
                         ids=["eye", "orthogonal", "scaled_orthogonal", "tall", "rank2"])
def test_pinv_gradient_at_repeated_singular_values(a0):
    c = RNG.standard_normal(a0.shape[::-1])
    _, ga = _grad(lambda a: (gnp.linalg.pinv(a) * gg.tensor(c)).sum(), a0)
    if np.linalg.matrix_rank(a0) == min(a0.shape):
        _check_fd(ga, lambda a: (np.linalg.pinv(a) * c).sum(), a0, sym=False)
    else:  # rank kept by the cut: the derivative along perturbations that keep the rank
        u, s, vh = np.linalg.svd(a0)
        r = int((s > 1e-12).sum())
        for _ in range(3):
            e = u[:, :r] @ RNG.standard_normal((r, a0.shape[1])) + \
                RNG.standard_normal((a0.shape[0], r)) @ vh[:r]
            e = e - u[:, r:] @ u[:, r:].T @ e @ vh[r:].T @ vh[r:]
            h = 1e-6

            def ref(t):
                return (np.linalg.pinv(a0 + t * e, rcond=1e-9) * c).sum()

            d = (ref(h) - ref(-h)) / (2 * h)
            assert abs((ga.data * e).sum() - d) < 1e-6 * max(1, abs(d))


def test_pinv_second_order_at_identity():
    a, ga = _grad(lambda t: gnp.linalg.pinv(t).sum(), np.eye(2), create_graph=True)
    np.testing.assert_allclose(ga.data, -np.ones((2, 2)), atol=1e-12)
    (h,) = gg.autograd.grad((ga * gg.tensor([[1.0, 0.0], [0.0, 0.0]])).sum(), [a])
    # d/dA <E, -P^T 1 P^T> at A = I for E = e0 e0^T: the rank-stable pinv's Hessian
    eps = 1e-5
    e = RNG.standard_normal((2, 2))

    def g_of(t):
        p = np.linalg.pinv(np.eye(2) + t * e)
        return -(p.T @ np.ones((2, 2)) @ p.T)[0, 0]

    assert abs((h.data * e).sum() - (g_of(eps) - g_of(-eps)) / (2 * eps)) < 1e-6
