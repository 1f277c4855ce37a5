"""Engine edge cases: released inputs cannot be written, leaf gradients add up exactly when
threads share a leaf, ``.grad`` is checked when assigned, and copies follow PyTorch: only graph
leaves are deep-copied, a computed tensor copies or pickles as a new leaf."""
import copy
import pickle
import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import kernels, leaf_grads
from gpugrad.tensor import Tensor
from thread_util import run_threads


# ---------------------------------------------------------------- released inputs
def _released_input(fill):
    x = gg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    loss = (x * gg.tensor(np.full((3, 4), fill, np.float32))).sum()
    loss.backward()
    return next(p for p in loss._node.pnodes[0].parents if type(p).__name__ == "ReleasedInput")


def test_the_shared_released_input_array_refuses_every_write():
    r1, r2 = _released_input(2.0), _released_input(7.0)
    assert r1.data is r2.data                       # one array per (dtype, shape)
    with pytest.raises(ValueError, match="read-only"):
        r1.data.base[()] = 42.0
    with pytest.raises(ValueError, match="WRITEABLE"):
        r1.data.flags.writeable = True
    with pytest.raises(ValueError, match="read-only"):
        r1.data[1, 1] = 9.0
    assert not r2.data.any() and not _released_input(1.0).data.any()


# ---------------------------------------------------------------- threads sharing a leaf
@pytest.mark.parametrize("hooked", [False, True])
def test_threads_sharing_a_leaf_lose_no_gradient(hooked):
    w = gg.tensor(np.zeros(100_000, np.float32), requires_grad=True)
    if hooked:  # the gradient then goes the general way (_add_to_grad), not the fast path
        w.register_hook(lambda g: g * 1.0)
    passes, nthreads = 100, 4

    def work():
        for _ in range(passes):
            (w * 1.0).sum().backward()
    run_threads(*[work] * nthreads)
    assert w.grad.data.min() == w.grad.data.max() == passes * nthreads


def _mlp_and_batches(nthreads):
    gg.manual_seed(0)
    model = gg.nn.MLP([32, 128, 8], activation="relu")
    rng = np.random.default_rng(1)
    batches = [(gg.tensor(rng.standard_normal((64, 32), dtype=np.float32)),
                gg.tensor(rng.integers(0, 8, 64))) for _ in range(nthreads)]
    return model, batches


def _one_pass_grads(model, batch):
    for p in model.parameters():
        p.grad = None
    gg.cross_entropy(model(batch[0]), batch[1]).backward()
    return [p.grad.numpy().astype(np.float64) for p in model.parameters()]


def test_threads_sharing_parameters_in_an_optimizers_buffer_lose_no_gradient():
    nthreads, passes = 3, 4
    model, batches = _mlp_and_batches(nthreads)
    singles = [_one_pass_grads(model, b) for b in batches]
    expected = [passes * sum(gs) for gs in zip(*singles)]
    gg.optim.SGD(model.parameters(), lr=0.1)       # dW is written into its buffer views
    for _ in range(3):
        for p in model.parameters():
            p.grad = None
        start = threading.Barrier(nthreads)

        def work(batch):
            start.wait(timeout=60)
            for _ in range(passes):
                gg.cross_entropy(model(batch[0]), batch[1]).backward()
        run_threads(*[lambda b=b: work(b) for b in batches])
        for p, e in zip(model.parameters(), expected):
            np.testing.assert_allclose(p.grad.numpy(), e, rtol=2e-5, atol=1e-6)


def test_a_pass_meeting_a_view_claimed_by_another_pass_adds_beside_it(monkeypatch):
    """Thread A's Linear backward is writing dW into the buffer view (claimed) while thread B
    runs a whole pass: B's gradient starts .grad as a copy and A's view is added into it."""
    model, batches = _mlp_and_batches(2)
    expected = [sum(gs) for gs in zip(*(_one_pass_grads(model, b) for b in batches))]
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    opt.zero_grad()
    a_inside, b_done = threading.Event(), threading.Event()
    real, seen = kernels.linear_act_backward, []

    def spy(*args, dW_out=None, **kwargs):
        if threading.current_thread().name == "A" and dW_out is not None and not seen:
            seen.append(dW_out)
            a_inside.set()
            assert b_done.wait(timeout=60)
        return real(*args, dW_out=dW_out, **kwargs)
    monkeypatch.setattr(kernels, "linear_act_backward", spy)

    def run(batch, done=None):
        gg.cross_entropy(model(batch[0]), batch[1]).backward()
        if done is not None:
            done.set()
    a = threading.Thread(target=run, args=(batches[0],), name="A")
    a.start()
    assert a_inside.wait(timeout=60)
    run(batches[1], b_done)                         # B, in this thread, while A waits
    a.join(timeout=60)
    assert seen and not a.is_alive() and not leaf_grads._claimed
    for p, e in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad.numpy(), e, rtol=2e-5, atol=1e-6)


def test_a_failed_backward_gives_its_buffer_views_back(monkeypatch):
    model, batches = _mlp_and_batches(1)
    gg.optim.SGD(model.parameters(), lr=0.1)
    real = kernels.linear_act_backward

    def fail(*args, **kwargs):
        raise MemoryError("no room")
    monkeypatch.setattr(kernels, "linear_act_backward", fail)
    with pytest.raises(MemoryError):
        gg.cross_entropy(model(batches[0][0]), batches[0][1]).backward()
    assert not leaf_grads._claimed
    monkeypatch.setattr(kernels, "linear_act_backward", real)
    gg.cross_entropy(model(batches[0][0]), batches[0][1]).backward()
    W = next(iter(model.parameters()))
    assert W.grad.data is W._grad_view                 # the view is used again


# ---------------------------------------------------------------- .grad assignment
def _leaf(shape=(2,)):
    return gg.zeros(shape, requires_grad=True)


BAD_GRADS = {
    "overlapping": (lambda: Tensor._make(np.lib.stride_tricks.as_strided(
        np.zeros(1, np.float32), (2,), (0,))), RuntimeError, r"shape \(2,\).*share memory"),
    "read-only broadcast": (lambda: Tensor._make(np.broadcast_to(np.float32(0), (2,))),
                            RuntimeError, r"read-only"),
    "float64": (lambda: gg.tensor(np.array([0.5, 0.5])), RuntimeError,
                r"dtype float64, but the tensor has dtype float32"),
    "int64": (lambda: gg.tensor([0, 0]), RuntimeError, r"dtype int64, but .* float32"),
    "shape (1,)": (lambda: gg.zeros(1), RuntimeError,
                   r"shape \(1,\), but the tensor has shape \(2,\)"),
    "shape (2, 1)": (lambda: gg.zeros(2, 1), RuntimeError, r"shape \(2, 1\), but .* \(2,\)"),
    "ndarray": (lambda: np.zeros(2, np.float32), TypeError, r"Tensor or None, got ndarray"),
    "list": (lambda: [0.0, 0.0], TypeError, r"got list"),
}


@pytest.mark.parametrize("kind", sorted(BAD_GRADS))
@pytest.mark.parametrize("leaf_type", ["Tensor", "Parameter"])
def test_a_bad_grad_is_refused_when_assigned_and_changes_nothing(kind, leaf_type):
    make, exc, match = BAD_GRADS[kind]
    x = _leaf() if leaf_type == "Tensor" else gg.nn.Parameter(gg.zeros(2))
    (x * gg.tensor([3.0, 5.0])).sum().backward()
    before = x.grad
    with pytest.raises(exc, match=match):
        x.grad = make()
    assert x.grad is before and x.grad.tolist() == [3.0, 5.0]


def test_a_larger_broadcastable_grad_is_refused():
    x = gg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\), but the tensor has shape \(1,\)"):
        x.grad = gg.zeros(3)


def test_a_grad_in_the_tensors_own_memory_is_refused():
    x = _leaf()
    with pytest.raises(RuntimeError, match="its own grad"):
        x.grad = x
    with pytest.raises(RuntimeError, match="shares memory with the tensor's own data"):
        x.grad = x.detach()
    assert x.grad is None


def test_good_grads_are_kept_as_they_are_and_accumulated_into():
    x = _leaf((2, 3))
    g = gg.ones(2, 3)
    x.grad = g
    assert x.grad is g
    (x * 2).sum().backward()
    assert x.grad is g and g.tolist() == [[3.0] * 3] * 2
    cols = gg.zeros(3, 2).T                               # strided, not overlapping
    x.grad = cols
    (x * 1).sum().backward()
    assert x.grad is cols and cols.tolist() == [[1.0] * 3] * 2
    s = gg.nn.Parameter(gg.zeros(()))
    s.grad = Tensor._make(np.float32(2.0))                 # a NumPy scalar: rebound, not written
    (s * 3).backward()
    assert s.grad.item() == 5.0


def test_a_grad_that_records_a_graph_may_be_a_broadcast_view():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    g = gg.broadcast_to((x * 1).sum(), (2,))               # read-only, zero stride, a graph
    assert g.requires_grad and not g.data.flags.writeable
    x.grad = g                                            # added into out of place: kept
    (x * x).sum().backward()
    assert x.grad is not g and x.grad.tolist() == [5.0, 7.0] and g.tolist() == [3.0, 3.0]


def test_optimizer_buffer_grads_still_assign_and_step():
    model, batches = _mlp_and_batches(1)
    opt = gg.optim.SGD(model.parameters(), lr=0.5)
    gg.cross_entropy(model(batches[0][0]), batches[0][1]).backward()
    params = list(model.parameters())
    assert all(p.grad.data is p._grad_view for p in params)
    mine = gg.ones(params[0].shape)
    params[0].grad = mine                                  # a gradient of the user's own
    before = params[0].numpy().copy()
    opt.step()
    np.testing.assert_allclose(params[0].numpy(), before - 0.5, rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    assert all(not p.grad.data.any() for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


# ---------------------------------------------------------------- copy and pickle
def test_deepcopy_of_a_computed_tensor_that_requires_grad_is_refused():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match=r"graph leaves.*computed by Sum.*t\.detach\(\)"):
        copy.deepcopy(y)
    y.backward()                                           # the graph is untouched
    assert x.grad.tolist() == [2.0, 4.0]


def _torch_copy_flags(how):
    """(requires_grad, is_leaf, grad_fn is None, grad is None) of torch's copy of x * 2."""
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * 1).sum().backward()
    c = copy.copy(y) if how == "copy" else pickle.loads(pickle.dumps(y))
    return c.requires_grad, c.is_leaf, c.grad_fn is None, c.grad is None


@pytest.mark.parametrize("how", ["copy", "pickle"])
def test_copy_and_pickle_of_a_computed_tensor_give_a_new_leaf_as_in_pytorch(how):
    do = copy.copy if how == "copy" else (lambda t: pickle.loads(pickle.dumps(t)))
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * 1).sum().backward()
    assert y.grad is not None
    c = do(y)
    assert (c.requires_grad, c.is_leaf, c.grad_fn is None, c.grad is None) == \
        (True, True, True, True)
    assert c.tolist() == [2.0, 4.0] and not np.shares_memory(c.numpy(), y.numpy())
    (c * 3).sum().backward()                               # a leaf of its own
    assert c.grad.tolist() == [3.0, 3.0] and x.grad.tolist() == [2.0, 2.0]
    try:
        want = _torch_copy_flags(how)
    except pytest.skip.Exception:
        return
    assert (c.requires_grad, c.is_leaf, c.grad_fn is None, True) == want


class _Caching(gg.nn.Module):
    """A model that keeps its last activation (a tensor computed in a graph)."""

    def __init__(self):
        super().__init__()
        self.lin = gg.nn.Linear(3, 2)
        self.cache = None

    def forward(self, x):
        self.cache = self.lin(x)
        return self.cache


def test_a_model_caching_an_activation_pickles():
    n = _Caching()
    n(gg.ones(4, 3)).sum().backward()
    n2 = pickle.loads(pickle.dumps(n))
    np.testing.assert_array_equal(n2.cache.numpy(), n.cache.numpy())
    assert n2.cache.is_leaf and n2.cache.requires_grad
    np.testing.assert_array_equal(n2.lin.weight.grad.numpy(), n.lin.weight.grad.numpy())
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(n)                                   # as PyTorch: a non-leaf inside


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_leaves_and_values_without_grad_still_copy(how):
    do = copy.deepcopy if how == "deepcopy" else (lambda t: pickle.loads(pickle.dumps(t)))
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    c = do(x)
    assert c.is_leaf and c.requires_grad and c.grad.tolist() == [3.0, 3.0]
    assert c.data is not x.data and c.tolist() == [1.0, 2.0]
    v = do((x * 2).detach())
    assert not v.requires_grad and v.tolist() == [2.0, 4.0]
    with gg.no_grad():
        w = do(x * 2)
    assert w.tolist() == [2.0, 4.0]
    model = gg.nn.MLP([4, 3, 2])
    gg.optim.SGD(model.parameters(), lr=0.1)
    (model(gg.ones(2, 4)).sum()).backward()
    m2 = do(model)
    for p, q in zip(model.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
