"""State changes are all-or-nothing, and hyper-parameters are checked by one set of rules:
a failed ``step()`` or ``load_state_dict`` leaves parameters, optimizer state and parameter
groups bit-identical; a restore applies exactly the constructor's checks; bools, strings,
NaN and infinity are refused for every optimizer hyper-parameter (schedulers: in
test_optim_schedulers.py); MLP and DataLoader refuse what they cannot use."""
import copy
import math

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim, validate
from gpugrad.data import DataLoader

P = nn.Parameter
OPTIMIZERS = {
    "SGD": lambda ps, **kw: optim.SGD(ps, **{"lr": 0.1, **kw}),
    "SGD-momentum": lambda ps, **kw: optim.SGD(ps, **{"lr": 0.1, "momentum": 0.9,
                                                      "nesterov": True, **kw}),
    "Adam": lambda ps, **kw: optim.Adam(ps, **{"lr": 0.01, **kw}),
    "Adam-amsgrad": lambda ps, **kw: optim.Adam(ps, **{"lr": 0.01, "amsgrad": True, **kw}),
    "AdamW": lambda ps, **kw: optim.AdamW(ps, **{"lr": 0.01, **kw}),
}


# ---------------------------------------------------------------- helpers
def _freeze(v):
    if hasattr(v, "shape"):
        a = v.numpy() if isinstance(v, gg.Tensor) else gg.backend.to_device(v, "cpu")
        return ("array", str(gg.backend.array_device(v.data if isinstance(v, gg.Tensor) else v)),
                a.dtype.str, a.shape, a.tobytes())
    return ("value", type(v).__name__, repr(v))


def snapshot(opt):
    """Everything a failed call must leave alone, as comparable bytes and reprs."""
    params = [_freeze(p.data) for g in opt.param_groups for p in g["params"]]
    groups = [{k: _freeze(v) for k, v in g.items() if k != "params"} for g in opt.param_groups]
    index = {id(p): i for i, p in enumerate(p for g in opt.param_groups for p in g["params"])}
    state = {index[id(p)]: {k: _freeze(v) for k, v in st.items()} for p, st in opt.state.items()}
    return params, groups, state


def two_groups(make, dtypes=("float32", "float32"), one_group=False):
    rng = np.random.default_rng(0)
    a = P(gg.tensor(rng.standard_normal((3, 2)), dtype=dtypes[0]))
    b = P(gg.tensor(rng.standard_normal(4), dtype=dtypes[1]))
    opt = make([a, b]) if one_group else make([{"params": [a]}, {"params": [b], "lr": 0.05}])
    return a, b, opt


def good_step(opt, a, b):
    opt.zero_grad()
    ((a * a).sum() + (b * b * 3).sum()).backward()
    opt.step()


# ---------------------------------------------------------------- step() is all-or-nothing
BAD_GRADS = {
    "shape": (lambda b: gg.ones(5, dtype=b.dtype), RuntimeError, r"parameter 1\b.*shape \(5,\)"),
    "int": (lambda b: gg.tensor(np.ones(4, np.int64)), TypeError, r"parameter 1\b.*int64"),
    "complex": (lambda b: gg.tensor(np.ones(4, np.complex64)), TypeError,
                r"parameter 1\b.*complex64"),
    "bool": (lambda b: gg.tensor(np.ones(4, bool)), TypeError, r"parameter 1\b.*bool"),
    "list": (lambda b: [1.0] * 4, TypeError, r"parameter 1\b.*got list"),
    "ndarray": (lambda b: np.ones(4, np.float32), TypeError, r"parameter 1\b.*got ndarray"),
}


@pytest.mark.parametrize("bad", sorted(BAD_GRADS))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("layout", ["two-groups", "f32+f64-one-group"])
def test_failed_step_changes_nothing_and_the_next_step_is_exact(name, bad, layout):
    make = OPTIMIZERS[name]
    dtypes = ("float32", "float64") if layout == "f32+f64-one-group" else ("float32",) * 2
    one = layout == "f32+f64-one-group"
    a, b, opt = two_groups(make, dtypes, one_group=one)
    ra, rb, ref = two_groups(make, dtypes, one_group=one)
    good_step(opt, a, b)
    good_step(ref, ra, rb)
    opt.zero_grad()
    a.grad = gg.ones(3, 2, dtype=a.dtype)
    make_grad, exc, match = BAD_GRADS[bad]
    object.__setattr__(b, "_grad", make_grad(b))     # past .grad's assignment check
    before = snapshot(opt)
    with pytest.raises(exc, match=match):
        opt.step()
    assert snapshot(opt) == before
    b.grad = None                                   # repaired: the step then matches a
    b.grad = gg.full((4,), 0.5, dtype=b.dtype)      # reference that never failed
    opt.step()
    ref.zero_grad()
    ra.grad, rb.grad = gg.ones(3, 2, dtype=a.dtype), gg.full((4,), 0.5, dtype=b.dtype)
    ref.step()
    assert snapshot(opt) == snapshot(ref)


def test_failed_step_on_a_rebound_parameter_changes_nothing():
    a, b, opt = two_groups(OPTIMIZERS["Adam"])
    good_step(opt, a, b)
    a.grad, b.grad = gg.ones(3, 2), gg.ones(4)
    before = snapshot(opt)
    b.data = np.zeros(7, np.float32)                # rebound to the wrong shape
    with pytest.raises(RuntimeError, match=r"parameter 1\b.*after model.to"):
        opt.step()
    b.data = opt._flats[0].views[1]
    assert snapshot(opt) == before


def test_float_grads_of_another_precision_are_still_taken():
    p = P(gg.ones(3))
    opt = optim.SGD([p], lr=0.5)
    object.__setattr__(p, "_grad", gg.ones(3, dtype="float64"))  # (.grad = refuses it)
    opt.step()
    np.testing.assert_array_equal(p.numpy(), np.full(3, 0.5, np.float32))


@pytest.mark.cuda
def test_cuda_step_refuses_a_host_gradient_and_loads_host_state():
    a, b = P(gg.ones(3, device="cuda")), P(gg.ones(4, device="cuda", dtype="float64"))
    opt = optim.Adam([{"params": [a]}, {"params": [b]}], lr=0.1)
    good_step(opt, a, b)
    opt.zero_grad()
    a.grad = gg.ones(3, device="cuda")
    object.__setattr__(b, "_grad", gg.ones(4, dtype="float64"))         # on the host
    before = snapshot(opt)
    with pytest.raises(RuntimeError, match=r"parameter 1\b.*on cpu.*same device"):
        opt.step()
    assert snapshot(opt) == before
    sd = copy.deepcopy(opt.state_dict())
    sd["state"] = {k: {n: (v.numpy() if isinstance(v, gg.Tensor) else v) for n, v in st.items()}
                   for k, st in sd["state"].items()}                    # host arrays
    fresh = optim.Adam([{"params": [P(gg.ones(3, device="cuda"))]},
                        {"params": [P(gg.ones(4, device="cuda", dtype="float64"))]}], lr=0.5)
    fresh.load_state_dict(sd)
    assert snapshot(fresh)[1:] == snapshot(opt)[1:]
    sd["state"][1]["exp_avg_sq"] = np.full(4, np.nan)
    _assert_load_fails(fresh, sd, match="NaN")


# ---------------------------------------------------------------- load_state_dict
SGD_BAD_GROUPS = [dict(lr=-5), dict(lr="fast"), dict(lr=math.inf), dict(lr=math.nan),
                  dict(lr=True), dict(momentum=-1), dict(momentum=math.inf), dict(momentum=True),
                  dict(dampening=-0.5), dict(weight_decay=math.nan), dict(nesterov="yes"),
                  dict(maximize=1), dict(bogus=1), dict(initial_lr=-1.0),
                  dict(momentum=0.0)]                            # nesterov needs momentum
ADAM_BAD_GROUPS = [dict(betas=[1.5, 2.0]), dict(betas=(0.9,)), dict(betas="ab"),
                   dict(betas=(0.9, math.nan)), dict(eps=-1), dict(eps=math.inf),
                   dict(eps=False), dict(weight_decay=-1e-3), dict(amsgrad=1), dict(lr=None),
                   dict(decoupled_weight_decay="no"), dict(momentum=0.9)]
BAD_ARRAYS = {"str": "abc", "list": [0.0] * 6,
              "object": np.array([object()] * 6, dtype=object).reshape(3, 2),
              "complex": np.ones((3, 2), np.complex128), "int": np.ones((3, 2), np.int64),
              "bool": np.ones((3, 2), bool), "shape": np.ones(6, np.float32),
              "nan": np.array([[1, np.nan], [0, 0], [0, 0]], np.float32),
              "inf": np.array([[1, np.inf], [0, 0], [0, 0]], np.float64),
              "overflow": np.full((3, 2), 1e300)}                 # finite, not as float32


def _trained(name):
    a, b, opt = two_groups(OPTIMIZERS[name])
    good_step(opt, a, b)
    good_step(opt, a, b)
    return opt


def _assert_load_fails(opt, sd, match=None):
    before = snapshot(opt)
    with pytest.raises(nn.StateDictError, match=match):
        opt.check_state_dict(sd)
    with pytest.raises(nn.StateDictError, match=match):
        opt.load_state_dict(sd)
    assert snapshot(opt) == before


@pytest.mark.parametrize("name,bad", [("SGD-momentum", g) for g in SGD_BAD_GROUPS]
                         + [(n, g) for n in ("Adam", "AdamW") for g in ADAM_BAD_GROUPS],
                         ids=lambda v: v if isinstance(v, str) else repr(v))
def test_load_refuses_bad_hyper_parameters_and_changes_nothing(name, bad):
    opt = _trained(name)
    sd = copy.deepcopy(opt.state_dict())
    sd["param_groups"][0]["lr"] = 0.5                       # a good change in group 0 ...
    sd["param_groups"][1].update(bad)                       # ... and a bad one in group 1
    _assert_load_fails(opt, sd, match=rf"parameter group 1\b.*{next(iter(bad))}")


@pytest.mark.parametrize("kind", sorted(BAD_ARRAYS))
@pytest.mark.parametrize("name", ["SGD-momentum", "Adam", "AdamW"])
def test_load_refuses_bad_state_arrays_and_changes_nothing(name, kind):
    opt = _trained(name)
    sd = copy.deepcopy(opt.state_dict())
    sd["param_groups"][0]["lr"] = 0.5
    key = "momentum_buffer" if name.startswith("SGD") else "exp_avg"
    sd["state"][0][key] = BAD_ARRAYS[kind]
    _assert_load_fails(opt, sd, match=f"state '{key}' of parameter 0")


@pytest.mark.parametrize("step", [-1, 1.5, "3", True, None, np.array([1, 2])])
def test_load_refuses_bad_adam_steps(step):
    opt = _trained("Adam")
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][1]["step"] = step
    _assert_load_fails(opt, sd, match="step of parameter 1|non-negative|step")


def test_load_refuses_unknown_state_and_repeated_ids():
    opt = _trained("SGD-momentum")
    sd = copy.deepcopy(opt.state_dict())
    sd["state"][0]["velocity"] = np.zeros((3, 2), np.float32)
    _assert_load_fails(opt, sd, match="unknown state 'velocity'")
    sd = copy.deepcopy(opt.state_dict())
    sd["param_groups"][1]["params"] = [0]
    _assert_load_fails(opt, sd, match="more than once")


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_good_load_still_round_trips_exactly(name):
    src = _trained(name)
    a, b, dst = two_groups(OPTIMIZERS[name])
    dst.load_state_dict(copy.deepcopy(src.state_dict()))
    assert snapshot(dst)[1:] == snapshot(src)[1:]


# ---------------------------------------------------------------- constructor == restore
CANDIDATES = {"lr": [0.1, 0, -1, math.inf, math.nan, True, "0.1", None, np.float32(0.2)],
              "momentum": [0.5, 0, -1, math.inf, True, np.bool_(False)],
              "dampening": [0.1, -0.1, math.nan], "weight_decay": [0.0, -1, math.inf, False],
              "nesterov": [False, 1, "no"], "maximize": [True, 0],
              "betas": [(0.8, 0.9), [0.8, 0.9], (1.0, 0.9), (0.9,), (0.9, -0.1), "ab"],
              "eps": [1e-6, 0, -1e-8, math.inf], "amsgrad": [True, 1]}


def _cases():
    for name in ("SGD", "Adam"):
        for key, values in CANDIDATES.items():
            if key in getattr(optim, name)._hyper:
                for v in values:
                    yield name, key, v


@pytest.mark.parametrize("name,key,value", list(_cases()), ids=repr)
def test_restore_applies_exactly_the_constructor_checks(name, key, value):
    cls = getattr(optim, name)

    def build():
        return cls([{"params": [P(gg.ones(2))], key: value}], lr=0.1)

    try:
        build()
        ctor_error = None
    except (TypeError, ValueError) as exc:
        ctor_error = exc
    opt = cls([P(gg.ones(2))], lr=0.1)
    sd = copy.deepcopy(opt.state_dict())
    sd["param_groups"][0][key] = value
    if ctor_error is None:
        opt.load_state_dict(sd)
        assert opt.param_groups[0][key] == (tuple(value) if key == "betas" else value)
    else:
        before = snapshot(opt)
        with pytest.raises(nn.StateDictError) as info:
            opt.load_state_dict(sd)
        assert str(ctor_error).split(": ", 1)[1] in str(info.value)      # the same message
        assert snapshot(opt) == before


# ---------------------------------------------------------------- hyper-parameters
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_bools_are_not_numbers_and_non_finite_values_are_refused(name):
    make = OPTIMIZERS[name]
    numeric = [k for k, c in type(make([P(gg.ones(1))]))._hyper.items()
               if k not in ("betas", "initial_lr") and c is not validate.boolean]
    assert "lr" in numeric and "weight_decay" in numeric
    for k in numeric:
        with pytest.raises(TypeError, match=k):
            make([P(gg.ones(1))], **{k: True})
        for v in (math.inf, -math.inf, math.nan):
            with pytest.raises(ValueError, match=k):
                make([P(gg.ones(1))], **{k: v})
            with pytest.raises(ValueError, match=k):              # per-group values too
                make([{"params": [P(gg.ones(1))], k: v}])


def test_empty_and_bad_groups_are_refused_and_add_param_group_changes_nothing():
    with pytest.raises(ValueError, match="no parameters"):
        optim.SGD([{"params": []}], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="^SGD: expected lr"):       # defaults are checked
        optim.SGD([{"params": [P(gg.ones(1))], "lr": 0.1}], lr=math.inf)   # even if unused
    a, b, opt = two_groups(OPTIMIZERS["SGD"])
    before = snapshot(opt)
    for group, exc in [({"params": []}, ValueError),
                       ({"params": [P(gg.ones(1))], "lr": math.inf}, ValueError),
                       ({"params": [P(gg.ones(1))], "momentum": True}, TypeError),
                       ({"params": [P(gg.ones(1))], "momentun": 0.9}, ValueError)]:
        with pytest.raises(exc):
            opt.add_param_group(group)
        assert snapshot(opt) == before and len(opt.param_groups) == 2


# ---------------------------------------------------------------- MLP and DataLoader inputs
@pytest.mark.parametrize("kw", [dict(activation="bogus"), dict(output_activation="bogus"),
                                dict(activation=3)])
def test_mlp_checks_activation_names_even_without_hidden_layers(kw):
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([4, 2], **kw)
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([4, 3, 2], **kw)


@pytest.mark.parametrize("features,labels,which", [
    (np.array(["a", "b"]), None, "features"),
    (np.array([object(), 1], dtype=object), None, "features"),
    (["1.0", "x"], None, "features"),
    (np.ones((2, 1)), np.array(["cat", "dog"]), "labels"),
    (np.ones((2, 1)), np.array(["2020-01-01", "2020-01-02"], "datetime64[D]"), "labels")])
def test_dataloader_refuses_non_numeric_arrays(features, labels, which):
    with pytest.raises(TypeError, match=f"DataLoader: expected {which}"):
        DataLoader(features, labels)


# ---------------------------------------------------------------- the shared checks
def test_validate_rules():
    assert validate.check_real(np.float32(0.5), "x", low=0, high=1) == np.float32(0.5)
    assert validate.check_int(np.int64(3), "n", low=1) == 3
    for bad, exc in [(True, TypeError), (np.bool_(True), TypeError), ("1", TypeError),
                     (None, TypeError), (math.nan, ValueError), (-math.inf, ValueError),
                     (-1, ValueError)]:
        with pytest.raises(exc, match="expected x"):
            validate.check_real(bad, "x", low=0)
    with pytest.raises(ValueError, match="> 0"):
        validate.check_real(0, "x", low=0, low_open=True)
    with pytest.raises(TypeError, match="an integer"):
        validate.check_int(2.0, "n")
    with pytest.raises(TypeError, match="a bool"):
        validate.check_bool(1, "flag")
    with pytest.raises(ValueError, match="one of"):
        validate.check_choice([1], "act", ("relu",))
    with pytest.raises(ValueError, match="unknown act"):
        validate.check_choice("gelu", "act", ("relu",))


def test_unknown_top_level_keys_are_refused_and_change_nothing():
    p = gg.nn.Parameter(gg.ones(2))
    opt = gg.optim.SGD([p], lr=0.1, momentum=0.9)
    (p * 1).sum().backward()
    opt.step()
    sd = opt.state_dict()
    sd["extra"] = 1
    before = opt.state_dict()
    with pytest.raises(gg.nn.StateDictError, match="unknown key.*extra"):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert np.array_equal(after["state"][0]["momentum_buffer"], before["state"][0]["momentum_buffer"])
