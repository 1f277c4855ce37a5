"""Second-order parity with PyTorch: Hessians and Hessian-vector products of random
compositions of ops, in float64 (skipped where PyTorch is not installed)."""
import numpy as np
import pytest

import gpugrad as gg

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

# (name, gpugrad op, torch op) -- unary ops on the whole vector; domains kept safe by the
# composition (log/sqrt see a positive argument)
UNARY = [
    ("sin", gg.sin, torch.sin),
    ("tanh", gg.tanh, torch.tanh),
    ("sigmoid", gg.sigmoid, torch.sigmoid),
    ("exp_small", lambda t: gg.exp(0.3 * t), lambda t: torch.exp(0.3 * t)),
    ("log_pos", lambda t: gg.log(1 + t * t), lambda t: torch.log(1 + t * t)),
    ("sqrt_pos", lambda t: gg.sqrt(1 + t * t), lambda t: torch.sqrt(1 + t * t)),
    ("cube", lambda t: t ** 3, lambda t: t ** 3),
    ("softplus", gg.softplus, torch.nn.functional.softplus),
    ("gelu", gg.gelu, torch.nn.functional.gelu),
    ("silu", gg.silu, torch.nn.functional.silu),
    ("flip", lambda t: gg.flip(t, 0), lambda t: torch.flip(t, (0,))),
    ("cumsum", lambda t: gg.cumsum(t, 0), lambda t: torch.cumsum(t, 0)),
    ("softmax", lambda t: gg.softmax(t, 0), lambda t: torch.softmax(t, 0)),
    ("log_softmax", lambda t: gg.log_softmax(t, 0), lambda t: torch.log_softmax(t, 0)),
    ("matvec", lambda t: gg.matmul(gg.tensor(_M), t), lambda t: torch.tensor(_M) @ t),
]
BINARY = [
    ("add", lambda a, b: a + b, lambda a, b: a + b),
    ("mul", lambda a, b: a * b, lambda a, b: a * b),
    ("div", lambda a, b: a / (2 + b * b), lambda a, b: a / (2 + b * b)),
    ("sub", lambda a, b: a - b, lambda a, b: a - b),
]
REDUCE = [
    ("sum", lambda t: t.sum(), lambda t: t.sum()),
    ("mean_sq", lambda t: (t * t).mean(), lambda t: (t * t).mean()),
    ("logsumexp", lambda t: gg.logsumexp(t), lambda t: torch.logsumexp(t, 0)),
    ("norm", lambda t: gg.norm(t), lambda t: torch.linalg.vector_norm(t)),
    ("var", lambda t: gg.var(t), lambda t: torch.var(t, unbiased=False)),
]
_M = np.random.default_rng(42).standard_normal((4, 4))


def _composition(seed):
    """A random f(x) = reduce(binary(u1(u2(x)), u3(x))), as a gpugrad and a torch function."""
    rng = np.random.default_rng(seed)
    u1, u2, u3 = (UNARY[i] for i in rng.choice(len(UNARY), 3))
    b = BINARY[rng.integers(len(BINARY))]
    r = REDUCE[rng.integers(len(REDUCE))]
    name = f"{r[0]}({b[0]}({u1[0]}({u2[0]}(x)), {u3[0]}(x)))"

    def f_gg(x):
        return r[1](b[1](u1[1](u2[1](x)), u3[1](x)))

    def f_torch(x):
        return r[2](b[2](u1[2](u2[2](x)), u3[2](x)))

    return name, f_gg, f_torch


SEEDS = range(40)


@pytest.mark.parametrize("seed", SEEDS)
def test_hessian_matches_torch(seed):
    name, f_gg, f_torch = _composition(seed)
    x = np.random.default_rng(seed + 1000).standard_normal(4)
    h = gg.hessian(f_gg)(x)
    ht = torch.autograd.functional.hessian(f_torch, torch.tensor(x)).numpy()
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("seed", SEEDS)
def test_hvp_matches_torch(seed):
    name, f_gg, f_torch = _composition(seed)
    rng = np.random.default_rng(seed + 2000)
    x, v = rng.standard_normal(4), rng.standard_normal(4)
    hv = gg.hvp(f_gg, x, v)
    _, hvt = torch.autograd.functional.hvp(f_torch, torch.tensor(x), torch.tensor(v))
    np.testing.assert_allclose(hv, hvt.numpy(), rtol=1e-9, atol=1e-11, err_msg=name)


def test_compositions_cover_every_listed_op():
    seen = set()
    for seed in SEEDS:
        name, _, _ = _composition(seed)
        seen.update(p.strip("()") for p in name.replace("(", " ").replace(",", " ").split())
    listed = {n for n, *_ in UNARY + BINARY + REDUCE}
    assert listed - seen == set(), f"raise SEEDS: never drawn {listed - seen}"
