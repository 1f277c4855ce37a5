"""Augmented assignment on a 0-d result behaves as on the NumPy scalar it stands for.

NumPy answers a reduction, an op on scalars or an element read with an immutable scalar:
``m = spins.sum(); history.append(m); m += 2`` binds ``m`` to a new value and leaves
``history[0]`` alone.  gpugrad answers with a 0-d tensor, and its ``+=`` wrote into that
tensor's memory, so every alias of the result changed with it: a Metropolis simulation's
magnetization history came out as one repeated (final) value, with no error.  A 0-d tensor
made as an array (``np.array(2.0)``, ``np.zeros(())``, ``gg.tensor(1.0)``), a view, and a
leaf that requires grad keep the in-place update."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def _both(fn):
    a, b = fn(numpy), fn(gnp)
    return a, b


def _same(a, b):
    a, b = numpy.asarray(a), numpy.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda np, a: a.sum(),
    lambda np, a: np.max(a),
    lambda np, a: a.mean(),
    lambda np, a: np.dot(a[0], a[1]),
    lambda np, a: np.sqrt(a[1, 1]),
    lambda np, a: a[0, 1] * 2,
    lambda np, a: np.array(5.0) + 1,
    lambda np, a: np.argmax(a),
    lambda np, a: list(a[0])[1],
    lambda np, a: np.linalg.norm(a),
], ids=["sum", "max", "mean", "dot", "sqrt", "elem*2", "0d+1", "argmax", "iter", "norm"])
@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "**="])
def test_result_kept_elsewhere_is_not_changed(make, op):
    def prog(np):
        a = np.arange(6.0).reshape(2, 3)
        s = make(np, a)
        kept = [s]
        holder = {"s": s}
        exec(f"s {op} 3", {}, ns := {"s": s})
        return kept[0], holder["s"], ns["s"], a

    (k1, h1, s1, a1), (k2, h2, s2, a2) = _both(prog)
    for x, y in ((k1, k2), (h1, h2), (s1, s2), (a1, a2)):
        _same(x, y)


def test_metropolis_history():
    """The pattern of a Metropolis Ising simulation: the running magnetization and energy are
    updated with += / -= and appended to histories each sweep."""
    def prog(np):
        np.random.seed(5)
        spins = 2 * np.random.randint(0, 2, (6, 6)) - 1
        m = np.sum(spins)
        e = -np.sum(spins * np.roll(spins, 1, 0) + spins * np.roll(spins, 1, 1)) * 1.0
        ms, es = [], []
        for _ in range(40):
            r, c = np.random.randint(0, 6), np.random.randint(0, 6)
            dh = 2 * spins[r, c] * (spins[(r + 1) % 6, c] + spins[r - 1, c]
                                    + spins[r, (c + 1) % 6] + spins[r, c - 1])
            if np.random.rand() <= min(1, np.exp(-0.4 * dh)):
                spins[r, c] *= -1
                e -= dh
                m += 2 * spins[r, c]
            ms.append(m)
            es.append(e)
        return ms, es

    (ms1, es1), (ms2, es2) = _both(prog)
    assert [int(v) for v in ms2] == [int(v) for v in ms1]
    assert [float(v) for v in es2] == [float(v) for v in es1]
    assert len(set(int(v) for v in ms1)) > 1


def test_rebinding_promotes_as_numpy_scalars_do():
    def prog(np):
        s = np.arange(4).sum()       # an int64 scalar
        s += 0.5                     # NumPy: a float64 3.5 + ... (an array would refuse the cast)
        t = np.arange(3).max()
        t *= np.ones(2)              # NumPy: the scalar becomes an array
        return s, t
    (s1, t1), (s2, t2) = _both(prog)
    _same(s1, s2)
    _same(t1, t2)


def test_arrays_views_and_leaves_still_update_in_place():
    for np in (numpy, gnp):
        z = np.zeros(())
        w = z
        w += 1
        assert float(z) == 1.0
        y = np.array(2.0)
        v = y
        v *= 3
        assert float(y) == 6.0
        a = np.array([1.0, 2.0])
        e = a[..., 0]                # a 0-d view
        e += 5
        assert a.tolist() == [6.0, 2.0]
    t = gg.tensor(1.0)               # PyTorch semantics for tensors made as tensors
    u = t
    u += 1
    assert float(t) == 2.0
    s = gnp.arange(3.0).sum()
    s2 = s
    s2.add_(1)                       # an explicit in-place method stays in place
    assert float(s) == 4.0
    p = gg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        p += 1
    with gg.no_grad():
        q = p
        q -= 0.5                     # an optimizer-style update of a 0-d parameter
    assert float(p) == 0.5


def test_gradient_through_rebound_result():
    w0 = numpy.array([0.5, -1.0, 2.0])

    def loss(w):
        total = gnp.sum(w * w)
        first = [total]
        total += gnp.sum(w)          # d/dw: 2w + 1
        return total + 0 * first[0]

    g = gg.grad(loss)(w0)
    numpy.testing.assert_allclose(numpy.asarray(g), 2 * w0 + 1)

    kept = []

    def loss2(w):
        total = gnp.sum(w * w)
        kept.append(total)
        total *= 3.0
        return total

    v, g2 = gg.value_and_grad(loss2)(w0)
    numpy.testing.assert_allclose(float(v), 3 * float(numpy.sum(w0 * w0)))
    numpy.testing.assert_allclose(float(kept[0]), float(numpy.sum(w0 * w0)))
    numpy.testing.assert_allclose(numpy.asarray(g2), 6 * w0)


@pytest.mark.parametrize("make", [
    lambda: gg.zeros(()), lambda: gg.ones((), dtype="float64"), lambda: gg.full((), 2.0),
    lambda: gg.tensor(1.0), lambda: gg.zeros_like(gg.tensor(1.0)),
    lambda: gg.tensor([1.0, 2.0]).sum().clone(),
    lambda: __import__("copy").deepcopy(gg.tensor([1.0, 2.0]).sum()),
    lambda: __import__("pickle").loads(__import__("pickle").dumps(gnp.arange(3.0).max())),
], ids=["zeros", "ones", "full", "tensor", "zeros_like", "clone", "deepcopy", "pickle"])
def test_tensors_made_as_tensors_and_copies_update_in_place(make):
    """Only an answer NumPy gives as a scalar is marked (zero_d.scalar_tensor): a 0-d tensor
    made by a creation function, or copied, keeps the in-place update PyTorch's tensors have,
    seen through every alias (a 0-d hyperparameter changed between compiled replays)."""
    t = make()
    assert type(t) is gg.Tensor and t.ndim == 0
    alias, before = t, float(t)
    t += 1
    assert t is alias and float(alias) == before + 1


def test_only_scalar_answers_rebind():
    x = gnp.arange(4.0)
    for s in (x.sum(), x[1], gnp.max(x), x[2] * 2, gnp.sqrt(x[3]), gnp.dot(x, x),
              gnp.linalg.norm(x), gnp.array(5.0) + 1):
        alias, before = s, float(s)
        s += 1
        assert s is not alias and float(alias) == before and float(s) == before + 1
    v = x[..., 1]            # a 0-d view: NumPy's array, written through
    v += 10
    assert x.tolist() == [0.0, 11.0, 2.0, 3.0]
