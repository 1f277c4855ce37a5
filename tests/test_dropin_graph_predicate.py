"""Every graph-or-no-graph choice of the drop-in uses the engine's predicate: a view whose
base joined the graph after the view was taken is in the graph (lstsq, eig, fallbacks,
in-place writes of such a view into a constant)."""
import numpy as np
import pytest

import gpugrad.numpy as gnp
from gpugrad.ops._fast import in_graph

A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


def _view_then_grad():
    w = gnp.array(A.ravel())
    a = w.reshape(3, 2)          # the view first, then its base joins the graph
    w.requires_grad_()
    return w, a


def test_in_graph_sees_a_view_whose_base_joined_later():
    w, a = _view_then_grad()
    assert not a.requires_grad and in_graph(a)
    assert not in_graph(gnp.zeros(2)) and not in_graph(1.0)


def test_lstsq_keeps_the_gradient_of_such_a_view():
    def grad(view_first):
        w = gnp.array(A.ravel())
        if view_first:
            a = w.reshape(3, 2); w.requires_grad_()
        else:
            w.requires_grad_(); a = w.reshape(3, 2)
        x = gnp.linalg.lstsq(a, gnp.array([1.0, 1.0, 3.0]), rcond=None)[0]
        x.sum().backward()
        return w.grad.data
    np.testing.assert_allclose(grad(True), grad(False))
    assert np.abs(grad(True)).sum() > 0


def test_eig_keeps_the_gradient_of_such_a_view():
    w = gnp.array([2.0, 0.0, 0.0, 3.0])
    a = w.reshape(2, 2)
    w.requires_grad_()
    vals = gnp.linalg.eig(a).eigenvalues
    assert vals.requires_grad
    vals.sum().backward()
    np.testing.assert_allclose(w.grad.data, [1.0, 0.0, 0.0, 1.0])


def test_fallback_refuses_such_a_view():
    w, a = _view_then_grad()
    with pytest.raises(TypeError, match="histogram"):
        gnp.histogram(a)


def test_inplace_add_of_such_a_view_records_the_graph():
    w, v = _view_then_grad()
    c = gnp.zeros((3, 2))
    c += v
    assert c.requires_grad
    (c * 2.0).sum().backward()
    np.testing.assert_allclose(w.grad.data, np.full(6, 2.0))


def test_setitem_of_such_a_view_records_the_graph():
    w, v = _view_then_grad()
    c = gnp.zeros((3, 2))
    c[:] = v
    assert c.requires_grad
    c.sum().backward()
    np.testing.assert_allclose(w.grad.data, np.ones(6))


def test_nograd_helpers_keep_values_of_such_a_view():
    # take/argmax-style helpers gather from the view in the graph (C.traced)
    w, v = _view_then_grad()
    y = gnp.sort(v, axis=None)
    y.sum().backward()
    np.testing.assert_allclose(w.grad.data, np.ones(6))
