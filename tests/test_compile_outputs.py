"""What a compiled step returns, call after call, is what the uncompiled step returns: an
input (or a view of one) returned by the step is the caller's tensor (a view of it), never a
view of the step's static input buffers that the next call overwrites; a namedtuple, an
OrderedDict or another tuple/list/dict subclass comes back as its own type."""
from collections import OrderedDict, defaultdict, namedtuple

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.capture import CaptureError

X = np.arange(24, dtype=np.float32).reshape(4, 6)

RETURNS = {
    "itself": lambda x: x,
    "row": lambda x: x[1],
    "transpose": lambda x: x.T,
    "strided": lambda x: x[:, ::2],
    "reshape": lambda x: x.reshape(2, -1),
    "ravel": lambda x: gg.ravel(x),
    "detach": lambda x: x.detach(),
    "pair": lambda x: (x, x[0] * 2),
    "dict": lambda x: {"row": x[2], "sum": x.sum()},
}


def _calls(fn, compiled, n=3):
    """The step's results over ``n`` calls with inputs X, 2X, 3X, each read after all calls,
    and the inputs."""
    step = gg.compile(fn) if compiled else fn
    inputs = [gg.tensor(X * k) for k in range(1, n + 1)]
    results = [step(x) for x in inputs]
    return results, inputs


def _arrays(r):
    if isinstance(r, dict):
        return [v.numpy() for v in r.values()]
    if isinstance(r, tuple):
        return [v.numpy() for v in r]
    return [r.numpy()]


@pytest.mark.parametrize("name", sorted(RETURNS))
def test_a_returned_input_or_view_keeps_its_values_after_later_calls(name):
    eager, _ = _calls(RETURNS[name], False)
    compiled, _ = _calls(RETURNS[name], True)
    for i, (e, c) in enumerate(zip(eager, compiled)):
        for a, b in zip(_arrays(e), _arrays(c)):
            assert a.shape == b.shape and np.array_equal(a, b), f"{name}: call {i}'s result"


@pytest.mark.parametrize("name", ["row", "transpose", "strided", "reshape", "detach"])
def test_a_returned_view_of_an_input_aliases_the_callers_tensor(name):
    step = gg.compile(RETURNS[name])
    for k in range(1, 4):                     # the recording, then replays
        x = gg.tensor(X * k)
        r = step(x)
        x.data[...] = -1.0                    # a write into the input after the call ...
        assert np.all(r.numpy() == -1.0), f"call {k}: the result is not a view of the input"


def test_a_returned_input_is_the_callers_tensor():
    step = gg.compile(lambda x: (x, x * 2))
    for k in range(1, 4):
        x = gg.tensor(X * k)
        r, y = step(x)
        assert r is x and np.array_equal(y.numpy(), X * k * 2)


def test_an_input_written_in_place_and_returned_is_the_callers_tensor_with_the_writes():
    def f(x):
        with gg.no_grad():
            x[0].mul_(10.0)
        return x[0]
    step = gg.compile(f)
    xs = [gg.tensor(X * k) for k in range(1, 4)]
    rs = [step(x) for x in xs]
    for k, (x, r) in enumerate(zip(xs, rs), 1):
        assert np.array_equal(r.numpy(), X[0] * k * 10) and np.array_equal(x.numpy()[0], r.numpy())


@pytest.mark.parametrize("write", [
    lambda x: x[0].mul_(10.0),
    lambda x: x.T[:, 1].add_(1.0),
    lambda x: x[:, ::2].__setitem__(0, -3.0),
])
def test_a_write_into_a_view_of_an_input_reaches_the_callers_tensor(write):
    def f(x):
        with gg.no_grad():
            write(x)
        return x.sum()
    step = gg.compile(f)
    for k in range(1, 4):
        want, x = gg.tensor(X * k), gg.tensor(X * k)
        s = f(want)
        before = x._vc[0]
        assert step(x).item() == s.item()
        assert np.array_equal(x.numpy(), want.numpy()), f"call {k}: the write was lost"
        assert x._vc[0] > before                 # as the uncompiled write moves it


def test_a_numpy_input_returned_as_a_tensor_views_the_callers_array():
    step = gg.compile(lambda x: gg.as_tensor(x)[1:])
    arrays = [X * k for k in range(1, 4)]
    rs = [step(a) for a in arrays]
    for a, r in zip(arrays, rs):
        assert np.array_equal(r.numpy(), a[1:]) and np.shares_memory(r.numpy(), a)


def test_a_training_step_returning_its_batch_and_loss():
    gg.manual_seed(0)
    model = gg.nn.Linear(6, 2)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)

    @gg.compile
    def step(x):
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss, x[:2]
    batches = [gg.tensor(X * k) for k in range(1, 4)]
    kept = [step(b) for b in batches]
    for b, (_, head) in zip(batches, kept):
        assert np.array_equal(head.numpy(), b.numpy()[:2])


Pair = namedtuple("Pair", "loss out")


class Items(list):
    pass


@pytest.mark.parametrize("wrap,check", [
    (lambda x: Pair(x.sum(), x * 2), lambda r: r.loss.item() == X.sum() and r.out.shape == X.shape),
    (lambda x: OrderedDict([("b", x.sum()), ("a", x * 2)]), lambda r: list(r) == ["b", "a"]),
    (lambda x: Items([x.sum(), 3]), lambda r: r[1] == 3),
    (lambda x: [Pair(x.sum(), None), (x * 1,)], lambda r: r[0].out is None),
])
def test_container_types_are_kept_at_every_call(wrap, check):
    eager = wrap(gg.tensor(X))
    step = gg.compile(wrap)
    for _ in range(3):
        r = step(gg.tensor(X))
        assert type(r) is type(eager) and check(r)
        if isinstance(r, list) and isinstance(r[0], tuple):
            assert type(r[0]) is Pair


def test_defaultdict_keeps_its_factory():
    step = gg.compile(lambda x: defaultdict(list, {"s": x.sum()}))
    for _ in range(3):
        r = step(gg.tensor(X))
        assert type(r) is defaultdict and r.default_factory is list and r["s"].item() == X.sum()


def test_a_container_that_cannot_be_rebuilt_is_refused():
    class Box(tuple):
        def __new__(cls, a, b):
            return super().__new__(cls, (a, b))

    class Odd(tuple):              # rebuilt from its items it would be another value
        def __new__(cls, items):
            return super().__new__(cls, list(items)[::-1])
    step = gg.compile(lambda x: Box(x.sum(), x * 2))
    with pytest.raises(CaptureError, match="Box"):
        step(gg.tensor(X))
    odd = Odd([gg.ones(1), gg.zeros(1)])
    with pytest.raises(CaptureError, match="Odd"):
        gg.compile(lambda x: odd)(gg.tensor(X))
