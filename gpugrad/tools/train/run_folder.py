"""The output folder of a training run (``gpugrad train --out``): placeholders filled in, a
fresh folder claimed for every run by default, and no run silently written over another.

Rules (:func:`check_out` before any work, :func:`claimed_out` / :func:`prepare_out` when
the run starts):

* ``{dataset}`` and ``{time}`` (``YYYYmmdd-HHMMSS``) in ``out`` are filled in, and a folder
  that exists already gets ``-2``, ``-3``, ... -- so the default, ``runs/{dataset}-{time}``,
  gives every run its own folder, even two started in the same second;
* a literal ``out`` that already holds a run's files (:data:`RUN_FILES`) is refused with
  :class:`FileExistsError`, unless the run resumes from a checkpoint of that folder (the
  folder holding the ``resume`` file; what the checkpoint recorded as its ``out`` does not
  count: it may mean another folder from here) or ``overwrite`` is set -- then those files
  are removed first, and nothing else is touched;
* an ``out`` that is (or lies under) a file, or cannot be created, is an error naming
  ``--out``; a run that fails before it wrote anything removes the folders it created;
* a resume into another folder carries the run's ``best.npz`` over (:func:`find_best`), so
  the new folder is a complete run.

>>> import tempfile, os
>>> from gpugrad.tools.train.config import TrainConfig
>>> root = tempfile.mkdtemp()
>>> a = prepare_out(TrainConfig(out=os.path.join(root, "r-{dataset}")))
>>> os.path.basename(a), os.listdir(a)
('r-digits', [])
>>> os.path.basename(prepare_out(TrainConfig(out=os.path.join(root, "r-{dataset}"))))
'r-digits-2'
"""
from __future__ import annotations

import contextlib
import os
import time

__all__ = ["RUN_FILES", "expand_out", "check_out", "prepare_out", "claimed_out", "find_best",
           "copy_checkpoint", "describe_written"]

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


def _own_folder(cfg, checkpoint=None):
    """True when ``cfg.out`` is the folder of the checkpoint resumed (``cfg.resume``'s)."""
    if not cfg.resume:
        return False
    return any(_same_folder(cfg.out, os.path.dirname(p)) for p in
               (os.path.abspath(cfg.resume), os.path.realpath(cfg.resume)))


def _file_in_the_way(path):
    """The first existing non-folder among ``path`` and its parents, else None."""
    p = os.path.abspath(path)
    while True:
        if os.path.exists(p) and not os.path.isdir(p):
            return p
        parent = os.path.dirname(p)
        if parent == p:
            return None
        p = parent


def _check_creatable(out, path):
    blocker = _file_in_the_way(path)
    if blocker is None:
        return
    if os.path.abspath(blocker) == os.path.abspath(path) and out == path:
        raise FileExistsError(f"--out {out} is a file; expected a folder (a new one, or one "
                              f"without a training run)")
    raise NotADirectoryError(f"--out {out}: {blocker} is a file, so the run's folder cannot "
                             f"be created under it")


def check_out(cfg, checkpoint=None) -> None:
    """Raise :class:`FileExistsError` (one line naming ``--resume`` and ``--overwrite``) when
    a literal ``cfg.out`` already holds another run's files; ``checkpoint``: the one resumed.

    >>> import tempfile, os
    >>> from gpugrad.tools.train.config import TrainConfig
    >>> d = tempfile.mkdtemp(); _ = open(os.path.join(d, "last.npz"), "w")
    >>> check_out(TrainConfig(out=d))    # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileExistsError: --out ... already holds a training run (last.npz); pass --resume ...
    >>> check_out(TrainConfig(out=d, overwrite=True))

    An ``out`` that is a file, or under one, raises FileExistsError / NotADirectoryError
    naming ``--out``.
    """
    if cfg.out is None:
        return
    if _templated(cfg.out):      # a fresh name is picked: only its parents must be folders
        _check_creatable(cfg.out, os.path.dirname(os.path.abspath(expand_out(cfg.out,
                                                                             cfg.dataset))))
    else:
        _check_creatable(cfg.out, cfg.out)
    if _templated(cfg.out) or cfg.overwrite or not os.path.isdir(cfg.out):
        return
    if _own_folder(cfg, checkpoint):
        return
    found = _existing_run_files(cfg.out)
    if found:
        last = os.path.join(cfg.out, "last.npz")
        raise FileExistsError(
            f"--out {cfg.out} already holds a training run ({', '.join(found)}); pass "
            f"--resume {last} to continue it, --overwrite to replace it, or another --out")


def prepare_out(cfg, checkpoint=None, created=None) -> str:
    """Create (or claim) the run's folder and return its path, placeholders filled in; with
    ``cfg.overwrite`` the previous run's files there are removed first (only those).  Raises
    what :func:`check_out` raises, and OSError naming ``--out`` when a folder cannot be
    created (the ones it did create are removed again).  ``created``: a list that receives
    the folders made, parents first."""
    created = [] if created is None else created
    try:
        check_out(cfg, checkpoint)
        if not _templated(cfg.out):
            _makedirs(cfg.out, created)
            if cfg.overwrite and not _own_folder(cfg, checkpoint):
                for f in _existing_run_files(cfg.out):
                    os.unlink(os.path.join(cfg.out, f))
            return cfg.out
        base = expand_out(cfg.out, cfg.dataset)
        _makedirs(os.path.dirname(os.path.abspath(base)), created)
        for n in range(1, 10000):
            path = base if n == 1 else f"{base}-{n}"
            try:
                os.mkdir(path)               # atomic: two runs never claim the same folder
                created.append(os.path.abspath(path))
                return path
            except FileExistsError:
                continue
        raise FileExistsError(f"--out {cfg.out}: {base} and 9,998 numbered variants exist")
    except OSError as exc:
        _remove_empty(created)
        if exc.errno is None or str(exc).startswith("--out"):
            raise
        err = type(exc)(f"--out {cfg.out}: cannot create the folder {exc.filename or cfg.out}"
                        f" ({exc.strerror or exc})")
        err.errno = exc.errno
        raise err from None


def _makedirs(path, created):
    """``os.makedirs(path, exist_ok=True)``, appending each folder it makes to ``created``."""
    missing, p = [], os.path.abspath(path)
    while not os.path.isdir(p) and os.path.dirname(p) != p:
        missing.append(p)
        p = os.path.dirname(p)
    for d in reversed(missing):
        try:
            os.mkdir(d)
        except FileExistsError:
            if os.path.isdir(d):     # made by someone else meanwhile
                continue
            raise
        created.append(d)


def _remove_empty(created):
    """Remove the folders in ``created`` (deepest first) while they are empty."""
    for d in reversed(created):
        try:
            os.rmdir(d)              # only ever removes an empty folder
        except OSError:
            return
    created.clear()


@contextlib.contextmanager
def claimed_out(cfg, checkpoint=None):
    """:func:`prepare_out` for the length of a run: yields the folder; when the block raises
    (or is interrupted) before anything was written there, the folders it created (the run's
    and any parents) are removed, so a failed start leaves nothing behind.

    >>> import tempfile, os
    >>> from gpugrad.tools.train.config import TrainConfig
    >>> root = tempfile.mkdtemp()
    >>> try:
    ...     with claimed_out(TrainConfig(out=os.path.join(root, "a", "b"))) as out:
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     os.listdir(root)
    []
    """
    created = []
    path = prepare_out(cfg, checkpoint, created)
    try:
        yield path
    except BaseException:
        _remove_empty(created)
        raise


# ---------------------------------------------------------------- a resume into a new folder
def find_best(cfg, checkpoint, out):
    """``(source, problem)`` for a run resuming ``checkpoint`` into ``out``: ``source`` is
    the file to copy to ``out/best.npz`` (the resumed run's best.npz, or the checkpoint
    itself when its epoch is the best one), None when nothing needs copying (not a resume,
    no best yet, or ``out`` is the run's own folder) or when it cannot be found -- then
    ``problem`` says why, in one line.  A candidate counts only if it is a checkpoint of the
    same run at the best epoch (its ``epoch`` and ``best`` match).
    """
    from gpugrad.io import load

    best = checkpoint.get("best") if isinstance(checkpoint, dict) else None
    if not best or not out or _own_folder(cfg, checkpoint):
        return None, None
    epoch = best.get("epoch")
    if not cfg.resume:
        return None, (f"{out} gets no best.npz of epoch {epoch} (the checkpoint came without "
                      f"its path, resume=): only a later epoch that beats it writes one")
    folder = os.path.dirname(cfg.resume) or os.curdir
    candidates = [os.path.join(folder, "best.npz")]
    if checkpoint.get("epoch") == epoch:
        candidates.append(cfg.resume)
    for path in candidates:
        try:
            ck = load(path, map_location="cpu")
        except (OSError, ValueError):
            continue
        if isinstance(ck, dict) and ck.get("epoch") == epoch and ck.get("best") == best:
            return path, None
    return None, (f"{folder} has no best.npz of this run's best epoch {epoch}, so {out} gets "
                  f"a best.npz only if a later epoch beats it")


def copy_checkpoint(source, dest) -> None:
    """Copy the file ``source`` to ``dest`` atomically (a crash leaves no partial ``dest``)."""
    from gpugrad.atomic_file import atomic_write

    with open(source, "rb") as src, atomic_write(dest) as dst:
        while True:
            chunk = src.read(1 << 24)
            if not chunk:
                break
            dst.write(chunk)


def describe_written(out, written, copied_from=None, best_epoch=None) -> str:
    """``"wrote last.npz, metrics.json to OUT"``: exactly the files of ``written`` (a set of
    :data:`RUN_FILES` names), best.npz marked when it was copied from ``copied_from``, and a
    note when a best.npz of ``best_epoch`` already there was kept.

    >>> describe_written("r", {"metrics.json", "last.npz", "best.npz"}, copied_from="a")
    'wrote last.npz, best.npz (copied from a), metrics.json to r'
    """
    names = [f + (f" (copied from {copied_from})" if f == "best.npz" and copied_from else "")
             for f in RUN_FILES if f in written]
    text = f"wrote {', '.join(names)} to {out}"
    if "best.npz" not in written and best_epoch is not None and \
            os.path.exists(os.path.join(out, "best.npz")):
        text += f" (best.npz of epoch {best_epoch} kept)"
    return text
