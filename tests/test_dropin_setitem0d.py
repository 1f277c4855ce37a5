"""``x[key] = value`` with Python values -- lists, tuples, nested and ragged lists, strings,
bytes, None, numbers -- into 0-d, 1-d and 2-d tensors and views of float, int, bool and
complex dtypes, against NumPy: the same values, or the same exception type
(``x = np.array(5.0); x[...] = [7]`` is NumPy's ValueError; ``x[()] = '7'`` is 7.0)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

TARGETS = {"float64": ((), (3,), (2, 3)), "float32": ((), (3,)), "int64": ((), (3,)),
           "int8": ((), (3,)), "bool": ((), (3,)), "complex128": ((), (3,))}
KEYS = {"...": Ellipsis, "()": (), "0": 0, ":": slice(None), "[0]": [0], "None": None,
        "(0, ...)": (0, Ellipsis), "True": True, "1:": slice(1, None), "mask": "mask"}
VALUES = {"[7]": [7], "(7,)": (7,), "[[7]]": [[7]], "[]": [], "[7, 8]": [7, 8],
          "[7, 8, 9]": [7, 8, 9], "[[7, 8, 9]]": [[7, 8, 9]], "[[7], [8]]": [[7], [8]],
          "ragged": [[1], [2, 3]], "'7'": "7", "'abc'": "abc", "['7']": ["7"], "7.5": 7.5,
          "[7.5]": [7.5], "[True]": [True], "[1+2j]": [1 + 2j], "1+2j": 1 + 2j,
          "[[[7]]]": [[[7]]], "[1, 2j]": [1, 2j], "((7,),)": ((7,),), "[None]": [None],
          "None": None, "b'7'": b"7", "[7, [8]]": [7, [8]], "[[7, 8], [9, 10]]": [[7, 8], [9, 10]],
          "[nan]": [float("nan")], "[-1]": [-1], "[300]": [300], "[2**70]": [2 ** 70],
          "[0.1]": [0.1]}


def _key(key, shape):
    if key == "mask":
        return np.arange(int(np.prod(shape))).reshape(shape) % 2 == 0
    return key


def _numpy(dtype, shape, key, value):
    a = np.full(shape, 5, dtype)
    try:
        a[_key(key, shape)] = value
    except Exception as exc:  # noqa: BLE001 -- NumPy's verdict, whatever it is
        return type(exc)
    return a


def _gpugrad(make, key, value):
    t = make()
    try:
        t[_key(key, t.shape)] = value
    except Exception as exc:  # noqa: BLE001
        return exc
    return np.asarray(t.detach().numpy())


MAKERS = {
    "plain": lambda dt, sh: gnp.full(sh, 5, dtype=dt),
    "view": lambda dt, sh: gnp.full((2,) + sh, 5, dtype=dt)[1],
    "graph": lambda dt, sh: gg.tensor(np.full(sh, 5, dt), requires_grad=True) * 1,
}


@pytest.mark.parametrize("mode", sorted(MAKERS))
@pytest.mark.parametrize("dtype", sorted(TARGETS))
def test_python_values_are_written_as_numpy_writes_them(dtype, mode):
    if mode == "graph" and np.dtype(dtype).kind not in "fc":
        pytest.skip("only floating tensors join a graph")
    bad = []
    for shape in TARGETS[dtype]:
        for kname, key in KEYS.items():
            for vname, value in VALUES.items():
                want = _numpy(dtype, shape, key, value)
                got = _gpugrad(lambda: MAKERS[mode](dtype, shape), key, value)
                if isinstance(want, type):
                    ok = isinstance(got, want)
                else:
                    ok = isinstance(got, np.ndarray) and got.dtype == want.dtype and \
                        got.tobytes() == want.tobytes()
                if not ok:
                    bad.append(f"{dtype}{shape}[{kname}] = {vname}: numpy {want!r}, "
                               f"gpugrad {got!r}")
    assert not bad, f"{len(bad)} differences, e.g.\n" + "\n".join(bad[:10])


def test_zero_d_sequence_assignment_is_numpys_value_error():
    x = gnp.array(5.0)
    with pytest.raises(ValueError):
        x[...] = [7]
    with pytest.raises(ValueError):
        x[()] = [7]
    x[()] = "7"
    assert x.item() == 7.0 and x.dtype == np.float64
    x[...] = np.array([8.0])  # an array of one element broadcasts, as NumPy's
    assert x.item() == 8.0


def test_gradient_flows_around_a_written_list():
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype="float64")
    y = w * 2
    y[1:] = [10, 20]
    y.sum().backward()
    assert y.tolist() == [2.0, 10.0, 20.0]
    assert w.grad.tolist() == [2.0, 0.0, 0.0]


# ================================================================ 0-d integer index arrays
def test_zero_d_integer_index_arrays_pick_and_write_as_numpy():
    """0-d integer tensors (``i, j = rng.integers(0, n, 2)`` under gpugrad.numpy, where
    NumPy gives integer scalars) read one element and write as NumPy's scalars do, and beside
    a slice they pick a view, as an integer does (see tests/test_scalar_tensor_keys.py)."""
    import numpy
    import gpugrad.numpy as gnp
    results = []
    for m in (numpy, gnp):
        x = m.arange(12.0).reshape(3, 4)
        i, j = m.array([2, 1])
        e = x[i, j]
        x[i, j] *= -1
        x[i - 1, j] = 5.0
        row = x[i, 1:3]        # an integer beside a slice: a view
        row[0] = 100.0
        results.append((float(e), x.tolist(), row.tolist()))
    assert results[1] == results[0]
    assert results[0][1][2][1] == 100.0 and results[0][1][1][1] == 5.0
