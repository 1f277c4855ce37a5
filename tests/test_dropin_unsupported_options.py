"""NumPy arguments gpugrad.numpy has no differentiable version of (``argsort(order=)`` of a
record array, ``pad`` modes 'mean'/'linear_ramp'/..., per-side ``constant_values``,
``take(mode='clip')``, ``max(initial=)`` of an empty array, ``var(mean=)``, ufuncs'
``order=``, ``eigh(UPLO='U')``, ``cross`` of 2-vectors): outside a recorded graph NumPy's
own answer, as for the functions gpugrad does not implement; inside one NotImplementedError
naming the argument (never a silent answer without its gradient)."""
import warnings

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

A = numpy.arange(1.0, 7.0)
M2 = numpy.array([[4.0, 1.0], [1.0, 3.0]])

CASES = [
    ("pad_mean", lambda np, a: np.pad(a, 2, mode="mean")),
    ("pad_median", lambda np, a: np.pad(a, (1, 3), mode="median", stat_length=3)),
    ("pad_maximum", lambda np, a: np.pad(a, 2, mode="maximum")),
    ("pad_minimum", lambda np, a: np.pad(a, 2, mode="minimum")),
    ("pad_linear_ramp", lambda np, a: np.pad(a, (2, 3), mode="linear_ramp", end_values=(5, -1))),
    ("pad_odd_reflect", lambda np, a: np.pad(a, 3, mode="reflect", reflect_type="odd")),
    ("pad_pairs", lambda np, a: np.pad(a, (1, 2), constant_values=(-1, 9))),
    ("take_clip", lambda np, a: np.take(a, [0, 9, -9], mode="clip")),
    ("take_wrap", lambda np, a: np.take(a, [0, 9, -9], mode="wrap")),
    ("max_initial_empty", lambda np, a: np.max(a[:0], initial=-1.0)),
    ("min_initial_empty_axis", lambda np, a: np.min(a[:0].reshape(0, 3), axis=0, initial=2.0)),
    ("var_mean", lambda np, a: np.var(a, mean=np.mean(a, keepdims=True))),
    ("std_mean", lambda np, a: np.std(a, mean=np.mean(a, keepdims=True))),
    ("exp_order", lambda np, a: np.exp(a.reshape(2, 3), order="F")),
    ("cross_2d", lambda np, a: np.cross(a[:2], a[2:4])),
    ("clip_casting", lambda np, a: np.clip(a, 2, 4, casting="unsafe")),
]


@pytest.mark.parametrize("name,call", CASES, ids=[c[0] for c in CASES])
def test_numpys_answer_outside_a_graph(name, call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (cross of 2-vectors)
        want = call(numpy, A)
        got = call(gnp, gnp.asarray(A))
    g = numpy.asarray(got.numpy() if isinstance(got, gg.Tensor) else got)
    assert g.dtype == numpy.asarray(want).dtype and g.shape == numpy.shape(want)
    numpy.testing.assert_array_equal(g, want)


REFUSED = [c for c in CASES if "empty" not in c[0] and c[0] != "pad_pairs"]


@pytest.mark.parametrize("name,call", REFUSED, ids=[c[0] for c in REFUSED])
def test_inside_a_graph_the_argument_is_named(name, call):
    x = gg.tensor(A, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(NotImplementedError, match="gpugrad.numpy"):
            call(gnp, x)


def test_structured_array_sorted_by_fields():
    """Moore's-law style table: np.argsort(table, order=[...]) of a record array."""
    table = numpy.zeros(4, dtype=[("year", "i4"), ("count", "f8")])
    table["year"] = [2008, 1971, 2008, 1993]
    table["count"] = [7.3e8, 2250.0, 1.9e9, 3.1e6]
    for f in (lambda np: np.argsort(table, order=["year", "count"]),
              lambda np: np.sort(table, order="count"),
              lambda np: np.argpartition(table, 1, order="year"),
              lambda np: np.partition(table, 1, order="year")):
        want, got = f(numpy), f(gnp)
        g = got.numpy() if isinstance(got, gg.Tensor) else got
        assert g.dtype == want.dtype
        numpy.testing.assert_array_equal(g, want)


def test_eigh_upper_triangle():
    a = numpy.array([[2.0, 1.0], [99.0, 3.0]])  # the lower triangle is not read
    w, v = gnp.linalg.eigh(gnp.asarray(a), UPLO="U")
    ww, vv = numpy.linalg.eigh(a, UPLO="U")
    numpy.testing.assert_array_equal(w.numpy(), ww)
    numpy.testing.assert_array_equal(v.numpy(), vv)


def test_per_side_constant_pad_values_differentiate():
    a = numpy.arange(6.0).reshape(2, 3)
    cv = ((-1, 9), (7, 5))
    want = numpy.pad(a, ((1, 2), (2, 1)), constant_values=cv)  # corners: the later axis'
    got = gnp.pad(gnp.asarray(a), ((1, 2), (2, 1)), constant_values=cv)
    numpy.testing.assert_array_equal(got.numpy(), want)
    w = numpy.arange(want.size, dtype=float).reshape(want.shape)
    g = gg.grad(lambda x: gnp.sum(gnp.pad(x, ((1, 2), (2, 1)), constant_values=cv) * w))(
        gnp.asarray(a))
    numpy.testing.assert_array_equal(g.numpy(), w[1:3, 2:5])
    ints = numpy.arange(3)
    numpy.testing.assert_array_equal(gnp.pad(ints, 1, constant_values=(2.7, -1)).numpy(),
                                     numpy.pad(ints, 1, constant_values=(2.7, -1)))
