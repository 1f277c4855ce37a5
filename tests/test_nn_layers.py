"""Layers, activations, losses, initialization and gradient clipping, against NumPy and
(where installed) PyTorch."""
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn
from gpugrad.nn import functional as F

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional reference
    torch = None


def needs_torch(fn):
    """Mark a test as a PyTorch comparison that skips where PyTorch is missing."""
    return pytest.mark.torch(pytest.mark.skipif(torch is None,
                                                reason="PyTorch is not installed")(fn))


def t64(a):
    return gg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------- Linear and MLP
@pytest.mark.parametrize("act", ["relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid",
                                 "tanh", None])
def test_linear_is_one_fused_node_with_correct_gradients(act, rng):
    layer = nn.Linear(5, 3, activation=act, dtype="float64")
    x = t64(rng.standard_normal((4, 5)))
    y = layer(x)
    assert y.grad_fn is not None and y.grad_fn.parents[0] is x       # one node: x -> y
    assert {id(p) for p in y.grad_fn.parents[1:]} == {id(layer.weight), id(layer.bias)}
    g = rng.standard_normal(y.shape)
    y.backward(gg.tensor(g))
    for p in (x, layer.weight, layer.bias):                         # central differences
        num = np.zeros(p.shape)
        for idx in np.ndindex(p.shape):
            old = p.data[idx]
            p.data[idx] = old + 1e-6
            up = (layer(x).numpy() * g).sum()
            p.data[idx] = old - 1e-6
            down = (layer(x).numpy() * g).sum()
            p.data[idx] = old
            num[idx] = (up - down) / 2e-6
        np.testing.assert_allclose(p.grad.numpy(), num, rtol=1e-5, atol=1e-7)


def test_linear_shapes_init_and_errors():
    gg.manual_seed(3)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.shape == (400, 300) and b.shape == (300,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound       # U(-b, b) has std b/sqrt(3)
    gg.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.numpy(), w)   # seeded
    assert nn.Linear(2, 2, bias=False).bias is None
    assert list(nn.Linear(2, 2, bias=False).state_dict()) == ["weight"]
    with pytest.raises(ValueError, match="unknown fused activation 'softplus'"):
        nn.Linear(2, 2, activation="softplus")
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match=r"expected x of shape \(\.\.\., 2\)"):
        nn.Linear(2, 2)(gg.ones(3, 5))


def test_mlp_structure():
    m = nn.MLP([6, 8, 8, 3], activation="tanh", dropout=0.2, output_activation="sigmoid")
    kinds = [(type(layer).__name__, getattr(layer, "activation", None)) for layer in m]
    assert kinds == [("Linear", "tanh"), ("Dropout", None), ("Linear", "tanh"),
                     ("Dropout", None), ("Linear", "sigmoid")]
    out = m(gg.randn(4, 6))
    assert out.shape == (4, 3) and ((out.numpy() > 0) & (out.numpy() < 1)).all()
    soft = nn.MLP([2, 4, 1], activation="softplus")
    assert [type(layer).__name__ for layer in soft] == ["Linear", "Softplus", "Linear"]
    with pytest.raises(ValueError, match="at least 2 positive ints"):
        nn.MLP([3])
    with pytest.raises(ValueError, match="unknown activation"):
        nn.MLP([3, 3, 1], activation="swishy")


# ---------------------------------------------------------------- activations
ACTS = [
    (nn.ReLU(), "relu", {}), (nn.LeakyReLU(0.2), "leaky_relu", {"negative_slope": 0.2}),
    (nn.GELU(), "gelu", {}), (nn.GELU("tanh"), "gelu", {"approximate": "tanh"}),
    (nn.Sigmoid(), "sigmoid", {}), (nn.Tanh(), "tanh", {}), (nn.SiLU(), "silu", {}),
    (nn.Softplus(beta=2.0, threshold=5.0), "softplus", {"beta": 2.0, "threshold": 5.0}),
]


@needs_torch
@pytest.mark.parametrize("module,name,kw", ACTS, ids=[repr(a[0]) for a in ACTS])
def test_activations_match_torch(module, name, kw, rng):
    x = rng.standard_normal((3, 7)) * 4
    gx = t64(x)
    y = module(gx)
    y.backward(gg.tensor(np.ones_like(x)))
    tx = torch.tensor(x, requires_grad=True)
    ty = getattr(torch.nn.functional, name)(tx, **kw)
    ty.sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_activation_factory():
    assert isinstance(nn.activation("silu"), nn.SiLU)
    assert repr(nn.activation("gelu_tanh")) == "GELU(approximate='tanh')"
    with pytest.raises(ValueError, match="expected one of"):
        nn.activation("nope")
    with pytest.raises(ValueError, match="negative_slope"):
        nn.LeakyReLU(-1)


def test_dropout_train_and_eval():
    d = nn.Dropout(0.25)
    x = gg.ones(200, 50)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    np.testing.assert_array_equal(d.eval()(x).numpy(), x.numpy())
    gg.manual_seed(5)
    a = nn.Dropout(0.5)(x).numpy()
    gg.manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout(0.5)(x).numpy(), a)
    with pytest.raises(ValueError, match=r"probability p in \[0, 1\]"):
        nn.Dropout(1.5)


def test_flatten_and_identity():
    x = gg.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Identity(7, k=1)(x) is x
    with pytest.raises(ValueError, match="start_dim <= end_dim"):
        nn.Flatten(2, 1)(x)


# ---------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [False, True])
@needs_torch
def test_cross_entropy_matches_torch(reduction, smoothing, ignore, rng):
    logits = rng.standard_normal((6, 4))
    target = rng.integers(0, 4, 6)
    if ignore:
        target[[1, 4]] = 3
    ign = 3 if ignore else -100
    g = t64(logits)
    loss = nn.CrossEntropyLoss(ignore_index=ign, reduction=reduction,
                               label_smoothing=smoothing)(g, gg.tensor(target))
    tl = torch.tensor(logits, requires_grad=True)
    tloss = torch.nn.CrossEntropyLoss(ignore_index=ign, reduction=reduction,
                                      label_smoothing=smoothing)(tl, torch.tensor(target))
    np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=1e-12, atol=1e-12)
    loss.sum().backward()
    tloss.sum().backward()
    np.testing.assert_allclose(g.grad.numpy(), tl.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@needs_torch
def test_mse_and_bce_match_torch(reduction, rng):
    a, b = rng.standard_normal((5, 3)), rng.random((5, 3))
    for ours, theirs in ((nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction)),
                         (nn.BCEWithLogitsLoss(reduction),
                          torch.nn.BCEWithLogitsLoss(reduction=reduction))):
        x = t64(a)
        loss = ours(x, gg.tensor(b))
        tx = torch.tensor(a, requires_grad=True)
        tloss = theirs(tx, torch.tensor(b))
        np.testing.assert_allclose(loss.numpy(), tloss.detach().numpy(), rtol=1e-12)
        loss.sum().backward()
        tloss.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("pw_shape", [(), (4,), (1, 4), (5, 1), (5, 4)])
@needs_torch
def test_bce_pos_weight_broadcasts_like_torch(pw_shape, rng):
    x, t = rng.standard_normal((5, 4)), (rng.random((5, 4)) > 0.5).astype(float)
    pw = rng.random(pw_shape) * 3
    for reduction in ("mean", "none"):
        ours = F.binary_cross_entropy_with_logits(gg.tensor(x), gg.tensor(t), reduction,
                                                  pos_weight=gg.tensor(pw))
        theirs = torch.nn.functional.binary_cross_entropy_with_logits(
            torch.tensor(x), torch.tensor(t), reduction=reduction, pos_weight=torch.tensor(pw))
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("pw_shape", [(5,), (2, 5, 4), (2, 1, 1)])
def test_bce_pos_weight_that_would_change_the_loss_shape_is_an_error(pw_shape):
    """PyTorch raises; broadcasting the loss to a larger shape would make the mean average
    over pos_weight's extra entries (a silently different loss)."""
    x, t = gg.zeros(5, 4), gg.ones(5, 4)
    with pytest.raises(ValueError, match=r"pos_weight of shape .* logits of shape \(5, 4\)"):
        F.binary_cross_entropy_with_logits(x, t, pos_weight=gg.ones(*pw_shape))


def test_loss_argument_errors():
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss("avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        nn.CrossEntropyLoss(label_smoothing=2)
    with pytest.raises(IndexError, match=r"target values must be in \[0, 3\)"):
        F.cross_entropy(gg.zeros(2, 3), gg.tensor([0, 5]))


def test_functional_covers_the_modules():
    x = gg.tensor([[-1.0, 0.5]])
    for name in ("relu", "sigmoid", "tanh", "silu", "gelu", "softplus"):
        assert getattr(F, name)(x).shape == (1, 2)
    assert F.linear(x, gg.ones(2, 3), gg.zeros(3), "relu").tolist() == [[0.0, 0.0, 0.0]]
    assert F.dropout(x, 0.5, training=False) is x
    assert F.flatten(gg.zeros(2, 2, 2)).shape == (2, 4)
    assert F.one_hot(gg.tensor([1]), 3).tolist() == [[0.0, 1.0, 0.0]]


# ---------------------------------------------------------------- init
def test_init_distributions():
    gg.manual_seed(0)
    w = gg.empty(500, 400)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / 900)
    assert np.abs(w.numpy()).max() <= a and abs(w.numpy().std() - a / math.sqrt(3)) < 0.01 * a
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.numpy().std() - 2 * math.sqrt(2 / 900)) < 0.01
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.numpy().std() - math.sqrt(2 / 500)) < 0.002       # fan_in = shape[0]
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 400)
    nn.init.normal_(w, 1.0, 0.5)
    assert abs(w.numpy().mean() - 1.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    nn.init.uniform_(w, 2, 3)
    assert w.numpy().min() >= 2 and w.numpy().max() < 3
    assert nn.init.ones_(gg.zeros(2)).tolist() == [1.0, 1.0]
    assert nn.init.zeros_(gg.ones(2)).tolist() == [0.0, 0.0]
    assert nn.init.constant_(gg.zeros(1, dtype="float64"), 0.25).tolist() == [0.25]
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)


def test_init_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(gg.empty(3))
    with pytest.raises(TypeError, match="floating tensor"):
        nn.init.uniform_(gg.zeros(2, dtype="int64"))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("mish")
    with pytest.raises(ValueError, match="mode must be"):
        nn.init.kaiming_uniform_(gg.empty(2, 2), mode="fan_avg")


@pytest.mark.parametrize("fill, match", [
    (lambda w: nn.init.uniform_(w, 0.0, math.inf), "finite b"),
    (lambda w: nn.init.uniform_(w, -math.inf, 0.0), "finite a"),
    (lambda w: nn.init.normal_(w, math.nan, 1.0), "finite mean"),
    (lambda w: nn.init.normal_(w, 0.0, math.inf), "finite std"),
    (lambda w: nn.init.xavier_uniform_(w, gain=math.inf), "finite"),
    (lambda w: nn.init.xavier_normal_(w, gain=math.nan), "std"),
    (lambda w: nn.init.uniform_(w.astype("float16"), -1e6, 1e6), "float16"),
    (lambda w: nn.init.normal_(w.astype("float16"), 0.0, 1e9), "float16"),
])
def test_init_refuses_fills_that_are_not_finite(fill, match):
    """A fill that would leave NaN or infinity in the weights (a non-finite argument, or values
    beyond a float16 tensor's range) is a ValueError, and the tensor keeps its values."""
    w = gg.ones(4, 3)
    with pytest.raises(ValueError, match=match):
        fill(w)
    assert w.numpy().tolist() == np.ones((4, 3)).tolist()


@pytest.mark.parametrize("init", [nn.init.xavier_uniform_, nn.init.xavier_normal_,
                                  nn.init.kaiming_uniform_, nn.init.kaiming_normal_])
@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (3, 0)])
def test_init_of_an_empty_weight_is_a_no_op(init, shape):
    """PyTorch fills nothing (an empty tensor has no values), without dividing by a zero fan."""
    w = gg.empty(*shape)
    assert init(w) is w and w.shape == shape


# ---------------------------------------------------------------- gradient clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@needs_torch
def test_clip_grad_norm_matches_torch(norm_type, max_norm, rng):
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    ps = [nn.Parameter(gg.tensor(np.zeros_like(g))) for g in grads]
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(ps, tps, grads):
        p.grad = gg.tensor(g)
        tp.grad = torch.tensor(g)
    extra = nn.Parameter(gg.zeros(2))                   # no grad: ignored
    total = nn.clip_grad_norm_(ps + [extra], max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-12)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_errors():
    p = nn.Parameter(gg.zeros(3))
    p.grad = gg.tensor([-3.0, 0.1, 9.0])
    nn.clip_grad_value_([p], 0.5)
    np.testing.assert_allclose(p.grad.numpy(), [-0.5, 0.1, 0.5], rtol=1e-7)
    q = nn.Parameter(gg.zeros(2))
    q.grad = gg.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.clip_grad_norm_([q], 1.0, error_if_nonfinite=True)
    assert nn.clip_grad_norm_([nn.Parameter(gg.zeros(1))], 1.0).item() == 0.0
    with pytest.raises(ValueError, match="max_norm >= 0"):
        nn.clip_grad_norm_([q], -1.0)
