"""Higher-order gradients through the linear-algebra ops (matmul, dot, inner, outer, tensordot,
einsum, trace, diag, diagonal, tril/triu, norms, inv, det, solve, cholesky, eigh, eigvalsh,
svd, svdvals, qr, slogdet).

Their one backward runs on Tensors under ``create_graph`` and reads only the op's inputs and
its own answer (decompositions: their results, packed in one output), so the gradient can be
differentiated again.  Checked here: gradgradcheck of every op at several shapes, batched
included; Hessians of compositions against PyTorch; third order through matmul chains, inv
and det; complex gradients against PyTorch for the ops marked ``complex_grad``; det and
slogdet of singular matrices.
"""
import zlib

import numpy as np
import pytest

import gpugrad as gg

rng0 = np.random.default_rng(0)


def _np(t):
    return t.numpy() if isinstance(t, gg.Tensor) else np.asarray(t)


# ---------------------------------------------------------------- input domains
def _real(rng, shape):
    return rng.standard_normal(shape)


def _wc(rng, shape):  # well conditioned square matrices (a batch of them); others plain
    if len(shape) < 2 or shape[-1] != shape[-2]:
        return rng.standard_normal(shape)
    return rng.standard_normal(shape) * 0.3 + 2.0 * np.eye(shape[-1])


def _away0(rng, shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0) * rng.uniform(0.5, 2.0, shape)


def _distinct(rng, shape):  # distinct magnitudes (no ties for the inf-norm)
    n = int(np.prod(shape))
    v = (rng.permutation(n) + 1) * 0.3 * np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return v.reshape(shape)


def _spd(a):
    return a @ a.mT + gg.tensor(3.0 * np.eye(a.shape[-1]), dtype=a.dtype, device=a.device)


def _sym(a):
    return 0.5 * (a + a.mT)


# (id, function of tensors, input shapes, domain): each is gradgradcheck-ed on every device
CASES = [
    # matmul and its relatives
    ("matmul_vv", gg.matmul, [(3,), (3,)], _real),
    ("matmul_mv", gg.matmul, [(2, 3), (3,)], _real),
    ("matmul_vm", gg.matmul, [(3,), (3, 4)], _real),
    ("matmul_mm", gg.matmul, [(2, 3), (3, 4)], _real),
    ("matmul_batched", gg.matmul, [(2, 2, 3), (2, 3, 4)], _real),
    ("matmul_broadcast", gg.matmul, [(2, 1, 2, 3), (3, 3, 2)], _real),
    ("matmul_batch_vec", gg.matmul, [(4,), (2, 4, 3)], _real),
    ("matmul_folded", gg.matmul, [(3, 2, 4), (4, 2)], _real),  # a's batch folded into one GEMM
    ("matmul_same_operand", lambda a: a @ a @ a, [(3, 3)], _real),
    ("dot_vv", gg.dot, [(4,), (4,)], _real),
    ("dot_mm", gg.dot, [(2, 3), (3, 2)], _real),
    ("dot_scalar", gg.dot, [(), (3,)], _real),
    ("inner_2d", gg.inner, [(2, 3), (4, 3)], _real),
    ("inner_3d", gg.inner, [(2, 2, 3), (3,)], _real),
    ("outer", gg.outer, [(3,), (2, 2)], _real),
    ("tensordot_int", lambda a, b: gg.tensordot(a, b, axes=1), [(2, 3), (3, 4)], _real),
    ("tensordot_pairs", lambda a, b: gg.tensordot(a, b, axes=([2, 0], [0, 1])),
     [(2, 3, 4), (4, 2, 3)], _real),
    ("tensordot_0", lambda a, b: gg.tensordot(a, b, axes=0), [(2,), (3,)], _real),
    ("einsum_chain3", lambda a, b, c: gg.einsum("ij,jk,kl->il", a, b, c),
     [(2, 3), (3, 4), (4, 2)], _real),
    ("einsum_batched", lambda a, b: gg.einsum("bij,bjk->bik", a, b),
     [(2, 2, 3), (2, 3, 2)], _real),
    ("einsum_broadcast1", lambda a, b: gg.einsum("bij,bjk->bik", a, b),
     [(1, 2, 3), (3, 3, 2)], _real),
    ("einsum_sum_away", lambda a, b: gg.einsum("ijk,k->i", a, b), [(2, 3, 4), (4,)], _real),
    ("einsum_permute", lambda a: gg.einsum("ijk->kj", a), [(2, 3, 4)], _real),
    ("einsum_square", lambda a: gg.einsum("ij,ij->", a, a), [(2, 3)], _real),
    # diagonals, triangles, traces
    ("trace", gg.trace, [(3, 3)], _real),
    ("trace_offset", lambda x: gg.trace(x, 1), [(3, 4)], _real),
    ("trace_axes", lambda x: gg.trace(x, -1, 2, 0), [(3, 2, 4)], _real),
    ("diag_matrix", lambda x: gg.diag(x, 1), [(3, 4)], _real),
    ("diag_matrix_low", lambda x: gg.diag(x, -2), [(5, 3)], _real),
    ("diag_vector", lambda x: gg.diag(x, -1), [(3,)], _real),
    ("diagonal", lambda x: gg.diagonal(x, -1, 0, 2), [(3, 2, 4)], _real),
    ("diagonal_squared", lambda x: gg.diagonal(x * x, 0, 1, 2), [(2, 3, 3)], _real),
    ("tril", lambda x: gg.tril(x * x, -1), [(2, 3, 3)], _real),
    ("triu", lambda x: gg.triu(x * x, 1), [(3, 4)], _real),
    # norms
    ("norm_all", gg.norm, [(2, 3)], _away0),
    ("norm_axis_keepdims", lambda x: gg.norm(x, axis=1, keepdims=True), [(2, 3)], _away0),
    ("norm_fro_axes", lambda x: gg.norm(x, "fro", axis=(0, 2)), [(2, 3, 2)], _away0),
    ("norm_1", lambda x: gg.norm(x * x, 1, axis=0), [(3, 2)], _away0),
    ("norm_inf", lambda x: gg.norm(x * x, np.inf, axis=1), [(2, 3)], _distinct),
    # inverses, determinants, solves
    ("inv", gg.inv, [(3, 3)], _wc),
    ("inv_batched", gg.inv, [(2, 3, 3)], _wc),
    ("det", gg.det, [(3, 3)], _wc),
    ("det_batched", gg.det, [(2, 2, 4, 4)], _wc),
    ("det_1x1", gg.det, [(2, 1, 1)], _wc),
    ("solve_matrix", gg.solve, [(3, 3), (3, 2)], _wc),
    ("solve_vector", gg.solve, [(3, 3), (3,)], _wc),
    ("solve_batched_a", gg.solve, [(2, 3, 3), (3,)], _wc),
    ("solve_broadcast", gg.solve, [(3, 3), (2, 3, 2)], _wc),
    ("slogdet", lambda a: gg.slogdet(a)[1], [(3, 3)], _wc),
    ("slogdet_batched", lambda a: gg.slogdet(a)[1], [(2, 3, 3)], _wc),
    # decompositions (gauge-invariant uses: squares of singular/eigen vectors' entries)
    ("cholesky", lambda a: gg.cholesky(_spd(a)), [(3, 3)], _real),
    ("cholesky_upper_batched", lambda a: gg.cholesky(_spd(a), upper=True), [(2, 3, 3)], _real),
    ("eigh_values", lambda a: gg.eigh(_spd(a))[0], [(2, 3, 3)], _real),
    ("eigh_vectors", lambda a: gg.eigh(_spd(a))[1] ** 2, [(3, 3)], _real),
    ("eigvalsh", lambda a: gg.eigvalsh(_spd(a)), [(2, 3, 3)], _real),
    ("svd_square", lambda a: gg.svd(a)[0] ** 2 + gg.svd(a)[2] ** 2, [(3, 3)], _real),
    ("svd_tall", lambda a: gg.svd(a, full_matrices=False)[0] ** 2, [(4, 3)], _real),
    ("svd_wide_vh", lambda a: gg.svd(a, full_matrices=False)[2] ** 2, [(2, 3, 4)], _real),
    ("svd_values", lambda a: gg.svd(a, full_matrices=False)[1], [(4, 2)], _real),
    ("svdvals_tall", gg.svdvals, [(4, 3)], _real),
    ("svdvals_wide_batched", gg.svdvals, [(2, 2, 3)], _real),
    ("qr_r", lambda a: gg.qr(a)[1] ** 2, [(4, 3)], _real),
    ("qr_q_batched", lambda a: gg.qr(a)[0] ** 2, [(2, 3, 3)], _real),
]


@pytest.mark.parametrize("name,fn,shapes,domain", CASES, ids=[c[0] for c in CASES])
def test_gradgradcheck(name, fn, shapes, domain, device):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    xs = [gg.tensor(domain(rng, s), device=device) for s in shapes]
    assert gg.gradgradcheck(fn, xs)


def test_first_gradient_is_the_same_with_and_without_create_graph(device):
    """The Tensor path of each formula gives the raw path's numbers (det: the cofactors via
    det(A) A^-T instead of the SVD)."""
    rng = np.random.default_rng(5)
    for name, fn, shapes, domain in CASES:
        arrays = [domain(rng, s) for s in shapes]
        grads = []
        for cg in (False, True):
            xs = [gg.tensor(a, device=device, requires_grad=True) for a in arrays]
            out = fn(*xs)
            v = gg.tensor(np.random.default_rng(1).standard_normal(out.shape), device=device)
            grads.append(gg.autograd.grad(out, xs, grad_outputs=v, create_graph=cg))
        for a, b in zip(*grads):
            np.testing.assert_allclose(_np(b), _np(a), rtol=1e-9, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------- Hessians against PyTorch
def _torch():
    return pytest.importorskip("torch")


def _parts(x, shapes):
    """Split flat ``x`` (a gpugrad or torch tensor) into tensors of ``shapes``."""
    out, start = [], 0
    for s in shapes:
        n = int(np.prod(s))
        out.append(x[start:start + n].reshape(s))
        start += n
    return out


def _hess_cases():
    rng = np.random.default_rng(11)
    W = rng.standard_normal((3, 3))
    W4 = rng.standard_normal((4, 3))
    t = lambda a: _torch().tensor(a)  # noqa: E731
    I3 = np.eye(3)
    return [
        # name, shapes of the flat input's parts, gpugrad f, torch f, domain of each part
        ("logdet(A^T A + I)", [(3, 3)],
         lambda A: gg.slogdet(A.mT @ A + gg.tensor(I3))[1],
         lambda A: _torch().linalg.slogdet(A.mT @ A + t(I3))[1], [_real]),
        ("trace(inv(A) B)", [(3, 3), (3, 3)],
         lambda A, Bm: gg.trace(gg.inv(A) @ Bm),
         lambda A, Bm: (_torch().linalg.inv(A) @ Bm).trace(), [_wc, _real]),
        ("||A x - b||^2", [(4, 3), (3,), (4,)],
         lambda A, x, b: gg.norm(A @ x - b) ** 2,
         lambda A, x, b: _torch().linalg.vector_norm(A @ x - b) ** 2, [_real] * 3),
        ("||A x - b|| (norm)", [(4, 3), (3,)],
         lambda A, x: gg.norm(A @ x - gg.tensor(W4[:, 0])),
         lambda A, x: _torch().linalg.vector_norm(A @ x - t(W4[:, 0])), [_real] * 2),
        ("einsum(ij,jk,ki) * einsum(ij,ij)", [(3, 3), (3, 3)],
         lambda A, C: gg.einsum("ij,jk,ki->", A, C, A) * gg.einsum("ij,ij->", C, A),
         lambda A, C: _torch().einsum("ij,jk,ki->", A, C, A) * _torch().einsum("ij,ij->", C, A),
         [_real] * 2),
        ("tensordot/outer/inner", [(2, 3), (3,)],
         lambda A, x: (gg.tensordot(gg.outer(x, x), A, axes=([1], [1])) ** 2).sum()
         + gg.inner(A, x).sum() ** 3,
         lambda A, x: (_torch().tensordot(_torch().outer(x, x), A, dims=([1], [1])) ** 2).sum()
         + _torch().inner(A, x).sum() ** 3, [_real] * 2),
        ("det(A) * trace(A A)", [(3, 3)],
         lambda A: gg.det(A) * gg.trace(A @ A),
         lambda A: _torch().linalg.det(A) * (A @ A).trace(), [_wc]),
        ("solve(A, B)^2 W", [(3, 3), (3, 3)],
         lambda A, Bm: (gg.solve(A, Bm) ** 2 * gg.tensor(W)).sum(),
         lambda A, Bm: (_torch().linalg.solve(A, Bm) ** 2 * t(W)).sum(), [_wc, _real]),
        ("cholesky(A A^T + 3I) W", [(3, 3)],
         lambda A: (gg.cholesky(_spd(A)) * gg.tensor(W)).sum(),
         lambda A: (_torch().linalg.cholesky(A @ A.mT + 3 * t(I3)) * t(W)).sum(), [_real]),
        ("eigvalsh(sym(A))^3", [(3, 3)],
         lambda A: (gg.eigvalsh(_sym(A)) ** 3).sum(),
         lambda A: (_torch().linalg.eigvalsh(0.5 * (A + A.mT)) ** 3).sum(), [_real]),
        ("eigh vectors^2 W", [(3, 3)],
         lambda A: (gg.eigh(_sym(A))[1] ** 2 * gg.tensor(W)).sum(),
         lambda A: (_torch().linalg.eigh(0.5 * (A + A.mT))[1] ** 2 * t(W)).sum(), [_real]),
        ("svdvals(A)^3", [(4, 3)],
         lambda A: (gg.svdvals(A) ** 3).sum(),
         lambda A: (_torch().linalg.svdvals(A) ** 3).sum(), [_real]),
        ("svd u^2, vh^2", [(4, 3)],
         lambda A: (gg.svd(A, full_matrices=False)[0] ** 2 * gg.tensor(W4)).sum()
         + (gg.svd(A, full_matrices=False)[2] ** 2 * gg.tensor(W)).sum(),
         lambda A: (_torch().linalg.svd(A, full_matrices=False)[0] ** 2 * t(W4)).sum()
         + (_torch().linalg.svd(A, full_matrices=False)[2] ** 2 * t(W)).sum(), [_real]),
        ("qr r^2, q^2", [(4, 3)],
         lambda A: (gg.qr(A)[1] ** 2 * gg.tensor(W)).sum() + (gg.qr(A)[0] ** 2
                                                              * gg.tensor(W4)).sum(),
         lambda A: (_torch().linalg.qr(A)[1] ** 2 * t(W)).sum() + (_torch().linalg.qr(A)[0] ** 2
                                                                   * t(W4)).sum(), [_real]),
        ("triangles and diagonals", [(3, 3)],
         lambda A: (gg.tril(A @ A) * gg.triu(A.mT @ A, -1)).sum() + (gg.diag(A @ A) ** 3).sum()
         + (gg.diagonal(A @ A, 1) ** 2).sum(),
         lambda A: ((A @ A).tril() * (A.mT @ A).triu(-1)).sum() + ((A @ A).diag() ** 3).sum()
         + ((A @ A).diagonal(1) ** 2).sum(), [_real]),
        ("inv(B) of sum", [(2, 2, 2)],
         lambda A: (gg.inv(A + gg.tensor(2 * np.eye(2))) ** 2).sum(),
         lambda A: (_torch().linalg.inv(A + 2 * t(np.eye(2))) ** 2).sum(), [_real]),
    ]


HESSIANS = _hess_cases()  # (PyTorch is imported only when a case runs)


@pytest.mark.torch
@pytest.mark.parametrize("case", range(len(HESSIANS)), ids=[h[0] for h in HESSIANS])
def test_hessian_matches_torch(case):
    torch = _torch()
    name, shapes, f_gg, f_t, doms = HESSIANS[case]
    rng = np.random.default_rng(case)
    x0 = np.concatenate([d(rng, s).ravel() for d, s in zip(doms, shapes)])
    h_gg = gg.hessian(lambda x: f_gg(*_parts(x, shapes)))(x0)
    h_t = torch.autograd.functional.hessian(lambda x: f_t(*_parts(x, shapes)),
                                            torch.tensor(x0)).numpy()
    np.testing.assert_allclose(_np(h_gg), h_t, rtol=1e-8, atol=1e-9, err_msg=name)
    assert np.abs(h_t).max() > 1e-3


# ---------------------------------------------------------------- third order
def _third(f_gg, x0, u, w, device="cpu"):
    x = gg.tensor(x0, device=device, requires_grad=True)
    (g1,) = gg.autograd.grad(f_gg(x), [x], create_graph=True)
    (g2,) = gg.autograd.grad((g1 * gg.tensor(u, device=device)).sum(), [x], create_graph=True)
    (g3,) = gg.autograd.grad((g2 * gg.tensor(w, device=device)).sum(), [x])
    return _np(g3)


def _third_torch(f_t, x0, u, w):
    torch = _torch()
    x = torch.tensor(x0, requires_grad=True)
    (g1,) = torch.autograd.grad(f_t(x), [x], create_graph=True)
    (g2,) = torch.autograd.grad((g1 * torch.tensor(u)).sum(), [x], create_graph=True)
    (g3,) = torch.autograd.grad((g2 * torch.tensor(w)).sum(), [x])
    return g3.numpy()


def test_third_order_matmul_chain_closed_form(device):
    """f(A) = trace(A^4): the third derivative T(U, W, .) = 4 * sum over the 6 orderings of
    U, W, and the slot, of the cyclic products, which is 12 * sym(A U W + A W U + ...)^T."""
    rng = np.random.default_rng(2)
    a, u, w = (rng.standard_normal((3, 3)) for _ in range(3))
    got = _third(lambda x: gg.trace(x @ x @ x @ x), a, u, w, device)
    # d^3/dA^3 of tr(A^4) in directions U, W: 4 * d^2 tr(A^3 dA) -> gradient
    # 4 * (A U W + A W U + U A W + W A U + U W A + W U A)^T
    expect = 4 * (a @ u @ w + a @ w @ u + u @ a @ w + w @ a @ u + u @ w @ a + w @ u @ a).T
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-10)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["matmul_chain", "einsum_tensordot", "inv", "det", "solve",
                                  "slogdet", "eigvalsh", "cholesky"])
def test_third_order_matches_torch(name):
    torch = _torch()
    rng = np.random.default_rng(3)
    C = rng.standard_normal((3, 3))
    fs = {
        "matmul_chain": (lambda A: ((A @ gg.tensor(C) @ A.mT @ A) ** 2).sum(),
                         lambda A: ((A @ torch.tensor(C) @ A.mT @ A) ** 2).sum(), _real),
        "einsum_tensordot": (
            lambda A: gg.tensordot(gg.einsum("ij,jk->ik", A, A), A, axes=2) ** 2,
            lambda A: torch.tensordot(torch.einsum("ij,jk->ik", A, A), A, dims=2) ** 2, _real),
        "inv": (lambda A: (gg.inv(A) ** 2).sum(), lambda A: (torch.linalg.inv(A) ** 2).sum(),
                _wc),
        "det": (lambda A: gg.det(A) ** 2, lambda A: torch.linalg.det(A) ** 2, _wc),
        "solve": (lambda A: (gg.solve(A, gg.tensor(C)) ** 2).sum(),
                  lambda A: (torch.linalg.solve(A, torch.tensor(C)) ** 2).sum(), _wc),
        "slogdet": (lambda A: gg.slogdet(A)[1], lambda A: torch.linalg.slogdet(A)[1], _wc),
        "eigvalsh": (lambda A: (gg.eigvalsh(_sym(A)) ** 4).sum(),
                     lambda A: (torch.linalg.eigvalsh(0.5 * (A + A.mT)) ** 4).sum(), _real),
        "cholesky": (lambda A: (gg.cholesky(_spd(A)) ** 3).sum(),
                     lambda A: (torch.linalg.cholesky(A @ A.mT + 3 * torch.eye(
                         3, dtype=A.dtype)) ** 3).sum(), _real),
    }
    f_gg, f_t, dom = fs[name]
    a = dom(rng, (3, 3))
    u, w = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    got, expect = _third(f_gg, a, u, w), _third_torch(f_t, a, u, w)
    np.testing.assert_allclose(got, expect, rtol=1e-8, atol=1e-9)
    assert np.abs(expect).max() > 1e-3


def test_fourth_order_of_det_is_zero_for_3x3(device):
    """det of a 3x3 matrix is a cubic: its third derivative is constant, the fourth zero."""
    rng = np.random.default_rng(4)
    a, u, w, z = (rng.standard_normal((3, 3)) for _ in range(4))
    x = gg.tensor(a, device=device, requires_grad=True)
    (g1,) = gg.autograd.grad(gg.det(x), [x], create_graph=True)
    (g2,) = gg.autograd.grad((g1 * gg.tensor(u, device=device)).sum(), [x], create_graph=True)
    (g3,) = gg.autograd.grad((g2 * gg.tensor(w, device=device)).sum(), [x], create_graph=True)
    (g4,) = gg.autograd.grad((g3 * gg.tensor(z, device=device)).sum(), [x], allow_unused=True)
    assert g4 is None or np.abs(_np(g4)).max() < 1e-9
    # the third derivative is the same at another point
    x2 = gg.tensor(a + 5.0, device=device, requires_grad=True)
    (h1,) = gg.autograd.grad(gg.det(x2), [x2], create_graph=True)
    (h2,) = gg.autograd.grad((h1 * gg.tensor(u, device=device)).sum(), [x2], create_graph=True)
    (h3,) = gg.autograd.grad((h2 * gg.tensor(w, device=device)).sum(), [x2])
    np.testing.assert_allclose(_np(h3), _np(g3), rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- singular matrices
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]])  # rank 2
RANK1 = np.outer([1.0, 2.0, -1.0], [0.5, 1.0, 3.0])                    # cofactors all 0


def _cofactor_np(a):
    n = a.shape[-1]
    c = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            m = np.delete(np.delete(a, i, 0), j, 1)
            c[i, j] = (-1) ** (i + j) * np.linalg.det(m)
    return c


@pytest.mark.parametrize("a", [SINGULAR, RANK1, np.zeros((3, 3))], ids=["rank2", "rank1", "0"])
def test_det_of_singular_matrix_twice_differentiable(a, device):
    """The gradient of det is the cofactor matrix (finite); under create_graph it is the
    matrix of signed minors, differentiable at singular A too."""
    for cg in (False, True):
        x = gg.tensor(a, device=device, requires_grad=True)
        (g,) = gg.autograd.grad(gg.det(x), [x], create_graph=cg)
        np.testing.assert_allclose(_np(g), _cofactor_np(a), atol=1e-12)
    assert gg.gradgradcheck(gg.det, [gg.tensor(a, device=device)])
    # the Hessian of det at A, in direction U: d cofactor(A + tU)/dt at t=0
    u = np.random.default_rng(0).standard_normal((3, 3))
    got = gg.hvp(gg.det, a, u)
    fd = (_cofactor_np(a + 1e-6 * u) - _cofactor_np(a - 1e-6 * u)) / 2e-6
    np.testing.assert_allclose(_np(got), fd, rtol=1e-6, atol=1e-6)


def test_det_batched_mixing_singular_and_regular(device):
    a = np.stack([SINGULAR, _wc(rng0, (3, 3))])
    assert gg.gradgradcheck(gg.det, [gg.tensor(a, device=device)])


@pytest.mark.torch
def test_slogdet_of_singular_matrix_like_torch():
    """sign 0, logabsdet -inf, and an infinite gradient where PyTorch's is, with the signs of
    the cofactors (PyTorch's signs come from its LU's zero pivot; ours from +0)."""
    torch = _torch()
    for a in (np.array([[1.0, 2.0], [2.0, 4.0]]), np.array([[2.0, 4.0], [1.0, 2.0]])):
        x = gg.tensor(a, requires_grad=True)
        sign, logabs = gg.slogdet(x)
        assert sign.item() == 0 and logabs.item() == -np.inf
        logabs.backward()
        t = torch.tensor(a, requires_grad=True)
        ts, tl = torch.linalg.slogdet(t)
        assert ts.item() == 0 and tl.item() == -np.inf
        tl.backward()
        np.testing.assert_array_equal(np.isinf(x.grad.numpy()), np.isinf(t.grad.numpy()))
        np.testing.assert_array_equal(x.grad.numpy(), np.sign(_cofactor_np(a)) * np.inf)


def test_slogdet_sign_only_of_singular_matrix_has_zero_gradient(device):
    """Only the sign is used: its gradient is 0 and nothing is inverted (no LinAlgError)."""
    for cg in (False, True):
        x = gg.tensor(SINGULAR, device=device, requires_grad=True)
        (g,) = gg.autograd.grad(gg.slogdet(x)[0] * 3.0, [x], create_graph=cg)
        np.testing.assert_array_equal(_np(g), np.zeros((3, 3)))


def test_slogdet_singular_in_a_batch(device):
    """No LinAlgError: the singular matrix gets cofactor/0 (+-inf where the cofactor is not
    0), the invertible ones their finite gradient A^-T, with and without create_graph."""
    reg = _wc(np.random.default_rng(1), (3, 3))
    a = np.stack([reg, np.array([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0], [0.0, 1.0, 1.0]])])
    for cg in (False, True):
        x = gg.tensor(a, device=device, requires_grad=True)
        sign, logabs = gg.slogdet(x)
        assert _np(sign)[1] == 0 and _np(logabs)[1] == -np.inf
        with np.errstate(all="ignore"):
            (g,) = gg.autograd.grad(logabs.sum(), [x], create_graph=cg)
        g = _np(g)
        np.testing.assert_allclose(g[0], np.linalg.inv(reg).T, rtol=1e-10)
        cof = _cofactor_np(a[1])
        big = np.abs(cof) > 1e-6
        assert np.isinf(g[1][big]).all() and big.any()


# ---------------------------------------------------------------- complex gradients
def _cplx(rng, shape, wc=False):
    z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return z * 0.3 + 2 * np.eye(shape[-1]) if wc else z


COMPLEX = [
    ("matmul_broadcast", gg.matmul, "matmul", [(2, 1, 2, 3), (3, 3, 2)], False),
    ("matmul_vec", gg.matmul, "matmul", [(3,), (2, 3, 4)], False),
    ("matmul_vv", gg.matmul, "matmul", [(3,), (3,)], False),
    ("einsum3", lambda a, b, c: gg.einsum("ij,jk,k->i", a, b, c),
     lambda a, b, c: _torch().einsum("ij,jk,k->i", a, b, c), [(2, 3), (3, 4), (4,)], False),
    ("tensordot", lambda a, b: gg.tensordot(a, b, axes=([1, 2], [0, 1])),
     lambda a, b: _torch().tensordot(a, b, dims=([1, 2], [0, 1])), [(2, 3, 4), (3, 4, 2)],
     False),
    ("outer_inner", lambda a, b: gg.outer(a, b) * gg.inner(b, b),
     lambda a, b: _torch().outer(a, b) * _torch().inner(b, b), [(3,), (4,)], False),
    ("dot_scalar", gg.dot, lambda a, b: a * b, [(), (3,)], False),
    ("inv", gg.inv, lambda a: _torch().linalg.inv(a), [(2, 3, 3)], True),
    ("det", gg.det, lambda a: _torch().linalg.det(a), [(2, 3, 3)], True),
    ("solve_vec", gg.solve, lambda a, b: _torch().linalg.solve(a, b), [(3, 3), (3,)], True),
    ("solve_broadcast", gg.solve, lambda a, b: _torch().linalg.solve(a, b),
     [(3, 3), (2, 3, 2)], True),
    ("slogdet_logabs", lambda a: gg.slogdet(a)[1], lambda a: _torch().linalg.slogdet(a)[1],
     [(2, 3, 3)], True),
    ("slogdet_sign", lambda a: gg.slogdet(a)[0], lambda a: _torch().linalg.slogdet(a)[0],
     [(2, 3, 3)], True),
    ("slogdet_both", lambda a: gg.slogdet(a)[0] * gg.slogdet(a)[1].astype("complex128"),
     lambda a: _torch().linalg.slogdet(a)[0] * _torch().linalg.slogdet(a)[1], [(3, 3)], True),
    ("trace_diag_tril", lambda a: gg.trace(a) * gg.diag(gg.tril(a)) + gg.diagonal(gg.triu(a)),
     lambda a: a.trace() * a.tril().diag() + a.triu().diagonal(), [(3, 3)], False),
    ("diag_vector", lambda a: gg.diag(a, 1), lambda a: a.diag(1), [(3,)], False),
    ("norm", lambda a: gg.norm(a, axis=1), lambda a: _torch().linalg.vector_norm(a, dim=1),
     [(2, 3)], False),
    # decompositions, by results that do not depend on the eigen/singular vectors' phases
    ("cholesky", lambda z: gg.cholesky(z @ gg.conj(z).mT + gg.tensor(3 * np.eye(3))),
     lambda z: _torch().linalg.cholesky(z @ z.mH + 3 * _torch().eye(3)), [(2, 3, 3)], False),
    ("eigvalsh", lambda z: gg.eigvalsh(z @ gg.conj(z).mT),
     lambda z: _torch().linalg.eigvalsh(z @ z.mH), [(2, 3, 3)], False),
    ("svdvals_wide", gg.svdvals, lambda z: _torch().linalg.svdvals(z), [(2, 3, 4)], False),
    ("qr_q_r", lambda z: gg.qr(z)[0] @ gg.qr(z)[1][..., :1] + gg.qr(z)[1][..., :1, :],
     lambda z: (lambda q, r: q @ r[..., :1] + r[..., :1, :])(*_torch().linalg.qr(z)),
     [(2, 4, 3)], False),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,f_gg,f_t,shapes,wc", COMPLEX, ids=[c[0] for c in COMPLEX])
def test_complex_gradients_match_torch(name, f_gg, f_t, shapes, wc):
    torch = _torch()
    if f_t == "matmul":
        f_t = torch.matmul
    rng = np.random.default_rng(8)
    zs = [_cplx(rng, s, wc and len(s) >= 2 and i == 0) for i, s in enumerate(shapes)]
    t_in = [torch.tensor(z, requires_grad=True) for z in zs]
    t_out = f_t(*t_in)
    vr, vi = rng.standard_normal(t_out.shape), rng.standard_normal(t_out.shape)
    t_loss = (t_out.real * torch.tensor(vr)).sum()
    if t_out.is_complex():
        t_loss = t_loss + (t_out.imag * torch.tensor(vi)).sum()
    t_grads = torch.autograd.grad(t_loss, t_in)
    g_in = [gg.tensor(z, requires_grad=True) for z in zs]
    out = f_gg(*g_in)
    loss = (gg.real(out) * gg.tensor(vr)).sum()
    if out.dtype.kind == "c":
        loss = loss + (gg.imag(out) * gg.tensor(vi)).sum()
    g_grads = gg.autograd.grad(loss, g_in)
    for g, t in zip(g_grads, t_grads):
        np.testing.assert_allclose(g.numpy(), t.resolve_conj().numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.torch
def test_complex_gradient_of_a_real_operand_is_the_real_part():
    """matmul of a real and a complex operand: the real one's gradient is real (PyTorch's
    rule), with no ComplexWarning."""
    torch = _torch()
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((2, 3)), _cplx(rng, (3, 2))
    x = gg.tensor(a, requires_grad=True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gg.real(gg.matmul(x, gg.tensor(b))).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    (t.to(torch.complex128) @ torch.tensor(b)).real.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- refusals that remain
def test_undefined_gradients_still_raise():
    x = gg.tensor(rng0.standard_normal((4, 3)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        gg.svd(x)[0].sum().backward()
    y = gg.tensor(rng0.standard_normal((3, 4)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="m >= n"):
        gg.qr(y)[1].sum().backward()


def test_twice_differentiable_flags():
    from gpugrad.ops import extra_linalg as el
    from gpugrad.ops import linalg as la
    from gpugrad.ops import matrix as mx

    for cls in (la.MatMul, la.TensorDot, la.Einsum, mx.Trace, mx.Diag, mx.Norm2, mx.Norm1,
                mx.NormInf, mx.Inv, mx.Det, mx.Solve, el._Tri, el.Diagonal, el.DiagEmbed,
                el.Cholesky, el.Eigh, el.EigvalsH, el.Svd, el.SvdVals, el.Qr, el.SlogDet):
        assert cls.twice_differentiable, cls.__name__
    for cls in (la.MatMul, la.TensorDot, la.Einsum, mx.Trace, mx.Diag, mx.Inv, mx.Det,
                mx.Solve, el._Tri, el.Diagonal, el.DiagEmbed, el.SlogDet, mx.Norm2,
                el.Cholesky, el.Eigh, el.EigvalsH, el.Svd, el.SvdVals, el.Qr):
        assert cls.complex_grad, cls.__name__
