"""Resuming a ``gpugrad train`` run from its checkpoint: what may change, and how.

* Run fields (:data:`~gpugrad.tools.train.config.RUN_FIELDS`: epochs, out, device, quiet, ...)
  may change freely, except that a schedule shaped by ``epochs`` (cosine, warmup-cosine)
  is never silently stretched: another ``--epochs`` is refused unless ``extend_schedule``
  is set, which re-plans it for the new length -- from the resume on, every epoch gets the
  learning rate a run planned for the new length has (so the rate may jump once, up or
  down, at the resume; it then anneals to 0 at the new last epoch).  Step, multistep and
  exponential schedules do not depend on ``epochs`` (step size and milestones are stored
  resolved) and simply continue.
* ``lr``, ``weight_decay`` and ``batch_size`` (:data:`~gpugrad.tools.train.config.RESUME_TUNABLE`)
  may change: a new ``lr`` scales the whole schedule from the resume on (each later epoch
  gets the rate a run started with that lr has), the others apply from the next step.
* Everything else must match the checkpoint (compared after defaults are resolved, so
  ``--lr 0.05`` matches a run that used the default 0.05).

>>> from gpugrad.tools.train.config import TrainConfig
>>> ck = {"format": "gpugrad-train", "epoch": 1, "config": TrainConfig().to_dict()}
>>> resume_config(ck, lr=0.01).lr, resume_config(ck).batch_size
(0.01, 64)
"""
from __future__ import annotations

import copy
import dataclasses
import math

import os

from gpugrad.tools.train.config import EPOCH_SCHEDULERS, RESUME_TUNABLE, RUN_FIELDS, TrainConfig, option

__all__ = ["check_resume", "resume_config", "adjust_checkpoint"]

_CHECKPOINT_KEYS = ("epoch", "config", "model", "optimizer", "scheduler", "rng", "history", "best")
_NOT_A_RUN = "the --resume file is a checkpoint but not of a `gpugrad train` run"


def _saved_config(ckpt) -> TrainConfig:
    if not isinstance(ckpt, dict) or ckpt.get("format") != "gpugrad-train" or \
            not isinstance(ckpt.get("config"), dict):
        raise ValueError(_NOT_A_RUN)
    return TrainConfig.from_dict(ckpt["config"]).resolved()


def resume_config(ckpt, **overrides) -> TrainConfig:
    """The (resolved) configuration of a saved run with ``overrides`` applied;
    ``overwrite`` and ``extend_schedule`` start off (they are choices of one invocation).
    Without an ``out`` override, a resume (``resume=PATH``) writes into the folder holding
    PATH -- never into the ``out`` the checkpoint recorded, which was relative to wherever
    that run was started and may name another run's folder from here.
    :func:`check_resume` refuses overrides that would change the run.

    >>> from gpugrad.tools.train.config import TrainConfig
    >>> resume_config({"format": "gpugrad-train", "config": TrainConfig().to_dict()},
    ...               epochs=5).epochs
    5
    """
    saved = dataclasses.replace(_saved_config(ckpt), overwrite=False, extend_schedule=False)
    if "out" not in overrides and overrides.get("resume"):
        overrides = dict(overrides, out=os.path.dirname(overrides["resume"]) or os.curdir)
    return dataclasses.replace(saved, **overrides)


def _schedule_message(saved, cfg, at):
    what = (f"it reaches 0 at epoch {saved.epochs} and would climb back up after it"
            if cfg.epochs > saved.epochs else f"it would stop before its end at epoch "
                                                f"{saved.epochs}")
    return (f"cannot resume with --epochs {cfg.epochs}: this run's {saved.scheduler} "
            f"learning-rate schedule was planned for {saved.epochs} epochs ({what}); add "
            f"--extend-schedule to re-plan it for {cfg.epochs} epochs from epoch {at + 1} on, "
            f"or resume with --epochs {saved.epochs}")


def check_resume(cfg: TrainConfig, ckpt) -> None:
    """Raise ValueError unless ``cfg`` can continue the run saved in ``ckpt`` (the rules in
    this module's docstring).

    >>> from gpugrad.tools.train.config import TrainConfig
    >>> ck = {"format": "gpugrad-train", "epoch": 1, "config": TrainConfig().to_dict()}
    >>> ck.update(model={}, optimizer={}, scheduler=None, rng={}, history=[], best=None)
    >>> check_resume(TrainConfig(epochs=20, lr=0.01), ck)
    >>> check_resume(TrainConfig(hidden=[8]), ck)
    Traceback (most recent call last):
    ...
    ValueError: cannot resume with a different configuration: --hidden (checkpoint [256, 256], ...
    >>> check_resume(TrainConfig(epochs=30), ck)
    Traceback (most recent call last):
    ...
    ValueError: cannot resume with --epochs 30: this run's cosine learning-rate schedule ...
    """
    saved = _saved_config(ckpt)
    missing = sorted(set(_CHECKPOINT_KEYS) - set(ckpt))
    if missing:
        raise ValueError(f"the --resume checkpoint lacks {missing}")
    cfg = cfg.resolved()
    diffs = [f"{option(f.name)} (checkpoint {getattr(saved, f.name)!r}, now "
             f"{getattr(cfg, f.name)!r})" for f in dataclasses.fields(cfg)
             if f.name not in RUN_FIELDS + RESUME_TUNABLE and
             getattr(saved, f.name) != getattr(cfg, f.name)]
    if diffs:
        raise ValueError("cannot resume with a different configuration: " + "; ".join(diffs))
    at = ckpt["epoch"]
    if at > cfg.epochs:
        raise ValueError(f"the checkpoint is at epoch {at}, past --epochs {cfg.epochs}")
    if cfg.epochs != saved.epochs and cfg.scheduler in EPOCH_SCHEDULERS and \
            not cfg.extend_schedule:
        raise ValueError(_schedule_message(saved, cfg, at))
    if cfg.lr != saved.lr and saved.lr == 0:
        raise ValueError(f"cannot resume with --lr {cfg.lr}: the run's learning rate was 0, "
                         f"so its schedule cannot be scaled")


# ---------------------------------------------------------------- applying the changes
def _scale_schedule(sd, ratio):
    for key in ("base_lrs", "_last_lr"):
        if isinstance(sd.get(key), list):
            sd[key] = [v * ratio for v in sd[key]]
    for sub in sd.get("_schedulers") or []:
        _scale_schedule(sub, ratio)


def _cosine_at(sd, epoch, T):
    lo = sd.get("eta_min", 0.0)
    return [lo + (b - lo) * (1 + math.cos(math.pi * epoch / T)) / 2 for b in sd["base_lrs"]]


def _replan(sched, cfg):
    """Re-plan a cosine / warmup-cosine state dict for ``cfg.epochs``; the new lrs or None."""
    if cfg.scheduler == "cosine":
        sched["T_max"] = cfg.epochs
        lrs = _cosine_at(sched, sched["last_epoch"], cfg.epochs)
        sched["_last_lr"] = lrs
        return lrs
    w = cfg.warmup_epochs
    cosine = sched["_schedulers"][1]
    cosine["T_max"] = cfg.epochs - w
    if sched["last_epoch"] < w:          # still warming up: the cosine part starts later
        return None
    lrs = _cosine_at(cosine, cosine["last_epoch"], cfg.epochs - w)
    cosine["_last_lr"] = sched["_last_lr"] = lrs
    return lrs


def adjust_checkpoint(cfg: TrainConfig, ckpt):
    """``(checkpoint, notes)``: a copy of ``ckpt`` with its optimizer and scheduler states
    changed as ``cfg`` asks (lr, weight_decay, a re-planned schedule), and one line per
    change for the log.  ``ckpt`` itself is left as it is; call :func:`check_resume` first.

    >>> from gpugrad.tools.train.config import TrainConfig
    >>> ck = {"format": "gpugrad-train",
    ...       "config": TrainConfig(dataset="synthetic", scheduler="none").to_dict(),
    ...       "optimizer": {"state": {}, "param_groups": [{"lr": 0.05, "params": [0]}]},
    ...       "scheduler": None, "epoch": 2}
    >>> new, notes = adjust_checkpoint(TrainConfig(dataset="synthetic", scheduler="none",
    ...                                            lr=0.01), ck)
    >>> new["optimizer"]["param_groups"][0]["lr"], notes
    (0.01, ['lr 0.01 instead of 0.05 from epoch 3 on (the schedule scales by 0.2)'])
    """
    saved, cfg = _saved_config(ckpt), cfg.resolved()
    ckpt = dict(ckpt)
    opt = dict(ckpt["optimizer"])                 # the states (tensors) are shared, not copied
    opt["param_groups"] = [dict(g) for g in opt["param_groups"]]
    sched = copy.deepcopy(ckpt["scheduler"])
    groups, notes, at = opt["param_groups"], [], ckpt["epoch"] + 1
    if cfg.lr != saved.lr:
        ratio = cfg.lr / saved.lr
        for g in groups:
            g["lr"] *= ratio
            if "initial_lr" in g:
                g["initial_lr"] *= ratio
        if sched is not None:
            _scale_schedule(sched, ratio)
        notes.append(f"lr {cfg.lr:g} instead of {saved.lr:g} from epoch {at} on (the "
                     f"schedule scales by {ratio:g})")
    if cfg.weight_decay != saved.weight_decay:
        for g in groups:
            g["weight_decay"] = cfg.weight_decay
        notes.append(f"weight decay {cfg.weight_decay:g} instead of {saved.weight_decay:g} "
                     f"from epoch {at} on")
    if cfg.batch_size != saved.batch_size:
        notes.append(f"batch size {cfg.batch_size} instead of {saved.batch_size} from epoch "
                     f"{at} on")
    if sched is not None and cfg.epochs != saved.epochs and cfg.scheduler in EPOCH_SCHEDULERS:
        before = [g["lr"] for g in groups]
        lrs = _replan(sched, cfg)
        if lrs is not None:
            for g, lr in zip(groups, lrs):
                g["lr"] = lr
        now = [g["lr"] for g in groups]
        notes.append(f"{cfg.scheduler} schedule re-planned for {cfg.epochs} epochs instead "
                     f"of {saved.epochs}: lr {before[0]:.4g} -> {now[0]:.4g} at epoch {at}, "
                     f"annealing to 0 at epoch {cfg.epochs}")
    ckpt["optimizer"], ckpt["scheduler"] = opt, sched
    return ckpt, notes
