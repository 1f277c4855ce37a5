"""Autocast and the NumPy namespace's twins of the float32 ops: ``nanmean``, ``nanvar``,
``nanstd``, ``nanprod``, ``nancumsum`` (of ``mean``, ``var``, ``std``, ``prod``, ``cumsum``)
and the ufunc methods ``add.reduce``/``add.accumulate``/``multiply.reduce`` run in float32
under autocast as their twins do -- with or without a graph -- and answer as their twins
on the same rounded values."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

pytest.importorskip("ml_dtypes")

rng = np.random.default_rng(0)
V = (rng.random((4, 50)) + 1).astype(np.float32)
V[1, 3] = np.nan

TWINS = {   # name: (the twin's call, the float32 op's call on NaN-free values)
    "nanmean": (lambda m, x: m.nanmean(x), lambda m, x: m.mean(x)),
    "nanvar": (lambda m, x: m.nanvar(x), lambda m, x: m.var(x)),
    "nanstd": (lambda m, x: m.nanstd(x), lambda m, x: m.std(x)),
    "nanprod": (lambda m, x: m.nanprod(x[:, :5]), lambda m, x: m.prod(x[:, :5])),
    "nancumsum": (lambda m, x: m.nancumsum(x, axis=1), lambda m, x: m.cumsum(x, axis=1)),
    "add.reduce": (lambda m, x: m.add.reduce(x, axis=1), lambda m, x: m.sum(x, axis=1)),
    "add.accumulate": (lambda m, x: m.add.accumulate(x, axis=1),
                       lambda m, x: m.cumsum(x, axis=1)),
    "multiply.reduce": (lambda m, x: m.multiply.reduce(x[:, :5], axis=1),
                        lambda m, x: m.prod(x[:, :5], axis=1)),
}
GRAPH = ("nanmean", "nanprod", "nancumsum", "add.reduce", "add.accumulate",
         "multiply.reduce")     # (nanvar/nanstd have no differentiable version)


def _raw(r):
    return np.asarray(r.numpy() if isinstance(r, gg.Tensor) else r)


@pytest.mark.parametrize("dt", ["bfloat16", "float16"])
@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("name", sorted(TWINS))
def test_twins_of_float32_ops_are_float32_under_autocast(name, grad, dt):
    if grad and name not in GRAPH:
        pytest.skip("no differentiable version")
    twin, op = TWINS[name]
    x = gg.tensor(V, requires_grad=grad)
    with gg.autocast(dtype=dt):
        h = x.astype(dt) * 1
        r = twin(gnp, h)
        clean = gnp.where(gnp.isnan(h), gg.tensor(0.0 if "prod" not in name else 1.0)
                          .astype(dt), h)
        want = op(gnp, clean)
    assert _raw(want).dtype == np.float32
    assert _raw(r).dtype == np.float32, f"{name}: {_raw(r).dtype}"
    # the same values as NumPy's in float32 on the rounded input
    ref = twin(np, h.detach().numpy().astype(np.float32))
    np.testing.assert_allclose(_raw(r), ref, rtol=2e-6, atol=0)
    if grad:
        gnp.sum(r).backward()
        assert x.grad.dtype == np.float32
        assert np.all(np.isfinite(x.grad.numpy())) or not name.startswith("nan")


def test_outside_autocast_the_twins_keep_the_16bit_dtype():
    h = gg.tensor(V).astype("bfloat16")
    for name, (twin, _) in TWINS.items():
        assert _raw(twin(gnp, h)).dtype == gg.bfloat16, name
