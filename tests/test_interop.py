"""NumPy protocols (__array__, __array_ufunc__, __array_function__), DLPack with NumPy,
PyTorch and CuPy, and the Tensor methods the array API needs."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def leaf(values):
    return gg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ================================================================ __array_ufunc__
@pytest.mark.parametrize("expr,grad", [
    ("np.exp(x)", "np.exp(v)"), ("np.sin(x) * 2", "2 * np.cos(v)"),
    ("np.add(a, x)", "np.ones(3)"), ("a * x", "a"), ("a - x", "-np.ones(3)"),
    ("a / x", "-a / v ** 2"), ("x ** np.float64(2.0)", "2 * v"), ("np.float64(3.0) * x", "3 + 0 * v"),
    ("np.maximum(x, 1.5)", "(v > 1.5) * 1.0"), ("np.logaddexp(x, 0.0)", "np.exp(v) / (1 + np.exp(v))"),
    ("np.sqrt(np.square(x))", "np.ones(3)"), ("np.true_divide(x, 2)", "np.full(3, 0.5)"),
    ("np.absolute(-x)", "np.ones(3)"), ("np.matmul(a, x)", "a")])
def test_ufuncs_dispatch_and_stay_differentiable(expr, grad):
    v = np.array([1.0, 2.0, 3.0])
    a = np.array([0.5, -1.0, 2.0])
    x = leaf(v)
    y = eval(expr, {"np": np, "x": x, "a": a})
    assert isinstance(y, gg.Tensor) and y.requires_grad
    np.testing.assert_allclose(y.numpy(), eval(expr, {"np": np, "x": v, "a": a}))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), eval(grad, {"np": np, "v": v, "a": a}))


def test_ufunc_methods():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    r = np.add.reduce(x, axis=1)
    assert isinstance(r, gg.Tensor) and r.tolist() == [3.0, 7.0]
    assert np.multiply.reduce(x, axis=None).item() == 24.0
    assert np.maximum.reduce(x).tolist() == [3.0, 4.0]
    assert np.add.accumulate(x, axis=1).tolist() == [[1.0, 3.0], [3.0, 7.0]]
    assert np.multiply.accumulate(x).tolist() == [[1.0, 2.0], [3.0, 8.0]]
    np.add.reduce(x, axis=0, keepdims=True).sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    out = gnp.zeros(2)
    assert np.add(gnp.ones(2), 1.0, out=out) is out and out.tolist() == [2.0, 2.0]
    with pytest.raises(TypeError, match="numpy.add.outer"):
        np.add.outer(x, x)
    with pytest.raises(TypeError, match="numpy.frexp"):
        np.frexp(x)
    with pytest.raises(TypeError, match="cannot carry a gradient"):
        np.exp(x, out=np.zeros((2, 2)))


# ================================================================ __array_function__
@pytest.mark.parametrize("expr", [
    "np.sum(x, axis=0)", "np.mean(x)", "np.var(x, ddof=1)", "np.std(x, axis=1)", "np.max(x)",
    "np.prod(x)", "np.cumsum(x)", "np.concatenate([x, np.ones((1, 2))])",
    "np.stack([x, x])", "np.reshape(x, -1)", "np.transpose(x)", "np.linalg.norm(x)",
    "np.linalg.inv(x)", "np.linalg.det(x)", "np.dot(x, x)", "np.einsum('ij,jk->ik', x, x)",
    "np.where(x > 2, x, 0.0)", "np.clip(x, 1.5, 3.5)", "np.sort(x, axis=0)",
    "np.tile(x, 2)", "np.outer(x, x)", "np.trace(x)", "np.linalg.solve(x, np.ones(2))",
    "np.pad(x, 1)", "np.round(x / 3, 2)", "np.median(x)", "np.diff(x)", "np.flip(x)",
    "np.take(x, [0, 3])", "np.squeeze(x[None])", "np.cumprod(x, axis=1)"])
def test_array_functions_dispatch(expr):
    v = np.array([[1.0, 2.0], [3.0, 5.0]])
    x = leaf(v)
    y = eval(expr, {"np": np, "x": x})
    assert isinstance(y, gg.Tensor) and y.requires_grad, expr
    np.testing.assert_allclose(y.numpy(), eval(expr, {"np": np, "x": v}), rtol=1e-12)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == (2, 2)


def test_array_function_non_array_results_and_errors():
    x = leaf([1.0, 2.0])
    assert np.shape(x) == (2,) and np.ndim(x) == 1 and np.size(x) == 2
    assert np.allclose(x, [1.0, 2.0]) and np.array_equal(x, x)
    assert np.result_type(x, np.float32) == np.float64
    assert isinstance(np.array_repr(x), str)
    f = np.fft.fft(x)  # numpy.fft dispatches to gpugrad.fft and stays differentiable
    assert isinstance(f, gg.Tensor) and np.allclose(f.numpy(), np.fft.fft([1.0, 2.0]))
    (np.abs(np.fft.rfft(x)) ** 2).sum().backward()
    assert np.allclose(x.grad.numpy(), [4.0, 8.0])  # d/dx of (x0+x1)^2 + (x0-x1)^2 = 4x
    with pytest.raises(TypeError, match=r"numpy\.unwrap"):
        np.unwrap(x)
    with pytest.raises(TypeError, match=r"numpy\.histogram"):  # no gradient exists
        np.histogram(x)
    m = gg.tensor([[2.0, 1.0], [0.0, 3.0]], requires_grad=True)
    np.linalg.eigvals(m).sum().backward()       # differentiable: d trace / dm = I
    assert np.allclose(m.grad.numpy(), np.eye(2))


def test_array_conversion():
    x = gg.tensor([1.0, 2.0])  # one that requires grad refuses: see test_interop_graph.py
    a = np.asarray(x)
    assert isinstance(a, np.ndarray) and a.tolist() == [1.0, 2.0]
    assert np.asarray(x).base is not None or np.shares_memory(np.asarray(x), x.data)
    np.testing.assert_allclose(x.detach(), [1.0, 2.0])
    assert f"{gg.tensor(3.14159):.2f}" == "3.14" and f"{gg.tensor([1, 2])}" == str(gg.tensor([1, 2]))


def test_bitwise_operators_follow_dtype():
    a, b = gg.tensor([5, 3]), gg.tensor([3, 1])
    assert (a & b).tolist() == [1, 1] and (a | b).tolist() == [7, 3] and (a ^ b).tolist() == [6, 2]
    assert (~a).tolist() == [-6, -4] and (a << 1).tolist() == [10, 6] and (a >> 1).tolist() == [2, 1]
    t, f = gg.tensor([True, False]), gg.tensor([True, True])
    assert (t & f).tolist() == [True, False] and (~t).tolist() == [False, True]
    assert (3 & a).tolist() == [1, 3] and (1 << a).tolist() == [32, 8]


# ================================================================ DLPack
def test_dlpack_numpy_zero_copy():
    t = gg.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)
    assert np.shares_memory(a, t.data)
    assert t.__dlpack_device__() == (1, 0)
    src = np.arange(4.0)
    u = gg.from_dlpack(src)
    src[0] = 9.0
    assert u.tolist()[0] == 9.0 and np.shares_memory(u.data, src)
    c = gg.from_dlpack(src, copy=True)
    src[1] = -1.0
    assert c.tolist()[1] == 1.0
    assert gg.from_dlpack(u) is u
    assert gg.from_dlpack(src, device="cpu").device == "cpu"


def test_dlpack_refuses_tensors_requiring_grad():
    with pytest.raises(RuntimeError, match="detach"):
        np.from_dlpack(gg.tensor([1.0], requires_grad=True))
    with pytest.raises(TypeError, match="__dlpack__"):
        gg.from_dlpack([1, 2])


def test_dlpack_torch_zero_copy():
    torch = pytest.importorskip("torch")
    t = gg.tensor([1.0, 2.0, 3.0])
    tt = torch.from_dlpack(t)
    tt[0] = 7.0
    assert t.tolist()[0] == 7.0
    src = torch.arange(3, dtype=torch.float64)
    g = gg.from_dlpack(src)
    src[2] = 5.0
    assert g.tolist() == [0.0, 1.0, 5.0] and g.dtype == np.float64
    gg.from_dlpack(src.to(torch.int32))
    # and autograd works on the imported memory
    w = g.detach().requires_grad_()
    (w * w).sum().backward()
    assert w.grad.tolist() == [0.0, 2.0, 10.0]


@pytest.mark.cuda
@pytest.mark.real_cuda
def test_dlpack_cupy_and_torch_cuda_zero_copy():
    import cupy  # noqa: F401 -- only reached where a GPU is present

    t = gg.tensor([1.0, 2.0], device="cuda")
    c = cupy.from_dlpack(t)
    c[0] = 5.0
    assert t.tolist() == [5.0, 2.0]
    src = cupy.arange(3.0)
    g = gg.from_dlpack(src)
    src[0] = 4.0
    assert g.device == "cuda" and g.tolist()[0] == 4.0
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        tt = torch.arange(3.0, device="cuda")
        g2 = gg.from_dlpack(tt)
        tt[1] = 8.0
        assert g2.tolist()[1] == 8.0


# ================================================================ array API hooks
def test_namespace_device_and_to_device():
    x = gg.tensor([1.0])
    import gpugrad.array_api as xp

    assert x.__array_namespace__() is xp
    assert x.__array_namespace__(api_version="2023.12") is xp
    with pytest.raises(ValueError, match="2023.12"):
        x.__array_namespace__(api_version="2099.01")
    assert x.device == "cpu" and x.to_device("cpu") is x
    assert x.to_device(x.device).device == x.device
