"""Reductions that pick an extreme (max, min, amax, amin, the inf-norm) over input holding
NaN: the answer is NaN, and the gradient goes to the NaN entries (as PyTorch's full
reductions share it; its ``dim=`` reductions give 0/0 = NaN), never NaN spread over every
finite entry -- which a loss that masks the NaN answer away (``where(isnan(m), 0, m)``) would
otherwise receive as its gradient."""
import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")

X = np.array([[1.0, np.nan, 2.0, 0.5], [3.0, -1.0, 3.0, 0.0], [np.nan, 4.0, np.nan, 1.0]])

# (name, gpugrad reduction, NumPy reduction, axis): each shares evenly among the entries
# that attain the answer -- the NaN entries, where the answer is NaN
EXTREMES = [
    ("max", lambda t: gg.max(t), np.max, None),
    ("min", lambda t: gg.min(t), np.min, None),
    ("amax_axis1", lambda t: gg.amax(t, axis=1), np.max, 1),
    ("amin_axis0", lambda t: gg.amin(t, axis=0), np.min, 0),
    ("max_keepdims", lambda t: gg.max(t, axis=1, keepdims=True), np.max, 1),
    ("method_max", lambda t: t.max(axis=0), np.max, 0),
]


def _expected(reduce, axis, x):
    """d sum(reduce(x, axis)) / dx: 1/count on the entries that attain each answer."""
    ans = reduce(x, axis=axis, keepdims=True)
    hit = np.where(np.isnan(ans), np.isnan(x), x == ans)
    return hit / hit.sum(axis=axis, keepdims=True)


def _masked_loss(m):
    return gg.where(gg.isnan(m), 0.0, m).sum()


@pytest.mark.parametrize("name, f, reduce, axis", EXTREMES, ids=[c[0] for c in EXTREMES])
def test_a_nan_answer_sends_its_gradient_to_the_nan_entries(name, f, reduce, axis):
    x = gg.tensor(X, requires_grad=True)
    f(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), _expected(reduce, axis, X))


@pytest.mark.parametrize("name, f, reduce, axis", EXTREMES, ids=[c[0] for c in EXTREMES])
def test_a_masked_nan_answer_gives_finite_entries_zero_gradient(name, f, reduce, axis):
    x = gg.tensor(X, requires_grad=True)
    loss = _masked_loss(f(x))
    loss.backward()
    assert np.isfinite(loss.item())
    ans = reduce(X, axis=axis, keepdims=True)
    expected = np.where(np.isnan(ans), 0.0, _expected(reduce, axis, X))
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_full_max_matches_torch_on_nan():
    x = gg.tensor(X, requires_grad=True)
    gg.max(x).backward()
    xt = torch.tensor(X, requires_grad=True)
    xt.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())


def test_inf_norm_of_rows_with_nan():
    # the NaN entry takes the row's gradient (times sign(NaN) = NaN, as abs's slope there);
    # the finite entries of such a row get exactly 0
    x = gg.tensor(X, requires_grad=True)
    _masked_loss(gg.norm(x, np.inf, axis=1)).backward()
    rows_with_nan = x.grad.numpy()[[0, 2]]
    np.testing.assert_array_equal(rows_with_nan[np.isfinite(X[[0, 2]])], np.zeros(5))
    np.testing.assert_array_equal(x.grad.numpy()[1], [0.5, 0.0, 0.5, 0.0])
    x = gg.tensor(X, requires_grad=True)
    gg.norm(x, np.inf, axis=1).sum().backward()
    np.testing.assert_array_equal(np.isnan(x.grad.numpy()), np.isnan(X))


def test_the_nan_rule_holds_under_create_graph():
    # the same backward runs on Tensors: grad of grad keeps finite entries clean
    x = np.array([1.0, np.nan, 2.0])

    def f(t):
        return gg.max(t * t) * 0.0 + gg.sum(t ** 3)

    g = gg.grad(f)(x)
    h = gg.hessian(f)(x)
    np.testing.assert_array_equal(g[[0, 2]], [3.0, 12.0])
    np.testing.assert_array_equal(h[0, [0, 2]], [6.0, 0.0])
    np.testing.assert_array_equal(h[2, [0, 2]], [0.0, 12.0])


def test_finite_ties_still_share_evenly():
    x = gg.tensor([1.0, 3.0, 3.0], requires_grad=True)
    gg.max(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.5])
    x = gg.tensor([[-2.0, 2.0, 1.0]], requires_grad=True)
    gg.norm(x, np.inf, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[-0.5, 0.5, 0.0]])


def test_nan_answers_on_every_device(device):
    x = gg.tensor(X, device=device, requires_grad=True)
    _masked_loss(gg.amax(x, axis=1)).backward()
    expected = np.where(np.isnan(X.max(axis=1, keepdims=True)), 0.0, _expected(np.max, 1, X))
    np.testing.assert_array_equal(x.grad.numpy(), expected)
