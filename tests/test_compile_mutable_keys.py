"""A write key held in a Python list the compiled step closes over (``h[rows] = v``,
``h[rows, cols] = v``, ``h.flat[positions] = v``), changed in place between calls.  Python
runs once, at recording: a replay reads the values the step read then (the list is not
rebound, so the step is not recorded again).  The replay read the list again -- writing the
new positions -- while the recording's check of the write (backward's "modified by an
in-place operation", :mod:`gpugrad.write_log`) was made for the old ones: with the list
moved onto a row a node had saved, the replay overwrote it and the gradient read the new
values, silently (uncompiled, that call raises).  Each replay now writes the recorded
positions: bit for bit the uncompiled step with the list as it was at recording."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as np

ROWS, COLS, FLAT = [2], [0, 1, 2], [6, 7, 8]


def _write(kind, h, v):
    if kind == "rows":
        h[ROWS] = v[None]
    elif kind == "rows_and_columns":
        h[ROWS, COLS] = v
    elif kind == "rows_beside_a_slice":
        h[ROWS, 0:3] = v[None]
    elif kind == "flat":
        h.flat[FLAT] = v
    elif kind == "put":
        np.put(h, FLAT, v)
    else:
        raise AssertionError(kind)


def _trainer(kind, compiled):
    W = gg.nn.Parameter(gg.tensor(numpy.random.default_rng(0).normal(size=(3, 3))))
    opt = gg.optim.SGD([W], lr=0.1)

    def step(x):
        h = np.zeros((4, 3))
        h[0] = x
        h[1] = np.tanh(W @ x)
        z = h[1] * (W @ x)                  # saves row 1 of h
        _write(kind, h, np.tanh(W @ h[1]))  # row 2 at recording
        loss = np.sum(z) + np.sum(h * h)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    return (gg.compile(step) if compiled else step), W


@pytest.mark.parametrize("kind", ["rows", "rows_and_columns", "rows_beside_a_slice", "flat",
                                  "put"])
def test_a_key_list_changed_after_recording_replays_the_recorded_positions(kind):
    rng = numpy.random.default_rng(1)
    xs = [gg.tensor(rng.normal(size=3)) for _ in range(4)]
    eager, We = _trainer(kind, False)
    comp, Wc = _trainer(kind, True)
    try:
        for i, x in enumerate(xs):
            if i == 2:                       # moved onto row 1, which z's node saved
                ROWS[0], FLAT[:] = 1, [3, 4, 5]
            got = comp(x).item()
            ROWS[0], FLAT[:] = 2, [6, 7, 8]  # (the uncompiled step: the recorded key)
            assert got == eager(x).item()
            assert numpy.array_equal(Wc.data, We.data)
    finally:
        ROWS[0], FLAT[:] = 2, [6, 7, 8]
    assert comp.recordings == 1
