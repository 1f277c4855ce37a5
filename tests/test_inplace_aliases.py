"""In-place writes through every alias NumPy code can hold of a tensor's memory: ``.real`` and
``.imag`` of a complex tensor (NumPy's are writable views), the array ``.numpy()`` hands out,
a list holding tensors written by ``x[k] = [...]``, overlapping sibling views written in turn,
``x.flat[slice] = v`` inside a compiled step.  Each must give NumPy's values and the right
gradient, or raise -- never a silently wrong answer.

Gradients are compared with central finite differences of the same program run by NumPy."""
import numpy as onp
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp


def _fd(f, x, eps=1e-6):
    g = onp.zeros_like(x)
    for i in onp.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(onp, xp) - f(onp, xm)) / (2 * eps)
    return g


def _check(f, x):
    """f(np, x) -> scalar: gpugrad's value and gradient against NumPy's and finite differences."""
    val, g = gg.value_and_grad(lambda t: f(gnp, t))(x.copy())
    assert onp.allclose(float(val), f(onp, x.copy()), rtol=1e-12)
    onp.testing.assert_allclose(onp.asarray(g), _fd(f, x), rtol=1e-6, atol=1e-7)


X = onp.random.default_rng(0).normal(size=(3, 4))


def _w(np, y):
    return (y * y * np.arange(float(y.size)).reshape(y.shape)).sum()


# ----------------------------------------------------- .real / .imag of a complex tensor
def _real_write(np, x):
    z = x * (1 + 0.5j)
    z.real[1:] *= 3 * x[:2]
    return _w(np, abs(z))


def _imag_write(np, x):
    z = x * (1 + 0.5j)
    z.imag[:, 1] = np.sin(x[:, 0])
    return _w(np, abs(z))


def _imag_iadd_whole(np, x):
    z = x * (0.5 - 1j)
    im = z.imag
    im += x ** 2
    return _w(np, abs(z)) + _w(np, im)


def _real_then_base_write(np, x):
    z = x * (1 + 2j)
    re = np.real(z)
    z *= 1j            # the base changes: the view sees it
    return _w(np, re)


def _imag_function_write(np, x):
    z = x * (1 + 2j)
    np.imag(z)[0] = 5.0
    return _w(np, abs(z))


@pytest.mark.parametrize("f", [_real_write, _imag_write, _imag_iadd_whole,
                               _real_then_base_write, _imag_function_write],
                         ids=lambda f: f.__name__)
def test_writes_through_real_and_imag_of_a_complex_tensor(f):
    _check(f, X)


def test_real_and_imag_of_a_complex_tensor_are_views_as_in_numpy():
    z0 = onp.array([1 + 2j, 3 + 4j])
    z = gnp.array(z0)
    z.imag[0] = 9
    z.real[1] += 10
    assert z.tolist() == [1 + 9j, 13 + 4j]
    z += 1
    r = z.real
    z *= 2
    assert r.tolist() == [4.0, 28.0]


def test_a_write_through_real_of_a_complex_leaf_that_requires_grad_raises():
    z = gg.tensor(onp.array([1 + 2j]), requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf tensor that requires grad"):
        z.real[0] = 3.0


def test_imag_of_a_real_tensor_is_read_only_as_in_numpy():
    y = gnp.array(X.copy())
    with pytest.raises(ValueError, match="read-only"):
        y.imag[0] = 1.0
    assert onp.array_equal(y.numpy(), X)


# ------------------------------------------------------------- .numpy() of a graph tensor
def test_the_array_of_a_tensor_computed_in_a_graph_is_read_only():
    x = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    z = y * x
    for a in (y.numpy(), y.detach().numpy() if False else y.numpy()[1:]):
        with pytest.raises(ValueError, match="read-only"):
            a += 100
    with gg.no_grad():
        with pytest.raises(ValueError, match="read-only"):
            onp.asarray(y)[0] = 5.0
    z.sum().backward()
    assert x.grad.tolist() == [3.0, 12.0, 27.0]


def test_the_array_of_a_leaf_or_a_constant_stays_writable():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    w.numpy()[...] = 5.0            # setting a parameter's values, as documented
    c = gg.tensor([1.0, 2.0]) * 2   # no graph
    c.numpy()[0] = 7.0
    assert w.tolist() == [5.0, 5.0] and c.tolist() == [7.0, 4.0]


# ------------------------------------------------- x[k] = [a list holding tensors]
def test_a_list_holding_tensors_keeps_the_dtype_of_its_values():
    y0 = onp.arange(12.0).reshape(3, 4) / 7
    y = gnp.array(y0)
    z = y * 1
    z[0] = [y[1, 0], y[2, 0], 1, 2]
    z[1, :2] = (y[2, 1], 0.1)
    ref = y0 * 1
    ref[0] = [ref[1, 0], ref[2, 0], 1, 2]
    ref[1, :2] = (ref[2, 1], 0.1)
    assert onp.array_equal(z.numpy(), ref)


def _list_of_tensors(np, x):
    y = x * 1
    y[0] = [y[1, 0] ** 2, y[2, 0], 1.0, x[2, 3]]
    y[1:, 1] = (np.sin(x[0, 0]), x[0, 1] * x[0, 2])
    return _w(np, y)


def test_a_list_holding_tensors_is_written_differentiably():
    _check(_list_of_tensors, X)


# --------------------------------------------------- overlapping sibling views
def _siblings(np, x):
    y = x * 1
    a, b = y[0:2], y[1:3]
    a *= x[0]
    b += x[1]
    return _w(np, a) + _w(np, y) + _w(np, b)


def _siblings_columns(np, x):
    y = x * 1
    a, b, c = y[:, :3], y[:, 1:], y.T[2:]
    a *= np.cos(x[:, :3])
    b[...] = b ** 2
    c -= a[:, 1:].T * 0.5
    return _w(np, a) + _w(np, b) + _w(np, c) + _w(np, y)


def _constant_base_siblings(np, x):
    y = np.zeros((3, 4))
    a, b = y[0:2], y[1:3]
    a += x[:2]
    b *= x[1:]
    return _w(np, a) + _w(np, y)


@pytest.mark.parametrize("f", [_siblings, _siblings_columns, _constant_base_siblings],
                         ids=lambda f: f.__name__)
def test_overlapping_views_written_in_turn(f):
    _check(f, X)


# ------------------------------------------------- x.flat[static key] = v, compiled
def _flat_writes(x):
    y = x.reshape(2, 3) * 1
    y.flat[1::2] = -1.0
    y.flat[[0, 4]] *= 3.0
    y.flat[2] = 7.0
    return y


def test_a_flat_write_with_a_static_key_in_a_compiled_step():
    step = gg.compile(_flat_writes)
    for v in (onp.arange(6.0), onp.arange(6.0)[::-1] * 2):
        assert onp.array_equal(step(gnp.array(v)).numpy(), _flat_writes(v))
    assert step.recordings == 1


def test_a_flat_write_gradient_in_a_compiled_step():
    w = gg.tensor(onp.ones(6), requires_grad=True)

    def body(x):
        w.grad = None
        y = w * x
        y.flat[::2] *= y.flat[1::2]
        loss = (y * y).sum()
        loss.backward()
        return w.grad

    step = gg.compile(body)
    for v in (onp.arange(1.0, 7.0), onp.arange(6.0) - 2.5):
        def f(np, t, v=v):
            y = t * v
            y[::2] *= y[1::2]
            return (y * y).sum()
        onp.testing.assert_allclose(step(gnp.array(v)).numpy(), _fd(f, onp.ones(6)),
                                    rtol=1e-6)


# ------------------------------------------------- an input written in place by gg.grad's function
def test_writing_into_the_differentiated_argument_says_to_copy_it():
    def f(x):
        x -= x.mean()
        return (x ** 2).sum()
    with pytest.raises(RuntimeError, match=r"x = x\.copy\(\)"):
        gg.grad(f)(onp.arange(3.0))
