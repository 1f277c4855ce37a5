"""A 0-d integer tensor in an index key acts as the integer it holds, as the NumPy scalar it
stands for does (gpugrad.numpy returns 0-d tensors where NumPy returns scalars: iterating an
integer array, argmax, integer random draws): ``X[i]`` is a view, so a write through it
reaches ``X``.  A 0-d ndarray key keeps NumPy's meaning (an index array: a copy).  On CUDA
the key stays an index array (no host read of its value); a gg.compile recording refuses a read
that would be a view uncompiled (a copy there would differ silently)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


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
