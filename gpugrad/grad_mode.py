"""Grad mode: whether operations record the graph for backward.

``no_grad()`` and ``enable_grad()`` are context managers and decorators;
``set_grad_enabled(b)`` takes effect at once and restores the previous mode when used in a
``with`` block.  The mode belongs to the thread that sets it (as in PyTorch): ``no_grad`` in
one thread never stops another from recording, and a new thread starts with recording on.

>>> with no_grad():
...     is_grad_enabled()
False
"""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

class _State(threading.local):
    enabled = True  # each thread starts with recording on


_state = _State()
# the threads with recording off now (kept by _set; each thread adds and discards only its
# own id, so no lock is needed): empty means every thread records, which fast paths read with
# one global lookup instead of a thread-local one
_off = set()


def _set(mode: bool) -> None:
    """Set this thread's grad mode, keeping :data:`_off` up to date."""
    if mode != _state.enabled:
        if mode:
            _off.discard(threading.get_ident())
        else:
            _off.add(threading.get_ident())
    _state.enabled = mode


def is_grad_enabled() -> bool:
    """True when operations record the graph for backward (in this thread).

    >>> is_grad_enabled()
    True
    """
    return _state.enabled


class set_grad_enabled:
    """Turn graph recording on or off: takes effect at once, and as a context manager
    restores the previous mode on exit.

    >>> with set_grad_enabled(False):
    ...     is_grad_enabled()
    False
    """

    def __init__(self, mode: bool = True):
        self.prev = _state.enabled
        _set(bool(mode))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self.prev)
        return False


class _Scope:
    """A reusable context manager that sets the grad mode on entry and restores it on exit."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.prev = _state.enabled
        _set(self.mode)
        return self

    def __exit__(self, *exc):
        _set(self.prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _Scope(self.mode):
                return fn(*args, **kwargs)
        return wrapper


def no_grad():
    """Context manager / decorator: operations inside record no graph.

    >>> import gpugrad as gg
    >>> w = gg.ones(2, requires_grad=True)
    >>> with no_grad():
    ...     (w * 2).requires_grad
    False
    """
    return _Scope(False)


def enable_grad():
    """Context manager / decorator that turns recording back on inside ``no_grad``.

    >>> with no_grad():
    ...     with enable_grad():
    ...         is_grad_enabled()
    True
    """
    return _Scope(True)
