"""Atomic file writes: :func:`atomic_write` (used by checkpoints, :mod:`gpugrad.io`, and
by the training command's JSON files).

The data go to a hidden temporary file ``.NAME.XXXXXXXX.tmp`` next to the target, are
flushed and fsync'ed, and the temporary file is renamed over the target (then the folder is
fsync'ed): a crash leaves the old file or the new one.  A new file gets ``0o666`` less the
umask; a file that is replaced keeps its mode (a private ``0o600`` checkpoint stays private)
and, where allowed, its owner and group.  A symlink is written through: its target (the end
of the chain) is replaced and the link stays, as editors and ``torch.save`` do.  While a
write runs, its temporary file holds an advisory lock; the next write to the same target
removes the temporary files of killed writers (unlocked, untouched for ``_ORPHAN_AGE_S``
seconds) and nothing else.  OSErrors name the target.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> with atomic_write(os.path.join(d, "a.txt"), "w") as f:
...     _ = f.write("done")
>>> os.listdir(d)
['a.txt']
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time

__all__ = ["atomic_write", "write_file"]

_ORPHAN_AGE_S = 10.0       # a temporary file untouched this long, and unlocked, is an orphan


def _temp_pattern(base):
    # ours: 8 hex digits; also tempfile.mkstemp's 8 characters (files of older versions)
    return re.compile(r"\." + re.escape(base) + r"\.[a-z0-9_]{8}\.tmp\Z")


def _try_lock(fd):
    """Take an exclusive advisory lock without waiting; True when taken (or unsupported)."""
    try:
        import fcntl
    except ImportError:        # pragma: no cover - Windows: open files cannot be deleted
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _remove_orphans(directory, base):
    """Delete the temporary files of earlier saves to ``base`` whose writer is gone (killed):
    only names of this module's pattern, unlocked, untouched for ``_ORPHAN_AGE_S``."""
    pattern = _temp_pattern(base)
    try:
        names = [n for n in os.listdir(directory) if pattern.match(n)]
    except OSError:
        return
    for name in names:
        tmp = os.path.join(directory, name)
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except OSError:
            continue
        try:
            if time.time() - os.fstat(fd).st_mtime > _ORPHAN_AGE_S and _try_lock(fd):
                os.unlink(tmp)
        except OSError:
            pass
        finally:
            os.close(fd)


def _named(exc, path, directory):
    """``exc`` (an OSError about the temporary file) re-made to name the target ``path``."""
    why = exc.strerror or str(exc)
    if not os.path.isdir(directory):
        why += f" (the folder {directory} does not exist)"
    return type(exc)(exc.errno, why, path)


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path`` for writing; when the block ends without an
    error, flush, fsync and rename it over ``path`` (a crash leaves the old file or the new
    one, never a mix).  A new file gets ``0o666`` less the umask, a replaced one keeps its
    mode (and owner where allowed); a symlink ``path`` is written through to its target; the
    temporary files of killed earlier writes are removed first; OSErrors name ``path``.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with atomic_write(p, "w") as f:
    ...     _ = f.write("hello")
    >>> open(p).read(), os.listdir(os.path.dirname(p))
    ('hello', ['notes.txt'])
    """
    path = shown = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory; expected a file path")
    if os.path.islink(path):
        path = os.path.realpath(path)     # write through the link (chain) to its target
    try:
        old = os.stat(path)               # a file being replaced: keep its mode and owner
    except OSError:
        old = None
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    _remove_orphans(directory, base)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)           # the kernel applies the umask
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _named(exc, shown, directory) from None
    try:
        _try_lock(fd)            # held while writing: tells a concurrent save it is alive
        if old is not None:
            _keep_mode(fd, old)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if os.name != "nt":  # POSIX: rename while still locked
                os.replace(tmp, path)
        if os.name == "nt":      # pragma: no cover - Windows cannot rename an open file
            os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.errno is not None and exc.filename in (tmp, None):
            raise _named(exc, shown, directory) from None
        raise
    _fsync_dir(directory)


def write_file(path, write, mode="wb") -> None:
    """Call ``write(f)`` on a file opened by :func:`atomic_write` (same guarantees).

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "out.csv")
    >>> write_file(p, lambda f: f.write("a,b\\n"), "w"); open(p).read()
    'a,b\\n'
    """
    with atomic_write(path, mode) as f:
        write(f)


def _keep_mode(fd, old):
    """Give the new file (``fd``) the replaced file's mode, and its owner and group where
    this process may (the mode is always kept: a private file stays private)."""
    if hasattr(os, "fchown") and (old.st_uid, old.st_gid) != os.fstat(fd)[4:6]:
        try:
            os.fchown(fd, old.st_uid, old.st_gid)
        except OSError:
            pass
    if hasattr(os, "fchmod"):
        os.fchmod(fd, stat.S_IMODE(old.st_mode))


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows: directories cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
