"""Python lists of numbers as operands and written values inside a compiled step
(``y * [1.0, 2.0, 0.0]``, ``h[rows] = [0.5, 1.5]``): uncompiled they run; recorded, the array
they convert to was refused as "an array ... that no recorded gpugrad call made" -- a
message about an array the step never had.  They are constants of the recording, as Python
numbers are: each replay makes them anew from the values read at recording (a list changed
in place afterwards is not read again -- Python runs once, at recording).  Bit for bit
against the uncompiled step."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as np

VALUES, ROWS = [1.0, 2.0, 0.0], [0, 2]


def _program(kind, W, x):
    y = np.tanh(W @ x)
    if kind == "times_list":
        r = y * VALUES
    elif kind == "list_times":
        r = np.multiply(VALUES, y)
    elif kind == "tuple_minus":
        r = y - tuple(VALUES)
    elif kind == "written_list":
        r = y * 1.0
        r[ROWS] = VALUES[:2]
    elif kind == "written_list_with_a_tensor":
        r = y * 1.0
        r[ROWS] = [VALUES[0], y[1]]
    else:
        raise AssertionError(kind)
    return np.sum(r * r)


def _trainer(kind, compiled):
    W = gg.nn.Parameter(gg.tensor(numpy.random.default_rng(0).normal(size=(3, 3))))
    opt = gg.optim.SGD([W], lr=0.1)

    def step(x):
        loss = _program(kind, W, x)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss
    return (gg.compile(step) if compiled else step), W


@pytest.mark.parametrize("kind", ["times_list", "list_times", "tuple_minus", "written_list",
                                  "written_list_with_a_tensor"])
def test_python_values_in_a_compiled_step(kind):
    rng = numpy.random.default_rng(1)
    eager, We = _trainer(kind, False)
    comp, Wc = _trainer(kind, True)
    try:
        for i in range(4):
            x = gg.tensor(rng.normal(size=3))
            if i == 2:
                VALUES[:] = [5.0, -1.0, 3.0]     # changed in place: not read again
            got = comp(x).item()
            VALUES[:] = [1.0, 2.0, 0.0]
            assert got == eager(x).item()
            assert numpy.array_equal(Wc.data, We.data)
    finally:
        VALUES[:] = [1.0, 2.0, 0.0]
    assert comp.recordings == 1
