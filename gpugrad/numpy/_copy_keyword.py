"""NumPy 2's ``copy=`` keyword of ``array`` and ``asarray``: True copies always, None only
when needed, False never (ValueError where a copy would be needed).

>>> copy_mode(0), copy_mode(None), copy_mode(1)
(False, None, True)
>>> str(copy_error("the input is a list")).startswith("Unable to avoid copy")
True
"""
from __future__ import annotations

import numpy as _np

__all__ = ["copy_mode", "copy_error"]


def copy_mode(copy):
    """NumPy's reading of ``copy=``: None (copy if needed), else a truth value -- True
    (always) or False (never); a ``numpy._CopyMode`` reads as its member says."""
    if copy is None or copy is True or copy is False:
        return copy
    mode = getattr(_np, "_CopyMode", None)
    if mode is not None and isinstance(copy, mode):
        return {mode.ALWAYS: True, mode.NEVER: False}.get(copy)
    return bool(copy)


def copy_error(why):
    """NumPy's ValueError for ``copy=False`` where a copy is needed, saying ``why``."""
    return ValueError(f"Unable to avoid copy while creating an array as requested (copy=False):"
                      f" {why}; pass copy=None (or use asarray) to copy only when needed")
