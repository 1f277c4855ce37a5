"""The gradient of an argument a function does not use is exactly zero, whatever the
argument holds: NaN and infinities in it must not leak in (``0 * inf`` is NaN), in every
functional transform (grad, value_and_grad, jacobian, hessian, vjp)."""
import numpy as np
import pytest

import gpugrad as gg

BAD = np.array([1.0, np.nan, np.inf, -np.inf])


def test_grad_of_an_unused_argument_holding_nan_and_inf_is_zero():
    ga, gb = gg.grad(lambda a, b: (a * a).sum(), argnums=(0, 1))(np.ones(4), BAD)
    np.testing.assert_array_equal(ga, 2 * np.ones(4))
    np.testing.assert_array_equal(gb, np.zeros(4))


def test_value_and_grad_of_an_unused_argument_is_zero():
    (value, (ga, gb)) = gg.value_and_grad(lambda a, b: a.sum(), argnums=(0, 1))(np.ones(4), BAD)
    assert value == 4.0
    np.testing.assert_array_equal(gb, np.zeros(4))


def test_jacobian_block_of_an_unused_argument_is_zero():
    ja, jb = gg.jacobian(lambda a, b: a * 2, argnums=(0, 1))(np.ones(2), BAD)
    np.testing.assert_array_equal(ja, 2 * np.eye(2))
    np.testing.assert_array_equal(jb, np.zeros((2, 4)))


def test_hessian_of_a_function_of_some_entries_is_zero_elsewhere():
    # grad(f) does not depend on x[1:], so those rows and columns are exact zeros
    h = gg.hessian(lambda x: x[0] ** 3)(np.array([2.0, np.nan, np.inf]))
    expected = np.zeros((3, 3))
    expected[0, 0] = 12.0
    np.testing.assert_array_equal(h, expected)


def test_vjp_of_an_unused_primal_is_zero():
    out, f_vjp = gg.vjp(lambda a, b: a * 3, np.ones(4), BAD)
    ga, gb = f_vjp(np.ones(4))
    np.testing.assert_array_equal(ga, 3 * np.ones(4))
    np.testing.assert_array_equal(gb, np.zeros(4))


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_unused_argument_gradient_keeps_the_argument_dtype(dtype):
    gb = gg.grad(lambda a, b: a.sum(), argnums=1)(np.ones(2), BAD.astype(dtype))
    assert gb.dtype == dtype
    np.testing.assert_array_equal(gb, np.zeros(4, dtype))


def test_nested_grad_with_an_unused_argument_is_zero():
    # grad of grad: the inner gradient wrt b is a constant zero, so is the outer one
    def inner(a, b):
        return gg.grad(lambda a, b: (a ** 3).sum(), argnums=1)(a, b).sum() + (a * a).sum()
    gb = gg.grad(inner, argnums=1)(np.ones(2), np.array([np.nan, np.inf]))
    np.testing.assert_array_equal(gb, np.zeros(2))


def test_unused_argument_gradient_lives_on_the_argument_device(device):
    a = gg.tensor(np.ones(2), device=device)
    b = gg.tensor(np.array([np.nan, np.inf]), device=device)
    gb = gg.grad(lambda a, b: (a * a).sum(), argnums=1)(a, b)
    assert gb.device == b.device
    np.testing.assert_array_equal(gb.numpy(), np.zeros(2))
