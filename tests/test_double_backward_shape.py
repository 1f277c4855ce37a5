"""Higher-order gradients through the shape, index and layout ops.

Their backwards run on Tensors under ``create_graph`` and pair up as graph nodes (getitem's
backward is a scatter(-add) whose backward is a getitem again; pad's is a slice; tile's a sum
of blocks...), so every order works.  Checked here: third and fourth orders against closed
forms, Hessians of random compositions against PyTorch, and Hessians of the index-mode pads
against the Hessian built from the op's matrix.
"""
import numpy as np
import pytest

import gpugrad as gg
from gpugrad.ops.index import Scatter


def _np(t):
    return t.numpy() if isinstance(t, gg.Tensor) else np.asarray(t)


def _matrix(linear, shape):
    """The matrix A (out.size x in.size) of a linear NumPy map on arrays of ``shape``."""
    n = int(np.prod(shape))
    cols = [np.asarray(linear(np.eye(n)[i].reshape(shape)), dtype=np.float64).reshape(-1)
            for i in range(n)]
    return np.stack(cols, axis=1)


# ---------------------------------------------------------------- third order and beyond
# after pad and roll the data sit in rows 1..3, columns 3..6: (1, 3) is read three times,
# (0, 2) is padding
ROWS, COLS = np.array([1, 3, 1, 2, 1, 0]), np.array([3, 4, 6, 3, 3, 2])


def _gg_map(x):
    return gg.roll(gg.pad(x, ((1, 0), (2, 1))), 1, axis=1)[ROWS, COLS]


def _np_map(x):
    return np.roll(np.pad(x, ((1, 0), (2, 1))), 1, axis=1)[ROWS, COLS]


def test_third_order_through_repeated_getitem_pad_roll(device):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    u, w = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    uu, ww = gg.tensor(u, device=device), gg.tensor(w, device=device)

    def f(x):
        return (_gg_map(x) ** 4).sum()

    d1 = gg.grad(f)
    d2 = gg.grad(lambda y: (d1(y) * uu).sum())      # H u
    d3 = gg.grad(lambda y: (d2(y) * ww).sum())      # T(u, w, .)
    got = _np(d3(gg.tensor(x, device=device)))
    a = _matrix(_np_map, x.shape)
    ax, au, aw = a @ x.ravel(), a @ u.ravel(), a @ w.ravel()
    # f = sum (Ax)^4: T(u, w, .) = A^T (24 Ax * Au * Aw); repeats of (0, 2) are counted
    np.testing.assert_allclose(got.ravel(), a.T @ (24 * ax * au * aw), rtol=1e-10, atol=1e-10)
    assert np.abs(got).max() > 1e-3


def test_third_order_with_autograd_grad_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x0, u, w = (rng.standard_normal((3, 4)) for _ in range(3))
    idx = [2, 0, 2, 2, 1]

    def gg_f(x):
        y = gg.tile(gg.flip(x, 1), (1, 2))[idx]
        y = gg.repeat(gg.take(y, [3, 3, 0, 7], axis=1), 2, axis=0)
        return (y ** 3 * gg.roll(y, 1, axis=0)).sum()

    def t_f(x):
        y = x.flip(1).tile((1, 2))[idx]
        y = torch.index_select(y, 1, torch.tensor([3, 3, 0, 7])).repeat_interleave(2, dim=0)
        return (y ** 3 * y.roll(1, 0)).sum()

    x = gg.tensor(x0, requires_grad=True)
    (g1,) = gg.autograd.grad(gg_f(x), [x], create_graph=True)
    (g2,) = gg.autograd.grad((g1 * gg.tensor(u)).sum(), [x], create_graph=True)
    (g3,) = gg.autograd.grad((g2 * gg.tensor(w)).sum(), [x])
    xt = torch.tensor(x0, requires_grad=True)
    (t1,) = torch.autograd.grad(t_f(xt), [xt], create_graph=True)
    (t2,) = torch.autograd.grad((t1 * torch.tensor(u)).sum(), [xt], create_graph=True)
    (t3,) = torch.autograd.grad((t2 * torch.tensor(w)).sum(), [xt])
    for a, b in ((g1, t1), (g2, t2), (g3, t3)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_fourth_order_of_repeated_getitem(device):
    base = gg.tensor([0.5, -1.2, 0.8], device=device)
    idx = [0, 2, 0, 0]  # position 0 is read three times

    def f(s):
        return (gg.setitem(base, 0, s)[idx] ** 5).sum()

    d4 = gg.grad(gg.grad(gg.grad(gg.grad(f))))
    # f(s) = 3 s^5 + const: d^4/ds^4 = 360 s
    s = gg.tensor(0.5, dtype=gg.float64, device=device)   # on base's device
    assert float(_np(d4(s))) == pytest.approx(360 * 0.5, rel=1e-12)


def test_getitem_backward_adds_repeats_and_is_a_gather_again(device):
    x = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    v = gg.tensor([1.0, 10.0, 100.0, 1000.0], device=device, requires_grad=True)
    idx = [0, 2, 0, 0]
    (gx,) = gg.autograd.grad(x[idx], [x], grad_outputs=v, create_graph=True)
    assert gx.tolist() == [1101.0, 0.0, 10.0]              # repeats add
    assert isinstance(gx.grad_fn, Scatter)
    c = gg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    (gv,) = gg.autograd.grad((gx * c).sum(), [v], create_graph=True)
    assert gv.tolist() == [1.0, 3.0, 1.0, 1.0]             # its gradient is a gather (c[idx])
    assert gv.requires_grad                                # ... that records again
    # and the gather's own backward scatter-adds once more
    s = gg.tensor([1.0, 10.0, 100.0, 1000.0], device=device)
    (gc,) = gg.autograd.grad((gv * s).sum(), [c])
    assert gc.tolist() == [1101.0, 0.0, 10.0]


def test_first_order_stays_on_raw_arrays():
    x = gg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for y in (x[[0, 0, 1]], x[:, 1], gg.pad(x, 1), gg.tile(x, 2), gg.roll(x, 1),
              gg.setitem(x, [0, 0], gg.tensor([1.0, 2.0, 3.0]))):
        out = y._node.backward(np.ones(y.shape))
        assert all(g is None or type(g) is np.ndarray for g in out), y._node
    (x[[0, 0, 1]] ** 2).sum().backward()
    assert type(x.grad.data) is np.ndarray and x.grad.grad_fn is None
    assert x.grad.tolist() == [[0.0, 4.0, 8.0], [6.0, 8.0, 10.0]]


# ---------------------------------------------------------------- Hessians vs closed forms
PAD_MAPS = {
    "constant": (lambda x: gg.pad(x, ((1, 2), (0, 1)), constant_values=0.7),
                 lambda x: np.pad(x, ((1, 2), (0, 1)))),
    **{m: (lambda x, m=m: gg.pad(x, ((2, 1), (1, 2)), mode=m),
           lambda x, m=m: np.pad(x, ((2, 1), (1, 2)), mode=m))
       for m in ("edge", "reflect", "symmetric", "wrap")},
    "repeat_counts": (lambda x: gg.repeat(x, [2, 0, 1, 3], axis=1),
                      lambda x: np.repeat(x, [2, 0, 1, 3], axis=1)),
    "take_along_axis": (
        lambda x: gg.take_along_axis(x, gg.tensor([[3, 3, 0], [1, 1, 1], [0, 2, 0]],
                                                  device=x.device), 1),
        lambda x: np.take_along_axis(x, np.array([[3, 3, 0], [1, 1, 1], [0, 2, 0]]), 1)),
    "setitem_repeated": (lambda x: gg.setitem(x, [0, 2, 0], x[1] * 2.0),
                         lambda x: _np_setitem(x, [0, 2, 0], x[1] * 2.0)),
}


def _np_setitem(x, key, v):
    y = x.copy()
    y[key] = v
    return y


@pytest.mark.parametrize("name", list(PAD_MAPS))
def test_hessian_of_linear_index_maps(name, device):
    gg_map, np_map = PAD_MAPS[name]
    x = np.random.default_rng(3).standard_normal((3, 4))
    h = _np(gg.hessian(lambda x: (gg_map(x) ** 3).sum())(gg.tensor(x, device=device)))
    # the constant part of a constant-value pad drops out of the linear map, not of y
    y = _np(gg_map(gg.tensor(x))).ravel()
    a = _matrix(np_map, x.shape)
    expected = a.T @ np.diag(6 * y) @ a
    np.testing.assert_allclose(h.reshape(12, 12), expected, rtol=1e-10, atol=1e-10)


def test_hessian_through_tensor_setitem_with_repeats():
    def f(x):
        y = x * 1.0
        y[[1, 1, 0]] = x[::-1] ** 2      # writes x2^2, x1^2 to y[1]: the last one wins
        return (y ** 3).sum()

    x = np.array([0.3, -0.7, 1.1])
    h = gg.hessian(f)(x)
    # y = [x0^2, x1^2, x2]: f = x0^6 + x1^6 + x2^3
    expected = np.diag([30 * x[0] ** 4, 30 * x[1] ** 4, 6 * x[2]])
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- Hessians vs PyTorch
def _t():
    import torch

    return torch


def _tpad(x, pw, value=0.0):
    import torch.nn.functional as F

    return F.pad(x, tuple(v for pair in reversed(pw) for v in pair), value=value)


def _tset(x, key, v):
    y = x.clone()
    y[key] = v
    return y


def _tidx(n):
    return (n - 1, 0, n - 1)


def _keep(n):  # a boolean mask that keeps at least 2 of n >= 2
    return (np.arange(n) != 1) | (n < 3)


# name: (gpugrad, torch); each maps a tensor with ndim >= 1 and every axis >= 2 to another
OPS = {
    "flip": (lambda x: gg.flip(x, 0), lambda x: x.flip(0)),
    "flip_all": (gg.flip, lambda x: x.flip(tuple(range(x.ndim)))),
    "roll": (lambda x: gg.roll(x, 1, axis=-1), lambda x: x.roll(1, -1)),
    "roll_flat": (lambda x: gg.roll(x, -2), lambda x: x.roll(-2)),
    "pad": (lambda x: gg.pad(x, 1), lambda x: _tpad(x, ((1, 1),) * x.ndim)),
    "pad_value": (lambda x: gg.pad(x, ((0, 1),) + ((2, 0),) * (x.ndim - 1), constant_values=.5),
                  lambda x: _tpad(x, ((0, 1),) + ((2, 0),) * (x.ndim - 1), 0.5)),
    "tile": (lambda x: gg.tile(x, (2, 1)), lambda x: x.tile((2, 1))),
    "repeat": (lambda x: gg.repeat(x, 2, axis=0), lambda x: x.repeat_interleave(2, dim=0)),
    "repeat_counts": (
        lambda x: gg.repeat(x, [i % 3 + 1 for i in range(x.shape[-1])], axis=-1),
        lambda x: x.repeat_interleave(_t().tensor([i % 3 + 1 for i in range(x.shape[-1])]),
                                      dim=-1)),
    "neg_step": (lambda x: x[::-1], lambda x: x.flip(0)),
    "step": (lambda x: x[..., ::2] if x.shape[-1] >= 4 else x,
             lambda x: x[..., ::2] if x.shape[-1] >= 4 else x),
    "int": (lambda x: x[1] if x.ndim > 1 else x, lambda x: x[1] if x.ndim > 1 else x),
    "fancy": (lambda x: x[[0, -1, 0]], lambda x: x[[0, -1, 0]]),
    "mask": (lambda x: x[_keep(x.shape[0])], lambda x: x[_t().tensor(_keep(x.shape[0]))]),
    "take": (lambda x: gg.take(x, [1, 1, 0], axis=-1),
             lambda x: _t().index_select(x, -1, _t().tensor([1, 1, 0]))),
    "take_along": (
        lambda x: gg.take_along_axis(
            x, np.broadcast_to(_tidx(x.shape[-1]), x.shape[:-1] + (3,)), -1),
        lambda x: _t().take_along_dim(x, _t().tensor(
            np.broadcast_to(_tidx(x.shape[-1]), x.shape[:-1] + (3,)).copy()), -1)),
    "T": (lambda x: x.T, lambda x: x.permute(*range(x.ndim - 1, -1, -1))),
    "ravel": (gg.ravel, lambda x: x.reshape(-1)),
    "split_cat": (lambda x: gg.concatenate(gg.split(x, [1], axis=0)[::-1]),
                  lambda x: _t().cat(_t().split(x, [1, x.shape[0] - 1])[::-1])),
    "stack": (lambda x: gg.stack([x, gg.flip(x, -1)], axis=-1),
              lambda x: _t().stack([x, x.flip(-1)], -1)),
    "broadcast": (lambda x: gg.moveaxis(gg.broadcast_to(x, (2,) + x.shape), 0, -1),
                  lambda x: x.expand(2, *x.shape).movedim(0, -1)),
    "setitem": (lambda x: gg.setitem(x, [0, -1], x[:2] * 2.0),
                lambda x: _tset(x, [0, -1], x[:2] * 2.0)),
    "copy": (gg.copy, lambda x: x.clone()),
    "astype": (lambda x: x.astype("float64"), lambda x: x.double()),
}


def _composition(seed):
    names = list(np.random.default_rng(seed).choice(sorted(OPS), size=3, replace=False))
    return names, [OPS[n][0] for n in names], [OPS[n][1] for n in names]


@pytest.mark.torch
@pytest.mark.parametrize("seed", range(16))
def test_hessian_of_random_compositions_matches_torch(seed):
    torch = pytest.importorskip("torch")
    names, gfs, tfs = _composition(seed)

    def run(fs, x):
        for f in fs:
            x = f(x)
        return x

    def gg_f(x):
        y = run(gfs, x)
        return (y ** 3).sum() + 0.1 * (y * y).sum() ** 2

    def t_f(x):
        y = run(tfs, x)
        return (y ** 3).sum() + 0.1 * (y * y).sum() ** 2

    x = np.random.default_rng(100 + seed).standard_normal((3, 4))
    h = gg.hessian(gg_f)(x)
    ht = torch.autograd.functional.hessian(t_f, torch.tensor(x)).numpy()
    assert h.shape == ht.shape == (3, 4, 3, 4), names
    np.testing.assert_allclose(h, ht, rtol=1e-9, atol=1e-9, err_msg=str(names))


@pytest.mark.torch
def test_hessian_matches_torch_on_every_op_alone():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((3, 4))
    for name, (gf, tf) in OPS.items():
        h = gg.hessian(lambda x: (gf(x) ** 3).sum())(x)
        ht = torch.autograd.functional.hessian(lambda x: (tf(x) ** 3).sum(),
                                               torch.tensor(x)).numpy()
        np.testing.assert_allclose(h, ht, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.cuda
def test_hessian_through_a_device_move():
    x = np.array([0.5, -1.5, 2.0])

    def f(x):
        y = x.to("cuda")
        return (gg.roll(y, 1).cpu() ** 3).sum()

    np.testing.assert_allclose(gg.hessian(f)(x), np.diag(6 * x), rtol=1e-12)
