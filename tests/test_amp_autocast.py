"""gg.autocast: the op dtype table (against torch.autocast on the CPU where they agree),
values of 16-bit products (float32 accumulation of rounded inputs), gradient dtypes,
the per-thread state, the parameter copy cache, and bfloat16 itself."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import autocast_state as amp_state

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
LOW = ("bfloat16", "float16")


def leaf(rng, *shape):
    return gg.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)


# (name, gpugrad call on (x (4, 6), w (6, 3), t (4,) int, y (4, 3)), "low" | "f32",
#  torch call or None where torch's CPU autocast differs or has no such op)
def _table():
    return [
        ("linear", lambda x, w, t, y: gg.linear(x, w), "low",
         lambda tc, x, w, t, y: tc.nn.functional.linear(x, w.T)),
        ("nn.Linear", lambda x, w, t, y: gg.linear(x, w, gg.zeros(3), "relu"), "low", None),
        ("matmul", lambda x, w, t, y: x @ w, "low", lambda tc, x, w, t, y: x @ w),
        ("einsum", lambda x, w, t, y: gg.einsum("ij,jk->ik", x, w), "low",
         lambda tc, x, w, t, y: tc.einsum("ij,jk->ik", x, w)),
        ("tensordot", lambda x, w, t, y: gg.tensordot(x, w, 1), "low", None),
        ("cross_entropy", lambda x, w, t, y: gg.cross_entropy(y, t), "f32",
         lambda tc, x, w, t, y: tc.nn.functional.cross_entropy(y, t)),
        ("nll_loss", lambda x, w, t, y: gg.nll_loss(y, t), "f32",
         lambda tc, x, w, t, y: tc.nn.functional.nll_loss(y, t)),
        ("mse_loss", lambda x, w, t, y: gg.mse_loss(y, y * 0.5), "f32",
         lambda tc, x, w, t, y: tc.nn.functional.mse_loss(y, y * 0.5)),
        ("bce_with_logits", lambda x, w, t, y: gg.binary_cross_entropy_with_logits(y, y * 0),
         "f32", lambda tc, x, w, t, y: tc.nn.functional.binary_cross_entropy_with_logits(
             y, y * 0)),
        ("softmax", lambda x, w, t, y: gg.softmax(y), "f32", None),   # torch CPU: input dtype
        ("log_softmax", lambda x, w, t, y: gg.log_softmax(y), "f32", None),
        ("logsumexp", lambda x, w, t, y: gg.logsumexp(y, axis=1), "f32", None),
        ("norm", lambda x, w, t, y: gg.norm(y), "f32", None),
        ("sum", lambda x, w, t, y: y.sum(), "f32", None),
        ("mean", lambda x, w, t, y: y.mean(), "f32", None),
        ("var", lambda x, w, t, y: gg.var(y), "f32", None),
        ("exp", lambda x, w, t, y: gg.exp(y), "f32", None),
        ("log", lambda x, w, t, y: gg.log(gg.abs(y) + 1), "f32", None),
        ("relu", lambda x, w, t, y: gg.relu(y), "same", None),
        ("mul by 2.0", lambda x, w, t, y: y * 2.0, "same", None),
    ]


TABLE = _table()


@pytest.mark.parametrize("dtype", LOW)
@pytest.mark.parametrize("name,fn,kind,_", TABLE, ids=[r[0] for r in TABLE])
def test_dtype_table(dtype, name, fn, kind, _, rng):
    x, w = leaf(rng, 4, 6), leaf(rng, 6, 3)
    t = gg.tensor(rng.integers(0, 3, 4))
    y = gg.tensor(rng.standard_normal((4, 3))).astype(dtype)   # a 16-bit activation
    with gg.autocast(dtype=dtype):
        out = fn(x, w, t, y)
    want = {"low": dtype, "f32": "float32", "same": dtype}[kind]
    assert out.dtype.name == want, (name, out.dtype)
    plain = fn(x, w, t, y.astype("float32"))                   # without autocast: float32
    assert plain.dtype == np.float32


@pytest.mark.torch
@pytest.mark.parametrize("name,fn,kind,tfn", [r for r in TABLE if r[3] is not None],
                         ids=[r[0] for r in TABLE if r[3] is not None])
def test_dtype_table_matches_torch_cpu_autocast(name, fn, kind, tfn, rng):
    torch = pytest.importorskip("torch")
    x, w = rng.standard_normal((4, 6)), rng.standard_normal((6, 3))
    t, y = rng.integers(0, 3, 4), rng.standard_normal((4, 3))
    tx, tw = (torch.tensor(a, dtype=torch.float32) for a in (x, w))
    ty = torch.tensor(y, dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = tfn(torch, tx, tw, torch.tensor(t), ty)
    with gg.autocast(dtype="bfloat16"):
        got = fn(gg.tensor(x, dtype="float32"), gg.tensor(w, dtype="float32"), gg.tensor(t),
                 gg.tensor(y, dtype="float32"))
    assert got.dtype.name == str(want.dtype).replace("torch.", "")
    if kind == "low":   # float32 accumulation of bfloat16-rounded inputs, as torch computes
        np.testing.assert_allclose(got.numpy().astype(np.float32),
                                   want.float().numpy(), rtol=1e-2, atol=1e-2)


def test_bf16_product_is_a_float32_product_of_rounded_inputs(rng):
    a = rng.standard_normal((33, 70)).astype(np.float32)
    b = rng.standard_normal((70, 9)).astype(np.float32)
    want = (a.astype(BF16).astype(np.float32) @ b.astype(BF16).astype(np.float32)).astype(BF16)
    with gg.autocast():
        for got in (gg.tensor(a) @ gg.tensor(b), gg.linear(gg.tensor(a), gg.tensor(b)),
                    gg.einsum("ij,jk->ik", gg.tensor(a), gg.tensor(b))):
            assert got.dtype == BF16
            np.testing.assert_array_equal(got.numpy().astype(np.float32),
                                          want.astype(np.float32))


@pytest.mark.parametrize("dtype", LOW)
def test_gradients_come_back_float32_and_close_to_fp32(dtype, rng):
    gg.manual_seed(1)
    net = gg.nn.MLP([6, 16, 3], activation="gelu")
    x, t = gg.tensor(rng.standard_normal((8, 6)).astype(np.float32)), gg.tensor(
        rng.integers(0, 3, 8))
    gg.cross_entropy(net(x), t).backward()
    ref = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    with gg.autocast(dtype=dtype):
        loss = gg.cross_entropy(net(x), t)
    assert loss.dtype == np.float32
    loss.backward()
    for p, r in zip(net.parameters(), ref):
        assert p.dtype == np.float32 and p.grad.dtype == np.float32
        scale = np.abs(r).max()
        np.testing.assert_allclose(p.grad.numpy(), r, atol=0.05 * scale)
        assert not np.array_equal(p.grad.numpy(), r)     # it did run in 16 bits


def test_float64_operands_are_left_alone():
    with gg.autocast():
        out = gg.ones(2, 3, dtype="float64") @ gg.ones(3, 2, dtype="float64")
    assert out.dtype == np.float64


def test_state_is_per_thread_nested_and_restored():
    seen = {}
    with gg.autocast(dtype="float16"):
        th = threading.Thread(target=lambda: seen.setdefault("other",
                                                             gg.amp.is_autocast_enabled()))
        th.start()
        th.join()
        with gg.autocast(dtype="bfloat16"):
            assert gg.amp.get_autocast_dtype() == BF16
            with gg.autocast(enabled=False):
                assert (gg.ones(1, 2) @ gg.ones(2, 1)).dtype == np.float32
        assert gg.amp.get_autocast_dtype() == np.float16
    assert seen["other"] is False and not gg.amp.is_autocast_enabled()

    @gg.autocast(dtype="float16")
    def f(a):
        return a @ a.T
    assert f(gg.ones(2, 2)).dtype == np.float16 and not gg.amp.is_autocast_enabled()


def test_bad_dtype_is_a_clear_error():
    with pytest.raises(ValueError, match="expected dtype 'bfloat16' or 'float16', got 'int8'"):
        gg.autocast(dtype="int8")


def test_parameter_copy_is_made_once_per_change():
    p = gg.nn.Parameter(gg.ones(3, 2))
    with gg.autocast():
        a = amp_state.low_copy(p, BF16)
        assert amp_state.low_copy(p, BF16) is a
    opt = gg.optim.SGD([p], lr=0.5)
    (gg.ones(1, 3) @ p).sum().backward()
    opt.step()                                      # p changed: a new copy, new values
    b = amp_state.low_copy(p, BF16)
    np.testing.assert_array_equal(b.astype(np.float32), p.numpy().astype(BF16).astype(
        np.float32))
    assert not np.array_equal(b.astype(np.float32), a.astype(np.float32))


def test_bfloat16_dtype_and_ops():
    assert gg.bfloat16 == BF16 and gg.dtypes.as_dtype("bf16") == BF16
    x = gg.tensor([1.0, 2.0, 3.0], dtype="bfloat16", requires_grad=True)
    y = (x * 2.0 + 1).sum()                         # Python numbers stay weak
    assert (x * 2.0).dtype == BF16 and y.dtype == BF16
    y.backward()
    assert x.grad.dtype == BF16 and x.grad.tolist() == [2.0, 2.0, 2.0]
    big = gg.ones(4096, dtype="bfloat16")           # sums accumulate in float32
    assert big.sum().item() == 4096.0               # bfloat16 running sums stop at 256


def test_bfloat16_without_ml_dtypes_names_the_package(monkeypatch):
    from gpugrad import dtypes
    monkeypatch.setattr(dtypes, "bfloat16", None)
    with pytest.raises(TypeError, match="ml_dtypes"):
        dtypes.as_dtype("bfloat16")


def test_one_autocast_object_entered_twice_restores_each_entry():
    from gpugrad import autocast_state
    ac = gg.autocast(dtype="float16")
    with ac:
        with ac:
            pass
        assert autocast_state._state.dtype == np.float16     # the outer entry is still on
    assert autocast_state._state.dtype is None


def test_one_autocast_object_shared_by_two_threads_leaks_nothing():
    import threading
    from gpugrad import autocast_state
    ac = gg.autocast(dtype="float16")
    inside, leave, seen = threading.Event(), threading.Event(), {}

    def a():
        with ac:
            inside.set()
            leave.wait(5)
        seen["a"] = autocast_state._state.dtype

    def b():
        inside.wait(5)
        with gg.autocast(dtype="bfloat16" if gg.bfloat16 is not None else "float16"):
            with ac:
                leave.set()
        seen["b"] = autocast_state._state.dtype

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    [t.start() for t in ts]
    [t.join(10) for t in ts]
    assert seen == {"a": None, "b": None}
