"""An index array is read when the indexing runs (``y = x[idx]`` is NumPy's copy of those
elements), so a write into ``idx`` afterwards changes neither ``y`` nor its gradient.  The
indexing nodes kept the caller's index array itself -- a tensor's array or a NumPy array --
and read it again at backward: ``idx[1] = 1`` after ``y = x[idx]`` sent ``y``'s gradient to
the new positions, silently (PyTorch raises "modified by an inplace operation" there).  A
recorded indexing node now keeps its own copy of every index array in its key: the gradient
is the one of the elements read.  Each way a key reaches a node -- getitem, take,
take_along_axis, ``np.ix_``, a mask beside an integer array, ``x[idx] = v``,
put_along_axis, ``np.add.at``, ``.flat`` -- with the key a tensor or a NumPy array, against
finite differences in float64; and through gg.compile, bit for bit with the uncompiled step."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

X = numpy.array([0.3, -1.2, 0.7, 2.0, 0.5, -0.4])
C = numpy.array([1.0, 10.0, 100.0])


def _program(kind, np, x, make):
    """``sum(y * C)`` for ``y`` read (or written) with index arrays ``make`` gives, which are
    then written into (NumPy: the values already read stay as they are)."""
    idx = make([0, 2, 1])
    m = make([True, False, True, True, False, True])
    if kind == "getitem":
        y, arr = x[idx], idx
    elif kind == "take":
        y, arr = np.take(x, idx), idx
    elif kind == "take_along_axis":
        y, arr = np.take_along_axis(x.reshape(2, 3), idx[None, :], axis=1)[0], idx
    elif kind == "ix_":
        y, arr = x.reshape(2, 3)[np.ix_(idx[:1], idx)][0], idx
    elif kind == "rows_and_columns":
        y, arr = x.reshape(2, 3)[idx % 2, idx], idx
    elif kind == "mask_and_array":
        y, arr = x.reshape(2, 3)[m[:2], idx[:2]], idx
        y = np.concatenate([y, y[:1]])
    elif kind == "flat":
        y, arr = x.flat[idx], idx
    elif kind == "setitem":
        h = np.zeros(6)
        h[idx] = x[:3] * 1.0
        y, arr = h[:3], idx
    elif kind == "put_along_axis":
        h = np.zeros(6)
        np.put_along_axis(h, idx, x[:3], axis=0)
        y, arr = h[:3], idx
    elif kind == "add_at":
        h = np.zeros(6)
        np.add.at(h, idx, x[:3])
        y, arr = h[:3], idx
    else:
        raise AssertionError(kind)
    arr[0] = 1                       # written after the node read it
    arr[2] = 0
    return np.sum(y * C)


KINDS = ["getitem", "take", "take_along_axis", "ix_", "rows_and_columns", "mask_and_array",
         "flat", "setitem", "put_along_axis", "add_at"]


def _finite_differences(kind, eps=1e-6):
    fd = numpy.zeros_like(X)
    for i in range(X.size):
        d = numpy.zeros_like(X)
        d[i] = eps
        fd[i] = (_program(kind, numpy, X + d, numpy.array)
                 - _program(kind, numpy, X - d, numpy.array)) / (2 * eps)
    return fd


@pytest.mark.parametrize("key", ["tensor", "ndarray"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_write_into_the_index_after_the_read_leaves_the_gradient(kind, key):
    make = gnp.array if key == "tensor" else numpy.array
    value = _program(kind, gnp, gg.tensor(X), make)
    assert float(value) == _program(kind, numpy, X, numpy.array)
    g = gg.grad(lambda t: _program(kind, gnp, t, make))(gg.tensor(X))
    numpy.testing.assert_allclose(numpy.asarray(g.data), _finite_differences(kind),
                                  rtol=1e-7, atol=1e-8)


def test_the_key_written_in_the_step_replays_as_uncompiled():
    def trainer(compiled):
        W = gg.nn.Parameter(gg.tensor(numpy.random.default_rng(0).normal(size=(3, 3))))
        opt = gg.optim.SGD([W], lr=0.1)

        def step(x, k):
            k2 = k * 1
            y = (W @ x)[k2]              # reads rows k2
            k2[0] = 0                    # then moves the index
            loss = gnp.sum(y * gnp.array([1.0, 10.0]))
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss
        return (gg.compile(step) if compiled else step), W

    eager, We = trainer(False)
    comp, Wc = trainer(True)
    W0 = We.data.copy()
    x0, k0 = gg.tensor(numpy.array([0.5, -1.0, 2.0])), gg.tensor([2, 1])
    eager(x0, k0)
    # dL/dW for L = W[2] @ x + 10 W[1] @ x: rows 2 and 1 (row 0 is what the write points at)
    want = numpy.zeros((3, 3))
    want[2], want[1] = x0.data, 10 * x0.data
    numpy.testing.assert_allclose((W0 - We.data) / 0.1, want, rtol=1e-12)
    comp(x0, k0)
    assert numpy.array_equal(Wc.data, We.data)
    rng = numpy.random.default_rng(1)
    for i in range(3):
        x, k = gg.tensor(rng.normal(size=3)), gg.tensor([i, (i + 1) % 3])
        assert comp(x, k).item() == eager(x, k).item()
        assert numpy.array_equal(Wc.data, We.data)
    assert comp.recordings == 1
