"""The training loop (gpugrad.tools.train.fit): outputs, bit-for-bit resume, the digits target,
optional extras (matplotlib, tqdm) missing."""
import builtins
import dataclasses
import json
import sys

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.tools.train import TrainConfig, check_resume, fit, resume_config

SMALL = dict(dataset="synthetic", samples=600, features=12, classes=3, hidden=[16, 16],
             batch_size=32, quiet=True, plot=False)


def quiet_fit(cfg, **kw):
    lines = []
    return fit(cfg, log=lines.append, **kw), lines


def test_fit_writes_checkpoints_metrics_and_plot(tmp_path):
    result, lines = quiet_fit(TrainConfig(**dict(SMALL, plot=True), epochs=3, out=str(tmp_path)))
    assert {p.name for p in tmp_path.iterdir()} == {"last.npz", "best.npz", "metrics.json",
                                                    "curves.png"}
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["hidden"] == [16, 16] and len(metrics["epochs"]) == 3
    row = metrics["epochs"][-1]
    assert set(row) == {"epoch", "lr", "train_loss", "test_loss", "test_accuracy", "time_s",
                        "samples_per_s"}
    assert metrics["epochs"][0]["train_loss"] > row["train_loss"]
    assert row["test_accuracy"] > 0.6                       # chance is 1/3
    best = metrics["best"]
    assert best["test_accuracy"] == max(r["test_accuracy"] for r in metrics["epochs"])
    assert gg.load(tmp_path / "best.npz")["epoch"] == best["epoch"]
    last = gg.load(tmp_path / "last.npz")
    assert last["epoch"] == 3 and last["format"] == "gpugrad-train"
    assert result["files"][-1].endswith("curves.png")
    assert lines[-1].startswith("best test accuracy") and str(tmp_path) in lines[-1]


def test_fit_learns_the_synthetic_task():
    """A fast run must learn: the loss falls well below the label entropy (what a model that
    learned nothing from the features gets at best) and accuracy beats the majority class."""
    from gpugrad.datasets import load_dataset
    cfg = TrainConfig(**SMALL, epochs=4, lr=0.1, out=None)
    result, _ = quiet_fit(cfg)
    rows = result["epochs"]
    ds = load_dataset(cfg.dataset, cfg.samples, cfg.features, cfg.classes, cfg.task,
                      cfg.test_size, seed=cfg.seed, dtype=cfg.dtype)
    freq = np.bincount(ds.y_test, minlength=cfg.classes) / len(ds.y_test)
    entropy = -float((freq * np.log(freq)).sum())           # ~ln 3 = 1.10
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] - 0.25
    assert rows[-1]["test_loss"] < 0.6 * entropy
    assert rows[-1]["test_accuracy"] > freq.max() + 0.25     # chance: the majority class


def _params(path):
    return [v.numpy() for v in gg.load(path)["model"].values()]


def _without_times(history):
    return [{k: v for k, v in r.items() if k not in ("time_s", "samples_per_s")} for r in history]


@pytest.mark.parametrize("extra", [
    dict(optimizer="sgd", nesterov=True, scheduler="warmup-cosine", warmup_epochs=1,
         dropout=0.2),
    dict(optimizer="adamw", scheduler="step", step_size=1, gamma=0.7, dropout=0.1),
], ids=["sgd-nesterov-warmup-dropout", "adamw-step-dropout"])
def test_resume_continues_bit_for_bit(tmp_path, extra):
    """4 epochs straight == 2 epochs, a crash, --resume, 2 more epochs."""
    cfg = TrainConfig(**SMALL, epochs=4, **extra)
    straight, part = tmp_path / "straight", tmp_path / "part"
    quiet_fit(dataclasses.replace(cfg, out=str(straight)))

    def crash_after_two(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quiet_fit(dataclasses.replace(cfg, out=str(part)), on_epoch_end=crash_after_two)
    assert gg.load(part / "last.npz")["epoch"] == 2
    assert not json.loads((part / "metrics.json").read_text())["complete"]
    gg.manual_seed(12345)                              # the checkpoint restores the RNG itself
    quiet_fit(dataclasses.replace(cfg, out=str(part), resume=str(part / "last.npz")))
    for a, b in zip(_params(straight / "last.npz"), _params(part / "last.npz")):
        np.testing.assert_array_equal(a, b)
    hs = json.loads((straight / "metrics.json").read_text())["epochs"]
    hp = json.loads((part / "metrics.json").read_text())["epochs"]
    assert _without_times(hs) == _without_times(hp)
    sa, sb = gg.load(straight / "last.npz"), gg.load(part / "last.npz")
    assert sa["scheduler"] == sb["scheduler"] and sa["rng"] == sb["rng"]
    for a, b in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values()):
        for name in a:
            if isinstance(a[name], gg.Tensor):
                np.testing.assert_array_equal(a[name].numpy(), b[name].numpy())
            else:
                assert a[name] == b[name]


def test_resume_with_more_epochs_extends_the_run(tmp_path):
    """An epoch-independent schedule: 2 epochs, then --resume --epochs 3, equals 3 straight."""
    cfg = TrainConfig(**SMALL, epochs=3, scheduler="exponential", gamma=0.8)
    quiet_fit(dataclasses.replace(cfg, out=str(tmp_path / "a")))
    quiet_fit(dataclasses.replace(cfg, epochs=2, out=str(tmp_path / "b")))
    ck = gg.load(tmp_path / "b" / "last.npz")
    resumed = resume_config(ck, epochs=3, resume=str(tmp_path / "b" / "last.npz"))
    quiet_fit(resumed, checkpoint=ck)
    for a, b in zip(_params(tmp_path / "a" / "last.npz"), _params(tmp_path / "b" / "last.npz")):
        np.testing.assert_array_equal(a, b)


def test_resume_refuses_a_different_configuration(tmp_path):
    cfg = TrainConfig(**SMALL, epochs=2, out=str(tmp_path))
    quiet_fit(cfg)
    ck = gg.load(tmp_path / "last.npz")
    with pytest.raises(ValueError, match=r"hidden \(checkpoint \[16, 16\], now \[8\]\)"):
        check_resume(dataclasses.replace(cfg, hidden=[8]), ck)
    with pytest.raises(ValueError, match="past --epochs 1"):
        check_resume(dataclasses.replace(cfg, epochs=1, extend_schedule=True), ck)
    assert resume_config(ck, epochs=7, out="elsewhere").hidden == [16, 16]
    with pytest.raises(ValueError, match="not of a `gpugrad train` run"):
        resume_config({"model": {}})
    gg.save({"model": {}}, tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not of a `gpugrad train` run"):
        fit(dataclasses.replace(cfg, resume=str(tmp_path / "other.npz")))


def test_regression_task(tmp_path):
    result, lines = quiet_fit(TrainConfig(**dict(SMALL, classes=10), task="regression",
                                          optimizer="adam", lr=1e-2, epochs=4, out=None))
    rows = result["epochs"]
    # learned: R^2 well above 0 (predicting the mean) and the loss falling by a margin
    assert "test_r2" in rows[-1] and rows[-1]["test_r2"] > 0.5
    assert rows[-1]["test_r2"] > rows[0]["test_r2"] + 0.05
    assert rows[-1]["train_loss"] < 0.5 * rows[0]["train_loss"]
    assert lines[-1].startswith("best test R^2")


def test_config_validation():
    for bad, msg in [(dict(optimizer="lbfgs"), "invalid --optimizer"),
                     (dict(hidden=[0]), "invalid --hidden sizes"),
                     (dict(dropout=1.0), "invalid --dropout"),
                     (dict(epochs=0), "invalid --epochs"),
                     (dict(lr=-1.0), "invalid --lr"),
                     (dict(nesterov=True, momentum=0.0), "--nesterov needs"),
                     (dict(scheduler="warmup-cosine", warmup_epochs=5, epochs=5), "--warmup-epochs"),
                     (dict(device="tpu"), "expected a device")]:
        with pytest.raises(ValueError, match=msg):
            TrainConfig(**bad).validate()
    with pytest.raises(ValueError, match="unknown configuration fields"):
        TrainConfig.from_dict({"epochz": 3})


def _block_import(monkeypatch, name):
    real = builtins.__import__

    def fake(mod, *a, **k):
        if mod == name or mod.startswith(name + "."):
            raise ImportError(f"No module named {name!r}")
        return real(mod, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)


def test_without_matplotlib_the_run_works_and_says_so(tmp_path, monkeypatch):
    _block_import(monkeypatch, "matplotlib")
    result, lines = quiet_fit(TrainConfig(**dict(SMALL, quiet=False, plot=True), epochs=1,
                                          out=str(tmp_path), progress=False))
    assert not (tmp_path / "curves.png").exists() and (tmp_path / "metrics.json").exists()
    assert any("plot skipped" in line for line in lines)


def _stderr_is_a_terminal(monkeypatch, answer):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: answer, raising=False)


def test_without_tqdm_a_plain_progress_line_is_shown(tmp_path, monkeypatch, capsys):
    _block_import(monkeypatch, "tqdm")
    _stderr_is_a_terminal(monkeypatch, True)
    quiet_fit(TrainConfig(**dict(SMALL, quiet=False), epochs=1, out=None))
    err = capsys.readouterr().err
    assert "epoch 1/1:" in err and "samples/s" in err


@pytest.mark.parametrize("tqdm", [True, False], ids=["tqdm", "plain"])
def test_no_progress_frames_when_stderr_is_not_a_terminal(monkeypatch, capsys, tqdm):
    """Logs (stderr redirected to a file or pipe) get the per-epoch lines, no bar frames."""
    if not tqdm:
        _block_import(monkeypatch, "tqdm")
    else:
        pytest.importorskip("tqdm")
    _stderr_is_a_terminal(monkeypatch, False)
    _, lines = quiet_fit(TrainConfig(**dict(SMALL, quiet=False), epochs=2, out=None))
    assert capsys.readouterr().err == "" and len(lines) == 3
    _stderr_is_a_terminal(monkeypatch, True)
    quiet_fit(TrainConfig(**dict(SMALL, quiet=False), epochs=1, out=None))
    assert "epoch 1/1" in capsys.readouterr().err


def test_a_one_epoch_curves_png_shows_its_points(tmp_path):
    """One epoch is one point per curve: it must be drawn (a marker), not an empty axis.
    The accuracy panel's only colour is C2 (green); count its pixels."""
    pytest.importorskip("matplotlib")
    import matplotlib.image

    from gpugrad.tools.train.report import plot_curves
    row = {"epoch": 1, "train_loss": 1.0, "test_loss": 1.2, "test_accuracy": 0.8}
    assert plot_curves([row], str(tmp_path / "c.png"))
    img = matplotlib.image.imread(str(tmp_path / "c.png"))[..., :3]
    green = np.abs(img - np.array([0x2C, 0xA0, 0x2C]) / 255).max(axis=-1) < 0.05
    right = green[:, img.shape[1] // 2:]
    assert right.sum() >= 10, right.sum()        # none without markers
    assert fit_curves_files(tmp_path) == ["curves.png"]


def fit_curves_files(tmp_path):
    out = tmp_path / "run"
    result, _ = quiet_fit(TrainConfig(**dict(SMALL, plot=True), epochs=1, out=str(out)))
    return [p.rsplit("/", 1)[-1] for p in result["files"] if p.endswith(".png")]
