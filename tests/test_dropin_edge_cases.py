"""gpugrad.numpy against NumPy: random streams reset inside compiled steps, flat writes with
keys computed in the step, views made before their base joins the graph, ravel('K') over
any strides, 0-d reductions with an axis, AxisError everywhere, NumPy's ``.flat`` forms and
list assignment."""
import warnings

import numpy as onp
import pytest
from numpy.lib.stride_tricks import as_strided

import gpugrad as gg
import gpugrad.numpy as gnp

XS = [onp.array([0., 1, 5, 2, 3, 4]), onp.array([9., 1, 0, 2, 3, 4]),
      onp.array([0., 1, 0, 2, 3, 8])]


def _eager_and_compiled(f, xs=XS):
    eager = [onp.asarray(f(gnp.array(v))).tolist() for v in xs]
    step = gg.compile(f)
    return eager, [onp.asarray(step(gnp.array(v))).tolist() for v in xs]


# ------------------------------------------------------------ random streams reset in a step
_ST = onp.random.RandomState(5).get_state()
_G = gnp.random.default_rng(3)
_GST = _G.bit_generator.state
_GG = gg.random.Generator(7)
_GG_ST = _GG.get_state()


def _seed(x):
    gnp.random.seed(0)
    return gnp.random.rand(3) + x


def _set_state(x):
    gnp.random.set_state(_ST)
    return gnp.random.rand(3) + x


def _bit_state(x):
    _G.bit_generator.state = _GST
    return _G.random(3) + x


def _advance(x):
    _G.bit_generator.state = _GST
    _G.bit_generator.advance(2)
    return _G.random(3) + x


def _manual_seed(x):
    gg.manual_seed(0)
    return gg.randn(3, dtype=gg.float64) + x


def _set_rng_state(x):
    gg.manual_seed(1)
    s = gg.get_rng_state()
    a = gg.rand(3, dtype=gg.float64)
    gg.set_rng_state(s)
    return gg.rand(3, dtype=gg.float64) + a + x


def _gen_manual_seed(x):
    _GG.manual_seed(4)
    return gg.rand(3, dtype=gg.float64, generator=_GG) + x


def _gen_set_state(x):
    _GG.set_state(_GG_ST)
    return gg.randn(3, dtype=gg.float64, generator=_GG) + x


@pytest.mark.parametrize("f", [_seed, _set_state, _bit_state, _advance, _manual_seed,
                               _set_rng_state, _gen_manual_seed, _gen_set_state],
                         ids=lambda f: f.__name__)
def test_stream_reset_inside_compiled_step_is_replayed(f):
    xs = [onp.zeros(3), onp.ones(3), onp.full(3, 2.0)]
    eager, got = _eager_and_compiled(f, xs)
    assert got == eager
    assert eager[1] != eager[0]   # (the step adds x: the calls differ)


def test_seed_in_step_matches_numpy():
    onp.random.seed(0)
    ref = onp.random.rand(3)
    step = gg.compile(_seed)
    for v in (0.0, 1.0, 2.0):
        assert onp.allclose(step(gnp.full(3, v)).numpy(), ref + v)


# ------------------------------------------------------- keys computed in a step (gg.compile)
def _flat_write(x):
    y = x.reshape(2, 3) * 1
    y.flat[gnp.argmax(x)] = -1.0
    return y


def _flat_write_t(x):
    y = x.reshape(2, 3).T * 1
    y.flat[gnp.argsort(x)[:2]] = -1.0
    return y


def _put(x):
    y = x * 1
    y.put(gnp.argsort(x)[:3], -x[:2])
    return y


def _flat_neg(x):
    y = x.reshape(3, 2) * 1
    y.flat[gnp.argmax(x) - 6] = -1.0
    return y


def _flat_mask(x):
    y = x.reshape(2, 3) * 1
    y.flat[x > 2] = -1.0
    return y


@pytest.mark.parametrize("f", [_flat_write, _flat_write_t, _put, _flat_neg, _flat_mask],
                         ids=lambda f: f.__name__)
def test_flat_write_follows_the_key_of_each_call(f):
    eager, got = _eager_and_compiled(f)
    assert got == eager
    # eager is NumPy's answer (NumPy 2.0's flat iterator takes no 0-d or 2-D array keys)
    if onp.lib.NumpyVersion(onp.__version__) < "2.1.0":
        return
    for v, e in zip(XS, eager):
        assert e == onp.asarray(f(v)).tolist()


def test_host_read_counts_refuse_in_a_step():
    with pytest.raises(gg.CaptureError, match="repeat"):
        gg.compile(lambda x: gnp.repeat(x, gnp.remainder(gnp.argsort(x), 2)))(gnp.array(XS[0]))


def test_flat_key_out_of_range_raises():
    with pytest.raises(IndexError):
        gg.compile(lambda x: (lambda y: (y.flat.__setitem__(gnp.argmax(x) + 6, 1.0), y)[1])(
            x * 1))(gnp.array(XS[0]))


# -------------------------------------------------- views made before their base joins a graph
VIEWS = {
    "diagonal": lambda m, b: m.diagonal(b, 0, 1, 2),
    "diagonal_method": lambda m, b: b[0].diagonal(),
    "diag": lambda m, b: m.diag(b[1]),
    "real": lambda m, b: m.real(b),
    "broadcast_to": lambda m, b: m.broadcast_to(b, (2, 2, 3, 4)),
    "atleast_3d": lambda m, b: m.atleast_3d(b[0]),
    "squeeze": lambda m, b: m.squeeze(b[:1]),
    "expand_dims": lambda m, b: m.expand_dims(b, 1),
    "split": lambda m, b: m.split(b, 2, axis=2)[1],
    "unstack": lambda m, b: m.unstack(b)[1],
    "moveaxis": lambda m, b: m.moveaxis(b, 0, -1),
    "swapaxes": lambda m, b: m.swapaxes(b, 0, 2),
    "T": lambda m, b: b.T,
    "mT": lambda m, b: b.mT,
    "ravel": lambda m, b: m.ravel(b),
    "flip": lambda m, b: m.flip(b, 1),
    "rot90": lambda m, b: m.rot90(b, axes=(1, 2)),
}
W = onp.arange(24.).reshape(2, 3, 4) / 7


def _coef(v):
    return onp.arange(1.0, 1.0 + onp.size(v)).reshape(onp.shape(v))


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_made_before_base_joins_graph_keeps_gradient(name):
    if name == "unstack" and not hasattr(onp, "unstack"):
        pytest.skip("NumPy < 2.1 has no unstack to compare with")
    f = VIEWS[name]
    w = gg.tensor(W, requires_grad=True)
    b = gnp.zeros((2, 3, 4))
    v = f(gnp, b)
    b += w
    coef = _coef(onp.asarray(v.detach()))
    ((v * coef).sum() + b.sum()).backward()
    # the loss is linear in W: unit steps give its gradient exactly

    def loss(Wv):
        return float((f(onp, Wv) * coef).sum() + Wv.sum())
    ref = onp.array([loss(W + e.reshape(W.shape)) - loss(W) for e in onp.eye(W.size)])
    assert onp.allclose(onp.asarray(w.grad).ravel(), ref)
    assert onp.allclose(onp.asarray(v.detach()), f(onp, W))


def test_diagonal_view_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    w = gg.tensor(W[0, :3, :3], requires_grad=True)
    b = gg.zeros((3, 3), dtype=gg.float64)
    d = gnp.diagonal(b)
    b += w
    ((d * 10).sum() + b.sum()).backward()
    tw = torch.tensor(W[0, :3, :3], requires_grad=True)
    tb = torch.zeros(3, 3, dtype=torch.float64)
    td = torch.diagonal(tb)
    tb += tw
    ((td * 10).sum() + tb.sum()).backward()
    assert onp.allclose(onp.asarray(w.grad), tw.grad.numpy())


@pytest.mark.parametrize("m", [onp, gnp], ids=["numpy", "gpugrad"])
def test_real_of_real_is_a_view(m):
    b = m.zeros((2, 2))
    r = m.real(b)
    b += 1
    r[0, 0] = 7
    assert onp.asarray(b).tolist() == onp.asarray(r).tolist() == [[7.0, 1.0], [1.0, 1.0]]


# ------------------------------------------------------------------------- ravel order 'K'
def test_ravel_k_matches_numpy_on_random_strides():
    rng = onp.random.default_rng(0)
    base = onp.arange(400.)
    n = 0
    for _ in range(600):
        shape = tuple(int(v) for v in rng.integers(1, 4, rng.integers(1, 5)))
        st = tuple(int(rng.choice([0, 1, 2, 3, 5, -1, -2, -4, 7])) * 8 for _ in shape)
        off = sum((k - 1) * -s for k, s in zip(shape, st) if s < 0) // 8
        if off + sum((k - 1) * s for k, s in zip(shape, st) if s > 0) // 8 >= base.size:
            continue
        x = as_strided(base[off:], shape, st)
        assert gnp.ravel(gnp.asarray(x), "K").tolist() == onp.ravel(x, "K").tolist(), (shape, st)
        n += 1
    assert n > 300


@pytest.mark.parametrize("make", [
    lambda m: m.broadcast_to(m.arange(4.), (3, 4)),
    lambda m: m.broadcast_to(m.arange(4.)[:, None], (4, 3)),
    lambda m: m.arange(12.).reshape(3, 1, 4).transpose(1, 0, 2),
    lambda m: m.arange(6.).reshape(2, 3).T[::-1]])
def test_ravel_k_cases(make):
    assert gnp.ravel(make(gnp), order="K").tolist() == onp.ravel(make(onp), order="K").tolist()


# ------------------------------------------------------------------ 0-d reductions with axis
REDUCTIONS = ["sum", "prod", "mean", "std", "var", "max", "min", "amax", "amin", "argmax",
              "argmin", "any", "all", "nansum", "nanprod", "nanmean", "nanstd", "nanvar",
              "nanmax", "nanmin", "nanargmax", "nanargmin", "ptp", "median", "nanmedian",
              "average", "count_nonzero", "cumsum", "cumprod", "nancumsum", "nancumprod",
              "percentile", "quantile"]
_Q = {"percentile": (50,), "quantile": (0.5,)}


def _outcome(m, name, axis):
    try:
        r = getattr(m, name)(m.asarray(2.0), *_Q.get(name, ()), axis=axis)
    except Exception as e:  # noqa: BLE001 -- the type is what is compared
        return type(e)
    return onp.asarray(r).tolist(), onp.ndim(onp.asarray(r))


@pytest.mark.parametrize("name", REDUCTIONS)
def test_zero_d_reduction_with_axis_as_numpy(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for axis in (0, -1, (0,), 1, None, ()):
            assert _outcome(gnp, name, axis) == _outcome(onp, name, axis), axis


def test_zero_d_reduction_gradient():
    x = gg.tensor(2.0, requires_grad=True)
    (gnp.sum(x, axis=0) * 3 + gg.ops.mean(x, axis=-1)).backward()
    assert x.grad.item() == 4.0


# ------------------------------------------------------------------------------ AxisError
AXIS_CASES = {
    "transpose": lambda m, x: m.transpose(x, (0, 2)),
    "transpose_method": lambda m, x: x.transpose(0, 5),
    "moveaxis": lambda m, x: m.moveaxis(x, 0, 5),
    "swapaxes": lambda m, x: m.swapaxes(x, 0, 5),
    "expand_dims": lambda m, x: m.expand_dims(x, 5),
    "squeeze": lambda m, x: m.squeeze(x, 5),
    "squeeze_0d_tuple": lambda m, x: m.squeeze(m.asarray(1.0), (0,)),
    "flip": lambda m, x: m.flip(x, 5),
    "roll": lambda m, x: m.roll(x, 1, 5),
    "take": lambda m, x: m.take(x, [0], axis=5),
    "concatenate": lambda m, x: m.concatenate([x, x], axis=5),
    "stack": lambda m, x: m.stack([x, x], axis=5),
    "sort": lambda m, x: m.sort(x, axis=5),
    "cumsum": lambda m, x: m.cumsum(x, axis=5),
    "mean": lambda m, x: m.mean(x, axis=(0, 5)),
    "flip_0d": lambda m, x: m.flip(m.asarray(1.0), 0),
    "transpose_repeated": lambda m, x: m.transpose(x, (0, 0)),
}


@pytest.mark.parametrize("name", list(AXIS_CASES))
def test_axis_errors_are_numpys(name):
    f = AXIS_CASES[name]
    with pytest.raises(Exception) as ref:
        f(onp, onp.zeros((2, 3)))
    with pytest.raises(ref.type):
        f(gnp, gnp.zeros((2, 3)))


def test_squeeze_0d_axis():
    for axis in (0, -1, ()):
        assert gnp.squeeze(gnp.asarray(2.0), axis=axis).shape == ()


# ---------------------------------------------------------------------------- .flat forms
@pytest.mark.parametrize("stmt", ["x.flat = 3", "x.flat = [1, 2]", "x.flat[[0, 1, 2, 3]] = [9, 8]",
                                  "x.flat[:4] = [9, 8]", "x.flat[[0, 1]] = [9, 8, 7]",
                                  "x.flat[1:5] = [[1, 2], [3, 4]]", "x.T.flat[:3] = [1, 2]",
                                  "x.flat[x.ravel() > -1] = [5, 6]", "x.flat[x > -1] = 1",
                                  "x.put([5, 0], [1, 2, 3])", "x.flat[[6]] = 1"])
def test_flat_assignment_forms_as_numpy(stmt):
    if stmt == "x.flat[x > -1] = 1" and onp.lib.NumpyVersion(onp.__version__) < "2.1.0":
        pytest.skip("NumPy 2.0's flat iterator refuses a 2-D boolean key that later NumPy takes")
    _same_as_numpy(stmt)


def _same_as_numpy(stmt):
    got, ref = {"x": gnp.zeros((2, 3))}, {"x": onp.zeros((2, 3))}
    try:
        exec(stmt, {}, ref)
    except Exception as e:  # noqa: BLE001
        with pytest.raises(type(e)):
            exec(stmt, {}, got)
        assert got["x"].tolist() == onp.zeros((2, 3)).tolist()  # nothing half-written
        return
    exec(stmt, {}, got)
    assert got["x"].tolist() == ref["x"].tolist()


def test_flat_values_repeat_with_gradient():
    v = gg.tensor([1.0, 2.0], requires_grad=True)
    x = gg.zeros((2, 3), dtype=gg.float64)
    x.flat[:5] = v
    assert x.tolist() == [[1.0, 2.0, 1.0], [2.0, 1.0, 0.0]]
    (x * gg.tensor(onp.arange(6.0).reshape(2, 3))).sum().backward()
    assert v.grad.tolist() == [0.0 + 2 + 4, 1.0 + 3]


def test_flat_iteration_index_and_coords():
    ref, got = onp.arange(6.).reshape(2, 3).flat, gnp.arange(6.).reshape(2, 3).flat
    assert got.index == ref.index == 0
    for _ in range(4):
        assert next(got).item() == next(ref)
        assert (got.index, got.coords) == (ref.index, ref.coords)
    assert [float(v) for v in got] == [float(v) for v in ref]
    assert got.copy().tolist() == ref.copy().tolist()


# ----------------------------------------------------------------------- list assignment
@pytest.mark.parametrize("stmt", ["x[0] = [1, 2, 3]", "x[0, :2] = (7, 8)", "x[...] = [[1], [2]]",
                                  "x[[1, 0]] = [[1, 2, 3]]", "x[0] = ['1', 2, 3.5]",
                                  "x[0, 0] = [7]", "x[0] = [1, 2]", "x[0] = [[1, 2], [3]]",
                                  "x[0] = [1j, 2, 3]"])
def test_list_assignment_as_numpy(stmt):
    _same_as_numpy(stmt)


@pytest.mark.parametrize("graph", [False, True])
def test_list_assignment_overflow_warns_once(graph):
    x = gg.zeros(2, dtype=gg.float32, requires_grad=graph) * 1 if graph else gnp.zeros(
        2, dtype=onp.float32)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        x[...] = [1e300, 1.0]
    assert [str(m.message) for m in w] == ["overflow encountered in cast"]
    assert onp.isinf(onp.asarray(x.detach())[0])
