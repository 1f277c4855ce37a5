"""Autocast and linear algebra: the decompositions, inverses, determinants and solves are
float32 ops under autocast (PyTorch's CPU autocast list: a bfloat16 matmul's result fed to
``inv`` or ``svd`` is cast up and answered in float32, with its gradient back in bfloat16),
never a TypeError; outside autocast a 16-bit operand is still refused."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

torch = pytest.importorskip("torch")
pytest.importorskip("ml_dtypes")

rng = np.random.default_rng(0)
A = (rng.standard_normal((3, 3)) + 3 * np.eye(3)).astype(np.float32)
B = rng.standard_normal((3, 2)).astype(np.float32)


SYMMETRIC = ("cholesky", "eigh", "eigvalsh")
CASES = {   # name: (gpugrad, torch), each of a 16-bit (3, 3) matrix, real-valued
    "inv": (lambda x: gg.inv(x), lambda x: torch.linalg.inv(x)),
    "det": (lambda x: gg.det(x), lambda x: torch.linalg.det(x)),
    "slogdet": (lambda x: gg.slogdet(x)[1], lambda x: torch.linalg.slogdet(x)[1]),
    "solve": (lambda x: gg.solve(x, x[:, :2]), lambda x: torch.linalg.solve(x, x[:, :2])),
    "svdvals": (lambda x: gg.svdvals(x), lambda x: torch.linalg.svdvals(x)),
    "svd": (lambda x: gg.svd(x)[1], lambda x: torch.linalg.svd(x)[1]),
    "qr": (lambda x: gg.qr(x)[1].abs(), lambda x: torch.linalg.qr(x)[1].abs()),
    "cholesky": (lambda x: gg.cholesky(x), lambda x: torch.linalg.cholesky(x)),
    "eigh": (lambda x: gg.eigh(x)[0], lambda x: torch.linalg.eigh(x)[0]),
    "eigvalsh": (lambda x: gg.eigvalsh(x), lambda x: torch.linalg.eigvalsh(x)),
    "pinv": (lambda x: gnp.linalg.pinv(x), lambda x: torch.linalg.pinv(x)),
    "gnp.inv": (lambda x: gnp.linalg.inv(x), lambda x: torch.linalg.inv(x)),
    "lstsq": (lambda x: gnp.linalg.lstsq(x, x[:, :1])[0],
              lambda x: torch.linalg.lstsq(x, x[:, :1]).solution),
}


@pytest.mark.parametrize("dt", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_linalg_of_a_16bit_product_under_autocast_is_float32_like_torch(name, dt):
    """PyTorch's fp32 policy: the 16-bit operand cast to float32, the op run in float32 (its
    CPU list has inv, solve, svd, qr, cholesky, eigh, lstsq; det, slogdet and pinv it leaves
    out, and then refuses the bfloat16 operand: here they follow the same policy)."""
    ours, theirs = CASES[name]
    a = gg.tensor(A, requires_grad=True)
    right = (lambda x: x.T) if name in SYMMETRIC else (lambda x: np.eye(3, dtype=np.float32))
    with gg.autocast(dtype=dt):
        h = a @ gg.tensor(right(A))       # a 16-bit product (symmetric positive definite:
        y = ours(h)                       # A A^T)
    assert h.dtype.name == dt and y.dtype == np.float32
    y.sum().backward()
    ta = torch.tensor(A, requires_grad=True)
    with torch.autocast("cpu", dtype=getattr(torch, dt)):
        th = ta @ torch.tensor(right(A))
    ty = theirs(th.float())
    ty.sum().backward()
    # same rounded input, float32 LAPACK on both sides: equal to float32 rounding
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=2e-4, atol=2e-5)
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("name", ["inv", "det", "solve", "svd", "cholesky", "lstsq"])
def test_outside_autocast_a_16bit_operand_is_still_refused(name):
    x = gg.tensor(A @ A.T).astype("bfloat16")
    with pytest.raises(TypeError, match="bfloat16 is unsupported in linalg"):
        CASES[name][0](x)


def test_a_16bit_right_hand_side_is_refused_outside_autocast_and_cast_inside():
    a, b = gg.tensor(A), gg.tensor(B).astype("bfloat16")
    with pytest.raises(TypeError, match="solve: array type bfloat16"):
        gg.solve(a, b)                       # (NumPy would answer in float64)
    with gg.autocast(dtype="bfloat16"):
        x = gg.solve(a, b)
    want = np.linalg.solve(A, b.numpy().astype(np.float32))
    assert x.dtype == np.float32 and np.allclose(x.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,call", [
    ("eigvals", lambda m, x: m.linalg.eigvals(x)),
    ("eig", lambda m, x: m.linalg.eig(x)[0]),
    ("lstsq", lambda m, x: m.linalg.lstsq(x, x[:, :1])[0]),
    ("matrix_rank", lambda m, x: m.linalg.matrix_rank(x)),
    ("inv", lambda m, x: m.linalg.inv(x)),
])
def test_numpy_linalg_without_a_graph_under_autocast_is_numpys_float32_answer(name, call):
    with gg.no_grad(), gg.autocast(dtype="bfloat16"):
        h = gg.tensor(A) @ gg.tensor(np.eye(3, dtype=np.float32))
        r = call(gnp, h)
    want = call(np, h.numpy().astype(np.float32))         # NumPy on the rounded product
    assert r.dtype == want.dtype and np.array_equal(r.numpy(), want), name


def test_matrix_rank_of_a_16bit_matrix_is_a_clear_error_outside_autocast():
    with pytest.raises(TypeError, match="matrix_rank: array type bfloat16"):
        gnp.linalg.matrix_rank(gg.tensor(A).astype("bfloat16"))
