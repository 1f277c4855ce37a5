"""``dot`` and ``inner`` with a 0-d operand give NumPy's own answer bit for bit, in a graph
too: NumPy computes a scalar's product with BLAS's axpy for float and complex dtypes, which
on AVX-512 CPUs can differ from ``multiply`` in the last bit of complex products; the gradient
is multiply's."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

RNG = np.random.default_rng(1)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64", "complex128"])
@pytest.mark.parametrize("name", ["dot", "inner"])
@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("scalar_first", [True, False])
def test_scalar_product_is_numpys(dtype, name, grad, scalar_first):
    s = np.asarray(0.3 + 0.7j if dtype.startswith("complex") else 0.3, dtype)
    v = RNG.standard_normal((7, 5)) + (1j * RNG.standard_normal((7, 5))
                                       if dtype.startswith("complex") else 0)
    v = v.astype(dtype)
    ts = gg.tensor(s, requires_grad=grad)
    args, refs = ((ts, gnp.asarray(v)), (s, v)) if scalar_first else ((gnp.asarray(v), ts), (v, s))
    got = getattr(gnp, name)(*args)
    np.testing.assert_array_equal(got.numpy(), getattr(np, name)(*refs), strict=True)


@pytest.mark.parametrize("name", ["dot", "inner"])
def test_gradient_is_multiplys(name):
    s = np.complex128(0.3 + 0.7j)
    v = RNG.standard_normal(6) + 1j * RNG.standard_normal(6)
    ts, tv = gg.tensor(s, requires_grad=True), gg.tensor(v, requires_grad=True)
    ws, wv = gg.tensor(s, requires_grad=True), gg.tensor(v, requires_grad=True)
    gg.sum(gg.abs(getattr(gnp, name)(ts, tv)) ** 2).backward()
    gg.sum(gg.abs(ws * wv) ** 2).backward()
    np.testing.assert_allclose(ts.grad.numpy(), ws.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(tv.grad.numpy(), wv.grad.numpy(), rtol=1e-13)


def test_second_order_through_a_scalar_dot():
    x = gg.tensor(np.float64(1.5), requires_grad=True)
    v = gg.tensor(np.array([1.0, -2.0, 3.0]))
    (g,) = gg.autograd.grad(gg.sum(gnp.dot(x, v) ** 2), [x], create_graph=True)
    (h,) = gg.autograd.grad(g, [x])
    assert float(h) == pytest.approx(2 * 14.0)
