"""The Euclidean norm at the origin, differentiated twice.  Its gradient there is the
subgradient 0 (PyTorch's choice, and abs's); the derivative of that gradient is then 0 as
well, as for abs, hypot, std of a constant slice and PyTorch's norm -- not the identity that
differentiating the safe quotient x / where(|x| = 0, 1, |x|) would give."""
import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")


def test_hessian_of_the_norm_at_the_origin_is_that_of_abs():
    h_norm = gg.hessian(lambda t: gg.norm(t))(np.zeros(1))
    h_abs = gg.hessian(lambda t: gg.abs(t).sum())(np.zeros(1))
    np.testing.assert_array_equal(h_norm, h_abs)
    np.testing.assert_array_equal(h_norm, [[0.0]])


@pytest.mark.parametrize("n", [1, 3])
def test_hessian_of_the_norm_at_the_origin_matches_torch(n):
    h = gg.hessian(lambda t: gg.norm(t))(np.zeros(n))
    ht = torch.func.hessian(torch.linalg.vector_norm)(torch.zeros(n, dtype=torch.float64))
    np.testing.assert_array_equal(h, ht.numpy())


def test_a_zero_row_beside_a_nonzero_row():
    # the row norms: the zero row's block is 0, the other row's block the usual Hessian
    x = np.array([[0.0, 0.0], [3.0, -4.0]])

    def f(t):
        return gg.norm(t, axis=1).sum()

    def ft(t):
        return torch.linalg.vector_norm(t, dim=1).sum()

    h = gg.hessian(f)(x)
    ht = torch.func.hessian(ft)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(h, ht, rtol=1e-12, atol=1e-15)
    assert not h[0, :, 0, :].any()


def test_hvp_of_a_complex_norm_at_the_origin_is_zero():
    v = np.array([1 + 1j, 2 - 1j])
    hv = gg.hvp(lambda t: gg.norm(t), np.zeros(2, complex), v)
    _, hvt = torch.autograd.functional.hvp(torch.linalg.vector_norm,
                                           torch.zeros(2, dtype=torch.complex128),
                                           torch.tensor(v))
    np.testing.assert_array_equal(hv, hvt.numpy())
    np.testing.assert_array_equal(hv, np.zeros(2, complex))


def test_first_order_at_the_origin_is_unchanged():
    x = gg.tensor(np.zeros(3), requires_grad=True)
    gg.norm(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))
    g = gg.grad(lambda t: gg.norm(t) ** 3)(np.array([1.0, 2.0, 2.0]))
    np.testing.assert_allclose(g, 3 * 3.0 * np.array([1.0, 2.0, 2.0]))


def test_second_derivative_at_the_origin_on_every_device(device):
    x = gg.tensor(np.zeros(3), device=device, requires_grad=True)
    (g,) = gg.autograd.grad(gg.norm(x), [x], create_graph=True)
    (h,) = gg.autograd.grad(g.sum(), [x])
    np.testing.assert_array_equal(h.numpy(), np.zeros(3))
