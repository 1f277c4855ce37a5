"""SGD, Adam and AdamW: PyTorch parity over 50 steps for every option combination, parameter
groups, skipped (None) gradients, the flat-buffer fused step, and optimizer state dicts."""
import itertools

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import kernels, nn, optim

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional reference
    torch = None


def needs_torch(fn):
    """Mark a test as a PyTorch comparison that skips where PyTorch is missing."""
    return pytest.mark.torch(pytest.mark.skipif(torch is None,
                                                reason="PyTorch is not installed")(fn))


# ---------------------------------------------------------------- a model in both libraries
def make_pair(dtype="float64", seed=0):
    gg.manual_seed(seed)
    ours = nn.MLP([5, 8, 3], activation="tanh", dtype=dtype)
    tdt = getattr(torch, dtype)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(),
                                 torch.nn.Linear(8, 3)).to(tdt)
    with torch.no_grad():
        for a, b in zip([ours[0], ours[1]], [theirs[0], theirs[2]]):
            b.weight.copy_(torch.from_numpy(a.weight.numpy().T.copy()))   # (in, out) vs (out, in)
            b.bias.copy_(torch.from_numpy(a.bias.numpy().copy()))
    return ours, theirs


def pairs(ours, theirs):
    return [(ours[0].weight, theirs[0].weight.T), (ours[0].bias, theirs[0].bias),
            (ours[1].weight, theirs[2].weight.T), (ours[1].bias, theirs[2].bias)]


def train_both(ours, theirs, opt, topt, steps=50, dtype="float64", sched=None, tsched=None):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((32, 5)).astype(dtype)
    y = rng.integers(0, 3, 32)
    for _ in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        nn.functional.cross_entropy(ours(gg.tensor(X)), gg.tensor(y)).backward()
        torch.nn.functional.cross_entropy(theirs(torch.from_numpy(X)),
                                          torch.from_numpy(y)).backward()
        opt.step()
        topt.step()
        if sched is not None:
            sched.step()
            tsched.step()


def assert_params_close(ours, theirs, rtol):
    for p, tp in pairs(ours, theirs):
        a, b = p.numpy(), tp.detach().numpy()
        scale = np.abs(b).max()
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale)


def sgd_options():
    for mom, damp, nest, wd, maxi in itertools.product([0.0, 0.9], [0.0, 0.5], [False, True],
                                                       [0.0, 0.01], [False, True]):
        if nest and (mom == 0 or damp != 0):
            continue
        yield dict(momentum=mom, dampening=damp, nesterov=nest, weight_decay=wd, maximize=maxi)


SGD_OPTIONS = list(sgd_options())
ADAM_OPTIONS = [dict(amsgrad=a, weight_decay=w, maximize=m)
                for a, w, m in itertools.product([False, True], [0.0, 0.05], [False, True])]
ADAM_OPTIONS.append(dict(betas=(0.8, 0.9), eps=1e-6, amsgrad=True, weight_decay=0.05))


def _ids(kw):
    return "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("kw", SGD_OPTIONS, ids=_ids)
@needs_torch
def test_sgd_matches_torch(kw):
    ours, theirs = make_pair()
    lr = 0.05
    train_both(ours, theirs, optim.SGD(ours.parameters(), lr=lr, **kw),
               torch.optim.SGD(theirs.parameters(), lr=lr, **kw))
    assert_params_close(ours, theirs, 1e-6)


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
@pytest.mark.parametrize("kw", ADAM_OPTIONS, ids=_ids)
@needs_torch
def test_adam_family_matches_torch(cls, kw):
    ours, theirs = make_pair()
    train_both(ours, theirs, getattr(optim, cls)(ours.parameters(), lr=0.01, **kw),
               getattr(torch.optim, cls)(theirs.parameters(), lr=0.01, **kw))
    assert_params_close(ours, theirs, 1e-6)


@pytest.mark.parametrize("cls,kw", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.01))])
@needs_torch
def test_float32_tracks_torch(cls, kw):
    ours, theirs = make_pair("float32")
    train_both(ours, theirs, getattr(optim, cls)(ours.parameters(), **kw),
               getattr(torch.optim, cls)(theirs.parameters(), **kw), dtype="float32")
    assert_params_close(ours, theirs, 1e-5)


@needs_torch
def test_param_groups_with_own_hyperparameters_match_torch():
    ours, theirs = make_pair()
    opt = optim.SGD([{"params": ours[0].parameters(), "lr": 0.1, "nesterov": True},
                     {"params": ours[1].parameters(), "weight_decay": 0.1}],
                    lr=0.02, momentum=0.9)
    topt = torch.optim.SGD([{"params": theirs[0].parameters(), "lr": 0.1, "nesterov": True},
                            {"params": theirs[2].parameters(), "weight_decay": 0.1}],
                           lr=0.02, momentum=0.9)
    train_both(ours, theirs, opt, topt)
    assert_params_close(ours, theirs, 1e-6)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.02]


@pytest.mark.parametrize("cls,kw", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
                                    ("Adam", dict(lr=0.05, weight_decay=0.1)),
                                    ("AdamW", dict(lr=0.05, amsgrad=True))])
@needs_torch
def test_parameters_without_grad_are_skipped_like_torch(cls, kw):
    """Two heads used on alternate steps: each step one head's grads are None."""
    gg.manual_seed(1)
    heads = [nn.Linear(4, 2, dtype="float64") for _ in range(2)]
    theads = [torch.nn.Linear(4, 2).double() for _ in range(2)]
    with torch.no_grad():
        for h, th in zip(heads, theads):
            th.weight.copy_(torch.from_numpy(h.weight.numpy().T.copy()))
            th.bias.copy_(torch.from_numpy(h.bias.numpy().copy()))
    params = [p for h in heads for p in h.parameters()]
    tparams = [p for h in theads for p in h.parameters()]
    opt = getattr(optim, cls)(params, **kw)
    topt = getattr(torch.optim, cls)(tparams, **kw)
    rng = np.random.default_rng(0)
    for step in range(12):
        x = rng.standard_normal((6, 4))
        which = 0 if step % 3 else 1                 # head 1 only every third step
        opt.zero_grad()
        topt.zero_grad()
        heads[which](gg.tensor(x)).square().sum().backward()
        theads[which](torch.from_numpy(x)).square().sum().backward()
        opt.step()
        topt.step()
    for h, th in zip(heads, theads):
        np.testing.assert_allclose(h.weight.numpy(), th.weight.detach().numpy().T, rtol=1e-10)
        np.testing.assert_allclose(h.bias.numpy(), th.bias.detach().numpy(), rtol=1e-10)


# ---------------------------------------------------------------- the flat buffer
def test_parameters_and_grads_live_in_one_flat_buffer(monkeypatch):
    model = nn.MLP([6, 16, 16, 3])
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    params = list(model.parameters())
    base = params[0].data.base
    assert base is not None and all(p.data.base is base for p in params)
    assert base.size == sum(p.numel() for p in params)         # the CPU packs, no gaps
    model(gg.randn(4, 6)).sum().backward()
    gbase = params[0].grad.data.base
    assert all(p.grad.data.base is gbase for p in params)     # autograd wrote into the views
    calls = []
    real = kernels.sgd_update
    monkeypatch.setattr(kernels, "sgd_update", lambda *a, **k: (calls.append(a[0].size),
                                                               real(*a, **k)))
    opt.step()
    assert calls == [base.size]                  # one fused call for the whole model
    opt.zero_grad()
    model[0](gg.randn(2, 6)).sum().backward()    # only the first layer gets gradients
    calls.clear()
    opt.step()
    assert calls == [params[0].numel(), params[1].numel()]   # per-parameter fallback


def test_one_kernel_per_group_and_dtype(monkeypatch):
    a = nn.Linear(3, 3)
    b = nn.Linear(3, 3, dtype="float64")
    opt = optim.Adam([{"params": a.parameters()}, {"params": b.parameters(), "lr": 0.5}])
    calls = []
    real = kernels.adam_update
    monkeypatch.setattr(kernels, "adam_update",
                        lambda *x, **k: (calls.append((x[0].dtype.name, k["lr"])), real(*x, **k)))
    a(gg.ones(1, 3)).sum().backward()
    b(gg.ones(1, 3, dtype="float64")).sum().backward()
    opt.step()
    assert sorted(calls) == [("float32", 0.001), ("float64", 0.5)]


def test_user_assigned_grads_and_rebound_data_are_adopted():
    p = nn.Parameter(gg.ones(3))
    opt = optim.SGD([p], lr=0.5)
    p.grad = gg.tensor([2.0, 2.0, 2.0])           # assigned, not written by autograd
    opt.step()
    np.testing.assert_array_equal(p.numpy(), [0.0, 0.0, 0.0])
    p.data = np.full(3, 4.0, np.float32)          # rebound to a new array of the same kind
    opt.step()
    np.testing.assert_array_equal(p.numpy(), [3.0, 3.0, 3.0])
    assert p.data.base is not None                # back in the flat buffer
    p.data = np.zeros(3, np.float64)
    with pytest.raises(RuntimeError, match="after model.to"):
        opt.step()


def test_step_bumps_version_so_stale_graphs_are_caught():
    p = nn.Parameter(gg.ones(2))
    opt = optim.SGD([p], lr=0.1)
    y = (p * p).sum()
    (p * 2).sum().backward()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_closure_and_zero_grad_modes():
    p = nn.Parameter(gg.tensor([3.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0
    np.testing.assert_allclose(p.numpy(), [2.4], rtol=1e-6)
    opt.zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0]


def test_add_param_group_keeps_state():
    a, b = nn.Parameter(gg.ones(2)), nn.Parameter(gg.ones(3))
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    (a * a).sum().backward()
    opt.step()
    buf = opt.state[a]["momentum_buffer"].copy()
    opt.add_param_group({"params": [b], "lr": 0.01})
    np.testing.assert_array_equal(opt.state[a]["momentum_buffer"], buf)
    assert a.data.base is b.data.base
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a]})


def test_constructor_errors():
    p = nn.Parameter(gg.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="required optimization parameter 'lr'"):
        optim.SGD([p])
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="leaf tensors"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)


# ---------------------------------------------------------------- state dicts
@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                                  lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
                                  lambda ps: optim.AdamW(ps, lr=0.01)],
                         ids=["SGD", "Adam", "AdamW"])
def test_state_dict_round_trip_continues_identically(make, tmp_path):
    X = gg.randn(16, 4)

    def step(model, opt):
        opt.zero_grad()
        model(X).square().mean().backward()
        opt.step()

    gg.manual_seed(0)
    m1 = nn.MLP([4, 8, 2])
    o1 = make(m1.parameters())
    for _ in range(3):
        step(m1, o1)
    gg.save({"model": m1.state_dict(), "opt": o1.state_dict()}, tmp_path / "c.npz")
    for _ in range(3):
        step(m1, o1)
    ck = gg.load(tmp_path / "c.npz")
    m2 = nn.MLP([4, 8, 2])
    o2 = make(m2.parameters())
    m2.load_state_dict(ck["model"])
    o2.load_state_dict(ck["opt"])
    for _ in range(3):
        step(m2, o2)
    for a, b in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_load_state_dict_validates_before_changing_anything():
    m = nn.MLP([3, 4, 2])
    opt = optim.Adam(m.parameters(), lr=0.01)
    m(gg.ones(2, 3)).sum().backward()
    opt.step()
    good = opt.state_dict()
    snapshot = {k: v.numpy().copy() for k, v in good["state"][0].items() if k != "step"}
    bad = {"state": dict(good["state"]), "param_groups": [dict(good["param_groups"][0], lr=9.0)]}
    bad["state"][1] = {"exp_avg": gg.zeros(7), "exp_avg_sq": gg.zeros(4), "step": 1}
    with pytest.raises(nn.StateDictError, match=r"state 'exp_avg' of parameter 1 has shape \(7,\)"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.01
    np.testing.assert_array_equal(opt.state[m[0].weight]["exp_avg"], snapshot["exp_avg"])
    with pytest.raises(nn.StateDictError, match="2 parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": [good["param_groups"][0]] * 2})
    with pytest.raises(nn.StateDictError, match="lacks"):
        opt.load_state_dict({"state": {0: {"step": 1}}, "param_groups": good["param_groups"]})
    with pytest.raises(nn.StateDictError, match="which no parameter group lists"):
        opt.load_state_dict({"state": {9: {}}, "param_groups": good["param_groups"]})
    with pytest.raises(nn.StateDictError, match="expected a dict with 'state'"):
        opt.load_state_dict({"param_groups": []})


def test_state_dict_carries_scheduler_keys_to_a_fresh_optimizer():
    p = nn.Parameter(gg.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = optim.ExponentialLR(opt, 0.5)
    opt.step()
    sched.step()
    fresh = optim.SGD([nn.Parameter(gg.zeros(1))], lr=9.0)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["lr"] == 0.5 and fresh.param_groups[0]["initial_lr"] == 1.0
    resumed = optim.ExponentialLR(fresh, 0.5, last_epoch=1)
    assert resumed.get_last_lr() == [0.5]


def test_state_dict_layout_is_pytorchs():
    m = nn.Linear(2, 2)
    opt = optim.SGD(m.parameters(), lr=0.1, momentum=0.5)
    m(gg.ones(1, 2)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    assert sorted(sd["state"][0]) == ["momentum_buffer"]
    assert sd["param_groups"] == [{"lr": 0.1, "momentum": 0.5, "dampening": 0.0,
                                   "nesterov": False, "weight_decay": 0.0, "maximize": False,
                                   "params": [0, 1]}]
    assert "Parameter Group 0" in repr(opt) and "momentum: 0.5" in repr(opt)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_cuda_alignment_gaps_change_no_update(dtype):
    """On CUDA parameters of odd sizes start on 256-byte boundaries; after SGD (weight decay,
    momentum) and Adam steps each parameter matches an optimizer given that parameter alone
    (float16 Adam's 0 / (0 + eps) in the gaps must not leak into them)."""
    rng = np.random.default_rng(0)
    shapes = [(3,), (5, 7), (1,), (13,)]
    for make in (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                 lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1)):
        vals = [rng.standard_normal(s) for s in shapes]
        together = [nn.Parameter(gg.tensor(v, dtype=dtype, device="cuda")) for v in vals]
        alone = [nn.Parameter(gg.tensor(v, dtype=dtype, device="cuda")) for v in vals]
        opt, opts = make(together), [make([p]) for p in alone]
        flat = opt._flats[0]
        item = np.dtype(dtype).itemsize
        assert all(flat.span(i)[0] * item % 256 == 0 for i in range(len(shapes)))
        for _ in range(3):
            for ps, os_ in ((together, [opt]), (alone, opts)):
                for o in os_:
                    o.zero_grad()
                total = gg.tensor(0.0, dtype=dtype, device="cuda")
                sum(((p * p * (i + 1)).sum() for i, p in enumerate(ps)), total).backward()
                for o in os_:
                    o.step()
        for a, b in zip(together, alone):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
            assert np.isfinite(a.numpy()).all()
