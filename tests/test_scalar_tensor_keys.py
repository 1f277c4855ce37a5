"""A 0-d integer tensor in an index key acts as the integer it holds, as the NumPy scalar it
stands for does (gpugrad.numpy returns 0-d tensors where NumPy returns scalars: iterating an
integer array, argmax, integer random draws): ``X[i]`` is a view, so a write through it
reaches ``X``.  A 0-d ndarray key keeps NumPy's meaning (an index array: a copy).  On CUDA
too (the int is read to the host, as PyTorch does); a gg.compile recording refuses a read that
would be a view uncompiled (a copy there would differ silently), on every device."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from conftest import CUDA_SKIP, DEVICES, FAKE_CUDA
from gpugrad.backend import DeviceMismatchError


def _both(program):
    want, got = program(np), program(gnp)
    np.testing.assert_array_equal(np.asarray(got.numpy() if hasattr(got, "numpy") else got),
                                  want)


def test_writes_through_a_row_picked_by_an_iterated_index():
    def program(m):
        X = m.zeros((3, 3))
        for i in m.arange(3):
            X[i][i] = 1
        return X
    _both(program)


def test_writes_through_a_row_picked_by_argmax():
    def program(m):
        X = m.zeros((3, 2))
        idx = m.argmax(m.array([0.0, 5.0, 1.0]))
        X[idx][0] = 7
        row = X[idx, :]
        row += 1
        return X
    _both(program)


def test_the_row_is_a_view_and_differentiates():
    x = np.arange(6.0).reshape(3, 2)
    i = gnp.argmax(gnp.array([0.0, 5.0, 1.0]))

    def loss(x):
        y = x * 1.0
        r = y[i]
        r *= 3.0
        return (y * y).sum()
    g = gg.grad(loss)(x)
    want = 2 * np.arange(6.0).reshape(3, 2)
    want[1] *= 9.0
    np.testing.assert_allclose(np.asarray(g), want)


def test_a_zero_d_ndarray_key_keeps_numpy_meaning():
    X = gnp.zeros((3, 3))
    X[np.array(1)][0] = 5.0        # NumPy: an index array, a copy -- the write is lost
    want = np.zeros((3, 3))
    want[np.array(1)][0] = 5.0
    np.testing.assert_array_equal(X.numpy(), want)


# --- inside a gg.compile recording: eager reads the key as an int (a view), which a replay
# could not do again; a copy there would make the compiled step silently differ -- refused


def test_compiled_step_refuses_a_write_through_a_row_picked_by_a_0d_tensor():
    from gpugrad.capture import CaptureError

    def step(X):
        for i in gnp.arange(3):
            X[i][i] = 1.0
        return X * 1.0

    eager = step(gnp.zeros((3, 3)))
    np.testing.assert_array_equal(eager.numpy(), np.eye(3))
    with pytest.raises(CaptureError, match="0-d integer tensor"):
        gg.compile(step)(gnp.zeros((3, 3)))


def test_compiled_step_refuses_a_0d_tensor_input_as_a_key():
    from gpugrad.capture import CaptureError

    def step(X, i):
        X[i][0] = 2.0
        return X * 1.0

    np.testing.assert_array_equal(step(gnp.zeros((3, 2)), gg.tensor(1)).numpy(),
                                  [[0, 0], [2, 0], [0, 0]])
    with pytest.raises(CaptureError, match="0-d integer tensor"):
        gg.compile(step)(gnp.zeros((3, 2)), gg.tensor(1))


def test_a_recording_in_another_thread_leaves_this_threads_keys_as_ints():
    import threading

    from gpugrad import capture_hooks

    started, done = threading.Event(), threading.Event()

    def record():
        with capture_hooks.recording(object()):
            started.set()
            done.wait(10)

    th = threading.Thread(target=record)
    th.start()
    try:
        assert started.wait(10)
        X = gnp.zeros((3, 3))
        for i in gnp.arange(3):
            X[i][i] = 1
        np.testing.assert_array_equal(X.numpy(), np.eye(3))
    finally:
        done.set()
        th.join()



def test_compiled_step_reads_one_element_with_0d_tensor_keys():
    """One element is a copy eagerly too, so a recorded read of it is the same step: it
    records, and each replay reads the element the keys hold at that call."""
    c1 = gg.compile(lambda v, i: v[i] * 2.0)
    c2 = gg.compile(lambda X, i, j: X[i, j] * 3.0)
    v = gnp.array([1.0, 2.0, 3.0])
    X = gnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    for k in (0, 2, 1):
        assert c1(v, gg.tensor(k)).item() == 2.0 * (k + 1)
        assert c2(X, gg.tensor(k), gg.tensor(1)).item() == 3.0 * (2 * k + 2)


# ================================================================ every device (CUDA: host read)
def _key(k, device):
    return gg.tensor(k, device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_a_row_read_through_a_0d_key_is_a_view_on_every_device(device):
    X = gg.tensor(np.arange(6.0).reshape(3, 2), device=device)
    r = X[_key(1, device)]
    r[0] = -1.0                    # a view: the write reaches X
    r += 10.0
    want = np.arange(6.0).reshape(3, 2)
    want[1, 0] = -1.0
    want[1] += 10.0
    np.testing.assert_array_equal(X.cpu().numpy(), want)
    np.testing.assert_array_equal(r.cpu().numpy(), want[1])


@pytest.mark.parametrize("device", DEVICES)
def test_chained_writes_with_iterated_keys_on_every_device(device):
    gg.set_default_device(device)
    X = gnp.zeros((3, 3))
    for i in gnp.arange(3):
        X[i][i] = 1
    idx = gnp.argmax(gnp.array([0.0, 5.0, 1.0]))
    X[idx][0] = 7
    assert X.device.type == device
    want = np.eye(3)
    want[1][0] = 7
    np.testing.assert_array_equal(X.cpu().numpy(), want)


@pytest.mark.parametrize("device", DEVICES)
def test_setitem_with_0d_keys_on_every_device(device):
    X = gg.tensor(np.arange(12.0).reshape(3, 4), device=device)
    i, j = _key(2, device), _key(1, device)
    want = np.arange(12.0).reshape(3, 4)
    X[i] = 5.0
    want[2] = 5.0
    X[i, j] = -3.0
    want[2, 1] = -3.0
    X[0, j] += 100.0
    want[0, 1] += 100.0
    X[i - 1, 1:] = gg.tensor([7.0, 8.0, 9.0], device=device)
    want[1, 1:] = [7.0, 8.0, 9.0]
    np.testing.assert_array_equal(X.cpu().numpy(), want)


@pytest.mark.parametrize("device", DEVICES)
def test_tuples_mixing_ints_and_0d_keys_read_views_on_every_device(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    for key in [(1, "j"), ("i", 2), ("i", slice(None), "j"), (Ellipsis, "j"),
                ("i", None, 1), (0, "j", slice(1, 3))]:
        X = gg.tensor(a, device=device)
        gk = tuple(_key(1, device) if c == "i" else _key(2, device) if c == "j" else c
                   for c in key)
        nk = tuple(1 if c == "i" else 2 if c == "j" else c for c in key)
        v = X[gk]
        np.testing.assert_array_equal(v.cpu().numpy(), a[nk])
        v[...] = -1.0              # a view, as NumPy's X[ints...]: the write reaches X
        want = a.copy()
        want[nk] = -1.0
        np.testing.assert_array_equal(X.cpu().numpy(), want, err_msg=str(key))
    e = gg.tensor(a, device=device)[_key(1, device), _key(2, device), _key(3, device)]
    assert e.shape == () and e.item() == a[1, 2, 3]


@pytest.mark.parametrize("device", DEVICES)
def test_gradient_through_a_0d_key_equals_the_ints(device):
    a = np.arange(12.0).reshape(3, 4)
    grads = []
    for k in (lambda n: n, lambda n: _key(n, device)):
        x = gg.tensor(a, device=device, requires_grad=True, dtype="float64")
        y = x * 1.0
        r = y[k(1)]
        r *= 3.0                   # through the view: y[1] is tripled
        loss = (y * y).sum() + (x[k(2), k(3)] * 5.0) + (x[k(0), 1:] ** 3).sum()
        loss.backward()
        grads.append(x.grad.cpu().numpy())
    want = 2 * a
    want[1] *= 9.0
    want[2, 3] += 5.0
    want[0, 1:] += 3 * a[0, 1:] ** 2
    np.testing.assert_allclose(grads[0], want)
    np.testing.assert_array_equal(grads[1], grads[0])


@pytest.mark.parametrize("device", DEVICES)
def test_compiled_step_on_every_device_refuses_a_view_read_and_records_an_element(device):
    from gpugrad.capture import CaptureError

    def step(X, i):
        X[i][0] = 2.0
        return X * 1.0

    with pytest.raises(CaptureError, match="0-d integer tensor"):
        gg.compile(step, cuda_graphs=not FAKE_CUDA)(gg.zeros((3, 2), device=device),
                                                    _key(1, device))
    c = gg.compile(lambda X, i, j: X[i, j] * 3.0, cuda_graphs=not FAKE_CUDA)
    X = gg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], device=device)
    for k in (0, 2, 1):
        assert c(X, _key(k, device), _key(1, device)).item() == 3.0 * (2 * k + 2)
    assert c.recordings == 1


@pytest.mark.cuda
@CUDA_SKIP
def test_a_cuda_0d_key_into_a_cpu_tensor_is_a_device_mismatch():
    with pytest.raises(DeviceMismatchError, match="cuda"):
        gg.zeros((3, 2))[gg.tensor(1, device="cuda")]
    x = gg.zeros((3, 2))
    with pytest.raises(DeviceMismatchError, match="cuda"):
        x[gg.tensor(1, device="cuda")] = 1.0
    np.testing.assert_array_equal(x.numpy(), np.zeros((3, 2)))
