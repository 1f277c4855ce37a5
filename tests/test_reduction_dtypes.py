"""Reductions and scans of ``gpugrad.numpy`` (and the Tensor methods) with ``dtype=`` give
NumPy's result dtype and value for every requested kind (bool, signed, unsigned, float,
complex) and input kind, or NumPy's exception type; ``max``/``min`` with ``initial=`` give
NumPy's promoted dtype.  A float result of a tensor in a graph keeps its gradient."""
import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

_DTYPES = [bool, np.int8, np.int64, np.uint8, np.float16, np.float32, np.float64,
           np.complex64, np.complex128]
_INPUTS = {
    "bool": np.array([[True, False, True], [True, True, False]]),
    "int64": np.array([[1, 2, 0], [3, 1, 2]]),
    "float32": np.array([[1.5, 2.25, 0.5], [3.0, 1.0, 2.5]], np.float32),
    "float64": np.array([[1.5, 2.25, 0.5], [3.0, 1.0, 2.5]]),
}
_REDUCTIONS = ["sum", "prod", "mean", "var", "std", "nansum", "nanmean", "cumsum", "cumprod",
               "cumulative_sum", "cumulative_prod"]
_METHODS = ["sum", "prod", "mean", "var", "std", "cumsum", "cumprod"]
_RTOL = {"e": 2e-3, "f": 1e-6, "d": 1e-12, "F": 1e-6, "D": 1e-12}


def _call(lib, name, x, dtype, axis):
    kw = {"axis": axis} if axis is not None or not name.startswith("cumulative") else \
        {"axis": -1}
    if name.startswith("cumulative") and lib is np and not hasattr(np, name):
        pytest.skip("NumPy < 2.1 has no cumulative_sum/cumulative_prod")
    if name.startswith("cumulative"):
        kw["include_initial"] = axis is None
    return getattr(lib, name)(x, dtype=dtype, **kw)


def _outcome(f):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.asarray(f()), None
        except (TypeError, ValueError) as e:
            return None, type(e)


def _check(got, want, where):
    got = got.numpy() if isinstance(got, gg.Tensor) else np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape, (where, got.dtype, want.dtype)
    if want.dtype.kind in "efdFD" or want.dtype.char in _RTOL:
        np.testing.assert_allclose(got, want, rtol=_RTOL[want.dtype.char], err_msg=where)
    else:
        np.testing.assert_array_equal(got, want, err_msg=where)


@pytest.mark.parametrize("name", _REDUCTIONS)
def test_reductions_give_numpys_dtype_and_value_for_every_requested_dtype(name):
    checked = 0
    for kind, a in _INPUTS.items():
        for dt in _DTYPES:
            for axis in (None, 0):
                where = (name, kind, np.dtype(dt).name, axis)
                want, err = _outcome(lambda: _call(np, name, a, dt, axis))
                graph = a.dtype.kind == "f"
                for t in (gnp.array(a), gg.tensor(a, requires_grad=True) * 1.0) if graph \
                        else (gnp.array(a),):
                    if err is not None:
                        with pytest.raises(err):
                            _call(gnp, name, t, dt, axis)
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        got = _call(gnp, name, t, dt, axis)
                    _check(got, want, where)
                    if t.requires_grad:  # a float result keeps the graph; others have none
                        assert got.requires_grad == (want.dtype.kind in "fc"), where
                    checked += 1
    assert checked >= 60


@pytest.mark.parametrize("name", _METHODS)
def test_tensor_methods_with_dtype_follow_numpys_methods(name):
    for kind, a in _INPUTS.items():
        for dt in _DTYPES:
            want, err = _outcome(lambda: getattr(a, name)(dtype=dt))
            t = gnp.array(a)
            if err is not None:
                with pytest.raises(err):
                    getattr(t, name)(dtype=dt)
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = getattr(t, name)(dtype=dt)
            _check(got, want, (name, kind, np.dtype(dt).name))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_with_initial_promote_as_numpy(name):
    for kind, a in _INPUTS.items():
        for initial in (0, 1, True, 2.5, -1):
            for axis in (None, 1):
                want, err = _outcome(lambda: getattr(np, name)(a, axis=axis, initial=initial))
                for got in (lambda: getattr(gnp, name)(gnp.array(a), axis=axis, initial=initial),
                            lambda: getattr(gnp.array(a), name)(axis=axis, initial=initial)):
                    if err is not None:
                        with pytest.raises(err):
                            got()
                        continue
                    _check(got(), want, (name, kind, initial, axis))


def test_a_float_dtype_result_keeps_its_gradient():
    a = np.array([[1.5, 2.25, 0.5], [3.0, 1.0, 2.5]])
    x = gg.tensor(a, requires_grad=True)
    gnp.mean(x, dtype=np.float32).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(a.shape, 1 / 6), rtol=1e-6)
    x = gg.tensor(a, requires_grad=True)
    r = gnp.var(x, dtype=np.complex128)
    assert r.dtype == np.complex128 and r.requires_grad
    gnp.real(r).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (a - a.mean()) / a.size, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's own, on integer results
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "var", "std", "max", "min"])
def test_where_reductions_of_a_tensor_in_a_graph_give_numpys_dtype(name):
    a = np.array([[1.5, 2.25, 0.5], [3.0, 1.0, 2.5]])
    mask = np.array([True, False, True])
    extreme = name in ("max", "min")
    for dt in [None] if extreme else _DTYPES:
        kw = {"initial": 1.0} if extreme else {"dtype": dt}
        want, err = _outcome(lambda: getattr(np, name)(a, axis=0, where=mask, **kw))
        x = gg.tensor(a, requires_grad=True) * 1.0
        if err is not None:
            with pytest.raises(err):
                getattr(gnp, name)(x, axis=0, where=mask, **kw)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = getattr(gnp, name)(x, axis=0, where=mask, **kw)
        _check(got, want, (name, dt))
        assert got.requires_grad == (want.dtype.kind in "fc"), (name, dt)
