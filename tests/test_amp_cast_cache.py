"""Autocast's cache of parameters' 16-bit copies lives inside one outermost autocast region:
a write into a weight between regions -- in-place op, raw write into ``p.data`` or
``p.numpy()``, a NumPy ufunc with ``out=``, ``load_state_dict`` -- is always seen, with or
without an optimizer, and the result equals casting by hand with autocast off."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import autocast_state

pytest.importorskip("ml_dtypes")
DTYPES = ["bfloat16", "float16"]


def _bits(a):
    return np.asarray(a).view(np.uint16)


def _manual(x, w, dt):
    """x @ w with both cast to ``dt`` by hand, autocast off."""
    dt = np.dtype(gg.dtypes.as_dtype(dt))
    return (gg.tensor(np.asarray(x, np.float32).astype(dt))
            @ gg.tensor(np.asarray(w, np.float32).astype(dt))).numpy()


def _write_data(p, v):
    p.data[...] = v


def _write_numpy(p, v):
    p.numpy()[...] = v


def _write_ufunc(p, v):
    np.multiply(p.data, 0, out=p.data)
    np.add(p.data, v, out=p.data)


def _write_state_dict(p, v):
    m = gg.nn.Module()
    m.w = p
    m.load_state_dict({"w": np.full(p.shape, v, np.float32)})


def _write_inplace(p, v):
    with gg.no_grad():
        p.mul_(0.0).add_(v)


WRITES = {"data": _write_data, "numpy": _write_numpy, "ufunc_out": _write_ufunc,
          "load_state_dict": _write_state_dict, "inplace": _write_inplace}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_issue_repro_sees_every_write_between_regions(dtype, write):
    p = gg.nn.Parameter(gg.ones(2))
    x = gg.ones(2)
    with gg.autocast(dtype=dtype):
        assert (x @ p).item() == 2.0
    WRITES[write](p, 5.0)
    with gg.autocast(dtype=dtype):
        assert (x @ p).item() == 10.0


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_name", ["none", "sgd", "adam"])
def test_forward_after_a_write_equals_manual_casts(dtype, write, opt_name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 6)).astype(np.float32)
    w = gg.nn.Parameter(gg.tensor(rng.standard_normal((6, 3)).astype(np.float32)))
    opt = {"none": None, "sgd": lambda: gg.optim.SGD([w], lr=0.1, momentum=0.9),
           "adam": lambda: gg.optim.Adam([w], lr=0.1)}[opt_name]
    opt = opt() if opt else None
    for step in range(3):
        with gg.autocast(dtype=dtype):
            y = gg.tensor(X) @ w
        np.testing.assert_array_equal(_bits(y.numpy()), _bits(_manual(X, w.numpy(), dtype)))
        if opt is not None:
            opt.zero_grad()
            (y.astype("float32") ** 2).sum().backward()
            opt.step()
        WRITES[write](w, float(step + 2))
        with gg.autocast(dtype=dtype):
            after = (gg.tensor(X) @ w).numpy()
        np.testing.assert_array_equal(_bits(after), _bits(_manual(X, w.numpy(), dtype)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_trained_model_after_raw_writes_matches_a_fresh_one(dtype):
    gg.manual_seed(0)
    net = gg.nn.MLP([5, 8, 2])
    opt = gg.optim.Adam(net.parameters(), lr=0.05)
    X = gg.tensor(np.random.default_rng(1).standard_normal((7, 5)).astype(np.float32))
    for k in range(3):
        opt.zero_grad()
        with gg.autocast(dtype=dtype):
            loss = (net(X).astype("float32") ** 2).mean()
        loss.backward()
        opt.step()
        for p in net.parameters():               # raw writes the optimizer cannot see
            np.multiply(p.data, -1.5, out=p.data)
        fresh = gg.nn.MLP([5, 8, 2])
        fresh.load_state_dict(net.state_dict())
        with gg.autocast(dtype=dtype):
            got, want = net(X).numpy(), fresh(X).numpy()
        np.testing.assert_array_equal(_bits(got), _bits(want))


def test_copies_are_reused_inside_a_region_and_dropped_at_its_exit():
    p = gg.nn.Parameter(gg.ones(3, 2))
    with gg.autocast(dtype="float16"):
        a = autocast_state.low_copy(p, gg.float16)
        with gg.autocast(enabled=False):              # a nested region keeps the cache
            assert autocast_state.low_copy(p, gg.float16) is a
        assert autocast_state.low_copy(p, gg.float16) is a
        with gg.no_grad():
            p.add_(1.0)                                # in place: a new version, a new cast
        b = autocast_state.low_copy(p, gg.float16)
        assert b is not a and b.tolist() == [[2.0, 2.0]] * 3
        assert autocast_state._state.copies
    assert autocast_state._state.copies is None and autocast_state._state.depth == 0
    with gg.autocast(dtype="float16"):
        assert autocast_state.low_copy(p, gg.float16) is not b


def test_the_cache_is_dropped_when_a_region_raises():
    p = gg.nn.Parameter(gg.ones(2))
    with pytest.raises(ZeroDivisionError):
        with gg.autocast(dtype="float16"):
            autocast_state.low_copy(p, gg.float16)
            1 / 0
    assert autocast_state._state.copies is None and autocast_state._state.depth == 0


def test_each_thread_has_its_own_cache():
    p = gg.nn.Parameter(gg.ones(2))
    seen = {}

    def other():
        seen["copies"] = autocast_state._state.copies
        with gg.autocast(dtype="float16"):
            seen["len"] = len(autocast_state._state.copies)
    with gg.autocast(dtype="float16"):
        autocast_state.low_copy(p, gg.float16)
        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert len(autocast_state._state.copies) == 1
    assert seen == {"copies": None, "len": 0}
