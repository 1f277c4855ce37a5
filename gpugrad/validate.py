"""Argument checks shared by constructors and state-dict restores: one rule per kind of value,
one message format (``"<owner>: expected <name> to be <what>, got <value>"``; a name not
among the choices: ``"<owner>: unknown <name> <value>; expected one of ..."``).

A wrong *type* raises ``TypeError`` (``True`` is not a number here, nor is ``"0.1"``); a value
of the right type outside its range, NaN or infinity raises ``ValueError``.  Each check
returns the value it accepted (normalized where it says so), so a caller can validate a
whole set of values first and write them afterwards -- the way optimizers and schedulers
keep a failed ``load_state_dict`` from changing anything.

>>> check_real(0.1, "lr", low=0)
0.1
>>> check_real(True, "lr", low=0, owner="SGD")
Traceback (most recent call last):
...
TypeError: SGD: expected lr to be a finite real number >= 0, got True (bool)
>>> check_real(float("inf"), "lr", low=0)
Traceback (most recent call last):
...
ValueError: expected lr to be a finite real number >= 0, got inf
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["check_real", "check_int", "check_bool", "check_choice", "check_dtype", "real",
           "integer", "boolean"]


def _fail(exc, owner, name, what, value, show_type=False):
    got = repr(value)
    if len(got) > 80:
        got = got[:77] + "..."
    if show_type:
        got += f" ({type(value).__name__})"
    prefix = f"{owner}: " if owner else ""
    raise exc(f"{prefix}expected {name} to be {what}, got {got}")


def _range(low, high, low_open, high_open):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return (" " + " and ".join(parts)) if parts else ""


def _in_range(v, low, high, low_open, high_open):
    if low is not None and (v <= low if low_open else v < low):
        return False
    return not (high is not None and (v >= high if high_open else v > high))


def check_real(value, name: str, *, low=None, high=None, low_open: bool = False,
               high_open: bool = False, owner: str = ""):
    """``value`` if it is a finite real number (Python or NumPy int/float, not bool) within
    ``[low, high]`` (``low_open``/``high_open`` exclude an end); else TypeError (not a real
    number) or ValueError (NaN, infinite, out of range).

    >>> check_real(0.5, "momentum", low=0, high=1)
    0.5
    >>> check_real("fast", "lr", owner="Adam")
    Traceback (most recent call last):
    ...
    TypeError: Adam: expected lr to be a finite real number, got 'fast' (str)
    """
    what = "a finite real number" + _range(low, high, low_open, high_open)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        _fail(TypeError, owner, name, what, value, show_type=True)
    if not math.isfinite(value) or not _in_range(value, low, high, low_open, high_open):
        _fail(ValueError, owner, name, what, value)
    return value


def check_int(value, name: str, *, low=None, high=None, owner: str = "") -> int:
    """``int(value)`` if it is an integer (Python or NumPy, not bool) within ``[low, high]``;
    else TypeError (not an integer: ``2.0`` is not) or ValueError (out of range).

    >>> check_int(3, "step_size", low=1)
    3
    >>> check_int(0, "T_max", low=1, owner="CosineAnnealingLR")
    Traceback (most recent call last):
    ...
    ValueError: CosineAnnealingLR: expected T_max to be an integer >= 1, got 0
    """
    what = "an integer" + _range(low, high, False, False)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _fail(TypeError, owner, name, what, value, show_type=True)
    if not _in_range(value, low, high, False, False):
        _fail(ValueError, owner, name, what, value)
    return int(value)


def check_bool(value, name: str, *, owner: str = "") -> bool:
    """``bool(value)`` if it is a bool (Python or NumPy); else TypeError (``1`` is not).

    >>> check_bool(False, "nesterov")
    False
    """
    if not isinstance(value, (bool, np.bool_)):
        _fail(TypeError, owner, name, "a bool", value, show_type=True)
    return bool(value)


def check_choice(value, name: str, choices, *, owner: str = ""):
    """``value`` if it is one of ``choices``; else ValueError listing them.

    >>> check_choice("relu", "activation", ("relu", "tanh"))
    'relu'
    >>> check_choice("bogus", "activation", ("relu", "tanh"), owner="MLP")
    Traceback (most recent call last):
    ...
    ValueError: MLP: unknown activation 'bogus'; expected one of 'relu', 'tanh'
    """
    try:
        ok = value in choices
    except TypeError:                      # unhashable value against a set
        ok = False
    if not ok:
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}unknown {name} {value!r:.80}; expected one of "
                         f"{', '.join(map(repr, choices))}")
    return value


_KIND_NAMES = {"b": "bool", "i": "signed integer", "u": "unsigned integer", "f": "floating",
               "c": "complex"}


def check_dtype(dtype, name: str, kinds: str, *, owner: str = ""):
    """``dtype`` if its kind (``dtype.kind``: b, i, u, f, c) is among ``kinds``; else
    TypeError naming the kinds expected (strings, objects, dates never pass).

    >>> check_dtype(np.dtype("float32"), "features", "biufc")
    dtype('float32')
    >>> check_dtype(np.dtype("<U1"), "features", "biufc", owner="DataLoader")
    Traceback (most recent call last):
    ...
    TypeError: DataLoader: expected features to be of a bool, signed integer, \
unsigned integer, floating or complex dtype, got dtype('<U1')
    """
    if getattr(dtype, "kind", None) not in tuple(kinds):
        names = [_KIND_NAMES[k] for k in kinds]
        what = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        _fail(TypeError, owner, name, f"of a {what} dtype", dtype)
    return dtype


# ---------------------------------------------------------------- checkers for tables
def real(**bounds):
    """A checker ``f(value, name, owner) -> value`` for :func:`check_real` with ``bounds``
    (for tables of hyper-parameters shared by a constructor and a state-dict restore).

    >>> real(low=0)(0.1, "lr", "SGD")
    0.1
    """
    return lambda value, name, owner="": check_real(value, name, owner=owner, **bounds)


def integer(**bounds):
    """A checker ``f(value, name, owner) -> int`` for :func:`check_int` with ``bounds``.

    >>> integer(low=1)(2, "step_size", "StepLR")
    2
    """
    return lambda value, name, owner="": check_int(value, name, owner=owner, **bounds)


def boolean(value, name, owner=""):
    """The checker for :func:`check_bool` (same signature as :func:`real`'s checkers).

    >>> boolean(True, "amsgrad", "Adam")
    True
    """
    return check_bool(value, name, owner=owner)
