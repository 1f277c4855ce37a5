"""The no-graph fast paths read three process-wide sets before any thread-local state
(threads with recording off, threads under autocast, threads inside a default-device block):
each must stay exact when threads disagree.  The in-place operators' NumPy path (``x += y``
on a plain tensor) must write what the op path writes, refuse what it refuses, and move the
version counter.  ``gpugrad.numpy.dot`` must be NumPy's ``dot`` bit for bit, graph or not."""
import threading

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import autocast_state, backend, grad_mode


def _in_thread(fn):
    out, err = [], []

    def run():
        try:
            out.append(fn())
        except BaseException as e:  # pragma: no cover - reported below
            err.append(e)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if err:
        raise err[0]
    return out[0]


# ================================================================ process-wide sets
def test_grad_mode_set_follows_each_thread():
    assert not grad_mode._off
    with gg.no_grad():
        assert grad_mode._off
        # another thread still records: its op on a leaf that requires grad builds a graph
        w = gg.ones(3, requires_grad=True)
        assert _in_thread(lambda: (w * 2).requires_grad) is True
        assert (w * 2).requires_grad is False
        with gg.enable_grad():
            assert not grad_mode._off and (w * 2).requires_grad
        assert grad_mode._off
    assert not grad_mode._off


def test_no_grad_in_another_thread_leaves_this_threads_views_linked():
    ready, done = threading.Event(), threading.Event()

    def hold():
        with gg.no_grad():
            ready.set()
            done.wait(10)
    t = threading.Thread(target=hold)
    t.start()
    ready.wait(10)
    try:
        assert grad_mode._off                  # the other thread is off; this one records
        w = gg.zeros(4)
        v = w[1:]                              # a plain view, made with recording on here
        w.requires_grad_()
        (v * 3.0).sum().backward()             # the view joins the graph through its base
        assert w.grad.tolist() == [0.0, 3.0, 3.0, 3.0]
    finally:
        done.set()
        t.join()
    assert not grad_mode._off


def test_autocast_in_another_thread_does_not_reach_this_one():
    x, w = gg.ones(2, 3), gg.ones(3, 2)
    ready, done = threading.Event(), threading.Event()
    seen = {}

    def hold():
        with gg.autocast(dtype="float16"):
            seen["inside"] = (x @ w).dtype.name
            ready.set()
            done.wait(10)
    t = threading.Thread(target=hold)
    t.start()
    ready.wait(10)
    try:
        assert autocast_state._on
        assert (x @ w).dtype.name == "float32" and gnp.dot(x, w).dtype.name == "float32"
    finally:
        done.set()
        t.join()
    assert seen["inside"] == "float16" and not autocast_state._on
    with gg.autocast(dtype="float16"):
        with gg.autocast(dtype="float16", enabled=False):
            assert not autocast_state._on and (x @ w).dtype.name == "float32"
        assert autocast_state._on and (x @ w).dtype.name == "float16"
    assert not autocast_state._on


def test_default_device_block_is_per_thread():
    cpu = backend.CPU
    ready, done = threading.Event(), threading.Event()
    marker = backend.Device("cpu")            # equal to the CPU, but another object

    def hold():
        with backend.default_device(marker):
            ready.set()
            done.wait(10)
            return backend.get_default_device()
    t = threading.Thread(target=lambda: seen.append(hold()))
    seen = []
    t.start()
    ready.wait(10)
    try:
        assert backend._pushed and backend.get_default_device() is cpu
    finally:
        done.set()
        t.join()
    assert seen[0] is marker and not backend._pushed
    with marker:
        with backend.default_device(cpu):
            assert backend.get_default_device() is cpu
        assert backend.get_default_device() is marker
    assert not backend._pushed and backend.get_default_device() is cpu


# ================================================================ in-place operators
@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
@pytest.mark.parametrize("dts", [("float64", "float64"), ("float32", "float64"),
                                 ("float32", "number"), ("int64", "int64"),
                                 ("float16", "float32")])
def test_inplace_operator_writes_numpys_answer(op, dts):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4)) * 5 + 1).astype(dts[0])
    b = 1.5 if dts[1] == "number" else (rng.standard_normal(4) * 3 + 7).astype(dts[1])
    if dts[0] == "int64" and op == "/=":
        with pytest.raises(TypeError):
            t = gg.tensor(a.copy())
            t /= gg.tensor(b)
        return
    want = a.copy()
    exec(f"want {op} b")
    t = gg.tensor(a.copy())
    other = b if dts[1] == "number" else gg.tensor(b)
    vc, data = t._vc[0], t.data
    exec(f"t {op} other", {}, {"t": t, "other": other})
    assert t.data is data and t._vc[0] == vc + 1
    np.testing.assert_array_equal(t.numpy(), want, strict=True)


def test_inplace_operator_refusals_match_the_op_path():
    t = gg.tensor([1, 2, 3])
    with pytest.raises(TypeError, match="cannot be cast"):
        t += gg.tensor([0.5, 0.5, 0.5])
    with pytest.raises(gg.InplaceShapeError if hasattr(gg, "InplaceShapeError")
                       else ValueError, match="cannot be written"):
        t += gg.ones((2, 3), dtype="int64")
    assert t.tolist() == [1, 2, 3] and t._vc[0] == 0   # nothing half-written


def test_inplace_operator_overlap_and_saved_values():
    x = gg.tensor(np.arange(9.0).reshape(3, 3))
    want = np.arange(9.0).reshape(3, 3)
    want += want.T
    x += x.T                                  # the operand overlaps the output
    np.testing.assert_array_equal(x.numpy(), want)
    w, c = gg.ones(3, requires_grad=True), gg.tensor([1.0, 2.0, 3.0])
    y = (w * c).sum()
    c += 1                                    # c was saved for w's gradient: a copy
    y.backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0]


def test_inplace_operator_on_views_and_graphs_takes_the_op_path():
    base = gg.zeros(4)
    row = base[1:3]
    row += 2.0                                # a view: written through to its base
    assert base.tolist() == [0.0, 2.0, 2.0, 0.0] and base._vc[0] == 1
    w = gg.ones(3, requires_grad=True)
    h = w * 1.0
    h *= 3.0                                  # in a graph: recorded
    h.sum().backward()
    assert w.grad.tolist() == [3.0, 3.0, 3.0]


# ================================================================ dot is NumPy's dot
def _strided_pairs():
    """(A's base, A's key, B): A strided in both axes, B strided, 1-D and 2-D."""
    rng = np.random.default_rng(2)
    for dt in ("float64", "float32", "complex128"):
        for m, k, n in [(3, 3, 3), (5, 130, 7)]:
            a = rng.standard_normal((2 * m, 3 * k)).astype(dt)
            B = rng.standard_normal((3 * k, 2 * n)).astype(dt)[::3, ::2]
            yield a, (slice(None, None, 2), slice(None, None, 3)), B
            yield a, (0, slice(None, None, 3)), B
            yield a, (slice(None, None, 2), slice(None, None, 3)), B[:, 0]


def test_dot_is_numpys_dot_bit_for_bit():
    differs = 0
    for a, key, B in _strided_pairs():
        A = a[key]
        want = np.dot(A, B)
        differs += not np.array_equal(want, np.matmul(A, B))
        got = gnp.dot(gnp.asarray(A), gnp.asarray(B))            # no graph: NumPy directly
        np.testing.assert_array_equal(got.numpy(), want, strict=True)
        base, b = gg.tensor(a, requires_grad=True), gnp.asarray(B)
        y = gnp.dot(base[key], b)                                # in a graph: the Dot op
        np.testing.assert_array_equal(y.numpy(), want, strict=True)
        g = np.ones(want.shape, want.dtype)
        y.backward(gg.tensor(g))
        bm = gg.tensor(a, requires_grad=True)
        gg.matmul(bm[key], b).backward(gg.tensor(g))  # the same gradient formula
        np.testing.assert_array_equal(base.grad.numpy(), bm.grad.numpy())
    assert differs  # the cases include ones where matmul's bits are not dot's


@pytest.mark.parametrize("raising", ["errstate", "warnings"])
def test_inplace_operator_that_numpy_aborts_after_writing_moves_the_version(raising):
    # NumPy writes x, then raises FloatingPointError (np.errstate) or the RuntimeWarning
    # (warnings as errors): the version moves; a node that saved x got a copy of its old
    # value before the write
    import warnings

    w, x = gg.ones(2, requires_grad=True), gg.tensor([3e38, 1.0])
    y = (w * x).sum()
    with warnings.catch_warnings(), np.errstate(over="raise" if raising == "errstate"
                                                else "warn"):
        warnings.simplefilter("error")
        with pytest.raises((FloatingPointError, RuntimeWarning)):
            x *= 10.0
    assert x._vc[0] == 1 and np.isinf(x.numpy()[0])      # NumPy's own state of x
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.float32([3e38, 1.0]))


def test_dot_of_arrays_scalars_and_graphs_is_numpys_dot():
    rng = np.random.default_rng(5)
    a32, b32 = rng.standard_normal((8, 16, 64)).astype("f4"), rng.standard_normal((64, 32)).astype("f4")
    np.testing.assert_array_equal(gnp.dot(a32, b32).numpy(), np.dot(a32, b32), strict=True)
    t = gg.tensor(a32, requires_grad=True)
    y = gnp.dot(t, gnp.asarray(b32))                      # N-d, in a graph: the DotND op
    np.testing.assert_array_equal(y.numpy(), np.dot(a32, b32), strict=True)
    y.sum().backward()
    # float32 sums of 32 terms that partly cancel: bounded by 32 * eps * sum |b| per row (the
    # BLAS kernel's order of additions varies with the CPU)
    want = b32.astype("f8").sum(1)
    bound = 32 * np.finfo("f4").eps * np.abs(b32.astype("f8")).sum(1)
    assert np.all(np.abs(t.grad.numpy() - want) <= bound)
    s, v = np.complex128(0.3 + 0.7j), rng.standard_normal(5) + 1j * rng.standard_normal(5)
    ts = gg.tensor(s, requires_grad=True)
    np.testing.assert_array_equal(gnp.dot(ts, gnp.asarray(v)).numpy(), np.dot(s, v), strict=True)


@pytest.mark.parametrize("write", ["setitem", "setitem_f64", "fill_", "copy_", "iadd_f64"])
def test_every_inplace_write_numpy_aborts_after_writing_moves_the_version(write):
    import warnings

    w, x = gg.ones(2, requires_grad=True), gg.tensor([1.0, 1.0])     # float32
    big = np.array([1e300, 1.0])                                     # float64: overflows
    y = (w * x).sum()
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        with pytest.raises((FloatingPointError, RuntimeWarning)):
            if write == "setitem":
                x[:] = big
            elif write == "setitem_f64":
                x[:] = gg.tensor(big, dtype="float64")
            elif write == "fill_":
                x.fill_(1e300)
            elif write == "copy_":
                x.copy_(gg.tensor(big, dtype="float64"))
            else:
                x += gg.tensor(big, dtype="float64")
    if x._vc[0] == 0:                 # NumPy refused before writing: x must be untouched
        assert x.tolist() == [1.0, 1.0]
    y.backward()                      # y's node kept x's old value
    assert w.grad.tolist() == [1.0, 1.0]


def test_numpy_own_results_never_share_an_inputs_memory():
    # gnp.einsum computes with NumPy's own outside a graph; NumPy returns views for these
    x = gnp.zeros((3, 3))
    for spec in ("ii->i", "ij->ji", "ij->ij"):
        r = gnp.einsum(spec, x)
        assert not np.shares_memory(r.numpy(), x.numpy()), spec
    # the breaker's case: the input is written later with a value that requires grad
    w = gg.tensor(2.0, dtype="float64", requires_grad=True)
    x = gnp.zeros((3, 3))
    d = gnp.einsum("ii->i", x)
    x[0, 0] = w
    loss = (d * d).sum() + w          # d is the diagonal as it was: zeros
    loss.backward()
    assert loss.item() == 2.0 and w.grad.item() == 1.0
