"""``autocast(enabled=False)`` -- which ops use internally to run their own products in full
precision -- must work where ml_dtypes (and so bfloat16) is not installed; only an enabled
bfloat16 autocast needs it."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad import dtypes
from gpugrad.amp.autocast_mode import is_autocast_enabled


@pytest.fixture
def no_bfloat16(monkeypatch):
    monkeypatch.setattr(dtypes, "bfloat16", None)


def test_disabled_autocast_needs_no_bfloat16(no_bfloat16):
    with gg.autocast(enabled=False) as ac:
        assert not is_autocast_enabled()
    assert "bfloat16" in repr(ac)

    @gg.autocast(enabled=False)
    def f(x):
        return x * 2

    assert f(gg.tensor([1.0])).tolist() == [2.0]


def test_enabled_bfloat16_still_says_what_is_missing(no_bfloat16):
    with pytest.raises(TypeError, match="ml_dtypes"):
        gg.autocast()


def test_lstsq_gradient_without_bfloat16(no_bfloat16):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal(5)
    x = gnp.array(a)
    x.requires_grad_(True)
    sol = gnp.linalg.lstsq(x, gnp.array(b), rcond=None)[0]
    np.testing.assert_allclose(sol.detach().numpy(), np.linalg.lstsq(a, b, rcond=None)[0],
                               rtol=1e-12, atol=1e-12)
    gnp.sum(sol * sol).backward()
    eps, g = 1e-6, np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a); d[i] = eps
        f = lambda m: np.sum(np.linalg.lstsq(m, b, rcond=None)[0] ** 2)
        g[i] = (f(a + d) - f(a - d)) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-6, atol=1e-8)
