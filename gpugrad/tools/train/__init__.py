"""The training loop behind ``gpugrad train``, reusable from Python as :func:`fit`.

``fit(TrainConfig(...))`` loads (or generates) a dataset, builds an MLP of fused layers,
trains it with SGD/Adam/AdamW and a learning-rate schedule, evaluates after every epoch,
and -- when ``out`` is set -- writes ``last.npz`` (the latest, finally the final,
checkpoint), ``best.npz`` (best test accuracy), ``metrics.json`` and ``curves.png``.
``grad_stats=True`` (``--grad-stats``) adds per-layer gradient norms, update-to-weight ratios
and dead-ReLU fractions to every epoch's row and draws them in ``grad_stats.png``
(:mod:`gpugrad.tools.train.grad_stats`); ``detect_anomaly=True`` (``--detect-anomaly``) trains with
autograd's anomaly mode on (``gpugrad.autograd.set_detect_anomaly``), restored afterwards.
A run resumed from a checkpoint continues bit-for-bit on the CPU: the checkpoint holds the
model, optimizer, scheduler, epoch, history, gpugrad's CPU RNG state and the loader's shuffle
state, and the data are regenerated from the recorded configuration.  (On CUDA the GPU
generator's state cannot be captured, so dropout masks after a resume differ.)  A resumed
run keeps the schedule it was planned with; what a resume may change, and how a cosine
schedule is re-planned for another --epochs (``extend_schedule``), is in
:mod:`gpugrad.tools.train.resume`.  Each run gets its own folder by default
(``runs/{dataset}-{time}``); a folder holding another run is refused unless ``overwrite``
(:mod:`gpugrad.tools.train.run_folder`).

>>> cfg = TrainConfig(dataset="synthetic", samples=400, features=8, classes=3,
...                   hidden=[16], epochs=2, out=None, quiet=True)
>>> result = fit(cfg, log=lambda line: None)
>>> len(result["epochs"]), sorted(result["epochs"][0])[:3]
(2, ['epoch', 'lr', 'samples_per_s'])
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time
import warnings

from gpugrad import amp, autograd, backend, io, nn
from gpugrad import random as _random
from gpugrad.autograd import no_grad
from gpugrad.tools.train.compile_option import check_compile, compiled_step
from gpugrad.data import DataLoader
from gpugrad.datasets import DATASETS, load_dataset
from gpugrad.distributed.process_group import report_error
from gpugrad.distributed.training import agree, check_config, check_processes, training_session
from gpugrad.tools.train.grad_stats import Callback, GradStats
from gpugrad.tools.train.report import Progress, plot_curves, plot_grad_stats, stderr_is_terminal, write_json
from gpugrad.tools.train.run_folder import (RUN_FILES, check_out, claimed_out, copy_checkpoint, describe_written,
                         find_best)
from gpugrad.tools.train.config import (DEFAULT_OUT, OPTIMIZERS, SCHEDULERS, TrainConfig, anomaly_api,
                           build_model, build_optimizer, build_scheduler)
from gpugrad.tools.train.checks import (DivergedError, TrainWarning, check_finite, check_options,
                           compile_errors_named, one_line_warnings)
from gpugrad.tools.train.resume import adjust_checkpoint, check_resume, resume_config

__all__ = ["TrainConfig", "fit", "check_resume", "resume_config", "add_parser", "run",
           "build_model", "build_optimizer", "build_scheduler", "Callback", "GradStats"]


def _evaluate(model, loader, task):
    """(mean loss, accuracy or R^2) over a loader, without a graph; one device sync."""
    model.eval()
    loss_sum = hits = sse = 0.0
    ys = []
    n = 0
    with no_grad():
        for xb, yb in loader:
            out = model(xb)
            if task == "classification":
                loss_sum = loss_sum + nn.functional.cross_entropy(out, yb, reduction="sum").data
                hits = hits + (out.data.argmax(axis=1) == yb.data).sum()
            else:
                d = out.data - yb.data
                sse = sse + (d * d).sum()
                loss_sum = loss_sum + (d * d).mean(axis=-1).sum()
                ys.append(yb.data)
            n += xb.shape[0]
    model.train()
    if task == "classification":
        return float(loss_sum) / n, float(hits) / n
    xp = backend.get_array_module(ys[0])
    y = xp.concatenate(ys)
    sst = float(((y - y.mean(axis=0)) ** 2).sum())
    return float(loss_sum) / n, 1.0 - float(sse) / max(sst, 1e-12)


def _require_device(spec):
    """Raise CudaUnavailableError (one clear line) unless the device exists here."""
    dev = backend.device(spec)
    if dev.type == "cuda":
        count = backend.cuda.device_count()
        if count == 0:
            raise backend.CudaUnavailableError(
                f"--device {spec} needs a CUDA GPU and CuPy, but none is available; use "
                f"--device cpu (or install gpugrad[cuda12] on a GPU machine)")
        if dev.index >= count:
            raise backend.CudaUnavailableError(
                f"--device {spec}: this machine has {count} GPU(s), cuda:0..cuda:{count - 1}")
    return dev


# ---------------------------------------------------------------- the loop
@contextlib.contextmanager
def _anomaly_mode(on):
    """Autograd's anomaly mode on for the block (when ``on``), the previous mode restored."""
    if not on:
        yield
        return
    setter, is_enabled = anomaly_api()
    before = bool(is_enabled()) if is_enabled is not None else False
    setter(True)
    try:
        yield
    finally:
        setter(before)


def fit(config: TrainConfig, checkpoint=None, log=print, on_epoch_end=None,
        callbacks=()) -> dict:
    """Train as ``config`` says; return the metrics (also written to ``metrics.json``).

    ``checkpoint``: an already loaded checkpoint dict to resume from (else
    ``config.resume`` is loaded when set).  ``log`` receives the one-line summaries.
    ``on_epoch_end(row)`` is called after each epoch's checkpoint and metrics are written.
    ``callbacks``: :class:`~gpugrad.tools.train.grad_stats.Callback` objects (per-step and per-epoch
    hooks, e.g. ``GradStats()``); ``config.grad_stats`` adds a ``GradStats()`` unless one is
    given.  ``config.detect_anomaly`` turns autograd's anomaly mode on for the call.
    """
    cfg = config.validate().resolved()
    prec = amp.precision_setup(cfg.precision, cfg.device.split(":")[0])  # --precision
    with _anomaly_mode(cfg.detect_anomaly), prec, contextlib.ExitStack() as run_scope:
        return _fit(cfg, checkpoint, log, on_epoch_end, callbacks, prec, run_scope)


def _fit(cfg, checkpoint, log, on_epoch_end, callbacks, prec, run_scope):
    dev = _require_device(cfg.device)
    dd = training_session(cfg)        # None unless started by mpiexec with > 1 rank
    if dd is not None:                # this rank's device; rank 0 alone writes and logs
        cfg, log, dev = dd.config(cfg), dd.log(log), dd.device
    nproc = 1 if dd is None else dd.size

    def prepare(checkpoint):          # every rank: one verdict before any other collective
        check_config(cfg, nproc)
        check_compile(cfg)                  # --compile with what a replay cannot follow
        if cfg.resume and checkpoint is None:
            checkpoint = io.load(cfg.resume, map_location="cpu")
        notes = []
        if checkpoint is not None:
            check_processes(checkpoint, nproc)
            check_resume(cfg, checkpoint)
            checkpoint, notes = adjust_checkpoint(cfg, checkpoint)
        if cfg.out:
            check_out(cfg, checkpoint)      # before any work: never train into another run
        return checkpoint, notes

    checkpoint, notes = agree(prepare, checkpoint)
    say = (lambda msg: None) if cfg.quiet else log

    ds = load_dataset(cfg.dataset, cfg.samples, cfg.features, cfg.classes, cfg.task,
                      cfg.test_size, seed=cfg.seed, dtype=cfg.dtype)
    ytr, yte = ds.y_train, ds.y_test
    if cfg.task == "regression":
        ytr, yte = ytr.astype(cfg.dtype), yte.astype(cfg.dtype)
    train_loader = DataLoader(ds.X_train, ytr, cfg.resolved_batch_size, shuffle=True,
                              seed=cfg.seed + 1, device=dev)
    test_loader = DataLoader(ds.X_test, yte, cfg.eval_batch_size, device=dev)
    if dd is not None:                # each rank: its shard of the data
        train_loader, test_loader = dd.loaders(train_loader, test_loader)

    _random.manual_seed(cfg.seed)
    model = build_model(cfg, ds.num_features, ds.num_outputs)
    net = model if dd is None else dd.wrap(model)     # averages gradients over the ranks
    opt = build_optimizer(cfg, model.parameters())
    sched = build_scheduler(cfg, opt)
    if cfg.task == "classification":
        loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    else:
        loss_fn = nn.MSELoss()

    cbs = list(callbacks)
    for cb in cbs:
        if not isinstance(cb, Callback):
            raise TypeError(f"fit: expected Callback objects in callbacks, got "
                            f"{type(cb).__name__}")
    if cfg.grad_stats and not any(isinstance(cb, GradStats) for cb in cbs):
        cbs.append(GradStats())

    start, history, best = 0, [], None
    if checkpoint is not None:       # validate every part first, then apply: no half-updates
        model.check_state_dict(checkpoint["model"])
        opt.check_state_dict(checkpoint["optimizer"])
        if sched is not None:
            sched.check_state_dict(checkpoint["scheduler"])
        model.load_state_dict(checkpoint["model"])
        opt.load_state_dict(checkpoint["optimizer"])
        if sched is not None:
            sched.load_state_dict(checkpoint["scheduler"])
        train_loader.load_state_dict(checkpoint["rng"]["loader"])
        if checkpoint["rng"].get("gpugrad") is not None:
            _random.set_rng_state(checkpoint["rng"]["gpugrad"])
        start, history, best = checkpoint["epoch"], list(checkpoint["history"]), checkpoint["best"]
        for note in notes:
            say(f"resuming at epoch {start + 1}: {note}")

    # every check before the folder exists; a run that fails before writing removes it
    compiled = compile_errors_named(compiled_step(cfg, net, loss_fn, opt, prec, cbs), cfg)
    out = run_scope.enter_context(claimed_out(cfg, checkpoint)) if cfg.out else None
    if out and out != cfg.out:
        say(f"writing to {out}")
    cfg = dataclasses.replace(cfg, out=out)
    best_source, problem = find_best(cfg, checkpoint, out)   # a resume into a new folder
    if problem:
        warnings.warn(problem, TrainWarning)
    written, copied_from = set(), None
    show_progress = cfg.progress and not cfg.quiet and stderr_is_terminal()
    higher_better = cfg.task == "classification"
    score_key = "test_accuracy" if higher_better else "test_r2"
    t_run = time.perf_counter()
    for cb in cbs:
        cb.on_train_begin(model, opt, ds.X_train)
    stats = next((cb for cb in cbs if isinstance(cb, GradStats)), None)
    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        bar = Progress(train_loader.num_samples, f"epoch {epoch + 1}/{cfg.epochs}",
                       show_progress)
        model.train()
        loss_sum, seen, shown = 0.0, 0, time.perf_counter()
        lr = opt.param_groups[0]["lr"]
        for cb in cbs:
            cb.on_epoch_begin(epoch, len(train_loader))
        for step, (xb, yb) in enumerate(train_loader):
            if compiled is not None:          # --compile: the recorded step, replayed
                loss = compiled(xb, yb)
            else:
                opt.zero_grad()
                with prec.autocast():
                    loss = loss_fn(net(xb), yb)
                prec.backward(loss)
                prec.unscale_(opt)
                for cb in cbs:
                    cb.on_before_step(step)
                prec.step(opt)
            for cb in cbs:
                cb.on_step_end(step, loss)
            n = xb.shape[0]
            loss_sum = loss_sum + loss.data.astype("float64") * n   # on the device: no sync
            seen += n
            now = time.perf_counter()
            if bar.active:
                if now - shown > 0.25:
                    shown = now
                    bar.update(n, float(loss.data))
                else:
                    bar.update(n)
        bar.close()
        if sched is not None:
            sched.step()
        train_loss = float(loss_sum) / max(seen, 1)       # waits for the device's queue
        if dd is not None:
            train_loss, seen = dd.mean_loss(loss_sum, seen)
        train_time = time.perf_counter() - t0
        test_loss, score = (_evaluate if dd is None else dd.evaluate)(model, test_loader,
                                                                       cfg.task)
        kept = os.path.join(out, "last.npz") if out else None    # diverged: stop here
        check_finite(epoch + 1, train_loss, test_loss, lr,
                     kept if kept and os.path.exists(kept) else cfg.resume)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "test_loss": test_loss,
               score_key: score, "time_s": time.perf_counter() - t0,
               "samples_per_s": seen / max(train_time, 1e-9)}
        for cb in cbs:
            cb.on_epoch_end(row)
        history.append(row)
        improved = best is None or score > best[score_key]
        if improved:
            best = {"epoch": epoch + 1, score_key: score, "test_loss": test_loss}
        metric = f"test acc {100 * score:6.2f}%" if higher_better else f"test R^2 {score:.4f}"
        say(f"epoch {epoch + 1:3d}/{cfg.epochs}  train loss {train_loss:.4f}  test loss "
            f"{test_loss:.4f}  {metric}  {row['time_s']:.2f}s "
            f"({row['samples_per_s']:,.0f} samples/s)")
        if out:
            state = {"format": "gpugrad-train", "epoch": epoch + 1, "config": cfg.to_dict(),
                     "model": model.state_dict(), "optimizer": opt.state_dict(),
                     "scheduler": None if sched is None else sched.state_dict(),
                     "rng": {"gpugrad": _random.get_rng_state(),
                             "loader": train_loader.state_dict()},
                     "history": history, "best": best,
                     "standardizer": ds.standardizer.state_dict()}
            io.save(state, os.path.join(out, "last.npz"))
            if improved:
                io.save(state, os.path.join(out, "best.npz"))
                copied_from = None
            elif best_source and "best.npz" not in written:     # the run's best, carried over
                copy_checkpoint(best_source, os.path.join(out, "best.npz"))
                copied_from = os.path.dirname(best_source) or os.curdir
            written.update(("last.npz", "metrics.json"))
            if improved or copied_from:
                written.add("best.npz")
            write_json(_metrics(cfg, history, best, dev, model, t_run, False, stats),
                       os.path.join(out, "metrics.json"))
        if on_epoch_end is not None:
            on_epoch_end(row)
    result = _metrics(cfg, history, best, dev, model, t_run, True, stats)
    files = []
    if out:
        write_json(result, os.path.join(out, "metrics.json"))
        written.add("metrics.json")
        if cfg.plot:
            label = ("train (label-smoothed)" if cfg.task == "classification" and
                     cfg.label_smoothing else "train")
            if plot_curves(history, os.path.join(out, "curves.png"), cfg.task, label):
                written.add("curves.png")
                if any("grad_stats" in r for r in history) and \
                        plot_grad_stats(history, os.path.join(out, "grad_stats.png")):
                    written.add("grad_stats.png")
            else:
                say("plot skipped: matplotlib is not installed (pip install 'gpugrad[train]')")
        files = [f for f in RUN_FILES if f in written]
    result["files"] = [os.path.join(out, f) for f in files]
    if best is not None:
        what = (f"best test accuracy {100 * best[score_key]:.2f}%" if higher_better
                else f"best test R^2 {best[score_key]:.4f}")
        log(f"{what} (epoch {best['epoch']})" + (
            "; " + describe_written(out, written, copied_from, best["epoch"]) if out else ""))
    return result


def _metrics(cfg, history, best, dev, model, t_run, complete, stats=None):
    m = {"config": cfg.to_dict(), "epochs": history, "best": best, "complete": complete,
         "device": str(dev), "num_parameters": model.num_parameters(),
         "total_time_s": time.perf_counter() - t_run}
    if stats is not None:
        m["grad_stats"] = stats.settings()
    return m


# ---------------------------------------------------------------- `gpugrad train`
def add_parser(subparsers) -> None:
    """Register ``gpugrad train`` (called by :mod:`gpugrad.tools.cli`)."""
    d = TrainConfig()
    p = subparsers.add_parser(
        "train", help="train an MLP on digits, MNIST or a synthetic problem",
        description="Train an MLP of fused layers; writes checkpoints, metrics.json and a "
                    "plot to --out.", argument_default=argparse.SUPPRESS)
    a = p.add_argument
    a("--dataset", choices=DATASETS, help=f"dataset (default {d.dataset}; mnist needs "
                                          f"pip install 'gpugrad[mnist]')")
    a("--samples", type=int, help=f"synthetic: number of samples (default {d.samples})")
    a("--features", type=int, help=f"synthetic: number of features (default {d.features})")
    a("--classes", type=int, help=f"synthetic: number of classes (default {d.classes})")
    a("--task", choices=("classification", "regression"), help="synthetic: the task")
    a("--test-size", type=float, help=f"held-out fraction (default {d.test_size})")
    a("--hidden", type=int, nargs="*", metavar="N", help="hidden layer sizes (default 256 256)")
    a("--activation", choices=nn.ACTIVATION_NAMES, help=f"activation (default {d.activation})")
    a("--dropout", type=float, help="dropout probability after hidden layers (default 0)")
    a("--optimizer", choices=OPTIMIZERS, help=f"optimizer (default {d.optimizer})")
    a("--lr", type=float, help="learning rate (default: sgd 0.05, adam/adamw 0.001)")
    a("--momentum", type=float, help=f"sgd momentum (default {d.momentum})")
    a("--nesterov", action="store_true", help="sgd: Nesterov momentum")
    a("--weight-decay", type=float, help="weight decay (default: 0, adamw 0.01)")
    a("--scheduler", choices=SCHEDULERS, help=f"learning-rate schedule (default {d.scheduler})")
    a("--step-size", type=int, help="step scheduler: epochs per decay (default epochs/3)")
    a("--gamma", type=float, help=f"step/multistep/exponential decay factor (default {d.gamma})")
    a("--milestones", type=int, nargs="+", metavar="E", help="multistep: decay epochs")
    a("--warmup-epochs", type=int, help=f"warmup-cosine: warm-up epochs (default "
                                        f"{d.warmup_epochs})")
    a("--label-smoothing", type=float, help=f"cross-entropy label smoothing (default "
                                          f"{d.label_smoothing})")
    a("--epochs", type=int, help=f"number of epochs (default {d.epochs})")
    a("--batch-size", type=int, help="minibatch size (default: digits and mnist 64, "
                                     "synthetic 256)")
    a("--device", help="cpu, cuda or cuda:N (default cpu)")
    a("--dtype", choices=("float32", "float64"), help="parameter dtype (default float32)")
    a("--precision", choices=amp.PRECISIONS,
      help="fp32 (default); tf32: TF32 products on CUDA; bf16 (CPU, needs ml_dtypes) or fp16: "
           "autocast with float32 master weights, fp16 with dynamic loss scaling")
    a("--seed", type=int, help=f"random seed (default {d.seed})")
    a("--out", help=f"output folder; {{dataset}} and {{time}} are filled in, an existing "
                    f"name gets -2, -3, ... (default {DEFAULT_OUT}: a new "
                    f"folder per run); a folder holding another run is refused")
    a("--overwrite", action="store_true",
      help="replace the run already in --out (its checkpoints, metrics and plots are removed)")
    a("--resume", metavar="CHECKPOINT",
      help="continue the run saved in CHECKPOINT (into its folder unless --out is given); "
           "--epochs, --lr, --weight-decay and --batch-size may change")
    a("--extend-schedule", action="store_true",
      help="with --resume and another --epochs: re-plan a cosine schedule for the new "
           "number of epochs (without it such a resume is refused)")
    a("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    a("--no-progress", dest="progress", action="store_false", help="no progress bars")
    a("--no-plot", dest="plot", action="store_false", help="do not draw curves.png (nor grad_stats.png)")
    a("--grad-stats", action=argparse.BooleanOptionalAction,
      help="record per-layer gradient norms, update/weight ratios and dead-ReLU fractions "
           "each epoch in metrics.json and draw grad_stats.png (default off; a --resume keeps "
           "the checkpoint's choice unless given)")
    a("--compile", action="store_true",
      help="record the training step once per batch shape and replay it (gpugrad.compile: "
           "same results, less Python per step; not with --detect-anomaly or --grad-stats)")
    a("--detect-anomaly", action=argparse.BooleanOptionalAction,
      help="train with autograd's anomaly mode on (slower): the first NaN/Inf an op makes, "
           "forward or backward, ends the run with a report of that op and where it was "
           "called (default off; a --resume keeps the checkpoint's choice unless given)")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``gpugrad train`` from parsed arguments; returns the exit status."""
    given = {k.replace("-", "_"): v for k, v in vars(args).items()
             if k not in ("command", "run")}

    def prepare():
        _require_device(given.get("device", "cpu"))
        if given.get("resume"):
            try:
                checkpoint = io.load(given["resume"], map_location="cpu")
            except (OSError, ValueError) as exc:       # missing, unreadable, not a checkpoint
                raise type(exc)(f"--resume: {exc}") from None
            cfg = resume_config(checkpoint, **given)   # fit() refuses changes that break it
        else:
            cfg, checkpoint = TrainConfig(**given), None
        check_options(given, cfg)                      # options that cannot apply: refused
        return cfg, checkpoint

    with one_line_warnings():         # TrainWarning: "gpugrad train: warning: ..."
        # under mpiexec every rank joins the job first: an error on any rank then ends them all
        cfg, checkpoint = agree(prepare)
        try:
            fit(cfg, checkpoint=checkpoint)
        except Exception as exc:
            # a diverged run (NaN/Inf epoch loss), or --detect-anomaly's report of the op that
            # made a NaN/Inf: one line, exit status 1, not this loop's own traceback
            anomaly_error = getattr(autograd, "AnomalyError", None)
            stops = (DivergedError,) + ((anomaly_error,) if anomaly_error else ())
            if not isinstance(exc, stops) or os.environ.get("GPUGRAD_DEBUG"):
                raise
            if report_error(f"gpugrad train: {exc}", exc):      # in a job: aborts every rank
                sys.stderr.write(f"gpugrad train: {exc}\n")
            return 1
    return 0
