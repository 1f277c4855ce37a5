"""What a compiled step depends on beyond its input signature is guarded: a replay equals the
uncompiled step (bit for bit, call after call) after a layer is frozen or unfrozen, a
gradient hook is added, anomaly detection or no_grad is turned on, a submodule or parameter
is replaced, autocast is entered around the call; and the tapes kept are capped."""
import gc
import weakref

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import nn, optim
from gpugrad.capture import CaptureError

F = nn.functional


def _batch(seed, rows=4):
    rng = np.random.default_rng(seed)
    return (gg.tensor(rng.standard_normal((rows, 3)).astype(np.float32)),
            gg.tensor(rng.integers(0, 2, rows)))


def _twins(make_model, body=None):
    """(eager model, eager step, compiled model, compiled step): the same model twice."""
    def default(m, o):
        def step(x, y):
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            o.step()
            o.zero_grad()
            return loss
        return step
    body = body or default
    out = []
    for _ in range(2):
        gg.manual_seed(0)
        m = make_model()
        out += [m, body(m, optim.SGD(m.parameters(), lr=0.1))]
    me, fe, mc, fc = out
    return me, fe, mc, gg.compile(fc)


def _same_run(me, fe, mc, fc, calls=3, seed=0):
    """Call both ``calls`` times: every loss and, after, every weight equal bit for bit."""
    for i in range(calls):
        x, y = _batch(seed + i)
        gg.manual_seed(100 + seed + i)
        a = fe(x, y)
        gg.manual_seed(100 + seed + i)              # (the same dropout masks)
        b = fc(x, y)
        assert np.array_equal(a.numpy(), b.numpy()), (i, a.item(), b.item())
    for (n, p), q in zip(me.named_parameters(), mc.parameters()):
        assert np.array_equal(p.numpy(), q.numpy()), n


def _mlp():
    return nn.MLP([3, 8, 2])


# ------------------------------------------------------------------ requires_grad
def test_a_layer_unfrozen_after_recording_is_trained():
    me, fe, mc, fc = _twins(_mlp)
    for m in (me, mc):
        m[0].requires_grad_(False)
    _same_run(me, fe, mc, fc, calls=1)
    w0 = mc[0].weight.numpy().copy()
    for m in (me, mc):
        m[0].requires_grad_(True)
    _same_run(me, fe, mc, fc, seed=10)
    assert not np.array_equal(w0, mc[0].weight.numpy())
    assert fc.recordings == 2


def test_a_layer_frozen_after_recording_is_not_trained():
    me, fe, mc, fc = _twins(_mlp)
    _same_run(me, fe, mc, fc, calls=1)
    for m in (me, mc):
        m[0].requires_grad_(False)
    w0 = mc[0].weight.numpy().copy()
    _same_run(me, fe, mc, fc, seed=10)
    assert np.array_equal(w0, mc[0].weight.numpy()) and mc[0].weight.grad is None
    assert fc.recordings == 2
    for m in (me, mc):                       # and back: the first tape is recorded again
        m[0].requires_grad_(True)
    _same_run(me, fe, mc, fc, seed=20)


# ------------------------------------------------------------------ gradient hooks
@pytest.mark.parametrize("kind", ["register_hook", "register_post_accumulate_grad_hook"])
def test_a_hook_added_after_recording_is_refused_before_anything_runs(kind):
    me, fe, mc, fc = _twins(_mlp)
    _same_run(me, fe, mc, fc, calls=2)
    seen = []
    handle = getattr(mc[0].weight, kind)(lambda g: seen.append(1))
    before = [p.numpy().copy() for p in mc.parameters()]
    for _ in range(2):
        with pytest.raises(CaptureError, match=kind):
            fc(*_batch(5))
    assert not seen
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, mc.parameters()))
    handle.remove()                           # removed: the recorded tape replays again
    _same_run(me, fe, mc, fc, seed=10)
    assert fc.recordings == 1


def test_a_hook_on_a_tensor_the_step_does_not_train_is_no_concern():
    me, fe, mc, fc = _twins(_mlp)
    _same_run(me, fe, mc, fc, calls=1)
    other = nn.Parameter(gg.ones(2))
    other.register_hook(lambda g: g)
    other.register_post_accumulate_grad_hook(lambda t: None)
    _same_run(me, fe, mc, fc, seed=10)


# ------------------------------------------------------------------ anomaly mode, no_grad
def _log_step(m, o):
    def step(x):
        loss = -gg.log(m(x)).sum()           # NaN where m(x) < 0 (it grows for x > 0)
        loss.backward()
        o.step()
        o.zero_grad()
        return loss
    return step


def _affine():
    m = nn.Linear(3, 2)
    with gg.no_grad():
        m.weight.fill_(1.0)
        m.bias.fill_(0.5)
    return m


@pytest.mark.parametrize("inside", [False, True])
def test_anomaly_mode_checks_every_call_recorded_inside_or_outside(inside):
    me, fe, mc, fc = _twins(_affine, _log_step)
    good = [gg.full((4, 3), v) for v in (1.0, 2.0, 0.5)]
    bad = gg.full((4, 3), -1.0)
    if not inside:
        assert fe(good[0]).item() == fc(good[0]).item()
    with gg.autograd.detect_anomaly():
        for x in good:
            assert fe(x).item() == fc(x).item()
            for f, m in ((fe, me), (fc, mc)):
                w = m.weight.numpy().copy()
                with pytest.raises(gg.AnomalyError, match="Log"):
                    f(bad)
                assert np.array_equal(w, m.weight.numpy())   # raised before the update
                m.zero_grad()
    for x in good:                            # detection off: replays, equal to eager
        assert fe(x).item() == fc(x).item()
    assert np.array_equal(me.weight.numpy(), mc.weight.numpy())
    assert fc.recordings == 1


def test_a_call_under_no_grad_runs_the_step_as_written():
    w = nn.Parameter(gg.ones(3))
    fc = gg.compile(lambda x: (x * w).sum())
    for v in (1.0, 2.0, 3.0):
        assert fc(gg.full((3,), v)).item() == 3 * v
    with gg.no_grad():
        for v in (4.0, 5.0, 6.0):
            r = fc(gg.full((3,), v))
            assert r.item() == 3 * v and not r.requires_grad
    me, fe, mc, fc = _twins(_mlp)
    _same_run(me, fe, mc, fc, calls=1)
    with gg.no_grad():                        # backward without a graph: the eager error
        with pytest.raises(RuntimeError) as eager_err:
            fe(*_batch(1))
        with pytest.raises(RuntimeError) as compiled_err:
            fc(*_batch(1))
    assert type(eager_err.value) is type(compiled_err.value)
    assert str(eager_err.value) == str(compiled_err.value)
    _same_run(me, fe, mc, fc, seed=10)


# ------------------------------------------------------------------ module trees
def test_a_submodule_replaced_after_recording_is_used():
    me, fe, mc, fc = _twins(_mlp, lambda m, o: _twins_plain_step(m))
    _same_run(me, fe, mc, fc, calls=2)
    for m in (me, mc):
        gg.manual_seed(1)
        setattr(m, "1", nn.Linear(8, 2))
    _same_run(me, fe, mc, fc, seed=10)
    assert fc.recordings == 2


def _twins_plain_step(m):
    def step(x, y):
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        for p in m.parameters():
            with gg.no_grad():
                p -= 0.1 * p.grad
        m.zero_grad()
        return loss
    return step


class _Blocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 2)])

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return x


@pytest.mark.parametrize("change", ["module_list_item", "parameter", "buffer", "delete"])
def test_a_changed_module_tree_records_again(change):
    me, fe, mc, fc = _twins(_Blocks, lambda m, o: _twins_plain_step(m))
    _same_run(me, fe, mc, fc, calls=2)
    for m in (me, mc):
        gg.manual_seed(2)
        if change == "module_list_item":      # a ModuleList the step never calls itself
            m.blocks[1] = nn.Linear(3, 2)
        elif change == "parameter":
            m.blocks[0].weight = nn.Parameter(gg.randn(3, 3))
        elif change == "buffer":              # a buffer the step does not read: no harm
            m.blocks[0].register_buffer("scale", gg.ones(1))
        else:
            del m.blocks[1].bias
            m.blocks[1].register_parameter("bias", None)
    _same_run(me, fe, mc, fc, seed=10)
    assert fc.recordings == 2


def test_a_parameter_the_step_reads_without_calling_its_module_is_followed():
    lin = nn.Linear(3, 2)
    fc = gg.compile(lambda x: (x @ lin.weight).sum())
    x = gg.ones(4, 3)
    fc(x)
    lin.weight = nn.Parameter(gg.full((3, 2), 2.0))
    for _ in range(3):
        assert fc(x).item() == 48.0
    assert fc.recordings == 2


def test_plain_attributes_do_not_drop_tapes():
    me, fe, mc, fc = _twins(_mlp)
    _same_run(me, fe, mc, fc, calls=1)
    mc.note = "epoch 1"                       # not a module, parameter or buffer
    nn.Linear(2, 2)                           # a module built elsewhere
    _same_run(me, fe, mc, fc, seed=10)
    assert fc.recordings == 1


def test_a_training_flag_set_directly_is_followed():
    me, fe, mc, fc = _twins(lambda: nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.5),
                                                  nn.Linear(8, 2)))
    _same_run(me, fe, mc, fc, calls=2)
    for m in (me, mc):
        m[1].training = False                 # as eval() on the dropout alone
    _same_run(me, fe, mc, fc, seed=10)
    assert fc.recordings == 2


# ------------------------------------------------------------------ autocast around the call
def test_autocast_entered_around_the_call_records_again():
    pytest.importorskip("ml_dtypes")
    me, fe, mc, fc = _twins(_mlp)
    _same_run(me, fe, mc, fc, calls=1)
    with gg.autocast(dtype="bfloat16"):
        _same_run(me, fe, mc, fc, seed=10)
    _same_run(me, fe, mc, fc, seed=20)
    assert fc.recordings == 2


# ------------------------------------------------------------------ the tape cache
def test_max_recordings_keeps_the_most_recently_used_tapes():
    w = nn.Parameter(gg.ones(3))
    fc = gg.compile(lambda x: (x * w).sum(), max_recordings=2)
    xs = {n: gg.ones(n, 3) for n in (1, 2, 3)}
    fc(xs[1]); fc(xs[2]); fc(xs[1])           # 1 is the most recently used
    evicted = next(e for k, e in fc._tapes.items() if k[0][0][2] == (2, 3))
    refs = [weakref.ref(evicted), weakref.ref(evicted.tape), weakref.ref(evicted.bufs[0])]
    del evicted
    assert fc(xs[3]).item() == 9.0 and len(fc._tapes) == 2 and fc.recordings == 3
    gc.collect()
    assert all(r() is None for r in refs)     # the dropped tape's buffers are freed
    assert fc(xs[1]).item() == 3.0 and fc.recordings == 3     # kept
    with pytest.warns(RuntimeWarning, match="max_recordings=2"):
        assert fc(xs[2]).item() == 6.0 and fc.recordings == 4     # dropped: recorded again
    for n in (1, 2, 3):
        assert fc(xs[n] * n).item() == 3.0 * n * n


def test_max_recordings_is_checked():
    for bad in (0, -1, 2.0, True, "8"):
        with pytest.raises(ValueError, match="max_recordings"):
            gg.compile(lambda x: x, max_recordings=bad)
    step = gg.compile(lambda x: x.sum(), max_recordings=None)
    for n in range(1, 11):
        step(gg.ones(n))
    assert len(step._tapes) == 10
    assert len(gg.compile(lambda x: x.sum())._tapes) == 0


# ------------------------------------------------------------------ tensor attributes
class _Shifted(nn.Module):
    """A layer plus a plain Tensor attribute (not a buffer) read in forward."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.shift = gg.zeros(2)

    def forward(self, x):
        return self.lin(x) + self.shift


def test_a_tensor_attribute_rebound_after_recording_is_used():
    me, fe, mc, fc = _twins(_Shifted, lambda m, o: _twins_plain_step(m))
    _same_run(me, fe, mc, fc, calls=2)
    for i, shift in enumerate((gg.ones(2), gg.full((2,), -3.0))):
        for m in (me, mc):
            m.shift = shift * 1
        _same_run(me, fe, mc, fc, calls=2, seed=10 * (i + 1))
        assert fc.recordings == 2 + i
    del mc.shift, me.shift                    # deleted: the step fails as written
    with pytest.raises(AttributeError, match="shift"):
        fc(*_batch(0))


class _Caching(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.last = None

    def forward(self, x):
        self.last = self.lin(x)               # the step rebinds it itself, at each call
        return self.last


def test_a_tensor_attribute_the_step_sets_itself_records_once_per_signature():
    m = _Caching()
    fc = gg.compile(lambda x: m(x).sum())
    for _ in range(3):
        for rows in (2, 3):
            x = gg.full((rows, 3), float(rows))
            with gg.no_grad():                # (uncompiled: as written, m.last set again)
                want = (x @ m.lin.weight + m.lin.bias).sum().item()
            assert fc(x).item() == pytest.approx(want)
    assert fc.recordings == 2                 # the tapes do not drop each other
    m.last = None                             # rebound from outside: recorded again
    fc(gg.ones(2, 3))
    assert fc.recordings == 3


# ------------------------------------------------------------------ a change during recording
def test_a_module_replaced_by_another_thread_while_recording_records_again():
    import threading
    started, swapped = threading.Event(), threading.Event()

    class Gate(nn.Module):
        def forward(self, h):
            started.set()
            assert swapped.wait(10)
            return h

    gg.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 1), Gate())
    step = lambda x: m(x).sum()               # noqa: E731
    fc = gg.compile(step)

    def swap():
        started.wait(10)
        setattr(m, "0", nn.Linear(3, 3))      # after the step read layer 0
        swapped.set()
    th = threading.Thread(target=swap)
    th.start()
    x = gg.ones(4, 3)
    fc(x)
    th.join()
    started.clear(); swapped.set()            # (the gate opens from now on)
    for _ in range(2):
        assert fc(x).item() == step(x).item()
    assert fc.recordings == 2


def test_changed_elsewhere_counts_only_other_threads():
    import threading
    from gpugrad import capture_hooks as ch
    mark = ch.changes_mark()
    nn.Linear(2, 2)                           # this thread's own changes
    assert not ch.changed_elsewhere(mark)
    mine, other = nn.Linear(2, 2), nn.Linear(2, 2)
    mark = ch.changes_mark()
    mine.bias = None                          # this thread
    th = threading.Thread(target=lambda: setattr(other, "bias", None))
    th.start(); th.join()
    assert ch.changed_elsewhere(mark)         # any module
    assert not ch.changed_elsewhere(mark, [mine])
    assert ch.changed_elsewhere(mark, [mine, other])
    ch.structure_changing()                   # a change under way
    assert ch.changed_elsewhere(ch.changes_mark())
    ch.structure_changed(begun=True)


# ------------------------------------------------------------------ the cost of the guards
def test_an_unrelated_module_does_not_make_the_step_walk_its_tree(monkeypatch):
    from gpugrad.capture import guards
    me, fe, mc, fc = _twins(_mlp)
    _same_run(me, fe, mc, fc, calls=1)
    walks = []
    real = guards.module_tree
    monkeypatch.setattr(guards, "module_tree", lambda roots: walks.append(1) or real(roots))
    nn.Linear(2, 2)                           # a structure change elsewhere
    _same_run(me, fe, mc, fc, calls=1, seed=10)
    assert walks == []
    for m in (me, mc):
        gg.manual_seed(3)
        setattr(m, "1", nn.Linear(8, 2))      # one in the step's tree: walked, recorded
    _same_run(me, fe, mc, fc, calls=2, seed=20)
    assert len(walks) >= 1 and fc.recordings == 2


# ------------------------------------------------------------------ more signatures than kept
def test_cycling_more_signatures_than_max_recordings_warns_once():
    import warnings
    w = nn.Parameter(gg.ones(3))
    fc = gg.compile(lambda x: (x * w).sum(), max_recordings=2)
    xs = [gg.ones(n, 3) for n in (1, 2, 3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # 3 new signatures: no warning yet
        for x in xs:
            fc(x)
    assert fc.evictions == 1 and fc.recordings == 3
    with pytest.warns(RuntimeWarning, match=r"max_recordings=2 .*3 signatures seen") as rec:
        for _ in range(3):
            for n, x in zip((1, 2, 3), xs):
                assert fc(x).item() == 3.0 * n
    assert len([r for r in rec if issubclass(r.category, RuntimeWarning)]) == 1
    assert fc.evictions == 1 + 9 and fc.recordings == 3 + 9
