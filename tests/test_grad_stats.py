"""Per-layer gradient statistics (gpugrad.tools.train.grad_stats, `gpugrad train --grad-stats`) and
`gpugrad train --detect-anomaly`: the numbers against a NumPy re-derivation, what lands in
metrics.json and grad_stats.png, the flags through the CLI, validation and --resume."""
import dataclasses
import json

import numpy as np
import pytest

import gpugrad as gg
from gpugrad import autograd
from gpugrad.tools.cli import main
from gpugrad.tools.train.grad_stats import Callback, GradStats
from gpugrad.tools.train import TrainConfig, fit

SMALL = dict(dataset="synthetic", samples=300, features=6, classes=3, hidden=[8, 8],
             batch_size=50, quiet=True, plot=False)
TINY = ["train", "--dataset", "synthetic", "--samples", "300", "--features", "6",
        "--classes", "3", "--hidden", "8", "--epochs", "1", "--batch-size", "50", "--quiet",
        "--no-plot"]
PNG = b"\x89PNG\r\n\x1a\n"
KEYS = {"grad_norm", "grad_norm_max", "update_ratio"}


def quiet_fit(cfg, **kw):
    return fit(cfg, log=lambda line: None, **kw)


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- the numbers
def _numpy_run(W0, b0, W1, b1, X, Y, lr, steps, every):
    """Plain SGD on relu(X W0 + b0) W1 + b1 with the mean squared error, derived by hand;
    returns the statistics GradStats should report."""
    params = [W0, b0, W1, b1]
    norms, ratios = [], []
    for k in range(1, steps + 1):
        Z = X @ W0 + b0
        H = np.maximum(Z, 0)
        out = H @ W1 + b1
        g_out = 2 * (out - Y) / out.size
        gW1, gb1 = H.T @ g_out, g_out.sum(0)
        gZ = (g_out @ W1.T) * (Z > 0)
        gW0, gb0 = X.T @ gZ, gZ.sum(0)
        grads = [gW0, gb0, gW1, gb1]
        norms.append([np.linalg.norm(g) for g in grads])
        new = [p - lr * g for p, g in zip(params, grads)]
        if k % every == 0 or k == steps:
            ratios.append([np.linalg.norm(n - p) / np.linalg.norm(p)
                           for n, p in zip(new, params)])
        params = W0, b0, W1, b1 = new
    H = np.maximum(X @ W0 + b0, 0)
    dead = float(np.mean(~(H > 0).any(axis=0)))
    norms, ratios = np.array(norms), np.array(ratios)
    return norms.mean(0), norms.max(0), ratios.mean(0), dead


def test_statistics_match_a_numpy_derivation(device):
    """Two layers, one fixed batch, plain SGD, five steps, the update ratio sampled at steps
    2, 4 and 5 (the last): every number equals the hand-derived one; units whose bias is far
    negative are reported dead.  (On a GPU the sums stay there until the epoch's end.)"""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 3))
    Y = rng.standard_normal((12, 2))
    model = gg.nn.MLP([3, 4, 2], dtype="float64")
    model[0].bias.data[1] = -100.0                  # unit 1 never fires: dead
    model[0].weight.data[:, 3] = 0.0
    model[0].bias.data[3] = -1.0                    # unit 3 neither: dead
    start = [p.numpy().copy() for p in model.parameters()]
    model.to(device)
    opt = gg.optim.SGD(model.parameters(), lr=0.1)
    stats = GradStats(every=2)
    stats.on_train_begin(model, opt, X)
    stats.on_epoch_begin(0, 5)
    xb, yb = gg.tensor(X, device=device), gg.tensor(Y, device=device)
    for step in range(5):
        opt.zero_grad()
        gg.nn.MSELoss()(model(xb), yb).backward()
        stats.on_before_step(step)
        opt.step()
        stats.on_step_end(step, None)
    row = {}
    stats.on_epoch_end(row)

    mean, mx, ratio, dead = _numpy_run(*start, X, Y, lr=0.1, steps=5, every=2)
    got = row["grad_stats"]
    assert list(got) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    for i, name in enumerate(got):
        np.testing.assert_allclose(got[name]["grad_norm"], mean[i], rtol=1e-10)
        np.testing.assert_allclose(got[name]["grad_norm_max"], mx[i], rtol=1e-10)
        np.testing.assert_allclose(got[name]["update_ratio"], ratio[i], rtol=1e-10)
    assert dead == 0.5 and got["0.weight"]["dead_fraction"] == 0.5
    assert set(got["0.bias"]) == KEYS and set(got["1.weight"]) == KEYS   # not ReLU layers
    assert stats.settings() == {"update_ratio_every": 2, "dead_probe_samples": 12,
                                "dead_activations": ["relu", "leaky_relu"]}


def test_dead_units_of_separate_activation_modules_and_nested_sequentials():
    """A plain Linear followed by a ReLU module counts as a ReLU layer; GELU layers and a
    zero weight (ratio undefined: NaN) are handled."""
    lin = gg.nn.Linear(2, 3)
    lin.bias.data[...] = [-50.0, 0.0, 5.0]          # unit 0 dead; unit 1 dead too (<= 0)
    lin.weight.data[:, 1] = 0.0
    model = gg.nn.Sequential(gg.nn.Sequential(lin, gg.nn.Dropout(0.5), gg.nn.ReLU()),
                             gg.nn.Linear(3, 2, activation="gelu"), gg.nn.Linear(2, 1))
    model[2].weight.data[...] = 0.0
    opt = gg.optim.SGD(model.parameters(), lr=0.0)
    stats = GradStats()
    stats.on_train_begin(model, opt, np.random.default_rng(0).standard_normal((7, 2)))
    stats.on_epoch_begin(0, 1)
    model(gg.randn(4, 2)).sum().backward()
    stats.on_before_step(0)
    opt.step()
    stats.on_step_end(0, None)
    row = {}
    stats.on_epoch_end(row)
    got = row["grad_stats"]
    assert got["0.0.weight"]["dead_fraction"] == pytest.approx(2 / 3)
    assert "dead_fraction" not in got["1.weight"] and "dead_fraction" not in got["2.weight"]
    assert got["0.0.weight"]["update_ratio"] == 0.0              # lr 0: nothing moved
    assert np.isnan(got["2.weight"]["update_ratio"])             # 0 / 0
    assert model.training                                        # the probe restored the mode


def test_every_must_be_positive():
    with pytest.raises(ValueError, match="every"):
        GradStats(every=0)
    with pytest.raises(TypeError, match="Callback"):
        quiet_fit(TrainConfig(**SMALL, epochs=1, out=None), callbacks=[object()])


# ---------------------------------------------------------------- fit and its outputs
def test_fit_records_grad_stats_and_draws_the_second_png(tmp_path):
    pytest.importorskip("matplotlib")
    cfg = TrainConfig(**dict(SMALL, plot=True), epochs=2, out=str(tmp_path), grad_stats=True)
    result = quiet_fit(cfg)
    assert (tmp_path / "grad_stats.png").read_bytes()[:8] == PNG
    assert result["files"][-1].endswith("grad_stats.png")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["grad_stats"] is True
    assert metrics["grad_stats"]["update_ratio_every"] == 10
    names = ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    for row in metrics["epochs"]:
        gs = row["grad_stats"]
        assert list(gs) == names
        for name in names:
            assert set(gs[name]) == KEYS | ({"dead_fraction"} if name in ("0.weight",
                                                                          "1.weight") else set())
            assert 0 < gs[name]["grad_norm"] <= gs[name]["grad_norm_max"]
            assert 0 < gs[name]["update_ratio"] < 1
        assert 0 <= gs["0.weight"]["dead_fraction"] <= 1
    ck = gg.load(tmp_path / "last.npz")
    assert ck["history"][-1]["grad_stats"] == metrics["epochs"][-1]["grad_stats"]


def test_off_by_default_adds_nothing_and_on_changes_no_number(tmp_path):
    """Without the flag: no grad_stats anywhere, no second PNG.  With it the run is the same
    bit for bit (the probe runs in eval mode and draws no random numbers)."""
    pytest.importorskip("matplotlib")
    base = TrainConfig(**dict(SMALL, plot=True), epochs=2, dropout=0.2)
    quiet_fit(dataclasses.replace(base, out=str(tmp_path / "off")))
    quiet_fit(dataclasses.replace(base, out=str(tmp_path / "on"), grad_stats=True))
    off = json.loads((tmp_path / "off" / "metrics.json").read_text())
    assert "grad_stats" not in off and not any("grad_stats" in r for r in off["epochs"])
    assert not (tmp_path / "off" / "grad_stats.png").exists()
    assert (tmp_path / "off" / "curves.png").exists()
    on = json.loads((tmp_path / "on" / "metrics.json").read_text())
    for a, b in zip(off["epochs"], on["epochs"]):
        assert a["train_loss"] == b["train_loss"] and a["test_loss"] == b["test_loss"]
    for a, b in zip(gg.load(tmp_path / "off" / "last.npz")["model"].values(),
                    gg.load(tmp_path / "on" / "last.npz")["model"].values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_no_plot_means_no_png(tmp_path):
    quiet_fit(TrainConfig(**SMALL, epochs=1, out=str(tmp_path), grad_stats=True))
    assert not (tmp_path / "grad_stats.png").exists()
    assert "grad_stats" in json.loads((tmp_path / "metrics.json").read_text())["epochs"][0]


def test_a_callback_sees_every_step():
    seen = []

    class Spy(Callback):
        def on_epoch_begin(self, epoch, num_steps):
            seen.append(("epoch", epoch, num_steps))

        def on_before_step(self, step):
            seen.append(("before", step))

        def on_step_end(self, step, loss):
            seen.append(("after", step))

        def on_epoch_end(self, row):
            row["spy"] = len(seen)

    rows = quiet_fit(TrainConfig(**SMALL, epochs=1, out=None), callbacks=[Spy()])["epochs"]
    steps = 240 // 50 + 1                             # 300 samples, 20% held out
    assert seen[0] == ("epoch", 0, steps) and len(seen) == 1 + 2 * steps
    assert seen[1:3] == [("before", 0), ("after", 0)] and rows[0]["spy"] == len(seen)


# ---------------------------------------------------------------- configuration, CLI, resume
def test_flags_are_validated():
    for name in ("grad_stats", "detect_anomaly"):
        with pytest.raises(ValueError, match=f"invalid {name} 'yes'; expected True or False"):
            TrainConfig(**{name: "yes"}).validate()
    assert not TrainConfig().grad_stats and not TrainConfig().detect_anomaly


def test_cli_flags_parse_and_resume_keeps_them(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = str(tmp_path / "run")
    code, _, err = run_cli(capsys, *[a for a in TINY if a != "--no-plot"], "--grad-stats",
                           "--out", out)
    assert code == 0, err
    assert (tmp_path / "run" / "grad_stats.png").read_bytes()[:8] == PNG
    ckpt = str(tmp_path / "run" / "last.npz")
    assert gg.load(ckpt)["config"]["grad_stats"] is True
    # a resume without the flag keeps the checkpoint's choice
    code, _, err = run_cli(capsys, "train", "--resume", ckpt, "--extend-schedule", "--epochs", "2", "--quiet")
    assert code == 0, err
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"]
    assert [("grad_stats" in r) for r in rows] == [True, True]
    # --no-grad-stats turns it off for the resumed epochs; the rest must still match
    code, _, err = run_cli(capsys, "train", "--resume", ckpt, "--extend-schedule", "--epochs", "3", "--quiet",
                           "--no-grad-stats")
    assert code == 0, err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [("grad_stats" in r) for r in metrics["epochs"]] == [True, True, False]
    assert metrics["config"]["grad_stats"] is False
    # and a run without it can be resumed with it
    code, _, err = run_cli(capsys, "train", "--resume", ckpt, "--extend-schedule", "--epochs", "4", "--quiet",
                           "--grad-stats", "--no-plot")
    assert code == 0, err
    rows = json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"]
    assert [("grad_stats" in r) for r in rows] == [True, True, False, True]
    code, _, err = run_cli(capsys, "train", "--resume", ckpt, "--extend-schedule", "--epochs", "5", "--hidden", "9",
                           "--grad-stats")
    assert code == 2 and "hidden (checkpoint [8], now [9])" in err


def test_help_lists_the_flags(capsys):
    code, out, _ = run_cli(capsys, "train", "--help")
    assert code == 0
    assert "--grad-stats, --no-grad-stats" in out and "--detect-anomaly" in out


# ---------------------------------------------------------------- --detect-anomaly
class FakeAnomaly:
    """A stand-in for autograd's anomaly-mode switch that records its calls."""

    def __init__(self):
        self.on, self.calls = False, []

    def set_detect_anomaly(self, mode):
        self.calls.append(mode)
        self.on = bool(mode)

    def is_anomaly_enabled(self):
        return self.on


@pytest.fixture
def fake_anomaly(monkeypatch):
    fake = FakeAnomaly()
    monkeypatch.setattr(autograd, "set_detect_anomaly", fake.set_detect_anomaly, raising=False)
    monkeypatch.setattr(autograd, "is_anomaly_enabled", fake.is_anomaly_enabled, raising=False)
    return fake


class ModeSpy(Callback):
    def __init__(self, fake):
        self.fake, self.modes = fake, []

    def on_step_end(self, step, loss):
        self.modes.append(self.fake.on)


def test_detect_anomaly_is_on_during_the_run_and_restored(fake_anomaly, tmp_path):
    spy = ModeSpy(fake_anomaly)
    quiet_fit(TrainConfig(**SMALL, epochs=1, out=str(tmp_path), detect_anomaly=True),
              callbacks=[spy])
    assert spy.modes and all(spy.modes)
    assert fake_anomaly.calls == [True, False] and not fake_anomaly.on
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["detect_anomaly"]
    # restored to what it was (on), also when the run ends with an exception
    fake_anomaly.on = True

    def stop(row):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quiet_fit(TrainConfig(**SMALL, epochs=1, out=None, detect_anomaly=True),
                  on_epoch_end=stop)
    assert fake_anomaly.calls[-2:] == [True, True] and fake_anomaly.on
    spy = ModeSpy(fake_anomaly)
    fake_anomaly.on = False
    quiet_fit(TrainConfig(**SMALL, epochs=1, out=None), callbacks=[spy])
    assert not any(spy.modes)                                  # off unless asked


def test_detect_anomaly_through_the_cli_and_resume(fake_anomaly, tmp_path, capsys):
    code, _, err = run_cli(capsys, *TINY, "--detect-anomaly", "--out", str(tmp_path))
    assert code == 0, err
    assert fake_anomaly.calls == [True, False]
    ckpt = str(tmp_path / "last.npz")
    assert gg.load(ckpt)["config"]["detect_anomaly"] is True
    code, _, err = run_cli(capsys, "train", "--resume", ckpt, "--extend-schedule", "--epochs", "2", "--quiet")
    assert code == 0, err
    assert fake_anomaly.calls == [True, False, True, False]
    code, _, err = run_cli(capsys, "train", "--resume", ckpt, "--extend-schedule", "--epochs", "3", "--quiet",
                           "--no-detect-anomaly")
    assert code == 0, err
    assert fake_anomaly.calls == [True, False, True, False]
    assert json.loads((tmp_path / "metrics.json").read_text())["config"]["detect_anomaly"] \
        is False


def test_detect_anomaly_without_the_api_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.delattr(autograd, "set_detect_anomaly", raising=False)
    with pytest.raises(ValueError, match="gpugrad.autograd.set_detect_anomaly"):
        TrainConfig(detect_anomaly=True).validate()
    code, _, err = run_cli(capsys, *TINY, "--detect-anomaly", "--out", str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("gpugrad train: error: detect_anomaly (--detect-anomaly) needs")
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.skipif(not callable(getattr(autograd, "set_detect_anomaly", None)),
                    reason="gpugrad.autograd.set_detect_anomaly (anomaly mode) not there yet")
def test_detect_anomaly_with_the_real_anomaly_mode(tmp_path):
    getter = getattr(autograd, "is_anomaly_enabled", None)
    modes = []

    class Spy(Callback):
        def on_step_end(self, step, loss):
            if getter is not None:
                modes.append(bool(getter()))

    before = bool(getter()) if getter is not None else None
    result = quiet_fit(TrainConfig(**SMALL, epochs=1, out=str(tmp_path), detect_anomaly=True),
                       callbacks=[Spy()])
    assert result["config"]["detect_anomaly"] is True and result["epochs"][0]["train_loss"] > 0
    if getter is not None:
        assert modes and all(modes) and bool(getter()) == before


@pytest.mark.skipif(not hasattr(autograd, "AnomalyError"),
                    reason="gpugrad.autograd.AnomalyError (anomaly mode) not there yet")
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_an_anomaly_ends_the_cli_run_with_its_report(tmp_path, capsys):
    """Weights blown up by a huge step: anomaly mode stops at the op that made the first
    Inf, and the command prints its report (exit status 1) instead of a traceback."""
    code, _, err = run_cli(capsys, *TINY, "--epochs", "2", "--lr", "1e8", "--momentum", "0",
                           "--scheduler", "none", "--detect-anomaly", "--out", str(tmp_path))
    assert code == 1 and err.startswith("gpugrad train: ") and "Traceback (most recent" \
        not in err.split("\n")[0]
    assert "inf" in err and "tools/train" in err     # the training loop's line
    assert not autograd.is_anomaly_enabled()


@pytest.mark.cuda
def test_grad_stats_in_a_cuda_run(tmp_path):
    """On the GPU: the same entries as on the CPU, and the run's numbers unchanged."""
    cfg = TrainConfig(**SMALL, epochs=2, device="cuda", dropout=0.1)
    off = quiet_fit(dataclasses.replace(cfg, out=str(tmp_path / "off")))["epochs"]
    on = quiet_fit(dataclasses.replace(cfg, out=str(tmp_path / "on"), grad_stats=True))["epochs"]
    cpu = quiet_fit(dataclasses.replace(cfg, device="cpu", out=None, grad_stats=True))["epochs"]
    assert [r["train_loss"] for r in off] == [r["train_loss"] for r in on]
    for a, b in zip(cpu, on):
        assert {k: set(v) for k, v in a["grad_stats"].items()} == \
            {k: set(v) for k, v in b["grad_stats"].items()}
        assert all(0 < v["grad_norm"] <= v["grad_norm_max"] and 0 < v["update_ratio"] < 1
                   for v in b["grad_stats"].values())
