"""NumPy's array subclasses with arithmetic of their own (``numpy.matrix``: ``*`` and ``**``
are the matrix product and power; ``numpy.ma.MaskedArray``: masked elements) under
gpugrad.numpy: each function answers as NumPy's does for them (NumPy's own result, the
subclass kept), never by running the subclass's operators inside an elementwise op
(``power(M, 2)`` was the matrix power, ``multiply(M, M)`` the matrix product).  Tensor
operators defer to such an operand as ndarray's do; the engine's conversions
(``gg.as_tensor``, ``gg.from_numpy``, op operands) take the plain array."""
import warnings

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    M = numpy.matrix([[1.0, 2.0], [3.0, 4.0]])


pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


def _same(got, want):
    """Same type (NumPy's subclass; a tensor for NumPy's plain array), dtype, shape, values."""
    assert type(got) is (gg.Tensor if type(want) is numpy.ndarray else type(want)), \
        (type(got), type(want))
    assert got.dtype == want.dtype and got.shape == want.shape
    numpy.testing.assert_array_equal(numpy.asarray(got), numpy.asarray(want))


@pytest.mark.parametrize("call", [
    lambda np, m: np.power(m, 2), lambda np, m: np.multiply(m, m), lambda np, m: np.square(m),
    lambda np, m: np.exp(m), lambda np, m: np.sum(m, axis=1), lambda np, m: np.mean(m, axis=0),
    lambda np, m: np.dot(m, m), lambda np, m: np.clip(m, 2, 3), lambda np, m: np.transpose(m),
    lambda np, m: np.linalg.inv(m), lambda np, m: np.add(m, 1.5), lambda np, m: np.ravel(m),
    lambda np, m: np.linalg.det(m), lambda np, m: np.fft.fft(m),
], ids=["power", "multiply", "square", "exp", "sum1", "mean0", "dot", "clip", "transpose",
        "inv", "add", "ravel", "det", "fft"])
def test_functions_answer_as_numpy_for_a_matrix(call):
    _same(call(gnp, M), call(numpy, M))


def test_matrix_made_by_the_namespace_is_numpys():
    for make in (lambda np: np.matrix([[1.0, 2.0], [3.0, 4.0]]),
                 lambda np: np.asmatrix(np.arange(4.0).reshape(2, 2))):
        m, want = make(gnp), make(numpy)
        _same(m, want)
        _same(m * m, want * want)                       # the matrix product
        _same(m ** 2, want ** 2)
        _same(m.I, want.I)


def test_ng_style_cost_with_matrices():
    """Andrew Ng's ex1 in Python: X * theta.T is a matrix product, np.power elementwise."""
    def cost(np):
        X = np.matrix(np.column_stack([np.ones(5), np.arange(5.0)]))
        y = np.matrix(np.arange(5.0) * 2 + 1).T
        theta = np.matrix(np.array([0.5, 1.5]))
        inner = np.power(((X * theta.T) - y), 2)
        return np.sum(inner) / (2 * len(X))
    assert cost(gnp) == cost(numpy) == 1.375


def test_tensor_operators_defer_to_a_matrix():
    t = gnp.arange(4.0).reshape(2, 2)
    a = numpy.arange(4.0).reshape(2, 2)
    _same(t * M, a * M)                                 # M.__rmul__: the matrix product
    _same(t + M, a + M)
    _same(t @ M, a @ M)


def test_masked_arrays_keep_their_mask():
    m = numpy.ma.masked_invalid([1.0, numpy.nan, 3.0])
    _same(gnp.exp(m), numpy.exp(m))
    assert gnp.sum(m) == numpy.sum(m) == 4.0
    numpy.testing.assert_array_equal(numpy.ma.getmaskarray(gnp.multiply(m, 2)),
                                     [False, True, False])
    t = gnp.asarray(m)                                  # NumPy's asarray: the data
    assert type(t) is gg.Tensor and type(t.data) is numpy.ndarray
    numpy.testing.assert_array_equal(t.numpy(), numpy.asarray(m))


def test_plain_arrays_from_subclasses():
    for conv in (gg.as_tensor, gg.from_numpy, gnp.asarray, gnp.array, gg.tensor):
        t = conv(M)
        assert type(t.data) is numpy.ndarray, conv
        numpy.testing.assert_array_equal(t.numpy(), numpy.asarray(M))
    r = gg.ops.multiply(gg.tensor(numpy.ones((2, 2))), M)   # the engine: elementwise
    assert type(r.data) is numpy.ndarray
    numpy.testing.assert_array_equal(r.numpy(), numpy.asarray(M))


def test_memmap_acts_as_its_array(tmp_path):
    mm = numpy.memmap(tmp_path / "a.bin", dtype="float64", mode="w+", shape=(3,))
    mm[:] = [1.0, 2.0, 3.0]
    t = gnp.asarray(mm)
    assert type(t.data) is numpy.ndarray
    r = gnp.multiply(mm, mm)
    assert type(r) is gg.Tensor and r.tolist() == [1.0, 4.0, 9.0]


def test_in_a_graph_a_matrix_operand_is_refused():
    w = gg.tensor(numpy.ones((2, 2)), requires_grad=True)
    with pytest.raises(TypeError, match="graph"):
        gnp.multiply(M, w)
