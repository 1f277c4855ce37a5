"""The backward pass: a worked example staged by hand, the gate rules, backward() semantics,
deep graphs, memory, grad modes, hooks, autograd.grad, and the functional transforms."""
import gc
import math
import tracemalloc
import weakref

import numpy as np
import pytest

import gpugrad as gg


def f64(v, device="cpu", requires_grad=True):
    return gg.tensor(v, dtype="float64", device=device, requires_grad=requires_grad)


# ---------------------------------------------------------------- CS231n's staged example
def staged_forward_backward(x, y):
    """f(x, y) = (x + sigmoid(y)) / (sigmoid(x) + (x + y)**2), forward and backward staged by
    hand in plain Python, exactly as the CS231n backprop notes do."""
    # forward pass
    sigy = 1.0 / (1 + math.exp(-y))      # sigmoid in numerator   #(1)
    num = x + sigy                       # numerator              #(2)
    sigx = 1.0 / (1 + math.exp(-x))      # sigmoid in denominator #(3)
    xpy = x + y                          #                        #(4)
    xpysqr = xpy ** 2                    #                        #(5)
    den = sigx + xpysqr                  # denominator            #(6)
    invden = 1.0 / den                   #                        #(7)
    f = num * invden                     # done!                  #(8)
    # backprop f = num * invden
    dnum = invden                        # gradient on numerator  #(8)
    dinvden = num                        #                        #(8)
    # backprop invden = 1.0 / den
    dden = (-1.0 / (den ** 2)) * dinvden                          #(7)
    # backprop den = sigx + xpysqr
    dsigx = (1) * dden                                            #(6)
    dxpysqr = (1) * dden                                          #(6)
    # backprop xpysqr = xpy**2
    dxpy = (2 * xpy) * dxpysqr                                    #(5)
    # backprop xpy = x + y
    dx = (1) * dxpy                                               #(4)
    dy = (1) * dxpy                                               #(4)
    # backprop sigx = 1.0 / (1 + math.exp(-x))
    dx += ((1 - sigx) * sigx) * dsigx  # notice += !!             #(3)
    # backprop num = x + sigy
    dx += (1) * dnum                                              #(2)
    dsigy = (1) * dnum                                            #(2)
    # backprop sigy = 1.0 / (1 + math.exp(-y))
    dy += ((1 - sigy) * sigy) * dsigy                             #(1)
    return f, dx, dy


def test_cs231n_staged_example(device):
    f_ref, dx_ref, dy_ref = staged_forward_backward(3.0, -4.0)
    x, y = f64(3.0, device), f64(-4.0, device)
    f = (x + gg.sigmoid(y)) / (gg.sigmoid(x) + (x + y) ** 2)
    f.backward()
    assert f.item() == pytest.approx(f_ref, rel=1e-14)
    assert x.grad.item() == pytest.approx(dx_ref, rel=1e-12)
    assert y.grad.item() == pytest.approx(dy_ref, rel=1e-12)
    # the same through the functional interface, on Python floats
    fun = lambda a, b: (a + gg.sigmoid(b)) / (gg.sigmoid(a) + (a + b) ** 2)  # noqa: E731
    value, (gx, gy) = gg.value_and_grad(fun, argnums=(0, 1))(3.0, -4.0)
    assert value == pytest.approx(f_ref, rel=1e-14)
    assert gx == pytest.approx(dx_ref, rel=1e-12) and gy == pytest.approx(dy_ref, rel=1e-12)


def test_gate_rules(device):
    upstream = -2.0
    # add gate: distributes the upstream gradient to all its inputs
    x, y = f64(3.0, device), f64(-4.0, device)
    (x + y).backward(f64(upstream, device, False))
    assert x.grad.item() == upstream and y.grad.item() == upstream
    # multiply gate: each input's gradient is the *other* input times upstream
    x, y = f64(3.0, device), f64(-4.0, device)
    (x * y).backward(f64(upstream, device, False))
    assert x.grad.item() == -4.0 * upstream and y.grad.item() == 3.0 * upstream
    # max gate: routes the upstream gradient to the larger input only
    x, y = f64(3.0, device), f64(-4.0, device)
    gg.maximum(x, y).backward(f64(upstream, device, False))
    assert x.grad.item() == upstream and y.grad.item() == 0.0
    x, y = f64([1.0, 5.0], device), f64([2.0, 2.0], device)
    gg.maximum(x, y).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0] and y.grad.tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- backward() semantics
def test_backward_seeds_and_accumulates(device):
    x = f64([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()                        # gradient=None for a scalar: seed 1
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    (x * x).sum().backward()                        # a second graph accumulates
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0, 12.0])
    x.grad = None
    (x * 3).backward(gradient=f64([1.0, 0.0, 2.0], device, False))   # vector-Jacobian
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0, 6.0])
    x.grad = None
    (x * 3).backward(gradient=gg.ones(3, device=device))   # float32 seed, cast to float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])
    assert x.grad.dtype == np.float64


def test_second_backward_needs_retain_graph(device):
    x = f64([1.0, 2.0], device)
    y = (gg.exp(x) * x).sum()
    y.backward()
    first = x.grad.numpy().copy()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*"
                                           "retain_graph=True"):
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), first)   # nothing half-accumulated
    x.grad = None
    z = (gg.exp(x) * x).sum()
    z.backward(retain_graph=True)
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * first)
    ref = np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))
    np.testing.assert_allclose(first, ref)


def test_shared_subexpression_and_diamond():  # 0-d nodes used three times (a) and twice (b)
    x = f64(2.0)
    a = x * 3
    b = a * a + a                  # a is used three times
    c = gg.exp(b) * 0 + b * x      # and b twice
    c.backward()
    # c = (9x^2 + 3x) x = 9x^3 + 3x^2 -> dc/dx = 27x^2 + 6x
    assert x.grad.item() == pytest.approx(27 * 4 + 12)


def test_gradient_dtype_matches_the_leaf(device):
    x = gg.tensor([1.0, 2.0], device=device, requires_grad=True)         # float32
    y = gg.tensor(np.array([3.0, 4.0]), device=device, requires_grad=True)  # float64
    (x * y).sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    assert x.grad.device == gg.device(device)


def test_unused_leaf_gets_no_gradient():
    x, unused = f64(1.0), f64(2.0)
    (x * 2).backward()
    assert unused.grad is None and x.grad.item() == 2.0


def test_deep_chain_is_iterative():
    n = 100_000
    x = f64(1.0)
    y = x
    gc.disable()                    # speed only: 100k live nodes make the cyclic GC rescan
    try:
        for _ in range(n):
            y = y * 1.00001
        y.backward()
        del y                       # tearing the graph down must not overflow the C stack
    finally:
        gc.enable()
    assert x.grad.item() == pytest.approx(1.00001 ** n, rel=1e-9)


# ---------------------------------------------------------------- no reference cycles
def _train(steps, x, t, params, lr=0.05):
    W1, b1, W2 = params
    for _ in range(steps):
        h = gg.tanh(x @ W1 + b1)
        loss = gg.mse_loss(h @ W2, t)
        loss.backward()
        with gg.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    return loss.item()


def _live_graph_objects():
    kinds = (gg.Tensor, gg.autograd.Function)     # type(): dead weak proxies can't isinstance
    return sum(issubclass(type(o), kinds) for o in gc.get_objects())


def _array_bytes():
    """Bytes held by live NumPy array buffers (NumPy reports them to tracemalloc)."""
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
    return sum(s.size for s in snap.statistics("filename"))


def test_training_loop_creates_no_cycles_and_no_growth():
    rng = np.random.default_rng(0)
    x, t = gg.tensor(rng.standard_normal((16, 4))), gg.tensor(rng.standard_normal((16, 1)))
    params = [gg.tensor(rng.standard_normal(s) * 0.5, requires_grad=True)
              for s in [(4, 8), (8,), (8, 1)]]
    first = _train(1, x, t, params)
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        _train(20, x, t, params)
        objects, arrays = _live_graph_objects(), _array_bytes()
        last = _train(180, x, t, params)
        objects_after, arrays_after = _live_graph_objects(), _array_bytes()
        unreachable = gc.collect()                  # everything freed by refcounting alone
    finally:
        tracemalloc.stop()
        gc.enable()
    assert last < first                             # it did train
    assert unreachable == 0
    assert objects_after == objects, "tensors or graph nodes outlived their step"
    assert arrays_after <= arrays, f"array memory grew by {arrays_after - arrays} bytes"


def test_graph_dies_with_its_output():
    x = f64([1.0, 2.0])
    gc.disable()
    try:
        y = gg.tanh(x * 2 + 1).sum()
        node = weakref.ref(y.grad_fn)
        inner = weakref.ref(y.grad_fn.parents[0].grad_fn)
        del y
        assert node() is None and inner() is None
        y = (x * x).sum()
        node = weakref.ref(y.grad_fn)
        y.backward()
        del y
        assert node() is None
    finally:
        gc.enable()


# ---------------------------------------------------------------- grad modes
def test_no_grad_enable_grad_set_grad_enabled():
    w = f64([1.0, 2.0])
    with gg.no_grad():
        assert not gg.is_grad_enabled()
        y = w * 2
        with gg.enable_grad():
            assert gg.is_grad_enabled()
            z = w * 2
        assert not gg.is_grad_enabled()
    assert gg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @gg.no_grad()
    def frozen(a):
        return a * 3
    assert not frozen(w).requires_grad and gg.is_grad_enabled()

    with gg.set_grad_enabled(False):
        assert not (w * 2).requires_grad
    assert (w * 2).requires_grad
    gg.set_grad_enabled(False)                      # also works as a plain call
    try:
        assert not gg.is_grad_enabled() and not (w * 2).requires_grad
    finally:
        gg.set_grad_enabled(True)
    assert gg.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with gg.no_grad():
            raise ValueError("boom")
    assert gg.is_grad_enabled()


# ---------------------------------------------------------------- hooks
def test_hooks_on_leaf_and_non_leaf():
    x = f64([1.0, 2.0])
    seen = []
    h_leaf = x.register_hook(lambda g: g * 2)       # a returned tensor replaces the gradient
    y = x * 3
    y.register_hook(lambda g: seen.append(g.numpy().copy()))   # None: only observes
    h_mid = y.register_hook(lambda g: g + 1)
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * np.array([3.0, 6.0]))   # dL/dy before the +1 hook
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * (2 * np.array([3.0, 6.0]) + 1))
    h_leaf.remove()
    h_mid.remove()
    h_mid.remove()                                  # removing twice is harmless
    x.grad = None
    y = x * 3
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 9 * np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.tensor([1.0]).register_hook(lambda g: g)


# ---------------------------------------------------------------- autograd.grad
def test_autograd_grad(device):
    x, w = f64([1.0, 2.0], device), f64([3.0, -1.0], device)
    h = x * w
    out = (h * h).sum()
    gx, gh = gg.autograd.grad(out, [x, h], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), 2 * (x * w * w).numpy())
    np.testing.assert_allclose(gh.numpy(), 2 * h.numpy())
    assert x.grad is None and w.grad is None        # .grad untouched
    (gw,) = gg.autograd.grad(h, [w], grad_outputs=f64([1.0, 10.0], device, False))
    np.testing.assert_allclose(gw.numpy(), [1.0, 20.0])
    unused = f64(1.0, device)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        gg.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = gg.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.tolist() == [2.0, 2.0]
    (g_single,) = gg.autograd.grad((x * x).sum(), x)
    assert g_single.tolist() == [2.0, 4.0]


# ---------------------------------------------------------------- functional transforms
def test_functional_grad_and_value_and_grad():
    def f(a, b):
        return (a * b).sum() + (a ** 2).sum()
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    ga = gg.grad(f)(a, b)
    assert isinstance(ga, np.ndarray)
    np.testing.assert_allclose(ga, b + 2 * a)
    ga, gb = gg.grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, b + 2 * a)
    np.testing.assert_allclose(gb, a)
    value, gb = gg.value_and_grad(f, argnums=1)(a, b)
    assert value == pytest.approx(float((a * b).sum() + (a ** 2).sum()))
    np.testing.assert_allclose(gb, a)
    assert gg.grad(lambda s: s * s * s)(2.0) == pytest.approx(12.0)   # floats stay floats
    t = gg.tensor([1.0, 2.0])
    gt = gg.grad(lambda s: (s * s).sum())(t)
    assert isinstance(gt, gg.Tensor) and gt.dtype == np.float32 and gt.tolist() == [2.0, 4.0]
    assert t.grad is None and not t.requires_grad     # inputs are not modified


def test_functional_has_aux():
    def f(x):
        loss = (x * x).sum()
        return loss, {"loss": loss.item()}
    (value, aux), g = gg.value_and_grad(f, has_aux=True)(np.array([1.0, 3.0]))
    assert value == 10.0 and aux == {"loss": 10.0}
    np.testing.assert_allclose(g, [2.0, 6.0])
    g, aux = gg.grad(f, has_aux=True)(np.array([2.0]))
    assert aux == {"loss": 4.0}
    np.testing.assert_allclose(g, [4.0])
    with pytest.raises(TypeError, match=r"has_aux=True, the function must return \(value, aux\)"):
        gg.grad(lambda x: (x * x).sum(), has_aux=True)(np.array([1.0]))
    with pytest.raises(TypeError, match=r"returning a scalar tensor, got \(2,\)"):
        gg.grad(lambda x: x * x)(np.array([1.0, 2.0]))


def test_jacobian():
    J = gg.jacobian(lambda x: gg.tanh(x) * 2)(np.array([0.1, -0.3]))
    np.testing.assert_allclose(J, np.diag(2 * (1 - np.tanh([0.1, -0.3]) ** 2)))


# ---------------------------------------------------------------- broadcasting reductions
BINARY_OPS = {
    "add": gg.add, "subtract": gg.subtract, "multiply": gg.multiply, "divide": gg.divide,
    "power": gg.power, "maximum": gg.maximum, "minimum": gg.minimum,
    "remainder": gg.remainder,
    "where": lambda a, b: gg.where(gg.tensor([[True], [False], [True]], device=a.device)
                                   if a.ndim == 2 and a.shape[0] == 3 else True, a, b),
}
PAIRS = [((3, 1), (1, 4)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1, 3), (4, 1)), ((), (2, 2)),
         ((2, 2), ()), ((3, 4), (3, 4))]


@pytest.mark.parametrize("pair", PAIRS, ids=str)
@pytest.mark.parametrize("name", BINARY_OPS)
def test_binary_gradient_shape_equals_operand_shape(name, pair, device):
    rng = np.random.default_rng(0)
    (sa, sb) = pair
    a = gg.tensor(rng.uniform(0.5, 2.0, sa).astype(np.float32), device=device,
                  requires_grad=True)
    b = gg.tensor(rng.uniform(0.5, 2.0, sb).astype(np.float32) + 3, device=device,
                  requires_grad=True)
    out = BINARY_OPS[name](a, b)
    assert out.shape == np.broadcast_shapes(sa, sb)
    out.sum().backward()
    for t, s in ((a, sa), (b, sb)):
        assert t.grad.shape == s and t.grad.dtype == np.float32
        assert np.isfinite(t.grad.numpy()).all()
    if name == "add":   # each element of a operand is used (broadcast size / own size) times
        n = math.prod(np.broadcast_shapes(sa, sb))
        np.testing.assert_allclose(a.grad.numpy(), np.full(sa, n / max(math.prod(sa), 1)))
        np.testing.assert_allclose(b.grad.numpy(), np.full(sb, n / max(math.prod(sb), 1)))
