"""A kept ``.grad`` keeps its values: an optimizer's flat gradient buffer is reused step after
step, but a gradient the user holds (the Tensor, its array, a view of it) never changes under
their feet -- PyTorch's contract -- while nothing is copied when nobody holds one."""
import tracemalloc
import weakref

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim


def _np(a):
    """A CPU NumPy copy of an array or tensor."""
    a = a.data if isinstance(a, gg.Tensor) else a
    return a.get() if hasattr(a, "get") else np.array(a)


def _zero(opt, params, how, set_to_none=True):
    """Reset gradients the way ``how`` names: the optimizer (one pass over its flat buffer),
    or one parameter at a time (``p.grad = None``, as Module.zero_grad does)."""
    if how == "optimizer":
        opt.zero_grad(set_to_none=set_to_none)
    elif set_to_none:
        for p in params:
            p.grad = None
    else:
        for p in params:
            if p.grad is not None:
                p.grad.data[...] = 0


ZERO = ["optimizer", "each"]


def _train(opt_cls, set_to_none, keep, device="cpu", coefs=(1.0, 3.0), how="optimizer", **kw):
    """The issue's example: gradients 1 then 3; ``keep(p)`` is collected after each step."""
    p = nn.Parameter(gg.zeros(2, device=device))
    opt = opt_cls([p], lr=0.1, **kw)
    kept = []
    for c in coefs:
        _zero(opt, [p], how, set_to_none)
        (p * c).sum().backward()
        opt.step()
        kept.append(keep(p))
    return p, opt, kept


# PyTorch 2.x gives exactly these (checked against torch.optim.SGD / Adam): with
# set_to_none=True each step has its own gradient tensor; with False one tensor is zeroed
# and refilled in place, so both entries are that same tensor.
OPTIMIZERS = [optim.SGD, optim.Adam]


@pytest.mark.parametrize("opt_cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("how", ZERO)
def test_kept_grad_tensors_keep_their_values(opt_cls, how, device):
    _, _, kept = _train(opt_cls, True, lambda p: p.grad, device, how=how)
    assert [_np(g).tolist() for g in kept] == [[1.0, 1.0], [3.0, 3.0]]
    assert kept[0] is not kept[1]


@pytest.mark.parametrize("opt_cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_zero_grad_without_none_zeroes_the_same_tensor_like_pytorch(opt_cls, device):
    p, _, kept = _train(opt_cls, False, lambda p: p.grad, device)
    assert kept[0] is kept[1] is p.grad
    assert [_np(g).tolist() for g in kept] == [[3.0, 3.0], [3.0, 3.0]]


@pytest.mark.parametrize("opt_cls", OPTIMIZERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("how", ZERO)
def test_kept_numpy_arrays_keep_their_values(opt_cls, how):
    _, _, kept = _train(opt_cls, True, lambda p: p.grad.numpy(), how=how)
    assert [g.tolist() for g in kept] == [[1.0, 1.0], [3.0, 3.0]]
    # set_to_none=False: numpy() shares memory with the one grad tensor (as in PyTorch)
    _, _, kept = _train(opt_cls, False, lambda p: p.grad.numpy(), how=how)
    assert [g.tolist() for g in kept] == [[3.0, 3.0], [3.0, 3.0]]


@pytest.mark.parametrize("keep", [lambda p: p.grad.data, lambda p: p.grad.numpy()[1:],
                                  lambda p: p.grad.detach(), lambda p: p.grad.data.reshape(1, 2)],
                         ids=["data", "numpy-slice", "detach", "reshaped-view"])
@pytest.mark.parametrize("how", ZERO)
def test_kept_arrays_and_views_keep_their_values(keep, how):
    _, _, kept = _train(optim.SGD, True, keep, coefs=(1.0, 3.0, 5.0), how=how, momentum=0.9)
    assert [_np(g).ravel().tolist()[-1] for g in kept] == [1.0, 3.0, 5.0]


@pytest.mark.parametrize("how", ZERO)
def test_fused_layer_gradients_kept_across_steps(how, device):
    """dW is written by the fused linear backward straight into the buffer: still safe."""
    gg.manual_seed(0)
    model = nn.MLP([4, 8, 3], activation="relu", device=device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = gg.randn(5, 4, device=device)
    held, snapshots = [], []
    for _ in range(3):
        _zero(opt, model.parameters(), how)
        model(x).square().mean().backward()
        held.append([p.grad for p in model.parameters()])
        snapshots.append([_np(p.grad) for p in model.parameters()])
        opt.step()
    for grads, snap in zip(held, snapshots):
        for g, s in zip(grads, snap):
            np.testing.assert_array_equal(_np(g), s)
    assert not np.array_equal(snapshots[0][0], snapshots[2][0])   # the gradients did change


def test_two_parameter_groups():
    a, b = nn.Parameter(gg.zeros(2)), nn.Parameter(gg.zeros(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
    ta, nb = [], []
    for c in (1.0, 3.0):
        opt.zero_grad()
        ((a * c).sum() + (b * 2 * c).sum()).backward()
        ta.append(a.grad)
        nb.append(b.grad.numpy())
        opt.step()
    assert [t.tolist() for t in ta] == [[1.0, 1.0], [3.0, 3.0]]
    assert [n.tolist() for n in nb] == [[2.0, 2.0, 2.0], [6.0, 6.0, 6.0]]
    np.testing.assert_allclose(b.numpy(), -0.01 * (2 + (0.9 * 2 + 6)) * np.ones(3), rtol=1e-6)


@pytest.mark.parametrize("how", ZERO)
def test_a_kept_tensor_costs_a_copy_of_its_own_slice_only(how):
    a, b = nn.Parameter(gg.zeros(2)), nn.Parameter(gg.zeros(3))
    opt = optim.SGD([a, b], lr=0.1)
    ((a * 1).sum() + (b * 1).sum()).backward()
    kept = a.grad
    buffer = weakref.ref(opt._flats[0].grad)
    _zero(opt, [a, b], how)
    assert buffer() is opt._flats[0].grad                  # the flat buffer stays in place
    assert not np.shares_memory(kept.data, opt._flats[0].grad)
    assert kept.data.size == 2 and kept.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("how", ZERO)
def test_fast_path_when_nothing_is_kept(how, device):
    gg.manual_seed(0)
    model = nn.MLP([4, 8, 3], activation="relu", device=device)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = gg.randn(5, 4, device=device)
    buffer = weakref.ref(opt._flats[0].grad)
    for set_to_none in (True, True, False, True):
        _zero(opt, model.parameters(), how, set_to_none)
        model(x).square().mean().backward()
        opt.step()
        flat = opt._flats[0].grad
        assert flat is buffer()                            # never reallocated
        for p in model.parameters():
            assert p.grad.data is p._grad_view             # the buffer's own view, no copy
            assert p.grad.data.base is flat
        del flat


@pytest.mark.parametrize("how", ZERO)
def test_zero_grad_copies_nothing_when_nothing_is_kept(how):
    gg.manual_seed(0)
    model = nn.MLP([64, 256, 10])
    opt = optim.Adam(model.parameters())
    x = gg.randn(8, 64)
    grad_bytes = sum(p.numel() for p in model.parameters()) * 4
    peaks = []
    for _ in range(3):
        model(x).square().mean().backward()
        opt.step()
        tracemalloc.start()
        try:
            _zero(opt, model.parameters(), how)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert max(peaks) < min(grad_bytes // 8, 16 * 1024)    # no gradient was copied


def test_a_retained_graph_does_not_count_as_holding_the_gradients():
    model = nn.MLP([8, 16, 4], activation="relu")
    opt = optim.SGD(model.parameters(), lr=0.01)
    x = gg.randn(4, 8)
    loss = model(x).square().mean()
    loss.backward(retain_graph=True)                       # loss and its graph stay alive
    opt.step()
    buffer = weakref.ref(opt._flats[0].grad)
    opt.zero_grad()
    assert buffer() is opt._flats[0].grad                  # so no fresh buffer is needed


def test_accumulating_without_zero_grad_updates_the_grad_in_place_like_pytorch():
    p = nn.Parameter(gg.zeros(2))
    optim.SGD([p], lr=0.1)
    (p * 1).sum().backward()
    g = p.grad
    (p * 3).sum().backward()
    assert p.grad is g and g.tolist() == [4.0, 4.0]


def test_clip_grad_norm_leaves_a_kept_gradient_alone():
    p = nn.Parameter(gg.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    (p * 3).sum().backward()
    kept = p.grad
    opt.step()
    opt.zero_grad()
    (p * 4).sum().backward()
    nn.clip_grad_norm_([p], 1.0)
    assert kept.tolist() == [3.0, 3.0]
    np.testing.assert_allclose(p.grad.numpy(), [2 ** -0.5] * 2, rtol=1e-5)


def test_state_dict_load_and_add_param_group_leave_a_kept_gradient_alone():
    p, q = nn.Parameter(gg.zeros(2)), nn.Parameter(gg.zeros(1))
    opt = optim.Adam([p], lr=0.1)
    (p * 3).sum().backward()
    kept, arr = p.grad, p.grad.numpy()
    opt.step()
    opt.load_state_dict(opt.state_dict())
    opt.add_param_group({"params": [q]})                   # re-lays out the flat buffers
    for c in (5.0, 7.0):
        opt.zero_grad()
        ((p * c).sum() + q.sum()).backward()
        opt.step()
    assert kept.tolist() == [3.0, 3.0] and arr.tolist() == [3.0, 3.0]
    assert p.grad.tolist() == [7.0, 7.0]


def test_user_assigned_gradient_is_read_not_written():
    p = nn.Parameter(gg.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    (p * 3).sum().backward()
    old = p.grad
    mine = gg.tensor([1.0, 2.0])
    p.grad = mine                                          # retires the buffer's gradient
    opt.step()
    opt.zero_grad()
    (p * 5).sum().backward()
    opt.step()
    assert old.tolist() == [3.0, 3.0] and mine.tolist() == [1.0, 2.0]
    np.testing.assert_allclose(p.numpy(), [-0.6, -0.7], rtol=1e-6)


def test_plain_tensors_in_an_optimizer_keep_their_gradients():
    w = gg.zeros(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    kept = []
    for c in (1.0, 3.0, 5.0):
        opt.zero_grad()
        (w * c).sum().backward()
        opt.step()
        kept.append(w.grad)
    assert [g.tolist() for g in kept] == [[1.0, 1.0], [3.0, 3.0], [5.0, 5.0]]


def test_a_parameter_with_a_bare_gradient_view():
    p = nn.Parameter(gg.zeros(3))
    buf = np.zeros(5, np.float32)
    p._grad_view = buf[1:4]
    (p * 2).sum().backward()
    kept, arr = p.grad, None
    p.grad = None
    (p * 3).sum().backward()
    assert kept.tolist() == [2.0, 2.0, 2.0] and p.grad.data is p._grad_view
    arr = p.grad.numpy()
    p.grad = None
    (p * 4).sum().backward()
    assert arr.tolist() == [3.0, 3.0, 3.0] and p.grad.tolist() == [4.0, 4.0, 4.0]
