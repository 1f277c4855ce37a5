"""gpugrad.numpy shape functions, sorting/selection and linear algebra against NumPy, with
gradient checks."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(1)
X = RNG.standard_normal((2, 3))
Y = RNG.standard_normal((3, 4))
V = RNG.standard_normal(3)
M = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
SPD = M @ M.T + np.eye(3)


def run(mod_np, mod_g, name, args, kw, grad=True):
    got = getattr(mod_g, name)(*args, **kw)
    want = getattr(mod_np, name)(*args, **kw)
    gots = got if isinstance(got, (list, tuple)) else [got]
    wants = want if isinstance(want, (list, tuple)) else [want]
    assert len(gots) == len(wants)
    for g, w in zip(gots, wants):
        assert isinstance(g, gg.Tensor), name
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-6, atol=1e-10)
        assert g.shape == np.shape(w) and g.dtype == np.asarray(w).dtype, (name, g.dtype)
    if grad:
        slots = [(i, None) for i, a in enumerate(args) if _is_float(a)]
        slots += [(i, j) for i, a in enumerate(args) if isinstance(a, list)
                  for j, v in enumerate(a) if _is_float(v)]

        def f(*ts):
            full = [list(a) if isinstance(a, list) else a for a in args]
            for (i, j), t in zip(slots, ts):
                if j is None:
                    full[i] = t
                else:
                    full[i][j] = t
            r = getattr(mod_g, name)(*full, **kw)
            rs = r if isinstance(r, (list, tuple)) else [r]
            return gnp.concatenate([gnp.ravel(v) for v in rs if v.dtype.kind == "f"])
        gg.gradcheck(f, [args[i] if j is None else args[i][j] for i, j in slots])


def _is_float(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


SHAPES = [
    ("reshape", (X, (3, 2)), {}), ("reshape", (X, -1), {}), ("ravel", (X,), {}),
    ("transpose", (X,), {}), ("transpose", (X[None], (2, 0, 1)), {}),
    ("permute_dims", (X, (1, 0)), {}), ("moveaxis", (X[None], 0, -1), {}),
    ("swapaxes", (X, 0, 1), {}), ("expand_dims", (X, 1), {}), ("squeeze", (X[None],), {}),
    ("squeeze", (X[:, :1], 1), {}), ("concatenate", ([X, X[:1]],), {}),
    ("concatenate", ([X, X], 1), {}), ("concatenate", ([X, X], None), {}),
    ("concat", ([X, X],), {}), ("stack", ([X, X], 1), {}), ("hstack", ([X, X],), {}),
    ("hstack", ([V, V],), {}), ("vstack", ([V, V],), {}), ("dstack", ([X, X],), {}),
    ("column_stack", ([V, V],), {}), ("split", (X, 3, 1), {}), ("split", (V, [1]), {}),
    ("array_split", (V, 2), {}), ("hsplit", (X, 3), {}), ("vsplit", (X, 2), {}),
    ("tile", (X, (2, 1)), {}), ("tile", (V, 2), {}), ("repeat", (X, 2), {}),
    ("repeat", (X, [1, 2], 0), {}), ("flip", (X,), {}), ("flip", (X, 1), {}),
    ("fliplr", (X,), {}), ("flipud", (X,), {}), ("roll", (X, 1), {}),
    ("roll", (X, (1, -1), (0, 1)), {}), ("broadcast_to", (V, (2, 3)), {}),
    ("broadcast_arrays", (X, V), {}), ("pad", (X, 1), {}), ("pad", (V, (1, 2)), {"mode": "edge"}),
    ("pad", (X, ((0, 1), (2, 0))), {"mode": "reflect"}), ("pad", (V, 2), {"mode": "wrap"}),
    ("atleast_1d", (V,), {}), ("atleast_2d", (V,), {}), ("atleast_3d", (X,), {}),
    ("copy", (X,), {}), ("tril", (X,), {}), ("triu", (X, 1), {}),
    ("diagonal", (X,), {}), ("diagonal", (RNG.standard_normal((2, 3, 4)), 1, 1, 2), {}),
    ("meshgrid", (V, V[:2]), {}), ("meshgrid", (V, V[:2]), {"indexing": "ij"}),
    ("sort", (X,), {}), ("sort", (X, 0), {}), ("sort", (X, None), {}),
    ("take", (X, np.array([0, 2, 2])), {}), ("take", (X, np.array([1, 0]), 1), {}),
    ("take_along_axis", (X, np.argsort(X, 1), 1), {}),
    ("unstack", (X,), {}),
]


@pytest.mark.parametrize("name,args,kw", SHAPES, ids=[s[0] for s in SHAPES])
def test_shape_functions(name, args, kw):
    if name == "unstack" and not hasattr(np, "unstack"):
        pytest.skip("numpy < 2.1")
    run(np, gnp, name, args, kw)


NOGRAD = [
    ("argsort", (X,), {}), ("argsort", (X, 0), {}), ("nonzero", (X > 0,), {}),
    ("argwhere", (X > 0,), {}), ("flatnonzero", (X > 0,), {}),
    ("searchsorted", (np.array([1.0, 2.0, 5.0]), np.array([0.5, 2.0, 9.0])), {}),
    ("searchsorted", (np.array([1.0, 2.0, 5.0]), np.array([2.0])), {"side": "right"}),
    ("unique", (np.array([3, 1, 3, 2]),), {}),
    ("unique", (np.array([3, 1, 3, 2]),), {"return_index": True, "return_inverse": True,
                                           "return_counts": True}),
    ("isin", (np.array([1, 2, 3]), np.array([2, 5])), {}),
]


@pytest.mark.parametrize("name,args,kw", NOGRAD, ids=[s[0] for s in NOGRAD])
def test_selection_without_gradient(name, args, kw):
    run(np, gnp, name, args, kw, grad=False)


def test_inspection_functions():
    t = gnp.zeros((2, 3))
    assert gnp.shape(t) == (2, 3) and gnp.ndim(t) == 2 and gnp.size(t) == 6
    assert gnp.size(t, 1) == 3
    assert gnp.result_type(t, np.int64) == np.float64
    assert gnp.can_cast(gnp.zeros(1, dtype="int8"), np.int16)
    assert not gnp.iscomplexobj(t) and gnp.isrealobj(t)
    assert gnp.asarray(X).T.shape == (3, 2)


def test_sort_gradient_with_ties():
    x = np.array([2.0, 1.0, 2.0, 0.5])
    gg.gradcheck(lambda t: gnp.sort(t) * gg.tensor([1.0, 2.0, 3.0, 4.0], dtype="float64"), [x + [0, 0, 1e-3, 0]])
    t = gg.tensor(x, requires_grad=True)
    (gnp.sort(t) * gg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert t.grad.tolist() == [3.0, 2.0, 4.0, 1.0]  # stable: the first 2.0 sorts first


def test_shape_errors():
    with pytest.raises(ValueError):
        gnp.reshape(X, (4, 2))
    with pytest.raises(ValueError):
        gnp.concatenate([X, V])
    with pytest.raises(ValueError):
        gnp.squeeze(X, 0)
    with pytest.raises(ValueError, match="copy=False"):
        gnp.reshape(gnp.asarray(X).T, -1, copy=False)
    with pytest.raises(TypeError, match="sequence"):
        gnp.stack(3.0)
    with pytest.raises(ValueError, match="order"):
        gnp.reshape(X, -1, order="Q")


# ================================================================ linear algebra
PRODUCTS = [
    ("dot", (X, Y), {}), ("dot", (V, V), {}), ("dot", (X, V), {}), ("dot", (2.0 * X, 3.0), {}),
    ("vdot", (X, X), {}), ("matmul", (X, Y), {}), ("matmul", (X[None], Y), {}),
    ("matmul", (V, Y), {}), ("inner", (X, X), {}), ("outer", (V, X), {}),
    ("tensordot", (X, Y, 1), {}), ("tensordot", (X, X, ([0, 1], [0, 1])), {}),
    ("einsum", ("ij,jk->ik", X, Y), {}), ("einsum", ("ij->j", X), {}), ("trace", (M,), {}),
    ("trace", (X, 1), {}), ("diag", (V,), {}), ("diag", (X, 1), {}), ("kron", (X, X[:1]), {}),
    ("kron", (V, V), {}), ("cross", (X, X[::-1]), {}), ("cross", (V, V[::-1]), {}),
]


@pytest.mark.parametrize("name,args,kw", PRODUCTS, ids=[s[0] for s in PRODUCTS])
def test_products(name, args, kw):
    run(np, gnp, name, args, kw)


def test_vecdot_and_matrix_transpose():
    np.testing.assert_allclose(gnp.vecdot(X, V).numpy(), X @ V)
    gg.gradcheck(lambda a, b: gnp.vecdot(a, b), [X, V])
    assert gnp.matrix_transpose(np.zeros((4, 2, 3))).shape == (4, 3, 2)


def _sym(t):
    return (t + gnp.swapaxes(t, -1, -2)) / 2


LINALG = [
    ("norm", (X,), {}), ("norm", (V, 1), {}), ("norm", (V, np.inf), {}), ("norm", (V, 3), {}),
    ("norm", (V, -np.inf), {}), ("norm", (X, "fro"), {}), ("norm", (X, "nuc"), {}),
    ("norm", (X, 2), {}), ("norm", (X, -2), {}), ("norm", (X, 1), {}), ("norm", (X, np.inf), {}),
    ("norm", (X, None, 1), {}), ("norm", (X, 2, 0, True), {}),
    ("norm", (RNG.standard_normal((2, 2, 3)), None, (1, 2)), {}),
    ("inv", (M,), {}), ("det", (M,), {}), ("solve", (M, V), {}), ("solve", (M, Y), {}),
    ("slogdet", (-M,), {}), ("pinv", (X,), {}), ("matrix_power", (M, 3), {}),
    ("matrix_power", (M, -2), {}), ("matrix_power", (M, 0), {}), ("svd", (X, False), {}),
    ("qr", (Y.T,), {}), ("multi_dot", ([X, Y, Y.T],), {}),
]


@pytest.mark.parametrize("name,args,kw", LINALG, ids=[s[0] for s in LINALG])
def test_linalg(name, args, kw):
    if name in ("svd", "qr"):  # factors are unique only up to signs: compare products
        got = getattr(gnp.linalg, name)(*args, **kw)
        want = getattr(np.linalg, name)(*args, **kw)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.abs(g.numpy()), np.abs(w), atol=1e-10)
        gg.gradcheck(lambda a: getattr(gnp.linalg, name)(a, *args[1:])[0] ** 2, [args[0]])
        return
    run(np.linalg, gnp.linalg, name, args, kw)


def test_symmetric_decompositions():
    got = gnp.linalg.cholesky(SPD)
    np.testing.assert_allclose(got.numpy(), np.linalg.cholesky(SPD))
    np.testing.assert_allclose(gnp.linalg.cholesky(SPD, upper=True).numpy(),
                               np.linalg.cholesky(SPD).T)
    w, v = gnp.linalg.eigh(SPD)
    np.testing.assert_allclose(w.numpy(), np.linalg.eigvalsh(SPD))
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(np.linalg.eigh(SPD)[1]))
    np.testing.assert_allclose(gnp.linalg.eigvalsh(SPD).numpy(), np.linalg.eigvalsh(SPD))
    np.testing.assert_allclose(gnp.linalg.svd(X, compute_uv=False).numpy(),
                               np.linalg.svd(X, compute_uv=False))
    gg.gradcheck(lambda a: gnp.linalg.cholesky(_sym(a)), [SPD])
    gg.gradcheck(lambda a: gnp.linalg.eigvalsh(_sym(a)), [SPD])
    gg.gradcheck(lambda a: gnp.linalg.eigh(_sym(a)).eigenvectors ** 2, [SPD])
    gg.gradcheck(lambda a: gnp.linalg.svdvals(a), [X])
    gg.gradcheck(lambda a: gnp.linalg.svd(a, full_matrices=False).Vh ** 2, [X])
    assert gnp.linalg.matrix_rank(np.outer(V, V)).item() == 1
    assert gnp.linalg.matrix_rank(SPD).item() == 3


def test_linalg_errors():
    with pytest.raises(ValueError, match="square"):
        gnp.linalg.inv(X)
    t = gg.tensor(X, requires_grad=True)
    with pytest.raises(NotImplementedError, match="3-vectors"):  # (outside a graph: NumPy's)
        gnp.cross(t[0, :2], V[:2])
    with pytest.raises(NotImplementedError, match="full_matrices"):  # vh's extra row: any
        gnp.linalg.svd(t)[2].sum().backward()                      # unit vector of a complement
