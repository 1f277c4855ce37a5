"""The `gpugrad` command line: a train run that learns, a resume that continues bit for bit,
and every error path (one line on stderr, exit status 2, no traceback).  No test here times
anything: speed is measured by `gpugrad bench` and bench/, not asserted in tests."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.tools.cli import main

TINY = ["train", "--dataset", "synthetic", "--samples", "300", "--features", "6",
        "--classes", "3", "--hidden", "8", "--epochs", "2", "--batch-size", "50", "--quiet",
        "--no-plot"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gpugrad train: error: ")
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0]


def model_state(path):
    """{name: NumPy array} of the model saved in a `gpugrad train` checkpoint."""
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v)
            for k, v in gg.load(path)["model"].items()}


def test_train_runs_and_writes_outputs(tmp_path, capsys):
    code, out, err = run_cli(capsys, *TINY, "--out", str(tmp_path))
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "last.npz", "metrics.json"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    best = metrics["best"]
    assert out.strip() == (f"best test accuracy {100 * best['test_accuracy']:.2f}% (epoch "
                           f"{best['epoch']}); wrote last.npz, best.npz, metrics.json to "
                           f"{tmp_path}")
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and metrics["complete"] is True
    last = gg.load(tmp_path / "last.npz")
    assert last["epoch"] == 2 and last["history"] == metrics["epochs"]
    assert gg.load(tmp_path / "best.npz")["epoch"] == best["epoch"]


def test_train_learns_well_above_chance(tmp_path, capsys):
    """3 balanced-ish classes (chance ~ 1/3): 10 epochs must reach 70% on the test split and
    cut the training loss by a quarter; a step that does not update the weights cannot."""
    code, _, err = run_cli(capsys, *TINY, "--epochs", "10", "--lr", "0.1", "--out",
                           str(tmp_path))
    assert code == 0, err
    epochs = json.loads((tmp_path / "metrics.json").read_text())["epochs"]
    assert epochs[-1]["test_accuracy"] >= 0.70, epochs
    assert epochs[-1]["train_loss"] <= 0.75 * epochs[0]["train_loss"], epochs


def test_per_epoch_summaries(tmp_path, capsys):
    argv = [a for a in TINY if a != "--quiet"] + ["--no-progress", "--out", str(tmp_path)]
    code, out, _ = run_cli(capsys, *argv)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    for line in lines[:2]:
        assert all(w in line for w in ("train loss", "test loss", "test acc", "samples/s"))


def test_resume_from_the_command_line(tmp_path, capsys):
    """2 epochs, then --resume --epochs 3, ends with the very weights and history of 3 epochs
    straight (bit for bit). An epoch-count-independent schedule: the default cosine one is
    fitted to the epochs of the first run."""
    straight = tmp_path / "straight"
    sched = ["--scheduler", "exponential", "--gamma", "0.8"]
    assert run_cli(capsys, *TINY, *sched, "--epochs", "3", "--out", str(straight))[0] == 0
    assert run_cli(capsys, *TINY, *sched, "--out", str(tmp_path))[0] == 0
    ckpt = str(tmp_path / "last.npz")
    before = model_state(ckpt)
    code, out, err = run_cli(capsys, "train", "--resume", ckpt, "--epochs", "3", "--quiet",
                             "--no-plot")
    assert code == 0, err
    resumed, want = gg.load(ckpt), gg.load(straight / "last.npz")
    assert resumed["epoch"] == want["epoch"] == 3
    got, expected = model_state(ckpt), model_state(straight / "last.npz")
    assert sorted(got) == sorted(expected) == sorted(before)
    for k in expected:
        assert got[k].dtype == expected[k].dtype and got[k].shape == expected[k].shape, k
        assert np.array_equal(got[k], expected[k]), k          # bit-exact, not close
        assert not np.array_equal(got[k], before[k]), k       # and the third epoch trained
    assert [{k: v for k, v in r.items() if k not in ("time_s", "samples_per_s")}
            for r in resumed["history"]] == [
        {k: v for k, v in r.items() if k not in ("time_s", "samples_per_s")}
        for r in want["history"]]
    code, _, err = run_cli(capsys, "train", "--resume", ckpt, "--epochs", "4", "--hidden", "9")
    assert_one_line_error(code, err, "cannot resume with a different configuration",
                          "hidden (checkpoint [8], now [9])")


@pytest.mark.parametrize("argv,fragments", [
    (["--dataset", "cifar"], ["argument --dataset: invalid choice: 'cifar'"]),
    (["--optimizer", "lbfgs"], ["invalid choice: 'lbfgs'"]),
    (["--scheduler", "cyclic"], ["invalid choice"]),
    (["--activation", "mish"], ["invalid choice"]),
    (["--epochs", "ten"], ["argument --epochs: invalid int value: 'ten'"]),
    (["--bogus"], ["unrecognized arguments: --bogus"]),
    (["--dropout", "1.5"], ["invalid --dropout 1.5"]),
    (["--epochs", "0"], ["invalid --epochs 0"]),
    (["--device", "tpu"], ["expected a device like 'cpu', 'cuda' or 'cuda:0', got 'tpu'"]),
    (["--nesterov", "--momentum", "0"], ["--nesterov needs"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("--") else None)
def test_bad_options_are_one_line_errors(capsys, argv, fragments, tmp_path):
    code, _, err = run_cli(capsys, "train", *argv, "--out", str(tmp_path))
    assert_one_line_error(code, err, *fragments)


def test_missing_resume_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path / "nope.npz"))
    assert_one_line_error(code, err, "checkpoint not found", "nope.npz")


def test_corrupt_resume_file(capsys, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    code, _, err = run_cli(capsys, "train", "--resume", str(bad))
    assert_one_line_error(code, err, "truncated or corrupted")
    gg.save({"epoch": 1}, tmp_path / "other.npz")
    code, _, err = run_cli(capsys, "train", "--resume", str(tmp_path / "other.npz"))
    assert_one_line_error(code, err, "not of a `gpugrad train` run")


# (no "cuda" in this test's name or ids: conftest skips every test whose keywords say cuda)
@pytest.mark.skipif(gg.cuda.is_available(), reason="needs a machine without a GPU")
@pytest.mark.parametrize("dev", ["cuda", "cuda:1"], ids=["gpu", "gpu1"])
def test_gpu_device_without_a_gpu(capsys, dev):
    code, _, err = run_cli(capsys, "train", "--device", dev)
    assert_one_line_error(code, err, f"--device {dev} needs a CUDA GPU")


def test_no_command_prints_help(capsys):
    code, _, err = run_cli(capsys)
    assert code == 2 and "train" in err and "<command>" in err


def test_help_and_version_exit_zero(capsys):
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"gpugrad {gg.__version__}"
    code, out, _ = run_cli(capsys, "train", "--help")
    assert code == 0 and "--resume CHECKPOINT" in out and "--hidden" in out


def test_default_run_reaches_97_percent(tmp_path):
    """The default `gpugrad train` (digits, MLP 256-256, SGD) as a real process. (Its speed
    is `gpugrad bench`'s business; the timeout only stops a hung process.)"""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    proc = subprocess.run([sys.executable, "-m", "gpugrad", "train", "--quiet", "--no-plot",
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=1800, env=env)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["dataset"] == "digits" and metrics["config"]["device"] == "cpu"
    assert metrics["config"]["hidden"] == [256, 256] and metrics["config"]["optimizer"] == "sgd"
    assert metrics["epochs"][-1]["test_accuracy"] >= 0.97
    assert gg.load(tmp_path / "last.npz")["epoch"] == len(metrics["epochs"])


def test_python_dash_m_entry_point(tmp_path):
    """`python -m gpugrad train` as a real process: an error without a traceback."""
    proc = subprocess.run([sys.executable, "-m", "gpugrad", "train", "--resume",
                           str(tmp_path / "missing.npz")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"gpugrad train: error: --resume: checkpoint not found: "
                                   f"{tmp_path / 'missing.npz'}")


@pytest.mark.cuda
def test_train_on_cuda(tmp_path, capsys):
    code, _, err = run_cli(capsys, *TINY, "--device", "cuda", "--out", str(tmp_path))
    assert code == 0, err
    assert gg.load(tmp_path / "last.npz", map_location="cpu")["epoch"] == 2
