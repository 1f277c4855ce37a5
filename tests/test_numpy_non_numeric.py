"""gpugrad.numpy given or asked for non-numeric dtypes (strings, bytes, objects, datetimes,
records) answers with NumPy's own result, a plain NumPy array, equal to NumPy's; inside a
recorded graph it raises TypeError; numeric calls are unchanged."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

WORDS = ["pear", "apple", "fig", "apple"]
CASES = {
    "array(words)": lambda m: m.array(WORDS),
    "unique(array)": lambda m: m.unique(m.array(["b", "a", "b"])),
    "where(b, 'x', '.')": lambda m: m.where(m.array([True, False, True]), "x", "."),
    "astype(str)": lambda m: m.astype(m.arange(3), str),
    "object array": lambda m: m.asarray([1, "a", None], dtype=object),
    "datetime": lambda m: m.array(["2020-01-01", "2021-06-30"], dtype="datetime64[D]"),
    "zeros(dtype='U3')": lambda m: m.zeros(2, dtype="U3"),
    "sort(strings)": lambda m: m.sort(np.array(WORDS)),
    "concatenate(strings)": lambda m: m.concatenate([np.array(["a"]), np.array(["bc"])]),
    "records": lambda m: m.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]),
    "bytes": lambda m: m.array([b"x", b"yz"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_non_numeric_results_are_numpys_own(name):
    got, want = CASES[name](gnp), CASES[name](np)
    assert type(got) is np.ndarray and got.dtype == want.dtype and got.shape == want.shape
    assert got.tolist() == want.tolist()


def test_tensor_astype_to_a_non_numeric_dtype_is_numpys():
    t = gg.tensor([1.5, 2.0])
    r = t.astype(str)
    assert type(r) is np.ndarray and r.tolist() == np.array([1.5, 2.0], np.float32).astype(
        str).tolist()
    assert t.astype("int64").tolist() == [1, 2]          # numeric: a tensor, as before


def test_non_numeric_in_a_recorded_graph_raises():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="recorded graph"):
        w.astype(str)
    with pytest.raises(TypeError, match="recorded graph"):
        gnp.where(w > 1, w, "x")
    with gg.no_grad():
        assert w.astype(str).tolist() == ["1.0", "2.0"]


def test_numeric_calls_still_return_tensors():
    assert isinstance(gnp.array([1.0, 2.0]), gg.Tensor)
    assert isinstance(gnp.unique(gnp.array([2, 1, 2])), gg.Tensor)


@pytest.mark.skipif(np.dtype(np.longdouble).itemsize <= 8, reason="longdouble is float64 here")
def test_numeric_but_unsupported_dtypes_still_raise():
    with pytest.raises(TypeError, match="unsupported dtype"):
        gnp.zeros(2, dtype=np.longdouble)
    with pytest.raises(TypeError, match="unsupported dtype"):
        gg.tensor([1.0]).astype(np.longdouble)


def test_timedeltas_get_numpys_answer():
    """timedelta64 (dtype kind 'm', apart from datetime64's 'M') is non-numeric here too."""
    a = np.array([1, 2, 6], "timedelta64[s]")
    for fn in ("mean", "sum", "max", "cumsum", "sort"):
        got, want = getattr(gnp, fn)(a), getattr(np, fn)(a)
        assert type(got) is type(want) and np.array_equal(got, want), fn
    got = gnp.array([1, 2], dtype="timedelta64[s]")
    assert isinstance(got, np.ndarray) and got.dtype == np.dtype("timedelta64[s]")


def test_the_wrapper_keeps_the_functions_signature_and_forwards_what_was_given():
    """for_non_numeric's wrapper has the function's own parameters and defaults (no
    ``*args, **kwargs`` to pack per call); its fallback hands NumPy the positional arguments
    up to the last one given, the keyword-only ones given, and the variadic ones."""
    import inspect

    from gpugrad.numpy import _core, _fallback

    seen = []

    def numpy_like(*args, **kwargs):
        seen.append((args, kwargs))
        return "numpy's"

    def ours(a, b=1, /, c=2, *rest, d=3, **more):
        if a == "text":
            raise _core.NonNumericError("text")
        return (a, b, c, rest, d, more)

    f = _fallback.for_non_numeric(ours, numpy_like, "ours")
    assert inspect.signature(f, follow_wrapped=False) == inspect.signature(ours)
    assert f(0) == (0, 1, 2, (), 3, {}) and f(0, 5, c=6, d=7, e=8) == (0, 5, 6, (), 7, {"e": 8})
    assert f(0, 1, 2, 9, 9) == (0, 1, 2, (9, 9), 3, {})
    seen.clear()
    f("text"), f("text", 1, 6), f("text", 1, 2, 9, d=4, e=5), f("text", c=7)
    assert [s for s in seen] == [(("text",), {}), (("text", 1, 6), {}),
                                 (("text", 1, 2, 9), {"d": 4, "e": 5}), (("text", 1, 7), {})]
    assert gnp.zeros(2, "U1", "F").dtype == np.dtype("U1")
    np.testing.assert_array_equal(gnp.concatenate([np.array(["a"]), ["bc"]], dtype="U3"),
                                  np.array(["a", "bc"], dtype="U3"))
