"""A compiled step's signature holds its inputs' memory layout: a call in a new layout (C,
Fortran, transposed, strided, reversed, broadcast) records again, and the replay's static
buffer has the input's strides, so results that read the layout (order 'K'/'A', copies,
``*_like``, ``astype``, summation order) equal the uncompiled call's and NumPy's, bit for
bit, whatever layout was recorded first."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.capture.inputs import signature, static_buffer

# name: fn(m, x) for m in (gpugrad.numpy, numpy); each turns the layout into values
OPS = {
    "ravel_K": lambda m, x: m.ravel(x, "K") * 1.0,
    "flatten_K": lambda m, x: x.flatten("K") * 1.0,
    "flatten_A": lambda m, x: x.flatten("A") * 1.0,
    "reshape_A": lambda m, x: m.reshape(x, (-1,), order="A") * 1.0,
    "copy": lambda m, x: m.ravel(m.copy(x), "K") * 1.0,
    "array": lambda m, x: m.ravel(m.array(x), "K") * 1.0,
    "copy_method_K": lambda m, x: x.copy("K").ravel("K") * 1.0,
    "zeros_like": lambda m, x: m.ravel(m.zeros_like(x) + x, "K") * 1.0,
    "astype": lambda m, x: m.ravel(x.astype(np.float32), "K") * 1.0,
    "sum": lambda m, x: m.sum(x * 1.0, axis=0),
}

_base = np.random.default_rng(0).standard_normal((5, 6)) * 1e3
LAYOUTS = {
    "C": _base,
    "F": np.asfortranarray(_base),
    "T_strided": (np.random.default_rng(2).standard_normal((12, 10)) * 1e3)[::2, ::2].T,
    "strided": (np.random.default_rng(1).standard_normal((10, 12)) * 1e3)[::2, ::2],
    "reversed": np.ascontiguousarray(_base[::-1, ::-1])[::-1, ::-1],
    "broadcast": np.broadcast_to(_base[:1], (5, 6)),
}
SEQUENCES = [("C", "F", "T_strided", "strided", "reversed", "broadcast", "C", "F"),
             ("F", "C", "broadcast", "reversed", "T_strided", "F")]


@pytest.mark.parametrize("seq", SEQUENCES, ids=lambda s: s[0] + "_first")
@pytest.mark.parametrize("name", sorted(OPS))
def test_layout_reading_ops_compiled_equal_eager_and_numpy(name, seq):
    op = OPS[name]
    step = gg.compile(lambda x: op(gnp, x))
    for k in seq:
        x = LAYOUTS[k]
        want = np.asarray(op(np, x))
        eager = op(gnp, gnp.asarray(x)).numpy()
        got = step(gnp.asarray(x)).numpy()
        assert eager.tobytes() == want.tobytes(), (k, "eager vs numpy")
        assert got.tobytes() == want.tobytes(), (k, "compiled vs numpy")
    # each new layout recorded once, then replayed
    assert step.recordings == len({signature((gnp.asarray(LAYOUTS[k]),), {})[0] for k in seq})
    assert step.recordings == len(set(seq))


def test_signature_tells_layouts_apart_and_buffers_keep_strides():
    keys = {k: signature((gnp.asarray(x),), {})[0] for k, x in LAYOUTS.items()}
    assert len(set(keys.values())) == len(keys)
    # the same layout at another offset of another parent: one key
    other = np.zeros((11, 12))[1::2, 1::2]
    assert signature((other,), {})[0] == signature((LAYOUTS["strided"],), {})[0]
    for k, x in LAYOUTS.items():
        buf = static_buffer(x)
        assert buf.strides == x.strides and buf.shape == x.shape and buf.dtype == x.dtype, k
        assert np.array_equal(buf, x), k
        assert not np.shares_memory(buf, x), k


def test_replay_copies_each_call_into_the_layout_buffer():
    step = gg.compile(lambda x: gnp.ravel(x, "K") * 1.0)
    for scale in (1.0, 2.0, -3.0):
        x = np.asfortranarray(_base * scale)
        assert step(x).numpy().tobytes() == np.ravel(x, "K").tobytes()
    assert step.recordings == 1


# ---------------------------------------------------------------- cross-entropy buffers
def _logits(kind, n, c, dt):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((n, c)) * 3).astype(dt)
    if kind == "F":
        return np.asfortranarray(x)
    if kind == "strided":
        return np.asfortranarray((rng.standard_normal((n, 2 * c)) * 3).astype(dt))[:, ::2]
    return x


@pytest.mark.parametrize("kind", ["C", "F", "strided"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_buffers_in_the_logits_layout_give_the_ops_bits(kind, dt):
    from gpugrad.ops import cross_entropy_xp as ce
    from gpugrad.ops.logits import CrossEntropy
    x = _logits(kind, 32, 64, dt)
    t = np.random.default_rng(4).integers(0, 64, 32)
    node = CrossEntropy()
    want = node.forward(x, t)
    gw, _ = node.backward(np.array(1.0, dt))
    out = ce.Buffers(32, 64, x.dtype, t.dtype, like=x)
    safe_t, valid, _ = ce.targets(x, t, -100, out)
    ans, probs, count, _ = ce.forward(x, safe_t, valid, None, "mean", 0.0, out)
    g = ce.backward(np.array(1.0, dt), probs, safe_t, valid, count, None, "mean", 0.0, out)
    assert np.asarray(ans).tobytes() == np.asarray(want).tobytes()
    assert g.strides == gw.strides and g.tobytes() == gw.tobytes()


@pytest.mark.parametrize("logits", ["fortran_matmul", "strided", "linear_F_input"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_compiled_cross_entropy_on_laid_out_logits_is_bit_exact(logits, dt):
    from gpugrad import nn, optim
    n, d, c = 16, 8, 64
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((n, d)).astype(dt) for _ in range(4)]
    if logits == "linear_F_input":
        xs = [np.asfortranarray(x) for x in xs]
    ys = [rng.integers(0, c, n) for _ in range(4)]

    def make():
        W = nn.Parameter(gg.tensor(rng.standard_normal((d, 2 * c)).astype(dt)))
        W.data[...] = np.random.default_rng(6).standard_normal((d, 2 * c)).astype(dt)
        opt = optim.SGD([W], lr=0.5)

        def body(x, y):
            if logits == "fortran_matmul":
                z = (W[:, :c].T @ x.T).T
            elif logits == "strided":
                z = gg.linear(x, W)[:, ::2]
            else:
                z = gg.linear(x, W[:, :c])
            loss = nn.functional.cross_entropy(z, y)
            loss.backward(); opt.step(); opt.zero_grad()
            return loss
        return W, body
    W1, eager = make()
    W2, body = make()
    step = gg.compile(body)
    for x, y in zip(xs, ys):
        a = eager(gnp.asarray(x), gg.tensor(y)).numpy()
        b = step(gnp.asarray(x), gg.tensor(y)).numpy()
        assert a.tobytes() == b.tobytes()
        assert W1.numpy().tobytes() == W2.numpy().tobytes()
    assert step.recordings == 1


def test_layouts_that_cannot_change_a_result_key_alike():
    # single elements and rows of matrices of different widths, and empty slices: their
    # strides differ only where an axis has length 1 or nothing is stored -- one tape each
    calls = []

    def body(x):
        calls.append(1)
        return (x * 2.0).sum()
    step = gg.compile(body)
    for w in range(2, 12):
        one = np.arange(4.0 * w).reshape(4, w)[1:2, 1:2]      # (1, 1), strides (8w, 8)
        np.testing.assert_array_equal(step(gnp.asarray(one)).numpy(), (one * 2.0).sum())
    assert len(calls) == 1
    calls.clear()
    for w in range(2, 6):
        np.testing.assert_array_equal(step(gnp.asarray(np.ones((3, w))[:0, :2])).numpy(), 0.0)
    assert len(calls) == 1
    calls.clear()
    for w in range(3, 7):                                     # (1, 3) rows, strides (8w, 8)
        row = np.asfortranarray(np.arange(3.0 * w).reshape(3, w))[1:2, :3].copy()[:, ::-1]
        np.testing.assert_array_equal(step(gnp.asarray(row)).numpy(), (row * 2.0).sum())
    assert len(calls) == 1
