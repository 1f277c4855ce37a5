"""No op may discard an imaginary part silently: every linear-algebra function (and the
other ops that used to cast to a real dtype) computes NumPy's complex answer -- dtype and
values -- or raises a clear error.  Run under ``warnings.simplefilter("error")`` so a
ComplexWarning (NumPy's only sign of a dropped imaginary part) fails the test."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.array_api as xa
import gpugrad.numpy as gnp

rng = np.random.default_rng(3)
B = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
R = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))    # tall
A = B @ B.conj().T + 3 * np.eye(3)                                    # Hermitian PD
V = np.array([3 + 4j, 1 - 2j, -0.5j])
V3 = np.array([1j, 2.0, 3 - 1j])

# name -> (arguments, NumPy's reference); the same table serves gpugrad.numpy.linalg,
# gpugrad.array_api.linalg (array API names) and the gpugrad top level
LINALG = {
    "cholesky": ((A,), np.linalg.cholesky),
    "qr": ((R,), np.linalg.qr),
    "svd": ((R,), lambda a: np.linalg.svd(a, full_matrices=True)),
    "svdvals": ((R,), np.linalg.svdvals),
    "slogdet": ((A,), np.linalg.slogdet),
    "eigh": ((A,), np.linalg.eigh),
    "eigvalsh": ((A,), np.linalg.eigvalsh),
    "inv": ((B,), np.linalg.inv),
    "det": ((B,), np.linalg.det),
    "solve": ((B, V), np.linalg.solve),
    "pinv": ((R,), np.linalg.pinv),
    "matrix_rank": ((R,), np.linalg.matrix_rank),
    "matrix_power": ((B, 3), np.linalg.matrix_power),
    "norm": ((V,), np.linalg.norm),
    "matrix_norm": ((R,), np.linalg.matrix_norm),
    "vector_norm": ((V,), np.linalg.vector_norm),
    "trace": ((B,), np.linalg.trace),
    "diagonal": ((B,), np.linalg.diagonal),
    "matmul": ((B, R.T), np.linalg.matmul),
    "outer": ((V, V3), np.linalg.outer),
    "tensordot": ((B, B), np.linalg.tensordot),
    "vecdot": ((V, V3), np.linalg.vecdot),
    "cross": ((V, V3), np.linalg.cross),
    "multi_dot": (([B, R.T, R],), np.linalg.multi_dot),
    "matrix_transpose": ((R,), np.linalg.matrix_transpose),
    "eig": ((B,), np.linalg.eig),
    "eigvals": ((B,), np.linalg.eigvals),
    "lstsq": ((B, V), lambda a, b: np.linalg.lstsq(a, b)),
    "cond": ((B,), np.linalg.cond),
    "tensorinv": ((B, 1), np.linalg.tensorinv),
    "tensorsolve": ((B, V), np.linalg.tensorsolve),
}
RAISES = set()  # a name here raises NotImplementedError naming itself, on purpose


def _cmp(ours, ref, what):
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref), what
        for o, r in zip(ours, ref):
            _cmp(o, r, what)
        return
    if isinstance(ref, np.generic) and not isinstance(ours, gg.Tensor):  # lstsq's rank
        assert type(ours) is type(ref) and ours == ref, what
        return
    assert isinstance(ours, gg.Tensor), what
    ref = np.asarray(ref)
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype}, NumPy gives {ref.dtype}"
    assert ours.shape == ref.shape, what
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10, atol=1e-12, err_msg=what)


def _run(fn, args):
    conv = [[gnp.asarray(v) for v in a] if isinstance(a, list) else
            gnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*conv)


def _namespaces():
    for ns_name, ns in (("gpugrad.numpy.linalg", gnp.linalg), ("array_api.linalg", xa.linalg)):
        for name in ns.__all__:
            if callable(getattr(ns, name)) and not isinstance(getattr(ns, name), type):
                yield pytest.param(ns, name, id=f"{ns_name}.{name}")


@pytest.mark.parametrize("ns,name", list(_namespaces()))
def test_every_linalg_function_on_complex_input(ns, name):
    if name in RAISES:
        with pytest.raises(NotImplementedError, match=name):
            _run(getattr(ns, name), (B,))
        return
    assert name in LINALG, f"add {name} to the complex-input table"
    args, ref = LINALG[name]
    _cmp(_run(getattr(ns, name), args), ref(*args), name)


TOP = ["cholesky", "qr", "svd", "svdvals", "slogdet", "eigh", "eigvalsh", "inv", "det", "norm"]


@pytest.mark.parametrize("name", TOP)
def test_gpugrad_top_level_linalg_on_complex_input(name):
    args, ref = LINALG[name]
    out = _run(getattr(gg, name), args)
    _cmp(tuple(out) if isinstance(out, (list, tuple)) else out, ref(*args), name)


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_real_valued_results_of_complex_input_have_the_real_dtype(dtype):
    a, r, v = A.astype(dtype), R.astype(dtype), V.astype(dtype)
    tol = 1e-4 if dtype == np.complex64 else 1e-10
    for fn, ref, x in [
            (gnp.linalg.eigvalsh, np.linalg.eigvalsh, a),
            (gnp.linalg.svdvals, np.linalg.svdvals, r),
            (lambda t: gnp.linalg.eigh(t).eigenvalues, lambda t: np.linalg.eigh(t)[0], a),
            (lambda t: gnp.linalg.svd(t).S, lambda t: np.linalg.svd(t)[1], r),
            (lambda t: gnp.linalg.slogdet(t).logabsdet, lambda t: np.linalg.slogdet(t)[1], a),
            (lambda t: gnp.linalg.slogdet(t).sign, lambda t: np.linalg.slogdet(t)[0], a),
            (gnp.linalg.norm, np.linalg.norm, v), (gnp.linalg.norm, np.linalg.norm, r),
            (lambda t: gg.norm(t), np.linalg.norm, v),
            (lambda t: gnp.linalg.norm(t, ord=0), lambda t: np.linalg.norm(t, ord=0), v),
            (lambda t: gnp.linalg.matrix_norm(t, ord=2),
             lambda t: np.linalg.matrix_norm(t, ord=2), r)]:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = fn(gnp.asarray(x))
        expect = ref(x)
        assert out.dtype == np.asarray(expect).dtype, (fn, out.dtype, expect)
        np.testing.assert_allclose(out.numpy(), expect, rtol=tol, atol=tol)


@pytest.mark.parametrize("ord", [None, 2, 1, np.inf, -np.inf, 0, 3, 0.5])
def test_vector_norms_of_complex_vectors(ord):
    for fn, ref in [(gnp.linalg.vector_norm, np.linalg.vector_norm),
                    (xa.linalg.vector_norm, np.linalg.vector_norm)]:
        kw = {} if ord is None else {"ord": ord}
        out = _run(lambda t: fn(t, **kw), (V,))
        _cmp(out, ref(V, **kw), f"vector_norm ord={ord}")
    assert _run(gnp.linalg.vector_norm, (np.array([3 + 4j]),)).item() == 5.0


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
def test_matrix_norms_of_complex_matrices(ord):
    _cmp(_run(lambda t: gnp.linalg.matrix_norm(t, ord=ord), (R,)),
         np.linalg.matrix_norm(R, ord=ord), f"matrix_norm ord={ord}")
    _cmp(_run(lambda t: gnp.linalg.norm(t, ord=ord), (R,)), np.linalg.norm(R, ord=ord),
         f"norm ord={ord}")


@pytest.mark.parametrize("name,expr", [
    ("var", "f(x)"), ("std", "f(x)"), ("var", "f(x, ddof=1)"), ("std", "f(m, axis=0)"),
    ("float_power", "f(x, 2)"), ("float_power", "f(x, 0.5)"), ("mean", "f(m, axis=1)")])
def test_other_ops_on_complex_input_match_numpy(name, expr):
    x, m = V, R
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = eval(expr, {"f": getattr(gnp, name), "x": gnp.asarray(x), "m": gnp.asarray(m)})
    _cmp(ours, eval(expr, {"f": getattr(np, name), "x": x, "m": m}), expr)


# ================================================================ gradients
DECOMP = [
    (lambda t: gnp.real(gnp.linalg.cholesky(t)).sum(), lambda t: t.linalg.cholesky),
    (lambda t: gnp.linalg.eigvalsh(t).sum(), lambda t: t.linalg.eigvalsh),
    (lambda t: gnp.linalg.eigh(t).eigenvalues.sum(), lambda t: lambda a: t.linalg.eigh(a)[0]),
    (lambda t: gnp.linalg.svdvals(t).sum(), lambda t: t.linalg.svdvals),
    (lambda t: gnp.linalg.svd(t).S.sum(), lambda t: lambda a: t.linalg.svd(a)[1]),
    (lambda t: gnp.real(gnp.linalg.qr(t).R).sum(), lambda t: lambda a: t.linalg.qr(a)[1])]
HERMITIAN_READ = [f for f, _ in DECOMP[:3]]


@pytest.mark.torch
@pytest.mark.parametrize("fn,tfn", DECOMP, ids=["cholesky", "eigvalsh", "eigh", "svdvals", "svd",
                                                "qr"])
def test_complex_gradients_of_decompositions_are_pytorchs(fn, tfn):
    # (once NotImplementedError; test_complex_grads_sweep.py and test_complex_linalg_grads.py
    # check them against finite differences and PyTorch in depth)
    # The input is read as Hermitian (one triangle), so the gradient is the Hermitian one,
    # as for real input the symmetric one; PyTorch's cholesky adds an anti-Hermitian part
    # (i Im(diag(L^H gL)) / 2 inside), which no Hermitian perturbation sees: compare the
    # Hermitian parts
    torch = pytest.importorskip("torch")
    a = gg.tensor(A, requires_grad=True)
    fn(a).backward()
    ours = a.grad.numpy()
    t = torch.tensor(A, requires_grad=True)
    tfn(torch)(t).real.sum().backward()
    ref = t.grad.numpy()
    if fn in HERMITIAN_READ:
        np.testing.assert_allclose(ours, ours.conj().T, rtol=1e-12, atol=1e-14)
        ref = (ref + ref.conj().T) / 2
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-11)


def test_complex_vector_norm_gradient_follows_abs():
    # the gradient convention of abs on complex input: d|z| -> z / |z|
    z = gg.tensor(V, requires_grad=True)
    gnp.linalg.vector_norm(z).backward()
    np.testing.assert_allclose(z.grad.numpy(), V / np.linalg.norm(V), rtol=1e-12)
    w = gg.tensor(V, requires_grad=True)
    gnp.sum(gnp.abs(w) ** 2).backward()
    u = gg.tensor(V, requires_grad=True)
    (gnp.linalg.vector_norm(u) ** 2).backward()
    np.testing.assert_allclose(u.grad.numpy(), w.grad.numpy(), rtol=1e-12)


def test_real_inputs_are_unchanged():
    a = np.array([[4.0, 2.0], [2.0, 3.0]])
    for fn in (gnp.linalg.cholesky, gnp.linalg.eigvalsh, gnp.linalg.svdvals, gnp.linalg.inv):
        out = fn(gnp.asarray(a))
        assert out.dtype == np.float64
    assert gnp.linalg.eigvalsh(gnp.asarray(a.astype(np.float32))).dtype == np.float32
    assert gnp.linalg.cholesky(gnp.asarray([[4, 0], [0, 9]])).dtype == np.float64
    t = gg.tensor(a, requires_grad=True)
    gnp.linalg.slogdet(t).logabsdet.backward()
    np.testing.assert_allclose(t.grad.numpy(), np.linalg.inv(a).T, rtol=1e-12)
