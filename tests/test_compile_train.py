"""gpugrad train --compile: the same run, number for number, as without it (on the CPU)."""
import pytest

from gpugrad.tools.train import fit
from gpugrad.tools.train.config import TrainConfig


def _run(tmp_path, name, **kw):
    cfg = TrainConfig(dataset="synthetic", samples=300, features=8, classes=3, hidden=[16],
                      epochs=2, batch_size=64, out=None, quiet=True, plot=False, **kw)
    return fit(cfg, log=lambda line: None)


def test_compiled_run_equals_eager_run(tmp_path):
    eager, compiled = _run(tmp_path, "eager"), _run(tmp_path, "compiled", compile=True)
    keys = ("train_loss", "test_loss")
    assert all(isinstance(r[k], float) for r in eager["epochs"] for k in keys)
    assert eager["epochs"][1]["train_loss"] < eager["epochs"][0]["train_loss"]   # it trains
    assert [[r[k] for k in keys] for r in eager["epochs"]] == \
        [[r[k] for k in keys] for r in compiled["epochs"]]


@pytest.mark.parametrize("kw", [{"dropout": 0.3}, {"precision": "bf16"}])
def test_compiled_run_with_dropout_or_bf16_equals_eager_run(tmp_path, kw):
    if kw.get("precision") == "bf16":
        pytest.importorskip("ml_dtypes")
    eager, compiled = _run(tmp_path, "eager", **kw), _run(tmp_path, "compiled", compile=True, **kw)
    keys = ("train_loss", "test_loss")
    assert [[r[k] for k in keys] for r in eager["epochs"]] == \
        [[r[k] for k in keys] for r in compiled["epochs"]]


def test_cli_refuses_compile_with_fp16_before_making_the_folder(tmp_path, capsys):
    from gpugrad.tools.cli import main
    out = tmp_path / "run"
    rc = main(["train", "--hidden", "8", "--epochs", "1", "--no-plot", "--precision", "fp16",
               "--compile", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and not out.exists()
    assert len(err) == 1 and "--compile" in err[0] and "fp16" in err[0]


def test_compile_refuses_per_step_observers(tmp_path):
    with pytest.raises(ValueError, match="grad.stats"):
        _run(tmp_path, "gs", compile=True, grad_stats=True)
