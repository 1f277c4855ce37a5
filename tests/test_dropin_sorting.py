"""gpugrad.numpy's sorting, searching and selection against real NumPy, bit for bit: every
sort kind (NumPy's default introsort places ties its own way), partitions, unique, nonzero
and friends on arrays full of ties, NaNs, infinities and signed zeros; gradients of the sort
values; and each value-dependent op inside a compiled step (gpugrad.compile)."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.numpy as gnp
from gpugrad.ops.sorting import partition as op_partition

KINDS = [None, "quicksort", "stable", "mergesort", "heapsort", "q", "Heap"]
DTYPES = ["float32", "float64", "float16", "int64", "int8", "uint8", "bool", "complex128"]
SHAPES = [(41,), (300,), (5, 7), (3, 4, 6), (1,), (0,)]


def _random(rng, dtype, shape, extras):
    """Small integers (many ties); floats also get NaN, +-inf and -0.0 when ``extras``."""
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    a = rng.integers(-3, 4, size=shape).astype(dtype)
    if dtype == "complex128":
        a = a + 1j * rng.integers(-1, 2, size=shape)
    if extras and a.dtype.kind in "fc" and a.size:
        for v, p in ((np.nan, 0.15), (-0.0, 0.2), (np.inf, 0.05), (-np.inf, 0.05)):
            a[rng.random(shape) < p] = v
    return a


def _arrays():
    rng = np.random.default_rng(1234)
    return [(_random(rng, dt, sh, extras), f"{dt}{sh}{'x' if extras else ''}")
            for dt in DTYPES for sh in SHAPES for extras in (False, True)
            if not (extras and np.dtype(dt).kind not in "fc")]


ARRAYS = _arrays()


def _host(r):
    if isinstance(r, tuple):
        return tuple(_host(v) for v in r)
    return np.asarray(r.numpy()) if isinstance(r, gg.Tensor) else r


def _same(expected, got, what):
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected), what
        for e, g in zip(expected, got):
            _same(e, g, what)
        return
    e, g = np.asarray(expected), np.asarray(got)
    assert (e.dtype, e.shape) == (g.dtype, g.shape), f"{what}: {e.dtype}{e.shape} != {g.dtype}{g.shape}"
    assert np.ascontiguousarray(e).tobytes() == np.ascontiguousarray(g).tobytes(), \
        f"{what}:\nnumpy  {e!r}\ngpugrad {g!r}"


def _check(f, a, what):
    """``f(np, a)`` and ``f(gnp, gnp.array(a))`` agree bit for bit, or raise the same type."""
    try:
        expected = f(np, a)
    except Exception as exc:  # noqa: BLE001 -- NumPy's verdict, whatever it is
        with pytest.raises(type(exc)):
            f(gnp, gnp.array(a))
        return
    _same(expected, _host(f(gnp, gnp.array(a))), what)


def _each(f, name, only=None):
    for a, label in ARRAYS:
        if only is None or only(a):
            _check(f, a, f"{name} on {label}")


@pytest.mark.parametrize("kind", KINDS)
def test_sort_and_argsort_match_numpy_for_every_kind_and_axis(kind):
    for ax in (-1, 0, None):
        _each(lambda m, a: m.argsort(a, axis=ax, kind=kind), f"argsort(axis={ax}, kind={kind})")
        _each(lambda m, a: m.sort(a, axis=ax, kind=kind), f"sort(axis={ax}, kind={kind})")
        _each(lambda m, a: a.argsort(axis=ax, kind=kind), f"a.argsort(axis={ax}, kind={kind})")


def test_stable_keyword_and_inplace_sort_method():
    for st in (True, False):
        _each(lambda m, a: m.argsort(a, stable=st), f"argsort(stable={st})")
        _each(lambda m, a: m.sort(a, axis=0, stable=st), f"sort(axis=0, stable={st})")
        _each(lambda m, a: a.argsort(stable=st), f"a.argsort(stable={st})")

    def sort_in_place(m, a):
        b = a.copy()
        b.sort(kind="quicksort")
        return b
    _each(sort_in_place, "a.sort()", only=lambda a: a.ndim > 0)


def test_topk_idioms_and_zero_d():
    _each(lambda m, a: m.argsort(-a)[:3], "argsort(-a)[:3]", only=lambda a: a.dtype != bool)
    _each(lambda m, a: m.argsort(a)[::-1][:3], "argsort(a)[::-1][:3]")
    _same(np.argsort(np.array(5.0)), _host(gnp.argsort(gnp.array(5.0))), "argsort(0-d)")
    with pytest.raises(np.exceptions.AxisError):
        gnp.sort(gnp.array(5.0))


def test_sort_kind_errors_are_numpys():
    x = gnp.array([3.0, 1.0])
    with pytest.raises(ValueError, match="sort kind must be one of"):
        gnp.argsort(x, kind="bogus")
    with pytest.raises(ValueError, match="can't be provided at the same time"):
        gnp.sort(x, kind="stable", stable=True)
    with pytest.raises(ValueError, match="select kind must be 'introselect'"):
        gnp.partition(x, 0, kind="quick")


def test_partition_and_argpartition_match_numpy():
    for kth in (0, 1, -1, [0, 2]):
        big = lambda a: a.ndim and a.shape[-1] > 2 and a.shape[0] > 2  # noqa: E731
        _each(lambda m, a: m.argpartition(a, kth), f"argpartition({kth})", only=big)
        _each(lambda m, a: m.partition(a, kth), f"partition({kth})", only=big)
        _each(lambda m, a: m.partition(a, kth, axis=0), f"partition({kth}, axis=0)", only=big)
        _each(lambda m, a: m.argpartition(a, kth, axis=None), f"argpartition({kth}, None)",
              only=big)
    _each(lambda m, a: a.argpartition(1), "a.argpartition(1)", only=lambda a: a.size > 2)

    def part_in_place(m, a):
        b = a.copy()
        b.partition(1)
        return b
    _each(part_in_place, "a.partition(1)", only=lambda a: a.ndim and a.shape[-1] > 2)
    with pytest.raises(ValueError, match="out of bounds"):
        gnp.partition(gnp.array([1.0, 2.0]), 5)


def test_unique_and_searchsorted_match_numpy():
    _each(lambda m, a: m.unique(a), "unique")
    _each(lambda m, a: m.unique(a, return_index=True, return_inverse=True, return_counts=True),
          "unique(all)")
    _each(lambda m, a: m.unique(a, equal_nan=False), "unique(equal_nan=False)")
    _each(lambda m, a: m.unique(a, axis=0, return_inverse=True), "unique(axis=0)",
          only=lambda a: a.ndim == 2)
    for side in ("left", "right"):
        _each(lambda m, a: m.searchsorted(m.sort(a, axis=None), a.ravel()[:7], side=side),
              f"searchsorted({side})")
        _each(lambda m, a: m.searchsorted(a.ravel(), a.ravel()[:5], side=side,
                                          sorter=m.argsort(a.ravel())), f"sorter ({side})")


def test_nonzero_family_lexsort_and_arg_extrema_match_numpy():
    _each(lambda m, a: m.nonzero(a), "nonzero")
    _each(lambda m, a: a.nonzero(), "a.nonzero()")
    _each(lambda m, a: m.where(a), "where(a)")
    _each(lambda m, a: m.argwhere(a), "argwhere")
    _each(lambda m, a: m.flatnonzero(a), "flatnonzero")
    _each(lambda m, a: m.extract(a > 0, a), "extract", only=lambda a: a.dtype.kind != "c")
    _each(lambda m, a: m.compress(a.ravel() > 0, a.ravel()), "compress",
          only=lambda a: a.dtype.kind != "c")
    _each(lambda m, a: m.compress(m.array([True, False, True]), a, axis=0), "compress axis=0",
          only=lambda a: a.ndim == 2)
    _each(lambda m, a: m.lexsort((a.ravel(), -a.ravel())), "lexsort",
          only=lambda a: a.dtype.kind in "fi")
    _each(lambda m, a: m.lexsort(a), "lexsort(2-d)", only=lambda a: a.ndim == 2)
    for ax in (None, 0, -1):
        for name in ("argmax", "argmin", "nanargmax", "nanargmin"):
            _each(lambda m, a: getattr(m, name)(a, axis=ax), f"{name}(axis={ax})",
                  only=lambda a: a.size)


def test_sort_gradients_follow_the_values():
    """Distinct values: the gradient of sum(w * sort(x)) puts w back where each value was."""
    x0 = np.random.default_rng(0).permutation(50).astype(float) - 25.0
    w = np.arange(50.0)
    for kind in ("quicksort", "heapsort", "stable"):
        x = gnp.array(x0)
        x.requires_grad = True
        (gnp.sort(x, kind=kind) * gnp.array(w)).sum().backward()
        expected = np.empty(50)
        expected[np.argsort(x0)] = w
        np.testing.assert_array_equal(x.grad.numpy(), expected)
    x = gnp.array(x0)
    x.requires_grad = True
    p = op_partition(x, 10)
    (p * gnp.array(w)).sum().backward()
    expected = np.empty(50)
    expected[np.argsort(x0)[np.argsort(np.argsort(np.partition(x0, 10)))]] = w
    np.testing.assert_array_equal(p.detach().numpy(), np.partition(x0, 10))
    np.testing.assert_array_equal(x.grad.numpy(), expected)


# ---------------------------------------------------------------- inside gpugrad.compile
W0 = np.arange(6.0).reshape(2, 3) - 2.0

CAPTURED = {
    "Tensor.nonzero": lambda W, x: W[(W * x).nonzero()].sum(),
    "nonzero": lambda W, x: W[gnp.nonzero(W * x)].sum(),
    "where(cond)": lambda W, x: W[gnp.where(W * x > 0)].sum(),
    "argwhere": lambda W, x: W.sum() * gnp.argwhere(W * x).sum(),
    "flatnonzero": lambda W, x: gnp.take(W, gnp.flatnonzero(W * x)).sum(),
    "unique": lambda W, x: gnp.unique(W * x).sum(),
    "unique counts": lambda W, x: (gnp.unique(W * x, return_counts=True)[1] * W.sum()).sum(),
    "compress": lambda W, x: gnp.compress(((W * x) > 0).ravel(), W.ravel()).sum(),
    "Tensor.compress": lambda W, x: W.ravel().compress(((W * x) > 0).ravel()).sum(),
    "extract": lambda W, x: gnp.extract((W * x) > 0, W).sum(),
    "count_nonzero": lambda W, x: W.sum() * gnp.count_nonzero(W * x),
    "isin": lambda W, x: W[gnp.isin(W * x, [1.0, 2.0])].sum(),
    "argsort": lambda W, x: gnp.take(W, gnp.argsort((W * x).ravel())[:2]).sum(),
    "partition": lambda W, x: gnp.partition((W * x).ravel(), 3)[:3].sum(),
    "lexsort": lambda W, x: gnp.take(W, gnp.lexsort(((W * x).ravel(),))[:3]).sum(),
}


@pytest.mark.parametrize("name", sorted(CAPTURED))
def test_value_dependent_ops_replay_in_a_compiled_step(name):
    f = CAPTURED[name]
    W = gg.tensor(W0, requires_grad=True)

    def step(x):
        loss = f(W, x)
        loss.backward()
        g = W.grad.copy()
        W.grad = None
        return loss, g

    inputs = [gg.tensor(np.full((2, 3), v)) for v in (1.0, -1.0, 2.0, 0.5)]
    eager = [step(x) for x in inputs]
    compiled = gg.compile(step)
    for (le, ge), x in zip(eager, inputs):
        lc, gc = compiled(x)
        assert lc.item() == le.item() and np.array_equal(gc.numpy(), ge.numpy()), name
    assert compiled.recordings == 1


def test_numpy_fallbacks_replay_in_a_compiled_step_outside_the_graph():
    W = gg.tensor(W0, requires_grad=True)

    def step(x):
        with gg.no_grad():
            h = gnp.histogram(W * x, bins=3)[0]
            d = gnp.setdiff1d((W * x).ravel(), [1.0])
            b = gnp.bincount(((W * x) > 0).ravel().astype("int64"))
        return W.sum() * d.sum() + h.sum() + b.sum()

    inputs = [gg.tensor(np.full((2, 3), v)) for v in (1.0, -1.0, 2.0)]
    eager = [step(x).item() for x in inputs]
    compiled = gg.compile(step)
    assert [compiled(x).item() for x in inputs] == eager


def test_sorting_ops_run_on_every_device(device):
    """On CUDA CuPy sorts stably whatever the kind (NumPy's stable answer) and partitions
    its own way (checked as a partition); nonzero and unique are NumPy's."""
    a = np.array([2.0, 1.0, 2.0, np.nan, 1.0, -0.0, 0.0, 3.0])
    x = gg.tensor(a, device=device)
    stable = device == "cuda"
    _same(np.argsort(a, kind="stable" if stable else None), _host(gnp.argsort(x).cpu()), "argsort")
    _same(np.sort(a, kind="stable" if stable else None), _host(gnp.sort(x).cpu()), "sort")
    p = _host(gnp.partition(x, 3).cpu())
    assert (p[:3] <= p[3]).all() and (p[4:][~np.isnan(p[4:])] >= p[3]).all()
    _same(np.nonzero(a), _host(tuple(i.cpu() for i in gnp.nonzero(x))), "nonzero")
    _same(np.unique(a), _host(gnp.unique(x).cpu()), "unique")
    y = gg.tensor(np.zeros(3), device=device)
    y[1:] = [7, 8]
    y[gg.tensor([0], device=device)] = [5]
    assert y.cpu().tolist() == [5.0, 7.0, 8.0]
