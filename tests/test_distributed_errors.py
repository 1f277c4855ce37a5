"""gpugrad.distributed's failure paths without an MPI job: an abort never returns, init()
checks its settings first, a command-line error in a job ends every rank or is reported once,
agreed checks, resuming with another number of processes, models that differ between ranks,
and gg.compile of a DDP step."""
import json
import sys
import types

import numpy as np
import pytest

import gpugrad as gg
import gpugrad.distributed as dist
from gpugrad.distributed import comm as comm_mod
from gpugrad.distributed import process_group as pg


class _Done:
    def test(self):
        return True

    def wait(self):
        pass


class FakeComm:
    """A world of two ranks whose other rank holds the same data."""
    rank, size = 0, 2

    def all_reduce(self, buf, what=""):
        buf *= 2
        return _Done()

    def broadcast(self, buf, root=0, what=""):
        return _Done()

    def all_gather(self, a, out, what=""):
        out[...] = a
        return _Done()

    def barrier(self, what=""):
        pass


@pytest.fixture
def fake_world(monkeypatch):
    fake = FakeComm()
    monkeypatch.setattr(pg._s, "world", fake)
    monkeypatch.setattr(pg._s, "rank", 0)
    monkeypatch.setattr(pg._s, "size", 2)
    monkeypatch.setattr(pg._s, "backend", None)
    monkeypatch.setattr(pg._s, "comms", {("mpi", "host"): fake})
    return fake


# ---------------------------------------------------------------- ending a job
class _Exited(Exception):
    pass


def test_abort_never_returns_even_when_mpi_abort_does(monkeypatch, capsys):
    """MPI does not promise that MPI_Abort ends the caller: after it the process ends itself,
    so no optimizer step or checkpoint can follow a timed-out collective."""
    calls = []
    world = types.SimpleNamespace(Abort=lambda code: calls.append(("Abort", code)))
    fake = types.ModuleType("mpi4py.MPI")
    fake.COMM_WORLD = world
    pkg = types.ModuleType("mpi4py")
    pkg.MPI = fake
    monkeypatch.setitem(sys.modules, "mpi4py", pkg)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", fake)

    def exit_(code):
        calls.append(("_exit", code))
        raise _Exited

    monkeypatch.setattr(comm_mod.os, "_exit", exit_)
    with pytest.raises(_Exited):
        comm_mod.abort("rank 0 gave up", 3)
    assert calls == [("Abort", 3), ("_exit", 3)]
    assert capsys.readouterr().err == "rank 0 gave up\n"


def test_init_checks_the_timeout_before_any_communication(monkeypatch):
    monkeypatch.setattr(pg._s, "world", None)
    monkeypatch.setenv("GPUGRAD_DIST_TIMEOUT", "-1")
    with pytest.raises(ValueError, match="GPUGRAD_DIST_TIMEOUT: expected a number of seconds "
                                         "> 0, got '-1'"):
        dist.init()
    assert pg._s.world is None


def test_cli_errors_in_a_job_abort_or_are_reported_once(fake_world, monkeypatch):
    aborted = []

    def abort(msg, code=1):
        aborted.append((msg, code))
        raise _Exited

    monkeypatch.setattr(comm_mod, "abort", abort)
    with pytest.raises(_Exited):               # this rank's own error: the job ends now
        pg.report_error("gpugrad train: error: bad", ValueError("bad"))
    assert aborted == [("gpugrad train: error: bad", 2)]
    shared = ValueError("every rank")
    shared.reported_by_rank = 0                # agreed by every rank: rank 0 prints it
    assert pg.report_error("m", shared) is True
    shared.reported_by_rank = 1
    assert pg.report_error("m", shared) is False
    monkeypatch.setattr(pg._s, "size", 1)
    assert pg.report_error("m", ValueError("alone")) is True


def test_agree_outside_a_job_just_checks(monkeypatch):
    from gpugrad.distributed.training import agree

    for var in pg._SIZE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(pg._s, "size", 1)
    assert agree(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ValueError, match="bad"):
        agree(lambda: (_ for _ in ()).throw(ValueError("bad")))


def test_resume_with_another_number_of_processes_is_refused():
    from gpugrad.distributed.training import check_config, check_processes
    from gpugrad.tools.train.config import TrainConfig

    two = {"rng": {"loader": {"epoch": 2, "seed": 1, "num_replicas": 2}}}
    one = {"rng": {"loader": {"generator": {}, "seed": 1}}}
    check_processes(two, 2)
    check_processes(one, 1)
    with pytest.raises(ValueError, match=r"from a 2-process run \(mpiexec -n 2\); this run "
                                         r"has 1 process: resume it with mpiexec -n 2"):
        check_processes(two, 1)
    with pytest.raises(ValueError, match="this run has 3 processes: resume it with mpiexec -n 2"):
        check_processes(two, 3)
    with pytest.raises(ValueError, match="from a 1-process run; this run has 2 processes: "
                                         "resume it with one process"):
        check_processes(one, 2)
    with pytest.raises(ValueError, match="--compile cannot be used in a data-parallel run"):
        check_config(TrainConfig(compile=True), 2)
    check_config(TrainConfig(compile=True), 1)


def test_models_that_differ_between_ranks_are_named():
    from gpugrad.distributed.model_check import describe_mismatch, model_signature

    def sig(model):
        return model_signature(model, list(model.parameters()))

    a = sig(gg.nn.MLP([6, 16, 3], dtype="float64"))
    wider = sig(gg.nn.MLP([6, 17, 3], dtype="float64"))
    msg = describe_mismatch([a, a, wider])
    assert msg.startswith("DistributedDataParallel: the ranks hold different models: "
                          "parameter 0 is '0.weight' of shape (6, 16) float64 on rank 0 but "
                          "'0.weight' of shape (6, 17) float64 on rank 2;")
    deeper = sig(gg.nn.MLP([6, 16, 3, 3], dtype="float64"))
    assert "(rank 0 has 4 entries, rank 1 has 6)" in describe_mismatch([a, deeper])
    f32 = sig(gg.nn.MLP([6, 16, 3]))
    assert "float64 on rank 0 but '0.weight' of shape (6, 16) float32 on rank 1" in \
        describe_mismatch([a, f32])


def test_ddp_checks_the_models_before_its_first_broadcast(fake_world, monkeypatch):
    other = gg.nn.MLP([3, 5, 2])                   # what "rank 1" holds
    from gpugrad.distributed import model_check

    theirs = json.dumps(model_check.model_signature(other, list(other.parameters())))
    calls = []

    def gather(a):                                 # rank 1 answers with its own model
        a = np.asarray(a)
        calls.append(a.dtype)
        if len(calls) == 1:                        # the hash
            return np.stack([a, np.array([model_check._hash(theirs)])])
        mine_text = theirs.encode()
        if a.dtype == np.int64:                    # the lengths
            return np.stack([a, np.array([len(mine_text)])])
        row = np.zeros_like(a)
        row[:len(mine_text)] = np.frombuffer(mine_text, np.uint8)
        return np.stack([a, row])

    monkeypatch.setattr(pg, "all_gather", gather)
    monkeypatch.setattr(model_check.pg, "all_gather", gather)
    broadcasts = []
    monkeypatch.setattr(fake_world, "broadcast", lambda *a, **k: broadcasts.append(a))
    with pytest.raises(RuntimeError, match=r"parameter 0 is '0.weight' of shape \(3, 4\) "
                                           r"float32 on rank 0 but '0.weight' of shape "
                                           r"\(3, 5\) float32 on rank 1"):
        dist.DistributedDataParallel(gg.nn.MLP([3, 4, 2]))
    assert broadcasts == []


def test_compiling_a_ddp_step_names_ddp(fake_world):
    model = dist.DistributedDataParallel(gg.nn.MLP([3, 4, 2]))
    opt = gg.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss

    with pytest.raises(gg.CaptureError, match="cannot record a step of a "
                                              "DistributedDataParallel model"):
        gg.compile(step)(gg.ones(2, 3))
