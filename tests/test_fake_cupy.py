"""The NumPy-backed CuPy stand-in of ``GPUGRAD_FAKE_CUDA=1`` (fake_cupy.py) refuses what CuPy
refuses, so that device bugs show on a CPU-only machine; and, in fake mode, gpugrad's own
device check sees its arrays on cuda:0."""
import numpy as np
import pytest

import fake_cupy as cp
import gpugrad as gg
from conftest import FAKE_CUDA


def test_host_arrays_and_implicit_conversions_are_refused():
    assert bool(cp.any(cp.asarray([True]))) and float(cp.sum(cp.ones(2))) == 2.0
    a = cp.asarray([1.0, 2.0])              # (cupy.any above must not shadow the builtin)
    assert not isinstance(a, np.ndarray) and type(a).__module__ == "cupy"
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    for mix in (lambda: a + np.ones(2), lambda: np.ones(2) * a, lambda: cp.maximum(a, np.ones(2)),
                lambda: cp.concatenate([a, np.ones(2)]), lambda: a + np.array(1.0),
                lambda: np.add(a, np.ones(2)), lambda: a + [1.0, 2.0]):
        with pytest.raises(TypeError, match="Unsupported type"):
            mix()
    with pytest.raises(ValueError, match="cannot write a host"):
        a[:] = np.ones(2)                           # basic index: CuPy's fill refuses it
    a[np.array([0, 1])] = np.array([5.0, 6.0])      # advanced index: CuPy converts
    a[...] = np.array(7.0)                          # a 0-d host array fills
    assert (a + 1).tolist() == [8.0, 8.0] and float(a.sum()) == 14.0


def test_results_are_device_arrays_and_views_keep_identity():
    a = cp.arange(6.0).reshape(2, 3)
    s = a.sum()
    assert type(s) is cp.ndarray and s.shape == ()           # never a NumPy scalar
    assert type(np.sum(a, axis=0)) is cp.ndarray             # NumPy calls dispatch
    r = a[0]
    assert r.base is a.base or r.base is a
    assert cp.asarray(a) is a and a.astype(a.dtype, copy=False) is a
    e = a[0, 1]                                              # a 0-d view, as in CuPy
    a[0, 1] = 9.0
    assert float(e) == 9.0
    h = a.get()
    assert type(h) is np.ndarray and not np.shares_memory(h, cp.host(a))
    assert cp.asnumpy(a).tolist() == h.tolist()
    assert a.data.ptr == cp.host(a).__array_interface__["data"][0]
    with pytest.raises(NotImplementedError):
        cp.ElementwiseKernel("T x", "T y", "y = x", "k")


@pytest.mark.cuda
@pytest.mark.skipif(not FAKE_CUDA, reason="GPUGRAD_FAKE_CUDA=1 only")
def test_gpugrad_sees_the_fake_gpu():
    x = gg.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    assert x.device == "cuda:0" and type(x.data) is cp.ndarray
    with pytest.raises(gg.DeviceMismatchError, match="got cuda:0 and cpu"):
        x + gg.tensor([1.0, 1.0], device="cpu")
    with pytest.raises(TypeError, match="call .cpu"):
        np.asarray(x)
    (x * x).sum().backward()
    assert x.grad.device == "cuda:0" and x.grad.tolist() == [2.0, 4.0]
    layer = gg.nn.Linear(3, 2, activation="gelu", device="cuda")   # the fused kernels' CPU code
    y = layer(gg.ones(4, 3, device="cuda"))
    y.sum().backward()
    assert y.device == layer.weight.grad.device == "cuda:0"
