"""Python protocols on Tensor with NumPy's meaning: ``copy.copy``/``copy.deepcopy`` copy the
data, ``in`` is ``(t == x).any()``, ``divmod`` is ``(t // x, t % x)``, a sequence repeats
only by a 0-d integer tensor; and the drop-in's ``vdot`` (bit-exact with NumPy's) and
``diag``/``diagonal`` (read-only views, as the method)."""
import copy

import warnings

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_copies_own_their_data_and_keep_requires_grad(how):
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    (a * 3).sum().backward()
    b = how(a)
    assert not np.shares_memory(b.numpy(), a.numpy()) and b.requires_grad
    assert b.grad.tolist() == [3.0, 3.0] and not np.shares_memory(b.grad.numpy(),
                                                                    a.grad.numpy())
    with gg.no_grad():
        b[0] = 9.0
    assert a.tolist() == [1.0, 2.0] and b._node is None
    p = gg.nn.Parameter(gg.ones(2))
    q = how(p)
    assert type(q) is gg.nn.Parameter and not np.shares_memory(q.numpy(), p.numpy())
    if how is copy.deepcopy:
        with pytest.raises(RuntimeError, match="graph leaves"):  # (as PyTorch's deepcopy)
            how(a * 2)
    else:                                     # copy.copy: a new leaf, as PyTorch's
        c = how(a * 2)
        assert c.is_leaf and c.requires_grad and c.grad is None and c.tolist() == [2.0, 4.0]
    nonleaf = how((a * 2).detach())
    assert nonleaf._node is None and nonleaf.tolist() == [2.0, 4.0]


def test_contains_follows_numpy():
    a2 = gnp.arange(6.0).reshape(2, 3)
    n2 = np.arange(6.0).reshape(2, 3)
    for v in [2.0, 7, -0.0, "a", None, [0.0, 1.0, 2.0], [9.0, 9.0, 9.0]]:
        assert (v in a2) == (v in n2), v


SEQUENCES = [[1, 2], (1,), "ab"]


@pytest.mark.parametrize("seq", SEQUENCES)
@pytest.mark.parametrize("value", [3, 3.0, True, 1j])
def test_sequence_times_0d_follows_numpy_scalars(seq, value):
    t, s = gnp.asarray(value)[()], np.asarray(value)[()]
    for f in (lambda x: seq * x, lambda x: x * seq):
        try:
            with warnings.catch_warnings():   # NumPy 2.0 still allows a bool, deprecated;
                warnings.simplefilter("error", DeprecationWarning)   # later NumPy raises
                want = f(s)
        except (TypeError, DeprecationWarning):
            with pytest.raises(TypeError, match="sequence by non-int"):
                f(t)
        else:
            assert f(t) == want


@pytest.mark.parametrize("a, b", [(np.array([5.0, -5.0, 7.5]), 2), (7, np.array([2, -3])),
                                  (np.array([5, -7]), np.array([3, 2]))])
def test_divmod_is_numpys(a, b):
    ga = gnp.asarray(a) if isinstance(a, np.ndarray) else a
    gb = gnp.asarray(b) if isinstance(b, np.ndarray) else b
    (q, r), (wq, wr) = divmod(ga, gb), divmod(a, b)
    np.testing.assert_array_equal(q.numpy(), wq)
    np.testing.assert_array_equal(r.numpy(), wr)
    assert q.dtype == wq.dtype and r.dtype == wr.dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64,
                                   np.int64, np.float16])
@pytest.mark.parametrize("n", [5, 1000, 100_003])
def test_vdot_matches_numpy_bit_for_bit(dtype, n):
    rng = np.random.default_rng(n)
    a, b = rng.standard_normal((2, n)) * 10
    if np.dtype(dtype).kind == "c":
        a, b = a + 1j * rng.standard_normal(n), b - 1j * rng.standard_normal(n)
    a, b = a.astype(dtype), b.astype(dtype)
    got, want = gnp.vdot(a.reshape(-1, 1), b), np.vdot(a.reshape(-1, 1), b)
    assert got.dtype == want.dtype and got.shape == ()
    assert got.numpy().tobytes() == np.asarray(want).tobytes()


def test_vdot_is_differentiable_and_checks_sizes():
    a0, b0 = np.array([1 + 2j, 3 - 1j]), np.array([0.5 - 1j, 2 + 2j])
    a = gg.tensor(a0, requires_grad=True)
    b = gg.tensor(b0, requires_grad=True)
    gnp.vdot(a, b).real.backward()
    ref_a = gg.tensor(a0, requires_grad=True)
    ref_b = gg.tensor(b0, requires_grad=True)
    (ref_a.conj() * ref_b).sum().real.backward()      # the same function, elementwise
    np.testing.assert_allclose(a.grad.numpy(), ref_a.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), ref_b.grad.numpy())
    x = gg.tensor([1.0, 2.0, 3.0], dtype="float64", requires_grad=True)
    assert gg.gradcheck(lambda x: gnp.vdot(x, x * x), (x,))
    with pytest.raises(ValueError, match="same number of elements"):
        gnp.vdot(np.ones(3), np.ones(4))


@pytest.mark.parametrize("fn", [lambda a: gnp.diag(a), lambda a: gnp.diagonal(a),
                                lambda a: gnp.diag(a, 1), lambda a: a.diagonal()])
def test_diag_and_diagonal_of_a_matrix_are_read_only_views(fn):
    a = gnp.arange(9.0).reshape(3, 3)
    d = fn(a)
    with pytest.raises(ValueError, match="read-only"):
        d[0] = 1.0
    a[1, 1] = 40.0
    a[1, 2] = 50.0
    assert 40.0 in d or 50.0 in d                        # it shows later writes to a
    n = np.arange(9.0).reshape(3, 3)
    assert fn(gnp.asarray(n)).tolist() == (np.diag(n, 1) if d.shape == (2,) else
                                           np.diag(n)).tolist()
