"""A write with an advanced key -- integer rows ``h[[t]] = v``, a boolean mask, ``h.flat[k]
= v``, ``np.put`` -- logs the memory it reaches (gpugrad.write_log.key_span: its lowest to
its highest element), as a basic-key write does: a recurrence written that way into a
preallocated buffer differentiates (it raised "modified by an in-place operation", the write
counting as one of the whole buffer), and a write that does reach a saved row still raises."""
import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.write_log import key_span

T, H = 5, 3


def _brute_span(d, key):
    """The bytes ``d[key] = v`` writes, from every element's offset (None: nothing)."""
    off = numpy.zeros((), numpy.int64)
    for n, s in zip(d.shape, d.strides):
        off = off[..., None] + numpy.arange(n, dtype=numpy.int64) * s
    o = numpy.asarray(off[key])
    if not o.size:
        return None
    base = d.__array_interface__["data"][0]
    return base + int(o.min()), base + int(o.max()) + d.itemsize


def _random_key(rng, shape):
    parts = []
    for axis in range(rng.integers(0, len(shape) + 2)):
        n = shape[min(axis, len(shape) - 1)] if shape else 1
        r = rng.random()
        if r < 0.2 and n:
            parts.append(int(rng.integers(-n, n)))
        elif r < 0.4:
            parts.append(slice(int(rng.integers(-n - 1, n + 2)), int(rng.integers(-n - 1, n + 2)),
                               int(rng.choice([1, 2, -1, -3]))))
        elif r < 0.55 and n:
            parts.append([int(i) for i in rng.integers(-n, n, rng.integers(0, 3))])
        elif r < 0.65 and n:
            parts.append(rng.integers(-n, n, (2, 1) if rng.random() < 0.3 else 2))
        elif r < 0.8:
            parts.append(rng.random(n) < 0.4)
        else:
            parts.append(rng.choice([None, Ellipsis, True, False]))
    return tuple(parts) if len(parts) != 1 or rng.random() < 0.5 else parts[0]


def test_key_span_is_the_bounds_of_the_elements_written():
    rng = numpy.random.default_rng(0)
    checked = 0
    for _ in range(4000):
        shape = tuple(int(n) for n in rng.integers(0, 5, rng.integers(0, 4)))
        base = numpy.zeros(tuple(2 * n + 1 for n in shape))
        d = base[tuple(slice(int(rng.integers(0, 2)), None, int(rng.choice([1, 2, -1])))
                       for _ in shape) + (Ellipsis,)]
        if d.ndim > 1 and rng.random() < 0.5:
            d = d.T
        key = _random_key(rng, d.shape)
        try:
            want = _brute_span(d, key)
        except (IndexError, ValueError, TypeError):
            continue                       # NumPy refuses the key: so does the write
        got = key_span(d, key)
        if got is None:                    # (not worked out: the write counts as all of d)
            continue
        checked += 1
        if want is None:
            assert got.span == (0, 0), (d.shape, d.strides, key)   # overlaps nothing
        else:
            assert got.span == want, (d.shape, d.strides, key)
    assert checked > 2000


def _rnn(np, W, U, kind):
    h = np.zeros((T, H))
    h[0] = U
    loss = 0.0
    for t in range(1, T):
        v = np.tanh(np.dot(W, h[t - 1]) + U)
        if kind == "rows":
            h[[t]] = v[None]
        elif kind == "rows_and_columns":
            h[[t, t, t], [0, 1, 2]] = v
        elif kind == "mask":
            h[np.arange(T) == t] = v[None]
        elif kind == "flat":
            h.flat[t * H:(t + 1) * H] = v
        elif kind == "flat_list":
            h.flat[list(range(t * H, (t + 1) * H))] = v
        elif kind == "put":
            np.put(h, np.arange(t * H, (t + 1) * H), v)
        loss = loss + np.sum(h[t] * h[t - 1])    # saves rows t - 1 and t
    return loss + np.sum(h ** 2)


@pytest.mark.parametrize("kind", ["rows", "rows_and_columns", "mask", "flat", "flat_list",
                                  "put"])
def test_recurrence_written_with_an_advanced_key_gradient(kind):
    rng = numpy.random.default_rng(0)
    W, U = rng.normal(size=(H, H)) * 0.5, rng.normal(size=H)
    value = float(_rnn(gnp, gnp.array(W), gnp.array(U), kind))
    assert value == _rnn(numpy, W, U, "rows")
    gW, gU = gg.grad(lambda W_, U_: _rnn(gnp, W_, U_, kind), argnums=(0, 1))(
        gnp.array(W), gnp.array(U))
    eps = 1e-6
    for P, g, which in ((W, gW, 0), (U, gU, 1)):
        fd = numpy.zeros_like(P)
        for i in numpy.ndindex(P.shape):
            d = numpy.zeros_like(P)
            d[i] = eps
            hi = _rnn(numpy, W + d, U, "rows") if which == 0 else _rnn(numpy, W, U + d, "rows")
            lo = _rnn(numpy, W - d, U, "rows") if which == 0 else _rnn(numpy, W, U - d, "rows")
            fd[i] = (hi - lo) / (2 * eps)
        numpy.testing.assert_allclose(numpy.asarray(g), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("write", [lambda y, v: y.__setitem__([1], v),
                                   lambda y, v: y.__setitem__(gnp.array([False, True, False]), v),
                                   lambda y, v: y.flat.__setitem__([1], v),
                                   lambda y, v: gnp.put(y, [1], v)])
def test_an_advanced_write_into_a_saved_element_keeps_its_old_value(write):
    w = gg.tensor(1.5, requires_grad=True)
    y = gnp.zeros(3)
    y[0] = w * 2.0
    z = y[0:2] * w                       # saves y[0:2]
    write(y, w * 3.0)                    # overwrites y[1]: z's node gets the old y[0:2]
    gnp.sum(z).backward()                # z = [2 w^2, 0]
    assert w.grad.item() == 4 * 1.5


def test_a_write_with_an_index_array_elsewhere_in_the_buffer_goes_through():
    w = gg.tensor(1.5, requires_grad=True)
    y = gnp.zeros(6)
    y[0] = w * 2.0
    z = y[0:2] * w
    y[numpy.array([4, 5, 4])] = w * 3.0  # (an index array of NumPy's, repeated)
    gnp.sum(z).backward()
    assert float(w.grad) == pytest.approx(4 * 1.5)   # d/dw (2w * w)
