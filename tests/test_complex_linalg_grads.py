"""Complex gradients of the decompositions (eigh, eigvalsh, svd, svdvals, qr, cholesky, pinv,
lstsq, eig, eigvals) beyond the finite-difference and PyTorch sweep
(test_complex_grads_sweep.py): losses that depend on the eigen/singular vectors' free phases
raise ValueError (as PyTorch's "ill-defined"), complex64 stays complex64, second
derivatives, repeated eigenvalues, and the elementwise functions that were refused in a graph
(sign, angle, nanprod, nancumsum, diagflat), whose values must stay NumPy's bit for bit."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

rng = np.random.default_rng(21)


def cz(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


B = cz(3, 3)
TALL = cz(4, 3)
H = B @ B.conj().T + 3 * np.eye(3)


def herm(x):
    return (x + gg.conj(x).mT) / 2


def _grad(f, a):
    t = gg.tensor(a, requires_grad=True)
    f(t).backward()
    return t.grad.numpy()


def _fd(f, a, eps=1e-6):
    """Central differences of the real scalar ``f`` along re and im of every element."""
    g = np.zeros(a.shape, dtype=a.dtype)
    for j in np.ndindex(a.shape):
        for step in (1, 1j):
            up, dn = a.copy(), a.copy()
            up[j] += eps * step
            dn[j] -= eps * step
            with gg.no_grad():
                d = f(gg.tensor(up)).item() - f(gg.tensor(dn)).item()
            g[j] += step * d / (2 * eps)
    return g


# ---------------------------------------------------------------- the phase (gauge) rule
PHASE_DEPENDENT = {
    "eigh": (lambda a: gg.real(gg.eigh(herm(a))[1]).sum(),
             lambda t, a: t.linalg.eigh((a + a.mH) / 2)[1].real.sum(), B),
    "svd_u": (lambda a: gg.real(gg.svd(a, full_matrices=False)[0]).sum(),
              lambda t, a: t.linalg.svd(a, full_matrices=False)[0].real.sum(), TALL),
    "svd_vh": (lambda a: gg.imag(gg.svd(a, full_matrices=False)[2][0, 0]),
               lambda t, a: t.linalg.svd(a, full_matrices=False)[2][0, 0].imag, TALL),
    "eig": (lambda a: gg.real(gnp.linalg.eig(a).eigenvectors).sum(),
            lambda t, a: t.linalg.eig(a)[1].real.sum(), B),
}


@pytest.mark.parametrize("name", sorted(PHASE_DEPENDENT))
def test_a_loss_of_the_vectors_phases_raises(name):
    f, _, a = PHASE_DEPENDENT[name]
    with pytest.raises(ValueError, match=f"{name.split('_')[0]}.*ill-defined.*phase"):
        _grad(f, a)


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(PHASE_DEPENDENT))
def test_pytorch_raises_on_the_same_losses(name):
    torch = pytest.importorskip("torch")
    _, ft, a = PHASE_DEPENDENT[name]
    t = torch.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="ill-defined"):
        ft(torch, t).backward()


def test_svd_pair_phase_is_free_only_in_common():
    # u_i v_i^H is phase-free (a common phase cancels): its gradient exists
    def f(a):  # (one SVD: two calls are two nodes, each of which sees only half the loss)
        u, s, vh = gg.svd(a)
        return gg.real(u[:, :1] @ vh[:1, :] * (1 + 2j)).sum()
    np.testing.assert_allclose(_grad(f, B), _fd(f, B), rtol=1e-6, atol=1e-7)


def test_svd_relative_phase_at_a_zero_singular_value_raises():
    # rank 2: the last pair (u_2, v_2) has s = 0, so even its relative phase is free
    a = cz(3, 2) @ cz(2, 3)
    def f(a):
        u, s, vh = gg.svd(a)
        return gg.real(u[:, 2:] @ vh[2:, :]).sum()  # u_2 v_2^H: no common phase
    with pytest.raises(ValueError, match="svd.*zero singular value"):
        _grad(f, a)
    # a loss of the nonzero singular values alone still has its gradient
    g = lambda a: gg.svdvals(a)[:2].sum()  # noqa: E731
    np.testing.assert_allclose(_grad(g, a), _fd(g, a), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- dtypes and full matrices
CASES = {
    "eigh": lambda a: gg.abs(gg.eigh(herm(a))[1]) ** 2 + gg.eigh(herm(a))[0],
    "eigvalsh": lambda a: gg.eigvalsh(herm(a)),
    "svd": lambda a: gg.abs(gg.svd(a, full_matrices=False)[0]) ** 2,
    "svdvals": gg.svdvals,
    "qr": lambda a: gg.qr(a)[0] + gg.qr(a)[1][0],
    "cholesky": lambda a: gg.cholesky(herm(a) @ gg.conj(herm(a)).mT + gg.tensor(np.eye(3))),
    "pinv": lambda a: gnp.linalg.pinv(a),
    "eig": lambda a: gnp.linalg.eigvals(a) + gg.abs(gnp.linalg.eig(a).eigenvectors[0]) ** 2,
}


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_keeps_the_complex_dtype(name, dtype):
    a = gg.tensor(B.astype(dtype), requires_grad=True)
    out = CASES[name](a)
    (gg.abs(out) ** 2 if out.dtype.kind == "c" else out).sum().backward()
    assert a.grad.dtype == dtype
    assert np.isfinite(a.grad.numpy()).all()


@pytest.mark.parametrize("name", sorted(CASES))
def test_complex64_gradient_is_the_complex128_one_rounded(name):
    def grad(dtype):
        a = gg.tensor(B.astype(dtype), requires_grad=True)
        out = CASES[name](a)
        (gg.abs(out) ** 2 if out.dtype.kind == "c" else out).sum().backward()
        return a.grad.numpy()
    np.testing.assert_allclose(grad(np.complex64), grad(np.complex128), rtol=2e-3, atol=2e-3)


def test_svd_full_matrices_values_only_has_its_gradient():
    torch = pytest.importorskip("torch")
    f = lambda a: (gg.svd(a)[1] ** 2).sum() + gg.abs(gg.svd(a)[0][:, :3]).sum()  # noqa: E731
    ours = _grad(f, TALL)
    np.testing.assert_allclose(ours, _fd(f, TALL), rtol=1e-6, atol=1e-7)
    t = torch.tensor(TALL, requires_grad=True)
    u, s, vh = torch.linalg.svd(t, full_matrices=True)
    ((s ** 2).sum() + u[:, :3].abs().sum()).backward()
    np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-9, atol=1e-11)
    # the extra column of u is any unit vector orthogonal to the others: no gradient
    with pytest.raises(NotImplementedError, match="full_matrices"):
        _grad(lambda a: gg.abs(gg.svd(a)[0][:, 3]).sum(), TALL)


# ---------------------------------------------------------------- second order
TWICE = {
    "eigh": lambda a: gg.abs(gg.eigh(herm(a))[1]) ** 2 * gg.eigh(herm(a))[0],
    "eigvalsh": lambda a: gg.eigvalsh(herm(a)) ** 2,
    "svd": lambda a: (lambda u, s, vh: (u * s ** 2) @ gg.conj(u).mT
                      + gg.conj(vh).mT @ (vh * s[:, None]))(*gg.svd(a, False)),
    "svdvals": lambda a: gg.svdvals(a) ** 2,
    "qr": lambda a: gg.qr(a)[0] * gg.qr(a)[1][0],
    "cholesky": lambda a: gg.cholesky(herm(a) + gg.tensor(4 * np.eye(3))),
    "pinv": lambda a: gnp.linalg.pinv(a),
    "eig": lambda a: gnp.linalg.eigvals(a) ** 2,
}


@pytest.mark.parametrize("name", sorted(TWICE))
def test_complex_second_derivatives(name):
    assert gg.gradgradcheck(TWICE[name], [B], atol=1e-4) is True


# ---------------------------------------------------------------- repeated eigenvalues
def _unitary(n):
    q, _ = np.linalg.qr(cz(n, n))
    return q


def test_repeated_eigenvalues_of_a_complex_hermitian_matrix():
    u = _unitary(3)
    a0 = u @ np.diag([1.0, 1.0, 3.0]) @ u.conj().T
    # a loss of the eigenvalues: its gradient (d sum(w^2) = 2 A)
    g = _grad(lambda a: (gg.eigvalsh(herm(a)) ** 2).sum(), a0)
    np.testing.assert_allclose(g, 2 * a0, atol=1e-9)
    # the eigenvector of the simple eigenvalue: right (phase-free |v|^2)
    def f(a, col=2):
        return (gg.abs(gg.eigh(herm(a))[1][:, col]) ** 2 * gg.tensor([1.0, 2.0, 3.0])).sum()
    np.testing.assert_allclose(_grad(f, a0), _fd(f, a0), rtol=1e-5, atol=1e-6)
    # the eigenvectors of the repeated eigenvalue: no number
    with pytest.raises(ValueError, match="repeated eigenvalue"):
        _grad(lambda a: f(a, col=0), a0)


def test_repeated_complex_eigenvalues_of_eig_raise_with_the_value():
    u = _unitary(3)
    a0 = u @ np.diag([1 + 1j, 1 + 1j, 2.0]) @ np.linalg.inv(u)
    with pytest.raises(ValueError, match=r"repeated eigenvalue \([\d.]+\+[\d.]+j\)"):
        _grad(lambda a: (gg.abs(gnp.linalg.eig(a).eigenvectors) ** 2
                         * gg.tensor(np.arange(9.0).reshape(3, 3))).sum(), a0)


# ---------------------------------------------------------------- eig of a real matrix
def test_eig_of_a_real_matrix_with_complex_eigenvalues_gets_a_real_gradient():
    a0 = np.array([[0.5, -2.0, 0.3], [1.5, 0.2, -0.4], [0.1, 0.7, 1.1]])
    f = lambda a: gg.abs(gnp.linalg.eigvals(a) ** 2 + 1).sum()  # noqa: E731
    t = gg.tensor(a0, requires_grad=True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no ComplexWarning cast)
        f(t).backward()
    assert t.grad.dtype == np.float64
    eps, fd = 1e-6, np.zeros_like(a0)
    for j in np.ndindex(a0.shape):
        up, dn = a0.copy(), a0.copy()
        up[j] += eps
        dn[j] -= eps
        fd[j] = (f(gg.tensor(up)).item() - f(gg.tensor(dn)).item()) / (2 * eps)
    np.testing.assert_allclose(t.grad.numpy(), fd, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- sign, angle, nan-functions
def test_sign_of_complex_is_differentiable_and_zero_at_zero():
    def f(t):
        w = gg.tensor([1.0, 2.0, 3.0, 4.0][:t.shape[0]])
        return (gg.real(gg.sign(t)) * w).sum() + gg.imag(gg.sign(t)).sum()

    z = np.array([1 + 2j, -3j, 0.5 - 0.1j])
    np.testing.assert_allclose(_grad(f, z), _fd(f, z), rtol=1e-6, atol=1e-8)
    # at 0 sgn is not differentiable: 0 there, as torch.sgn's
    assert _grad(f, np.array([1 + 2j, 0j, 1j, 2.0 + 0j]))[1] == 0
    x = gg.tensor([-1.5, 0.0, 2.0], requires_grad=True)  # real: piecewise constant
    gg.sign(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def _bits(ours, ref):
    ref = np.asarray(ref)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    assert np.array_equal(np.isnan(ours.numpy()), np.isnan(ref))
    nan = np.isnan(ref)
    assert np.where(nan, 0, ours.numpy()).tobytes() == np.where(nan, 0, ref).tobytes()


VALUES = [np.array([[0.5, np.nan, -2.0], [3.7, 1e300, np.inf]]), cz(2, 3),
          np.array([[1 + 1j, complex(np.nan, 1.0)], [2.0, -1j]])]


@pytest.mark.parametrize("k", range(len(VALUES)))
def test_graph_versions_give_numpys_bits(k):
    v = VALUES[k]
    t = gg.tensor(v, requires_grad=True)
    for ours, ref in [(gnp.angle(t), np.angle(v)),
                      (gnp.angle(t, deg=True), np.angle(v, deg=True)),
                      (gnp.nanprod(t), np.nanprod(v)),
                      (gnp.nanprod(t, axis=1), np.nanprod(v, axis=1)),
                      (gnp.nanprod(t, axis=0, keepdims=True),
                       np.nanprod(v, axis=0, keepdims=True)),
                      (gnp.nancumsum(t), np.nancumsum(v)),
                      (gnp.nancumsum(t, axis=1), np.nancumsum(v, axis=1)),
                      (gnp.diagflat(t), np.diagflat(v)), (gnp.diagflat(t, -2), np.diagflat(v, -2))]:
        assert ours.requires_grad
        _bits(ours, ref)


def test_nan_functions_give_nans_a_zero_gradient():
    x = gg.tensor([2.0, np.nan, 3.0, 5.0], requires_grad=True)
    gnp.nanprod(x).backward()
    assert x.grad.tolist() == [15.0, 0.0, 10.0, 6.0]
    y = gg.tensor([2.0, np.nan, 3.0], requires_grad=True)
    (gnp.nancumsum(y) * gg.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert y.grad.tolist() == [111.0, 0.0, 100.0]


def test_angle_of_real_input_has_a_zero_gradient():
    x = gg.tensor([-2.0, 3.0], dtype="float64", requires_grad=True)
    out = gnp.angle(x)
    assert out.tolist() == np.angle([-2.0, 3.0]).tolist()
    out.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]


# ---------------------------------------------------------------- on every device
ON_DEVICE = {
    "eigh": lambda a: gg.abs(gg.eigh(herm(a))[1]) ** 2 * gg.eigh(herm(a))[0],
    "svd": lambda a: (lambda u, s, vh: (u * s ** 2) @ gg.conj(u).mT
                      + gg.conj(vh).mT @ (vh * s[:, None]))(*gg.svd(a, False)),
    "svdvals": gg.svdvals,
    "qr": lambda a: gg.qr(a)[0] * gg.qr(a)[1][0],
    "cholesky": lambda a: gg.cholesky(herm(a) + gg.tensor(4 * np.eye(3), device=a.device)),
    "pinv": lambda a: gnp.linalg.pinv(a),
    "sign_angle_nanprod": lambda a: gg.sign(a) * gnp.angle(a) + gnp.nanprod(a, axis=0),
}


@pytest.mark.parametrize("name", sorted(ON_DEVICE))
def test_complex_gradients_on_every_device(name, device):
    def grad(dev):
        a = gg.tensor(B, device=dev, requires_grad=True)
        out = ON_DEVICE[name](a)
        (gg.real(out) + 2 * gg.imag(out)).sum().backward()
        assert a.grad.device == a.device
        return a.grad.numpy() if dev == "cpu" else a.grad.cpu().numpy()
    np.testing.assert_allclose(grad(device), grad("cpu"), rtol=1e-10, atol=1e-12)
