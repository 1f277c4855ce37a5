"""Gradient hooks and retained gradients against PyTorch's rules: a hook list changed by a
hook during backward, hooks that return a gradient of the wrong shape or kind, retain_grad
followed by an in-place write, retain_grad on a tensor that needs no gradient; and gradients
of tensors whose requires_grad was set by assignment, and seeds of the wrong kind."""
import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")


def _both(values):
    return (gg.tensor(np.array(values, dtype=np.float64), requires_grad=True),
            torch.tensor(np.array(values, dtype=np.float64), requires_grad=True))


@pytest.mark.parametrize("leaf", [False, True])
def test_a_hook_removing_itself_does_not_skip_the_next_hook(leaf):
    grads = []
    for x in _both([1.0, 2.0]):
        y = x if leaf else x * 2
        handles = []

        def first(g, handles=handles):
            handles[0].remove()
            return g * 2

        handles.append(y.register_hook(first))
        y.register_hook(lambda g: g * 3)
        (y * 1).sum().backward()
        grads.append(np.asarray(x.grad.detach() if hasattr(x.grad, "detach") else x.grad.data))
    np.testing.assert_array_equal(grads[0], grads[1])  # both hooks ran, once each


@pytest.mark.parametrize("leaf", [False, True])
def test_a_hook_added_by_a_hook_runs_from_the_next_pass(leaf):
    grads = []
    for x in _both([1.0, 2.0]):
        y = x if leaf else x * 2
        added = []

        def adder(g, y=y, added=added):
            if not added:
                added.append(y.register_hook(lambda g2: g2 * 100))
            return g

        y.register_hook(adder)
        (y * 1).sum().backward(retain_graph=True)
        first = np.array(x.grad.tolist())
        (y * 1).sum().backward()
        grads.append((first, np.array(x.grad.tolist())))
    for got, want in zip(grads[0], grads[1]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("leaf", [False, True])
@pytest.mark.parametrize("bad", ["smaller", "broadcastable", "scalar"])
def test_a_hook_changing_the_gradients_shape_raises_naming_it(leaf, bad):
    x = gg.tensor(np.ones((2, 3)), requires_grad=True)
    y = x if leaf else x * 2
    change = {"smaller": lambda g: g[:, :2], "broadcastable": lambda g: g[:1],
              "scalar": lambda g: g.sum()}[bad]
    y.register_hook(change)
    with pytest.raises(RuntimeError, match=r"hook .*changed the gradient's shape.*\(2, 3\)"):
        (y * 1).sum().backward()
    assert x.grad is None


@pytest.mark.parametrize("leaf", [False, True])
def test_a_hook_returning_a_complex_gradient_for_a_real_tensor_raises(leaf):
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x if leaf else x * 2
    y.register_hook(lambda g: g * (1 + 1j))
    with pytest.raises(RuntimeError, match="complex.*float32"):
        (y * 1).sum().backward()


def test_a_hook_may_return_a_wider_float_or_a_numpy_array():
    x = gg.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = x * 2
    y.register_hook(lambda g: np.full(2, 5.0))     # float64: cast to the tensor's dtype
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [10.0, 10.0])


def test_retain_grad_follows_an_in_place_write_as_pytorch():
    got = []
    for x in _both([1.0, 2.0]):
        y = x * 1
        y.retain_grad()
        y *= 3
        (y * y).sum().backward()
        got.append((np.array(y.grad.tolist()), np.array(x.grad.tolist())))
    # y.grad is the gradient of y's current value: 2 * y = [6, 12]
    np.testing.assert_array_equal(got[0][0], [6.0, 12.0])
    np.testing.assert_array_equal(got[0][0], got[1][0])
    np.testing.assert_array_equal(got[0][1], got[1][1])


def test_retain_grad_of_a_base_follows_a_write_through_its_view():
    got = []
    for x in _both([1.0, 2.0, 3.0]):
        y = x * 1
        y.retain_grad()
        v = y[1:]
        v *= 2
        (y * y).sum().backward()
        got.append((np.array(y.grad.tolist()), np.array(x.grad.tolist())))
    np.testing.assert_array_equal(got[0][0], [2.0, 8.0, 12.0])
    np.testing.assert_array_equal(got[0][0], got[1][0])
    np.testing.assert_array_equal(got[0][1], got[1][1])


def test_retain_grad_on_a_tensor_that_needs_no_gradient_raises():
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        gg.tensor([1.0, 2.0]).retain_grad()
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).retain_grad()


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_requires_grad_assigned_on_a_non_float_tensor_raises_at_its_first_op(dtype):
    x = gg.tensor(np.array([1, 3]).astype(dtype))
    x.requires_grad = True  # unchecked assignment (requires_grad_() refuses at once)
    with pytest.raises(TypeError, match=f"only floating-point.*{dtype}"):
        (x * 0.5).sum()   # a gradient 0.5 truncated to 0 would be a silent wrong answer


def test_requires_grad_assigned_on_a_float_tensor_still_records():
    x = gg.tensor([1.0, 3.0])
    x.requires_grad = True
    (x * 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.5, 0.5])


@pytest.mark.parametrize("how", ["backward", "grad"])
def test_a_complex_seed_gradient_for_a_real_output_raises(how):
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seed = np.array([1 + 2j, 3.0])
    with pytest.raises(RuntimeError, match="complex128.*float32"):
        if how == "backward":
            y.backward(seed)
        else:
            gg.autograd.grad(y, [x], grad_outputs=[seed])


def test_a_real_seed_for_a_complex_output_is_fine():
    x = gg.tensor([1 + 1j, 2.0], requires_grad=True)
    (x * 2).backward(np.array([1.0, 3.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 6.0])


def test_a_leaf_hook_returning_nan_is_named_under_detect_anomaly():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * np.nan)
    with gg.autograd.detect_anomaly(), pytest.raises(gg.AnomalyError, match="hook.*nan"):
        (x * 2).sum().backward()
