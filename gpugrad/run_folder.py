"""The output folder of a training run (``gpugrad train --out``): placeholders filled in, a
fresh folder claimed for every run by default, and no run silently written over another.

Rules (:func:`check_out` before any work, :func:`prepare_out` when the run starts):

* ``{dataset}`` and ``{time}`` (``YYYYmmdd-HHMMSS``) in ``out`` are filled in, and a folder
  that exists already gets ``-2``, ``-3``, ... -- so the default, ``runs/{dataset}-{time}``,
  gives every run its own folder, even two started in the same second;
* a literal ``out`` that already holds a run's files (:data:`RUN_FILES`) is refused with
  :class:`FileExistsError`, unless the run resumes from a checkpoint of that folder or
  ``overwrite`` is set -- then those files are removed first, and nothing else is touched.

>>> import tempfile, os
>>> from gpugrad.train_config import TrainConfig
>>> root = tempfile.mkdtemp()
>>> a = prepare_out(TrainConfig(out=os.path.join(root, "r-{dataset}")))
>>> os.path.basename(a), os.listdir(a)
('r-digits', [])
>>> os.path.basename(prepare_out(TrainConfig(out=os.path.join(root, "r-{dataset}"))))
'r-digits-2'
"""
from __future__ import annotations

import os
import time

__all__ = ["RUN_FILES", "expand_out", "check_out", "prepare_out"]

RUN_FILES = ("last.npz", "best.npz", "metrics.json", "curves.png", "grad_stats.png")


def expand_out(out: str, dataset: str, now: float | None = None) -> str:
    """``out`` with ``{dataset}`` and ``{time}`` filled in (``YYYYmmdd-HHMMSS``, local time).

    >>> expand_out("runs/{dataset}-{time}", "digits", now=0.0)[:12]
    'runs/digits-'
    >>> expand_out("runs/plain", "digits")
    'runs/plain'
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return out.format(dataset=dataset, time=stamp)


def _templated(out):
    return out.format(dataset="", time="") != out


def _existing_run_files(folder):
    return [f for f in RUN_FILES if os.path.exists(os.path.join(folder, f))]


def _same_folder(a, b):
    return a is not None and b is not None and \
        os.path.realpath(os.path.abspath(a)) == os.path.realpath(os.path.abspath(b))


def _own_folder(cfg, checkpoint):
    """True when ``cfg.out`` is the folder the resumed run wrote (its checkpoint's folder)."""
    if cfg.resume and _same_folder(cfg.out, os.path.dirname(os.path.abspath(cfg.resume))):
        return True
    saved = checkpoint.get("config", {}).get("out") if isinstance(checkpoint, dict) else None
    return checkpoint is not None and isinstance(saved, str) and _same_folder(cfg.out, saved)


def check_out(cfg, checkpoint=None) -> None:
    """Raise :class:`FileExistsError` (one line naming ``--resume`` and ``--overwrite``) when
    a literal ``cfg.out`` already holds another run's files; ``checkpoint``: the one resumed.

    >>> import tempfile, os
    >>> from gpugrad.train_config import TrainConfig
    >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "last.npz"), "w")
    >>> check_out(TrainConfig(out=d))    # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileExistsError: --out ... already holds a training run (last.npz); pass --resume ...
    >>> check_out(TrainConfig(out=d, overwrite=True))
    """
    if cfg.out is None or _templated(cfg.out) or cfg.overwrite or not os.path.isdir(cfg.out):
        return
    if _own_folder(cfg, checkpoint):
        return
    found = _existing_run_files(cfg.out)
    if found:
        last = os.path.join(cfg.out, "last.npz")
        raise FileExistsError(
            f"--out {cfg.out} already holds a training run ({', '.join(found)}); pass "
            f"--resume {last} to continue it, --overwrite to replace it, or another --out")


def prepare_out(cfg, checkpoint=None) -> str:
    """Create (or claim) the run's folder and return its path, placeholders filled in; with
    ``cfg.overwrite`` the previous run's files there are removed first (only those).  Raises
    what :func:`check_out` raises."""
    if not _templated(cfg.out):
        check_out(cfg, checkpoint)
        os.makedirs(cfg.out, exist_ok=True)
        if cfg.overwrite and not _own_folder(cfg, checkpoint):
            for f in _existing_run_files(cfg.out):
                os.unlink(os.path.join(cfg.out, f))
        return cfg.out
    base = expand_out(cfg.out, cfg.dataset)
    parent = os.path.dirname(os.path.abspath(base))
    os.makedirs(parent, exist_ok=True)
    for n in range(1, 10000):
        path = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(path)               # atomic: two runs never claim the same folder
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"--out {cfg.out}: {base} and 9,998 numbered variants exist")
