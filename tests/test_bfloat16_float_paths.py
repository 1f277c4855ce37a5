"""bfloat16 (ml_dtypes) is a float wherever a path asks "is this a float?": NumPy gives it
kind 'V', so a test on ``dtype.kind in "fc"`` skips it.  The NaN-skipping reductions in a
graph, the ufunc methods (``add.reduce``, ``add.accumulate``, ``multiply.reduce``),
``nan_to_num`` and anomaly detection treat bfloat16 as float16 is treated: the same answers,
rounded to bfloat16 (checked against float32 on the same rounded values)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

pytest.importorskip("ml_dtypes")

V = np.array([1.0, np.nan, 3.0, 2.0, np.nan, 0.5], np.float32)


def _bf16(x, grad=False):
    t = gg.tensor(x).astype("bfloat16")
    return t.requires_grad_() if grad else t


def _as_bf16(a):
    return np.asarray(a, np.float32).astype(gg.bfloat16).astype(np.float32)


def _raw(r):
    """A result's values (a Tensor, or the NumPy scalar a full reduction answers)."""
    return np.asarray(r.numpy() if isinstance(r, gg.Tensor) else r)


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanprod", "nancumsum"])
def test_nan_skipping_reductions_of_bfloat16_skip_the_nans(name, grad):
    x = _bf16(V, grad)
    r = getattr(gnp, name)(x)
    want = _as_bf16(getattr(np, name)(x.numpy().astype(np.float32)))
    assert _raw(r).dtype == gg.bfloat16
    assert np.array_equal(_raw(r).astype(np.float32), want), (name, r, want)
    if grad:
        r.astype("float32").sum().backward()
        g = x.grad.numpy().astype(np.float32)
        assert np.all(np.isfinite(g)) and np.all(g[np.isnan(V)] == 0), (name, g)


@pytest.mark.parametrize("method,reference", [
    (lambda: gnp.add.reduce, lambda a: a.sum()),
    (lambda: gnp.add.accumulate, lambda a: np.cumsum(a)),
    (lambda: gnp.multiply.reduce, lambda a: a.prod()),
])
def test_ufunc_methods_of_bfloat16_add_in_float32_as_the_functions_do(method, reference):
    x = _bf16(np.full(5000, 1.0, np.float32) if method() is not gnp.multiply.reduce
              else np.full(300, 1.01, np.float32))
    r = method()(x)
    want = _as_bf16(reference(x.numpy().astype(np.float64)))   # one rounding at the end
    assert _raw(r).dtype == gg.bfloat16
    assert np.array_equal(_raw(r).astype(np.float32), want)    # (NumPy's own: 256 for 5000)


def test_ufunc_reduce_of_bfloat16_in_a_graph_differentiates():
    x = _bf16(np.arange(1, 7, dtype=np.float32).reshape(2, 3), grad=True)
    r = gnp.add.reduce(x, axis=1)
    r.astype("float32").sum().backward()
    assert r.numpy().astype(np.float32).tolist() == [6.0, 15.0]
    assert np.array_equal(x.grad.numpy().astype(np.float32), np.ones((2, 3), np.float32))


@pytest.mark.parametrize("grad", [False, True])
def test_nan_to_num_of_bfloat16_replaces_nan_and_inf(grad):
    x = _bf16(np.array([np.nan, 1.0, np.inf, -np.inf], np.float32), grad)
    r = gnp.nan_to_num(x)
    big = float(gg.dtypes.finfo(gg.bfloat16).max)
    assert r.dtype == gg.bfloat16
    assert r.numpy().astype(np.float32).tolist() == [0.0, 1.0, big, -big]


def test_anomaly_detection_sees_nan_in_a_bfloat16_forward():
    w = _bf16(np.ones(2, np.float32), grad=True)
    with gg.anomaly.detect_anomaly():
        with pytest.raises(gg.AnomalyError, match="Sqrt produced nan"):
            gg.sqrt(w - 2.0)
