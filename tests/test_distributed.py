"""gpugrad.distributed without an MPI job: the sampler, post-accumulate-grad hooks, the
bucketed reducer against a fake communicator (overlap, no_sync, unused parameters), the NCCL
communicator against a fake ``cupy.cuda.nccl``, and the collective timeout."""
import numpy as np
import pytest

import gpugrad as gg
import gpugrad.distributed as dist
from gpugrad.distributed import comm as comm_mod
from gpugrad.distributed import process_group as pg


# ---------------------------------------------------------------- the sampler
@pytest.mark.parametrize("n,world,drop", [(10, 2, False), (11, 3, False), (11, 3, True),
                                          (5, 4, False)])
def test_sampler_shards_are_equal_disjoint_and_cover(n, world, drop):
    shards = [dist.DistributedSampler(n, world, r, seed=3, drop_last=drop).indices()
              for r in range(world)]
    assert len({len(s) for s in shards}) == 1
    allidx = np.concatenate(shards)
    if drop:
        assert len(set(allidx.tolist())) == len(allidx) == (n // world) * world
    else:
        assert set(allidx.tolist()) == set(range(n))
        # padding repeats as few samples as it can
        assert len(allidx) - n == (-n) % world


def test_sampler_epochs_differ_and_replay():
    a = dist.DistributedSampler(50, 2, 0, seed=1)
    first = a.indices()
    a.set_epoch(1)
    second = a.indices()
    assert not np.array_equal(first, second)
    b = dist.DistributedSampler(50, 2, 0, seed=1)
    b.set_epoch(1)
    assert np.array_equal(b.indices(), second)
    assert not np.array_equal(dist.DistributedSampler(50, 2, 0, seed=2).indices(), first)


def test_sampler_errors_name_what_came():
    with pytest.raises(ValueError, match=r"rank in \[0, 2\), got 2"):
        dist.DistributedSampler(10, 2, 2)
    with pytest.raises(ValueError, match="3 samples cannot be split into 4"):
        dist.DistributedSampler(3, 4, 0, drop_last=True)


def test_loader_iterates_its_shard_and_resumes():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20)
    loaders = [dist.DistributedDataLoader(X, y, batch_size=4, shuffle=True, seed=5,
                                          num_replicas=2, rank=r) for r in range(2)]
    seen = [np.concatenate([yb.numpy() for _, yb in ld]) for ld in loaders]
    assert sorted(np.concatenate(seen).tolist()) == list(range(20))
    for ld, s in zip(loaders, seen):      # features travel with their labels
        assert len(ld) == 3 and ld.num_samples == 10 and len(s) == 10
    state = loaders[0].state_dict()
    nxt = np.concatenate([yb.numpy() for _, yb in loaders[0]])
    again = dist.DistributedDataLoader(X, y, batch_size=4, shuffle=True, seed=5,
                                       num_replicas=2, rank=0)
    again.load_state_dict(state)
    assert np.array_equal(np.concatenate([yb.numpy() for _, yb in again]), nxt)
    assert not np.array_equal(nxt, seen[0])
    with pytest.raises(ValueError, match="'epoch'"):
        again.load_state_dict({"generator": {}})


# ---------------------------------------------------------------- post-accumulate hooks
def test_post_accumulate_hook_runs_once_on_the_total():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    ((x * x).sum() + (x * 3).sum()).backward()
    assert seen == [[5.0, 7.0]]
    (x * 1).sum().backward()              # the hook sees the accumulated .grad
    assert seen[-1] == [6.0, 8.0]
    gg.autograd.grad((x * x).sum(), [x])  # grad() leaves .grad alone: no call
    assert len(seen) == 2
    h.remove()
    (x * 1).sum().backward()
    assert len(seen) == 2


def test_post_accumulate_hook_fires_before_the_pass_ends():
    model = gg.nn.MLP([3, 5, 4, 2])
    gg.optim.SGD(model.parameters(), lr=0.1)
    order = []
    params = list(model.parameters())
    for i, p in enumerate(params):
        p.register_post_accumulate_grad_hook(lambda t, i=i: order.append(
            (i, [q.grad is not None for q in params])))
    model(gg.ones(2, 3)).sum().backward()
    assert sorted(i for i, _ in order) == list(range(len(params)))
    first, ready = order[0]
    assert first >= len(params) - 2                  # the last layer finishes first ...
    assert not all(ready)                            # ... while earlier ones still wait
    with pytest.raises(RuntimeError, match="leaf tensors"):
        (params[0] * 2).register_post_accumulate_grad_hook(print)


# ---------------------------------------------------------------- the reducer (fake comm)
class FakeWork:
    def __init__(self, buf, log):
        self.buf, self.log, self.done = buf, log, False

    def test(self):
        return self.done

    def wait(self):
        if not self.done:                 # the other rank holds the same gradients
            self.buf *= 2
            self.done = True


class FakeComm:
    rank, size = 0, 2

    def __init__(self):
        self.launches = []
        self.params = []

    def all_reduce(self, buf, what=""):
        ready = sum(p.grad is not None for p in self.params)
        self.launches.append((buf.nbytes, ready))
        return FakeWork(buf, self.launches)

    def broadcast(self, buf, root=0, what=""):
        return FakeWork(buf, None).__class__(np.zeros(0), None)

    def barrier(self, what=""):
        pass

    def all_gather(self, a, out, what=""):
        out[...] = a                      # the other rank holds the same model
        return FakeWork(np.zeros(0), None)


@pytest.fixture
def fake_world(monkeypatch):
    fake = FakeComm()
    monkeypatch.setattr(pg._s, "world", fake)
    monkeypatch.setattr(pg._s, "rank", 0)
    monkeypatch.setattr(pg._s, "size", 2)
    monkeypatch.setattr(pg._s, "backend", None)
    monkeypatch.setattr(pg._s, "comms", {("mpi", "host"): fake})
    return fake


def _train(model, steps, wrap=None, accumulate=False, **ddp_kw):
    rng = np.random.default_rng(0)
    net = model if wrap is None else wrap(model, **ddp_kw)
    opt = gg.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        x = gg.tensor(rng.standard_normal((6, 3)))
        opt.zero_grad()
        if accumulate and wrap is not None:
            with net.no_sync():
                net(x[:3]).sum().backward()
            net(x[3:]).sum().backward()
        else:
            net(x).sum().backward()
        opt.step()
    return net, [p.numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("cap_mb,accumulate", [(25.0, False), (1e-4, False), (1e-4, True)])
def test_ddp_overlaps_and_matches_local_training(fake_world, cap_mb, accumulate):
    def mlp():
        gg.random.manual_seed(0)
        return gg.nn.MLP([3, 8, 8, 2], dtype="float64")

    _, ref = _train(mlp(), 4)
    model = mlp()
    fake_world.params = list(model.parameters())
    net, got = _train(model, 4, dist.DistributedDataParallel, accumulate, bucket_cap_mb=cap_mb)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    nb = len(net.reducer.buckets)
    assert len(fake_world.launches) == 4 * nb          # one all-reduce per bucket per step
    assert net.bytes_per_step == sum(p.data.nbytes for p in model.parameters())
    if cap_mb < 1:
        assert nb > 1
    if cap_mb < 1 and not accumulate:
        # overlap: the first bucket left while some gradients were not computed yet
        assert fake_world.launches[0][1] < len(fake_world.params)


def test_ddp_without_optimizer_packs_buckets(fake_world):
    model = gg.nn.Linear(3, 2, dtype="float64")
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=1e-5)
    ddp(gg.ones(4, 3, dtype="float64")).sum().backward()
    assert len(ddp.reducer.buckets) == 2 and ddp.reducer.buckets[0].flat is None
    np.testing.assert_array_equal(model.weight.grad.numpy(), np.full(model.weight.shape, 4.0))
    np.testing.assert_array_equal(model.bias.grad.numpy(), [4.0, 4.0])


def test_ddp_unused_parameter_is_a_clear_error_or_zeros(fake_world):
    class Two(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = gg.nn.Linear(2, 2), gg.nn.Linear(2, 2)

        def forward(self, x):
            return self.a(x)

    ddp = dist.DistributedDataParallel(Two())
    ddp(gg.ones(1, 2)).sum().backward()
    with pytest.raises(RuntimeError, match="find_unused_parameters=True"):
        ddp(gg.ones(1, 2))
    m = Two()
    ddp = dist.DistributedDataParallel(m, find_unused_parameters=True)
    ddp(gg.ones(1, 2)).sum().backward()
    assert m.b.weight.grad.tolist() == [[0.0, 0.0]] * 2
    assert m.a.bias.grad.tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="after this step's gradients were averaged"):
        (m.b.weight.sum() * 1).backward()


def test_ddp_needs_init_and_a_module(monkeypatch):
    monkeypatch.setattr(pg._s, "world", None)
    with pytest.raises(RuntimeError, match=r"init\(\) first"):
        dist.DistributedDataParallel(gg.nn.Linear(2, 2))


# ---------------------------------------------------------------- NCCL (fake nccl module)
class _Ptr:
    def __init__(self, ptr):
        self.ptr = ptr


class FakeDeviceArray:
    def __init__(self, a):
        self.a = a
        self.data, self.flags = _Ptr(a.ctypes.data), a.flags
        self.size, self.dtype = a.size, a.dtype


class FakeEvent:
    done = False


class FakeStream:
    ptr = 1234

    def record(self):
        return FakeEvent()


class FakeNccl:
    NCCL_SUM, NCCL_FLOAT32, NCCL_FLOAT64 = 0, 7, 8
    calls = []

    @staticmethod
    def get_unique_id():
        return (42,)

    class NcclCommunicator:
        def __init__(self, size, uid, rank):
            FakeNccl.calls.append(("init", size, uid, rank))

        def allReduce(self, *args):
            FakeNccl.calls.append(("allReduce",) + args)

        def bcast(self, *args):
            FakeNccl.calls.append(("bcast",) + args)

        def abort(self):
            FakeNccl.calls.append(("abort",))


class FakeMPI:
    def __init__(self, rank):
        self.rank = rank

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return 2

    def bcast(self, obj, root=0):
        return (42,)                        # rank 0's id reaches every rank


class FakeCuda:
    @staticmethod
    def get_current_stream():
        return FakeStream()


def test_nccl_comm_calls_on_the_compute_stream(monkeypatch):
    FakeNccl.calls = []
    c = comm_mod.NCCLComm(FakeMPI(1), nccl=FakeNccl, cuda=FakeCuda)
    assert FakeNccl.calls[0] == ("init", 2, (42,), 1)
    c._watch.thread = "not started"     # the test runs the watchdog's check() itself
    a = FakeDeviceArray(np.ones(5, np.float32))
    c.all_reduce(a, "x").wait()             # host does not block
    c.broadcast(FakeDeviceArray(np.ones(3)), root=0)
    assert FakeNccl.calls[1] == ("allReduce", a.data.ptr, a.data.ptr, 5, 7, 0, 1234)
    assert FakeNccl.calls[2][2:] == (3, 8, 0, 1234)
    with pytest.raises(TypeError, match="NCCL has no type for dtype complex64"):
        c.all_reduce(FakeDeviceArray(np.ones(2, np.complex64)))
    with pytest.raises(ValueError, match="C-contiguous CuPy array"):
        c.all_reduce(np.ones(2))
    # the watchdog aborts the job once a queued collective is past its deadline
    aborted = []
    monkeypatch.setattr(comm_mod, "abort", lambda msg, code=1: aborted.append(msg))
    monkeypatch.setenv("GPUGRAD_DIST_TIMEOUT", "0.01")
    c._watch.pending = [(FakeEvent(), 0.0, "the all-reduce of bucket 3")]
    c._watch.check()
    assert FakeNccl.calls[-1] == ("abort",)
    assert "bucket 3" in aborted[0] and "GPUGRAD_DIST_TIMEOUT" in aborted[0]


# ---------------------------------------------------------------- timeouts
def test_timeout_env(monkeypatch):
    monkeypatch.delenv("GPUGRAD_DIST_TIMEOUT", raising=False)
    assert dist.timeout() == dist.DEFAULT_TIMEOUT == 300.0
    monkeypatch.setenv("GPUGRAD_DIST_TIMEOUT", "2.5")
    assert dist.timeout() == 2.5
    monkeypatch.setenv("GPUGRAD_DIST_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="got 'soon'"):
        dist.timeout()


def test_work_past_its_deadline_aborts(monkeypatch):
    class Never:
        def Test(self):
            return False

    aborted = []
    monkeypatch.setattr(comm_mod, "abort", lambda msg, code=1: aborted.append(msg))
    comm_mod.Work(Never(), "the all-reduce of bucket 0", 1, limit=0.05).wait()
    assert "rank 1 waited" in aborted[0] and "bucket 0" in aborted[0]


def test_launcher_detection(monkeypatch):
    for var in pg._SIZE_VARS:
        monkeypatch.delenv(var, raising=False)
    assert not dist.launched_by_mpi()
    monkeypatch.setenv("PMI_SIZE", "2")
    assert dist.launched_by_mpi()


def test_ddp_on_cuda_goes_through_nccl_on_the_stream(device, monkeypatch):
    if device == "cpu":
        pytest.skip("the NCCL path takes CUDA arrays")
    import cupy

    model = gg.nn.MLP([3, 4, 2], device=device, dtype="float32")
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    x = gg.ones(5, 3, device=device)
    model(x).sum().backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
    opt.zero_grad()
    FakeNccl.calls = []
    c = comm_mod.NCCLComm(FakeMPI(0), nccl=FakeNccl, cuda=cupy.cuda)
    c._watch.thread = "not started"
    dev = model.parameters().__next__().device
    monkeypatch.setattr(pg._s, "world", FakeComm())
    monkeypatch.setattr(pg._s, "size", 2)
    monkeypatch.setattr(pg._s, "backend", None)
    monkeypatch.setattr(pg._s, "comms", {("nccl", str(dev)): c})
    ddp = dist.DistributedDataParallel(model)
    ddp(x).sum().backward()                 # the fake NCCL adds nothing: grads / 2 remain
    for g, p in zip(local, model.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), g / 2, rtol=1e-6)
    reduce = [cl for cl in FakeNccl.calls if cl[0] == "allReduce"]
    flat = opt._flats[0]
    assert len(reduce) == 1            # one bucket: the whole flat buffer, in place, float32
    assert reduce[0][1:] == (flat.grad.data.ptr, flat.grad.data.ptr, flat.grad.size, 7, 0,
                             cupy.cuda.get_current_stream().ptr)

