"""``TrainConfig`` -- every option of a training run -- and the builders that turn one into a
model, an optimizer and a learning-rate schedule (used by :mod:`gpugrad.tools.train`).

>>> cfg = TrainConfig(hidden=[32], optimizer="adam", scheduler="warmup-cosine", epochs=10)
>>> model = build_model(cfg, 64, 10)
>>> opt = build_optimizer(cfg, model.parameters())
>>> type(opt).__name__, type(build_scheduler(cfg, opt)).__name__
('Adam', 'SequentialLR')
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from gpugrad import backend, nn, optim
from gpugrad.datasets import DATASETS

__all__ = ["TrainConfig", "build_model", "build_optimizer", "build_scheduler", "OPTIMIZERS",
           "SCHEDULERS", "DEFAULT_LR", "DEFAULT_BATCH_SIZE", "RUN_FIELDS", "RESUME_TUNABLE",
           "EPOCH_SCHEDULERS", "DEFAULT_OUT", "anomaly_api", "option"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "step", "multistep", "exponential", "cosine", "warmup-cosine")
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}
DEFAULT_BATCH_SIZE = {"digits": 64, "mnist": 64, "synthetic": 256}
# each run gets its own folder by default: {dataset} and {time} (YYYYmmdd-HHMMSS) are filled in
DEFAULT_OUT = "runs/{dataset}-{time}"
# fields a resumed run may change; every other field must match the checkpoint's
# (grad_stats and detect_anomaly only observe the run: turning them on or off at a resume
# leaves its numbers unchanged, so a run that went wrong can be resumed with them on)
RUN_FIELDS = ("epochs", "out", "device", "quiet", "progress", "plot", "eval_batch_size",
              "resume", "grad_stats", "detect_anomaly", "overwrite", "extend_schedule",
              "compile")
# hyper-parameters a resumed run may change, from the resume on: lr scales the whole
# learning-rate schedule (every later epoch gets the lr a run started with the new value has),
# weight_decay and batch_size apply from the next step
RESUME_TUNABLE = ("lr", "weight_decay", "batch_size")
# schedules whose shape depends on --epochs (a resume that changes it must say how)
EPOCH_SCHEDULERS = ("cosine", "warmup-cosine")


@dataclass
class TrainConfig:
    """Everything a training run depends on (the CLI's options, one field each).

    ``lr=None`` / ``weight_decay=None`` take the optimizer's default (sgd: 0.05 and 0;
    adam: 1e-3 and 0; adamw: 1e-3 and 0.01); ``batch_size=None`` the dataset's (digits and
    mnist 64, synthetic 256); ``step_size``/``milestones=None`` follow ``epochs``.
    :meth:`resolved` fills every such default in (checkpoints store that form).
    ``out``: the run's folder; ``{dataset}`` and ``{time}`` in it are filled in (the default
    gives every run its own folder), None writes nothing.  A folder that already holds a run
    is refused unless ``overwrite`` (replace it) or it is the folder of ``resume``.
    ``extend_schedule``: a resume that changes ``epochs`` re-plans a cosine schedule for the
    new length (else it is refused).  ``grad_stats`` records per-layer gradient statistics
    each epoch (:mod:`gpugrad.tools.train.grad_stats`); ``detect_anomaly`` runs with autograd's anomaly
    mode on.

    >>> TrainConfig().dataset, TrainConfig().hidden, TrainConfig(optimizer="adam").resolved_lr
    ('digits', [256, 256], 0.001)
    """
    dataset: str = "digits"
    samples: int = 10000
    features: int = 64
    classes: int = 10
    task: str = "classification"
    test_size: float = 0.2
    hidden: list = field(default_factory=lambda: [256, 256])
    activation: str = "relu"
    dropout: float = 0.0
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float | None = None
    scheduler: str = "cosine"
    step_size: int | None = None
    gamma: float = 0.1
    milestones: list | None = None
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    epochs: int = 20
    batch_size: int | None = None
    eval_batch_size: int = 4096
    device: str = "cpu"
    dtype: str = "float32"
    precision: str = "fp32"  # fp32, tf32, bf16, fp16: see gpugrad.amp.precision
    seed: int = 0
    out: str | None = DEFAULT_OUT
    resume: str | None = None
    overwrite: bool = False
    extend_schedule: bool = False
    quiet: bool = False
    progress: bool = True
    plot: bool = True
    grad_stats: bool = False
    detect_anomaly: bool = False
    compile: bool = False    # replay a recorded step (gpugrad.compile): the same numbers

    @property
    def resolved_lr(self) -> float:
        """The learning rate to use (``lr`` or the optimizer's default)."""
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    @property
    def resolved_batch_size(self) -> int:
        """The batch size to use (``batch_size`` or the dataset's default)."""
        if self.batch_size is not None:
            return self.batch_size
        return DEFAULT_BATCH_SIZE[self.dataset]

    @property
    def resolved_weight_decay(self) -> float:
        """The weight decay to use (``weight_decay`` or the optimizer's default)."""
        if self.weight_decay is not None:
            return self.weight_decay
        return 0.01 if self.optimizer == "adamw" else 0.0

    @property
    def resolved_step_size(self) -> int | None:
        """The step scheduler's epochs per decay (``step_size`` or a third of ``epochs``)."""
        if self.step_size is not None or self.scheduler != "step":
            return self.step_size
        return max(1, self.epochs // 3)

    @property
    def resolved_milestones(self) -> list | None:
        """The multistep scheduler's decay epochs (``milestones`` or 1/2 and 3/4 of epochs)."""
        if self.milestones is not None or self.scheduler != "multistep":
            return self.milestones
        return sorted({max(1, self.epochs // 2), max(1, 3 * self.epochs // 4)})

    def resolved(self) -> "TrainConfig":
        """A copy with every default that depends on other fields filled in (lr,
        weight_decay, batch_size, step_size, milestones): what checkpoints store, so a
        resume neither depends on nor trips over how the defaults were written.

        >>> TrainConfig(dataset="synthetic", scheduler="step", epochs=9).resolved().step_size
        3
        >>> TrainConfig().resolved().lr, TrainConfig().resolved().batch_size
        (0.05, 64)
        """
        return dataclasses.replace(
            self, lr=self.resolved_lr, weight_decay=self.resolved_weight_decay,
            batch_size=self.resolved_batch_size, step_size=self.resolved_step_size,
            milestones=self.resolved_milestones)

    def to_dict(self) -> dict:
        """All fields as a JSON-friendly dict (stored in checkpoints and metrics.json)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The inverse of :meth:`to_dict`; unknown fields are an error.

        >>> TrainConfig.from_dict(TrainConfig(epochs=3).to_dict()).epochs
        3
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown configuration fields {unknown}")
        return cls(**d)

    def validate(self) -> "TrainConfig":
        """Raise ValueError naming the first bad field by its command-line option
        (``--test-size`` for ``test_size``); return self.

        >>> TrainConfig(dropout=2.0).validate()
        Traceback (most recent call last):
        ...
        ValueError: invalid --dropout 2.0; expected a value in [0, 1)
        """
        def choice(name, options):
            v = getattr(self, name)
            if v not in options:
                raise ValueError(f"invalid {option(name)} {v!r}; expected one of "
                                 f"{', '.join(options)}")
        choice("dataset", DATASETS)
        choice("task", ("classification", "regression"))
        choice("optimizer", OPTIMIZERS)
        choice("scheduler", SCHEDULERS)
        choice("activation", nn.ACTIVATION_NAMES)
        choice("dtype", ("float32", "float64"))
        choice("precision", ("fp32", "tf32", "bf16", "fp16"))  # gpugrad.amp.PRECISIONS
        for name in ("samples", "features", "epochs", "resolved_batch_size", "eval_batch_size"):
            v = getattr(self, name)
            if not _is_int(v, 1):
                raise ValueError(f"invalid {option(name)} {v!r}; expected an int >= 1")
        if not _is_int(self.seed, 0):
            raise ValueError(f"invalid {option('seed')} {self.seed!r}; expected an int >= 0")
        if self.task == "classification" and not _is_int(self.classes, 2):
            raise ValueError(f"invalid {option('classes')} {self.classes!r}; expected an "
                             f"int >= 2")
        if any(not _is_int(h, 1) for h in self.hidden):
            raise ValueError(f"invalid {option('hidden')} sizes {self.hidden!r}; expected "
                             f"ints >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"invalid {option('dropout')} {self.dropout!r}; expected a value "
                             f"in [0, 1)")
        if not 0.0 < self.test_size < 1.0:
            raise ValueError(f"invalid {option('test_size')} {self.test_size!r}; expected a "
                             f"value in (0, 1)")
        if self.dataset == "synthetic" and \
                max(1, round(self.samples * self.test_size)) >= self.samples:
            raise ValueError(f"invalid {option('test_size')} {self.test_size!r} with "
                             f"{option('samples')} {self.samples}: it leaves no training samples")
        for name in ("resolved_lr", "momentum", "resolved_weight_decay", "label_smoothing",
                     "gamma"):
            v = getattr(self, name)
            if not v >= 0:
                raise ValueError(f"invalid {option(name)} {v!r}; expected >= 0")
        if not self.label_smoothing <= 1:
            raise ValueError(f"invalid {option('label_smoothing')} {self.label_smoothing!r}; "
                             f"expected a value in [0, 1]")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise ValueError("--nesterov needs --optimizer sgd with a --momentum > 0")
        if self.scheduler == "warmup-cosine" and not 0 < self.warmup_epochs < self.epochs:
            raise ValueError(f"invalid {option('warmup_epochs')} {self.warmup_epochs!r}; "
                             f"expected 0 < --warmup-epochs < --epochs ({self.epochs})")
        if self.step_size is not None and not _is_int(self.step_size, 1):
            raise ValueError(f"invalid {option('step_size')} {self.step_size!r}; expected an "
                             f"int >= 1")
        if self.milestones is not None and any(not _is_int(m, 1) for m in self.milestones):
            raise ValueError(f"invalid {option('milestones')} {self.milestones!r}; expected "
                             f"ints >= 1")
        if self.out is not None:
            try:
                self.out.format(dataset="", time="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"invalid {option('out')} {self.out!r}: the only placeholders "
                                 f"are {{dataset}} and {{time}} ({type(exc).__name__}: {exc})"
                                 ) from None
        for name in ("grad_stats", "detect_anomaly", "overwrite", "extend_schedule", "compile"):
            v = getattr(self, name)
            if not isinstance(v, bool):      # (the command line only ever gives bools)
                raise ValueError(f"invalid {name} {v!r}; expected True or False")
        for name in ("grad_stats", "detect_anomaly"):
            if self.compile and getattr(self, name):
                raise ValueError(f"--compile cannot be combined with {option(name)}: a "
                                 f"recorded step is replayed, not run op by op; drop one")
        if self.detect_anomaly:
            anomaly_api()
        try:
            dev = backend.device(self.device)
        except ValueError as exc:
            raise ValueError(f"invalid {option('device')} {self.device!r}: {exc}") from None
        if self.compile and self.precision == "bf16" and dev.type == "cuda":
            raise ValueError("--compile cannot be combined with --precision bf16 on CUDA: "
                             "autocast bfloat16 on CUDA cannot be captured yet; use --precision "
                             "fp16 or drop --compile")
        return self


def option(name: str) -> str:
    """The command-line option of a :class:`TrainConfig` field, for messages.

    >>> option("test_size"), option("resolved_lr"), option("eval_batch_size")
    ('--test-size', '--lr', 'eval_batch_size')
    """
    name = name.replace("resolved_", "")
    return name if name in _NOT_OPTIONS else "--" + name.replace("_", "-")


_NOT_OPTIONS = ("eval_batch_size",)     # fields without a command-line option


def _is_int(v, minimum):
    return not isinstance(v, bool) and isinstance(v, int) and v >= minimum


def anomaly_api():
    """``(set_detect_anomaly, is_anomaly_enabled or None)`` from :mod:`gpugrad.autograd`;
    ValueError when this gpugrad has no anomaly mode (``detect_anomaly`` cannot be honoured).
    """
    import importlib

    from gpugrad import autograd

    setter = getattr(autograd, "set_detect_anomaly", None)
    if not callable(setter):
        raise ValueError("detect_anomaly (--detect-anomaly) needs autograd's anomaly mode, "
                         "gpugrad.autograd.set_detect_anomaly, which this gpugrad does not have")
    getter = getattr(autograd, "is_anomaly_enabled", None)
    if not callable(getter):
        try:
            getter = getattr(importlib.import_module("gpugrad.anomaly"), "is_anomaly_enabled",
                             None)
        except ImportError:
            getter = None
    return setter, (getter if callable(getter) else None)


# ---------------------------------------------------------------- building blocks
def build_model(cfg: TrainConfig, n_in: int, n_out: int):
    """The MLP of a configuration (fused hidden layers), on its device and dtype.

    >>> build_model(TrainConfig(hidden=[32]), 64, 10).sizes
    (64, 32, 10)
    """
    sizes = [n_in, *cfg.hidden, n_out]
    return nn.MLP(sizes, activation=cfg.activation, dropout=cfg.dropout, device=cfg.device,
                  dtype=cfg.dtype)


def build_optimizer(cfg: TrainConfig, params):
    """The optimizer a configuration names, with its hyper-parameters.

    >>> build_optimizer(TrainConfig(optimizer="adamw"), build_model(TrainConfig(), 4, 2)
    ...                 .parameters()).param_groups[0]["weight_decay"]
    0.01
    """
    lr, wd = cfg.resolved_lr, cfg.resolved_weight_decay
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                         weight_decay=wd)
    cls = optim.Adam if cfg.optimizer == "adam" else optim.AdamW
    return cls(params, lr=lr, weight_decay=wd)


def build_scheduler(cfg: TrainConfig, opt):
    """The per-epoch learning-rate schedule a configuration names (None for "none").

    >>> cfg = TrainConfig(scheduler="warmup-cosine", epochs=10)
    >>> type(build_scheduler(cfg, build_optimizer(cfg, build_model(cfg, 4, 2).parameters()))
    ...      ).__name__
    'SequentialLR'
    """
    s, E = cfg.scheduler, cfg.epochs
    if s == "none":
        return None
    if s == "step":
        return optim.StepLR(opt, step_size=cfg.resolved_step_size, gamma=cfg.gamma)
    if s == "multistep":
        return optim.MultiStepLR(opt, milestones=list(cfg.resolved_milestones), gamma=cfg.gamma)
    if s == "exponential":
        return optim.ExponentialLR(opt, gamma=cfg.gamma)
    if s == "cosine":
        return optim.CosineAnnealingLR(opt, T_max=E)
    w = cfg.warmup_epochs
    warm = optim.LinearLR(opt, start_factor=0.1, total_iters=w)
    return optim.SequentialLR(opt, [warm, optim.CosineAnnealingLR(opt, T_max=E - w)], [w])
