"""gg.compile of a step that writes a recurrence into a preallocated buffer (``h = zeros((T,
n)); h[t] = tanh(W @ h[t - 1])``) while a node saved an earlier row, then backward and an
optimizer update: the recording logged every write as one of the whole buffer, so backward
raised "modified by an in-place operation" where the uncompiled step runs.  Each way of
writing the row -- an int, a slice, a column of ``h.T``, ``out=``, ``+=``, integer rows, a
constant index array, ``.flat``, ``np.put``, sliding windows -- now records and replays bit
for bit as the uncompiled step, over calls with new inputs.  A key computed from the call's
values (which a replay may point elsewhere) replays too: the nodes that read the buffer keep
a copy of the old rows before each write (copy-on-write, renewed at each replay), so no
version check depends on the key; a write that does reach a saved row keeps the gradient of
the uncompiled step."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as np
from gpugrad.numpy.lib.stride_tricks import sliding_window_view

T, H = 5, 3


def _write(kind, h, t, v, W, U):
    if kind == "int":
        h[t] = v
    elif kind == "slice":
        h[t:t + 1] = v[None]
    elif kind == "column":
        h.T[:, t] = v
    elif kind == "out":
        np.tanh(W @ h[t - 1] + U, out=h[t])
    elif kind == "iadd":
        h[t] += v
    elif kind == "iadd_slice":
        h[t:t + 1] += v[None]
    elif kind == "int_rows":
        h[[t]] = v[None]
    elif kind == "rows_and_columns":
        h[[t], [0, 1, 2]] = v
    elif kind == "range":
        h[range(t, t + 1)] = v[None]
    elif kind == "constant_array":
        h[np.array([t])] = v[None]
    elif kind == "flat":
        h.flat[t * H:(t + 1) * H] = v
    elif kind == "flat_list":
        h.flat[list(range(t * H, (t + 1) * H))] = v
    elif kind == "put":
        np.put(h, list(range(t * H, (t + 1) * H)), v)
    elif kind == "windows":
        sliding_window_view(h.reshape(-1), H, writeable=True)[::H][t] = v
    elif kind == "windows_iadd":
        win = sliding_window_view(h.reshape(-1), H, writeable=True)[::H]
        win[t] += v
    # keys computed from the call's values: a replay may write other rows
    elif kind == "mask_of_op":
        h[np.arange(T) == t] = v[None]
    elif kind == "argmax":
        h[np.argmax(np.arange(T) == t)[None]] = v[None]
    elif kind == "put_tensor":
        np.put(h, np.arange(t * H, (t + 1) * H), v)
    elif kind == "constant_moved":     # a constant index written with the call's values
        idx = np.array([t])
        idx += np.sum(np.abs(h[t - 1]) > 100.0)      # (0 here, but not at every call)
        h[idx] = v[None]
    else:
        raise AssertionError(kind)


def _program(kind, x, W, U):
    h = np.zeros((T, H))
    h[0] = x * U
    loss = 0.0
    for t in range(1, T):
        _write(kind, h, t, np.tanh(W @ h[t - 1] + U), W, U)
        loss = loss + np.sum(h[t] * h[t])   # saves row t; later writes move h's version
    return loss + np.sum(h ** 2)


def _trainer(kind, compiled):
    rng = numpy.random.default_rng(0)
    W = gg.nn.Parameter(gg.tensor(rng.normal(size=(H, H)) * 0.5))
    U = gg.nn.Parameter(gg.tensor(rng.normal(size=H) * 0.5))
    opt = gg.optim.SGD([W, U], lr=0.1)

    def step(x):
        loss = _program(kind, x, W, U)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    return (gg.compile(step) if compiled else step), W, U


def _inputs():
    rng = numpy.random.default_rng(1)
    return [gg.tensor(rng.normal(size=H)) for _ in range(4)]


STATIC = ["int", "slice", "column", "out", "iadd", "iadd_slice", "int_rows",
          "rows_and_columns", "range", "constant_array", "flat", "flat_list", "put", "windows",
          "windows_iadd"]


def _replays_bit_for_bit(kind):
    """The compiled trainer of ``kind`` against the eager one over the inputs: equal losses
    and weights at every step; the compiled step is returned."""
    eager, We, Ue = _trainer(kind, False)
    comp, Wc, Uc = _trainer(kind, True)
    for x in _inputs():
        assert comp(x).item() == eager(x).item()
        assert numpy.array_equal(Wc.data, We.data) and numpy.array_equal(Uc.data, Ue.data)
    return comp


@pytest.mark.parametrize("kind", STATIC)
def test_compiled_recurrence_replays_bit_for_bit(kind):
    assert _replays_bit_for_bit(kind).recordings == 1


def test_compiled_recurrence_gradient_is_the_recurrence_s():
    # the update is lr * gradient: one compiled step against finite differences (float64)
    comp, W, U = _trainer("int", True)
    x = _inputs()[0]
    comp(x)                                       # records (and takes one step)
    W0, U0 = W.data.copy(), U.data.copy()
    comp(x)                                       # replays: W <- W - 0.1 * dL/dW at W0

    def loss(Wv):
        return float(_program("int", x, gg.tensor(Wv), gg.tensor(U0)))
    eps, fd = 1e-6, numpy.zeros_like(W0)
    for i in numpy.ndindex(W0.shape):
        d = numpy.zeros_like(W0)
        d[i] = eps
        fd[i] = (loss(W0 + d) - loss(W0 - d)) / (2 * eps)
    numpy.testing.assert_allclose((W0 - W.data) / 0.1, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kind", ["mask_of_op", "argmax", "put_tensor", "constant_moved"])
def test_a_key_computed_in_the_step_replays_bit_for_bit(kind):
    _replays_bit_for_bit(kind)


def test_a_key_that_moves_between_calls_replays_the_uncompiled_gradient():
    def make(compiled):
        w = gg.nn.Parameter(gg.tensor(numpy.linspace(0.5, 2.0, 4)))

        def step(x):
            h = np.zeros(4)
            h[:] = x * w
            z = h * w                           # saves h
            h[np.argmax(x)[None]] = 0.0         # a key computed from the call's values
            loss = np.sum(z) + np.sum(h * h * w)
            loss.backward()
            return loss
        return (gg.compile(step) if compiled else step), w
    (eager, we), (comp, wc) = make(False), make(True)
    rng = numpy.random.default_rng(0)
    rows = set()
    for _ in range(6):
        x = gg.tensor(rng.normal(size=4))
        rows.add(int(numpy.argmax(x.numpy())))
        assert comp(x).item() == eager(x).item()
        assert numpy.array_equal(wc.grad.numpy(), we.grad.numpy())
        we.grad = wc.grad = None
    assert len(rows) > 1 and comp.recordings == 1


def test_a_key_computed_in_the_step_that_no_node_relies_on_replays():
    # x[x > 0] = 0 with nothing saved from x: no check to make, the key follows each call
    def step(x):
        y = x * 2.0
        y[y > 0] = 0.0
        return np.sum(y * y)
    comp = gg.compile(step)
    for x in _inputs():
        assert comp(x).item() == step(x).item()


def test_a_write_into_a_saved_row_keeps_the_gradient_when_compiled():
    W = gg.nn.Parameter(gg.tensor([[0.5]]))

    def step(x):
        h = np.zeros((3, 1))
        h[0] = x * W[0]
        z = h[0:2] * W[0]          # saves rows 0 and 1
        h[1] = x * 3.0             # writes row 1
        loss = np.sum(z)
        loss.backward()
        return loss
    step(gg.tensor([1.0]))                # z = [x w^2, 0]: dz/dw = 2 x w
    assert W.grad.tolist() == [[1.0]]
    W.grad = None
    comp = gg.compile(step)
    for _ in range(2):
        comp(gg.tensor([1.0]))
        assert W.grad.tolist() == [[1.0]]
        W.grad = None
