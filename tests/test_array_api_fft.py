"""gpugrad.fft (= gpugrad.numpy.fft, behind gpugrad.array_api.fft): values against NumPy,
gradients against finite differences (float64/complex128) and against torch.fft, the
normalizations, ``n``/``s`` cropping and padding, the Hermitian doubling of irfft's gradient,
errors, frequencies and shifts, on every available device."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.array_api as xp

NORMS = ["backward", "ortho", "forward"]
R = np.random.default_rng(7)


def _real(*shape):
    return R.standard_normal(shape)


def _cplx(*shape):
    return R.standard_normal(shape) + 1j * R.standard_normal(shape)


# (name, input, kwargs): 1-D with n None / shorter / longer (odd and even), N-D with s and axes
CASES = []
for _n in (None, 3, 8):
    CASES += [("fft", _cplx(2, 5), {"n": _n}), ("fft", _real(5), {"n": _n, "axis": 0}),
              ("ifft", _cplx(5, 2), {"n": _n, "axis": 0}), ("rfft", _real(2, 6), {"n": _n}),
              ("irfft", _cplx(2, 4), {"n": _n}), ("irfft", _real(4), {"n": _n}),
              ("hfft", _cplx(4), {"n": _n}), ("ihfft", _real(5), {"n": _n})]
for _s, _axes in ((None, None), ((2, 5), (0, 2)), ((4, 3), (2, 0))):
    CASES += [("fftn", _cplx(3, 2, 4), {"s": _s, "axes": _axes}),
              ("ifftn", _cplx(3, 2, 4), {"s": _s, "axes": _axes}),
              ("rfftn", _real(3, 2, 4), {"s": _s, "axes": _axes}),
              ("irfftn", _cplx(3, 2, 3), {"s": _s, "axes": _axes})]
CASES += [("fft2", _cplx(2, 3, 3), {}), ("ifft2", _cplx(3, 4), {"s": (2, 5)}),
          ("rfft2", _real(3, 4), {}), ("irfft2", _cplx(3, 3), {"s": (3, 5)})]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name,a,kw", CASES, ids=IDS)
def test_values_match_numpy(name, a, kw, norm):
    got = getattr(gg.fft, name)(gg.tensor(a), norm=norm, **kw)
    want = getattr(np.fft, name)(a, norm=norm, **kw)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.allclose(got.numpy(), want)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name,a,kw", CASES, ids=IDS)
def test_gradcheck(name, a, kw, norm):
    fn = getattr(gg.fft, name)
    assert gg.gradcheck(lambda t: fn(t, norm=norm, **kw), [a])


def test_single_precision_stays_single():
    x = gg.tensor(_real(4, 6).astype(np.float32), requires_grad=True)
    y = gg.fft.rfft(x)
    assert y.dtype == np.complex64 and gg.fft.irfft(y).dtype == np.float32
    assert gg.fft.fft(gg.tensor(_cplx(3).astype(np.complex64))).dtype == np.complex64
    gg.real(y).sum().backward()
    assert x.grad.dtype == np.float32


TORCH_CASES = [c for c in CASES if c[0] in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft",
                                             "fftn", "ifftn", "rfftn", "irfftn")]


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("name,a,kw", TORCH_CASES, ids=[f"{c[0]}-{i}" for i, c in
                                                         enumerate(TORCH_CASES)])
def test_gradients_match_torch(name, a, kw, norm):
    torch = pytest.importorskip("torch")
    tkw = {{"axis": "dim", "axes": "dim"}.get(k, k): v for k, v in kw.items() if v is not None}
    tx = torch.tensor(a, requires_grad=True)
    ty = getattr(torch.fft, name)(tx, norm=norm, **tkw)
    gx = gg.tensor(a, requires_grad=True)
    gy = getattr(gg.fft, name)(gx, norm=norm, **kw)
    v = np.random.default_rng(3).standard_normal(tuple(ty.shape) + (2,))
    tv = torch.tensor(v)
    if ty.is_complex():
        (ty.real * tv[..., 0] + ty.imag * tv[..., 1]).sum().backward()
        (gg.real(gy) * gg.tensor(v[..., 0]) + gg.imag(gy) * gg.tensor(v[..., 1])).sum().backward()
    else:
        (ty * tv[..., 0]).sum().backward()
        (gy * gg.tensor(v[..., 0])).sum().backward()
    assert np.allclose(gy.numpy(), ty.detach().resolve_conj().numpy())
    assert np.allclose(gx.grad.numpy(), tx.grad.resolve_conj().numpy())


@pytest.mark.parametrize("n", [6, 7])
def test_irfft_gradient_doubles_the_interior_bins(n):
    # irfft(z, n) holds each interior bin twice (itself and its mirror): for the cotangent
    # cos(2 pi k j / n), rfft gives n/2 at an interior k and n at k = 0 or n/2, so the
    # gradient is exactly the unit vector e_k only if the interior bins are doubled
    z = gg.tensor(np.zeros(n // 2 + 1, dtype=complex), requires_grad=True)
    for k in range(n // 2 + 1):
        z.grad = None
        cos = gg.tensor(np.cos(2 * np.pi * k * np.arange(n) / n))
        (gg.fft.irfft(z, n=n) * cos).sum().backward()
        assert np.allclose(z.grad.numpy(), np.eye(n // 2 + 1)[k]), k


def test_array_api_signatures_and_names():
    import inspect

    for name in xp.fft.__all__:
        assert callable(getattr(xp.fft, name))
    ps = inspect.signature(xp.fft.fft).parameters
    assert ps["x"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert ps["n"].kind is inspect.Parameter.KEYWORD_ONLY and ps["norm"].default == "backward"
    assert xp.fft.fft(xp.asarray([1.0, 1.0])).dtype == np.complex128  # NumPy's float64 input
    assert gg.numpy.fft.fft([1.0, 2.0]).dtype == np.complex128
    assert gg.numpy.fft is not None and gg.fft.fft.__module__ == "gpugrad.ops.fft"


@pytest.mark.parametrize("fn,args,kw,err,match", [
    ("fft", ([1.0, 2.0],), {"norm": "both"}, ValueError, "norm must be"),
    ("rfft", (np.ones(3, dtype=complex),), {}, TypeError, "expected a real input, got complex"),
    ("irfft", (np.ones(1, dtype=complex),), {}, ValueError, "at least 1 output point"),
    ("fft", (np.ones(3),), {"axis": 1}, np.exceptions.AxisError, "axis 1 is out of bounds"),
    ("fftn", (np.ones((2, 2)),), {"axes": (0, 0)}, ValueError, "distinct axes"),
    ("fftn", (np.ones((2, 2)),), {"s": (2,), "axes": (0, 1)}, ValueError, "same length"),
    ("fft", (np.ones(3),), {"out": np.ones(3)}, NotImplementedError, "out= is not supported"),
])
def test_errors_name_what_came(fn, args, kw, err, match):
    with pytest.raises(err, match=match):
        getattr(gg.fft, fn)(*args, **kw)


def test_second_order_through_a_transform():
    # sum(real(fft(x))^2) = x^T C^T C x, C[k, j] = cos(2 pi k j / n): the Hessian is 2 C^T C
    # (every order is checked in test_double_backward_fft.py)
    x = gg.tensor(_real(4), requires_grad=True)
    y = (gg.real(gg.fft.fft(x)) ** 2).sum()
    (g,) = gg.autograd.grad(y, [x], create_graph=True)
    (h,) = gg.autograd.grad(g.sum(), [x])
    c = np.cos(2 * np.pi * np.outer(np.arange(4), np.arange(4)) / 4)
    np.testing.assert_allclose(h.numpy(), 2 * c.T @ c @ np.ones(4), atol=1e-12)


@pytest.mark.parametrize("n", [1, 4, 7])
@pytest.mark.parametrize("d", [1.0, 0.25])
def test_frequencies(n, d):
    assert np.array_equal(gg.fft.fftfreq(n, d).numpy(), np.fft.fftfreq(n, d))
    assert np.array_equal(gg.fft.rfftfreq(n, d).numpy(), np.fft.rfftfreq(n, d))
    assert xp.fft.fftfreq(n, d=d).dtype == np.float64
    assert xp.fft.rfftfreq(n, d=d, dtype=xp.float32).dtype == np.float32
    with pytest.raises(ValueError, match="n >= 1"):
        gg.fft.fftfreq(0)


@pytest.mark.parametrize("axes", [None, 0, (1,), (0, 1)])
def test_shifts_match_numpy_and_pass_gradients(axes):
    a = _real(4, 5)
    x = gg.tensor(a, requires_grad=True)
    y = gg.fft.fftshift(x, axes=axes)
    assert np.array_equal(y.numpy(), np.fft.fftshift(a, axes=axes))
    assert np.array_equal(gg.fft.ifftshift(y, axes=axes).numpy(), a)
    (y * gg.tensor(np.fft.fftshift(a, axes=axes))).sum().backward()
    assert np.allclose(x.grad.numpy(), a)


@pytest.mark.parametrize("name,a,kw", [("fft", _cplx(2, 5), {"n": 8}),
                                       ("rfftn", _real(3, 4), {"s": (2, 5)}),
                                       ("irfft", _cplx(4), {"n": 7})],
                         ids=["fft", "rfftn", "irfft"])
def test_on_every_device(device, name, a, kw):
    x = gg.tensor(a, device=device)
    y = getattr(gg.fft, name)(x, norm="ortho", **kw)
    assert y.device == x.device
    assert np.allclose(y.numpy(), getattr(np.fft, name)(a, norm="ortho", **kw))
    assert gg.gradcheck(lambda t: getattr(gg.fft, name)(t, norm="ortho", **kw), [x])
    assert gg.fft.fftfreq(4, device=device).device == x.device
