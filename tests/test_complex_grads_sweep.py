"""Complex numbers through autodiff, op by op.

gpugrad follows PyTorch's convention (README, "Complex inputs"): for a real loss L of a
complex z, ``z.grad`` is dL/d(re z) + i dL/d(im z); a real input of a complex computation
gets the real part.  Every case below differentiates the real loss
``sum(re(f) * vr + im(f) * vi)`` and compares the gradient with central differences along
the real and imaginary parts of every element (always) and with PyTorch (where installed).
Ops that are not defined on complex numbers, or whose complex gradient is not implemented,
must say so -- never answer with a gradient that drops or mixes up a part.
"""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

rng = np.random.default_rng(11)


def cz(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


Z = cz(3, 4)
W = cz(3, 4)
X = rng.standard_normal((3, 4))
B = cz(3, 3)
H = B @ B.conj().T + 3 * np.eye(3)  # Hermitian positive definite
ROT = np.array([[0.5, -2.0, 0.3], [1.5, 0.2, -0.4], [0.1, 0.7, 1.1]])  # complex eigenvalues


def _cotangents(shape, seed=5):
    r = np.random.default_rng(seed)
    return r.standard_normal(shape), r.standard_normal(shape)


def _loss(out, vr, vi):
    loss = (gg.real(out) * gg.tensor(vr)).sum()
    if out.dtype.kind == "c":
        loss = loss + (gg.imag(out) * gg.tensor(vi)).sum()
    return loss


def _gpugrad_grads(f, inputs):
    shape = f(*[gg.tensor(a) for a in inputs]).shape
    vr, vi = _cotangents(shape)
    ts = [gg.tensor(a, requires_grad=True) for a in inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning is a dropped imaginary part
        gs = gg.autograd.grad(_loss(f(*ts), vr, vi), ts, allow_unused=True)
    return [np.zeros_like(a) if g is None else g.numpy() for a, g in zip(inputs, gs)], vr, vi


def _finite_differences(f, inputs, vr, vi, eps=1e-6):
    def loss(args):
        with gg.no_grad():
            o = np.asarray(f(*[gg.tensor(a) for a in args]).numpy())
        return float((o.real * vr).sum() + (o.imag * vi).sum())

    out = []
    for i, a in enumerate(inputs):
        g = np.zeros(a.shape, dtype=a.dtype)
        for j in np.ndindex(a.shape):
            for step in ((1, 1j) if a.dtype.kind == "c" else (1,)):
                args = list(inputs)
                args[i] = a.copy()
                args[i][j] += eps * step
                up = loss(args)
                args[i][j] -= 2 * eps * step
                g[j] += step * (up - loss(args)) / (2 * eps)
        out.append(g)
    return out


def _torch_grads(ft, inputs, vr, vi):
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    out = ft(*ts)
    loss = (out.real * torch.tensor(vr)).sum()
    if out.is_complex():
        loss = loss + (out.imag * torch.tensor(vi)).sum()
    gs = torch.autograd.grad(loss, ts, allow_unused=True)
    return [np.zeros_like(a) if g is None else g.resolve_conj().detach().numpy()
            for a, g in zip(inputs, gs)]


def _herm(x):
    return (x + x.conj().swapaxes(-1, -2)) / 2


# name -> (gpugrad function, PyTorch function or None, inputs)
def _cases():
    import importlib.util
    T = None
    if importlib.util.find_spec("torch") is not None:
        import torch as T
    t = (lambda f: f) if T is not None else (lambda f: None)
    tl = T.linalg if T is not None else None
    c = {
        # elementwise
        "abs": (gnp.abs, t(lambda x: x.abs()), [Z]),
        "exp": (gnp.exp, t(lambda x: x.exp()), [Z]),
        "log": (gnp.log, t(lambda x: x.log()), [Z]),
        "log2": (gnp.log2, t(lambda x: x.log2()), [Z]),
        "log10": (gnp.log10, t(lambda x: x.log10()), [Z]),
        "log1p": (gnp.log1p, t(lambda x: x.log1p()), [Z]),
        "expm1": (gnp.expm1, t(lambda x: x.expm1()), [Z]),
        "exp2": (gnp.exp2, t(lambda x: x.exp2()), [Z]),
        "sqrt": (gnp.sqrt, t(lambda x: x.sqrt()), [Z]),
        "reciprocal": (gnp.reciprocal, t(lambda x: x.reciprocal()), [Z]),
        "square": (gnp.square, t(lambda x: x.square()), [Z]),
        "conj": (gnp.conj, t(lambda x: x.conj() * 1), [Z]),
        "real": (gnp.real, t(lambda x: x.real), [Z]),
        "imag": (gnp.imag, t(lambda x: x.imag), [Z]),
        "negative": (gnp.negative, t(lambda x: -x), [Z]),
        "sigmoid": (gg.sigmoid, t(lambda x: x.sigmoid()), [Z]),
        "sinc": (gnp.sinc, t(lambda x: x.sinc()), [Z]),
        "abs_squared": (lambda x: gnp.abs(x) ** 2, t(lambda x: x.abs() ** 2), [Z]),
        "pow_int": (lambda x: x ** 3, t(lambda x: x ** 3), [Z]),
        "pow_real": (lambda x: x ** 2.5, t(lambda x: x ** 2.5), [Z]),
        "pow_complex_exponent": (lambda x: x ** (1.5 + 0.5j), t(lambda x: x ** (1.5 + 0.5j)), [Z]),
        "rpow_complex_base": (lambda x: (2 - 1j) ** x, t(lambda x: (2 - 1j) ** x), [Z]),
        # binary, complex with complex and with real
        "add": (gnp.add, t(lambda a, b: a + b), [Z, W]),
        "subtract": (gnp.subtract, t(lambda a, b: a - b), [Z, W]),
        "multiply": (gnp.multiply, t(lambda a, b: a * b), [Z, W]),
        "divide": (gnp.divide, t(lambda a, b: a / b), [Z, W]),
        "power": (gnp.power, t(lambda a, b: a ** b), [Z, W]),
        "multiply_real": (gnp.multiply, t(lambda a, b: a * b), [X, Z]),
        "divide_by_real": (gnp.divide, t(lambda a, b: a / b), [Z, X]),
        "real_over_complex": (gnp.divide, t(lambda a, b: a / b), [X, Z]),
        "real_base_power": (lambda a, b: gnp.power(gnp.abs(a) + 0.5, b),
                            t(lambda a, b: (a.abs() + 0.5) ** b), [X, Z]),
        "broadcast_real_row": (gnp.multiply, t(lambda a, b: a * b), [Z, X[0]]),
        "where": (lambda a, b: gnp.where(np.array([True, False, True, False]), a, b),
                  t(lambda a, b: T.where(T.tensor([True, False, True, False]), a, b)), [Z, W]),
        # contractions
        "matmul": (lambda a, b: a @ b.T, t(lambda a, b: a @ b.T), [Z, W]),
        "matmul_real": (lambda a, b: a @ b.T, None, [X, Z]),
        "dot": (lambda a, b: gnp.dot(a, b.T), t(lambda a, b: a @ b.T), [Z, W]),
        "vdot": (gnp.vdot, t(lambda a, b: T.vdot(a.flatten(), b.flatten())), [Z, W]),
        "inner": (gnp.inner, t(lambda a, b: T.inner(a, b)), [Z, W]),
        "outer": (gnp.outer, t(lambda a, b: T.outer(a.flatten(), b.flatten())), [Z[0], W[0]]),
        "einsum": (lambda a, b: gnp.einsum("ij,kj->ik", a, b),
                   t(lambda a, b: T.einsum("ij,kj->ik", a, b)), [Z, W]),
        "einsum_real": (lambda a, b: gnp.einsum("ij,kj->ik", a, b), None, [X, Z]),
        "tensordot": (lambda a, b: gnp.tensordot(a, b, axes=([1], [1])),
                      t(lambda a, b: T.tensordot(a, b, dims=([1], [1]))), [Z, W]),
        "kron": (gnp.kron, t(lambda a, b: T.kron(a, b)), [Z[:2, :2], W[:2, :2]]),
        "cross": (gnp.cross, t(lambda a, b: tl.cross(a, b)), [Z[:, :3], W[:, :3]]),
        # reductions
        "sum": (gnp.sum, t(lambda x: x.sum()), [Z]),
        "mean_axis": (lambda x: gnp.mean(x, axis=1), t(lambda x: x.mean(1)), [Z]),
        "prod": (lambda x: gnp.prod(x, axis=1), t(lambda x: x.prod(1)), [Z]),
        "prod_one_zero": (lambda x: gnp.prod(x, axis=1), t(lambda x: x.prod(1)),
                          [Z * np.array([1, 0, 1, 1])]),
        "prod_two_zeros": (gnp.prod, t(lambda x: x.prod()), [Z * np.array([1, 0, 1, 0])]),
        "cumsum": (lambda x: gnp.cumsum(x, axis=1), t(lambda x: x.cumsum(1)), [Z]),
        "cumprod": (lambda x: gnp.cumprod(x, axis=1), t(lambda x: x.cumprod(1)), [Z]),
        "cumprod_zero": (lambda x: gnp.cumprod(x, axis=1), t(lambda x: x.cumprod(1)),
                         [Z * np.array([1, 0, 1, 1])]),
        "var": (gnp.var, t(lambda x: x.var(correction=0)), [Z]),
        "std_ddof": (lambda x: gnp.std(x, axis=0, ddof=1), t(lambda x: x.std(0)), [Z]),
        "norm": (gnp.linalg.norm, t(lambda x: tl.norm(x)), [Z]),
        "norm_1_axis": (lambda x: gnp.linalg.norm(x, 1, axis=1),
                        t(lambda x: tl.vector_norm(x, 1, dim=1)), [Z]),
        "norm_3_axis": (lambda x: gnp.linalg.norm(x, 3, axis=1),
                        t(lambda x: tl.vector_norm(x, 3, dim=1)), [Z]),
        "norm_inf_axis": (lambda x: gnp.linalg.norm(x, np.inf, axis=1),
                          t(lambda x: tl.vector_norm(x, float("inf"), dim=1)), [Z]),
        "matrix_norm_1": (lambda x: gnp.linalg.norm(x, 1), t(lambda x: tl.matrix_norm(x, 1)), [Z]),
        "trace": (gnp.trace, t(lambda x: x.diagonal().sum()), [Z]),
        # shape and indexing
        "reshape_T": (lambda x: x.reshape(4, 3).T, t(lambda x: x.reshape(4, 3).T), [Z]),
        "getitem": (lambda x: x[[0, 2, 0], 1:], t(lambda x: x[[0, 2, 0], 1:]), [Z]),
        "concatenate_real": (lambda a, b: gnp.concatenate([a, b]), t(lambda a, b: T.cat([a, b])),
                             [Z, X]),
        "pad": (lambda x: gnp.pad(x, 1), t(lambda x: T.nn.functional.pad(x, (1, 1, 1, 1))), [Z]),
        "setitem_real_value": (lambda a, b: _set_rows(a, b), t(lambda a, b: _set_rows(a, b)),
                               [Z, X[1:]]),
        "astype_complex": (lambda x: x.astype(np.complex128) * (1 + 2j),
                           t(lambda x: x.to(T.complex128) * (1 + 2j)), [X]),
        # Fourier transforms
        "fft": (gnp.fft.fft, t(lambda x: T.fft.fft(x)), [Z]),
        "ifft_n": (lambda x: gnp.fft.ifft(x, n=6), t(lambda x: T.fft.ifft(x, n=6)), [Z]),
        "fft2": (gnp.fft.fft2, t(lambda x: T.fft.fft2(x)), [Z]),
        "irfft": (gnp.fft.irfft, t(lambda x: T.fft.irfft(x)), [Z]),
        "hfft": (gnp.fft.hfft, t(lambda x: T.fft.hfft(x)), [Z]),
        "rfft": (gnp.fft.rfft, t(lambda x: T.fft.rfft(x)), [X]),
        # linear algebra that has complex gradients
        "det": (gnp.linalg.det, t(lambda x: tl.det(x)), [B]),
        "slogdet": (lambda x: gnp.linalg.slogdet(x)[1], t(lambda x: tl.slogdet(x)[1]), [B]),
        "inv": (gnp.linalg.inv, t(lambda x: tl.inv(x)), [B]),
        "solve": (gnp.linalg.solve, t(lambda a, b: tl.solve(a, b)), [B, W[:, :2]]),
        "matrix_power": (lambda x: gnp.linalg.matrix_power(x, -2),
                         t(lambda x: tl.matrix_power(x, -2)), [B]),
        # decompositions, by results that do not depend on the vectors' free phases
        # (Hermitian input made by _herm, as eigh and cholesky read one triangle)
        "eigh_values": (lambda x: gnp.linalg.eigh(_herm(x)).eigenvalues,
                        t(lambda x: tl.eigh(_herm(x)).eigenvalues), [B]),
        "eigvalsh": (lambda x: gnp.linalg.eigvalsh(_herm(x)),
                     t(lambda x: tl.eigvalsh(_herm(x))), [B]),
        "eigh_abs_vectors": (lambda x: gnp.abs(gnp.linalg.eigh(_herm(x)).eigenvectors) ** 2,
                             t(lambda x: tl.eigh(_herm(x)).eigenvectors.abs() ** 2), [B]),
        "eigh_reconstruct": (lambda x: _vfvh(*gnp.linalg.eigh(_herm(x)), gnp),
                             t(lambda x: _vfvh(*tl.eigh(_herm(x)), T)), [B]),
        "svd_values_tall": (lambda x: gnp.linalg.svd(x).S, t(lambda x: tl.svdvals(x)), [Z.T]),
        "svdvals_wide": (gnp.linalg.svdvals, t(lambda x: tl.svdvals(x)), [Z]),
        "svd_reconstruct": (lambda x: _usvh(*gnp.linalg.svd(x, full_matrices=False), gnp),
                            t(lambda x: _usvh(*tl.svd(x, full_matrices=False), T)), [B]),
        "svd_reconstruct_tall": (
            lambda x: _usvh(*gnp.linalg.svd(x, full_matrices=False), gnp),
            t(lambda x: _usvh(*tl.svd(x, full_matrices=False), T)), [Z.T]),
        "svd_reconstruct_wide": (
            lambda x: _usvh(*gnp.linalg.svd(x, full_matrices=False), gnp),
            t(lambda x: _usvh(*tl.svd(x, full_matrices=False), T)), [Z]),
        "svd_abs_vectors_tall": (
            lambda x: _abs_uv(*gnp.linalg.svd(x, full_matrices=False), gnp),
            t(lambda x: _abs_uv(*tl.svd(x, full_matrices=False), T)), [Z.T]),
        "qr_q": (lambda x: gnp.linalg.qr(x).Q, t(lambda x: tl.qr(x).Q), [Z.T]),
        "qr_r": (lambda x: gnp.linalg.qr(x).R, t(lambda x: tl.qr(x).R), [Z.T]),
        "qr_square": (lambda x: gnp.linalg.qr(x).Q * 2 + gnp.linalg.qr(x).R,
                      t(lambda x: (lambda q, r: q * 2 + r)(*tl.qr(x))), [B]),
        "cholesky": (lambda x: gnp.linalg.cholesky(_herm(x)),
                     t(lambda x: tl.cholesky(_herm(x))), [H]),
        "pinv_tall": (gnp.linalg.pinv, t(lambda x: tl.pinv(x)), [Z.T]),
        "pinv_wide": (gnp.linalg.pinv, t(lambda x: tl.pinv(x)), [Z]),
        "lstsq": (lambda a, b: gnp.linalg.lstsq(a, b)[0],
                  t(lambda a, b: tl.pinv(a) @ b), [Z.T, W.T[:, :2]]),
        "eigvals": (gnp.linalg.eigvals, t(lambda x: tl.eigvals(x)), [B]),
        "eig_abs_vectors": (lambda x: gnp.abs(gnp.linalg.eig(x).eigenvectors) ** 2,
                            t(lambda x: tl.eig(x).eigenvectors.abs() ** 2), [B]),
        "eig_reconstruct": (lambda x: _eig_fn(*gnp.linalg.eig(x), gnp.linalg.inv),
                            t(lambda x: _eig_fn(*tl.eig(x), tl.inv)), [B]),
        "eigvals_of_real": (gnp.linalg.eigvals, t(lambda x: tl.eigvals(x)), [ROT]),
        "abs_det": (lambda x: gnp.abs(gnp.linalg.det(x)), t(lambda x: tl.det(x).abs()), [B]),
        # elementwise functions that were refused in a graph
        "sign": (gnp.sign, t(lambda x: x.sgn()), [Z]),
        "angle": (gnp.angle, t(lambda x: x.angle()), [Z]),
        "angle_real": (gnp.angle, t(lambda x: x.angle()), [X]),
        "nanprod": (lambda x: gnp.nanprod(x, axis=1), t(lambda x: x.prod(1)), [Z]),
        "nancumsum": (lambda x: gnp.nancumsum(x, axis=0), t(lambda x: x.cumsum(0)), [Z]),
        "diagflat": (lambda x: gnp.diagflat(x[:2], 1), t(lambda x: T.diagflat(x[:2], 1)), [Z]),
    }
    return c


def _vfvh(w, v, ns):
    return (v * ns.exp(w)[None, :]) @ ns.conj(v).T


def _usvh(u, s, vh, ns):
    return (u * (s * s)[None, :]) @ vh


def _abs_uv(u, s, vh, ns):
    return ns.abs(u) ** 2 * s[None, :] + (ns.abs(vh) ** 2).sum(axis=0)


def _eig_fn(w, v, inv):
    return (v * w[None, :] ** 2) @ inv(v)


def _set_rows(a, b):
    c = a * 1
    c[1:] = b
    return c


def _set_real_part(a, b):
    c = a * 1
    c.real = b[0]
    return c


def _scale_imag_part(a, b):
    c = a * 1
    c.imag *= b[0]
    return c


CASES = _cases()
HAVE_TORCH = CASES["abs"][1] is not None
CASES["set_real_part"] = (_set_real_part, _set_real_part if HAVE_TORCH else None, [Z, X])
CASES["scale_imag_part"] = (_scale_imag_part, None, [Z, X])
KNOWN = {}  # case -> a pytest mark, for a case known to fail


def _params(names):
    return [pytest.param(n, marks=KNOWN[n]) if n in KNOWN else n for n in sorted(names)]


@pytest.mark.parametrize("name", _params(CASES))
def test_complex_gradient_matches_finite_differences(name):
    f, _, inputs = CASES[name]
    ours, vr, vi = _gpugrad_grads(f, inputs)
    for a, g, fd in zip(inputs, ours, _finite_differences(f, inputs, vr, vi)):
        assert g.dtype == a.dtype, f"{name}: gradient dtype {g.dtype}, input {a.dtype}"
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.torch
@pytest.mark.parametrize("name", _params(n for n, c in CASES.items() if c[1] is not None))
def test_complex_gradient_matches_torch(name):
    f, ft, inputs = CASES[name]
    ours, vr, vi = _gpugrad_grads(f, inputs)
    for g, ref in zip(ours, _torch_grads(ft, inputs, vr, vi)):
        np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-11, err_msg=name)


# ops whose second derivative is recorded on complex inputs: gradgradcheck perturbs both parts
TWICE = {
    "abs_cubed": lambda x: gg.abs(x) ** 3, "exp": gg.exp, "log": gg.log, "sqrt": gg.sqrt,
    "tanh": gg.tanh, "reciprocal": gg.reciprocal, "pow": lambda x: x ** (1.5 + 0.5j),
    "prod": lambda x: gg.prod(x, axis=1), "var": gg.var, "norm": gg.norm,
    "matmul": lambda x: x @ x.T, "matmul_H": lambda x: x @ gg.conj(x).T,
    "det": lambda x: gg.det(x[:, :3]), "inv": lambda x: gg.inv(x[:, :3]),
}


@pytest.mark.parametrize("name", sorted(TWICE))
def test_complex_second_derivatives(name):
    assert gg.gradgradcheck(TWICE[name], [Z]) is True


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("f", [gg.exp, gg.abs, lambda x: x @ x.T, gg.sum, gg.real,
                               gnp.fft.fft, lambda x: x * np.ones(4)],
                         ids=["exp", "abs", "matmul", "sum", "real", "fft", "times_float64"])
def test_gradient_keeps_the_input_complex_dtype(f, dtype):
    z = gg.tensor(Z.astype(dtype), requires_grad=True)
    out = f(z)
    (gg.abs(out) ** 2 if out.dtype.kind == "c" else out).sum().backward()
    assert z.grad.dtype == dtype


def test_imag_of_a_real_tensor_cannot_be_set():
    x = gg.tensor(X.copy())
    with pytest.raises(TypeError, match="imaginary part"):  # NumPy's TypeError
        x.imag = 1.0
    x.real = np.ones_like(X)
    np.testing.assert_array_equal(x.numpy(), np.ones_like(X))


def test_real_leaf_of_a_complex_computation_gets_the_real_part():
    x = gg.tensor(X[0], requires_grad=True)
    c = 1 + 2j
    loss = (gg.abs(x.astype(np.complex128) * c - 1j) ** 2).sum()
    loss.backward()
    assert x.grad.dtype == np.float64
    # d/dx |x c - i|^2 = 2 re(conj(c) (x c - i))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.real(np.conj(c) * (X[0] * c - 1j)))


@pytest.mark.parametrize("f", [
    lambda z: gnp.maximum(z, z * 2), lambda z: gnp.max(z), lambda z: gnp.sort(z),
    lambda z: gnp.clip(z, 0, 1)], ids=["maximum", "max", "sort", "clip"])
def test_order_based_gradients_on_complex_input_refuse(f):
    # NumPy orders complex numbers lexicographically (the forward follows it); no gradient
    # formula is checked for that order, so backward refuses rather than guess
    z = gg.tensor(Z, requires_grad=True)
    with pytest.raises(NotImplementedError, match="complex"):
        gg.real(f(z)).sum().backward()


@pytest.mark.parametrize("f", [gg.relu, gg.softplus, lambda z: gg.mse_loss(z, z * 0)],
                         ids=["relu", "softplus", "mse_loss"])
def test_ops_undefined_on_complex_refuse(f):
    with pytest.raises(TypeError):
        f(gg.tensor(Z, requires_grad=True))


# ---------------------------------------------------------------- functional transforms
def test_jacobian_of_a_complex_output_of_a_real_input_is_the_complex_jacobian():
    x = np.array([0.3, -1.2])
    c = 1 + 2j
    np.testing.assert_allclose(gg.jacobian(lambda x: x * c)(x), c * np.eye(2))
    # d exp(i x) / dx = i exp(i x): the imaginary part of each output was dropped
    np.testing.assert_allclose(gg.jacobian(lambda x: gg.exp(1j * x))(x),
                               np.diag(1j * np.exp(1j * x)))


def test_jacobian_of_a_real_output_of_a_complex_input_is_the_gradient_per_output():
    z = Z[0]
    j = gg.jacobian(lambda z: gg.abs(z) ** 2)(z)
    np.testing.assert_allclose(j, np.diag(2 * z))  # d|z|^2/d(re) + i d|z|^2/d(im) = 2z
    pytest.importorskip("torch")
    import torch
    ref = torch.autograd.functional.jacobian(lambda z: z.abs() ** 2, torch.tensor(z))
    np.testing.assert_allclose(j, ref.numpy())


def test_jacobian_and_hessian_refuse_complex_to_complex():
    # a single complex Jacobian exists only for holomorphic functions (PyTorch's and JAX's
    # jacrev refuse too); the old answer was the conjugate of the real part's rows
    with pytest.raises(TypeError, match="complex"):
        gg.jacobian(lambda z: z * z)(Z[0])
    with pytest.raises(TypeError, match="complex"):  # the 2n x 2n real Hessian
        gg.hessian(lambda z: (gg.abs(z) ** 4).sum())(Z[0])


def test_hvp_of_a_complex_input_is_the_real_hessian_product():
    z, v = Z[0], W[0]

    def f(z):
        return (gg.abs(z * z) ** 2).sum() + (gg.real(z) ** 2 * gg.imag(z)).sum()

    def grad_at(z):
        return gg.grad(f)(z)

    eps = 1e-6
    fd = (grad_at(z + eps * v) - grad_at(z - eps * v)) / (2 * eps)
    np.testing.assert_allclose(gg.hvp(f, z, v), fd, rtol=1e-6, atol=1e-6)
    pytest.importorskip("torch")
    import torch

    def tf(z):
        return ((z * z).abs() ** 2).sum() + (z.real ** 2 * z.imag).sum()

    ref = torch.autograd.functional.hvp(tf, torch.tensor(z), torch.tensor(v))[1]
    np.testing.assert_allclose(gg.hvp(f, z, v), ref.numpy(), rtol=1e-10)


def test_hvp_refuses_a_complex_direction_for_a_real_input():
    with pytest.raises(TypeError, match="complex"):
        gg.hvp(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]), np.array([1 + 1j, 1j]))
