"""An in-place write into a value that a recorded node read keeps that node's gradient right
(copy-on-write of the old value, :mod:`gpugrad.old_values`), wherever the reader is in the
graph: a constant written after an op read it (``y = p * v; v[1:3] += 1``), a value whose
reader is no operand of the write (``q = p * x; p += 1``), a reader many nodes away; each
checked against central finite differences in float64, and in float16, complex, repeated
writes, second order, threads.  The registry of readers holds weak references: a freed
graph is no reader (no copy), and a dead graph is collected."""
import gc
import threading
import weakref

import numpy
import pytest

import gpugrad as gg
import gpugrad.numpy as np
from gpugrad import saved_readers


def _fd_check(f, x0, rel=1e-6):
    """gg.grad(f) at x0 along a random direction against central differences."""
    g = numpy.asarray(gg.grad(f)(x0.copy()))
    u = numpy.random.default_rng(5).standard_normal(x0.shape)
    h = 1e-6
    fd = (float(f(x0 + h * u)) - float(f(x0 - h * u))) / (2 * h)
    assert numpy.vdot(g, u) == pytest.approx(fd, rel=rel, abs=1e-8)
    return g


def constant_view_written(p):          # the issue's fluid-simulation case
    v = np.ones(4)
    y = p * v                           # Multiply saves v for p's gradient
    v[1:3] += 1
    return np.sum(y * y)


def constant_read_twice(x):             # a = x * c; b = c.sum(); c *= 2
    c = np.linspace(1.0, 2.0, 4)
    a = x * c
    b = np.sum(c)
    c *= 2
    return np.sum(a * a) + b * np.sum(c * x)


def constant_factor_zeroed(u):          # y = exp(u) * w; w[:] = 0
    w = np.linspace(-1.0, 1.0, 4)
    y = np.exp(u) * w
    w[:] = 0
    return np.sum(y * y) + np.sum(w * u)


def write_through_a_view_of_the_constant(x):
    c = np.arange(1.0, 7.0).reshape(2, 3)
    y = x.reshape(2, 2)[:, :1] * c      # Multiply saves c
    c.T[1] = -5.0                       # a write through another view of c
    c[0, 0] *= 3.0
    return np.sum(y ** 2) + np.sum(c)


def reader_no_operand_of_the_write(x):  # q = p * x; p += 1
    p = x * 2
    q = p * x
    p += 1
    return np.sum(q * q) + np.sum(p)


def reader_far_away(x):                 # the reader is thousands of nodes from the write
    p = x * 1.5
    q = p * x                           # saves p
    h = q
    for _ in range(1500):
        h = h * 0.999 + x
    p *= 3.0
    return np.sum(h) + np.sum(p * p)


def repeated_writes(x):
    c = np.array([1.0, 2.0, 3.0, 4.0])
    total = 0.0
    for k in range(4):
        total = total + np.sum(np.sin(x * c))   # reads c at version k
        c[k] += 10.0                            # then writes it
        c *= 0.5
    return total


CASES = [constant_view_written, constant_read_twice, constant_factor_zeroed,
         write_through_a_view_of_the_constant, reader_no_operand_of_the_write, reader_far_away,
         repeated_writes]


@pytest.mark.parametrize("f", CASES, ids=[f.__name__ for f in CASES])
def test_gradient_matches_finite_differences(f):
    x0 = numpy.random.default_rng(1).uniform(0.5, 1.5, 4)
    _fd_check(f, x0)


def test_the_issue_case_gives_the_hand_written_gradient():
    p = numpy.arange(4.0)
    g = gg.grad(constant_view_written)(p)
    numpy.testing.assert_allclose(numpy.asarray(g), 2 * p * numpy.ones(4))   # 2 p v_old


def test_float16():
    p = gg.tensor([0.5, 1.0, 1.5, 2.0], dtype="float16", requires_grad=True)
    v = gg.tensor([1.0, 2.0, 3.0, 4.0], dtype="float16")
    y = p * v
    v[1:3] += 1
    (y * y).sum().backward()
    want = 2 * p.numpy().astype(numpy.float32) * numpy.array([1.0, 2.0, 3.0, 4.0]) ** 2
    assert p.grad.dtype == numpy.float16
    numpy.testing.assert_allclose(p.grad.numpy().astype(numpy.float32), want, rtol=2e-3)


def test_complex():
    z0 = numpy.array([1 + 2j, -0.5 + 1j, 2 - 1j])
    c0 = numpy.array([0.5 - 1j, 2 + 0j, -1 + 1j])
    z = gg.tensor(z0, requires_grad=True)
    c = gg.tensor(c0)
    y = z * c                             # saves c
    c *= 1j
    c[0] = 5.0
    (y * y.conj()).real.sum().backward()  # |z c|^2: gradient 2 z |c|^2 (conjugate Wirtinger)
    numpy.testing.assert_allclose(z.grad.numpy(), 2 * z0 * abs(c0) ** 2, rtol=1e-12)


def test_a_reader_freed_before_the_write_gets_no_copy():
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    c = gg.tensor([3.0, 4.0], dtype="float64")
    y = (x * c).sum()
    (node,) = [n for n in saved_readers.take(c._vc)]      # registered, then taken back
    y = (x * c).sum()
    y.backward()                     # frees the node's saved arrays
    before = node.saved
    c += 1                           # no live reader: nothing copied
    assert node.saved is before and x.grad.tolist() == [3.0, 4.0]


def test_a_dead_graph_is_collected_and_leaves_no_reader():
    c = gg.tensor([3.0, 4.0], dtype="float64")
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x * c
    ref = weakref.ref(y._node)
    del y
    gc.collect()
    assert ref() is None             # the registry does not hold the node
    assert saved_readers.take(c._vc) == []


def test_dead_readers_leave_at_once_and_a_dead_graphs_index_is_emptied():
    c = gg.tensor([3.0, 4.0], dtype="float64")
    x = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    saved_readers.take(c._vc)
    for _ in range(5000):
        x * c                        # each node dies at once: pruned as the list grows
    assert len(saved_readers.PENDING) <= 2 * 1024 + 1
    ys = [x * gg.tensor([float(k), 1.0], dtype="float64") for k in range(50)]
    c += 1                           # files the 50 live readers
    assert saved_readers.INDEX and saved_readers.PENDING == [saved_readers._MARK]
    del ys
    for _ in range(60):              # no reader is alive: within as many writes as the
        c += 1                       # index has entries, it is swept empty
    assert not saved_readers.INDEX and not saved_readers.PENDING


def test_nodes_that_read_only_parameters_or_their_answer_are_not_filed():
    w = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    saved_readers.take(w._vc)
    keep = [w * w, gg.exp(w), (w * 2.0).sum()]
    assert not saved_readers.PENDING and keep


def test_second_order_through_the_kept_old_value():
    x = gg.tensor([0.5, 1.0, -1.5], dtype="float64", requires_grad=True)
    c = gg.tensor([2.0, -1.0, 3.0], dtype="float64")
    y = (x ** 3 * c).sum()            # Multiply saves c (and x ** 3)
    c[:] = 0.0
    (g,) = gg.autograd.grad(y, [x], create_graph=True)
    numpy.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2 * [2.0, -1.0, 3.0])
    g.sum().backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy() * [2.0, -1.0, 3.0])


def test_threads_writing_different_tensors():
    errors, results = [], {}

    def work(k):
        try:
            rng = numpy.random.default_rng(k)
            for _ in range(50):
                x = gg.tensor(rng.normal(size=5), requires_grad=True)
                c = gg.tensor(rng.normal(size=5))
                c0 = c.numpy().copy()
                y = (x * c).sum()
                c[1:4] *= 7.0
                c += 1.0
                y.backward()
                if not numpy.array_equal(x.grad.numpy(), c0):
                    results[k] = (x.grad.numpy(), c0)
        except Exception as e:       # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and results == {}


def test_a_parameter_updated_before_backward_still_raises_saying_what_to_write():
    w = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    c = gg.tensor([3.0, 4.0], dtype="float64")
    y = (w * c * w).sum()
    with gg.no_grad():
        w -= 0.1                      # a parameter update before backward: as PyTorch
    with pytest.raises(RuntimeError, match=r"in-place operation.*run backward first, or "
                                           r"update a copy"):
        y.backward()


WRITES = {
    "setitem": lambda c: c.__setitem__(slice(1, 3), 2.0),       # __setitem__'s own path
    "operator": lambda c: c.__imul__(3.0),                      # ufunc with out=
    "row_of_view": lambda c: c.reshape(2, 2)[1].__isub__(gg.tensor([1.0, 1.0],
                                                                   dtype="float64")),
    "fill_": lambda c: c.fill_(7.0),                            # _inplace's direct write
    "copy_": lambda c: c.copy_(gg.tensor([4.0, 3.0, 2.0, 1.0], dtype="float64")),
    "clamp_": lambda c: c.clamp_(0.0, 1.5),                     # the op under no_grad
    "put": lambda c: np.put(c, [0, 3], [9.0, 8.0]),
}


@pytest.mark.parametrize("grad_mode", [True, False])
@pytest.mark.parametrize("write", sorted(WRITES))
def test_every_write_path_gives_a_live_reader_the_old_value(write, grad_mode, device):
    x = gg.tensor([0.5, 1.0, 1.5, 2.0], dtype="float64", requires_grad=True, device=device)
    c0 = numpy.array([1.0, 2.0, 3.0, 4.0])
    c = gg.tensor(c0.copy(), device=device)
    y = (x * c * x).sum()                        # Multiply saves c
    with gg.set_grad_enabled(grad_mode), gg.default_device(device):
        WRITES[write](c)
    assert not numpy.array_equal(c.numpy(), c0)  # the write was made
    y.backward()
    numpy.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() * c0, rtol=1e-15)


def test_a_write_under_no_grad_into_a_nodes_answer_keeps_its_gradient():
    p = gg.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    e = gg.exp(p)                                # Exp reads its answer e
    y = (e * e).sum()
    with gg.no_grad():
        e += 1.0
    y.backward()
    numpy.testing.assert_allclose(p.grad.numpy(), 2 * numpy.exp(2 * p.numpy()), rtol=1e-14)
