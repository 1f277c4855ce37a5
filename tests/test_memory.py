"""Backward frees what it no longer needs: a loss kept after backward (for logging) holds no
step's batch, activations or saved arrays; only the parameters it was computed from."""
import gc
import tracemalloc
import types
import weakref

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim

FEATURES, BATCH = 256, 100


def _owner(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def reachable_bytes(roots, exclude=()):
    """Bytes of the distinct NumPy buffers reachable from ``roots`` through references
    (gc.get_referents), leaving out the buffers of the arrays in ``exclude``."""
    skip = {id(_owner(a)) for a in exclude}
    seen, found, stack = set(), {}, list(roots)
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, (type, types.ModuleType, types.FunctionType)):
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            b = _owner(o)
            if id(b) not in skip:
                found[id(b)] = b.nbytes
            continue
        stack.extend(gc.get_referents(o))
    return sum(found.values())


def _model_arrays(model, opt):
    """Every array owned by the model and optimizer (weights, gradients, moments)."""
    out = []
    for p in model.parameters():
        out.append(p.data)
        if p.grad is not None:
            out.append(p.grad.data)
        view = getattr(p, "_grad_view", None)
        if view is not None:
            out.append(view)
    stack = [opt.__dict__]
    seen = set()
    while stack:                                     # optimizer state, flat buffers included
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            out.append(o)
        elif isinstance(o, gg.Tensor):
            out.append(o.data)
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif hasattr(o, "__dict__") and not isinstance(o, (type, types.ModuleType)):
            stack.append(o.__dict__)
    return out


def _trainer(unfused=False, seed=0):
    gg.manual_seed(seed)
    if unfused:
        model = nn.Sequential(nn.Linear(FEATURES, FEATURES), nn.ReLU(),
                              nn.Linear(FEATURES, FEATURES), nn.Tanh(), nn.Linear(FEATURES, 10))
    else:
        model = nn.MLP([FEATURES, FEATURES, FEATURES, 10], activation="gelu")
    opt = optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)

    def step(backward=True):
        x = gg.tensor(rng.standard_normal((BATCH, FEATURES), dtype=np.float32))
        y = gg.tensor(rng.integers(0, 10, BATCH))
        logits = model(x)
        loss = (nn.functional.cross_entropy(logits, y) if not unfused else
                -(gg.log_softmax(logits, axis=1)[gg.arange(BATCH), y]).mean())
        if backward:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss
    return model, opt, step


@pytest.mark.parametrize("unfused", [False, True], ids=["fused", "unfused"])
def test_kept_losses_hold_no_large_arrays(unfused):
    model, opt, step = _trainer(unfused)
    losses = [step() for _ in range(200)]
    bytes_kept = reachable_bytes(losses, exclude=_model_arrays(model, opt))
    # each loss keeps a few 0-d arrays at most; one kept batch alone would be 102,400 bytes
    assert bytes_kept < 200 * 64, bytes_kept
    pending = step(backward=False)                  # the measure does see a live graph
    assert reachable_bytes([pending], exclude=_model_arrays(model, opt)) > BATCH * FEATURES * 4


def test_the_batch_is_freed_while_its_loss_is_kept():
    model, opt, step = _trainer()
    x = gg.tensor(np.ones((BATCH, FEATURES), np.float32))
    gone = weakref.ref(x)
    loss = nn.functional.cross_entropy(model(x), gg.tensor(np.zeros(BATCH, np.int64)))
    del x
    gc.collect()
    assert gone() is not None                        # the graph holds it until backward
    loss.backward()
    gc.collect()
    assert gone() is None
    assert loss.item() > 0


def test_memory_does_not_grow_with_kept_losses():
    model, opt, step = _trainer()
    for _ in range(3):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        losses = [step() for _ in range(200)]
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert len(losses) == 200
    # 200 batches alone are 20.5 MB; what stays is the small graph nodes of each loss
    assert grown < 4e6, f"{grown / 1e6:.1f} MB kept by 200 losses"


def test_retain_graph_keeps_what_a_second_backward_needs():
    w = gg.tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    x = gg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    loss = gg.nn.functional.linear(x, w, activation="gelu").sum()
    loss.backward(retain_graph=True)
    first = w.grad.numpy().copy()
    loss.backward()                                  # the graph was kept: this one works
    np.testing.assert_allclose(w.grad.numpy(), 2 * first, rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()                              # now it is freed: a clear error


def test_a_released_input_keeps_its_shape_and_shows_no_value():
    from gpugrad.backward_pass import ReleasedInput
    w = gg.tensor(np.ones(3, np.float32), requires_grad=True)
    x = gg.tensor(np.arange(3, dtype=np.float32))
    loss = (w * x).sum()
    loss.backward()
    mul = loss._node.pnodes[0]                       # Multiply, under Sum
    kept = [p for p in mul.parents if isinstance(p, gg.Tensor)]
    assert kept[0] is w                                # a leaf that requires grad stays
    assert isinstance(kept[1], ReleasedInput) and kept[1].shape == (3,)
    assert kept[1].data.base.nbytes == x.data.itemsize
    g = gg.viz.graph(loss)
    inputs = [n for n in g.nodes if n.kind == "input"]
    assert len(inputs) == 1 and inputs[0].shape == (3,) and inputs[0].value is None
