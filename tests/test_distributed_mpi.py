"""gpugrad.distributed under ``mpiexec -n 2`` (the mpich and mpi4py wheels of the dev extra):
data-parallel SGD against one process, a rank that fails (during training, before init(),
on a command-line error), models that differ, ``gpugrad train`` with --resume and its
refusals (an existing --out, another number of processes, --compile).
Skipped where mpi4py or mpiexec is missing; every launch has a timeout, so a hang fails."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

pytest.importorskip("mpi4py")

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "dist_scripts")
MPIEXEC = (shutil.which("mpiexec", path=os.path.dirname(sys.executable))
           or shutil.which("mpiexec"))
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)")
LIMIT = 240          # seconds for one launch (they take a few)


def launch(args, n=2, env=None, limit=LIMIT):
    """Run ``mpiexec -n n python args...``; (returncode, stdout + stderr, seconds)."""
    full = dict(os.environ, **(env or {}))
    full["PYTHONPATH"] = os.pathsep.join([os.path.dirname(HERE), full.get("PYTHONPATH", "")])
    t0 = time.monotonic()
    try:
        p = subprocess.run([MPIEXEC, "-n", str(n), sys.executable, *args], env=full,
                           capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mpiexec {' '.join(args)} hung for {limit} s: {exc.output!r:.2000}")
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def test_two_ranks_match_one_rank_with_twice_the_batch():
    rc, out, _ = launch([os.path.join(SCRIPTS, "equivalence.py")])
    assert rc == 0, out
    res = json.loads(out.strip().splitlines()[-1])
    assert res["size"] == 2
    for case in ("f64", "f64_momentum", "f64_accumulate", "f64_small_buckets",
                 "f64_optimizer_first"):
        assert res[case]["err"] <= 1e-12, (case, res[case])
    assert res["f32"]["err"] <= 1e-5, res["f32"]        # float32: 20 steps, lr 0.1
    assert res["f64_small_buckets"]["buckets"] > 1
    assert res["f64"]["bytes"] == 2 * res["f32"]["bytes"] > 0
    assert res["rank_spread"] == 0.0
    assert res["average_gradients"] == [0.5, 0.5, 0.5, 0.0, 0.0]


@pytest.mark.parametrize("mode", ["raise", "hang"])
def test_a_failing_rank_stops_the_job(mode):
    rc, out, seconds = launch([os.path.join(SCRIPTS, "failure.py"), mode],
                              env={"GPUGRAD_DIST_TIMEOUT": "3"}, limit=120)
    assert rc != 0 and "finished" not in out
    assert seconds < 100
    if mode == "raise":
        assert "rank 1 failed on purpose" in out and "rank 1 raised ValueError" in out
    else:
        assert "rank 0 waited" in out and "GPUGRAD_DIST_TIMEOUT=3" in out


def test_train_command_runs_on_two_ranks_and_resumes(tmp_path):
    common = ["-m", "gpugrad", "train", "--dataset", "synthetic", "--samples", "600",
              "--features", "8", "--classes", "3", "--hidden", "16", "--scheduler", "none",
              "--no-progress", "--no-plot"]
    rc, out, _ = launch(common + ["--epochs", "3", "--out", str(tmp_path / "a")])
    assert rc == 0, out
    assert out.count("epoch   3/3") == 1           # rank 0 alone logs
    rc, out, _ = launch(common + ["--epochs", "2", "--out", str(tmp_path / "b")])
    assert rc == 0, out
    rc, out, _ = launch(common + ["--epochs", "3", "--out", str(tmp_path / "b"),
                                  "--resume", str(tmp_path / "b" / "last.npz")])
    assert rc == 0, out
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    keys = ("train_loss", "test_loss", "test_accuracy")
    assert [[r[k] for k in keys] for r in a["epochs"]] == \
        [[r[k] for k in keys] for r in b["epochs"]]
    assert sorted(os.listdir(tmp_path)) == ["a", "b"]


@pytest.mark.parametrize("mode,expect,code", [
    ("mismatch", "rank 1: DistributedDataParallel: the ranks hold different models: parameter "
                 "0 is '0.weight' of shape (6, 16) float64 on rank 0 but '0.weight' of shape "
                 "(6, 17) float64 on rank 1", 0),
    ("hang_before_init", "rank 0 waited 3.0 s for every rank to reach "
                         "gpugrad.distributed.init()", None),
    # (the job's abort may cut off the "aborting every rank" line on a loaded machine; the
    # error itself is printed first, and the job must still end at once, non-zero)
    ("raise_before_init", "rank 1 could not read its data file", None),
    ("cli_error", "gpugrad predict: error: checkpoint not found: missing.npz", 2),
])
def test_start_up_failures_end_the_job_at_once(mode, expect, code):
    rc, out, seconds = launch([os.path.join(SCRIPTS, "startup.py"), mode],
                              env={"GPUGRAD_DIST_TIMEOUT": "3"}, limit=60)
    assert expect in out, out
    assert seconds < 45
    if code == 0:
        assert rc == 0 and "rank 0 finished" in out and "rank 1 finished" in out, out
        assert "parameter 0 is '0.weight' of shape (6, 6) float32 on rank 0" in out, out
    else:
        assert rc != 0 and "finished" not in out and "went on" not in out, out
        assert code is None or rc == code, (rc, out)
        if mode == "cli_error":
            assert out.count("error:") == 1, out


def test_train_refusals_are_one_line_on_every_rank_count(tmp_path, capsys):
    from gpugrad.tools.cli import main

    common = ["train", "--dataset", "synthetic", "--samples", "200", "--features", "4",
              "--hidden", "8", "--epochs", "1", "--no-progress", "--no-plot", "--quiet"]
    one = tmp_path / "one"
    assert main(common + ["--out", str(one)]) == 0          # a 1-process run, in-process
    capsys.readouterr()
    env = {"GPUGRAD_DIST_TIMEOUT": "60"}
    cases = [(["--out", str(one)], "already holds a training run"),
             (["--out", str(tmp_path / "two"), "--resume", str(one / "last.npz"), "--epochs",
               "2"], "the checkpoint is from a 1-process run; this run has 2 processes: "
                     "resume it with one process"),
             (["--out", str(tmp_path / "three"), "--compile"],
              "--compile cannot be used in a data-parallel run")]
    for extra, fragment in cases:
        rc, out, seconds = launch(["-m", "gpugrad"] + common + extra, env=env, limit=120)
        errors = [line for line in out.splitlines() if "error:" in line]
        assert rc == 2 and len(errors) == 1, (extra, rc, out)
        assert errors[0].startswith("gpugrad train: error: ") and fragment in errors[0], out
        assert seconds < 40, (extra, seconds)          # no rank waits out the timeout
    assert not (tmp_path / "two").exists() and not (tmp_path / "three").exists()
    # a 2-process checkpoint resumed by one process
    rc, out, _ = launch(["-m", "gpugrad"] + common + ["--out", str(tmp_path / "two")],
                        env=env, limit=120)
    assert rc == 0, out
    code = main(common + ["--resume", str(tmp_path / "two" / "last.npz"), "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "from a 2-process run (mpiexec -n 2); this run has 1 process: " \
        "resume it with mpiexec -n 2" in err, err
