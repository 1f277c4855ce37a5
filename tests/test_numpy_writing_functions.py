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


def test_a_node_that_saved_the_old_values_keeps_them():
    w = gg.tensor(np.ones(3), requires_grad=True)
    x = gnp.array([1.0, 2.0, 3.0])
    y = (w * x).sum()
    gnp.put(x, [0, 0, 2], [10.0, 20.0, 30.0])
    y.backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0]


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


# --- Python numbers and lists are converted straight to the destination's dtype, as NumPy
# does: one that does not fit raises (it wrapped: 300 into int8 wrote 44), a complex one into
# a real destination is a TypeError (its imaginary part was dropped)

_WRITERS = {
    "copyto": lambda m, a, v: m.copyto(a, v),
    "putmask": lambda m, a, v: m.putmask(a, [True, False, True, False], v),
    "place": lambda m, a, v: m.place(a, [True, False, True, False], v),
    "put": lambda m, a, v: m.put(a, [0, 2], v),
    "fill_diagonal": lambda m, a, v: m.fill_diagonal(a.reshape(2, 2), v),
}


@pytest.mark.parametrize("name", sorted(_WRITERS))
@pytest.mark.parametrize("dtype,value", [("int8", 300), ("uint8", -1), ("int8", [300, 1]),
                                         ("float32", 1 + 1j), ("int16", [1 + 1j]),
                                         ("int8", 300.5)])
def test_python_values_that_do_not_fit_raise_as_numpy(name, dtype, value):
    if name == "copyto" and isinstance(value, list):
        pytest.skip("copyto reads a list as an array (cast by its casting rule)")
    if name == "copyto" and np.lib.NumpyVersion(np.__version__) < "2.1.0":
        pytest.skip("NumPy 2.0's copyto wraps an out-of-range Python int; gpugrad follows 2.1+")
    with pytest.raises((OverflowError, TypeError)) as want:
        _WRITERS[name](np, np.zeros(4, dtype), value)
    a = gnp.zeros(4, dtype=dtype)
    with pytest.raises(want.type):
        _WRITERS[name](gnp, a, value)
    np.testing.assert_array_equal(a.numpy(), np.zeros(4, dtype))  # nothing written


@pytest.mark.parametrize("name", sorted(_WRITERS))
@pytest.mark.parametrize("dtype,value", [("uint8", 3), ("int8", -128), ("float16", 1e5),
                                         ("int64", True), ("int8", [2.5, 1]), ("bool", 1)])
def test_python_values_that_fit_are_written_as_numpy(name, dtype, value):
    if name == "copyto" and isinstance(value, list):
        value = value[0]
    want = np.zeros(4, dtype)
    try:
        _WRITERS[name](np, want, value)
    except (TypeError, OverflowError) as e:
        with pytest.raises(type(e)):
            _WRITERS[name](gnp, gnp.zeros(4, dtype=dtype), value)
        return
    got = gnp.zeros(4, dtype=dtype)
    _WRITERS[name](gnp, got, value)
    np.testing.assert_array_equal(got.numpy(), want)


def test_putmask_takes_a_mask_of_the_same_size_in_another_shape():
    want, got = np.zeros((2, 2)), gnp.zeros((2, 2))
    mask = [True, False, False, True]
    np.putmask(want, mask, 5.0)
    gnp.putmask(got, mask, 5.0)
    np.testing.assert_array_equal(got.numpy(), want)
    with pytest.raises(ValueError, match="same size"):
        gnp.putmask(got, [True, False, True], 5.0)


@pytest.mark.parametrize("call", [lambda m, a: m.put(a, [1], []),
                                  lambda m, a: m.fill_diagonal(a.reshape(2, 2), [])])
def test_empty_values_write_nothing_as_numpy(call):
    want, got = np.arange(4.0), gnp.arange(4.0)
    call(np, want)
    call(gnp, got)
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("mode", ["raise", "wrap", "clip"])
def test_put_into_an_empty_array_raises_index_error_as_numpy(mode):
    with pytest.raises(IndexError):
        np.put(np.zeros(0), [1], [1.0], mode=mode)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(IndexError, match="empty"):
            gnp.put(gnp.zeros(0), [1], [1.0], mode=mode)
