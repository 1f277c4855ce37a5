"""Checks of values that live on a GPU, made without stopping the device's queue.

Validating data on a GPU (are these class targets in range?) needs its values on the host, and
reading them there waits for all queued work: one such read per training step stalls the GPU
and rules out capturing the step.  So, as PyTorch does with device-side asserts, a check on a
CUDA array is *deferred*: the condition is reduced on the device into a pending flag (one per
kind of error and device, folded on the device, so memory stays bounded however long nothing
reads), the op poisons its own result (NaN) so that no wrong number can pass as right, and the
error is raised at the next natural synchronization: ``Tensor.item()``, ``float(t)``,
``.numpy()``, ``.tolist()``, ``repr``, a copy to the CPU, or ``gg.cuda.synchronize()``.

What an op does until the error is raised is its own rule, chosen so that nothing it
computes from a bad value passes as right: cross-entropy makes a bad target's row loss and
gradient NaN; an integer index array out of bounds (which CuPy would wrap around where NumPy
raises IndexError: :mod:`gpugrad.ops.index_bounds`) makes a float read NaN at that index and
its gradient NaN, and drops a write at that index (the other positions are written, the
wrapped place keeps its value).  In a step :func:`gpugrad.compile` records, each check is a
host entry of the tape, made again at each replay (device work queued, no host read).

Pending checks belong to the thread that queued the work (as the CUDA stream of that work
does): another thread's synchronization neither raises them nor clears them, and a thread with
nothing pending reads nothing from the device.  Once raised, a check is forgotten; the
poisoned results stay NaN.

Set ``GPUGRAD_SYNC_CHECKS=1`` in the environment (or call ``set_sync_checks(True)``) to check
at once instead, at the cost of a host sync per check (for debugging, like PyTorch's
``CUDA_LAUNCH_BLOCKING=1``).  On the CPU every check is immediate (it costs no sync).

>>> import numpy as np
>>> check(np.array([False, True]), np.array([3, 7]), ("demo",), lambda v: ValueError(f"got {v}"))
Traceback (most recent call last):
...
ValueError: got 7
"""
from __future__ import annotations

import os
import threading

import numpy as np

_local = threading.local()      # per thread: .pending, .status (see _mine)
_armed = False   # True once any thread deferred a check: till then no synchronization reads
_sync = os.environ.get("GPUGRAD_SYNC_CHECKS", "") not in ("", "0")


def _mine():
    """This thread's (pending, status): pending is {(key, device id): [flag (0-d bool), first
    bad value, make_error]}, status {(key, device id): [buffer, make_error, armed]}."""
    try:
        return _local.pending, _local.status
    except AttributeError:
        _local.pending, _local.status = {}, {}
        return _local.pending, _local.status


def reset() -> None:
    """Forget this thread's pending checks and status buffers (tests)."""
    _local.pending, _local.status = {}, {}


def set_sync_checks(enabled: bool) -> bool:
    """Check GPU values at once (a host sync per check) when ``enabled``; returns the old
    setting.  The default comes from the environment variable ``GPUGRAD_SYNC_CHECKS``."""
    global _sync
    old, _sync = _sync, bool(enabled)
    return old


def sync_checks() -> bool:
    """Whether GPU values are checked at once (see :func:`set_sync_checks`)."""
    return _sync


def check(bad, values, key, make_error) -> None:
    """Raise ``make_error(v)``, v the first of ``values`` where ``bad`` holds, if any does.

    ``bad``: boolean array; ``values``: array of the same shape; ``key``: hashable, the same for
    checks whose errors read alike (``make_error`` of the first pending one is used).  NumPy
    arrays are checked now; CuPy arrays at the next synchronization (see the module's text).
    """
    if isinstance(bad, (np.ndarray, np.generic)) or _sync:   # (a 0-d test gives a scalar)
        flat = bad.ravel()
        if bool(flat.any()):
            first = values.ravel()[int(flat.argmax())]
            raise make_error(first.item() if hasattr(first, "item") else first)
        return
    import cupy
    _defer(bad, values, key, make_error, cupy, bad.device.id)


def _defer(bad, values, key, make_error, xp, device_id) -> None:
    """The deferred half of :func:`check`, for any array module ``xp`` (tests use NumPy)."""
    global _armed
    _armed = True
    flat = bad.ravel()
    if flat.size == 0:
        return
    hit = flat.any()
    first = values.ravel()[flat.argmax()]
    pending = _mine()[0]
    slot = (key, device_id)
    old = pending.get(slot)
    if old is None:
        pending[slot] = [hit, first, make_error]
    else:                                       # fold on the device: the first hit is kept
        old[1] = xp.where(old[0], old[1], first)
        old[0] = old[0] | hit


def status_buffer(key, make_error, xp, device_id):
    """A persistent ``uint64[2]`` buffer on the device for a kernel to report a failed check in
    (``[0]`` set to 1 by the first failure, ``[1]`` its value, as int64 bits), armed so that the
    next synchronization reads it and raises ``make_error(value)``.  One buffer per ``key`` and
    device; it is zeroed after each read."""
    global _armed
    _armed = True
    status = _mine()[1]
    slot = (key, device_id)
    entry = status.get(slot)
    if entry is None:
        entry = status[slot] = [xp.zeros(2, dtype=np.uint64), make_error, True]
    entry[2] = True
    return entry[0]


def raise_pending() -> None:
    """Raise the first deferred check that failed (and forget all of them); called at the
    library's synchronization points."""
    if not _armed:       # (nothing ever deferred, as on the CPU: one global read)
        return
    pending, status = _mine()
    if not pending and not status:
        return
    items = list(pending.values())
    pending.clear()
    armed = [e for e in status.values() if e[2]]
    for e in armed:
        e[2] = False
    error = None
    for buf, make_error, _ in armed:
        flag, value = (int(v) for v in buf.tolist())    # reads the device: the caller syncs
        if flag and error is None:
            error = make_error(int(np.uint64(value).astype(np.int64)))
        if flag:
            buf.fill(0)
    for flag, first, make_error in items:
        if error is None and bool(flag):
            error = make_error(first.item())
    if error is not None:
        raise error


def pending() -> int:
    """How many kinds of deferred check are waiting (for tests)."""
    pending, status = _mine()
    return len(pending) + sum(1 for e in status.values() if e[2])
