"""NumPy 2's ``copy=`` semantics for gpugrad.numpy's array/asarray and astype(copy=),
compared with NumPy over a generated set of inputs and arguments: the same error where NumPy
refuses, else the same values, dtype, memory layout, and memory shared with the input
exactly where NumPy's result shares it."""
import itertools

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp

def _base():
    return np.arange(12, dtype=np.int64).reshape(3, 4)


_INPUTS = {  # name: a fresh NumPy value (a tensor input wraps the same memory)
    "list": lambda: _base().tolist(), "tuple": lambda: (1, 2, 3), "float": lambda: 3.0,
    "np.float64": lambda: np.float64(2.5), "0-d": lambda: np.array(1.5),
    "C": _base, "F": lambda: np.asfortranarray(_base()),
    "strided": lambda: _base()[:, ::2], "f32": lambda: _base().astype(np.float32),
}


def _outcome(f):
    try:
        return f(), None
    except (ValueError, TypeError) as e:
        return None, type(e)


def _same(got, want, source, err_msg):
    """``got`` (a tensor) is NumPy's ``want``: values, dtype, layout, sharing with ``source``."""
    assert isinstance(got, gg.Tensor), err_msg
    g = got.data
    assert g.dtype == want.dtype and g.shape == want.shape, err_msg
    np.testing.assert_array_equal(g, want, err_msg=err_msg)
    assert (g.flags.c_contiguous, g.flags.f_contiguous) == \
        (want.flags.c_contiguous, want.flags.f_contiguous), err_msg
    if isinstance(source, np.ndarray):
        assert np.shares_memory(g, source) == np.shares_memory(want, source), err_msg


@pytest.mark.parametrize("func", ["array", "asarray"])
def test_copy_keyword_follows_numpy(func):
    compared = refused = 0
    for name, make in _INPUTS.items():
        for as_tensor, dtype, copy, order in itertools.product(
                (False, True), (None, np.int64, np.float64), (True, None, False),
                ("K", "A", "C", "F")):
            src = make()
            if as_tensor and not isinstance(src, np.ndarray):
                continue
            kw = {"dtype": dtype, "copy": copy, "order": order}
            want, err = _outcome(lambda: getattr(np, func)(src, **kw))
            arg = gnp.asarray(src) if as_tensor else src
            msg = f"{func}({name}{' tensor' if as_tensor else ''}, {kw})"
            if err is not None:
                with pytest.raises(err):
                    getattr(gnp, func)(arg, **kw)
                refused += 1
                continue
            got = getattr(gnp, func)(arg, **kw)
            _same(got, want, src, msg)
            if as_tensor and copy is False:   # no copy: the very same memory, writes show
                got.data.flat[0] = -7
                assert np.asarray(src).flat[0] == -7, msg
            compared += 1
    assert compared > 150 and refused > 50


def test_copy_false_refuses_lists_scalars_casts_and_stacking_with_numpys_error():
    x = np.arange(3, dtype=np.int64)
    for args, kw in [(([1.0, 2.0],), {}), ((3.0,), {}), ((x,), {"dtype": np.float64}),
                     ((gnp.asarray(x),), {"dtype": np.float64}), (((1, 2),), {}),
                     (([gnp.asarray(x), gnp.asarray(x)],), {}),
                     ((np.asfortranarray(np.ones((2, 2))),), {"order": "C"})]:
        with pytest.raises(ValueError, match="Unable to avoid copy"):
            gnp.array(*args, copy=False, **kw)
        with pytest.raises(ValueError, match="Unable to avoid copy"):
            gnp.asarray(*args, copy=False, **kw)
    t = gnp.asarray(x)
    assert gnp.array(t, copy=False) is t and gnp.asarray(t, dtype=np.int64, copy=False) is t
    v = gnp.array(x, copy=False, ndmin=3)   # ndmin: a view, as NumPy's
    assert v.shape == (1, 1, 3) and np.shares_memory(v.data, x)
    # NumPy's spellings of the keyword: truth values and numpy._CopyMode
    assert not np.shares_memory(gnp.array(x, copy=1).data, x)
    with pytest.raises(ValueError):
        gnp.array([1], copy=0)
    if hasattr(np, "_CopyMode"):
        assert np.shares_memory(gnp.array(x, copy=np._CopyMode.IF_NEEDED).data, x)
        with pytest.raises(ValueError):
            gnp.array([1], copy=np._CopyMode.NEVER)


def test_astype_copy_keyword_follows_numpy():
    for src in (_base(), np.asfortranarray(_base()), _base().astype(np.float32)):
        for dtype, copy in itertools.product((np.int64, np.float32, np.float64), (True, False)):
            t = gnp.asarray(src)
            msg = f"{src.dtype} -> {np.dtype(dtype)}, copy={copy}"
            _same(t.astype(dtype, copy=copy), src.astype(dtype, copy=copy), src, msg)
            _same(gnp.astype(t, dtype, copy=copy), np.astype(src, dtype, copy=copy), src, msg)


def test_array_copy_keeps_a_gradient_and_copies_ndarrays_as_numpy():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    (gnp.array(x) * 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    for a in (_base(), np.asfortranarray(_base()), _base()[:, ::2], _base().T):
        c = gnp.copy(a)
        _same(c, np.copy(a), a, "copy")
