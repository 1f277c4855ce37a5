"""What ``gpugrad train`` needs to run data-parallel under ``mpiexec``.

:func:`training_session` returns None for a single process (nothing changes), else a
:class:`TrainingSession` that gives this rank its device (``cuda`` -> ``cuda:{local_rank}``),
shards the training set (:class:`~gpugrad.distributed.DistributedDataLoader`, the batch size
is per rank) and the test set (contiguous, disjoint slices), wraps the model in
:class:`~gpugrad.distributed.DistributedDataParallel`, reduces the training loss and the
evaluation metrics over the ranks, and leaves checkpoints, metrics, the plot and the log to
rank 0.  Every rank reads the ``--resume`` checkpoint (it must be on a path all ranks see).

Checks that can fail on one rank (a ``--resume`` file one rank cannot read, an ``--out``
folder rank 0 refuses) run through :func:`agree`: every rank learns the verdict before any
other collective, the failing rank alone reports it, and every rank ends.  A checkpoint
records how many processes wrote it (its loader state); resuming it with another number is
refused (:func:`check_processes`), as is ``--compile`` (a replayed step skips the gradient
averaging hooks).

>>> training_session(TrainConfig()) is None     # doctest: +SKIP
True
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .. import backend, nn
from ..autograd import no_grad
from ..data import DataLoader
from . import process_group as pg
from .ddp import DistributedDataParallel
from .sampler import DistributedDataLoader

__all__ = ["TrainingSession", "training_session", "agree", "RankError", "check_processes",
           "check_config"]


class RankError(ValueError):
    """Raised by :func:`agree` on the ranks where its check passed, when it failed on another
    (``reported_by_rank``: the rank that reports the error)."""


def agree(check, *args):
    """``check(*args)`` on every rank, with one verdict: under an MPI launcher with several
    ranks (the job is joined first, :func:`~gpugrad.distributed.init`), if it raises on any
    rank, every rank raises -- the lowest failing rank its own exception, the others a
    :class:`RankError` with its message -- each carrying ``reported_by_rank`` (so a command
    line prints it once, :func:`~gpugrad.distributed.report_error`).  Returns what ``check``
    returned.  Outside such a job it just calls ``check``.

    >>> agree(lambda x: x + 1, 1)
    2
    """
    if pg.launched_by_mpi():
        pg.init()
    if pg.get_world_size() < 2:
        return check(*args)
    try:
        result, error = check(*args), None
    except Exception as exc:           # noqa: BLE001 -- every failure must reach the others
        result, error = None, exc
    failed = pg.all_gather(np.array([error is not None], dtype=np.int8))[:, 0]
    if not failed.any():
        return result
    who = int(np.flatnonzero(failed)[0])
    text = np.zeros(0, np.uint8)
    if error is not None and who == pg.get_rank():
        text = np.frombuffer(" ".join(str(error).split()).encode()[:4000], np.uint8)
    size = pg.broadcast(np.array([text.size], np.int64), root=who)
    buf = text.copy() if who == pg.get_rank() else np.zeros(int(size[0]), np.uint8)
    message = pg.broadcast(buf, root=who).tobytes().decode(errors="replace")
    if who == pg.get_rank():
        error.reported_by_rank = who
        raise error
    exc = RankError(f"rank {who}: {message}")
    exc.reported_by_rank = who
    raise exc


def check_processes(checkpoint, size: int) -> None:
    """ValueError unless ``checkpoint`` (a ``gpugrad train`` one) was written by a run of
    ``size`` processes: its data order (each rank's shard, the per-rank batch size) is tied
    to that number.

    >>> check_processes({"rng": {"loader": {"epoch": 3, "num_replicas": 2}}}, 1)
    Traceback (most recent call last):
    ...
    ValueError: --resume: the checkpoint is from a 2-process run (mpiexec -n 2); this run has
    1 process: resume it with mpiexec -n 2
    """
    loader = (checkpoint.get("rng") or {}).get("loader") if isinstance(checkpoint, dict) \
        else None
    if not isinstance(loader, dict):
        return                          # not a training checkpoint: check_resume says so
    saved = int(loader.get("num_replicas", 1)) if "generator" not in loader else 1
    if saved != size:
        how = "mpiexec -n {}".format(saved) if saved > 1 else "one process (no mpiexec)"
        raise ValueError(f"--resume: the checkpoint is from a {saved}-process run"
                         f"{f' (mpiexec -n {saved})' if saved > 1 else ''}; this run has "
                         f"{size} process{'es' if size != 1 else ''}: resume it with {how}")


def check_config(cfg, size: int) -> None:
    """ValueError for what a data-parallel run of ``size`` > 1 processes cannot do."""
    if size > 1 and getattr(cfg, "compile", False):
        raise ValueError(f"--compile cannot be used in a data-parallel run ({size} "
                         f"processes): a recorded step skips the hooks that average the "
                         f"gradients over the ranks; train without --compile")


def training_session(cfg):
    """A :class:`TrainingSession` when launched by an MPI launcher with more than one rank,
    else None (``cfg``: a :class:`~gpugrad.tools.train.config.TrainConfig`)."""
    if not pg.launched_by_mpi():
        return None
    pg.init()
    if pg.get_world_size() < 2:
        return None
    return TrainingSession(cfg)


class TrainingSession:
    """One rank's part of a data-parallel ``gpugrad train`` run (see the module doc)."""

    def __init__(self, cfg):
        self.rank, self.size = pg.get_rank(), pg.get_world_size()
        self.is_main = self.rank == 0
        self.device = pg.default_device(cfg.device)

    def config(self, cfg):
        """``cfg`` for this rank: its own device; no output folder or progress bar but on
        rank 0."""
        changes = {"device": str(self.device)}
        if not self.is_main:
            changes.update(out=None, progress=False)
        return dataclasses.replace(cfg, **changes)

    def log(self, log):
        """``log`` on rank 0, a no-op elsewhere."""
        return log if self.is_main else (lambda msg: None)

    def loaders(self, train: DataLoader, test: DataLoader):
        """(this rank's shard of ``train``, reshuffled each epoch; a contiguous slice of
        ``test``) with the same batch sizes and device."""
        tr = DistributedDataLoader(train.X, train.y, train.batch_size, shuffle=train.shuffle,
                                   drop_last=train.drop_last, seed=train.seed,
                                   device=train.device)
        lo, hi = _slice(test.num_samples, self.rank, self.size)
        te = DataLoader(test.X[lo:hi], None if test.y is None else test.y[lo:hi],
                        test.batch_size, device=test.device)
        return tr, te

    def wrap(self, model):
        """``model`` in :class:`DistributedDataParallel` (parameters from rank 0)."""
        return DistributedDataParallel(model)

    def mean_loss(self, loss_sum, seen):
        """(mean training loss over every rank's samples, total samples)."""
        v = pg.all_reduce(np.array([float(loss_sum), float(seen)]))
        return float(v[0]) / max(float(v[1]), 1.0), int(v[1])

    def evaluate(self, model, loader, task):
        """(mean loss, accuracy or R^2) over every rank's slice of the test set."""
        model.eval()
        s = np.zeros(4)                       # loss sum, hits or sse, n, (unused)
        ysum = ysq = None
        with no_grad():
            for xb, yb in loader:
                out = model(xb)
                if task == "classification":
                    s[0] += float(nn.functional.cross_entropy(out, yb, reduction="sum").data)
                    s[1] += float((out.data.argmax(axis=1) == yb.data).sum())
                else:
                    y = backend.to_device(yb.data, backend.device("cpu")).astype(np.float64)
                    o = backend.to_device(out.data, backend.device("cpu")).astype(np.float64)
                    d = (o - y).reshape(len(y), -1)
                    s[0] += float((d * d).mean(axis=-1).sum())
                    s[1] += float((d * d).sum())
                    y = y.reshape(len(y), -1)
                    ysum = y.sum(0) if ysum is None else ysum + y.sum(0)
                    ysq = (y * y).sum(0) if ysq is None else ysq + (y * y).sum(0)
                s[2] += xb.shape[0]
        model.train()
        if task == "classification":
            s = pg.all_reduce(s)
            return s[0] / s[2], s[1] / s[2]
        width = model_outputs(ysum, loader)
        extra = np.zeros(2 * width) if ysum is None else np.concatenate([ysum, ysq])
        s = pg.all_reduce(np.concatenate([s, extra]))
        n, ysum, ysq = s[2], s[4:4 + width], s[4 + width:]
        sst = float((ysq - ysum * ysum / n).sum())
        return s[0] / n, 1.0 - s[1] / max(sst, 1e-12)


def model_outputs(ysum, loader):
    """Width of the regression targets (from the sums, or the loader's labels)."""
    if ysum is not None:
        return len(ysum)
    y = loader.y
    return int(np.prod(y.shape[1:])) if y is not None and y.ndim > 1 else 1


def _slice(n, rank, size):
    """Rank ``rank``'s contiguous part of ``n`` items split as evenly as possible."""
    bounds = np.linspace(0, n, size + 1).round().astype(int)
    return int(bounds[rank]), int(bounds[rank + 1])
