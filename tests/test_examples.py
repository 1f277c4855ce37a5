"""The examples: each plain-NumPy file and its gpugrad.numpy twin differ only in the import,
train (loss falls, accuracy is high) and agree with each other on the CPU; small and fast."""
import importlib.util
import pathlib

import numpy as np
import pytest

import gpugrad as gg

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
PAIRS = [("logistic_regression", dict(steps=60, n=200), 0.9), ("mlp", dict(steps=40, n=150), 0.5)]


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("stem", [p[0] for p in PAIRS])
def test_twins_differ_only_in_the_import(stem):
    a = (EXAMPLES / f"{stem}_numpy.py").read_text().splitlines()
    b = (EXAMPLES / f"{stem}_gpugrad.py").read_text().splitlines()
    diff = [(x, y) for x, y in zip(a, b) if x != y]
    assert len(a) == len(b) and diff == [("import numpy as np", "import gpugrad.numpy as np")]


@pytest.mark.parametrize("stem,kw,min_acc", PAIRS)
def test_examples_train_and_agree(stem, kw, min_acc):
    results = {}
    for flavour in ("numpy", "gpugrad"):
        history, acc, _ = load(f"{stem}_{flavour}").train(verbose=False, **kw)
        assert history[-1] < history[0] * 0.9, flavour
        assert acc >= min_acc
        results[flavour] = history
    np.testing.assert_allclose(results["numpy"], results["gpugrad"], rtol=1e-9)


@pytest.mark.parametrize("stem,kw,min_acc", PAIRS)
def test_gpugrad_examples_on_every_device(stem, kw, min_acc, device):
    gg.set_default_device(device)
    history, acc, _ = load(f"{stem}_gpugrad").train(verbose=False, **kw)
    assert history[-1] < history[0] and acc >= min_acc
