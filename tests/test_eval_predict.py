"""`gpugrad eval` and `gpugrad predict` end to end on tiny training runs: metrics on the run's
test split agree with training's own, predictions on raw files use the saved standardizer
(checked against a model rebuilt by hand), and bad input is one line and exit status 2."""
import json

import numpy as np
import pytest

import gpugrad as gg
from gpugrad.tools.cli import main
from gpugrad.datasets import make_synthetic

TRAIN = ["train", "--dataset", "synthetic", "--samples", "300", "--features", "6",
         "--hidden", "8", "--epochs", "2", "--batch-size", "50", "--quiet", "--no-plot"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    cls, reg = base / "cls", base / "reg"
    assert main(TRAIN + ["--classes", "3", "--dropout", "0.1", "--out", str(cls)]) == 0
    assert main(TRAIN + ["--task", "regression", "--activation", "tanh", "--out", str(reg)]) == 0
    return {"cls": cls, "reg": reg}


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def by_hand(ckpt_path, X):
    """The checkpoint's outputs for raw X, rebuilt without gpugrad.tools.evaluate."""
    ck = gg.load(ckpt_path)
    cfg = ck["config"]
    w = [v for k, v in ck["model"].items() if k.endswith("weight")]
    model = gg.nn.MLP([w[0].shape[0], *cfg["hidden"], w[-1].shape[1]],
                      activation=cfg["activation"], dropout=cfg["dropout"]).eval()
    model.load_state_dict(ck["model"])
    Xs = (X - ck["standardizer"]["mean"]) / ck["standardizer"]["std"]
    return model(gg.tensor(Xs.astype(np.float32))).numpy().astype(np.float64)


def features(n=25, seed=7, task="classification"):
    return make_synthetic(n, 6, 3, task=task, seed=seed, dtype="float64")


def test_eval_on_the_test_split_matches_training(runs, capsys):
    for name, score in (("cls", "test_accuracy"), ("reg", "test_r2")):
        code, out, err = cli(capsys, "eval", "--checkpoint", runs[name] / "last.npz", "--json")
        assert code == 0, err
        m = json.loads(out)
        last = json.loads((runs[name] / "metrics.json").read_text())["epochs"][-1]
        assert m["epoch"] == 2 and m["samples"] == 60
        assert m["loss"] == pytest.approx(last["test_loss"], rel=1e-5)
        assert m["accuracy" if name == "cls" else "r2"] == pytest.approx(last[score], rel=1e-5)
    code, out, _ = cli(capsys, "eval", "--checkpoint", runs["cls"] / "last.npz")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2 and "60 samples" in lines[0]
    assert lines[1].startswith("loss ") and "accuracy " in lines[1]


@pytest.mark.parametrize("fmt", ["csv", "npz"])
def test_eval_on_a_labelled_file(runs, tmp_path, capsys, fmt):
    X, y = features()
    X = X * 3 + 2                      # raw features far from standardized ones
    path = tmp_path / f"data.{fmt}"
    if fmt == "csv":
        np.savetxt(path, np.column_stack([X, y]), delimiter=",",
                   header=",".join([f"f{i}" for i in range(6)] + ["label"]), comments="")
    else:
        np.savez(path, X=X, y=y)
    ckpt = runs["cls"] / "best.npz"
    code, out, err = cli(capsys, "eval", "--checkpoint", ckpt, "--input", path, "--json")
    assert code == 0, err
    m = json.loads(out)
    logits = by_hand(ckpt, X)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    assert m["samples"] == 25
    assert m["accuracy"] == pytest.approx(float((logits.argmax(1) == y).mean()))
    assert m["loss"] == pytest.approx(float(-logp[np.arange(25), y].mean()), rel=1e-5)


def test_predict_csv_npz_and_stdout(runs, tmp_path, capsys):
    X, _ = features(30, seed=11)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    np.save(tmp_path / "x.npy", X)
    ckpt = runs["cls"] / "best.npz"
    logits = by_hand(ckpt, X)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)

    code, _, err = cli(capsys, "predict", "--checkpoint", ckpt, "--input", tmp_path / "x.csv",
                       "--output", tmp_path / "p.csv")
    assert code == 0, err
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "prediction,prob_0,prob_1,prob_2" and len(lines) == 31
    table = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(table[:, 0], logits.argmax(1))
    np.testing.assert_allclose(table[:, 1:], probs, rtol=1e-5, atol=1e-7)

    code, out, err = cli(capsys, "predict", "--checkpoint", ckpt, "--input", tmp_path / "x.npy")
    assert code == 0, err
    assert out.splitlines() == lines                   # stdout: the same CSV

    code, _, err = cli(capsys, "predict", "--checkpoint", ckpt, "--input", tmp_path / "x.npy",
                       "--output", tmp_path / "p.npz", "--batch-size", "7")
    assert code == 0, err
    with np.load(tmp_path / "p.npz") as z:
        np.testing.assert_array_equal(z["prediction"], logits.argmax(1))
        np.testing.assert_allclose(z["probabilities"], probs, rtol=1e-5, atol=1e-7)


def test_predict_regression(runs, tmp_path, capsys):
    X, y = features(12, seed=5, task="regression")
    np.savez(tmp_path / "x.npz", X=X)
    ckpt = runs["reg"] / "best.npz"
    code, out, err = cli(capsys, "predict", "--checkpoint", ckpt, "--input", tmp_path / "x.npz")
    assert code == 0, err
    assert out.splitlines()[0] == "prediction"
    got = np.loadtxt(out.splitlines()[1:], delimiter=",")
    np.testing.assert_allclose(got, by_hand(ckpt, X)[:, 0], rtol=1e-6, atol=1e-6)
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    code, out, err = cli(capsys, "eval", "--checkpoint", ckpt, "--input", tmp_path / "xy.npz")
    assert code == 0 and "R^2" in out, err


def bad_inputs(tmp, runs):
    ckpt = runs["cls"] / "best.npz"
    X, y = features(5)
    np.savetxt(tmp / "five.csv", X[:, :5], delimiter=",")
    np.savetxt(tmp / "nan.csv", np.where(np.eye(5, 6) > 0, np.nan, X), delimiter=",")
    np.savetxt(tmp / "labels.csv", np.column_stack([X, y + 3]), delimiter=",")
    np.savez(tmp / "nolabels.npz", X=X)
    (tmp / "words.csv").write_text("a,b\n1,x\n")
    gg.save({"model": {}}, tmp / "other.npz")
    return [
        (["eval", "--checkpoint", tmp / "missing.npz"], "checkpoint not found"),
        (["eval", "--checkpoint", tmp / "other.npz"], "not of a `gpugrad train` run"),
        (["eval", "--checkpoint", ckpt, "--input", tmp / "missing.csv"], "input not found"),
        (["eval", "--checkpoint", ckpt, "--input", tmp / "five.csv"],
         "has 4 feature columns; the model takes 6"),
        (["predict", "--checkpoint", ckpt, "--input", tmp / "five.csv"],
         "has 5 feature columns; the model takes 6"),
        (["predict", "--checkpoint", ckpt, "--input", tmp / "nan.csv"],
         "feature 0 of sample 0 is nan; expected finite numbers"),
        (["eval", "--checkpoint", ckpt, "--input", tmp / "labels.csv"],
         "expected class labels 0..2"),
        (["eval", "--checkpoint", ckpt, "--input", tmp / "nolabels.npz"],
         "expected labels as an array 'y'"),
        (["predict", "--checkpoint", ckpt, "--input", tmp / "words.csv"],
         "expected numbers separated by commas"),
        (["predict", "--checkpoint", ckpt, "--input", tmp / "five.csv", "--output",
          tmp / "p.txt"], "expected a .csv or .npz file name"),
        (["predict", "--checkpoint", ckpt], "--input"),
    ]


def test_bad_input_is_one_line_and_status_2(runs, tmp_path, capsys):
    for argv, fragment in bad_inputs(tmp_path, runs):
        code, out, err = cli(capsys, *argv)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (argv, err)
        assert lines[0].startswith(f"gpugrad {argv[0]}: error: "), lines[0]
        assert fragment in lines[0], (fragment, lines[0])
        assert out == ""
    assert not (tmp_path / "p.txt").exists()


def test_csv_headers_bom_and_comments_keep_every_sample(runs, tmp_path, capsys):
    """pandas' default header (0,1,...), Excel's UTF-8 byte-order mark and numpy.savetxt's
    '#' header never turn a sample into a header or drop one: as many rows as samples."""
    X, _ = features(9, seed=3)
    ckpt = runs["cls"] / "best.npz"
    want = by_hand(ckpt, X).argmax(1)
    rows = "\n".join(",".join(repr(float(v)) for v in r) for r in X) + "\n"
    files = {"pandas.csv": ("0,1,2,3,4,5\n" + rows, "utf-8"),
             "bom.csv": (rows, "utf-8-sig"),
             "bom_named.csv": ("a,b,c,d,e,f\n" + rows, "utf-8-sig"),
             "comment.csv": ("# a,b,c,d,e,f\n\n" + rows, "utf-8")}
    for name, (text, encoding) in files.items():
        (tmp_path / name).write_text(text, encoding=encoding)
        code, out, err = cli(capsys, "predict", "--checkpoint", ckpt, "--input",
                             tmp_path / name)
        assert code == 0, (name, err)
        got = np.loadtxt(out.splitlines()[1:], delimiter=",")[:, 0]
        np.testing.assert_array_equal(got, want, err_msg=name)
        assert ("pandas' default column names" in err) == (name == "pandas.csv"), (name, err)
    # --header no: the numbers of line 1 are a sample; --header yes: line 1 is a header
    code, out, err = cli(capsys, "predict", "--checkpoint", ckpt, "--input",
                         tmp_path / "pandas.csv", "--header", "no")
    assert code == 0 and len(out.splitlines()) == 1 + 10 and err == "", err
    extra = by_hand(ckpt, np.arange(6.0)[None]).argmax(1)
    np.testing.assert_array_equal(np.loadtxt(out.splitlines()[1:], delimiter=",")[:, 0],
                                  np.concatenate([extra, want]))
    code, out, _ = cli(capsys, "predict", "--checkpoint", ckpt, "--input",
                       tmp_path / "bom.csv", "--header", "yes")
    assert code == 0 and len(out.splitlines()) == 1 + 8
    # a labelled file with pandas' header, for eval: all 9 samples count
    y = want % 3
    (tmp_path / "lab.csv").write_text(
        "0,1,2,3,4,5,6\n" + "\n".join(",".join(map(repr, [*map(float, r), float(t)]))
                                      for r, t in zip(X, y)), encoding="utf-8-sig")
    code, out, err = cli(capsys, "eval", "--checkpoint", ckpt, "--input", tmp_path / "lab.csv",
                         "--json")
    assert code == 0 and json.loads(out)["samples"] == 9 and json.loads(out)["accuracy"] == 1.0


def test_bad_labels_and_ragged_csv_are_one_line(runs, tmp_path, capsys):
    X, y = features(4)
    ckpt = runs["reg"] / "best.npz"
    yn = y.astype(float)
    yn[2] = np.nan
    np.savetxt(tmp_path / "nan_label.csv", np.column_stack([X, yn]), delimiter=",")
    (tmp_path / "ragged.csv").write_text("1,2,3,4,5,6\n1,2,3,4,5\n")
    (tmp_path / "semi.csv").write_text("f0;f1\n1;2\n")
    for argv, fragment in [
            (["eval", "--input", tmp_path / "nan_label.csv"],
             "the label of sample 2 is nan; expected finite numbers"),
            (["predict", "--input", tmp_path / "ragged.csv"],
             "line 2 has 5 fields, the first sample line 6"),
            (["predict", "--input", tmp_path / "semi.csv"], "seems to use ';' separators")]:
        code, out, err = cli(capsys, *argv[:1], "--checkpoint", ckpt, *argv[1:])
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
        assert fragment in err, (fragment, err)


def test_predict_into_a_closed_pipe_ends_quietly(runs, tmp_path):
    import subprocess
    import sys

    X, _ = features(3000, seed=2)                 # more output than a pipe holds
    np.save(tmp_path / "x.npy", X)
    p = subprocess.Popen([sys.executable, "-m", "gpugrad", "predict", "--checkpoint",
                          str(runs["cls"] / "best.npz"), "--input", str(tmp_path / "x.npy")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline().startswith(b"prediction")      # `| head -1`
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 141 and err == "", err
