"""gpugrad.nn.Module, Parameter and the containers: registration, traversal, modes, devices
and dtypes, state dicts (with their error reports), repr."""
import copy

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4, activation="relu")
        self.head = nn.Linear(4, 2)
        self.scale = nn.Parameter(gg.ones(2))
        self.register_buffer("count", gg.zeros(1))
        self.register_buffer("scratch", gg.zeros(2), persistent=False)

    def forward(self, x):
        return self.head(self.fc(x)) * self.scale


def test_registration_and_traversal():
    m = Block()
    assert [n for n, _ in m.named_parameters()] == ["scale", "fc.weight", "fc.bias",
                                                     "head.weight", "head.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "fc", "head"]
    assert [n for n, _ in m.named_children()] == ["fc", "head"]
    assert [n for n, _ in m.named_buffers()] == ["count", "scratch"]
    assert m.num_parameters() == 2 + 3 * 4 + 4 + 4 * 2 + 2
    assert list(m.state_dict()) == ["scale", "count", "fc.weight", "fc.bias", "head.weight",
                                    "head.bias"]


def test_shared_parameter_is_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2


def test_reassigning_attributes():
    m = Block()
    m.head = nn.Identity()
    assert "head.weight" not in dict(m.named_parameters())
    m.fc.bias = None                       # a declared parameter may become None
    assert "fc.bias" not in m.state_dict()
    with pytest.raises(TypeError, match="expected a Parameter or None"):
        m.scale = gg.ones(2)
    m.plain = 3
    assert m.plain == 3
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing


def test_setattr_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(gg.ones(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_train_eval_propagate():
    m = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert m.eval() is m and not m.training and not m[1].training
    m.train()
    assert m[1].training


def test_zero_grad_both_modes():
    m = nn.Linear(3, 2)
    m(gg.ones(4, 3)).sum().backward()
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is not None and not m.weight.grad.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_call_runs_forward():
    m = Block()
    assert m(gg.ones(5, 3)).shape == (5, 2)


def test_to_dtype_keeps_parameter_objects():
    m = Block()
    w = m.fc.weight
    m.to(dtype="float64")
    assert m.fc.weight is w and w.dtype == np.float64 and m.count.dtype == np.float64
    assert m(gg.ones(2, 3, dtype="float64")).dtype == np.float64
    with pytest.raises(TypeError, match="floating dtype"):
        m.to("int64")


def test_state_dict_round_trip_and_sharing():
    a, b = Block(), Block()
    sd = a.state_dict()
    assert sd["fc.weight"].data is a.fc.weight.data          # shares memory, detached
    assert not sd["fc.weight"].requires_grad
    assert b.load_state_dict(sd) == ([], [])
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(pa.numpy(), pb.numpy())
    # loading copies in place: the parameter objects and arrays stay the same
    w = b.fc.weight.data
    b.load_state_dict({k: v.numpy() * 2 for k, v in sd.items()})
    assert b.fc.weight.data is w
    np.testing.assert_array_equal(w, a.fc.weight.numpy() * 2)


def test_load_state_dict_reports_everything_and_changes_nothing():
    m = Block()
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    bad = {k: v.numpy() + 1 for k, v in m.state_dict().items()}
    del bad["head.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["fc.weight"] = np.zeros((4, 3), np.float32)
    with pytest.raises(nn.StateDictError) as err:
        m.load_state_dict(bad)
    msg = str(err.value)
    assert "missing keys ['head.bias']" in msg
    assert "unexpected keys ['extra.weight']" in msg
    assert "shape mismatch for 'fc.weight': the model has (3, 4), the state dict has (4, 3)" in msg
    assert "\n" not in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_load_state_dict_non_strict():
    m = Block()
    sd = {k: v for k, v in m.state_dict().items() if k != "scale"}
    sd["other"] = gg.zeros(1)
    assert m.load_state_dict(sd, strict=False) == (["scale"], ["other"])
    with pytest.raises(nn.StateDictError, match="shape mismatch"):
        m.load_state_dict({"scale": gg.zeros(3)}, strict=False)
    with pytest.raises(nn.StateDictError, match="expected a state dict"):
        m.load_state_dict([1, 2])


def test_repr_tree():
    m = nn.Sequential(nn.Linear(2, 3, activation="gelu"), nn.Dropout(0.25),
                      nn.Sequential(nn.LeakyReLU(0.2)))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True, activation='gelu')\n"
        "  (1): Dropout(p=0.25)\n"
        "  (2): Sequential(\n"
        "    (0): LeakyReLU(negative_slope=0.2)\n"
        "  )\n"
        ")")


def test_sequential_and_module_list():
    seq = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    with pytest.raises(IndexError, match="out of range"):
        seq[7]
    with pytest.raises(TypeError, match="expected a Module"):
        nn.Sequential(nn.ReLU(), 3)
    ml = nn.ModuleList([nn.Linear(2, 2)]).extend([nn.Linear(2, 2)])
    ml[0] = nn.Linear(2, 5)
    assert len(list(ml.parameters())) == 4 and ml[0].out_features == 5
    with pytest.raises(NotImplementedError):
        ml(gg.ones(1))


def test_apply_and_children():
    m = nn.MLP([2, 3, 1])
    m.apply(lambda mod: isinstance(mod, nn.Linear) and nn.init.zeros_(mod.weight))
    assert all(not layer.weight.numpy().any() for layer in m.children())


def test_parameter_basics_and_deepcopy():
    p = nn.Parameter(gg.tensor([1.0, 2.0]))
    assert p.requires_grad and p.is_leaf and repr(p).startswith("Parameter containing:")
    (p * p).sum().backward()
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.data is not p.data
    np.testing.assert_array_equal(q.grad.numpy(), [2.0, 4.0])
    frozen = nn.Parameter(gg.ones(1), requires_grad=False)
    assert not frozen.requires_grad


def test_parameter_gradient_goes_into_assigned_view():
    p = nn.Parameter(gg.zeros(3))
    buf = np.full(5, 7.0, np.float32)
    p._grad_view = buf[1:4]
    (p * 2).sum().backward()
    assert p.grad.data is p._grad_view
    (p * 3).sum().backward()                     # accumulates in place
    np.testing.assert_array_equal(buf, [7, 5, 5, 5, 7])


def test_module_deepcopy_is_independent():
    m = nn.MLP([3, 4, 2])
    c = copy.deepcopy(m)
    c[0].weight.data[...] = 0
    assert m[0].weight.numpy().any()
