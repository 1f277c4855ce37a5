"""How close two eigen/singular values must be to count as repeated in the decompositions'
gradients (gpugrad.ops.linalg_degenerate).  The tolerance was ``8 * n * eps * max|w|``: in
float32 at n = 300 that is about 1e-3 of the largest value, far beyond what rounding moves a
computed eigenvalue (a few ``sqrt(n) * eps * max|w|``), so a loss through the eigenvectors
of an ordinary random float32 matrix raised ValueError, though its gradient exists and is
computed right.  Values that are equal up to rounding (built as ``Q diag(w) Q^T`` with a
repeated ``w``) must still raise."""
import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")

N = 300


def _sym(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((N, N))
    return ((a + a.T) / 2).astype(np.float32)


def _close_pair(values):
    """The smallest gap between sorted ``values``, relative to ``eps * max|w|``."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    return np.diff(v).min() / (np.finfo(np.float32).eps * abs(v).max())


def _torch_grad(a, fn):
    t = torch.tensor(a.astype(np.float64), requires_grad=True)
    fn(t).backward()
    return t.grad.numpy()


def _assert_close(got, want, rel=1e-2):
    assert np.linalg.norm(got - want) <= rel * np.linalg.norm(want)


def test_eigh_of_random_float32_matrix_gets_its_gradient():
    a = _sym(2)
    gaps = _close_pair(np.linalg.eigvalsh(a))
    assert 30 < gaps < 8 * N   # distinct, but inside the old 8 * n * eps * max|w|
    x = gg.tensor(a, requires_grad=True)
    w, v = gg.eigh(x)
    ((v ** 4).sum() + w.sum()).backward()   # (sign-free in the eigenvectors)
    want = _torch_grad(a, lambda t: (torch.linalg.eigh(t)[1] ** 4).sum()
                       + torch.linalg.eigh(t)[0].sum())
    sym = (want + want.T) / 2   # (torch's gradient need not be symmetric; eigh's reads one)
    _assert_close(x.grad.numpy().astype(np.float64), sym)


def test_svd_of_random_float32_matrix_gets_its_gradient():
    rng = np.random.default_rng(2)
    rng.standard_normal((N, N))
    b = rng.standard_normal((N, N)).astype(np.float32)
    s = np.linalg.svd(b, compute_uv=False)
    assert 30 < _close_pair(s) < 8 * N
    x = gg.tensor(b, requires_grad=True)
    u, s_, vh = gg.svd(x, full_matrices=False)
    ((u ** 4).sum() + (vh ** 4).sum()).backward()

    def f(t):
        U, S, Vh = torch.linalg.svd(t, full_matrices=False)
        return (U ** 4).sum() + (Vh ** 4).sum()
    _assert_close(x.grad.numpy().astype(np.float64), _torch_grad(b, f))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_equal_up_to_rounding_still_raise(dtype):
    n = 256
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    w = 2.0 + rng.random(n)
    w[:3] = 1.0                                   # a threefold eigenvalue
    a = ((q * w) @ q.T).astype(dtype)
    x = gg.tensor(a, requires_grad=True)
    _, v = gg.eigh(x)
    with pytest.raises(ValueError, match="repeated eigenvalue"):
        (v ** 4).sum().backward()
    x = gg.tensor(a, requires_grad=True)
    u, _, _ = gg.svd(x)
    with pytest.raises(ValueError, match="repeated singular value"):
        (u ** 4).sum().backward()
