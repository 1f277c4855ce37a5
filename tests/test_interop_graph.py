"""Interop must not drop the graph silently.

NumPy code that meets a tensor recorded for differentiation either builds the graph (NumPy
calls that dispatch through ``__array_ufunc__`` / ``__array_function__``, and every
converter or creation function of :mod:`gpugrad.numpy` and :mod:`gpugrad.array_api`) or
raises a RuntimeError saying how to write it (``ndarray.dot(tensor)``, ``np.asarray(tensor)``,
``np.array([tensor, ...])``: anything that converts implicitly through ``__array__``).
"""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.array_api as xa
import gpugrad.numpy as gnp

N, D, C = 6, 4, 3


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    W = rng.standard_normal((D, C)) * 0.1
    return X, y, W


# ================================================================ CS231n-style losses
def svm_grad_reference(W, X, y, reg):
    scores = X.dot(W)
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(N), y] = 0
    mask = (margins > 0).astype(float)
    mask[np.arange(N), y] = -mask.sum(axis=1)
    return X.T.dot(mask) / N + 2 * reg * W


def softmax_grad_reference(W, X, y, reg):
    s = X.dot(W)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(N), y] -= 1
    return X.T.dot(p) / N + 2 * reg * W


def svm_loss(product):
    def loss(W, X, y, reg):
        scores = product(X, W)
        correct = scores[np.arange(N), y][:, None]
        margins = np.maximum(0, scores - correct + 1)
        margins[np.arange(N), y] = 0
        return np.sum(margins) / N + reg * np.sum(W * W)
    return loss


def softmax_loss(product):
    def loss(W, X, y, reg):
        scores = product(X, W)
        scores = scores - np.max(scores, axis=1, keepdims=True)
        p = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
        return -np.sum(np.log(p[np.arange(N), y])) / N + reg * np.sum(W * W)
    return loss


GOOD = {"X @ W": lambda X, W: X @ W, "np.dot": lambda X, W: np.dot(X, W),
        "np.matmul": lambda X, W: np.matmul(X, W), "gnp.dot": lambda X, W: gnp.dot(X, W),
        "W.T.dot(X.T).T": lambda X, W: W.T.dot(X.T).T}


@pytest.mark.parametrize("product", list(GOOD), ids=list(GOOD))
@pytest.mark.parametrize("kind", ["svm", "softmax"])
def test_losses_written_with_numpy_get_the_right_gradient(data, kind, product):
    X, y, W = data
    make, ref = (svm_loss, svm_grad_reference) if kind == "svm" else (
        softmax_loss, softmax_grad_reference)
    g = gg.grad(make(GOOD[product]))(W, X, y, 0.1)
    np.testing.assert_allclose(g, ref(W, X, y, 0.1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["svm", "softmax"])
def test_ndarray_dot_of_a_traced_tensor_raises_saying_how_to_write_it(data, kind):
    X, y, W = data
    make = svm_loss if kind == "svm" else softmax_loss
    with pytest.raises(RuntimeError, match=r"requires grad.*X @ W.*gpugrad\.numpy\.dot"):
        gg.grad(make(lambda X, W: X.dot(W)))(W, X, y, 0.1)


# ================================================================ __array__ and .numpy()
def test_implicit_conversion_of_a_recorded_tensor_raises():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2                                    # a non-leaf in the graph
    for t in (w, h):
        for convert in (np.asarray, np.array, lambda t: np.ones(2).dot(t),
                        lambda t: np.testing.assert_allclose(t, [1.0, 2.0])):
            with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
                convert(t)
    a = np.zeros(2)
    with pytest.raises(RuntimeError, match="requires grad"):
        a[:] = w                                 # writing into an ndarray drops the graph too


def test_tensors_outside_a_recorded_graph_convert_freely():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(w.detach()).tolist() == [1.0, 2.0]
    assert np.asarray(gg.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]
    with gg.no_grad():                           # nothing is being recorded
        assert np.asarray(w).tolist() == [1.0, 2.0]
        assert np.ones(2).dot(w) == 3.0
    (w * w).sum().backward()
    assert np.asarray(w.grad).tolist() == [2.0, 4.0]   # gradients do not require grad
    np.testing.assert_allclose(w.detach(), [1.0, 2.0])


def test_explicit_numpy_method_still_converts():
    # .numpy() is an explicit request for the values (documented: no gradient), unlike PyTorch
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    assert w.numpy().tolist() == [1.0, 2.0] and (w * 2).numpy().tolist() == [2.0, 4.0]


# ================================================================ NumPy calls that dispatch
@pytest.mark.parametrize("expr,grad", [
    ("np.dot(X, w)", "X.sum(axis=0)"), ("np.sum(w)", "np.ones(3)"), ("np.exp(w)", "np.exp(v)"),
    ("np.maximum(0, w)", "(v > 0) * 1.0"), ("X @ w", "X.sum(axis=0)"),
    ("np.matmul(X, w)", "X.sum(axis=0)"), ("np.linalg.norm(w)", "v / np.linalg.norm(v)"),
    ("np.add(w, [1.0, 2.0, 3.0])", "np.ones(3)"), ("np.mean(np.square(w))", "2 * v / 3"),
    ("np.linspace(w[0], 4.0, 5)", "np.array([2.5, 0.0, 0.0])"),
    ("np.concatenate([w, X[0]])", "np.ones(3)"), ("np.stack([w, X[0]])", "np.ones(3)")])
def test_numpy_calls_that_dispatch_build_the_graph(expr, grad):
    v = np.array([0.5, -1.0, 2.0])
    X = np.arange(6.0).reshape(2, 3)
    w = gg.tensor(v, requires_grad=True)
    out = eval(expr, {"np": np, "w": w, "X": X})
    assert isinstance(out, gg.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.detach(), eval(expr, {"np": np, "w": v, "X": X}))
    out.sum().backward()
    np.testing.assert_allclose(w.grad, eval(grad, {"np": np, "v": v, "X": X}), atol=1e-12)


# ================================================================ lists of tensors, creation
def test_plain_numpy_array_of_nested_tensors_raises():
    x = gg.tensor(3.0, dtype="float64", requires_grad=True)
    with pytest.raises(RuntimeError, match=r"gpugrad\.numpy\.array"):
        np.array([[x, 2 * x]])
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray([x, 1.0])


@pytest.mark.parametrize("make", [
    lambda x: gnp.array([[x, 2 * x]]), lambda x: gnp.asarray([[x, 2 * x]]),
    lambda x: gnp.array(((x,), (2 * x,))), lambda x: gnp.asanyarray([[x, 2 * x]]),
    lambda x: gnp.ascontiguousarray([[x, 2 * x]]), lambda x: gnp.array([[x, 2 * x]], ndmin=3),
    lambda x: gnp.array([[x, 2 * x]], dtype="float32"), lambda x: xa.asarray([[x, 2 * x]]),
    lambda x: gnp.stack([x, 2 * x]), lambda x: gnp.hstack([[x], [2 * x]]),
    lambda x: gnp.sum([[x, 2 * x]]) + 0 * gnp.zeros(()),
    lambda x: gnp.add([[x, 0.0]], [[0.0, 2 * x]])])
def test_gpugrad_numpy_converters_stack_nested_tensors(make):
    x = gg.tensor(3.0, dtype="float64", requires_grad=True)
    y = make(x)
    assert y.requires_grad
    np.testing.assert_allclose(gg.numpy.sum(y).item(), 9.0, rtol=1e-6)
    gg.numpy.sum(y).backward()
    np.testing.assert_allclose(x.grad.item(), 3.0, rtol=1e-6)


def test_nested_lists_mixing_tensors_and_numbers_follow_numpy_dtype():
    x = gg.tensor(3.0, dtype="float32", requires_grad=True)
    y = gnp.array([[x, 1], [2.0, x * 2]])
    assert y.shape == (2, 2) and y.dtype == np.array([[np.float32(3), 1], [2.0, 6.0]]).dtype
    assert y.tolist() == [[3.0, 1.0], [2.0, 6.0]]
    y.sum().backward()
    assert x.grad.item() == 3.0
    with pytest.raises(ValueError, match="inhomogeneous|same shape|shape"):
        gnp.array([[x, 2 * x], [x]])
    assert gnp.shape([x, x]) == (2,) and gnp.ndim([[x]]) == 2 and gnp.size([x, x, x]) == 3


def _grad_of(fn, *vals):
    xs = [gg.tensor(v, dtype="float64", requires_grad=True) for v in vals]
    out = fn(*xs)
    assert out.requires_grad
    gnp.sum(out).backward()
    return [0.0 if x.grad is None else x.grad.item() for x in xs]


def test_linspace_logspace_with_traced_endpoints():
    a = gg.tensor(0.0, dtype="float64", requires_grad=True)
    y = gnp.linspace(a, 4.0, 5)
    assert y.tolist() == np.linspace(0.0, 4.0, 5).tolist() and y.dtype == np.float64
    y.sum().backward()
    assert a.grad.item() == pytest.approx(2.5)
    # d/d start and d/d stop of sum(linspace(start, stop, 5)): both 2.5; without the endpoint
    # the weights are 1 - i/5 and i/5
    assert _grad_of(lambda s, t: gnp.linspace(s, t, 5), 1.0, 3.0) == pytest.approx([2.5, 2.5])
    assert _grad_of(lambda s, t: gnp.linspace(s, t, 5, endpoint=False), 1.0, 3.0) == \
        pytest.approx([3.0, 2.0])
    assert _grad_of(lambda s, t: xa.linspace(s, t, 3), 1.0, 3.0) == pytest.approx([1.5, 1.5])
    y, step = gnp.linspace(a, 4.0, 5, retstep=True)
    assert step.item() == 1.0 and step.requires_grad
    # logspace: d/ds sum(10 ** linspace(s, t, 3)) = ln 10 * sum(10**l_i * (1 - i/2))
    l = np.linspace(0.0, 1.0, 3)
    expect = np.log(10) * np.sum(10 ** l * (1 - np.arange(3) / 2))
    assert _grad_of(lambda s: gnp.logspace(s, 1.0, 3), 0.0)[0] == pytest.approx(expect)
    np.testing.assert_allclose(gnp.logspace(a, 1.0, 3).detach(), np.logspace(0.0, 1.0, 3))
    one = gnp.linspace(a, 4.0, 1)
    assert one.tolist() == [0.0] and one.requires_grad
    assert gnp.linspace(a, 4.0, 0).shape == (0,)


def test_full_and_arange_with_traced_values():
    v = gg.tensor(2.0, dtype="float64", requires_grad=True)
    f = gnp.full((2, 3), v)
    assert f.tolist() == [[2.0] * 3] * 2 and f.dtype == np.float64 and f.requires_grad
    f.sum().backward()
    assert v.grad.item() == 6.0
    assert _grad_of(lambda s: gnp.full_like(gnp.zeros(4), s), 1.5) == [4.0]
    assert _grad_of(lambda s: xa.full((3,), s), 1.5) == [3.0]
    assert _grad_of(lambda s: xa.full_like(gnp.zeros(2), s), 1.5) == [2.0]
    # arange(start, stop, step): values start + i * step
    r = gnp.arange(v, 5.0, 0.5)
    np.testing.assert_allclose(r.detach(), np.arange(2.0, 5.0, 0.5))
    assert _grad_of(lambda s, t, d: gnp.arange(s, t, d), 2.0, 5.0, 0.5) == \
        pytest.approx([6.0, 0.0, 15.0])
    r = gnp.arange(v)                            # the values do not depend on stop
    assert r.tolist() == [0.0, 1.0] and not r.requires_grad
    assert _grad_of(lambda s: xa.arange(s, 4.0), 1.0) == [3.0]
    assert gnp.arange(gg.tensor(3), dtype=None).tolist() == [0, 1, 2]


# ================================================================ other silent paths
def test_unique_values_keep_the_graph():
    x = gg.tensor([3.0, 1.0, 3.0, 2.0], dtype="float64", requires_grad=True)
    u = gnp.unique(x)
    assert u.tolist() == [1.0, 2.0, 3.0] and u.requires_grad
    (u * gnp.array([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 0.0, 10.0]   # to the first occurrence
    x.grad = None
    v, c = gnp.unique(x, return_counts=True)
    v.sum().backward()
    assert c.tolist() == [1, 1, 2] and x.grad.tolist() == [1.0, 1.0, 0.0, 1.0]
    vals = xa.unique_values(x)
    assert vals.requires_grad


def test_nextafter_passes_the_gradient_of_its_first_argument():
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = gnp.nextafter(x, 10.0)
    assert y.tolist() == np.nextafter([1.0, 2.0], 10.0).tolist() and y.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_heaviside_passes_the_gradient_of_its_value_at_zero():
    h = gg.tensor([0.5, 0.25, 0.1], dtype="float64", requires_grad=True)
    x = np.array([-1.0, 0.0, 2.0])
    y = np.heaviside(x, h)                       # dispatched to gpugrad.numpy.heaviside
    assert y.tolist() == np.heaviside(x, [0.5, 0.25, 0.1]).tolist() and y.requires_grad
    y.sum().backward()
    assert h.grad.tolist() == [0.0, 1.0, 0.0]
