"""In-place writes through a view whose base is not in the graph (a constant, or a tensor
made before anything required grad): the write of a value that requires grad re-links the
base, and every view between it and the written one, exactly as for a base in the graph.

PyTorch does the same (after ``v = a[1:]; v += w``, ``a.grad_fn`` is a CopySlices node).
Each case is a function of ``w = [1, 2]`` (gpugrad or PyTorch as ``T``) returning a scalar
loss, with the gradient PyTorch gives written down; ``test_expected_values_match_torch``
re-derives each expectation where PyTorch is installed.  The cases in ``TORCH_RAISES`` write
through a view made before its base joined the graph, which PyTorch refuses (it calls the
view "a leaf Variable that requires grad"); their values are the analytic ones, and
``test_gradcheck`` checks every case against finite differences.

Views made under ``no_grad()`` follow PyTorch's rule: writing a value that requires grad
through one (or any write, when its base requires grad) raises, and so does using one after
its base was modified while its base requires grad.
"""
import gc
import weakref

import numpy as np
import pytest

import gpugrad as gg

W0 = [1.0, 2.0]


def _w(device="cpu"):
    return gg.tensor(W0, requires_grad=True, dtype=gg.float64, device=device)


def _zeros(T, *shape):
    return T.zeros(*shape, dtype=T.float64)


def _c(T, n, *shape):
    return T.arange(float(n), dtype=T.float64).reshape(*shape)


# ------------------------------------------------------------------ the cases
def _slice_add(w, T):                    # the report
    a = _zeros(T, 3)
    v = a[1:]
    v += w
    return (a * a).sum() + (w * w).sum()


def _base_alone(w, T):                   # the base's own loss (it used to "not require grad")
    a = _zeros(T, 3)
    v = a[1:]
    v += w
    return (a * a).sum()


def _slice_iadd_idiom(w, T):             # a[1:] += w: view += w, then a[1:] = view
    a = _zeros(T, 3)
    a[1:] += w
    return (a * _c(T, 3, 3)).sum()


def _view_of_view_setitem(w, T):
    a = _zeros(T, 2, 3)
    r = a[0]
    r[1:] = w
    return (a * a).sum() + (r * r).sum()


def _view_of_view_add(w, T):             # the intermediate view r is re-linked too
    a = _zeros(T, 2, 3)
    r = a[1]
    v = r[1:]
    v += w
    return (a * _c(T, 6, 2, 3)).sum() + (r * r).sum()


def _transpose_setitem(w, T):
    a = _zeros(T, 2, 2)
    a.T[0] = w
    return (a * _c(T, 4, 2, 2)).sum()


def _transpose_row_copy(w, T):
    a = _zeros(T, 2, 2)
    a.T[1].copy_(w)
    return (a * _c(T, 4, 2, 2)).sum() + (a * a).sum()


def _reshape_add(w, T):
    a = _zeros(T, 4)
    r = a.reshape(2, 2)
    r[1] += w
    return (a * _c(T, 4, 4)).sum()


def _reshape_then_slice(w, T):
    a = _zeros(T, 2, 2)
    a.reshape(4)[1:3] = w
    return (a * _c(T, 4, 2, 2)).sum()


def _copy_into_slice(w, T):
    a = _zeros(T, 3)
    a[1:].copy_(w)
    return (a * a).sum()


def _fill_with_a_0d_tensor(w, T):
    a = _zeros(T, 3)
    a[1:].fill_(w.sum())
    return (a * a).sum()


def _view_used_after_write(w, T):
    a = _zeros(T, 3)
    v = a[1:]
    v += w
    v *= w
    return a.sum() + v.sum()


def _sibling_view(w, T):                 # another view of the base sees the write's graph
    a = _zeros(T, 3)
    u = a[:2]
    v = a[1:]
    v += w
    return (u * u).sum()


def _multiply_reads_the_old_value(w, T):
    a = T.ones(3, dtype=T.float64)
    v = a[1:]
    v *= w
    return (a * a).sum()


def _write_after_base_joined(w, T):      # v made before a joined the graph through u
    a = T.ones(3, dtype=T.float64)
    v = a[1:]
    u = a[:1]
    u += w[:1]
    v *= w
    return (a * _c(T, 3, 3)).sum() + (a * a).sum()


def _intermediate_written_again(w, T):
    a = _zeros(T, 2, 3)
    r = a[1]
    v = r[1:]
    v += w
    r *= 3
    return (a * a).sum()


def _in_a_loop(w, T):
    a = _zeros(T, 3)
    for i in range(2):
        v = a[i:i + 2]
        v += w * (i + 1)
    return (a * a).sum()


def _stale_intermediate(w, T):           # s's nearest base r is re-derived before s is
    a = T.ones(2, 3, dtype=T.float64)
    u, r = a[1], a[0]
    s = r[1:]
    u[:2] += w                           # a joins the graph
    z = r.sum()                          # r is recorded as a view of a
    u[2:] += w[:1]                       # a changes again: r is stale
    return z + (s * w).sum() + (a * a).sum()


def _transpose_of_a_non_leaf(w, T):      # bases in the graph: the same re-linking
    y = _c(T, 4, 2, 2) * w
    y.T[0] *= w
    return (y * y).sum()


def _reshape_of_a_non_leaf(w, T):
    y = T.cat([w, w * 3])
    y.reshape(2, 2)[1] += w
    return (y * y).sum()


# name: (function, w's gradient from PyTorch 2.x)
CASES = {
    "slice_add": (_slice_add, [4.0, 8.0]),
    "base_alone": (_base_alone, [2.0, 4.0]),
    "slice_iadd_idiom": (_slice_iadd_idiom, [1.0, 2.0]),
    "view_of_view_setitem": (_view_of_view_setitem, [4.0, 8.0]),
    "view_of_view_add": (_view_of_view_add, [6.0, 9.0]),
    "transpose_setitem": (_transpose_setitem, [0.0, 2.0]),
    "transpose_row_copy": (_transpose_row_copy, [3.0, 7.0]),
    "reshape_add": (_reshape_add, [2.0, 3.0]),
    "reshape_then_slice": (_reshape_then_slice, [1.0, 2.0]),
    "copy_into_slice": (_copy_into_slice, [2.0, 4.0]),
    "fill_with_a_0d_tensor": (_fill_with_a_0d_tensor, [12.0, 12.0]),
    "view_used_after_write": (_view_used_after_write, [4.0, 8.0]),
    "sibling_view": (_sibling_view, [2.0, 0.0]),
    "multiply_reads_the_old_value": (_multiply_reads_the_old_value, [2.0, 4.0]),
    # a = [1 + w0, w0, w1]: loss = w0 + 2 w1 + (1 + w0)^2 + w0^2 + w1^2
    "write_after_base_joined": (_write_after_base_joined, [7.0, 6.0]),
    # a[1] = [0, 3 w0, 3 w1]: loss = 9 (w0^2 + w1^2)
    "intermediate_written_again": (_intermediate_written_again, [18.0, 36.0]),
    "in_a_loop": (_in_a_loop, [18.0, 24.0]),
    "stale_intermediate": (_stale_intermediate, [9.0, 7.0]),
    "transpose_of_a_non_leaf": (_transpose_of_a_non_leaf, [32.0, 56.0]),
    "reshape_of_a_non_leaf": (_reshape_of_a_non_leaf, [34.0, 68.0]),
}
TORCH_RAISES = {"write_after_base_joined", "intermediate_written_again"}


def _grad(fn, device="cpu"):
    w = _w(device)
    with gg.default_device(device):      # the case's constants live where w does
        fn(w, gg).backward()
    return w.grad.numpy()


@pytest.mark.parametrize("name", list(CASES))
def test_gradient(name, device):
    fn, expected = CASES[name]
    np.testing.assert_allclose(_grad(fn, device), expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(set(CASES) - TORCH_RAISES))
def test_expected_values_match_torch(name):
    torch = pytest.importorskip("torch")
    fn, expected = CASES[name]
    w = torch.tensor(W0, requires_grad=True, dtype=torch.float64)
    fn(w, torch).backward()
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(TORCH_RAISES))
def test_torch_refuses_these(name):
    torch = pytest.importorskip("torch")
    w = torch.tensor(W0, requires_grad=True, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        CASES[name][0](w, torch)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    fn = CASES[name][0]
    assert gg.gradcheck(lambda w: fn(w, gg), [np.array(W0)])


@pytest.mark.parametrize("name", ["slice_add", "view_of_view_add", "transpose_row_copy",
                                  "reshape_add", "multiply_reads_the_old_value",
                                  "write_after_base_joined", "in_a_loop",
                                  "transpose_of_a_non_leaf", "reshape_of_a_non_leaf"])
def test_gradgradcheck(name):
    fn = CASES[name][0]
    assert gg.gradgradcheck(lambda w: fn(w, gg), [np.array(W0)])


def test_flip_view():                    # PyTorch's flip copies; NumPy's (and ours) is a view
    w = _w()
    a = gg.zeros(3, dtype=gg.float64)
    gg.flip(a)[:2] = w                   # a = [0, w1, w0]
    (a * gg.tensor([1.0, 2.0, 3.0], dtype=gg.float64)).sum().backward()
    assert a.tolist() == [0.0, 2.0, 1.0]
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 2.0])


# ------------------------------------------------------------------ the base after the write
def test_the_base_joins_the_graph():
    w = _w()
    a = gg.zeros(3, dtype=gg.float64)
    r = a[None]                          # an intermediate view
    v = r[0, 1:]
    assert not a.requires_grad and a.grad_fn is None and v.grad_fn is None
    v += w
    assert a.requires_grad and a.grad_fn is not None and not a.is_leaf
    assert r.requires_grad and r.grad_fn is not None
    assert a.tolist() == [0.0, 1.0, 2.0] and np.shares_memory(v.data, a.data)


def test_a_constant_write_leaves_the_base_constant():
    a = gg.zeros(3, dtype=gg.float64)
    v = a[1:]
    v += 1
    v.copy_(gg.tensor([2.0, 3.0], dtype=gg.float64))
    assert not a.requires_grad and a.grad_fn is None and not v.requires_grad
    assert a.tolist() == [0.0, 2.0, 3.0]


def test_a_write_under_no_grad_leaves_the_base_constant():
    w = _w()
    a = gg.zeros(3, dtype=gg.float64)
    v = a[1:]
    with gg.no_grad():
        v += w
    assert not a.requires_grad and not v.requires_grad and a.tolist() == [0.0, 1.0, 2.0]


def test_setting_requires_grad_on_the_base_after_the_view():
    a = gg.ones(3, dtype=gg.float64)
    v = a[1:]
    a.requires_grad_()
    (v * v).sum().backward()             # PyTorch: v requires grad, but a.grad stays None
    np.testing.assert_allclose(a.grad.numpy(), [0.0, 2.0, 2.0])


# ------------------------------------------------------------------ what raises
def test_a_leaf_base_that_requires_grad_still_raises():
    w = _w()
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=gg.float64)
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        x[1:].add_(w)
    a = gg.zeros(3, dtype=gg.float64)
    v = a[1:]
    a.requires_grad_()                   # after the view was made: a is a leaf that requires grad
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        v += w
    with pytest.raises(RuntimeError, match="a view of a leaf tensor that requires grad"):
        v += 1
    assert a.tolist() == [0.0, 0.0, 0.0]


def _no_grad_view(base, key=slice(1, None)):
    with gg.no_grad():
        return base[key]


@pytest.mark.parametrize("write", ["iadd", "setitem", "copy_", "fill_"])
def test_writing_a_value_that_requires_grad_through_a_no_grad_view_raises(write):
    w = _w()
    a = gg.zeros(3, dtype=gg.float64)
    v = _no_grad_view(a)
    with pytest.raises(RuntimeError, match="view was created in no_grad mode and is being"):
        if write == "iadd":
            v += w
        elif write == "setitem":
            v[:] = w
        elif write == "copy_":
            v.copy_(w)
        else:
            v.fill_(w.sum())
    assert a.tolist() == [0.0, 0.0, 0.0] and not a.requires_grad


def test_any_write_through_a_no_grad_view_of_a_base_that_requires_grad_raises():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=gg.float64)
    y = x * 2
    for base in (x, y):
        v = _no_grad_view(base)
        with pytest.raises(RuntimeError, match="view was created in no_grad mode"):
            v += 1
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0, 6.0])


def test_a_view_of_a_no_grad_view_inherits_the_rule():
    w = _w()
    a = gg.zeros(2, 3, dtype=gg.float64)
    r = _no_grad_view(a, 0)
    v = r[1:]                            # made with grad on, but from a no_grad view
    with pytest.raises(RuntimeError, match="view was created in no_grad mode"):
        v += w
    v += 1                               # a constant write is fine (as in PyTorch)
    assert a.tolist() == [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]] and not a.requires_grad


def test_a_no_grad_view_is_a_constant_while_its_base_is_unchanged():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=gg.float64)
    y = x * 2
    u = _no_grad_view(y)
    assert not u.requires_grad
    (u * x[1:]).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 4.0, 6.0])  # torch's


def test_using_a_no_grad_view_after_its_base_joined_the_graph_raises():
    w = _w()
    a = gg.zeros(3, dtype=gg.float64)
    u = _no_grad_view(a, slice(0, 2))
    v = a[1:]
    v += w
    with pytest.raises(RuntimeError, match="its base or another view of its base has been"):
        (u * u).sum()


def test_using_a_no_grad_view_after_its_base_was_modified_raises():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=gg.float64)
    y = x * 2
    u = _no_grad_view(y)
    with gg.no_grad():
        y += 1
    with pytest.raises(RuntimeError, match="its base or another view of its base has been"):
        u * x[1:]
    with gg.no_grad():                   # under no_grad it is a plain constant
        assert (u * 1).tolist() == [5.0, 7.0]


# ------------------------------------------------------------------ bookkeeping
def test_a_view_without_grad_records_nothing_and_frees_with_its_base():
    a = gg.zeros(3, dtype=gg.float64)
    for make in (lambda t: t[1:], lambda t: t.T, lambda t: t.reshape(3, 1)):
        with gg.no_grad():
            v = make(a)
        u = make(a)
        for t in (u, v):
            assert t.grad_fn is None and not t.requires_grad and t.is_leaf
    gc.collect()
    gc.disable()
    try:
        b = gg.zeros(3, dtype=gg.float64)
        ref = weakref.ref(b)
        v = b[1:][None].T
        del b
        assert ref() is not None         # the view keeps its base alive (as NumPy does) ...
        del v
        assert ref() is None             # ... and nothing else does: no reference cycle
    finally:
        gc.enable()


def test_a_non_view_reshape_has_no_base():
    w = _w()
    a = gg.zeros(2, 2, dtype=gg.float64)
    c = a.T.reshape(4)                   # a copy (NumPy cannot make this a view)
    assert not np.shares_memory(c.data, a.data)
    c[:2] += w
    assert not a.requires_grad and a.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_a_written_constant_base_leaves_no_reference_cycle():
    w = _w()
    gc.collect()
    gc.disable()
    try:
        a = gg.zeros(2, 3, dtype=gg.float64)
        ref = weakref.ref(a)
        row = a[0]
        v = row[1:]
        v += w
        v *= w
        del a, row, v
        assert ref() is None
    finally:
        gc.enable()


def test_a_non_differentiable_write_after_the_base_joined():
    w = _w()
    a = gg.zeros(3, dtype=gg.float64)
    v = a[1:]
    v += w
    v //= w                              # constants now: the base's gradient there is zero
    assert v.requires_grad and a.tolist() == [0.0, 1.0, 1.0]
    v += w                               # ... and a later write through v still reaches a
    (a * a).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 6.0])   # 2 (1 + w)
