"""gpugrad.numpy at the edges, against NumPy, finite differences and PyTorch: order
statistics whose position falls on an element (quantile's 'midpoint'), p-norms at zero
entries and at the origin, and functions of ONE axis given a sequence of axes (NumPy
refuses it; taking its first axis silently would be a wrong answer)."""
from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


# ------------------------------------------------------------ quantile 'midpoint'
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("fn", ["quantile", "percentile"])
def test_midpoint_on_an_element_is_that_element(n, fn):
    # q * (n - 1) an integer (q = 0, 1, 0.5 of an odd count, ...): NumPy gives that element,
    # not the mean of it and the next one
    x = np.random.default_rng(n).standard_normal((n, 3))
    q = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 1 / 3, 0.6])
    if fn == "percentile":
        q = q * 100
    want = getattr(np, fn)(x, q, axis=0, method="midpoint")
    got = getattr(gnp, fn)(gnp.asarray(x), q, axis=0, method="midpoint")
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-15, atol=0)


def test_midpoint_gradient_matches_finite_differences():
    x = np.random.default_rng(0).standard_normal(5)  # distinct values
    r = np.array([1.0, -2.0, 0.5])
    q = np.array([0.0, 0.3, 0.5])  # on an element, between two, on an element

    def f(v):
        return float(np.sum(np.quantile(v, q, method="midpoint") * r))

    g = gg.grad(lambda t: gnp.sum(gnp.quantile(t, q, method="midpoint") * r))(x)
    eps = 1e-6
    fd = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(5)])
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------ p-norms at zeros
def _torch_norm_grad(x, p):
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    torch.linalg.vector_norm(t, ord=p).backward()
    return t.grad.numpy()


@pytest.mark.parametrize("p", [3, 1.5, 0.5, -1, -2.5])
@pytest.mark.parametrize("x", [[0.0, 0.0, 0.0], [0.0, -2.0, 2.0, 1.0], [3.0, -1.0, 0.5]],
                         ids=["origin", "a-zero-entry", "no-zero"])
def test_p_norm_gradient_is_pytorchs_at_zeros(p, x):
    # sum(|x|^p)^(1/p) composed of powers gives 0 * inf = NaN at a zero entry (p < 1) and at
    # the origin (any p); PyTorch's subgradient there is 0
    x = np.array(x)
    with np.errstate(divide="ignore"):  # (NumPy's 0 ** p for p < 0)
        want_value = np.linalg.norm(x, ord=p)
    y = gg.value_and_grad(lambda t: gnp.linalg.norm(t, ord=p))(x)
    value, g = y
    np.testing.assert_allclose(float(value), want_value, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(g), _torch_norm_grad(x, p), rtol=1e-12, atol=0)
    g2 = gg.grad(lambda t: gnp.linalg.vector_norm(t, ord=p))(x)
    np.testing.assert_allclose(np.asarray(g2), np.asarray(g), rtol=0, atol=0)


@pytest.mark.parametrize("p", [3, 0.5, -1])
def test_p_norm_over_an_axis_matches_finite_differences(p):
    x = np.random.default_rng(1).standard_normal((3, 4))
    r = np.array([1.0, -1.0, 2.0])

    def f(v):
        return float(np.sum(np.linalg.norm(v, ord=p, axis=1) * r))

    g = gg.grad(lambda t: gnp.sum(gnp.linalg.norm(t, ord=p, axis=1) * r))(x)
    eps = 1e-6
    fd = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        fd[i] = (f(x + e) - f(x - e)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-6, atol=1e-8)


def test_p_norm_complex_gradient_is_pytorchs():
    torch = pytest.importorskip("torch")
    z = np.array([1.0 + 2.0j, 0.0, -0.5 + 0.25j])
    for p in (3, 0.5):
        t = torch.tensor(z, requires_grad=True)
        torch.linalg.vector_norm(t, ord=p).backward()
        g = gg.grad(lambda v: gnp.linalg.norm(v, ord=p))(z)
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-12, atol=0)


def test_norm_takes_a_numpy_integer_axis_in_a_graph():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    g = gg.grad(lambda t: gnp.sum(gnp.linalg.norm(t, axis=np.int64(1))))(x)
    np.testing.assert_allclose(np.asarray(g), x / np.linalg.norm(x, axis=1, keepdims=True))


# ------------------------------------------------------------ one axis, not a sequence
_ONE_AXIS = {
    "sort": lambda m, x, ax: m.sort(x, axis=ax),
    "argsort": lambda m, x, ax: m.argsort(x, axis=ax),
    "partition": lambda m, x, ax: m.partition(x, 1, axis=ax),
    "argpartition": lambda m, x, ax: m.argpartition(x, 1, axis=ax),
    "cumprod": lambda m, x, ax: m.cumprod(x, axis=ax),
    "cumulative_prod": lambda m, x, ax: m.cumulative_prod(x, axis=ax),
    "cumulative_sum": lambda m, x, ax: m.cumulative_sum(x, axis=ax),
    "cross": lambda m, x, ax: m.cross(x[:3, :3], x[:3, :3], axis=ax),
    "fft.fft": lambda m, x, ax: m.fft.fft(x, axis=ax),
    "Tensor.argsort": lambda m, x, ax: m.asarray(x).argsort(axis=ax),
    "Tensor.cumprod": lambda m, x, ax: m.asarray(x).cumprod(axis=ax),
}


@pytest.mark.parametrize("axis", [(0, 1), (1,), [0], 1.0], ids=str)
@pytest.mark.parametrize("name", sorted(_ONE_AXIS))
@pytest.mark.parametrize("graph", [False, True], ids=["plain", "graph"])
def test_one_axis_functions_refuse_what_numpy_refuses(name, axis, graph):
    if not hasattr(np, name.split(".")[0]) and not name.startswith("Tensor"):
        pytest.skip(f"NumPy {np.__version__} has no {name} to compare with")
    a = np.arange(1.0, 13.0).reshape(3, 4)
    x = gg.tensor(a, requires_grad=True) if graph else gnp.asarray(a)
    try:
        want = _ONE_AXIS[name](np, a, axis)
    except (TypeError, ValueError) as e:
        with pytest.raises(type(e)):
            _ONE_AXIS[name](gnp, x, axis)
    else:  # (cumulative_prod takes a 1-tuple)
        np.testing.assert_array_equal(_ONE_AXIS[name](gnp, x, axis).detach().numpy(), want)


@pytest.mark.parametrize("fn", [gg.softmax, gg.log_softmax])
def test_softmax_refuses_a_sequence_of_axes(fn):
    with pytest.raises(TypeError, match="axis"):
        fn(gg.tensor(np.zeros((2, 3))), axis=(0, 1))


def test_fftn_refuses_a_float_axis():
    with pytest.raises(TypeError):
        np.fft.fftn(np.ones((2, 2)), axes=[0.7])
    with pytest.raises(TypeError, match="axis"):
        gnp.fft.fftn(gnp.ones((2, 2)), axes=[0.7])
