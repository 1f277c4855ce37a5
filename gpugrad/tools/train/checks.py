"""Checks ``gpugrad train`` makes before and while a run: options that do not apply to the
run (refused, or a warning where they merely have no effect), a diverging run (stopped at
its first non-finite epoch loss), and a ``--compile`` that cannot record the run's step.

>>> from gpugrad.tools.train.config import TrainConfig
>>> check_options({"samples": 500}, TrainConfig(dataset="digits"))
Traceback (most recent call last):
...
ValueError: --samples applies to --dataset synthetic only (digits has a fixed size)
"""
from __future__ import annotations

import contextlib
import math
import sys
import warnings

__all__ = ["TrainWarning", "DivergedError", "check_options", "check_finite",
           "compile_errors_named", "one_line_warnings"]


class TrainWarning(UserWarning):
    """An option that has no effect on this run (``gpugrad train`` prints it as one line)."""


class DivergedError(FloatingPointError):
    """An epoch's training or test loss is NaN or infinite: the run stops there.

    >>> check_finite(3, float("nan"), 1.0, 0.5, None)
    Traceback (most recent call last):
    ...
    gpugrad.tools.train.checks.DivergedError: epoch 3: the training loss is nan: the run ...
    """


_RULES = (  # (field, applies(cfg), why it does not) -- a given option that does not apply
    ("samples", lambda c: c.dataset == "synthetic",
     "--samples applies to --dataset synthetic only ({dataset} has a fixed size)"),
    ("features", lambda c: c.dataset == "synthetic",
     "--features applies to --dataset synthetic only ({dataset} has its own features)"),
    ("classes", lambda c: c.dataset == "synthetic",
     "--classes applies to --dataset synthetic only ({dataset} has 10 classes)"),
    ("task", lambda c: c.dataset == "synthetic",
     "--task applies to --dataset synthetic only ({dataset} is a classification task)"),
    ("classes", lambda c: c.task == "classification",
     "--classes applies to --task classification only"),
    ("label_smoothing", lambda c: c.task == "classification",
     "--label-smoothing applies to --task classification only (regression uses MSE)"),
    ("momentum", lambda c: c.optimizer == "sgd",
     "--momentum applies to --optimizer sgd only ({optimizer} has no momentum option)"),
    ("step_size", lambda c: c.scheduler == "step",
     "--step-size applies to --scheduler step only (this run's is {scheduler})"),
    ("milestones", lambda c: c.scheduler == "multistep",
     "--milestones applies to --scheduler multistep only (this run's is {scheduler})"),
    ("gamma", lambda c: c.scheduler in ("step", "multistep", "exponential"),
     "--gamma applies to --scheduler step, multistep or exponential only (this run's is "
     "{scheduler})"),
    ("warmup_epochs", lambda c: c.scheduler == "warmup-cosine",
     "--warmup-epochs applies to --scheduler warmup-cosine only (this run's is {scheduler})"),
)


def check_options(given, cfg) -> None:
    """Refuse command-line options that would not change the run ``cfg`` describes.

    ``given``: the options given on the command line (field name -> value); ``cfg``: the
    run's :class:`~gpugrad.tools.train.config.TrainConfig` (for a resume, the checkpoint's with
    ``given`` applied).  Raises ValueError (one line naming the option and what it needs)
    for an option a user gives expecting an effect it cannot have (``--samples`` with
    digits, ``--momentum`` with adam, ``--gamma`` with a cosine schedule, ...); warns
    (:class:`TrainWarning`) for ``--extend-schedule`` where it has nothing to re-plan.

    >>> from gpugrad.tools.train.config import TrainConfig
    >>> check_options({"momentum": 0.5}, TrainConfig(optimizer="sgd"))
    """
    for name, applies, why in _RULES:
        if name in given and not applies(cfg):
            raise ValueError(why.format(**vars(cfg)))
    if given.get("extend_schedule"):
        from gpugrad.tools.train.config import EPOCH_SCHEDULERS
        if not cfg.resume:
            _warn("--extend-schedule has no effect without --resume (it re-plans a resumed "
                  "run's cosine schedule for another --epochs)")
        elif cfg.scheduler not in EPOCH_SCHEDULERS:
            _warn(f"--extend-schedule has no effect: the {cfg.scheduler} schedule does not "
                  f"depend on --epochs")


def _warn(message):
    warnings.warn(message, TrainWarning, stacklevel=3)


@contextlib.contextmanager
def one_line_warnings(prog="gpugrad train"):
    """Within the block, every :class:`TrainWarning` is printed to stderr as one line,
    ``PROG: warning: MESSAGE`` (no source location); other warnings are shown as before."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", TrainWarning)
        show = warnings.showwarning

        def showwarning(message, category, *args, **kwargs):
            if issubclass(category, TrainWarning):
                sys.stderr.write(f"{prog}: warning: {message}\n")
            else:
                show(message, category, *args, **kwargs)
        warnings.showwarning = showwarning
        yield


def check_finite(epoch, train_loss, test_loss, lr, kept) -> None:
    """Raise :class:`DivergedError` (one line) when epoch ``epoch``'s training or test loss
    is NaN or infinite: it names the epoch and the value, suggests a lower ``--lr`` than
    ``lr``, and says what was kept (``kept``: the checkpoint of the last finite epoch, or
    None when none was written)."""
    if math.isfinite(train_loss) and math.isfinite(test_loss):
        return
    which, value = (("training", train_loss) if not math.isfinite(train_loss) else
                    ("test", test_loss))
    kept_text = (f"{kept} holds epoch {epoch - 1}, the last finite one" if kept else
                 "no checkpoint of this run was written")
    raise DivergedError(f"epoch {epoch}: the {which} loss is {value}: the run diverged at "
                        f"learning rate {lr:g}; try a lower --lr (a tenth, say); {kept_text}")


def compile_errors_named(step, cfg):
    """``step`` (a compiled training step, or None) with the CaptureError a step that cannot
    be recorded raises turned into a ValueError naming ``--compile`` and the options that
    may be why (a command-line refusal: one line, exit status 2)."""
    if step is None:
        return None
    from gpugrad.capture_hooks import CaptureError

    suspects = []
    if cfg.dropout:
        suspects.append(f"--dropout {cfg.dropout:g}")
    if cfg.precision in ("bf16", "fp16"):
        suspects.append(f"--precision {cfg.precision}")
    with_ = f" with {' '.join(suspects)}" if suspects else ""

    def checked(x, y):
        try:
            return step(x, y)
        except CaptureError as exc:
            raise ValueError(f"--compile cannot record this run's training step{with_}: "
                             f"{exc}; train without --compile") from exc
    return checked
