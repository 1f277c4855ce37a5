"""Writes through writable views of a tensor that already joined a graph.

``sliding_window_view(y, n, writeable=True)`` taken after ``y`` joined a graph came back
read-only, and the overlap-add that followed failed with NumPy's "assignment destination is
read-only"; it is now writable, and the write differentiates (against finite differences).
Found beside it: a write through a 2-D ``as_strided`` view raised a shape error; windows of
a view (``sliding_window_view(y[1:], ...)``, of ``y.reshape(...)``) left ``y`` stale after
the second write (its base was re-linked through a Reshape of a temporary); a write that
shows an element twice raised only after it had written; and a compiled step that writes
through windows failed at its first replay.  The other functions that hand out writable
views (``.T``, reshape, real/imag, as_strided) give the gradient; ``diagonal``,
``broadcast_to`` stay read-only, as NumPy's."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as np

ST, NST = np.lib.stride_tricks, numpy.lib.stride_tricks


def _check_gradient(program, a, n_out, device="cpu", rtol=1e-6):
    """gg.grad of sum(program(np) * w) at ``a`` against central differences of the NumPy
    program (float64)."""
    w = numpy.linspace(0.5, 2.0, n_out)

    def loss_np(v):
        return float(numpy.sum(program(numpy, NST, v).reshape(-1) * w))

    got = program(np, ST, gg.tensor(a, device=device))
    numpy.testing.assert_array_equal(gg.tensor(got).cpu().numpy(), program(numpy, NST, a))
    wt = gg.tensor(w, device=device)
    g = gg.grad(lambda t: np.sum(np.reshape(program(np, ST, t), (-1,)) * wt))(
        gg.tensor(a, device=device))
    eps, fd = 1e-6, numpy.zeros_like(a)
    for i in range(a.size):
        d = numpy.zeros_like(a)
        d[i] = eps
        fd[i] = (loss_np(a + d) - loss_np(a - d)) / (2 * eps)
    numpy.testing.assert_allclose(g.cpu().numpy(), fd, rtol=rtol, atol=1e-9)


A = numpy.array([0.5, -1.5, 2.0, 3.0, 0.7, -0.3])


def _overlap_add(m, st, a):
    y = m.zeros_like(a, shape=12)
    y[0] = a[0] * 2.0                    # y joins the graph before the windows are taken
    y[1:3] = a[1:3] ** 2
    win = st.sliding_window_view(y, 4, writeable=True)[::2]
    for i in range(4):
        win[i] += a[i] * a[(i + 1) % 6]  # overlap-add: each window once, windows overlap
    win[3, 2] = a[5]                     # one element
    return y


def _overlap_add_into_a_constant(m, st, a):
    y = m.zeros_like(a, shape=12)        # y joins the graph by the first write
    win = st.sliding_window_view(y, 4, writeable=True)[::2]
    for i in range(4):
        win[i] += a[i] * a[(i + 1) % 6]
    win[3, 2] = a[5]
    return y


def test_windows_of_a_tensor_in_a_graph_are_writable():
    y = np.zeros(6)
    y[0] = gg.tensor([2.0], requires_grad=True)[0]
    win = ST.sliding_window_view(y, 3, writeable=True)
    assert win.requires_grad and win.data.flags.writeable   # (it was read-only)


@pytest.mark.parametrize("program", [_overlap_add, _overlap_add_into_a_constant])
def test_overlap_add_on_every_device(program, device):
    # on CUDA, CuPy's as_strided has no .base: the windows were not seen as views of y (the
    # gradient missed every write through them, and one element written went nowhere)
    _check_gradient(program, A, 12, device)


def test_overlap_add_after_the_base_joined_a_graph():
    _check_gradient(_overlap_add, A, 12)


def _as_strided_2d(m, st, a):
    y = m.zeros_like(a, shape=12)
    y[0] = a[0] * 2.0
    v = st.as_strided(y, shape=(3, 2), strides=(4 * y.itemsize, y.itemsize), writeable=True)
    v[1] = a[:2] * 5.0
    v[:, 1] += a[3:6]
    return y


def _as_strided_2d_of_a_constant(m, st, a):
    y = m.zeros_like(a, shape=12)
    v = st.as_strided(y, shape=(3, 2), strides=(4 * y.itemsize, y.itemsize), writeable=True)
    v[:, 1] = a[3:6] * a[0]
    return y


@pytest.mark.parametrize("program", [_as_strided_2d, _as_strided_2d_of_a_constant])
def test_write_through_a_2d_as_strided_view(program):
    _check_gradient(program, A, 12)    # (setitem: a value of shape (6,) ... shape (3, 2))


def _windows_of_a_slice(m, st, a):
    y = m.zeros_like(a, shape=14)
    win = st.sliding_window_view(y[1:13], 4, writeable=True)[::2]
    win[1] += a[:4]
    win[3] += a[2:6] * a[0]
    return y * a[5]


def _windows_of_a_reshape(m, st, a):
    y = m.zeros_like(a, shape=12)
    y[5] = a[4]
    win = st.sliding_window_view(y.reshape(3, 4), (2, 2), writeable=True)[:, ::2]
    win[1, 1] += a[:4].reshape(2, 2)
    win[0, 0] -= a[2:6].reshape(2, 2)
    return y * a[5]


@pytest.mark.parametrize("program", [_windows_of_a_slice, _windows_of_a_reshape])
def test_windows_of_a_view_reach_its_base(program, device):
    _check_gradient(program, A, 14 if program is _windows_of_a_slice else 12, device)


def test_an_ambiguous_write_raises_before_writing():
    x = gg.tensor(numpy.arange(6.0), requires_grad=True)
    for ingraph in (False, True):
        y = np.zeros(6)
        if ingraph:
            y[5] = x[5]
        before = y.numpy().copy()
        win = ST.sliding_window_view(y, 3, writeable=True)
        with pytest.raises(RuntimeError, match="shows an element more than once"):
            win[0:2] += x[:3]              # y[1] and y[2] are in both windows
        numpy.testing.assert_array_equal(y.numpy(), before)
        with pytest.raises(RuntimeError, match="shows an element more than once"):
            win[0:2] = 1.0 if ingraph else x[:3]
        numpy.testing.assert_array_equal(y.numpy(), before)


def _real_imag(m, st, a):
    y = m.zeros_like(a, dtype=complex, shape=6)
    y[0] = a[0] * 2.0
    r = y.real
    r[2:5] += a[:3]
    i = m.imag(y)
    i[1:4] = a[3:6] * a[0]
    return y.real * y.imag + y.real ** 2


def _transpose_reshape(m, st, a):
    y = m.zeros_like(a, shape=12)
    y[0] = a[0] * 2.0
    v = y.reshape(3, 4).T
    v[1] = a[:3]
    v[3] *= a[3]
    m.reshape(y, (4, 3))[:, 1] += a[2:6]
    return y


def _as_strided_default(m, st, a):
    y = m.zeros_like(a, shape=12)
    y[0] = a[0] * 2.0
    v = st.as_strided(y)
    v[4] = a[4] * a[1]
    return y


@pytest.mark.parametrize("program", [_real_imag, _transpose_reshape, _as_strided_default])
def test_other_writable_views_of_a_tensor_in_a_graph(program):
    _check_gradient(program, A, 6 if program is _real_imag else 12)


@pytest.mark.parametrize("make", [lambda y: np.diagonal(y.reshape(3, 4)),
                                  lambda y: y.reshape(3, 4).diagonal(),
                                  lambda y: np.broadcast_to(y[:1], (3,))])
def test_read_only_views_stay_read_only_as_numpy_s(make):
    y = np.zeros(12)
    y[0] = gg.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="read-only"):
        make(y)[1] = 2.0
    with pytest.raises(ValueError, match="read-only"):
        make(numpy.zeros(12))[1] = 2.0   # (NumPy's own)


def _windows_trainer():
    w = gg.nn.Parameter(gg.tensor(numpy.random.default_rng(0).normal(size=4)))
    opt = gg.optim.SGD([w], lr=0.05)

    def step(F):
        y = np.zeros(10)
        y[0] = w[0]                          # y in the graph before its windows are taken
        win = ST.sliding_window_view(y, 4, writeable=True)[::2]
        for i in range(4):
            win[i] += F[i] * w
        loss = np.sum(y ** 2)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    return step, w


def test_compiled_step_writing_through_windows_replays():
    rng = numpy.random.default_rng(1)
    frames = [gg.tensor(rng.normal(size=(4, 4))) for _ in range(4)]
    eager, we = _windows_trainer()
    step, wc = _windows_trainer()
    comp = gg.compile(step)
    for F in frames:      # ('AsStrided' object has no attribute 'pos' at the first replay)
        assert comp(F).item() == eager(F).item()
        assert numpy.array_equal(wc.data, we.data)
    assert comp.recordings == 1
