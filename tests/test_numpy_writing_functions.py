"""NumPy's writing functions (copyto, fill_diagonal, putmask, place, put) on tensors: NumPy's
values and errors, and gradients inside a recorded graph (they raised TypeError there):
the written values' gradients flow back, the overwritten elements get none."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from conftest import DEVICES

RNG = np.random.default_rng(0)

# name -> (call on (module, destination, values), destination shape, values shape)
CASES = {
    "copyto": (lambda m, d, v: m.copyto(d, v), (3, 4), (4,)),
    "copyto-where": (lambda m, d, v: m.copyto(d, v, where=np.arange(12).reshape(3, 4) % 3 == 0),
                     (3, 4), (3, 4)),
    "fill_diagonal": (lambda m, d, v: m.fill_diagonal(d, v), (3, 3), (3,)),
    "fill_diagonal-short": (lambda m, d, v: m.fill_diagonal(d, v), (4, 4), (3,)),
    "fill_diagonal-wrap": (lambda m, d, v: m.fill_diagonal(d, v, wrap=True), (7, 3), (2,)),
    "fill_diagonal-3d": (lambda m, d, v: m.fill_diagonal(d, v), (2, 2, 2), (2,)),
    "putmask": (lambda m, d, v: m.putmask(d, np.arange(12).reshape(3, 4) % 2 == 1, v),
                (3, 4), (5,)),
    "place": (lambda m, d, v: m.place(d, np.arange(12).reshape(3, 4) % 3 == 1, v), (3, 4), (3,)),
    "put": (lambda m, d, v: m.put(d, [0, -1, 5], v), (3, 4), (3,)),
    "put-repeats": (lambda m, d, v: m.put(d, [2, 2, 7], v), (3, 4), (3,)),
    "put-short": (lambda m, d, v: m.put(d, [0, 1, 2, 3], v), (3, 4), (2,)),
    "put-wrap": (lambda m, d, v: m.put(d, [13, -15], v, mode="wrap"), (3, 4), (2,)),
    "put-clip": (lambda m, d, v: m.put(d, [40, -3], v, mode="clip"), (3, 4), (2,)),
}


def _program(m, case, d0, v0):
    """The NumPy-style program: write v into a copy of d, then a loss reading the result."""
    f, _, _ = CASES[case]
    d = d0 * 1.0
    f(m, d, v0)
    return (d * d * np.arange(1.0, d.size + 1).reshape(d.shape)).sum()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_values_match_numpy(case, device):
    f, ds, vs = CASES[case]
    d0, v0 = RNG.standard_normal(ds), RNG.standard_normal(vs)
    want = d0.copy()
    assert f(np, want, v0) is None
    got = gg.tensor(d0, dtype="float64", device=device)
    assert f(gnp, got, gg.tensor(v0, dtype="float64", device=device)) is None
    assert got.device.type == device
    np.testing.assert_array_equal(got.cpu().numpy(), want)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_match_finite_differences(case):
    _, ds, vs = CASES[case]
    d0, v0 = RNG.standard_normal(ds), RNG.standard_normal(vs)
    gd, gv = gg.grad(lambda d, v: _program(gnp, case, d, v), argnums=(0, 1))(d0, v0)
    for arg, g in ((0, gd), (1, gv)):
        base = [d0, v0][arg]
        fd = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            e = np.zeros_like(base)
            e[i] = 1e-6
            args = [d0, v0]
            args[arg] = base + e
            hi = _program(np, case, *args)
            args[arg] = base - e
            fd[i] = (hi - _program(np, case, *args)) / 2e-6
        np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-6, atol=1e-6)


def test_a_node_that_saved_the_old_values_raises_at_backward():
    w = gg.tensor(np.ones(3), requires_grad=True)
    x = gnp.array([1.0, 2.0, 3.0])
    y = (w * x).sum()
    gnp.put(x, [0, 0, 2], [10.0, 20.0, 30.0])
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_copyto_casting_follows_numpy():
    d = gnp.zeros(3, dtype="int64")
    with pytest.raises(TypeError):
        np.copyto(np.zeros(3, dtype="int64"), np.array([1.5, 2.5, 3.5]))
    with pytest.raises(TypeError, match="same_kind"):
        gnp.copyto(d, gnp.array([1.5, 2.5, 3.5]))
    gnp.copyto(d, gnp.array([1.5, 2.5, 3.5]), casting="unsafe")
    assert d.tolist() == [1, 2, 3]


def test_errors_follow_numpy():
    with pytest.raises(ValueError):
        gnp.fill_diagonal(gnp.zeros(3), 1.0)
    with pytest.raises(ValueError):
        gnp.fill_diagonal(gnp.zeros((2, 3, 2)), 1.0)
    with pytest.raises(IndexError):
        gnp.put(gnp.zeros(3), [3], [1.0])
    with pytest.raises(ValueError):
        gnp.place(gnp.zeros(3), [True, False, False], [])
    with pytest.raises(ValueError):
        gnp.putmask(gnp.zeros(3), [True, False], [1.0])


def test_a_view_writes_into_its_base():
    base = gnp.zeros((3, 3))
    gnp.fill_diagonal(base[1:, 1:], 5.0)
    assert base.tolist() == [[0.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]]


def test_a_numpy_destination_takes_numpy_s_function():
    d = np.zeros(3)
    gnp.put(d, [1], [4.0])
    assert d.tolist() == [0.0, 4.0, 0.0]
