"""Out-of-bounds integer index arrays on CUDA: CuPy wraps them around where NumPy raises
(``x[[1, 3]]`` of a 3-element ``x`` reads ``x[1], x[0]``), so every read, write and gather
with an index array checks its bounds on the device (a deferred check,
:mod:`gpugrad.device_checks`): the IndexError NumPy raises comes at the next synchronization
(at once with GPUGRAD_SYNC_CHECKS=1); meanwhile a float read is NaN at a bad index, and a
write drops the bad positions (nothing is written at the wrapped place).  The fake device
(``GPUGRAD_FAKE_CUDA=1``) wraps as CuPy does."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import device_checks as dc
from conftest import FAKE_CUDA

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def _clean():
    dc.reset()
    yield
    dc.reset()


@pytest.fixture(params=[False, True], ids=["deferred", "sync"])
def sync(request):
    old = dc.set_sync_checks(request.param)
    yield request.param
    dc.set_sync_checks(old)


def cuda(a, **kw):
    return gg.tensor(np.asarray(a), device="cuda", **kw)


def _raises(sync, fn, match):
    """``fn()``: with sync checks it raises ``match`` at once; deferred, it returns and the
    error comes at the next synchronization (``gg.cuda.synchronize()``), once."""
    if sync:
        with pytest.raises(IndexError, match=match):
            fn()
        assert dc.pending() == 0
        return None
    out = fn()
    with pytest.raises(IndexError, match=match):
        gg.cuda.synchronize()
    gg.cuda.synchronize()                    # raised once, then forgotten
    return out


def test_the_fake_device_wraps_as_cupy_does():
    """The defect itself, on the raw arrays: a fake that raised would hide it."""
    import cupy
    x = cupy.asarray(np.array([0.0, 1.0, 2.0]))
    assert x[cupy.asarray(np.array([1, 3]))].tolist() == [1.0, 0.0]
    x[cupy.asarray(np.array([1, 3]))] = 10.0
    assert x.tolist() == [10.0, 10.0, 2.0]


MSG0 = r"^index 3 is out of bounds for axis 0 with size 3$"


@pytest.mark.parametrize("key", [[1, 3], np.array([1, 3]), "tensor"])
def test_read_with_a_bad_index_is_nan_and_raises_at_the_next_sync(key, sync):
    x = cuda([0.0, 1.0, 2.0])
    k = cuda([1, 3]) if isinstance(key, str) else key
    out = _raises(sync, lambda: x[k], MSG0)
    if out is not None:
        got = out.numpy()
        assert got[0] == 1.0 and np.isnan(got[1])      # never x[0] (the wrapped read)


def test_read_error_names_the_axis_size_and_first_bad_index():
    x = cuda(np.zeros((2, 3), np.float32))
    for key, msg in [((slice(None), [0, 5, 7]), "index 5 is out of bounds for axis 1 with size 3"),
                     (([0, 1], [0, -4]), "index -4 is out of bounds for axis 1 with size 3"),
                     ((Ellipsis, [2, 3]), "index 3 is out of bounds for axis 1 with size 3"),
                     ((None, [2]), "index 2 is out of bounds for axis 0 with size 2")]:
        with pytest.raises(IndexError, match=msg):
            np.zeros((2, 3))[key]                       # NumPy's own words
        out = x[key]
        with pytest.raises(IndexError, match=msg):
            out.numpy()
        assert np.isnan(out.numpy()).any()
    assert x[[-2, 1]].numpy().tolist() == [[0.0] * 3] * 2        # negative in range: fine


def test_integer_read_raises_at_the_next_sync():
    x = cuda(np.arange(3))
    y = x[cuda([0, 5])]
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
        y.tolist()


@pytest.mark.parametrize("value", [10.0, [10.0, 20.0], "tensor"])
def test_write_with_a_bad_index_writes_nothing_there_and_raises(value, sync):
    x = cuda([0.0, 1.0, 2.0])
    v = cuda([10.0, 20.0]) if isinstance(value, str) else value

    def write():
        x[cuda([1, 3])] = v
    _raises(sync, write, MSG0)
    got = x.numpy()
    assert got[0] == 0.0 and got[2] == 2.0             # x[0]: not the wrapped write
    assert got[1] == (1.0 if sync else 10.0)           # sync: nothing written at all


def test_write_with_repeats_and_a_bad_index_keeps_numpys_last_write():
    x = cuda([0.0, 1.0, 2.0])
    x[cuda([1, 4, 1, 0])] = cuda([5.0, 6.0, 7.0, 8.0])
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 3"):
        gg.cuda.synchronize()
    assert x.numpy().tolist() == [8.0, 7.0, 2.0]


def test_out_of_place_setitem_and_its_gradient():
    x = cuda([0.0, 1.0, 2.0], requires_grad=True)
    v = cuda([10.0, 20.0], requires_grad=True)
    y = gg.ops.setitem(x, [2, -5], v)
    (y * cuda([1.0, 2.0, 3.0])).sum().backward()
    with pytest.raises(IndexError, match="index -5 is out of bounds for axis 0 with size 3"):
        y.numpy()
    assert y.numpy().tolist() == [0.0, 1.0, 10.0]
    assert x.grad.numpy().tolist() == [1.0, 2.0, 0.0]  # the dropped write took nothing
    g = v.grad.numpy()
    assert g[0] == 3.0 and np.isnan(g[1])               # the dropped value: poisoned


@pytest.mark.parametrize("how", ["take", "take_axis", "take_along_axis", "gnp.take",
                                 "gnp.take_along_axis", "compress_like"])
def test_take_family(how, sync):
    x = cuda(np.arange(6.0).reshape(2, 3))
    calls = {
        "take": (lambda: gg.ops.take(x, cuda([1, 6])), "index 6 .* axis 0 with size 6"),
        "take_axis": (lambda: gg.ops.take(x, cuda([4]), axis=1), "index 4 .* axis 1 with size 3"),
        "take_along_axis": (lambda: gg.ops.take_along_axis(x, cuda([[0], [3]]), 1),
                            "index 3 .* axis 1 with size 3"),
        "gnp.take": (lambda: gnp.take(x, cuda([-7])), "index -7 .* axis 0 with size 6"),
        "gnp.take_along_axis": (lambda: gnp.take_along_axis(x, cuda([[2, 0, 1]]), 0),
                                "index 2 .* axis 0 with size 2"),
        "compress_like": (lambda: x.take(cuda([9]), axis=1), "index 9 .* axis 1 with size 3"),
    }
    fn, msg = calls[how]
    out = _raises(sync, fn, msg)
    if out is not None:
        assert np.isnan(out.numpy()).any()


def test_gather_gradient_is_poisoned_not_scattered_to_the_wrapped_row():
    """An embedding-style lookup: W[ids] with a bad id.  Uncaught until the next sync, the
    backward must not add the bad row's gradient to W[ids % n] as if it were right."""
    W = cuda(np.ones((4, 2), np.float32), requires_grad=True)
    ids = cuda([1, 5])
    out = W[ids]
    out.sum().backward()
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 4"):
        gg.cuda.synchronize()
    g = W.grad.numpy()
    assert g[1].tolist() == [1.0, 1.0] and g[2:].tolist() == [[0.0, 0.0]] * 2
    assert np.isnan(g[0]).all()                          # not [1, 1] (the wrapped row 5 % 4)
    assert np.isnan(out.numpy()[1]).all()


def test_gather_second_order_keeps_working_with_good_indices():
    x = cuda([1.0, 2.0, 3.0], requires_grad=True)
    y = (x[cuda([0, 2, 2])] ** 2).sum()
    (g,) = gg.autograd.grad(y, [x], create_graph=True)
    g.sum().backward()
    assert g.numpy().tolist() == [2.0, 0.0, 12.0]
    assert x.grad.numpy().tolist() == [2.0, 0.0, 4.0]
    gg.cuda.synchronize()


def test_add_at_with_a_bad_index_adds_nothing_at_the_wrapped_place(sync):
    a = cuda([0.0, 0.0, 0.0])
    _raises(sync, lambda: gnp.add.at(a, cuda([0, 4, 0]), 1.0), "index 4 .* axis 0 with size 3")
    assert a.numpy().tolist() == ([0.0] * 3 if sync else [2.0, 0.0, 0.0])


def test_add_at_gradient_through_a_bad_index():
    a = cuda([0.0, 0.0, 0.0], requires_grad=True) * 1
    v = cuda([1.0, 2.0], requires_grad=True)
    gnp.add.at(a, cuda([1, 3]), v)
    a.sum().backward()
    with pytest.raises(IndexError, match="index 3 .* axis 0 with size 3"):
        gg.cuda.synchronize()
    assert a.numpy().tolist() == [0.0, 1.0, 0.0]
    g = v.grad.numpy()
    assert g[0] == 1.0 and np.isnan(g[1])


def test_put_and_flat_writes_raise_and_write_nothing():
    a = cuda([0.0, 0.0, 0.0])
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
        a.put(cuda([0, 5]), 1.0)
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
        a.flat[cuda([5])] = 1.0
    gg.cuda.synchronize()
    assert a.numpy().tolist() == [0.0, 0.0, 0.0]


def _compiled(body):
    """``gg.compile(body)``; on the fake device (no CUDA graphs) a replay made to run as a
    CUDA graph does: the device work of each array call again, none of its Python side
    effects (a deferred check registered inside an op's forward would be lost)."""
    step = gg.compile(body, cuda_graphs=not FAKE_CUDA)
    if not FAKE_CUDA:
        return step

    def graphed(fn):
        def run(env):
            real, dc._defer = dc._defer, lambda *a, **k: None
            try:
                fn(env)
            finally:
                dc._defer = real
        return run

    def call(*args):
        out = step(*args)
        for entry in step._tapes.values():
            tape = entry.tape
            if not getattr(tape, "graphed", False):
                tape.entries = [(k, graphed(fn) if k == "array" else fn, free)
                                for k, fn, free in tape.entries]
                tape.steps, tape.graphed = None, True
                assert "host" in [k for k, _, _ in tape.entries]   # the check: live
        return out
    return call


def test_a_compiled_step_checks_its_index_at_each_replay():
    """Inside a step gg.compile recorded, the bounds check is part of the replay: a bad
    index in a later call raises at the next sync, and its rows are NaN, not wrapped."""
    W = cuda(np.arange(8.0).reshape(4, 2))

    def body(ids):
        return W[ids] * 2

    step = _compiled(body)
    for _ in range(3):
        assert step(cuda([0, 3])).numpy().tolist() == [[0.0, 2.0], [12.0, 14.0]]
    out = step(cuda([2, 4]))
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 4"):
        gg.cuda.synchronize()
    got = out.numpy()
    assert got[0].tolist() == [8.0, 10.0] and np.isnan(got[1]).all()
    assert step(cuda([1, 1])).numpy().tolist() == [[4.0, 6.0]] * 2


def test_a_compiled_write_drops_the_bad_index_at_each_replay():
    def body(x, ids):
        y = x * 1
        y[ids] = 9.0
        return y

    step = _compiled(body)
    x = cuda([0.0, 1.0, 2.0])
    assert step(x, cuda([1, 2])).numpy().tolist() == [0.0, 9.0, 9.0]
    assert step(x, cuda([0, 2])).numpy().tolist() == [9.0, 1.0, 9.0]
    out = step(x, cuda([3, 1]))
    with pytest.raises(IndexError, match="index 3 is out of bounds for axis 0 with size 3"):
        gg.cuda.synchronize()
    assert out.numpy().tolist() == [0.0, 9.0, 2.0]


def test_a_compiled_flat_write_names_the_flat_position():
    def body(x, k):
        y = x * 1
        y.flat[k] = 5.0
        return y

    step = _compiled(body)
    x = cuda(np.zeros((2, 3)))
    assert step(x, cuda([4])).numpy().ravel().tolist() == [0, 0, 0, 0, 5, 0]
    out = step(x, cuda([6]))
    with pytest.raises(IndexError, match="index 6 is out of bounds for axis 0 with size 6"):
        gg.cuda.synchronize()
    assert out.numpy().ravel().tolist() == [0.0] * 6


def test_an_empty_axis_raises_at_once():
    x = cuda(np.zeros((0, 2)))
    with pytest.raises(IndexError, match="out of bounds for axis 0 with size 0"):
        x[cuda([0])]
    assert x[cuda(np.zeros(0, np.int64))].shape == (0, 2)


def test_python_ints_beside_index_arrays_are_checked_at_once():
    x = cuda(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 1 with size 3"):
        x[cuda([0]), 5]


@pytest.mark.parametrize("name, dtype", [("maximum", np.float64), ("add", np.int64),
                                         ("multiply", np.float32)])
def test_other_ufunc_at_writes_nothing_at_the_wrapped_place(name, dtype):
    a = cuda(np.ones(3, dtype))
    getattr(gnp, name).at(a, cuda([0, 4]), 5)
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 with size 3"):
        gg.cuda.synchronize()
    want = np.ones(3, dtype)
    getattr(np, name).at(want, [0], 5)                  # the good index only
    assert a.numpy().tolist() == want.tolist()


def test_put_along_axis_drops_the_bad_write_and_raises(sync):
    a = cuda(np.zeros((2, 3)))
    idx = cuda(np.array([[4], [0]]))
    _raises(sync, lambda: gnp.put_along_axis(a, idx, 1.0, 1), "index 4 .* axis 1 with size 3")
    assert a.numpy().tolist() == ([[0.0] * 3] * 2 if sync else [[0.0] * 3, [1.0, 0, 0]])


def test_repeated_writes_with_a_bad_index_grads():
    """Repeats and a bad index together: NumPy's last write wins among the good ones, the
    losers get no gradient, every dropped value gets NaN."""
    x = cuda([0.0, 0.0, 0.0], requires_grad=True)
    v = cuda([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = gg.ops.setitem(x, [1, 5, 1, 5], v)
    (y * cuda([1.0, 2.0, 3.0])).sum().backward()
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
        gg.cuda.synchronize()
    assert y.numpy().tolist() == [0.0, 3.0, 0.0]
    assert x.grad.numpy().tolist() == [1.0, 0.0, 3.0]
    g = v.grad.numpy()
    assert g[0] == 0.0 and g[2] == 2.0 and np.isnan(g[1]) and np.isnan(g[3])


def test_negative_indices_in_range_write_where_numpy_does():
    x = cuda([0.0, 0.0, 0.0, 0.0])
    x[cuda([-1, -4, 9])] = cuda([1.0, 2.0, 3.0])
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 0 with size 4"):
        gg.cuda.synchronize()
    assert x.numpy().tolist() == [2.0, 0.0, 0.0, 1.0]
