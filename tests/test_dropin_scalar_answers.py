"""Every 0-d answer that NumPy gives as a scalar is marked as one (gpugrad.zero_d), so ``+=``
on it rebinds the name and a kept reference keeps its value, as with NumPy's immutable
scalar.  Reductions and element reads were marked; answers whose op converts its 0-d result
to an array on the way out (``std``, ``linalg.det``, ``inner`` of vectors, ``count_nonzero``,
``percentile``/``quantile``) were not, so ``s = x.std(); kept = s; s += 1`` changed ``kept``
-- a silent difference from NumPy.  A 0-d answer NumPy gives as an array (``tensordot``)
stays in place."""
import numpy
import pytest

import gpugrad.numpy as gnp

A = [[1.0, 2.0], [3.0, 4.5]]


@pytest.mark.parametrize("make", [
    lambda np: np.array(A).std(),
    lambda np: np.std(np.array(A)),
    lambda np: np.linalg.det(np.array(A)),
    lambda np: np.inner(np.array(A[0]), np.array(A[1])),
    lambda np: np.count_nonzero(np.array(A)),
    lambda np: np.percentile(np.array(A), 50),
    lambda np: np.quantile(np.array(A), 0.25),
    lambda np: np.median(np.array(A)),
    lambda np: np.tensordot(np.array(A), np.array(A)),   # NumPy: a 0-d array
], ids=["std-method", "std", "det", "inner", "count_nonzero", "percentile", "quantile",
        "median", "tensordot"])
def test_kept_answer_is_as_numpy_leaves_it(make):
    results = []
    for np in (numpy, gnp):
        m = make(np)
        kept = m
        m += 1
        results.append((float(kept), float(m)))
    assert results[0] == pytest.approx(results[1], rel=1e-12, abs=0)


def test_marked_answer_keeps_its_gradient():
    import gpugrad as gg
    x = gg.tensor(A, dtype="float64", requires_grad=True)
    s = gnp.std(x)
    kept = s
    s += 1.0                     # rebinds: s is a new node, kept the std
    total = kept * 2 + s
    ref = numpy.array(A)
    assert float(total) == pytest.approx(3 * ref.std() + 1, rel=1e-12)
    total.backward()
    g = (ref - ref.mean()) / (ref.size * ref.std())
    numpy.testing.assert_allclose(x.grad.numpy(), 3 * g, rtol=1e-12)


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "//=", "%=", "**=", "&=", "|=", "^=",
                                "<<=", ">>="])
def test_every_augmented_operator_rebinds_a_scalar_answer(op):
    """``<<=`` and ``>>=`` (installed apart, in interop.py) wrote in place."""
    results = []
    for np in (numpy, gnp):
        s = np.arange(6).sum()
        ns = {"s": s, "kept": s}
        exec(f"s {op} 2", {}, ns)
        results.append((int(ns["kept"]), int(ns["s"])))
    assert results[0] == results[1]


def test_shift_still_writes_arrays_in_place():
    a = gnp.arange(4)
    alias = a
    a <<= 1
    assert alias.tolist() == [0, 2, 4, 6] and a is alias


@pytest.mark.parametrize("make", [
    lambda m: m.linalg.slogdet(m.array([[2.0, 1.0], [1.0, 3.0]]))[1],
    lambda m: m.linalg.slogdet(m.array([[2.0, 1.0], [1.0, 3.0]]))[0],
    lambda m: m.array([[1.0, 2.0]])[0, 0].astype(m.float32),
    lambda m: m.array([[1.0, 2.0]])[0, 0].copy(),
    lambda m: m.real(m.array([[1.0, 2.0]])[0, 0]),
    lambda m: m.array([[1.0, 2.0]])[0, 1].real,
    lambda m: m.array([1 + 2j])[0].imag,
], ids=["slogdet.logabsdet", "slogdet.sign", "astype", "copy", "np.real", ".real", ".imag"])
def test_scalar_answers_carry_through_methods_and_results(make):
    """NumPy's scalar answers stay scalars through astype/copy/real/imag and slogdet's pair:
    += rebinds, the kept reference keeps its value."""
    got = []
    for m in (numpy, gnp):
        s = make(m)
        kept, before = s, float(s)
        s += 1
        got.append((float(kept), float(s)))
        assert float(kept) == before
    assert got[0] == got[1]
