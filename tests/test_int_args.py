"""Integer arguments (axes, counts, offsets, sizes) of gpugrad.numpy, of Tensor methods and of
gpugrad.array_api follow their reference: for every function with such a parameter and a
table of values (booleans, floats, strings, None, NumPy integers, 0-d integer arrays),
gpugrad gives NumPy's result or raises NumPy's exception type; the array API refuses
booleans, floats and strings where the standard asks for integers."""
import inspect
import warnings

import numpy as np
import pytest

import gpugrad.array_api as xa
import gpugrad.numpy as gnp
from gpugrad import Tensor

# The expected answers are NumPy's own; gpugrad follows the rules of NumPy >= 2.1 (2.0 lacks
# unstack and cumulative_sum and accepts or refuses some bool/None arguments differently).
pytestmark = pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.1.0",
                                reason="compares with NumPy >= 2.1's argument rules")


def A(m):
    return m.arange(6.0).reshape(2, 3)


def B(m):
    return m.arange(9.0).reshape(3, 3)


def _logsumexp(m):
    return m.logsumexp if m is gnp else lambda a, axis: np.log(np.sum(np.exp(a), axis=axis))


def _axis_case(f):
    if f == "logsumexp":
        return lambda m, v: _logsumexp(m)(A(m), axis=v)
    return lambda m, v: getattr(m, f)(A(m), axis=v)


_AXIS_ONLY = ("all", "any", "amax", "amin", "max", "min", "sum", "mean", "prod", "nansum",
              "nanmean", "ptp", "count_nonzero", "average", "median", "var", "std", "argmax",
              "argmin", "cumsum", "cumprod", "cumulative_sum", "cumulative_prod", "sort",
              "argsort", "flip", "unique", "gradient", "size", "diff", "unstack", "logsumexp",
              "nanprod", "nancumsum")


CASES = {
    # reductions and scans: axis
    **{f"{f} axis": (f, "axis", _axis_case(f)) for f in _AXIS_ONLY},
    "percentile axis": ("percentile", "axis", lambda m, v: m.percentile(A(m), 50, axis=v)),
    "quantile axis": ("quantile", "axis", lambda m, v: m.quantile(A(m), 0.5, axis=v)),
    "lexsort axis": ("lexsort", "axis", lambda m, v: m.lexsort(A(m), axis=v)),
    "compress axis": ("compress", "axis", lambda m, v: m.compress([True, False, True], A(m), axis=v)),
    "take axis": ("take", "axis", lambda m, v: m.take(A(m), [0], axis=v)),
    "take_along_axis axis": ("take_along_axis", "axis",
                             lambda m, v: m.take_along_axis(A(m), m.array([[0], [1]]), axis=v)),
    "put_along_axis axis": ("put_along_axis", "axis", lambda m, v: (lambda a: (
        m.put_along_axis(a, m.array([[0], [1]]), 9.0, axis=v), a)[1])(A(m))),
    "append axis": ("append", "axis", lambda m, v: m.append(A(m), A(m), axis=v)),
    "concatenate axis": ("concatenate", "axis", lambda m, v: m.concatenate([A(m), A(m)], axis=v)),
    "concat axis": ("concat", "axis", lambda m, v: m.concat([A(m), A(m)], axis=v)),
    "stack axis": ("stack", "axis", lambda m, v: m.stack([A(m), A(m)], axis=v)),
    "cross axis": ("cross", "axis", lambda m, v: m.cross(B(m), B(m)[::-1], axis=v)),
    "vecdot axis": ("vecdot", "axis", lambda m, v: m.vecdot(A(m), A(m), axis=v)),
    "expand_dims axis": ("expand_dims", "axis", lambda m, v: m.expand_dims(A(m), v)),
    "squeeze axis": ("squeeze", "axis", lambda m, v: m.squeeze(m.zeros((2, 1)), axis=v)),
    "diff n": ("diff", "n", lambda m, v: m.diff(m.arange(4.0), n=v)),
    "split indices_or_sections": ("split", "indices_or_sections", lambda m, v: m.split(m.arange(4.0), v)),
    "split axis": ("split", "axis", lambda m, v: m.split(A(m), 3, axis=v)),
    "array_split indices_or_sections": ("array_split", "indices_or_sections",
                                        lambda m, v: m.array_split(m.arange(4.0), v)),
    "array_split axis": ("array_split", "axis", lambda m, v: m.array_split(A(m), 2, axis=v)),
    "hsplit indices_or_sections": ("hsplit", "indices_or_sections", lambda m, v: m.hsplit(m.arange(4.0), v)),
    "vsplit indices_or_sections": ("vsplit", "indices_or_sections", lambda m, v: m.vsplit(A(m), v)),
    "repeat repeats": ("repeat", "repeats", lambda m, v: m.repeat(m.arange(3.0), v)),
    "repeat axis": ("repeat", "axis", lambda m, v: m.repeat(A(m), 2, axis=v)),
    "roll shift": ("roll", "shift", lambda m, v: m.roll(m.arange(3.0), v)),
    "roll axis": ("roll", "axis", lambda m, v: m.roll(A(m), 1, axis=v)),
    "rot90 k": ("rot90", "k", lambda m, v: m.rot90(A(m), k=v)),
    "rot90 axes": ("rot90", "axes", lambda m, v: m.rot90(A(m), axes=(0, v))),
    "round decimals": ("round", "decimals", lambda m, v: m.round(m.arange(3.0) / 7, decimals=v)),
    "around decimals": ("around", "decimals", lambda m, v: m.around(m.arange(3.0) / 7, decimals=v)),
    "array ndmin": ("array", "ndmin", lambda m, v: m.array([1.0, 2.0], ndmin=v)),
    "cov ddof": ("cov", "ddof", lambda m, v: m.cov(m.arange(4.0), ddof=v)),
    "var ddof": ("var", "ddof", lambda m, v: m.var(m.arange(3.0), ddof=v)),
    "std ddof": ("std", "ddof", lambda m, v: m.std(m.arange(3.0), ddof=v)),
    "diag k": ("diag", "k", lambda m, v: m.diag(m.arange(3.0), k=v)),
    "diagflat k": ("diagflat", "k", lambda m, v: m.diagflat(m.arange(3.0), k=v)),
    "diagonal offset": ("diagonal", "offset", lambda m, v: m.diagonal(A(m), offset=v)),
    "diagonal axis1": ("diagonal", "axis1", lambda m, v: m.diagonal(A(m), 0, v, 0)),
    "diagonal axis2": ("diagonal", "axis2", lambda m, v: m.diagonal(A(m), 0, 0, v)),
    "trace offset": ("trace", "offset", lambda m, v: m.trace(A(m), offset=v)),
    "trace axis1": ("trace", "axis1", lambda m, v: m.trace(A(m), 0, v, 0)),
    "trace axis2": ("trace", "axis2", lambda m, v: m.trace(A(m), 0, 0, v)),
    "eye N": ("eye", "N", lambda m, v: m.eye(v)),
    "eye M": ("eye", "M", lambda m, v: m.eye(2, v)),
    "eye k": ("eye", "k", lambda m, v: m.eye(3, k=v)),
    "tri N": ("tri", "N", lambda m, v: m.tri(v)),
    "tri M": ("tri", "M", lambda m, v: m.tri(2, v)),
    "tri k": ("tri", "k", lambda m, v: m.tri(3, k=v)),
    "tril k": ("tril", "k", lambda m, v: m.tril(A(m), v)),
    "triu k": ("triu", "k", lambda m, v: m.triu(A(m), v)),
    "identity n": ("identity", "n", lambda m, v: m.identity(v)),
    "linspace num": ("linspace", "num", lambda m, v: m.linspace(0, 1, v)),
    "linspace axis": ("linspace", "axis", lambda m, v: m.linspace([0.0, 1.0], [1.0, 2.0], 3, axis=v)),
    "logspace num": ("logspace", "num", lambda m, v: m.logspace(0, 1, v)),
    "logspace axis": ("logspace", "axis", lambda m, v: m.logspace([0.0, 1.0], [1.0, 2.0], 3, axis=v)),
    "geomspace num": ("geomspace", "num", lambda m, v: m.geomspace(1, 10, v)),
    "geomspace axis": ("geomspace", "axis",
                       lambda m, v: m.geomspace([1.0, 2.0], [10.0, 20.0], 3, axis=v)),
    "moveaxis source": ("moveaxis", "source", lambda m, v: m.moveaxis(A(m), v, 0)),
    "moveaxis destination": ("moveaxis", "destination", lambda m, v: m.moveaxis(A(m), 0, v)),
    "permute_dims axes": ("permute_dims", "axes", lambda m, v: m.permute_dims(A(m), (v, 0))),
    "transpose axes": ("transpose", "axes", lambda m, v: m.transpose(A(m), (v, 0))),
    "swapaxes axis1": ("swapaxes", "axis1", lambda m, v: m.swapaxes(A(m), v, 0)),
    "swapaxes axis2": ("swapaxes", "axis2", lambda m, v: m.swapaxes(A(m), 0, v)),
    "tensordot axes": ("tensordot", "axes", lambda m, v: m.tensordot(A(m), A(m).T, axes=v)),
    "tile reps": ("tile", "reps", lambda m, v: m.tile(m.arange(2.0), v)),
    "partition kth": ("partition", "kth", lambda m, v: m.partition(m.arange(3.0), v)),
    "partition axis": ("partition", "axis", lambda m, v: m.partition(A(m), 1, axis=v)),
    "argpartition kth": ("argpartition", "kth", lambda m, v: m.argpartition(m.arange(3.0), v)),
    "argpartition axis": ("argpartition", "axis", lambda m, v: m.argpartition(A(m), 1, axis=v)),
}

# Tensor methods with NumPy's ndarray method of the same name as reference
METHODS = {
    **{f"{f} axis": (lambda f: lambda m, v: getattr(A(m), f)(axis=v))(f) for f in (
        "sum", "mean", "prod", "max", "min", "any", "all", "argmax", "argmin", "cumsum",
        "cumprod", "var", "std", "argsort")},
    "sum positional axis": lambda m, v: A(m).sum(v),
    "sort axis": lambda m, v: A(m).sort(axis=v),
    "take axis": lambda m, v: A(m).take([0], axis=v),
    "repeat repeats": lambda m, v: m.arange(3.0).repeat(v),
    "repeat axis": lambda m, v: A(m).repeat(2, axis=v),
    "squeeze axis": lambda m, v: m.zeros((2, 1)).squeeze(v),
    "swapaxes axis1": lambda m, v: A(m).swapaxes(v, 0),
    "transpose axes": lambda m, v: A(m).transpose(v, 0),
    "reshape dim": lambda m, v: A(m).reshape(v, 6),
    "round decimals": lambda m, v: (m.arange(3.0) / 7).round(v),
    "var ddof": lambda m, v: m.arange(3.0).var(ddof=v),
    "diagonal offset": lambda m, v: A(m).diagonal(v),
    "trace offset": lambda m, v: A(m).trace(v),
    "partition kth": lambda m, v: m.arange(3.0).partition(v),
    "argpartition kth": lambda m, v: m.arange(3.0).argpartition(v),
    "compress axis": lambda m, v: A(m).compress([True, False, True], axis=v),
}

# the values tried: (id, value for NumPy, value for gpugrad)
VALUES = [
    ("True", True, True), ("np.True_", np.True_, np.True_), ("1.0", 1.0, 1.0),
    ("np.float64(1.0)", np.float64(1.0), np.float64(1.0)), ("'1'", "1", "1"),
    ("None", None, None), ("np.int64(1)", np.int64(1), np.int64(1)), ("1", 1, 1),
    ("0-d int array", np.array(1), gnp.array(1)),
]

_PARAMS = {"axis", "axes", "k", "n", "repeats", "shift", "reps", "indices_or_sections", "kth",
           "decimals", "ddof", "N", "M", "num", "axis1", "axis2", "source", "destination",
           "offset", "ndmin"}
# (function, parameter) pairs with such a name that are not integer arguments
_NOT_INTS = {("arange", "start"), ("linspace", "start"), ("logspace", "start"),
             ("polyint", "k")}  # (polyint's k: the integration constants, numbers)


def _plain(r):
    if isinstance(r, (list, tuple)):
        return [_plain(x) for x in r]
    return np.asarray(r.data if isinstance(r, Tensor) else r)


def _outcome(f, m, v):
    """The exception type ``f(m, v)`` raises, or its result as NumPy data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _plain(f(m, v))
        except Exception as e:  # noqa: BLE001 - the type is what is compared
            return type(e)


def _family(e):
    """NumPy's internal exception subclasses (UFuncTypeError, ...) as the builtin they extend;
    AxisError (public, and raised by gpugrad) stays itself."""
    if e.__module__.startswith("numpy._core"):
        return next(c for c in e.__mro__ if c.__module__ == "builtins")
    return e


def _same(got, expect, what):
    if isinstance(expect, type):
        expect = _family(expect)
        assert isinstance(got, type) and issubclass(got, expect), \
            f"{what}: NumPy raises {expect.__name__}, gpugrad gave {got!r}"
        return
    assert not isinstance(got, type), f"{what}: NumPy answers, gpugrad raises {got.__name__}"
    if isinstance(expect, list):
        assert isinstance(got, list) and len(got) == len(expect), what
        for g, e in zip(got, expect):
            _same(g, e, what)
        return
    assert got.shape == expect.shape, f"{what}: shape {got.shape}, NumPy's {expect.shape}"
    if got.dtype.kind in "fc":
        assert np.allclose(got, expect, rtol=1e-12, atol=0, equal_nan=True), what
    else:
        assert np.array_equal(got, expect), what


@pytest.mark.parametrize("vid, nv, gv", VALUES, ids=[v[0] for v in VALUES])
@pytest.mark.parametrize("name", CASES)
def test_function_int_arguments_match_numpy(name, vid, nv, gv):
    f = CASES[name][2]
    _same(_outcome(f, gnp, gv), _outcome(f, np, nv), f"{name}={vid}")


@pytest.mark.parametrize("vid, nv, gv", VALUES, ids=[v[0] for v in VALUES])
@pytest.mark.parametrize("name", METHODS)
def test_method_int_arguments_match_numpy(name, vid, nv, gv):
    f = METHODS[name]
    _same(_outcome(f, gnp, gv), _outcome(f, np, nv), f"method {name}={vid}")


def test_every_integer_parameter_is_in_the_table():
    """The table covers each gpugrad.numpy function with an integer-named parameter."""
    covered = {(fn, p) for fn, p, _ in CASES.values()}
    missing = []
    for name in gnp.__all__:
        fn = getattr(gnp, name)
        if not callable(fn) or isinstance(fn, type):
            continue
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            continue
        missing += [(name, p) for p in params if p in _PARAMS
                    and (name, p) not in covered | _NOT_INTS]
    assert not missing, f"integer arguments without a case: {missing}"


CASES.update({
    "vander N": ("vander", "N", lambda m, v: m.vander(m.arange(1.0, 4.0), N=v)),
    "trapezoid axis": ("trapezoid", "axis", lambda m, v: m.trapezoid(A(m), axis=v)),
    "zeros shape": ("zeros", "shape", lambda m, v: m.zeros(v)),
    "ones shape": ("ones", "shape", lambda m, v: m.ones((v, 2))),
    "full shape": ("full", "shape", lambda m, v: m.full((v,), 1.0)),
    "reshape fn dim": ("reshape", "shape", lambda m, v: m.reshape(m.arange(6.0), (v, 6))),
})

# array API functions, with NumPy 2's namespace (array-API compatible) as reference for
# integer values; booleans, floats and strings are refused (the standard asks for ints)
XA = {
    **{f"{f} axis": (lambda f: lambda m, v: getattr(m, f)(A(m), axis=v))(f) for f in (
        "sum", "mean", "prod", "max", "min", "all", "any", "std", "var", "argmax", "argmin",
        "argsort", "sort", "flip", "unstack", "cumulative_sum")},
    "concat axis": lambda m, v: m.concat([A(m), A(m)], axis=v),
    "stack axis": lambda m, v: m.stack([A(m), A(m)], axis=v),
    "expand_dims axis": lambda m, v: m.expand_dims(A(m), axis=v),
    "squeeze axis": lambda m, v: m.squeeze(m.zeros((2, 1)), axis=v),
    "moveaxis source": lambda m, v: m.moveaxis(A(m), v, 0),
    "permute_dims axes": lambda m, v: m.permute_dims(A(m), (v, 0)),
    "repeat repeats": lambda m, v: m.repeat(m.arange(3.0), v),
    "repeat axis": lambda m, v: m.repeat(A(m), 2, axis=v),
    "roll shift": lambda m, v: m.roll(m.arange(3.0), v),
    "roll axis": lambda m, v: m.roll(A(m), 1, axis=v),
    "take axis": lambda m, v: m.take(A(m), m.asarray([0]), axis=v),
    "tensordot axes": lambda m, v: m.tensordot(A(m), m.matrix_transpose(A(m)), axes=v),
    "vecdot axis": lambda m, v: m.vecdot(A(m), A(m), axis=v),
    "tril k": lambda m, v: m.tril(A(m), k=v),
    "triu k": lambda m, v: m.triu(A(m), k=v),
    "eye n_rows": lambda m, v: m.eye(v),
    "eye k": lambda m, v: m.eye(3, k=v),
    "linspace num": lambda m, v: m.linspace(0.0, 1.0, v),
}
_XA_NOT_INT = {"True", "np.True_", "1.0", "np.float64(1.0)", "'1'"}


@pytest.mark.parametrize("vid, nv, gv", VALUES, ids=[v[0] for v in VALUES])
@pytest.mark.parametrize("name", XA)
def test_array_api_int_arguments(name, vid, nv, gv):
    f = XA[name]
    got = _outcome(f, xa, gv)
    if vid in _XA_NOT_INT:
        assert got is TypeError or isinstance(got, type) and issubclass(got, TypeError), \
            f"array_api {name}={vid}: expected TypeError, got {got!r}"
    elif not (vid == "None" and name == "take axis"):  # (the standard requires take's axis)
        _same(got, _outcome(f, np, nv), f"array_api {name}={vid}")


def test_messages_name_the_argument():
    with pytest.raises(TypeError, match="axis.*bool"):
        gnp.cumsum(gnp.arange(3.0), axis=True)
    with pytest.raises(TypeError, match="tensordot"):
        gnp.tensordot(A(gnp), A(gnp).T, axes=1.0)


def test_partition_messages_are_numpys():
    with pytest.raises(TypeError, match="Partition index must be integer"):
        gnp.partition(gnp.arange(3.0), 1.5)
    with pytest.raises(ValueError, match="Booleans unacceptable"):
        gnp.argpartition(gnp.arange(3.0), True)


@pytest.mark.parametrize("make", [
    lambda x: x[np.argmax(x.data)], lambda x: x[np.array(1)], lambda x: x[gnp.argmax(x)],
    lambda x: x[np.int64(1)], lambda x: x[1], lambda x: x.sum(), lambda x: x.max(),
    lambda x: gnp.sum(x), lambda x: gnp.exp(x[0]), lambda x: x[0] + 1.0,
    lambda x: gnp.zeros(()) , lambda x: gnp.asarray(x[()] if x.ndim == 0 else x[0]),
    lambda x: x.reshape(3, 1)[1, 0], lambda x: gnp.ravel(x[0]), lambda x: gnp.squeeze(x[:1]),
])
def test_fast_paths_wrap_ndarrays(make):
    x = gnp.array([3.0, 9.0, 2.0])
    t = make(x)
    assert type(t.data) is np.ndarray
    np.asarray(t)          # and the tensor works as an array
    t += 1
