"""``gpugrad eval`` and ``gpugrad predict``: a trained run's model on its test split or on new
inputs, standardized with the statistics saved with the run.

A ``gpugrad train`` checkpoint (``best.npz``, ``last.npz``) holds the run's configuration,
the model's state and the training split's feature means and stds; :func:`load_run` turns
one back into a model in eval mode.  Feature files are ``.csv`` (numbers separated by
commas, an optional header line) or ``.npz`` (an array ``X``, and ``y`` for labels) or
``.npy`` (features only); for ``gpugrad eval`` a ``.csv`` holds the label in its last
column.  How a ``.csv`` is read -- its header line (``--header auto|yes|no``), a UTF-8
byte-order mark, comment lines -- is in :mod:`gpugrad.tools.feature_files`.  Features are raw, as
the dataset gives them: the run's standardizer is applied here.

>>> import gpugrad as gg, tempfile, os
>>> from gpugrad.tools.train import TrainConfig, fit
>>> out = tempfile.mkdtemp()
>>> _ = fit(TrainConfig(dataset="synthetic", samples=200, features=4, classes=3, hidden=[8],
...                     epochs=1, out=out, quiet=True, plot=False), log=lambda s: None)
>>> run = load_run(os.path.join(out, "best.npz"))
>>> X, y = run_test_split(run)
>>> sorted(evaluate(run, X, y, standardized=True))
['accuracy', 'loss', 'samples']
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, replace

import numpy as np

from gpugrad import backend, io, nn
from gpugrad.autograd import no_grad
from gpugrad.datasets import Standardizer, load_dataset
from gpugrad.tools.feature_files import HEADER_CHOICES, read_features
from gpugrad.tensor import Tensor
from gpugrad.tools.train.config import TrainConfig, build_model

__all__ = ["Run", "load_run", "run_test_split", "read_features", "predict", "evaluate",
           "add_parser"]


@dataclass
class Run:
    """A trained model with what it needs: ``model`` (eval mode), ``config`` (TrainConfig),
    ``standardizer``, ``epoch``, ``num_features``, ``num_outputs``, ``path``."""
    model: nn.Module
    config: TrainConfig
    standardizer: Standardizer
    epoch: int
    num_features: int
    num_outputs: int
    path: str

    @property
    def task(self) -> str:
        return self.config.task


def load_run(path, device="cpu") -> Run:
    """Rebuild the model of a ``gpugrad train`` checkpoint on ``device``.

    Raises FileNotFoundError / CheckpointError for a missing or damaged file, ValueError for
    a checkpoint that is not of a training run, StateDictError when the saved state does not
    fit the configured model.  A checkpoint without a saved standardizer (older runs) gets
    it recomputed from the regenerated training split, as training computed it.
    """
    dev = _device(device)
    ckpt = io.load(path, map_location=dev)
    if not isinstance(ckpt, dict) or ckpt.get("format") != "gpugrad-train" or \
            not isinstance(ckpt.get("config"), dict) or "model" not in ckpt:
        raise ValueError(f"{path} is a gpugrad checkpoint but not of a `gpugrad train` run "
                         f"(expected 'format': 'gpugrad-train' with 'config' and 'model')")
    cfg = replace(TrainConfig.from_dict(ckpt["config"]), device=str(dev), resume=None)
    weights = [v for k, v in ckpt["model"].items() if k.split(".")[-1] == "weight"]
    if not weights or any(len(w.shape) != 2 for w in weights):
        raise ValueError(f"{path}: expected the model state of an MLP (2-D Linear weights)")
    n_in, n_out = int(weights[0].shape[0]), int(weights[-1].shape[1])
    model = build_model(cfg, n_in, n_out)
    model.load_state_dict(ckpt["model"])
    model.eval()
    st = Standardizer()
    if ckpt.get("standardizer"):
        st.load_state_dict({k: _host(v) for k, v in ckpt["standardizer"].items()})
    else:
        st = _dataset(cfg).standardizer
    if st.mean.shape != (n_in,):
        raise ValueError(f"{path}: the saved standardizer has {st.mean.size} features; the "
                         f"model takes {n_in}")
    return Run(model, cfg, st, int(ckpt.get("epoch", 0)), n_in, n_out, os.fspath(path))


def run_test_split(run: Run):
    """The run's own held-out split, regenerated from its configuration, as training saw it:
    ``(X, y)`` with X already standardized (pass ``standardized=True`` on)."""
    ds = _dataset(run.config)
    return ds.X_test, ds.y_test


def _dataset(cfg):
    return load_dataset(cfg.dataset, cfg.samples, cfg.features, cfg.classes, cfg.task,
                        cfg.test_size, seed=cfg.seed, dtype=cfg.dtype)


def _device(spec):
    dev = backend.device(spec)
    if dev.type == "cuda" and dev.index >= backend.cuda.device_count():
        raise backend.CudaUnavailableError(f"--device {spec}: no such CUDA device here (this "
                                           f"machine has {backend.cuda.device_count()})")
    return dev


def _host(a):
    return np.asarray(a.numpy() if isinstance(a, Tensor) else
                      (a.get() if backend.is_cupy_array(a) else a))


# ---------------------------------------------------------------- running the model
def predict(run: Run, X, batch_size: int = 4096, standardized: bool = False) -> np.ndarray:
    """The model's raw outputs (logits for classification), a NumPy array (N, num_outputs),
    for features X (N, num_features): raw ones are standardized with the run's statistics
    first (``standardized=True``: X already is).  ValueError for another shape."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != run.num_features:
        raise ValueError(f"expected features of shape (N, {run.num_features}), got {X.shape}")
    Xs = X.astype(run.config.dtype)
    if not standardized:
        Xs = run.standardizer.transform(Xs, inplace=True)
    dev = backend.device(run.config.device)
    outs = []
    with no_grad():
        for s in range(0, Xs.shape[0], batch_size):
            xb = Tensor._make(backend.to_device(np.ascontiguousarray(Xs[s:s + batch_size]), dev))
            outs.append(_host(run.model(xb)))
    return np.concatenate(outs)


def evaluate(run: Run, X, y, batch_size: int = 4096, standardized: bool = False) -> dict:
    """Metrics of the run's model on features X (raw unless ``standardized``) and targets y:
    ``samples``, ``loss`` (cross-entropy, or mean squared error) and ``accuracy``
    (classification) or ``r2``.  Raises ValueError for labels outside 0..num_outputs-1 or
    targets of the wrong shape."""
    out = predict(run, X, batch_size, standardized).astype(np.float64)
    n = out.shape[0]
    if run.task == "classification":
        y = np.asarray(y)
        labels = y.astype(np.int64) if y.dtype.kind in "biuf" else None
        if labels is None or y.ndim != 1 or (labels != y).any() or \
                labels.min() < 0 or labels.max() >= run.num_outputs:
            raise ValueError(f"expected class labels 0..{run.num_outputs - 1}, one per sample; "
                             f"got {y.dtype} values of shape {y.shape}")
        z = out - out.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(n), labels].mean()
        return {"samples": n, "loss": float(loss),
                "accuracy": float((out.argmax(axis=1) == labels).mean())}
    y = np.asarray(y, dtype=np.float64).reshape(n, -1)
    if y.shape[1] != run.num_outputs:
        raise ValueError(f"expected {run.num_outputs} target(s) per sample, got {y.shape[1]}")
    sse = ((out - y) ** 2).sum()
    sst = ((y - y.mean(axis=0)) ** 2).sum()
    return {"samples": n, "loss": float(((out - y) ** 2).mean()),
            "r2": float(1.0 - sse / max(sst, 1e-12))}


def _softmax(out):
    z = np.exp(out - out.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- the commands
def add_parser(subparsers):
    """Register ``gpugrad eval`` and ``gpugrad predict``."""
    def common(p):
        p.add_argument("--checkpoint", required=True, metavar="PATH",
                       help="a gpugrad train checkpoint (runs/x/best.npz)")
        p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
        p.add_argument("--batch-size", type=int, default=4096, help="rows per forward pass")
        p.add_argument("--header", choices=HEADER_CHOICES, default="auto",
                       help="is the first line of a .csv --input a header? auto (default): "
                            "yes when it holds a non-number, or is exactly 0,1,...,n-1 "
                            "(pandas' default column names, reported on stderr)")

    p = subparsers.add_parser(
        "eval", help="metrics of a trained model on its test split or a labelled file",
        description="Print the loss and accuracy (classification) or R^2 (regression) of a "
                    "checkpoint on its run's test split, or on --input (a .csv whose last "
                    "column is the label, or a .npz with X and y).")
    common(p)
    p.add_argument("--input", metavar="FILE", help="labelled features (.csv or .npz)")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.set_defaults(run=run_eval)

    p = subparsers.add_parser(
        "predict", help="predictions of a trained model for new inputs",
        description="Write predictions for raw features (.csv, .npz with X, or .npy): the "
                    "class and class probabilities, or the regression outputs.")
    common(p)
    p.add_argument("--input", required=True, metavar="FILE", help="features (.csv/.npz/.npy)")
    p.add_argument("--output", metavar="FILE",
                   help="where to write (.csv or .npz; default: CSV on standard output)")
    p.set_defaults(run=run_predict)


def _check_batch(args):
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")


def run_eval(args) -> int:
    """``gpugrad eval``: print the metrics; returns the exit status."""
    _check_batch(args)
    run = load_run(args.checkpoint, args.device)
    if args.input:
        X, y = read_features(args.input, run.num_features, labels=True, header=args.header,
                             note=_note)
        data = args.input
    else:
        X, y = run_test_split(run)
        data = f"test split of the run ({run.config.dataset})"
    m = evaluate(run, X, y, args.batch_size, standardized=not args.input)
    if args.json:
        # strict JSON: a non-finite metric (a model that overflows) is null, not NaN
        m = {k: (v if not isinstance(v, float) or np.isfinite(v) else None)
             for k, v in m.items()}
        print(json.dumps({"checkpoint": run.path, "epoch": run.epoch, "data": data, **m},
                         allow_nan=False))
        return 0
    score = (f"accuracy {100 * m['accuracy']:.2f}%" if "accuracy" in m
             else f"R^2 {m['r2']:.4f}")
    print(f"{run.path} (epoch {run.epoch}) on {data}: {m['samples']} samples")
    print(f"loss {m['loss']:.4f}  {score}")
    return 0


def run_predict(args) -> int:
    """``gpugrad predict``: write predictions; returns the exit status."""
    _check_batch(args)
    ext = os.path.splitext(args.output or "")[1].lower()
    if args.output and ext not in (".csv", ".npz"):
        raise ValueError(f"--output {args.output}: expected a .csv or .npz file name")
    run = load_run(args.checkpoint, args.device)
    X, _ = read_features(args.input, run.num_features, header=args.header, note=_note)
    out = predict(run, X, args.batch_size)
    if run.task == "classification":
        cols = {"prediction": out.argmax(axis=1), "probabilities": _softmax(out)}
        header = ["prediction"] + [f"prob_{k}" for k in range(run.num_outputs)]
    else:
        cols = {"prediction": out if out.shape[1] > 1 else out[:, 0]}
        header = (["prediction"] if out.shape[1] == 1 else
                  [f"prediction_{k}" for k in range(out.shape[1])])
    if ext == ".npz":
        _atomic(args.output, lambda f: np.savez(f, **cols))
        return 0
    table = np.column_stack([c.reshape(len(out), -1).astype(np.float64) for c in cols.values()])
    fmt = ["%d"] * (run.task == "classification") + \
        ["%.9g" if out.dtype == np.float32 else "%.17g"] * (table.shape[1] -
                                                            (run.task == "classification"))

    def write(f):
        np.savetxt(f, table, delimiter=",", fmt=fmt, header=",".join(header), comments="")
    if args.output:
        _atomic(args.output, write)
        return 0
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:      # `gpugrad predict ... | head`: the reader left; end quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())     # so the interpreter's final flush is quiet
        return 128 + 13                           # as a tool killed by SIGPIPE
    return 0


def _note(message):
    sys.stderr.write(f"note: {message}\n")


def _atomic(path, write):       # atomic_file's writer: its errors name path, not a temp file
    io.write_file(path, write, "w" if path.lower().endswith(".csv") else "wb")
