"""gpugrad.numpy keeps NumPy's memory layout: ``order=`` in the creation and copy functions
and the ndarray methods, and the input's layout where NumPy keeps it ('K', 'A').  Layout
shows in values a program reads (``ravel('K')``, ``tobytes('A')``), so each case compares
flags, strides and ``ravel('K')`` with NumPy 2's, on C, F and non-contiguous inputs."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def _inputs():
    base = np.arange(6.0).reshape(2, 3)
    return {
        "C": base,
        "F": np.asfortranarray(base),
        "strided": np.arange(12.0).reshape(2, 6)[:, ::2],                 # neither C nor F
        "permuted": np.arange(24.0).reshape(2, 3, 4).transpose(2, 0, 1),  # dense, axes moved
        "permuted-strided": np.arange(48.0).reshape(2, 3, 8)[:, :, ::2].transpose(2, 0, 1),
    }


INPUTS = _inputs()
ORDERS = ["K", "A", "C", "F", None, "f"]


def layout(a):
    """What a program can see of an array's layout: shape, dtype, the contiguity flags, the
    strides of the axes longer than 1 (NumPy leaves the others free) and ``ravel('K')``."""
    a = a.data if isinstance(a, gg.Tensor) else a
    strides = tuple(s for s, n in zip(a.strides, a.shape) if n > 1)
    return (a.shape, a.dtype, a.flags.c_contiguous, a.flags.f_contiguous, strides,
            np.asarray(a).ravel("K").tolist())


def _kw(order):
    return {} if order is None else {"order": order}


# name -> call(module, x, kw) with x an array (NumPy) or a tensor (gpugrad.numpy)
CALLS = {
    "zeros_like": lambda m, x, kw: m.zeros_like(x, **kw),
    "ones_like": lambda m, x, kw: m.ones_like(x, **kw),
    "empty_like": lambda m, x, kw: m.empty_like(x, **kw),  # (layout only: values are free)
    "full_like": lambda m, x, kw: m.full_like(x, 2.0, **kw),
    "full_like-int": lambda m, x, kw: m.full_like(x, 3, dtype=np.int32, **kw),
    "zeros_like-shape": lambda m, x, kw: m.zeros_like(x, shape=x.shape[::-1], **kw),
    "copy": lambda m, x, kw: m.copy(x, **kw),
    "array": lambda m, x, kw: m.array(x, **kw),
    "array-float32": lambda m, x, kw: m.array(x, dtype=np.float32, **kw),
    "array-copy-None": lambda m, x, kw: m.array(x, copy=None, **kw),
    "array-ndmin": lambda m, x, kw: m.array(x, ndmin=4, **kw),
    "asarray": lambda m, x, kw: m.asarray(x, **kw),
    "asarray-float32": lambda m, x, kw: m.asarray(x, dtype=np.float32, **kw),
    "method-copy": lambda m, x, kw: x.copy(**kw),
    "method-astype": lambda m, x, kw: x.astype(np.float32, **kw),
    "method-astype-no-copy": lambda m, x, kw: x.astype(x.dtype, copy=False, **kw),
    "method-flatten": lambda m, x, kw: x.flatten(**kw),
    "method-ravel": lambda m, x, kw: x.ravel(**kw),
}


def _both(call, x, kw, tensor_input=True):
    """(NumPy's answer, gpugrad.numpy's) of ``call``: layouts, or the exception types."""
    out = []
    for m, arg in ((np, x), (gnp, gnp.asarray(x) if tensor_input else x)):
        try:
            r = call(m, arg, kw)
            out.append(layout(r) if not isinstance(r, np.ndarray) or m is np else ("ndarray",))
        except (ValueError, TypeError) as exc:
            out.append(type(exc))
    return out


def _values_free(name, got):
    return got[:5] if name == "empty_like" and isinstance(got, tuple) else got


@pytest.mark.parametrize("order", ORDERS, ids=str)
@pytest.mark.parametrize("inp", INPUTS)
@pytest.mark.parametrize("name", CALLS)
def test_layout_matches_numpy(name, inp, order):
    want, got = _both(CALLS[name], INPUTS[inp], _kw(order))
    assert _values_free(name, got) == _values_free(name, want)


@pytest.mark.parametrize("order", ["K", "A", "C", "F", None])
@pytest.mark.parametrize("inp", INPUTS)
@pytest.mark.parametrize("name", ["array", "asarray", "copy", "zeros_like", "full_like"])
def test_layout_of_ndarray_inputs_matches_numpy(name, inp, order):
    want, got = _both(CALLS[name], INPUTS[inp], _kw(order), tensor_input=False)
    assert got == want


@pytest.mark.parametrize("inp", INPUTS)
@pytest.mark.parametrize("name", ["ascontiguousarray", "asfortranarray"])
def test_contiguous_conversions_match_numpy(name, inp):
    x = INPUTS[inp]
    got = getattr(gnp, name)(gnp.asarray(x))
    assert layout(got) == layout(getattr(np, name)(x))
    assert (got.data is x) == (getattr(np, name)(x) is x)  # (no copy when none is needed)
    assert getattr(gnp, name)(5.0).shape == getattr(np, name)(5.0).shape == (1,)


@pytest.mark.parametrize("order", ["C", "F", "A", "K", "f", None])
@pytest.mark.parametrize("call", [
    lambda m, kw: m.array([[1.0, 2.0], [3.0, 4.0]], **kw),
    lambda m, kw: m.asarray([[1, 2], [3, 4]], **kw),
    lambda m, kw: m.eye(3, **kw),
    lambda m, kw: m.eye(2, 3, 1, dtype=np.float32, **kw),
    lambda m, kw: m.zeros((2, 3), **kw),
    lambda m, kw: m.ones((2, 3, 4), **kw),
    lambda m, kw: m.full((2, 3), 1.5, **kw),
], ids=["array-list", "asarray-list", "eye", "eye-rect", "zeros", "ones", "full"])
def test_new_arrays_match_numpy(call, order):
    got, want = [], []
    for m, out in ((np, want), (gnp, got)):
        try:
            out.append(layout(call(m, _kw(order))))
        except ValueError:
            out.append(ValueError)
    assert got == want


BAD_ORDERS = ["X", "", "KK", 1]


@pytest.mark.parametrize("order", BAD_ORDERS, ids=repr)
@pytest.mark.parametrize("name", ["copy", "array", "asarray", "zeros_like", "full_like",
                                  "method-copy", "method-astype"])
def test_bad_order_raises_numpys_error(name, order):
    want, got = _both(CALLS[name], INPUTS["F"], {"order": order})
    assert want in (ValueError, TypeError) and got is want


@pytest.mark.parametrize("order", BAD_ORDERS + ["A", "K"], ids=repr)
@pytest.mark.parametrize("call", [lambda m, o: m.zeros(2, order=o),
                                  lambda m, o: m.full(2, 1.0, order=o),
                                  lambda m, o: m.eye(2, order=o)], ids=["zeros", "full", "eye"])
def test_c_or_f_only_orders(call, order):
    with pytest.raises((ValueError, TypeError)) as want:
        call(np, order)
    with pytest.raises(want.type, match="order"):
        call(gnp, order)


def test_copy_false_refuses_a_needed_copy_as_numpy():
    F = INPUTS["F"]
    for m in (np, gnp):
        with pytest.raises(ValueError, match="copy"):
            m.asarray(F, order="C", copy=False)
        assert m.asarray(F, order="F", copy=False) is not None
    t = gnp.asarray(F)
    assert gnp.asarray(t, order="A") is t and gnp.asarray(t, order="K") is t
    assert gnp.asarray(t, order="F", copy=False) is t
    assert gnp.asarray(t, order="C").data.flags.c_contiguous


def test_values_a_program_reads_follow_the_layout():
    F = INPUTS["F"]
    assert gnp.copy(F).ravel("K").tolist() == np.copy(F).ravel("K").tolist() == [0, 3, 1, 4, 2, 5]
    assert gnp.copy(gnp.asarray(F)).tobytes(order="A") == np.copy(F).tobytes(order="A")
    assert gnp.array(F).strides == np.array(F).strides


# ---------------------------------------------------------------- differentiable paths
@pytest.mark.parametrize("order", ["K", "A", "C", "F"])
@pytest.mark.parametrize("inp", INPUTS)
@pytest.mark.parametrize("how", ["copy", "array", "asarray", "method-copy", "method-astype",
                                 "array-stacked", "asfortranarray"])
def test_graph_paths_keep_gradients_and_layout(how, inp, order):
    x = INPUTS[inp]
    w = gnp.asarray(x.copy(order="K")).requires_grad_()
    weights = np.arange(1.0, x.size + 1).reshape(x.shape)
    make = {
        "copy": lambda w: gnp.copy(w, order=order),
        "array": lambda w: gnp.array(w, order=order),
        "asarray": lambda w: gnp.asarray(w, order=order),
        "method-copy": lambda w: w.copy(order=order),
        "method-astype": lambda w: w.astype(np.float64, order=order),
        "array-stacked": lambda w: gnp.array([w[i] for i in range(w.shape[0])], order=order),
        "asfortranarray": lambda w: gnp.asfortranarray(w),
    }[how]
    ref = {"array-stacked": lambda v: np.array(list(v), order=order),
           "asfortranarray": np.asfortranarray,
           "asarray": lambda v: np.asarray(v, order=order),
           "method-copy": lambda v: v.copy(order=order),
           "method-astype": lambda v: v.astype(np.float64, order=order),
           }.get(how, lambda v: np.array(v, order=order))
    seen = []

    def loss(w):
        y = make(w)
        seen.append(layout(y))
        return gnp.sum(y * weights)
    g = gg.grad(loss)(w)
    assert seen[0] == layout(ref(x.copy(order="K")))
    np.testing.assert_array_equal(g.numpy(), weights)


@pytest.mark.parametrize("order", ["K", "A", "C", "F"])
@pytest.mark.parametrize("inp", INPUTS)
def test_full_like_with_a_tensor_fill_keeps_gradient_and_layout(inp, order):
    x = INPUTS[inp]
    v = gnp.asarray(2.0).requires_grad_()
    seen = []

    def loss(v):
        y = gnp.full_like(x, v, order=order)
        seen.append(layout(y))
        return gnp.sum(y)
    assert float(gg.grad(loss)(v)) == x.size
    assert seen[0] == layout(np.full_like(x, 2.0, order=order))


# ---------------------------------------------------------------- devices
def _device_layout(t):
    """Contiguity flags and ``ravel('K')`` of a tensor on any device."""
    return (t.data.flags.c_contiguous, t.data.flags.f_contiguous,
            gnp.ravel(t, "K").to("cpu").tolist())


def _host_layout(a):
    return (a.flags.c_contiguous, a.flags.f_contiguous, a.ravel("K").tolist())


@pytest.mark.parametrize("order", ["K", "A", "C", "F"])
@pytest.mark.parametrize("inp", INPUTS)
def test_layout_on_every_device(device, inp, order):
    x = INPUTS[inp]
    src = np.copy(x)  # (dense, in x's memory order: also on a GPU)
    t = gnp.array(x, device=device)
    assert _device_layout(t) == _host_layout(src)
    for got, want in [(gnp.copy(t, order=order), np.copy(src, order=order)),
                      (gnp.zeros_like(t, order=order), np.zeros_like(src, order=order)),
                      (gnp.full_like(t, 2.0, order=order), np.full_like(src, 2.0, order=order)),
                      (gnp.array(t, order=order), np.array(src, order=order)),
                      (gnp.asarray(t, order=order), np.asarray(src, order=order)),
                      (t.copy(order=order), src.copy(order=order)),
                      (t.astype(np.float32, order=order), src.astype(np.float32, order=order))]:
        assert got.device == t.device
        assert _device_layout(got) == _host_layout(want)


@pytest.mark.parametrize("order", ["K", "A", "C", "F"])
@pytest.mark.parametrize("inp", INPUTS)
@pytest.mark.cuda
def test_layout_across_devices(inp, order):
    """A move between devices keeps the layout NumPy gives a copy on the same device."""
    from conftest import HAS_CUDA

    if not HAS_CUDA:
        pytest.skip("CUDA unavailable")
    x = INPUTS[inp]
    for there, src in (("cuda", gnp.asarray(x)), ("cpu", gnp.asarray(x, device="cuda"))):
        for got, want in ((gnp.array(src, order=order, device=there), np.array(x, order=order)),
                          (gnp.zeros_like(src, order=order, device=there),
                           np.zeros_like(x, order=order)),
                          (gnp.full_like(src, 2.0, order=order, device=there),
                           np.full_like(x, 2.0, order=order))):
            assert got.device == gg.device(there)
            assert _device_layout(got) == _host_layout(want)
