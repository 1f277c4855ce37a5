"""Learning-rate schedulers: the same lr sequence as PyTorch's (where installed) and exact
closed forms otherwise; chaining; state dicts; arguments and restores checked alike (a failed
load changes nothing)."""
import copy
import math
import warnings

import pytest

import gpugrad as gg
from gpugrad import nn, optim

try:
    import torch
except ImportError:  # pragma: no cover - torch is an optional reference
    torch = None


def make_opts(lrs=(0.1, 0.02)):
    ps = [nn.Parameter(gg.zeros(1)) for _ in lrs]
    ours = optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(ps, lrs)], lr=lrs[0])
    if torch is None:
        return ours, None
    tps = [torch.zeros(1, requires_grad=True) for _ in lrs]
    theirs = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(tps, lrs)], lr=lrs[0])
    return ours, theirs


def run(sched, opt, steps):
    lrs = [list(sched.get_last_lr())]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(list(sched.get_last_lr()))
    return lrs


SINGLE = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
    ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=4)),
]


@pytest.mark.torch
@pytest.mark.parametrize("name,kw", SINGLE, ids=[s[0] for s in SINGLE])
def test_single_schedulers_match_torch(name, kw):
    if torch is None:
        pytest.skip("PyTorch is not installed")
    ours, theirs = make_opts()
    a = run(getattr(optim, name)(ours, **kw), ours, 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = run(getattr(torch.optim.lr_scheduler, name)(theirs, **kw), theirs, 20)
    for x, y in zip(a, b):
        assert x == pytest.approx(y, rel=1e-12, abs=1e-15)
    assert [g["lr"] for g in ours.param_groups] == a[-1]


@pytest.mark.torch
def test_sequential_and_chained_match_torch():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    results = []
    for lib, opt in zip(("ours", "torch"), make_opts()):
        S = optim if lib == "ours" else torch.optim.lr_scheduler
        warm = S.LinearLR(opt, start_factor=0.1, total_iters=3)
        seq = S.SequentialLR(opt, [warm, S.CosineAnnealingLR(opt, T_max=6)], milestones=[3])
        first = run(seq, opt, 12)
        opt2 = make_opts()[0 if lib == "ours" else 1]
        chained = S.ChainedScheduler([S.ExponentialLR(opt2, 0.9), S.StepLR(opt2, 2, 0.5)])
        results.append((first, run(chained, opt2, 8)))
    for ours, theirs in zip(*results):
        for x, y in zip(ours, theirs):
            assert x == pytest.approx(y, rel=1e-12)


def test_closed_forms_and_known_values():
    opt, _ = make_opts((1.0,))
    cos = optim.CosineAnnealingLR(opt, T_max=4)
    lrs = [lr[0] for lr in run(cos, opt, 4)]
    assert lrs == pytest.approx([(1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)])
    cos.step(2)                                        # jump with the closed form
    assert cos.get_last_lr() == pytest.approx([0.5])
    opt, _ = make_opts((1.0,))
    step = optim.StepLR(opt, step_size=2, gamma=0.1)
    step.step(5)
    assert step.get_last_lr() == pytest.approx([0.01])


def test_state_dict_round_trip_and_mismatch():
    opt, _ = make_opts()
    a = optim.SequentialLR(opt, [optim.LinearLR(opt, 0.5, total_iters=2),
                                 optim.CosineAnnealingLR(opt, T_max=5)], [2])
    run(a, opt, 3)
    sd = a.state_dict()
    opt2, _ = make_opts()
    b = optim.SequentialLR(opt2, [optim.LinearLR(opt2, 0.5, total_iters=2),
                                  optim.CosineAnnealingLR(opt2, T_max=5)], [2])
    opt2.load_state_dict(opt.state_dict())
    b.load_state_dict(sd)
    assert run(a, opt, 4) == run(b, opt2, 4)
    with pytest.raises(nn.StateDictError, match="another scheduler"):
        optim.StepLR(make_opts()[0], 2).load_state_dict(optim.ExponentialLR(
            make_opts()[0], 0.5).state_dict())
    with pytest.raises(nn.StateDictError, match="expected 2 scheduler states"):
        b.load_state_dict(dict(sd, _schedulers=[sd["_schedulers"][0]]))


def test_scheduler_state_survives_a_checkpoint(tmp_path):
    opt, _ = make_opts()
    s = optim.MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    run(s, opt, 2)
    gg.save({"s": s.state_dict(), "o": opt.state_dict()}, tmp_path / "s.npz")
    ck = gg.load(tmp_path / "s.npz")
    opt2, _ = make_opts()
    s2 = optim.MultiStepLR(opt2, milestones=[1, 3], gamma=0.5)
    opt2.load_state_dict(ck["o"])
    s2.load_state_dict(ck["s"])
    assert run(s, opt, 3) == run(s2, opt2, 3)


JSON_CASES = {
    "step": lambda o: optim.StepLR(o, 2, 0.5),
    "multistep": lambda o: optim.MultiStepLR(o, milestones=[1, 3, 3], gamma=0.5),
    "exponential": lambda o: optim.ExponentialLR(o, 0.9),
    "cosine": lambda o: optim.CosineAnnealingLR(o, T_max=4),
    "linear": lambda o: optim.LinearLR(o, 0.25, total_iters=3),
    "chained": lambda o: optim.ChainedScheduler([optim.MultiStepLR(o, [2, 4]),
                                                 optim.ExponentialLR(o, 0.9)]),
    "sequential": lambda o: optim.SequentialLR(o, [optim.LinearLR(o, 0.5, total_iters=2),
                                                   optim.MultiStepLR(o, [1, 2], 0.5)], [2]),
}


@pytest.mark.parametrize("name", list(JSON_CASES))
def test_scheduler_state_survives_json(name):
    """state_dict() is documented JSON-friendly: through json (int keys become strings) it
    loads back and the lr sequence goes on as without the interruption."""
    import json

    opt, _ = make_opts()
    s = JSON_CASES[name](opt)
    run(s, opt, 2)
    sd = json.loads(json.dumps(s.state_dict()))
    opt2, _ = make_opts()
    s2 = JSON_CASES[name](opt2)
    opt2.load_state_dict(opt.state_dict())
    s2.load_state_dict(sd)
    assert run(s, opt, 5) == run(s2, opt2, 5)


def test_argument_errors():
    opt, _ = make_opts()
    with pytest.raises(TypeError, match="expected a gpugrad Optimizer"):
        optim.StepLR(object(), 2)
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(opt, 0)
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="start_factor"):
        optim.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="milestones"):
        optim.SequentialLR(opt, [optim.ExponentialLR(opt, 0.9)], milestones=[1])
    with pytest.raises(ValueError, match="another optimizer"):
        optim.ChainedScheduler([optim.ExponentialLR(opt, 0.9),
                                optim.ExponentialLR(make_opts()[0], 0.9)])
    with pytest.raises(KeyError, match="initial_lr"):
        optim.StepLR(make_opts()[0], 2, last_epoch=3)


# ---------------------------------------------------------------- checked arguments and restores
def _opt():
    return optim.SGD([{"params": [nn.Parameter(gg.zeros(1))]}, {"params": [nn.Parameter(gg.zeros(1))], "lr": 0.02}],
                     lr=0.1)


SCHEDULERS = {
    "StepLR": (lambda o, **kw: optim.StepLR(o, **{"step_size": 2, **kw}),
               {"step_size": [0, 2.0, True], "gamma": [0, -0.5, math.nan, math.inf, "x"]}),
    "MultiStepLR": (lambda o, **kw: optim.MultiStepLR(o, **{"milestones": [2, 4], **kw}),
                    {"milestones": [[-1], [1.5], "12", [True]], "gamma": [-1, math.nan]}),
    "ExponentialLR": (lambda o, **kw: optim.ExponentialLR(o, **{"gamma": 0.9, **kw}),
                      {"gamma": [0, math.inf, True]}),
    "CosineAnnealingLR": (lambda o, **kw: optim.CosineAnnealingLR(o, **{"T_max": 5, **kw}),
                          {"T_max": [0, 2.5, False], "eta_min": [-1, math.nan]}),
    "LinearLR": (lambda o, **kw: optim.LinearLR(o, **kw),
                 {"start_factor": [0, 1.5, True, math.nan], "end_factor": [-0.1, 2, math.inf],
                  "total_iters": [0, 3.0]}),
}


def _sched_cases():
    for name, (_, bad) in SCHEDULERS.items():
        for key, values in bad.items():
            for v in values:
                yield name, key, v
        for v in ("x", -2, 1.5, True):
            yield name, "last_epoch", v


@pytest.mark.parametrize("name,key,value", list(_sched_cases()), ids=repr)
def test_scheduler_constructor_and_restore_refuse_the_same_values(name, key, value):
    make = SCHEDULERS[name][0]
    with pytest.raises((TypeError, ValueError), match=key):
        make(_opt(), **{key: value})
    opt = _opt()
    s = make(opt)
    opt.step()
    s.step()
    sd = copy.deepcopy(s.state_dict())
    if key == "milestones":
        value = dict.fromkeys(value, 1) if isinstance(value, list) else value
    sd[key] = value
    before = copy.deepcopy(s.state_dict())
    with pytest.raises(nn.StateDictError, match=key):
        s.load_state_dict(sd)
    assert s.state_dict() == before


@pytest.mark.parametrize("key,value", [("base_lrs", [-1.0, 0.1]), ("base_lrs", [0.1]),
                                       ("base_lrs", 0.1), ("_last_lr", [0.1, math.nan]),
                                       ("_step_count", -1), ("_is_initial", "no"),
                                       ("last_epoch", "x")])
def test_scheduler_restore_checks_the_stepping_state(key, value):
    opt = _opt()
    s = optim.CosineAnnealingLR(opt, T_max=4)
    sd = copy.deepcopy(s.state_dict())
    sd[key] = value
    before = copy.deepcopy(s.state_dict())
    with pytest.raises(nn.StateDictError, match=key):
        s.load_state_dict(sd)
    assert s.state_dict() == before


@pytest.mark.parametrize("kind", ["ChainedScheduler", "SequentialLR"])
def test_composite_restore_checks_every_member_first(kind):
    def build():
        opt = _opt()
        a, b = optim.LinearLR(opt, start_factor=0.5, total_iters=2), optim.StepLR(opt, 1, 0.5)
        s = (optim.ChainedScheduler([a, b]) if kind == "ChainedScheduler"
             else optim.SequentialLR(opt, [a, b], milestones=[2]))
        for _ in range(3):
            opt.step()
            s.step()
        return s

    s = build()
    good = copy.deepcopy(s.state_dict())
    fresh = build()
    fresh.load_state_dict(copy.deepcopy(good))
    assert fresh.state_dict() == good
    bad = copy.deepcopy(good)
    bad["_last_lr"] = [0.3, 0.2]                     # fine, but member 1 is not:
    bad["_schedulers"][0]["last_epoch"] = 7
    bad["_schedulers"][1]["gamma"] = -1.0
    with pytest.raises(nn.StateDictError, match="gamma"):
        s.load_state_dict(bad)
    assert s.state_dict() == good
    if kind == "SequentialLR":
        for ms in ([-1], [1.5], [2, 3]):
            bad = copy.deepcopy(good)
            bad["_milestones"] = ms
            with pytest.raises(nn.StateDictError, match="milestones"):
                s.load_state_dict(bad)
            assert s.state_dict() == good
        with pytest.raises(ValueError, match="increasing"):
            opt = _opt()
            optim.SequentialLR(opt, [optim.StepLR(opt, 1), optim.StepLR(opt, 1),
                                     optim.StepLR(opt, 1)], milestones=[3, 2])
