"""Resuming a training run with changes: every schedule the command offers under another
--epochs (refused, re-planned or continued -- never a silent climb), a new --lr /
--weight-decay / --batch-size, and checkpoints that store the resolved configuration."""
import dataclasses
import json

import pytest

import gpugrad as gg
from gpugrad.tools.train import TrainConfig, check_resume, fit, resume_config
from gpugrad.tools.train.config import EPOCH_SCHEDULERS, SCHEDULERS

SMALL = dict(dataset="synthetic", samples=200, features=6, classes=3, hidden=[8],
             batch_size=50, quiet=True, plot=False)


def lrs(folder):
    return [r["lr"] for r in json.loads((folder / "metrics.json").read_text())["epochs"]]


def run(cfg, **kw):
    return fit(dataclasses.replace(cfg, **kw), log=lambda line: None)


def resume(folder, **overrides):
    ck = gg.load(folder / "last.npz")
    cfg = resume_config(ck, resume=str(folder / "last.npz"), **overrides)
    return fit(cfg, checkpoint=ck, log=lambda line: None)


def sched_cfg(name):
    extra = {"warmup-cosine": dict(warmup_epochs=1), "step": dict(gamma=0.5),
             "multistep": dict(gamma=0.5), "exponential": dict(gamma=0.8)}.get(name, {})
    return TrainConfig(**SMALL, scheduler=name, **extra)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_more_epochs_on_resume_never_turns_the_lr_back_up_silently(tmp_path, name):
    """3 planned epochs, then --resume --epochs 5.  Cosine schedules: refused with a message
    naming --extend-schedule; with it, epochs 4-5 get the lr of a run planned for 5 epochs.
    The other schedules continue their (stored, resolved) rule: the lr never rises."""
    cfg = sched_cfg(name)
    run(cfg, epochs=3, out=str(tmp_path / "a"))
    if name in EPOCH_SCHEDULERS:
        with pytest.raises(ValueError, match=r"cannot resume with --epochs 5: this run's "
                                             rf"{name} learning-rate schedule was planned for 3 "
                                             r"epochs .*--extend-schedule"):
            resume(tmp_path / "a", epochs=5)
        assert len(lrs(tmp_path / "a")) == 3                       # nothing was trained
        resume(tmp_path / "a", epochs=5, extend_schedule=True)
        run(cfg, epochs=5, out=str(tmp_path / "straight"))
        got, want = lrs(tmp_path / "a"), lrs(tmp_path / "straight")
        assert got[3:] == pytest.approx(want[3:], rel=1e-12, abs=1e-15)
        assert got[3] >= got[4] and got[4] > 0                    # annealing, not climbing
        assert gg.load(tmp_path / "a" / "last.npz")["config"]["epochs"] == 5
    else:
        resume(tmp_path / "a", epochs=5)
        got = lrs(tmp_path / "a")
        assert len(got) == 5 and all(b <= a for a, b in zip(got, got[1:])), got
        stored = gg.load(tmp_path / "a" / "last.npz")["config"]
        run(TrainConfig(**stored), out=str(tmp_path / "straight"), epochs=5, resume=None)
        assert got == lrs(tmp_path / "straight")                  # the same rule, continued


def test_extend_schedule_after_an_interruption(tmp_path):
    """An interrupted warmup-cosine run (stopped in its warm-up) extended: the warm-up
    finishes as planned and the rest is the 6-epoch plan's."""
    cfg = TrainConfig(**SMALL, scheduler="warmup-cosine", warmup_epochs=2, epochs=4)

    def stop(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(dataclasses.replace(cfg, out=str(tmp_path / "a")), on_epoch_end=stop,
            log=lambda line: None)
    resume(tmp_path / "a", epochs=6, extend_schedule=True)
    run(cfg, epochs=6, out=str(tmp_path / "b"))
    assert lrs(tmp_path / "a") == pytest.approx(lrs(tmp_path / "b"), rel=1e-12)


def test_resume_with_a_new_lr_scales_the_schedule(tmp_path):
    """--lr on a resume (the issue's `--resume ... --lr 0.01`): accepted, and every later
    epoch's lr is what a run started with the new lr has at that epoch."""
    cfg = TrainConfig(**SMALL, scheduler="cosine", epochs=4)
    run(cfg, epochs=4, out=str(tmp_path / "a"))
    ck = gg.load(tmp_path / "a" / "last.npz")
    assert ck["config"]["lr"] == 0.05 and ck["config"]["batch_size"] == 50   # resolved
    run(cfg, epochs=4, lr=0.01, out=str(tmp_path / "b"))
    # the same run, interrupted after 2 epochs, then resumed with --lr 0.01
    cut = tmp_path / "c"

    def stop(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(dataclasses.replace(cfg, out=str(cut)), on_epoch_end=stop, log=lambda line: None)
    notes = []
    ckc = gg.load(cut / "last.npz")
    fit(resume_config(ckc, lr=0.01, weight_decay=1e-4, batch_size=25, quiet=False,
                      progress=False, resume=str(cut / "last.npz")),
        checkpoint=ckc, log=notes.append)
    assert lrs(cut)[:2] == lrs(tmp_path / "a")[:2]
    assert lrs(cut)[2:] == pytest.approx(lrs(tmp_path / "b")[2:], rel=1e-12)
    assert any("lr 0.01 instead of 0.05 from epoch 3 on" in n for n in notes), notes
    assert any("batch size 25 instead of 50" in n for n in notes), notes
    last = gg.load(cut / "last.npz")
    assert last["optimizer"]["param_groups"][0]["weight_decay"] == 1e-4
    assert last["config"]["lr"] == 0.01 and last["config"]["batch_size"] == 25


def test_an_old_checkpoint_with_null_defaults_resumes_with_explicit_values(tmp_path):
    """Checkpoints of earlier versions hold None for defaults: --lr 0.05 (the default it
    used) is no change, and a different value is a change of lr, not a config clash."""
    cfg = TrainConfig(**SMALL, scheduler="exponential", gamma=0.9, epochs=2)
    run(cfg, out=str(tmp_path))
    ck = gg.load(tmp_path / "last.npz")
    ck["config"].update(lr=None, batch_size=None, weight_decay=None, step_size=None)
    check_resume(resume_config(ck, lr=0.05, batch_size=50, weight_decay=0.0, epochs=3), ck)
    check_resume(resume_config(ck, lr=0.01, epochs=3), ck)
    with pytest.raises(ValueError, match=r"momentum \(checkpoint 0.9, now 0.5\)"):
        check_resume(resume_config(ck, momentum=0.5), ck)


def test_the_cli_resume_with_lr(tmp_path, capsys):
    from gpugrad.tools.cli import main
    tiny = ["train", "--dataset", "synthetic", "--samples", "200", "--features", "4",
            "--classes", "2", "--hidden", "4", "--quiet", "--no-plot"]
    assert main([*tiny, "--epochs", "2", "--out", str(tmp_path)]) == 0
    ckpt = str(tmp_path / "last.npz")
    code = main(["train", "--resume", ckpt, "--epochs", "4", "--lr", "0.01"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--extend-schedule" in err
    assert main(["train", "--resume", ckpt, "--epochs", "4", "--lr", "0.01",
                 "--extend-schedule"]) == 0
    saved = gg.load(ckpt)
    assert saved["epoch"] == 4 and saved["config"]["lr"] == 0.01
    assert lrs(tmp_path)[2] < lrs(tmp_path)[1] * 0.5       # scaled down by 5, not up again
