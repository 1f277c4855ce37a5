"""In-place operations on non-leaf tensors and on views of them: every in-place method and
operator re-links the base the way ``x[key] = v`` does, and an op whose backward reads the
value it overwrites keeps a private copy of that value (only then).

Each case is a pair of functions (gpugrad, PyTorch) of ``x = [1, 2, 3]`` returning a scalar
loss, with the gradient PyTorch gives written down, so the cases run without PyTorch; where
PyTorch is installed, ``test_expected_values_match_torch`` re-derives each expectation.
"""
import numpy as np
import pytest

import gpugrad as gg

X0 = [1.0, 2.0, 3.0]


def _x(device="cpu"):
    return gg.tensor(X0, requires_grad=True, dtype=gg.float64, device=device)


def _grad(fn, device="cpu"):
    x = _x(device)
    with gg.default_device(device):      # the case's constants live where x does
        fn(x).backward()
    return x.grad.numpy()


# ------------------------------------------------------------------ the cases
def _zero_view(x, T):
    y = x * 2
    y[1:].zero_()
    return (y * y * x).sum()


def _fill_view(x, T):
    y = x * 2
    y[0:2].fill_(5)
    return (y * y * x).sum()


def _copy_constant_into_view(x, T):
    y = x * 2
    y[0:1].copy_(T.tensor([7.0], dtype=T.float64))
    return (y * y * x).sum()


def _copy_tensor_into_view(x, T):
    y = x * 2
    y[1:].copy_(x[:2] * 3)
    return (y * y * x).sum()


def _zero_non_view(x, T):
    y = x * 2
    y.zero_()
    return (y * x).sum()


def _clamp_view(x, T):
    y = x * 2
    y[1:].clamp_(3, 5)
    return (y * y * x).sum()


def _view_stays_linked_after_fill(x, T):
    y = x * 2
    v = y[1:]
    v.zero_()
    v += x[1:]                 # a later write through the same view still reaches y
    return (y * y).sum()


def _setitem_view_of_view(x, T):
    y = x * 2
    y[1:][0:1] = 5.0
    return (y * y * x).sum()


def _operators_on_a_view(x, T):
    y = x * 2
    v = y[1:]
    v -= x[1:]
    v /= x[1:]
    v **= 2
    return (y * y * x).sum()


def _mul_by_input(x, T):       # Multiply's backward reads the old y
    y = x * 2
    y *= x
    return (y ** 2).sum()


def _mul_view_by_input(x, T):
    y = x * 2
    y[1:] *= x[:2]
    return (y ** 2).sum()


def _pow_by_constant(x, T):    # Power reads its base
    y = x * 2
    y **= 2
    return (y ** 2).sum()


def _div_by_input(x, T):       # Divide does not read the numerator: no copy needed
    y = x * 2
    y /= x
    return (y ** 2).sum()


def _pow_by_input(x, T):
    y = x * 2
    y.pow_(x)
    return y.sum()


def _add_self(x, T):
    y = x * 1
    y += y
    return (y ** 2).sum()


def _chained_methods(x, T):
    y = x * 2
    y.mul_(x).add_(x).div_(x + 1)
    return (y ** 2).sum()


def _constant_consumer_before_write(x, T):  # z = y * 3 saved nothing of y
    y = x * 2
    z = y * 3
    y *= 2
    return z.sum()


def _view_then_base_write(x, T):  # backward through another view of the written base
    y = x * 2
    v = y[1:]
    y.mul_(x)
    return (v * v).sum()


def _write_slice_read_other_view(x, T):
    y = x * 2
    v = y[1:]
    v *= x[1:]
    w = y[:2]
    return (w * w).sum()


def _view_of_view_write(x, T):
    y = x * 2
    v = y[1:]
    v2 = v[1:]
    v2 *= x[2:]
    return (y ** 3).sum()


def _slices_in_a_loop(x, T):
    y = x * 2
    for i in range(3):
        y[i:] *= x[:3 - i]
    return (y ** 2).sum()


def _mul_in_a_loop(x, T):
    y = x * 2
    for _ in range(3):
        y.mul_(x)
    return (y * y).sum()


def _rows_in_a_loop(x, T):     # the operand x[i] * y[i] saved y[i] before the write
    y = x * 2
    for i in range(3):
        y[i] += x[i] * y[i]
    return (y * y).sum()


# name: (function, gradient from PyTorch 2.x); the loop over rows raises in PyTorch (its
# operand's saved y[i] is overwritten), so its value is the analytic 2 u (2 + 4 x) with
# u = 2 x + 2 x^2
CASES = {
    "zero_view": (_zero_view, [12.0, 0.0, 0.0]),
    "fill_view": (_fill_view, [25.0, 25.0, 108.0]),
    "copy_constant_into_view": (_copy_constant_into_view, [49.0, 48.0, 108.0]),
    "copy_tensor_into_view": (_copy_tensor_into_view, [48.0, 117.0, 36.0]),
    "zero_non_view": (_zero_non_view, [0.0, 0.0, 0.0]),
    "clamp_view": (_clamp_view, [12.0, 48.0, 25.0]),
    "view_stays_linked_after_fill": (_view_stays_linked_after_fill, [8.0, 4.0, 6.0]),
    "setitem_view_of_view": (_setitem_view_of_view, [12.0, 25.0, 108.0]),
    "operators_on_a_view": (_operators_on_a_view, [12.0, 1.0, 1.0]),
    "mul_by_input": (_mul_by_input, [16.0, 128.0, 432.0]),
    "mul_view_by_input": (_mul_view_by_input, [40.0, 160.0, 96.0]),
    "pow_by_constant": (_pow_by_constant, [64.0, 512.0, 1728.0]),
    "div_by_input": (_div_by_input, [0.0, 0.0, 0.0]),
    "pow_by_input": (_pow_by_input, [3.386294361119891, 38.18070977791825, 603.0200453532599]),
    "add_self": (_add_self, [8.0, 16.0, 24.0]),
    "chained_methods": (_chained_methods, [5.25, 12.592592592592592, 20.34375]),
    "constant_consumer_before_write": (_constant_consumer_before_write, [6.0, 6.0, 6.0]),
    "view_then_base_write": (_view_then_base_write, [0.0, 128.0, 432.0]),
    "write_slice_read_other_view": (_write_slice_read_other_view, [8.0, 128.0, 0.0]),
    "view_of_view_write": (_view_of_view_write, [24.0, 96.0, 11664.0]),
    "slices_in_a_loop": (_slices_in_a_loop, [2736.0, 1424.0, 1728.0]),
    "mul_in_a_loop": (_mul_in_a_loop, [32.0, 4096.0, 69984.0]),
    "rows_in_a_loop": (_rows_in_a_loop, [48.0, 240.0, 672.0]),
}
TORCH_RAISES = {"rows_in_a_loop"}


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_matches_torch(name, device):
    fn, expected = CASES[name]
    np.testing.assert_allclose(_grad(lambda x: fn(x, gg), device), expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(set(CASES) - TORCH_RAISES))
def test_expected_values_match_torch(name):
    torch = pytest.importorskip("torch")
    fn, expected = CASES[name]
    x = torch.tensor(X0, requires_grad=True, dtype=torch.float64)
    fn(x, torch).backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    fn = CASES[name][0]
    assert gg.gradcheck(lambda x: fn(x, gg), [np.array(X0)])


# ops whose backward records a graph (create_graph) all the way
SECOND_ORDER = ["zero_view", "fill_view", "copy_constant_into_view", "copy_tensor_into_view",
                "clamp_view", "view_stays_linked_after_fill", "setitem_view_of_view",
                "operators_on_a_view", "mul_by_input", "mul_view_by_input", "pow_by_constant",
                "div_by_input", "add_self", "chained_methods", "view_then_base_write",
                "write_slice_read_other_view", "view_of_view_write", "slices_in_a_loop",
                "mul_in_a_loop", "rows_in_a_loop"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_gradgradcheck(name):
    fn = CASES[name][0]
    assert gg.gradgradcheck(lambda x: fn(x, gg), [np.array(X0)])


def test_second_order_through_an_inplace_multiply():
    x = _x()
    y = x * 2
    y *= x
    (g,) = gg.autograd.grad((y ** 2).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), [16.0, 128.0, 432.0])
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [48.0, 192.0, 432.0])  # torch's


# ------------------------------------------------------------------ what is kept, and when
def test_the_old_value_is_copied_only_when_backward_reads_it():
    x = _x()
    y = x * 2
    y += x                               # Add reads nothing
    assert all(s is None or not hasattr(s, "shape") for s in y.grad_fn.saved)
    y = x * 2
    y *= 3                               # a constant factor: the old y is not needed
    assert y.grad_fn.saved[0] is None
    y = x * 2
    y /= x                               # Divide reads the denominator and the answer only
    assert not any(np.shares_memory(s, y.data) for s in y.grad_fn.saved if hasattr(s, "shape"))
    y = x * 2
    y *= x                               # Multiply reads the old y for x's gradient
    old = y.grad_fn.saved[0]
    assert not np.shares_memory(old, y.data)
    np.testing.assert_array_equal(old, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(y.numpy(), [2.0, 8.0, 18.0])


def test_inplace_keeps_identity_and_shared_memory():
    x = _x()
    y = x * 2
    v = y[1:]
    alias = y.detach().numpy()           # NumPy sees every write
    ident = v
    v *= x[1:]
    v.clamp_(0, 10)
    assert v is ident and np.shares_memory(v.data, y.data)
    np.testing.assert_array_equal(alias, [2.0, 8.0, 10.0])
    y.zero_()
    np.testing.assert_array_equal(alias, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(v.numpy(), [0.0, 0.0])


def test_fill_with_a_tensor_value_gets_its_gradient():
    x = _x()
    w = gg.tensor(4.0, requires_grad=True, dtype=gg.float64)
    y = x * 2
    y[1:].fill_(w)
    (y * y * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0, 16.0, 16.0])
    assert w.grad.item() == 40.0


def test_fill_and_copy_keep_a_non_leaf_in_the_graph():
    x = _x()
    y = x * 2
    y.fill_(1.0)
    assert y.requires_grad and not y.is_leaf    # as PyTorch: its gradient is zero
    z = gg.zeros(3, dtype=gg.float64)
    z.copy_(x)                                  # a constant joins the graph through copy_
    assert z.requires_grad
    (z * z).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


# ------------------------------------------------------------------ what still raises
def test_a_node_that_saved_the_old_value_elsewhere_gets_a_copy():
    x = _x()
    y = x * 2
    z = y * x                  # Multiply saved y (for x's gradient)
    y *= 2                     # ... which this overwrites: z's node is no operand of it
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.array(X0))


def test_an_overlapping_operand_keeps_its_old_value():
    x = _x()
    y = x * 2
    y[1:] *= y[:2]             # the operand's saved y[:2] is partly overwritten: it gets a copy
    (y ** 2).sum().backward()
    x0 = np.asarray(X0, np.float64)
    y0 = 2 * x0
    z = np.concatenate([y0[:1], y0[1:] * y0[:2]])   # d/dx of sum(z**2), by hand
    g = 2 * z * np.concatenate([[2.0], 2 * y0[:2]])
    g[:2] += 2 * (2 * z[1:] * y0[1:])
    np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-12)


def test_the_producer_of_the_written_tensor_keeps_its_old_answer():
    x = _x()
    y = gg.exp(x)              # Exp saved its answer y, which the write changes: it gets a copy
    y -= y.max()
    (y * y).sum().backward()
    x0 = np.asarray(X0, np.float64)
    e = np.exp(x0)
    z, k = e - e.max(), np.argmax(e)
    g = 2 * z * e
    g[k] -= (2 * z).sum() * e[k]
    np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-12)


# ------------------------------------------------------------------ the NumPy idiom
def test_subtracting_the_row_max_in_place(device):
    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
    W0 = np.array([[1.0, -0.5], [0.2, 0.8], [-1.2, 0.4]])

    def loss(W, inplace):
        s = gg.tensor(X, device=device) @ W
        if inplace:
            s -= s.max(axis=1, keepdims=True)     # Max saved s, which this overwrites
        else:
            s = s - s.max(axis=1, keepdims=True)
        p = gg.exp(s)
        p = p / p.sum(axis=1, keepdims=True)
        return -gg.log(p[[0, 1], [1, 0]]).sum()

    grads = []
    for inplace in (True, False):
        W = gg.tensor(W0, requires_grad=True, device=device)
        loss(W, inplace).backward()
        grads.append(W.grad.numpy())
    torch_grad = [[0.008620779178117696, -0.008620779178117696],
                  [-0.14773603087438017, 0.14773603087438017],
                  [0.29942643970385563, -0.29942643970385563]]
    np.testing.assert_allclose(grads[0], torch_grad, rtol=1e-10)
    np.testing.assert_allclose(grads[1], torch_grad, rtol=1e-10)
    W = gg.tensor(W0, device=device)                 # on the device X is on
    assert gg.gradcheck(lambda W: loss(W, True), [W])
    assert gg.gradgradcheck(lambda W: loss(W, True), [W])


def test_subtracting_the_row_max_in_place_with_the_numpy_namespace():
    import gpugrad.numpy as gnp

    X = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])

    def loss(W):
        scores = gnp.dot(gnp.asarray(X), W)
        scores -= gnp.max(scores, axis=1, keepdims=True)
        e = gnp.exp(scores)
        return gnp.sum(gnp.log(gnp.sum(e, axis=1)) - scores[:, 0])

    W0 = np.array([[1.0, -0.5], [0.2, 0.8], [-1.2, 0.4]])
    assert gg.gradcheck(loss, [W0])


# ------------------------------------------------------------------ where PyTorch raises
def test_squaring_in_place_keeps_the_old_value_for_both_operands():
    x = _x()
    y = x * 2
    y *= y                     # PyTorch raises; the old y is kept for both factors here
    (y ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 64 * np.array(X0) ** 3)   # d/dx 16 x^4

    def f(x):
        y = x * 2
        y *= y
        return (y ** 2).sum()

    assert gg.gradcheck(f, [np.array(X0)]) and gg.gradgradcheck(f, [np.array(X0)])


def test_a_constant_joins_the_graph_through_an_operand_that_read_it():
    w = _x()
    a = gg.zeros(3, dtype=gg.float64)
    a += w * a                 # Multiply read the old a (zeros) for w's gradient
    a += w
    (a * a * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 3 * np.array(X0) ** 2)


def test_a_non_differentiable_write_into_a_view_is_a_constant_for_the_base():
    x = _x()
    y = x * 2
    v = y[1:]
    v //= 1                    # floor_divide has no gradient: the written values are constants
    assert v.requires_grad     # ... but v is still a view of y, and later writes reach y
    v += x[1:]
    (y * y).sum().backward()
    assert y.tolist() == [2.0, 6.0, 9.0]
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 12.0, 18.0])


def test_backward_twice_through_a_kept_old_value():
    x = _x()
    y = x * 2
    y *= x
    loss = (y ** 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([16.0, 128.0, 432.0]))


def test_a_reader_an_operand_further_gets_a_copy():
    x = _x()
    s = x * 1
    s -= s.max()               # Max, one node further than the write's own, read s
    (s * s).sum().backward()
    x0 = np.array(X0)
    d = x0 - x0.max()
    want = 2 * d - 2 * d.sum() * (x0 == x0.max())
    np.testing.assert_allclose(x.grad.numpy(), want)


def test_an_inplace_result_that_does_not_fit_raises_numpys_valueerror():
    """zeros(3) += ones((2, 3)): NumPy raises ValueError, PyTorch RuntimeError; both catch it."""
    a = gg.zeros(3)
    for kind in (ValueError, RuntimeError):
        with pytest.raises(kind, match="cannot be written into"):
            a += gg.ones((2, 3))
    assert a.tolist() == [0.0, 0.0, 0.0]


def test_a_no_grad_write_through_a_view_changes_values_not_the_graph():
    """PyTorch's rule: under no_grad a write into a view of a graph tensor changes its memory;
    the base keeps its node (no crash, no cut from its inputs)."""
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    with gg.no_grad():
        v = y[:2]
        v += 1
    assert y.tolist() == [2.0, 3.0, 3.0] and y.requires_grad
    (y * y).sum().backward()
    assert w.grad.tolist() == [4.0, 6.0, 6.0]        # torch gives the same


def test_a_no_grad_write_after_a_node_saved_the_base_keeps_its_old_value():
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = w * 1
    z = (y * w).sum()                                 # Mul saved y (for w's gradient)
    with gg.no_grad():
        y[:2][0] = 5.0
    z.backward()                                      # z = sum(w * w) as recorded
    assert w.grad.tolist() == [2.0, 4.0, 6.0] and y.tolist() == [5.0, 2.0, 3.0]
