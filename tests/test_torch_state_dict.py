"""to_torch_state_dict / from_torch_state_dict: gpugrad's (in, out) Linear weights in
PyTorch's (out, in) layout, keys renumbered for a torch.nn.Sequential that spells fused
activations as modules; checked by loading into real torch.nn.Sequential models."""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn
from gpugrad.nn import StateDictError, from_torch_state_dict, to_torch_state_dict


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def torch_activation(torch, name):
    tnn = torch.nn
    return {"relu": tnn.ReLU(), "leaky_relu": tnn.LeakyReLU(0.01), "gelu": tnn.GELU(),
            "gelu_tanh": tnn.GELU(approximate="tanh"), "sigmoid": tnn.Sigmoid(),
            "tanh": tnn.Tanh(), "silu": tnn.SiLU(), "softplus": tnn.Softplus()}.get(name)


def torch_mlp(torch, sizes, act, dropout=0.0):
    """torch.nn.Sequential(Linear, act, [Dropout], Linear, ...), as users write it."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2:
            if torch_activation(torch, act) is not None:
                layers.append(torch_activation(torch, act))
            if dropout:
                layers.append(torch.nn.Dropout(dropout))
    return torch.nn.Sequential(*layers).eval()


def x_data(n=7, f=5, seed=0):
    return np.random.default_rng(seed).standard_normal((n, f)) * 2


@pytest.mark.torch
@pytest.mark.parametrize("act", nn.ACTIVATION_NAMES)
def test_gpugrad_mlp_loads_into_torch_sequential(torch, act):
    gg.manual_seed(0)
    sizes = [5, 8, 6, 3]
    model = nn.MLP(sizes, activation=act, dtype="float64").eval()
    tmodel = torch_mlp(torch, sizes, act)
    result = tmodel.load_state_dict(to_torch_state_dict(model))
    assert not result.missing_keys and not result.unexpected_keys
    x = x_data()
    with torch.no_grad():
        expected = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(gg.tensor(x)).numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("act", ["relu", "softplus"])
def test_torch_sequential_loads_into_gpugrad_mlp(torch, act):
    torch.manual_seed(0)
    sizes = [5, 8, 8, 2]
    tmodel = torch_mlp(torch, sizes, act, dropout=0.3)
    model = nn.MLP(sizes, activation=act, dropout=0.3, dtype="float64").eval()
    for source in (tmodel.state_dict(), tmodel):               # a state dict or the module
        model.load_state_dict(from_torch_state_dict(source, model))
        x = x_data(seed=1)
        with torch.no_grad():
            expected = tmodel(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(model(gg.tensor(x)).numpy(), expected, rtol=1e-12,
                                   atol=1e-12)
        model = nn.MLP(sizes, activation=act, dropout=0.3, dtype="float64").eval()


@pytest.mark.torch
def test_round_trip_and_layout(torch):
    gg.manual_seed(3)
    model = nn.MLP([4, 6, 2], dropout=0.5)              # float32 kept as float32
    sd = to_torch_state_dict(model)
    assert list(sd) == ["0.weight", "0.bias", "3.weight", "3.bias"]   # Linear, ReLU, Dropout
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float32 for v in sd.values())
    assert tuple(sd["0.weight"].shape) == (6, 4)
    np.testing.assert_array_equal(sd["0.weight"].numpy(), model[0].weight.numpy().T)
    sd["0.weight"][0, 0] = 123.0                         # a copy, not a view of the model
    assert model[0].weight.numpy()[0, 0] != 123.0
    back = from_torch_state_dict(to_torch_state_dict(model), model)
    assert list(back) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back[k], v.numpy())


def test_state_dict_without_model_keeps_keys():
    """No PyTorch needed with numpy=True; a bare state dict keeps its keys."""
    layer = nn.Linear(3, 2)
    sd = to_torch_state_dict({"fc.weight": layer.weight, "fc.bias": layer.bias}, numpy=True)
    assert sd["fc.weight"].shape == (2, 3) and sd["fc.bias"].shape == (2,)
    back = from_torch_state_dict(sd)
    np.testing.assert_array_equal(back["fc.weight"], layer.weight.numpy())
    named = nn.Sequential(__import__("collections").OrderedDict(
        fc=nn.Linear(3, 4, activation="relu"), out=nn.Linear(4, 1)))
    assert list(to_torch_state_dict(named, numpy=True)) == ["fc.weight", "fc.bias",
                                                            "out.weight", "out.bias"]


@pytest.mark.torch
def test_mismatched_torch_model_is_a_clear_error(torch):
    model = nn.MLP([5, 8, 3])
    fused_keys = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Linear(8, 3))
    with pytest.raises(StateDictError, match=r"missing keys \['2.weight', '2.bias'\]; "
                                             r"unexpected keys \['1.weight', '1.bias'\]"):
        from_torch_state_dict(fused_keys.state_dict(), model)
    wrong = torch.nn.Sequential(torch.nn.Linear(5, 9), torch.nn.ReLU(), torch.nn.Linear(9, 3))
    with pytest.raises(StateDictError, match="shape mismatch for '0.weight'"):
        from_torch_state_dict(wrong.state_dict(), model)


def test_bad_input_types():
    with pytest.raises(TypeError, match="expected a gpugrad Module or a state dict"):
        to_torch_state_dict([1, 2])
    with pytest.raises(StateDictError, match="expected tensors or arrays"):
        to_torch_state_dict({"weight": "x"}, numpy=True)
    with pytest.raises(StateDictError, match="expected a state dict"):
        from_torch_state_dict(3)


@pytest.mark.torch
@pytest.mark.parametrize("tie", ["module", "parameter"])
def test_shared_modules_and_tied_weights_list_every_key(torch, tie):
    """A Linear reused in a Sequential (or a weight tied between two) has one PyTorch key per
    place, as PyTorch lists them; coming back, the copies must agree."""
    tnn = torch.nn
    if tie == "module":
        lin = nn.Linear(4, 4, dtype="float64")
        model = nn.Sequential(lin, nn.ReLU(), lin)
        tl = tnn.Linear(4, 4, dtype=torch.float64)
        tmodel = tnn.Sequential(tl, tnn.ReLU(), tl)
    else:
        model = nn.Sequential(nn.Linear(4, 4, dtype="float64"), nn.ReLU(),
                              nn.Linear(4, 4, dtype="float64"))
        model[2].weight = model[0].weight
        tmodel = tnn.Sequential(tnn.Linear(4, 4, dtype=torch.float64), tnn.ReLU(),
                                tnn.Linear(4, 4, dtype=torch.float64))
        tmodel[2].weight = tmodel[0].weight
    sd = to_torch_state_dict(model)
    assert list(sd) == list(tmodel.state_dict()) == ["0.weight", "0.bias", "2.weight",
                                                     "2.bias"]
    tmodel.load_state_dict(sd, strict=True)
    x = x_data(f=4)
    with torch.no_grad():
        want = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(gg.tensor(x)).numpy(), want, rtol=1e-12, atol=1e-12)

    fresh = nn.Linear(4, 4, dtype="float64")
    back = nn.Sequential(fresh, nn.ReLU(), fresh) if tie == "module" else \
        nn.Sequential(nn.Linear(4, 4, dtype="float64"), nn.ReLU(),
                      nn.Linear(4, 4, dtype="float64"))
    if tie == "parameter":
        back[2].weight = back[0].weight
    back.load_state_dict(from_torch_state_dict(tmodel.state_dict(), back))
    np.testing.assert_allclose(back(gg.tensor(x)).numpy(), want, rtol=1e-12, atol=1e-12)
    differing = {k: v.clone() for k, v in tmodel.state_dict().items()}
    differing["2.weight"] += 1.0
    with pytest.raises(StateDictError, match=r"'0.weight' and '2.weight' are one shared "
                                             r"tensor .* hold different values"):
        from_torch_state_dict(differing, back)
