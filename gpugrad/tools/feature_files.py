"""Reading feature files for ``gpugrad eval`` / ``gpugrad predict``: ``.csv``, ``.npz``, ``.npy``.

A ``.csv`` is UTF-8 text (a byte-order mark, as Excel's "CSV UTF-8" writes, is skipped) of
numbers separated by commas, one sample per line.  Blank lines and lines starting with ``#``
(``numpy.savetxt``'s header) are not samples.  The first line is a header when ``header`` is
"yes"; with "no" it is a sample; with "auto" (the default) it is a header when one of its
fields is not a number (``f0,f1,label``) or when it is exactly ``0,1,...,n-1``, the column
names ``pandas.DataFrame(X).to_csv(index=False)`` writes -- that case is reported through
``note``, since such a line could also be a sample (pass ``header="no"`` then).  Every other
line must hold numbers, as many as the first: the number of rows returned is always the
number of sample lines.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "x.csv")
>>> _ = open(path, "w", encoding="utf-8-sig").write("0,1\\n1.5,2\\n3,4\\n")
>>> data, had_header = read_csv(path, note=print)
line 1 of ... ('0,1') is read as a header: pandas' default column names (pass ...)
>>> data.tolist(), had_header
([[1.5, 2.0], [3.0, 4.0]], True)
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["read_features", "read_csv", "HEADER_CHOICES"]

HEADER_CHOICES = ("auto", "yes", "no")


def read_features(path, num_features: int, labels: bool = False, header: str = "auto",
                  note=None):
    """``(X, y)`` from a ``.csv``/``.npz``/``.npy`` file: X float64 of shape (N, num_features),
    y (N,) or (N, k) when ``labels`` (else None; a ``.csv`` holds the label in its last
    column, a ``.npz`` as ``y``).  ``header`` / ``note``: see :func:`read_csv`.

    Raises FileNotFoundError, or ValueError naming the file (and line) for a wrong feature
    count, missing labels, non-numbers, NaN/Inf features or labels, no samples.

    >>> read_features("missing.csv", 4)
    Traceback (most recent call last):
    ...
    FileNotFoundError: input not found: missing.csv
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"input not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    y = None
    hint = ""
    if ext == ".csv":
        X, had_header = read_csv(path, header, note)
        if labels:
            X, y = X[:, :-1], X[:, -1]
        if had_header and _first_field(path) in ("", "Unnamed: 0"):
            hint = " (its first column looks like a pandas index: write it with index=False)"
    elif ext in (".npz", ".npy"):
        X, y = _read_numpy(path, ext, labels)
    else:
        raise ValueError(f"{path}: expected a .csv, .npz or .npy file")
    if X.ndim == 2 and X.shape[0] == 0:
        raise ValueError(f"{path} holds no samples")
    if X.ndim != 2 or X.shape[1] != num_features:
        extra = " (the last .csv column holds the label)" if labels and ext == ".csv" else ""
        raise ValueError(f"{path} has {X.shape[1] if X.ndim == 2 else X.shape} feature "
                         f"columns; the model takes {num_features}{extra}{hint}")
    bad = np.argwhere(~np.isfinite(X))
    if bad.size:
        raise ValueError(f"{path}: feature {bad[0][1]} of sample {bad[0][0]} is "
                         f"{X[tuple(bad[0])]}; expected finite numbers")
    if y is not None:
        if y.shape[:1] != X.shape[:1]:
            raise ValueError(f"{path} has {X.shape[0]} samples but {y.shape[0]} labels")
        if y.dtype.kind not in "biuf":
            raise ValueError(f"{path}: the labels are {y.dtype}; expected numbers")
        bad = np.argwhere(~np.isfinite(y.reshape(len(y), -1)))
        if bad.size:
            raise ValueError(f"{path}: the label of sample {bad[0][0]} is "
                             f"{y.reshape(len(y), -1)[tuple(bad[0])]}; expected finite numbers")
    return X, y


def read_csv(path, header: str = "auto", note=None):
    """``(data, had_header)``: the numbers of a comma-separated file as a float64 array of
    shape (samples, columns), and whether its first line was taken as a header.

    ``header``: "auto", "yes" or "no" (see the module doc).  ``note(message)`` is called when
    "auto" takes a line of numbers (pandas' ``0,1,...``) for a header.  ValueError names the
    line and field that is not a number, a line with another number of fields, or text that
    is not UTF-8.
    """
    path = os.fspath(path)
    if header not in HEADER_CHOICES:
        raise ValueError(f"header: expected one of {', '.join(HEADER_CHOICES)}, got {header!r}")
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save "
                         f"it as CSV UTF-8") from None
    rows = [(i + 1, line) for i, line in enumerate(text.splitlines())
            if line.strip() and not line.lstrip().startswith("#")]
    had_header = False
    if rows:
        first = [v.strip() for v in rows[0][1].split(",")]
        numbers = _all_numbers(first)
        if header == "yes" or (header == "auto" and not numbers):
            had_header = True
        elif header == "auto" and first == [str(i) for i in range(len(first))]:
            had_header = True
            if note is not None:
                note(f"line {rows[0][0]} of {path} ({rows[0][1].strip()!r}) is read as a "
                     f"header: pandas' default column names (pass --header no if it is a "
                     f"sample)")
    if had_header:
        rows = rows[1:]
    if not rows:
        return np.zeros((0, 0)), had_header
    try:
        data = np.loadtxt([line for _, line in rows], delimiter=",", comments=None,
                          ndmin=2, dtype=np.float64)
    except ValueError:
        data = None
    if data is None or data.shape[0] != len(rows):
        _explain(path, rows, header)
    return data, had_header


def _all_numbers(fields):
    try:
        [float(v) for v in fields]
    except ValueError:
        return False
    return True


def _explain(path, rows, header):
    """Raise a ValueError naming the first line that does not parse, or that has another
    number of fields than the first sample line."""
    width = None
    for lineno, line in rows:
        fields = [v.strip() for v in line.split(",")]
        width = len(fields) if width is None else width
        for k, v in enumerate(fields):
            try:
                float(v)
            except ValueError:
                what = "is empty" if v == "" else f"is {v[:40]!r}, not a number"
                semi = (" (the file seems to use ';' separators; expected commas)"
                        if ";" in line else "")
                first = (" (pass --header yes if the first line is a header)"
                         if lineno == rows[0][0] and header == "no" else "")
                raise ValueError(f"{path} line {lineno}: field {k + 1} {what}; expected "
                                 f"numbers separated by commas{semi}{first}")
        if len(fields) != width:
            raise ValueError(f"{path} line {lineno} has {len(fields)} fields, the first "
                             f"sample line {width}; expected numbers separated by commas")
    raise ValueError(f"{path}: expected numbers separated by commas, one sample per line")


def _first_field(path):
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            if line.strip() and not line.lstrip().startswith("#"):
                return line.split(",")[0].strip().strip('"')
    return None


def _read_numpy(path, ext, labels):
    try:
        z = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{path} cannot be read as {ext} ({type(exc).__name__}: {exc})") \
            from None
    if ext == ".npy":
        if labels:
            raise ValueError(f"{path}: a .npy file holds features only; give labels as y in "
                             f"a .npz or as the last .csv column")
        if z.dtype.kind not in "biuf":
            raise ValueError(f"{path} holds {z.dtype}; expected numbers")
        return np.asarray(z, dtype=np.float64), None
    with z:
        if "X" not in z.files:
            raise ValueError(f"{path}: expected an array 'X' (and 'y' for labels), found "
                             f"{sorted(z.files)}")
        if labels and "y" not in z.files:
            raise ValueError(f"{path}: expected labels as an array 'y', found {sorted(z.files)}")
        X = z["X"]
        if X.dtype.kind not in "biuf":
            raise ValueError(f"{path}: 'X' holds {X.dtype}; expected numbers")
        return X.astype(np.float64), (np.asarray(z["y"]) if labels else None)
