"""Higher-order gradients through the reductions, the softmax family, the losses and the fused
linear layer (alone, and inside ``nn.Linear`` / ``nn.MLP``).

Checked here: gradgradcheck of every reduction and loss over several shapes and axes; every
fused activation through ``gg.linear`` and through the modules; a WGAN-GP gradient penalty
(d/dW of a function of d loss/dx), the Hessian of an MLP loss in a weight matrix, and
cross_entropy's second derivatives, all against PyTorch in float64 with the same weights.
Also: complex input to ops not defined on it is a TypeError (never a silent cast), and the
fixed gnp.std / gnp.nanmean.
"""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

ACTS = ["identity", "relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh"]


def _t(a, device="cpu", requires_grad=False):
    return gg.tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=requires_grad)


def _np(t):
    return t.numpy() if isinstance(t, gg.Tensor) else np.asarray(t)


# ---------------------------------------------------------------- reductions, several shapes
SHAPES_AXES = [((7,), None), ((7,), 0), ((3, 5), None), ((3, 5), 0), ((3, 5), -1),
               ((2, 3, 4), 1), ((2, 3, 4), (0, 2)), ((2, 3, 4), (-1, -3))]
REDUCTIONS = {
    "sum": gg.sum, "mean": gg.mean, "var": gg.var, "std": gg.std,
    "var_ddof1": lambda x, **k: gg.var(x, ddof=1, **k),
    "std_ddof1": lambda x, **k: gg.std(x, ddof=1, **k),
    "max": gg.max, "min": gg.min, "amax": gg.amax, "prod": gg.prod, "logsumexp": gg.logsumexp,
}


def _distinct(rng, shape):  # no ties: max/min are smooth there
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.3 + rng.uniform(0, 0.05, n) - n * 0.15).reshape(shape)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=str)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction_gradgradcheck(name, shape, axis, keepdims, device):
    rng = np.random.default_rng(len(name) * 7 + len(shape))
    a = _distinct(rng, shape) if name in ("max", "min", "amax") else rng.uniform(0.5, 1.5, shape)
    if name == "prod":
        a = a * np.where(rng.random(shape) < 0.5, -1, 1)
    assert gg.gradgradcheck(lambda x: REDUCTIONS[name](x, axis=axis, keepdims=keepdims),
                            [_t(a, device)])


@pytest.mark.parametrize("zeros", [1, 2])
def test_prod_with_zeros_gradgradcheck(zeros, device):
    a = np.random.default_rng(zeros).uniform(0.5, 1.5, (3, 4))
    a.flat[[1, 6][:zeros]] = 0.0  # rows 0 and 1, or two zeros in one slice along axis 0
    for axis in (None, 0, 1):
        assert gg.gradgradcheck(lambda x: gg.prod(x, axis=axis), [_t(a, device)])


def test_prod_hessian_with_a_zero_is_exact():
    # d2/dx_i dx_j prod(x) = product of the others but i and j: with x_0 = 0 only the pairs
    # holding index 0 survive
    x = np.array([0.0, 2.0, 3.0, 5.0])
    h = gg.hessian(lambda v: gg.prod(v))(x)
    want = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            if i != j:
                want[i, j] = np.prod(np.delete(x, [i, j]))
    np.testing.assert_allclose(_np(h), want, atol=1e-12)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum_gradgradcheck(axis, device):
    a = np.random.default_rng(3).standard_normal((3, 4))
    assert gg.gradgradcheck(lambda x: gg.cumsum(x, axis=axis) ** 2, [_t(a, device)])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape,axis", [((6,), 0), ((3, 5), 0), ((3, 5), -1), ((2, 3, 4), 1)],
                         ids=str)
def test_softmax_family_gradgradcheck(name, shape, axis, device):
    a = np.random.default_rng(4).standard_normal(shape) * 2
    fn = getattr(gg, name)
    assert gg.gradgradcheck(lambda x: fn(x, axis=axis), [_t(a, device)])


def test_softmax_third_order():
    # d3/dx3 of sum(w * softmax(x)) by nesting: compared with finite differences of the Hessian
    x0 = np.array([0.3, -1.2, 0.8, 0.1])
    w = gg.tensor([1.0, -2.0, 0.5, 3.0], dtype="float64")

    def f(x):
        return (gg.softmax(x) * w).sum()

    h = gg.hessian(f)
    d3 = gg.jacobian(h)(x0)  # (4, 4, 4)
    eps = 1e-5
    for k in range(4):
        e = np.zeros(4)
        e[k] = eps
        fd = (_np(h(x0 + e)) - _np(h(x0 - e))) / (2 * eps)
        np.testing.assert_allclose(_np(d3)[..., k], fd, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kw", [{}, dict(label_smoothing=0.2), dict(ignore_index=1),
                                dict(ignore_index=2, label_smoothing=0.1)], ids=str)
def test_cross_entropy_gradgradcheck(reduction, kw, device):
    rng = np.random.default_rng(5)
    logits, t = rng.standard_normal((6, 4)) * 2, gg.tensor(np.array([1, 0, 3, 1, 2, 1]))
    assert gg.gradgradcheck(lambda x: gg.cross_entropy(x, t.to(device), reduction, **kw),
                            [_t(logits, device)])


def test_cross_entropy_with_masked_logits_twice():
    # -inf logits (masked classes) have probability 0: first and second derivatives are 0
    x = gg.tensor([[0.5, -np.inf, 1.0], [-np.inf, 2.0, 0.0]], dtype="float64",
                  requires_grad=True)
    t = gg.tensor([0, 1])
    (g,) = gg.autograd.grad(gg.cross_entropy(x, t), [x], create_graph=True)
    (h,) = gg.autograd.grad((g * g).sum(), [x])
    assert _np(g)[0, 1] == 0 and _np(g)[1, 0] == 0
    assert np.isfinite(_np(h)).all() and _np(h)[0, 1] == 0 and _np(h)[1, 0] == 0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_mse_bce_gradgradcheck(reduction, device):
    rng = np.random.default_rng(6)
    t = gg.tensor(np.array([1, -100, 3, 0, 2]), device=device)
    lp = _t(rng.standard_normal((5, 4)), device)
    assert gg.gradgradcheck(lambda x: gg.nll_loss(gg.log_softmax(x), t, reduction), [lp])
    a, b = _t(rng.standard_normal((3, 4)), device), _t(rng.standard_normal((3, 4)), device)
    assert gg.gradgradcheck(lambda x, y: gg.mse_loss(x, y, reduction), [a, b])
    p = _t(rng.uniform(0.05, 0.95, (3, 4)), device)
    assert gg.gradgradcheck(lambda x, y: gg.binary_cross_entropy_with_logits(x, y, reduction),
                            [a, p])
    assert gg.gradgradcheck(lambda x, y: gg.binary_cross_entropy_with_logits(
        x, y, reduction, pos_weight=2.5), [a, p])


def test_dropout_gradgradcheck(device):
    def f(x):
        y = gg.dropout(x, 0.4, generator=gg.random.Generator(3, device=device))
        return y * y * x

    assert gg.gradgradcheck(f, [_t(np.random.default_rng(7).standard_normal((4, 5)), device)])


# ---------------------------------------------------------------- the fused linear layer
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("act", ACTS)
def test_linear_gradgradcheck(act, bias, device):
    rng = np.random.default_rng(8)
    xs = [_t(rng.standard_normal((2, 3, 4)), device), _t(rng.standard_normal((4, 3)), device)]
    if bias:
        xs.append(_t(rng.standard_normal(3), device))
    assert gg.gradgradcheck(lambda x, W, *b: gg.linear(x, W, *b, activation=act), xs)


def test_linear_third_order():
    # d3/dz3 of sum(tanh(x @ W)) in W along fixed directions, against the closed form
    rng = np.random.default_rng(9)
    x, W0 = rng.standard_normal((3, 2)), rng.standard_normal((2, 2)) * 0.5
    u = rng.standard_normal((2, 2))
    ut = gg.tensor(u)

    def f(W):
        return gg.linear(gg.tensor(x), W, activation="tanh").sum()

    d1 = gg.grad(f)
    d2 = gg.grad(lambda W: (d1(W) * ut).sum())
    d3 = gg.grad(lambda W: (d2(W) * ut).sum())
    z, zu = x @ W0, x @ u
    t = np.tanh(z)
    t3 = -2 * (1 - t * t) * (1 - 3 * t * t)  # tanh''' (z)
    np.testing.assert_allclose(_np(d3(W0)), x.T @ (t3 * zu * zu), rtol=1e-10, atol=1e-12)


def _functional(model):
    """``model`` as a function of ``(x, *parameters)``: the parameters are swapped for the
    given tensors during the call (so gradgradcheck can perturb them)."""
    slots = [(m, n) for m in model.modules() for n, p in m._parameters.items() if p is not None]

    def f(x, *params):
        kept = [m._parameters[n] for m, n in slots]
        for (m, n), p in zip(slots, params):
            m._parameters[n] = p
        try:
            return model(x)
        finally:
            for (m, n), p in zip(slots, kept):
                m._parameters[n] = p

    return f, [m._parameters[n] for m, n in slots]


@pytest.mark.parametrize("act", ACTS)
def test_nn_linear_gradgradcheck(act, device):
    layer = gg.nn.Linear(3, 2, activation=None if act == "identity" else act, dtype="float64",
                         device=device)
    f, params = _functional(layer)
    x = _t(np.random.default_rng(10).standard_normal((4, 3)), device)
    assert gg.gradgradcheck(f, [x] + params)


@pytest.mark.parametrize("act", ACTS)
def test_nn_mlp_gradgradcheck(act, device):
    gg.manual_seed(1)
    net = gg.nn.MLP([3, 4, 2], activation=act, output_activation="tanh", dtype="float64",
                    device=device)
    f, params = _functional(net)
    x = _t(np.random.default_rng(11).standard_normal((5, 3)), device)
    assert gg.gradgradcheck(f, [x] + params)


# ---------------------------------------------------------------- against PyTorch
def _torch_act(act):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    return {"identity": lambda z: z, "relu": F.relu, "leaky_relu": F.leaky_relu,
            "gelu": F.gelu, "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
            "silu": F.silu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[act]


def _mlp_pair(act, sizes=(3, 6, 5, 1), seed=12):
    """A gg.nn.MLP in float64 and the same network as a torch function of the same weights
    (gpugrad's W is (in, out): the layer is act(x @ W + b) in both)."""
    torch = pytest.importorskip("torch")
    gg.manual_seed(seed)
    net = gg.nn.MLP(list(sizes), activation=act, dtype="float64")
    tw = [torch.tensor(p.numpy(), requires_grad=True) for p in net.parameters()]
    tact = _torch_act(act)

    def tnet(x, ws=tw):
        for i in range(0, len(ws), 2):
            x = x @ ws[i] + ws[i + 1]
            if i + 2 < len(ws):
                x = tact(x)
        return x

    return net, tnet, tw


@pytest.mark.torch
@pytest.mark.parametrize("act", ACTS)
def test_gradient_penalty_matches_torch(act):
    """WGAN-GP: d/d(parameters) of mean((||d D(x)/dx|| - 1)**2) + ||d D(x)/dx||**2."""
    torch = pytest.importorskip("torch")
    net, tnet, tw = _mlp_pair(act)
    xa = np.random.default_rng(13).standard_normal((8, 3))

    x = gg.tensor(xa, requires_grad=True)
    (gx,) = gg.autograd.grad(net(x).sum(), [x], create_graph=True)
    sq = (gx * gx).sum(axis=1)
    penalty = ((gg.sqrt(sq) - 1) ** 2).mean() + sq.sum()
    grads = gg.autograd.grad(penalty, list(net.parameters()), allow_unused=True)

    tx = torch.tensor(xa, requires_grad=True)
    (tgx,) = torch.autograd.grad(tnet(tx).sum(), [tx], create_graph=True)
    tsq = (tgx * tgx).sum(dim=1)
    tpen = ((tsq.sqrt() - 1) ** 2).mean() + tsq.sum()
    tgrads = torch.autograd.grad(tpen, tw, allow_unused=True)

    np.testing.assert_allclose(penalty.item(), tpen.item(), rtol=1e-12)
    for p, g, tg in zip(net.parameters(), grads, tgrads):  # None: unused (as when affine)
        g = np.zeros(p.shape) if g is None else _np(g)       # or with a piecewise-linear
        tg = np.zeros(p.shape) if tg is None else tg.numpy()  # activation (the biases)
        np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("act", ["relu", "gelu", "tanh", "silu"])
def test_mlp_loss_hessian_in_a_weight_matches_torch(act):
    torch = pytest.importorskip("torch")
    net, tnet, tw = _mlp_pair(act, sizes=(4, 3, 3), seed=14)
    rng = np.random.default_rng(15)
    xa, t = rng.standard_normal((6, 4)), np.array([0, 2, 1, 1, 0, 2])
    w0 = net[0].weight.numpy()  # (4, 3): a 12 x 12 Hessian
    f, params = _functional(net)

    def loss(W):
        return gg.cross_entropy(f(gg.tensor(xa), W, *params[1:]), gg.tensor(t))

    h = _np(gg.hessian(loss)(w0))

    def tloss(W):
        return torch.nn.functional.cross_entropy(tnet(torch.tensor(xa), [W] + tw[1:]),
                                                 torch.tensor(t))

    th = torch.autograd.functional.hessian(tloss, torch.tensor(w0)).numpy()
    assert h.shape == th.shape == (4, 3, 4, 3)
    np.testing.assert_allclose(h, th, rtol=1e-9, atol=1e-12)
    assert np.abs(th).max() > 1e-3


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kw", [{}, dict(label_smoothing=0.3), dict(ignore_index=2),
                                dict(ignore_index=0, label_smoothing=0.1)], ids=str)
def test_cross_entropy_second_derivatives_match_torch(reduction, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(16)
    xa, t = rng.standard_normal((5, 4)) * 1.5, np.array([2, 0, 3, 2, 1])
    v = rng.standard_normal(5) if reduction == "none" else 1.0

    def f(x):
        return (gg.cross_entropy(x, gg.tensor(t), reduction, **kw) * v).sum()

    def tf(x):
        return (torch.nn.functional.cross_entropy(x, torch.tensor(t), reduction=reduction,
                                                  **kw) * torch.tensor(v)).sum()

    h = _np(gg.hessian(f)(xa))
    th = torch.autograd.functional.hessian(tf, torch.tensor(xa)).numpy()
    np.testing.assert_allclose(h, th, rtol=1e-9, atol=1e-12)
    # and the mixed derivative in the cotangent (reduction="none": d/dv of the gradient)
    x = gg.tensor(xa, requires_grad=True)
    tx = torch.tensor(xa, requires_grad=True)
    out = gg.cross_entropy(x, gg.tensor(t), reduction, **kw)
    tout = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction, **kw)
    gv = gg.ones(out.shape, dtype="float64", requires_grad=True)
    tgv = torch.ones(tout.shape, dtype=torch.float64, requires_grad=True)
    (g,) = gg.autograd.grad(out, [x], grad_outputs=gv, create_graph=True)
    (tg,) = torch.autograd.grad(tout, [tx], grad_outputs=tgv, create_graph=True)
    w = rng.standard_normal(xa.shape)
    got = gg.autograd.grad((g * gg.tensor(w)).sum(), [x, gv])
    want = torch.autograd.grad((tg * torch.tensor(w)).sum(), [tx, tgv])
    for a, b in zip(got, want):
        np.testing.assert_allclose(_np(a), b.numpy(), rtol=1e-9, atol=1e-12)


def test_cross_entropy_fast_and_graph_paths_agree():
    rng = np.random.default_rng(17)
    xa, t = rng.standard_normal((7, 5)), gg.tensor(np.array([0, 4, 2, -100, 1, 1, 3]))
    for kw in ({}, dict(label_smoothing=0.25)):
        x = gg.tensor(xa, requires_grad=True)
        (fast,) = gg.autograd.grad(gg.cross_entropy(x, t, **kw), [x])
        (graph,) = gg.autograd.grad(gg.cross_entropy(x, t, **kw), [x], create_graph=True)
        assert graph.requires_grad
        np.testing.assert_allclose(_np(fast), _np(graph), rtol=1e-13, atol=1e-15)


def test_linear_kernel_and_composite_paths_agree():
    rng = np.random.default_rng(18)
    for act in ACTS:
        x = gg.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
        W = gg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
        b = gg.tensor(rng.standard_normal(3), requires_grad=True)
        v = gg.tensor(rng.standard_normal((3, 2, 3)))
        y = gg.linear(x, W, b, activation=act)
        fast = gg.autograd.grad(y, [x, W, b], grad_outputs=v, retain_graph=True)
        graph = gg.autograd.grad(y, [x, W, b], grad_outputs=v, create_graph=True)
        for a, c in zip(fast, graph):
            np.testing.assert_allclose(_np(a), _np(c), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- complex input
COMPLEX_REFUSED = {
    "softmax": lambda z: gg.softmax(z),
    "log_softmax": lambda z: gg.log_softmax(z),
    "cross_entropy": lambda z: gg.cross_entropy(z.reshape(1, -1), gg.tensor([1])),
    "nll_loss": lambda z: gg.nll_loss(z.reshape(1, -1), gg.tensor([1])),
    "mse_loss": lambda z: gg.mse_loss(z, z),
    "binary_cross_entropy_with_logits": lambda z: gg.binary_cross_entropy_with_logits(
        z, gg.tensor([1.0, 0.0])),
    "linear": lambda z: gg.linear(z.reshape(1, -1), gg.tensor(np.eye(2)), activation="relu"),
}


@pytest.mark.parametrize("name", list(COMPLEX_REFUSED))
def test_complex_input_is_a_type_error_not_a_silent_cast(name):
    z = gg.tensor(np.array([1 + 2j, 0.5 - 1j]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning either: the TypeError comes first
        with pytest.raises(TypeError, match=f"{name}.*complex.*complex128"):
            COMPLEX_REFUSED[name](z)


def test_bce_refuses_a_complex_target():
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits.*complex"):
        gg.binary_cross_entropy_with_logits(gg.tensor([0.5, 1.0]),
                                            gg.tensor(np.array([1 + 1j, 0j])))


# ---------------------------------------------------------------- gpugrad.numpy fixes
def test_gnp_std_of_a_constant_has_zero_gradient():
    x = gg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    gnp.std(x).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    y = gg.tensor([[1.0, 1.0], [1.0, 3.0]], requires_grad=True)
    gnp.std(y, axis=1, ddof=1).sum().backward()
    np.testing.assert_allclose(_np(y.grad), [[0, 0], [-1 / np.sqrt(2), 1 / np.sqrt(2)]])
    np.testing.assert_allclose(gnp.std(np.arange(5.0), ddof=1).item(), np.std(np.arange(5.0),
                                                                                ddof=1))


def test_gnp_nanmean_float16_accumulates_in_float32():
    a = np.full(70_000, 1.5, np.float16)  # the float16 sum (105000) would overflow
    a[3] = np.nan
    r = gnp.nanmean(a)
    assert r.dtype == np.float16 and r.item() == 1.5
    assert gnp.nanmean(np.array([1.0, np.nan, 2.0], np.float32)).dtype == np.float32
    x = gg.tensor(np.array([[1.0, np.nan], [3.0, 4.0]], np.float16), requires_grad=True)
    y = gnp.nanmean(x, axis=1)
    assert y.dtype == np.float16 and y.tolist() == [1.0, 3.5]
    y.sum().backward()
    assert x.grad.dtype == np.float16 and x.grad.tolist() == [[1.0, 0.0], [0.5, 0.5]]


def test_prod_second_order_memory_is_linear():
    import tracemalloc

    x = gg.tensor(np.random.default_rng(1).uniform(0.99, 1.01, 4000), requires_grad=True)
    tracemalloc.start()
    try:
        (g,) = gg.autograd.grad(gg.prod(x), [x], create_graph=True)
        gg.autograd.grad(g.sum(), [x])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 4000 * 8          # an (n, n) stack would be 128 MB
