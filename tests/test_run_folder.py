"""Where a training run writes: a fresh folder per run by default, and never silently over
another run (refused with one line unless --resume of that run or --overwrite)."""
import json
import os
import re

import pytest

import gpugrad as gg
from gpugrad.tools.cli import main
from gpugrad.tools.train.run_folder import RUN_FILES, expand_out
from gpugrad.tools.train import TrainConfig, fit

TINY = ["train", "--dataset", "synthetic", "--samples", "200", "--features", "4", "--classes",
        "2", "--hidden", "4", "--epochs", "1", "--quiet", "--no-plot"]


def one_line_error(capsys, code, *fragments):
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err
    return err


def test_two_plain_runs_get_their_own_folders(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(TINY) == 0 and main(TINY) == 0
    runs = sorted(os.listdir(tmp_path / "runs"))
    assert len(runs) == 2 and all(re.fullmatch(r"synthetic-\d{8}-\d{6}(-2)?", r) for r in runs)
    for r in runs:
        metrics = json.loads((tmp_path / "runs" / r / "metrics.json").read_text())
        assert metrics["config"]["out"] == os.path.join("runs", r)     # the resolved folder
    out = capsys.readouterr().out
    assert all(f"to runs/{r}" in out for r in runs), out


def test_an_existing_run_folder_is_refused(tmp_path, capsys):
    assert main([*TINY, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    before = {f: (tmp_path / f).read_bytes() for f in ("best.npz", "last.npz", "metrics.json")}
    code = main([*TINY, "--out", str(tmp_path), "--seed", "3"])
    one_line_error(capsys, code, f"--out {tmp_path} already holds a training run",
                   f"--resume {tmp_path}/last.npz", "--overwrite")
    assert {f: (tmp_path / f).read_bytes() for f in before} == before    # untouched
    with pytest.raises(FileExistsError, match="already holds a training run"):
        fit(TrainConfig(dataset="synthetic", samples=100, features=3, epochs=1,
                        out=str(tmp_path), quiet=True), log=lambda line: None)


def test_overwrite_replaces_only_the_run_files(tmp_path, capsys):
    assert main([*TINY, "--out", str(tmp_path)]) == 0
    (tmp_path / "grad_stats.png").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("mine")
    assert main([*TINY, "--out", str(tmp_path), "--overwrite", "--seed", "3"]) == 0
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "last.npz", "metrics.json", "notes.txt"]
    assert gg.load(tmp_path / "last.npz")["config"]["seed"] == 3


def test_resume_writes_into_its_own_folder_but_not_into_another_run(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    sched = ["--scheduler", "exponential"]
    assert main([*TINY, *sched, "--out", str(a)]) == 0
    assert main([*TINY, *sched, "--out", str(b)]) == 0
    assert main(["train", "--resume", str(a / "last.npz"), "--epochs", "2"]) == 0
    assert gg.load(a / "last.npz")["epoch"] == 2
    capsys.readouterr()
    code = main(["train", "--resume", str(a / "last.npz"), "--epochs", "3", "--out", str(b)])
    one_line_error(capsys, code, f"--out {b} already holds a training run")
    assert gg.load(b / "last.npz")["epoch"] == 1


def test_an_empty_or_foreign_folder_is_fine(tmp_path, capsys):
    (tmp_path / "data.csv").write_text("1,2\n")
    assert main([*TINY, "--out", str(tmp_path)]) == 0
    assert {"data.csv", "last.npz"} <= set(os.listdir(tmp_path))
    assert set(RUN_FILES) >= set(os.listdir(tmp_path)) - {"data.csv"}


def test_placeholders(tmp_path, capsys):
    assert expand_out("x/{dataset}", "mnist") == "x/mnist"
    assert len(expand_out("{time}", "d", now=0.0)) == len("19700101-000000")
    code = main([*TINY, "--out", str(tmp_path / "{nope}")])
    one_line_error(capsys, code, "invalid --out", "{dataset} and {time}")
