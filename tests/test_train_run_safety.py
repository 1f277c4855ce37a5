"""`gpugrad train` never loses or half-writes a run: a resume writes into its checkpoint's
folder (not into whatever its recorded --out means from here), a resume into a new folder
is a complete run (best.npz carried over), refused or failed starts leave nothing behind,
every refusal is one line naming its option, options that do not apply are not silently
ignored, and a diverging run stops at its first non-finite epoch."""
import os
import shutil

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.tools.cli import main
from gpugrad.tools.train.grad_stats import Callback
from gpugrad.tools.train import TrainConfig, fit

TINY = ["train", "--dataset", "synthetic", "--samples", "200", "--features", "4", "--classes",
        "2", "--hidden", "4", "--scheduler", "none", "--quiet", "--no-plot"]


def cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code, err, *fragments, rc=2):
    assert code == rc and err.count("\n") == 1 and "Traceback" not in err, (code, err)
    assert err.startswith("gpugrad train: "), err
    for f in fragments:
        assert f in err, err


def digests(folder):
    return {f: (folder / f).read_bytes() for f in sorted(os.listdir(folder))}


# ---------------------------------------------------------------- where a resume writes
def test_resume_writes_into_the_checkpoints_folder_not_its_recorded_out(tmp_path, monkeypatch,
                                                                        capsys):
    """Run A and run B both recorded --out runs/r (relative, from their own folders).
    Resuming A from B's folder must continue A in A's folder and leave B alone; a moved run
    folder continues where it now is."""
    a, b = tmp_path / "a", tmp_path / "b"
    for where, seed in ((a, "1"), (b, "2")):
        where.mkdir()
        monkeypatch.chdir(where)
        assert cli(capsys, *TINY, "--epochs", "1", "--seed", seed, "--out", "runs/r")[0] == 0
    before_b = digests(b / "runs" / "r")
    code, out, err = cli(capsys, "train", "--resume", str(a / "runs/r/last.npz"), "--epochs", "2")
    assert code == 0, err
    assert digests(b / "runs" / "r") == before_b                     # B untouched
    assert gg.load(a / "runs/r/last.npz")["epoch"] == 2              # A continued in place
    assert f"to {a / 'runs' / 'r'}" in out, out
    shutil.move(str(a / "runs" / "r"), str(tmp_path / "moved"))
    assert cli(capsys, "train", "--resume", str(tmp_path / "moved/last.npz"), "--epochs",
               "3")[0] == 0
    assert gg.load(tmp_path / "moved/last.npz")["epoch"] == 3
    assert digests(b / "runs" / "r") == before_b and sorted(os.listdir(b)) == ["runs"]
    # an explicit --out that holds another run is refused like any existing --out
    code, _, err = cli(capsys, "train", "--resume", str(tmp_path / "moved/last.npz"),
                       "--epochs", "4", "--out", str(b / "runs" / "r"))
    one_line(code, err, f"--out {b / 'runs' / 'r'} already holds a training run")
    assert digests(b / "runs" / "r") == before_b


def test_a_resume_into_a_new_folder_is_a_complete_run(tmp_path, capsys):
    """The best epoch came before the resume (lr 0 from then on: no later epoch beats it):
    the new folder gets a copy of best.npz, and the message lists exactly what was written."""
    ra, ry = tmp_path / "ra", tmp_path / "ry"
    assert cli(capsys, *TINY, "--epochs", "1", "--out", str(ra))[0] == 0
    code, out, err = cli(capsys, "train", "--resume", str(ra / "last.npz"), "--epochs", "2",
                         "--lr", "0", "--out", str(ry))
    assert code == 0, err
    assert sorted(os.listdir(ry)) == ["best.npz", "last.npz", "metrics.json"]
    assert (ry / "best.npz").read_bytes() == (ra / "best.npz").read_bytes()
    assert gg.load(ry / "best.npz")["epoch"] == 1 and gg.load(ry / "last.npz")["epoch"] == 2
    assert out.strip().endswith(f"(epoch 1); wrote last.npz, best.npz (copied from {ra}), "
                                f"metrics.json to {ry}"), out
    assert cli(capsys, "eval", "--checkpoint", str(ry / "best.npz"))[0] == 0
    # in its own folder with no better epoch: best.npz is kept, and not claimed as written
    code, out, err = cli(capsys, "train", "--resume", str(ry / "last.npz"), "--epochs", "3",
                         "--lr", "0")
    assert code == 0, err
    assert out.strip().endswith(f"wrote last.npz, metrics.json to {ry} (best.npz of epoch 1 "
                                f"kept)"), out
    # a checkpoint alone (its best.npz is not next to it): said on stderr, not claimed
    lone, new = tmp_path / "lone", tmp_path / "new"
    lone.mkdir()
    shutil.copy(ry / "last.npz", lone / "last.npz")
    code, out, err = cli(capsys, "train", "--resume", str(lone / "last.npz"), "--epochs", "4",
                         "--lr", "0", "--out", str(new))
    assert code == 0 and "warning: " in err and "best.npz" in err, err
    assert sorted(os.listdir(new)) == ["last.npz", "metrics.json"]
    assert "wrote last.npz, metrics.json to" in out, out


# ---------------------------------------------------------------- refused and failed starts
def test_compile_refusals_create_nothing(tmp_path, capsys):
    out = tmp_path / "x" / "run"
    code, _, err = cli(capsys, *TINY, "--epochs", "1", "--compile", "--grad-stats", "--out",
                       str(out))
    one_line(code, err, "--compile cannot be combined with --grad-stats")
    assert os.listdir(tmp_path) == []
    for extra in (["--dropout", "0.3"], ["--precision", "fp16"]):
        code, _, err = cli(capsys, *TINY, "--epochs", "1", "--compile", *extra, "--out",
                           str(out))
        if code == 0:                                  # gg.compile handles the combination
            assert "last.npz" in os.listdir(out)
            shutil.rmtree(tmp_path / "x")
        else:                                          # or it is a one-line refusal
            one_line(code, err, "--compile")
            assert os.listdir(tmp_path) == [], os.listdir(tmp_path)


class _FailAtFirstStep(Callback):
    def on_step_end(self, step, loss):
        raise RuntimeError("boom")


@pytest.mark.parametrize("out", ["new/a/b", "runs/{dataset}-{time}"])
def test_a_failed_start_leaves_no_empty_folder(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep").mkdir()
    cfg = TrainConfig(dataset="synthetic", samples=100, features=3, classes=2, hidden=[4],
                      epochs=1, out=out, quiet=True, plot=False)
    with pytest.raises(RuntimeError, match="boom"):
        fit(cfg, log=lambda line: None, callbacks=[_FailAtFirstStep()])
    assert os.listdir(tmp_path) == ["keep"]


# ---------------------------------------------------------------- messages name the option
def test_out_and_seed_errors_name_the_option(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("hi")
    code, _, err = cli(capsys, *TINY, "--out", "afile")
    one_line(code, err, "--out afile", "is a file")
    code, _, err = cli(capsys, *TINY, "--out", "afile/sub/{time}")
    one_line(code, err, "--out afile/sub/{time}", "afile")
    code, _, err = cli(capsys, *TINY, "--out", "/proc/no/such/run")
    one_line(code, err, "--out /proc/no/such/run")
    assert "[Errno" not in err
    code, _, err = cli(capsys, *TINY, "--seed", "-1", "--out", "s")
    one_line(code, err, "--seed -1", "expected an int >= 0")
    code, _, err = cli(capsys, *TINY, "--test-size", "1.5", "--out", "s")
    one_line(code, err, "--test-size 1.5")
    code, _, err = cli(capsys, *TINY, "--label-smoothing", "2", "--out", "s")
    one_line(code, err, "--label-smoothing 2")
    code, _, err = cli(capsys, "train", "--resume", "nope/last.npz")
    one_line(code, err, "--resume: checkpoint not found: nope/last.npz")
    assert sorted(os.listdir(tmp_path)) == ["afile"]


# ---------------------------------------------------------------- options that do not apply
@pytest.mark.parametrize("argv,fragments", [
    (["--dataset", "digits", "--samples", "500"], ["--samples", "--dataset synthetic"]),
    (["--dataset", "digits", "--task", "regression"], ["--task", "--dataset synthetic"]),
    (["--optimizer", "adam", "--momentum", "0.5"], ["--momentum", "--optimizer sgd"]),
    (["--scheduler", "cosine", "--gamma", "0.5"], ["--gamma", "--scheduler"]),
    (["--scheduler", "none", "--step-size", "2"], ["--step-size", "--scheduler step"]),
    (["--scheduler", "step", "--warmup-epochs", "2"], ["--warmup-epochs",
                                                        "--scheduler warmup-cosine"]),
])
def test_options_that_do_not_apply_are_refused(tmp_path, capsys, argv, fragments):
    code, _, err = cli(capsys, "train", *argv, "--epochs", "1", "--out", str(tmp_path / "o"))
    one_line(code, err, *fragments)
    assert os.listdir(tmp_path) == []


def test_extend_schedule_without_resume_is_a_warning(tmp_path, capsys):
    code, _, err = cli(capsys, *TINY, "--epochs", "1", "--extend-schedule", "--out",
                       str(tmp_path / "o"))
    assert code == 0 and err.count("\n") == 1, err
    assert "warning: --extend-schedule" in err and "--resume" in err, err


# ---------------------------------------------------------------- a diverging run stops
class _PoisonAtSecondEpoch(Callback):
    def on_train_begin(self, model, optimizer, inputs):
        self.model = model

    def on_epoch_begin(self, epoch, num_steps):
        if epoch == 1:
            p = next(iter(self.model.parameters()))
            p.data[...] = np.nan


def test_the_first_non_finite_epoch_ends_the_run(tmp_path):
    cfg = TrainConfig(dataset="synthetic", samples=100, features=3, classes=2, hidden=[4],
                      epochs=3, out=str(tmp_path), quiet=True, plot=False, scheduler="none")
    with pytest.raises(FloatingPointError, match=r"epoch 2: the training loss is nan.*lower "
                                                 r"--lr.*last\.npz holds epoch 1"):
        fit(cfg, log=lambda line: None, callbacks=[_PoisonAtSecondEpoch()])
    last = gg.load(tmp_path / "last.npz")
    assert last["epoch"] == 1
    assert all(np.isfinite(v.numpy()).all() for v in last["model"].values())


def test_a_diverging_cli_run_is_one_line_exit_1(tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--hidden", "8", "--epochs", "2", "--lr", "1e6",
                       "--quiet", "--no-plot", "--out", str(tmp_path / "o"))
    one_line(code, err, "epoch 1", "--lr", rc=1)
    assert os.listdir(tmp_path) == []           # nothing finite to keep: no empty folder


def test_a_step_compile_cannot_record_is_a_refusal_naming_compile():
    from gpugrad.capture_hooks import CaptureError
    from gpugrad.tools.train.checks import compile_errors_named

    def step(x, y):
        raise CaptureError("Dropout.forward got an array no recorded op computed")

    cfg = TrainConfig(dropout=0.3, precision="bf16")
    with pytest.raises(ValueError, match=r"--compile cannot record this run's training step "
                                         r"with --dropout 0.3 --precision bf16: Dropout"):
        compile_errors_named(step, cfg)(1, 2)
    assert compile_errors_named(None, cfg) is None
