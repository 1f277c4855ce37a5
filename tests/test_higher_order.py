"""Higher-order differentiation: create_graph, nested transforms, hessian/hvp/vjp, the refusal
of backwards that cannot be differentiated, and leaf hooks seeing one total per pass."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.autograd import Function


def f64(v, **kw):
    return gg.tensor(v, dtype="float64", **kw)


# ---------------------------------------------------------------- the cases
def test_grad_of_grad_is_the_second_derivative():
    assert gg.grad(lambda x: gg.grad(lambda y: y ** 3)(x))(2.0) == 12.0


def test_nested_closures_are_not_confused():
    # d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x
    assert gg.grad(lambda x: x * gg.grad(lambda y: x * y)(2.0))(1.0) == 2.0
    # the inner derivative is taken at the inner point only
    assert gg.grad(lambda x: gg.grad(lambda y: x * y ** 2)(3.0))(1.0) == 6.0


def test_jacobian_of_grad_is_the_hessian():
    def f(x):
        return (x ** 3).sum() + (x * x).sum() * x.sum()

    x = np.array([0.5, -1.0, 2.0])
    h = gg.jacobian(gg.grad(f))(x)
    # f = sum x^3 + |x|^2 * sum x; H = diag(6x) + 2 diag(s) + 2 (x 1^T + 1 x^T)
    s = x.sum()
    expected = np.diag(6 * x) + 2 * s * np.eye(3) + 2 * (x[:, None] + x[None, :])
    np.testing.assert_allclose(h, expected, rtol=1e-12)
    np.testing.assert_allclose(gg.hessian(f)(x), expected, rtol=1e-12)


def test_any_order():
    d4 = gg.grad(gg.grad(gg.grad(gg.grad(lambda x: x ** 5))))
    assert d4(2.0) == pytest.approx(120 * 2.0)


def test_hvp_matches_the_hessian_times_v():
    rng = np.random.default_rng(0)
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def f(x):
        return (x ** 3).sum() * (x * x).sum()

    np.testing.assert_allclose(gg.hvp(f, x, v), gg.hessian(f)(x) @ v, rtol=1e-10)
    with pytest.raises(ValueError, match="v must have x's shape"):
        gg.hvp(f, x, v[:2])


def test_vjp():
    out, f_vjp = gg.vjp(lambda a, b: a * b ** 2, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_array_equal(out, [9.0, 32.0])
    ga, gb = f_vjp(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(ga, [9.0, 160.0])
    np.testing.assert_array_equal(gb, [6.0, 160.0])
    np.testing.assert_array_equal(f_vjp(np.array([1.0, 0.0]))[0], [9.0, 0.0])  # reusable
    with pytest.raises(ValueError, match="cotangent must have the output's shape"):
        f_vjp(np.ones(3))


# ---------------------------------------------------------------- the engine's API
def test_backward_create_graph_leaves_a_differentiable_grad():
    x = f64(2.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    assert x.grad.item() == 12.0 and x.grad.requires_grad
    (gx,) = gg.autograd.grad(x.grad, [x])
    assert gx.item() == 12.0                      # d/dx 3x^2 = 6x


def test_autograd_grad_signature_and_defaults():
    x = f64([1.0, 2.0], requires_grad=True)
    y = (x ** 2).sum()
    (g,) = gg.autograd.grad(y, [x], create_graph=True)   # retain_graph defaults to True
    (g2,) = gg.autograd.grad(y, [x])                      # so the graph is still there
    np.testing.assert_array_equal(g.numpy(), g2.numpy())
    (h,) = gg.autograd.grad(g, [x], grad_outputs=f64([1.0, 0.0]))
    np.testing.assert_array_equal(h.numpy(), [2.0, 0.0])
    with pytest.raises(ValueError, match="grad_outputs has 2 entries for 1 outputs"):
        gg.autograd.grad(y, [x], grad_outputs=[None, None])


def test_grad_outputs_that_require_grad_are_differentiated_too():
    x = f64([1.0, 2.0], requires_grad=True)
    v = f64([3.0, 5.0], requires_grad=True)
    (g,) = gg.autograd.grad(x ** 2, [x], grad_outputs=v, create_graph=True)  # 2 x v
    (gv,) = gg.autograd.grad(g.sum(), [v])
    np.testing.assert_array_equal(gv.numpy(), [2.0, 4.0])


def test_gradient_penalty_on_a_closed_over_parameter():
    w = f64([0.5, -1.5], requires_grad=True)
    gx = gg.grad(lambda x: (w * x ** 2).sum())(f64([1.0, 2.0]))   # 2 w x: keeps w's graph
    assert isinstance(gx, gg.Tensor) and gx.requires_grad
    (gx ** 2).sum().backward()                                      # d/dw sum 4 w^2 x^2
    np.testing.assert_allclose(w.grad.numpy(), 8 * np.array([0.5, -1.5]) * [1.0, 4.0])


def test_top_level_grad_returns_values_in_the_input_kind():
    g = gg.grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    assert type(g) is np.ndarray
    assert type(gg.grad(lambda x: x ** 2)(3.0)) is float


class _RawBackward(Function):
    """An op whose backward is not marked twice differentiable."""

    def forward(self, x):
        self.saved = (x,)
        return x * x

    def backward(self, g):
        (x,) = self.saved
        return (2 * x * g,)


def test_an_op_that_is_not_twice_differentiable_refuses_by_name():
    x = f64(3.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="backward of _RawBackward is not differentiable"):
        gg.autograd.grad(_RawBackward.apply(x), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="_RawBackward"):
        gg.grad(gg.grad(lambda t: _RawBackward.apply(t)))(3.0)
    # first order is unaffected
    assert gg.autograd.grad(_RawBackward.apply(x), [x])[0].item() == 6.0


class _LyingBackward(Function):
    """Claims to be twice differentiable but reads raw data: gradgradcheck must catch it."""

    twice_differentiable = True

    def forward(self, x):
        self.saved = (x.copy(),)  # a copy: the engine cannot know it is the input
        return x * x * x

    def backward(self, g):
        (x,) = self.saved
        return (3 * x * x * g,)


def test_gradgradcheck_catches_a_backward_that_records_no_dependence():
    x = gg.randn(3, dtype="float64")
    assert gg.gradcheck(_LyingBackward.apply, [x])
    with pytest.raises(gg.GradcheckError):
        gg.gradgradcheck(_LyingBackward.apply, [x])


def test_saved_output_is_differentiated_through_the_node():
    # divide saves its answer; at 0-d NumPy returns a scalar object for it
    x = f64(2.0, requires_grad=True)
    (g,) = gg.autograd.grad(1 / x, [x], create_graph=True)
    (h,) = gg.autograd.grad(g, [x])
    assert h.item() == pytest.approx(2 / 8)


# ---------------------------------------------------------------- leaf hooks
def test_leaf_hook_runs_once_on_the_total_gradient():
    calls = []
    x = f64([1.0], requires_grad=True)

    def clip(g):
        calls.append(g.numpy().copy())
        return gg.clip(g, -1.0, 1.0)

    x.register_hook(clip)
    (3 * x + 3 * x).sum().backward()
    assert len(calls) == 1 and calls[0].tolist() == [6.0]
    assert x.grad.tolist() == [1.0]


def test_leaf_hook_once_in_autograd_grad_and_across_passes():
    calls = []
    x = f64([2.0], requires_grad=True)
    x.register_hook(lambda g: calls.append(g.item()))
    (g,) = gg.autograd.grad((x * x + x * 5).sum(), [x])
    assert calls == [9.0] and g.item() == 9.0
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    assert calls == [9.0, 3.0, 4.0]      # once per pass
    assert x.grad.item() == 7.0


def test_leaf_hook_sees_the_root_gradient_when_the_output_is_the_leaf():
    calls = []
    x = f64([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: calls.append(g.tolist()))
    x.backward(f64([1.0, 1.0]))
    assert calls == [[1.0, 1.0]]


def test_hooks_under_create_graph_get_and_return_tensors_with_a_graph():
    x = f64(3.0, requires_grad=True)
    x.register_hook(lambda g: g * 2)
    (g,) = gg.autograd.grad(x ** 2, [x], create_graph=True)   # hooked: 2 * 2x
    assert g.item() == 12.0
    (h,) = gg.autograd.grad(g, [x])                          # d/dx 4x = 4 (hook again: 8)
    assert h.item() == 8.0


def test_default_backward_is_unchanged_by_the_engine_changes():
    # plain gradients are raw arrays inside the engine: the fast path
    x = gg.randn(5, requires_grad=True)
    y = (gg.tanh(x) * x).sum()
    y.backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None


# ---------------------------------------------------------------- found by trying to break it
def test_inputs_sharing_one_array_are_told_apart():
    t = gg.tensor([1.0, 2.0, 3.0], dtype="float64")
    p = gg.nn.Parameter(t)                       # shares t's array; only p requires grad
    (g,) = gg.autograd.grad((t * p * p).sum(), p, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [2.0, 8.0, 18.0])       # 2 t p
    np.testing.assert_array_equal(gg.autograd.grad(g.sum(), p)[0].numpy(), [2.0, 4.0, 6.0])
    x = f64([1.0, 2.0], requires_grad=True)
    (g,) = gg.autograd.grad((x.detach() * x).sum(), x, create_graph=True)
    assert not g.requires_grad                   # d/dx of a constant times x: no dependence
    (g,) = gg.autograd.grad((x ** x.detach()).sum(), x, create_graph=True)  # c x^(c-1)
    np.testing.assert_array_equal(gg.autograd.grad(g.sum(), x)[0].numpy(), [0.0, 2.0])


def test_a_refused_pass_leaves_no_partial_gradient():
    x = f64([1.0, 2.0], requires_grad=True)
    w = f64([3.0, 4.0], requires_grad=True)
    y = _RawBackward.apply(x * w).sum() + (w * w).sum()
    with pytest.raises(RuntimeError, match="_RawBackward"):
        y.backward(create_graph=True)
    assert w.grad is None and x.grad is None
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2 * (x * w).numpy() * x.numpy() + 2 * w.numpy())


def test_grad_mode_belongs_to_each_thread():
    import threading

    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with gg.no_grad():
            a_in.set()
            b_in.wait(5)
            seen["a"] = gg.is_grad_enabled()
        a_out.set()

    def b():
        a_in.wait(5)
        seen["b"] = gg.is_grad_enabled()      # a's no_grad does not reach this thread
        with gg.enable_grad():
            b_in.set()
            a_out.wait(5)
        x = gg.tensor([1.0], requires_grad=True)
        seen["b_records"] = (x * 2).requires_grad

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert seen == {"a": False, "b": True, "b_records": True}
    assert gg.is_grad_enabled()
    with gg.no_grad():
        out = []
        t = threading.Thread(target=lambda: out.append(gg.is_grad_enabled()))
        t.start()
        t.join()
        assert out == [True]                 # a new thread starts with recording on


def test_jacobian_hessian_and_vjp_take_pytrees_as_jax_does():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    ja, jb = gg.jacobian(lambda p: p[0] * p[1])([a, b])
    np.testing.assert_array_equal(ja, np.diag(b))
    np.testing.assert_array_equal(jb, np.diag(a))
    ((ga, gb),) = gg.vjp(lambda p: p[0] * p[1], [a, b])[1](np.ones(2))   # one primal: a list
    np.testing.assert_array_equal(ga, b)
    np.testing.assert_array_equal(gb, a)
    # f = sum a^2 b: H = [[diag 2b, diag 2a], [diag 2a, 0]]
    h = gg.hessian(lambda x, y: (x ** 2 * y).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_array_equal(h[0][0], np.diag(2 * b))
    np.testing.assert_array_equal(h[0][1], np.diag(2 * a))
    np.testing.assert_array_equal(h[1][0], np.diag(2 * a))
    np.testing.assert_array_equal(h[1][1], np.zeros((2, 2)))
    hp = gg.hessian(lambda p: (p[0] ** 2 * p[1]).sum())([a, b])
    np.testing.assert_array_equal(hp[1][0], np.diag(2 * a))
    j2, jd = gg.jacobian(lambda x: (x * 2, {"s": x.sum()}))(a)   # pytree output
    np.testing.assert_array_equal(j2, 2 * np.eye(2))
    np.testing.assert_array_equal(jd["s"], np.ones(2))


def test_constant_function_has_zero_gradient():
    assert gg.grad(lambda x: 3.0)(2.0) == 0.0
    np.testing.assert_array_equal(gg.grad(lambda x: 1.5)(np.ones(3)), np.zeros(3))


def test_a_real_input_of_a_complex_product_gets_the_real_part_of_its_gradient():
    import warnings

    x = f64([1.0, 2.0], requires_grad=True)
    z = gg.tensor([1 + 2j, 3 - 1j], dtype="complex128", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no ComplexWarning from a silent cast
        gx, gz = gg.autograd.grad(gg.real(x * z).sum(), [x, z])
        assert gx.dtype == np.float64
        np.testing.assert_array_equal(gx.numpy(), [1.0, 3.0])      # as torch.autograd.grad
        np.testing.assert_array_equal(gz.numpy(), [1.0, 2.0])
        gg.imag(x * z).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, -1.0])
        (gx,) = gg.autograd.grad(gg.real(x * z * x).sum(), [x], create_graph=True)
        (gxx,) = gg.autograd.grad(gx.sum(), [x])
        np.testing.assert_array_equal(gxx.numpy(), [2.0, 6.0])     # 2 Re z


def test_transforms_keep_complex_inputs():
    z = np.array([0.3 + 0.4j, -1 + 0.2j])
    g = gg.grad(lambda u: gg.real((u * u * gg.conj(u)).sum()))(z)
    assert g.dtype == np.complex128
    # L = Re(z^2 conj z) = |z|^2 Re z; the values are torch.autograd.grad's
    np.testing.assert_allclose(g, [0.43 + 0.24j, 3.04 - 0.4j], rtol=1e-12)
    assert gg.grad(lambda u: gg.real(u * u))(0.5 + 1j) == 1 - 2j
    np.testing.assert_allclose(gg.jacobian(lambda u: gg.real(u) * 2)(z), 2 * np.eye(2))
    with pytest.raises(RuntimeError, match="only for real scalar outputs"):
        gg.autograd.grad((gg.tensor([1.0, 2.0], requires_grad=True) * (1 + 2j)).sum(),
                         [gg.tensor([1.0], requires_grad=True)])
