"""The 16-bit copies of weights that the fused optimizer step writes under autocast (opt-in:
``autocast_state.fused_copies``): bit for bit the casts NumPy and ml_dtypes make (NaN, inf,
subnormals, ties), and training through them bit-identical to casting each weight on first
use in each region; any other gpugrad write to a weight makes its copy stale; a copy an old
graph still reads is never overwritten."""
from __future__ import annotations

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import autocast_state, kernels
from gpugrad.kernels import cpu as kernels_cpu

ml_dtypes = pytest.importorskip("ml_dtypes")
numba = pytest.importorskip("numba")

DTYPES = ["bfloat16", "float16"]


@pytest.fixture(autouse=True)
def _fused_copies_on(monkeypatch):
    monkeypatch.setattr(autocast_state, "fused_copies", True)
SPECIAL = np.array([0x00000000, 0x80000000, 0x00000001, 0x807FFFFF, 0x00400000,   # zeros, subnormals
                    0x3F808000, 0x3F818000, 0x3F800FFF, 0x3F801000, 0x3F803000,   # ties, near ties
                    0x7F7FFFFF, 0xFF7FFFFF, 0x477FF000, 0x477FEFFF, 0x387FC000,   # overflow edges
                    0x33000000, 0x33000001, 0x32FFFFFF, 0x38800000, 0x387FFFFF,   # float16 subnormals
                    0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00001, 0x7F800001,   # inf, NaN
                    0x7FA00000, 0x7F802000, 0xFFFFFFFF], np.uint32)


def _bits(a):
    return np.asarray(a).view(np.uint16 if np.asarray(a).dtype.itemsize == 2 else np.uint32)


def _patterns(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([SPECIAL, rng.integers(0, 2 ** 32, n, dtype=np.uint64)
                           .astype(np.uint32)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_rounding_helpers_match_numpy_and_ml_dtypes(dtype):
    """The Numba helpers on raw patterns, signalling NaNs with payloads included."""
    from gpugrad.kernels.half_bits import bf16_bits, f16_bits

    helper = f16_bits if dtype == "float16" else bf16_bits

    @numba.njit
    def convert(a, out):
        for i in range(a.size):
            out[i] = helper(a[i])

    x = _patterns(1 << 20).view(np.float32)
    got = np.empty(x.size, np.uint16)
    convert(x, got)
    with np.errstate(all="ignore"):
        want = _bits(x.astype(np.dtype(dtype)))
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [hex(v) for v in x.view(np.uint32)[bad[:5]]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("update", ["sgd", "adam"])
@pytest.mark.parametrize("size", [4099, 2 * kernels_cpu._CHUNK + 5])   # one chunk / threaded
def test_the_fused_step_writes_the_cast_of_each_new_weight(dtype, update, size):
    x = _patterns(size - SPECIAL.size, seed=size).view(np.float32).copy()
    g = np.random.default_rng(1).standard_normal(size).astype(np.float32)
    low = np.full(size, 7, np.dtype(dtype))
    p = x.copy()
    with np.errstate(all="ignore"):
        if update == "sgd":   # lr 0 keeps every special value (NaN, inf, -0, subnormals)
            kernels.sgd_update(p, g, np.zeros_like(p), lr=0.0, momentum=0.9, low=low)
        else:
            kernels.adam_update(p, g, np.zeros_like(p), np.zeros_like(p), step=1, lr=0.0,
                                low=low)
        want = p.astype(np.dtype(dtype))
    assert np.isnan(p).sum() >= 5 and np.isinf(p).sum() >= 2
    np.testing.assert_array_equal(_bits(low), _bits(want))
    with np.errstate(all="ignore"):
        kernels.sgd_update(p, g, None, lr=0.5, low=low)         # a real update too
        np.testing.assert_array_equal(_bits(low), _bits(p.astype(np.dtype(dtype))))


def test_low_copy_arguments_are_checked():
    p = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="expected low of shape"):
        kernels.sgd_update(p, p, None, lr=0.1, low=np.zeros(3, np.float16))
    with pytest.raises(TypeError, match="float16 or bfloat16 low copy"):
        kernels.sgd_update(p, p, None, lr=0.1, low=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="1-element bool"):
        kernels.sgd_update(p, p, None, lr=0.1, found_inf=np.zeros(2, bool))


# ----------------------------------------------------------------------------- training

OPTIMIZERS = {
    "sgd": lambda ps: gg.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1),
    "adam": lambda ps: gg.optim.Adam(ps, lr=1e-2, weight_decay=1e-3),
    "adamw": lambda ps: gg.optim.AdamW(ps, lr=1e-2),
}


def _train(opt_name, dtype, fused, steps=20, monkeypatch=None):
    monkeypatch.setattr(autocast_state, "fused_copies", fused)
    gg.manual_seed(0)
    rng = np.random.default_rng(0)
    net = gg.nn.MLP([12, 24, 24, 3])
    opt = OPTIMIZERS[opt_name](net.parameters())
    X = rng.standard_normal((32, 12)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    losses, current = [], []
    for _ in range(steps):
        opt.zero_grad()
        with gg.autocast(dtype=dtype):
            loss = gg.cross_entropy(net(gg.tensor(X)), gg.tensor(y))
        loss.backward()
        opt.step()
        losses.append(loss.item())
        flat = opt._flats[0]
        current.append(flat.low is not None and all(flat.low.current(i, p)
                                                     for i, p in enumerate(flat.params)))
    return [p.numpy().copy() for p in net.parameters()], losses, current


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_20_steps_bit_identical_to_casting_on_use(opt_name, dtype, monkeypatch):
    fused, fused_losses, current = _train(opt_name, dtype, True, monkeypatch=monkeypatch)
    cast, cast_losses, cast_current = _train(opt_name, dtype, False, monkeypatch=monkeypatch)
    assert fused_losses == cast_losses
    for a, b in zip(fused, cast):
        np.testing.assert_array_equal(_bits(a), _bits(b))
    assert all(current) and not any(cast_current)    # each step wrote every copy: no casts


def _mirror_of(p, opt):
    return opt._flats[0].low.data


@pytest.mark.parametrize("dtype", DTYPES)
def test_any_other_write_to_a_weight_makes_its_copy_stale(dtype):
    dt = np.dtype(dtype)
    w = gg.nn.Parameter(gg.tensor(np.linspace(-1, 1, 6, dtype=np.float32)))
    opt = gg.optim.SGD([w], lr=0.1)
    with gg.autocast(dtype=dtype):
        (w * w).sum().backward()
    first = autocast_state.low_copy(w, dt)
    assert np.shares_memory(first, _mirror_of(w, opt))
    opt.step()
    np.testing.assert_array_equal(_bits(autocast_state.low_copy(w, dt)),
                                  _bits(w.numpy().astype(dt)))
    with gg.no_grad():
        w.mul_(3.0)                                    # an in-place op: a new version
    np.testing.assert_array_equal(_bits(autocast_state.low_copy(w, dt)),
                                  _bits(w.numpy().astype(dt)))
    w.data = np.full(6, 0.25, np.float32)              # rebound: a cast of the new array
    assert autocast_state.low_copy(w, dt).tolist() == [0.25] * 6
    opt.zero_grad()
    (w * 1.0).sum().backward()
    opt.step()                                         # copied back into the flat buffer
    np.testing.assert_array_equal(_bits(autocast_state.low_copy(w, dt)),
                                  _bits(w.numpy().astype(dt)))


def _grad_of_a_graph_held_over_a_step(fused, monkeypatch):
    monkeypatch.setattr(autocast_state, "fused_copies", fused)
    gg.manual_seed(0)
    net = gg.nn.Linear(4, 3)
    opt = gg.optim.SGD(net.parameters(), lr=0.5)
    x = gg.tensor(np.arange(8, dtype=np.float32).reshape(2, 4))
    with gg.autocast(dtype="bfloat16"):
        net(x).sum().backward()
        held = (net(x) ** 2).sum()                     # built now, run backward after the step
    mirror = opt._flats[0].low
    opt.step()
    opt.zero_grad()
    held.backward()
    return net.weight.grad.numpy().copy(), mirror, opt._flats[0].low


def test_a_graph_built_before_a_step_keeps_its_copies(monkeypatch):
    """A forward pass whose backward runs after a step reads the copies it was built with,
    as casting on use gives: the step writes a fresh mirror instead of the held one."""
    fused, before, after = _grad_of_a_graph_held_over_a_step(True, monkeypatch)
    cast, _, _ = _grad_of_a_graph_held_over_a_step(False, monkeypatch)
    np.testing.assert_array_equal(_bits(fused), _bits(cast))
    assert before is not None and after is not None and after is not before


def test_parameter_groups_share_one_mirror_and_every_copy_stays_current():
    net = gg.nn.MLP([5, 7, 2])
    decay = [p for n, p in net.named_parameters() if n.endswith("weight")]
    rest = [p for n, p in net.named_parameters() if not n.endswith("weight")]
    opt = gg.optim.AdamW([{"params": decay}, {"params": rest, "weight_decay": 0.0}], lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        with gg.autocast(dtype="bfloat16"):
            net(gg.ones(2, 5)).sum().backward()
        opt.step()
        flat = opt._flats[0]
        assert flat.low is not None
        assert all(flat.low.current(i, p) for i, p in enumerate(flat.params))
        for i, p in enumerate(flat.params):
            np.testing.assert_array_equal(_bits(flat.low.views[i]),
                                          _bits(p.numpy().astype(ml_dtypes.bfloat16)))


def test_the_mirror_is_dropped_when_autocast_stops():
    net = gg.nn.Linear(3, 2)
    opt = gg.optim.SGD(net.parameters(), lr=0.1)
    with gg.autocast(dtype="float16"):
        net(gg.ones(1, 3)).sum().backward()
    opt.step()
    assert opt._flats[0].low is not None
    opt.zero_grad()
    net(gg.ones(1, 3)).sum().backward()                # no autocast: nothing read the copies
    opt.step()
    assert opt._flats[0].low is None
