"""Higher-order gradients through the Fourier transforms (ops/fft.py: C2C, R2C, C2R).

Each transform is linear, and its backward is the adjoint transform of the cotangent; under
``create_graph`` that backward runs as the differentiable transforms themselves, so every
order works.  Second derivatives of nonlinear functions of the transforms are checked against
finite differences (``gradgradcheck``) and against PyTorch's Hessian-vector products.
"""
import numpy as np
import pytest

import gpugrad as gg

CASES = [  # (name, gpugrad transform, torch transform name, kwargs, real input)
    ("fft", gg.fft.fft, "fft", {}, True),
    ("fft_n_pad", gg.fft.fft, "fft", {"n": 7}, True),
    ("fft_n_crop", gg.fft.fft, "fft", {"n": 3, "norm": "ortho"}, True),
    ("ifft", gg.fft.ifft, "ifft", {"norm": "forward"}, False),
    ("fft2", gg.fft.fft2, "fft2", {}, False),
    ("rfft", gg.fft.rfft, "rfft", {}, True),
    ("rfft_n", gg.fft.rfft, "rfft", {"n": 6, "norm": "ortho"}, True),
    ("irfft", gg.fft.irfft, "irfft", {}, False),
    ("irfft_odd", gg.fft.irfft, "irfft", {"n": 7}, False),
    ("rfftn", gg.fft.rfftn, "rfftn", {}, True),
    ("irfftn", gg.fft.irfftn, "irfftn", {"norm": "forward"}, False),
    ("hfft", gg.fft.hfft, "hfft", {}, False),
    ("ihfft", gg.fft.ihfft, "ihfft", {}, True),
]
_SHAPE = (3, 5)


def _input(real, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(_SHAPE)
    return x if real else x + 1j * rng.standard_normal(_SHAPE)


def _f(transform, kw, sin, power, real_part, const):
    """A nonlinear real function of the transform: sum(w * |T(sin x)|^2 + real(T(sin x))^3)."""
    def f(x):
        y = transform(sin(x), **kw)
        ay = power(y)
        w = np.linspace(0.5, 1.5, int(np.prod(ay.shape))).reshape(ay.shape)
        return (ay * const(w)).sum() + (real_part(y) ** 3).sum()
    return f


def _gg_f(transform, kw):
    return _f(transform, kw, gg.sin, lambda y: gg.abs(y) ** 2, gg.real, gg.tensor)


@pytest.mark.parametrize("name,transform,tname,kw,real", CASES, ids=[c[0] for c in CASES])
def test_gradgradcheck(name, transform, tname, kw, real):
    x = gg.tensor(_input(real), requires_grad=True)
    f = _gg_f(transform, kw)
    assert gg.gradgradcheck(lambda t: f(t), [x], directions=2)


@pytest.mark.torch
@pytest.mark.parametrize("name,transform,tname,kw,real", CASES, ids=[c[0] for c in CASES])
def test_hessian_vector_product_matches_pytorch(name, transform, tname, kw, real):
    torch = pytest.importorskip("torch")
    x0, v0 = _input(real), _input(real, seed=1)
    x = gg.tensor(x0, requires_grad=True)
    (g,) = gg.autograd.grad(_gg_f(transform, kw)(x), [x], create_graph=True)
    assert g.requires_grad
    (h,) = gg.autograd.grad(gg.real(g * gg.conj(gg.tensor(v0))).sum(), [x])

    tx = torch.tensor(x0, requires_grad=True)
    ft = _f(getattr(torch.fft, tname), kw, torch.sin, lambda y: y.abs() ** 2,
            lambda y: y.real if y.is_complex() else y, torch.tensor)
    (tg,) = torch.autograd.grad(ft(tx), [tx], create_graph=True)
    (th,) = torch.autograd.grad((tg * torch.tensor(v0).conj()).real.sum(), [tx])
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(h.numpy(), th.numpy(), rtol=1e-9, atol=1e-9)


def test_third_order_of_a_transform(device):
    # d^3/dx^3 of sum(real(fft(x))^3) along the coordinate axes: 6 * (sum_k cos(2 pi k j/n))^3
    n = 4
    x = gg.tensor(np.array([0.3, -0.2, 0.5, 0.1]), device=device, requires_grad=True)
    (g1,) = gg.autograd.grad((gg.real(gg.fft.fft(x)) ** 3).sum(), [x], create_graph=True)
    (g2,) = gg.autograd.grad(g1[0], [x], create_graph=True)
    (g3,) = gg.autograd.grad(g2[0], [x])
    assert g3.device == x.device
    c = np.cos(2 * np.pi * np.outer(np.arange(n), np.arange(n)) / n)   # d real(X_k)/dx_j
    np.testing.assert_allclose(g3.cpu().numpy(), 6 * np.einsum("k,k,kj->j", c[:, 0], c[:, 0], c),
                               atol=1e-12)


def test_second_order_of_a_round_trip(device):
    # irfft(rfft(x)) = x and fft then ifft too: sum(y^2) has the Hessian 2 I
    x = gg.tensor(np.array([0.3, -0.2, 0.5, 0.1, 0.7]), device=device, requires_grad=True)
    y = gg.fft.irfft(gg.fft.rfft(x), n=5) + gg.real(gg.fft.ifft(gg.fft.fft(x)))
    (g,) = gg.autograd.grad((y ** 2).sum() / 4, [x], create_graph=True)
    (h,) = gg.autograd.grad(g[2], [x])
    assert h.device == x.device
    np.testing.assert_allclose(h.cpu().numpy(), [0, 0, 2, 0, 0], atol=1e-12)
