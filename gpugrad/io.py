"""Checkpoints: ``save(obj, path)`` / ``load(path, map_location=None)``.

``obj`` is a tree of dicts (str or int keys), lists and tuples whose leaves are tensors,
NumPy/CuPy arrays, NumPy scalars, and JSON values (None, bool, int, float, str) -- a model's
and an optimizer's state dicts, a scheduler's, the epoch, RNG states.  No pickle is involved
in either direction.

The format is an ordinary ``.npz`` (a ZIP of ``.npy`` files, readable by ``numpy.load`` with
``allow_pickle=False``):

* one ``.npy`` per array, named by its path in the tree (``model/0.weight``,
  ``optimizer/state/0/momentum_buffer``; characters outside ``[A-Za-z0-9_.-]`` become
  ``_``, and a ``~N`` suffix keeps names unique);
* ``__gpugrad__``: a 0-d string array holding JSON metadata: ``format``
  ("gpugrad-checkpoint"), ``version`` (1), ``tree`` (the structure, with every non-array
  value inline and every array as ``{"t": "tensor"|"array"|"scalar", "key": name,
  "device": "cuda:0", ...}``), and ``arrays`` (dtype and shape of every array);
* arrays of the ml_dtypes types NumPy cannot store (bfloat16, float8_*, int4, ...) are
  stored as their bits (``uint16``/``uint8``) with ``"dtype": "bfloat16"`` in their tree
  node, and the file gets ``version`` 2 (so an older reader refuses it rather than return
  the bits); loading such a file needs ml_dtypes and gives the values back bit for bit;
* ``__sha256__``: the SHA-256 hex digest of the metadata text followed by, for every array
  in sorted name order, its name, dtype, shape and C-order bytes.

Reading one by hand::

    z = np.load("best.npz")                     # allow_pickle=False is the default
    meta = json.loads(str(z["__gpugrad__"]))
    w = z["model/0.weight"]

Writes are atomic (:func:`atomic_write`): the file is written to a hidden temporary file
``.NAME.XXXXXXXX.tmp`` in the same directory, flushed and fsync'ed, then renamed over the
target (and the directory fsync'ed), so a crash leaves either the old file or the new one.
A new file gets the usual permissions (``0o666`` less the umask), a replaced one keeps its
mode, and saving to a symlink writes through to its target.  A temporary file a killed
process left behind is removed by the next save to the same target; errors name the target,
not the temporary file.  Trees may nest up to ``MAX_DEPTH`` levels.  Loading reads and
checks everything (ZIP CRCs, metadata, shapes, dtypes, checksum, nesting) before it returns
anything; a truncated, altered or foreign file (an image, a pickle, ...) raises
:class:`CheckpointError` saying what it is.

>>> import gpugrad as gg, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
>>> gg.save({"epoch": 3, "w": gg.ones(2)}, path)
>>> gg.load(path)
{'epoch': 3, 'w': tensor([1., 1.])}
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile

import numpy as np

from . import backend
from .atomic_file import atomic_write, write_file
from .backend import is_cupy_array
from .tensor import Tensor

__all__ = ["save", "load", "atomic_write", "write_file", "CheckpointError", "FORMAT", "VERSION",
           "MAX_DEPTH"]

FORMAT = "gpugrad-checkpoint"
VERSION = 2             # the newest format version this gpugrad reads (2: ml_dtypes arrays)
MAX_DEPTH = 256         # nesting levels of dicts/lists/tuples a checkpoint may have
_META, _SUM = "__gpugrad__", "__sha256__"
_SAFE = re.compile(r"[^A-Za-z0-9_.\-]")


class CheckpointError(ValueError):
    """A checkpoint file is missing parts, truncated, corrupted or not a gpugrad checkpoint.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "bad.npz"); _ = open(p, "wb").write(b"junk")
    >>> load(p)
    Traceback (most recent call last):
    ...
    gpugrad.io.CheckpointError: ... is not a gpugrad checkpoint: it does not start as a .npz ...
    """


# ---------------------------------------------------------------- flatten / unflatten
class _Flattener:
    def __init__(self):
        self.arrays = {}
        self.extended = False       # an array stored as bits (format version 2)

    def name(self, path):
        base = "/".join(_SAFE.sub("_", str(p)) for p in path) or "root"
        if base in (_META, _SUM):
            base += "_"
        name, n = base, 1
        while name in self.arrays:
            name, n = f"{base}~{n}", n + 1
        return name

    def add(self, path, arr, node):
        """Store ``arr``; return ``node`` (a tree node) with its key (and dtype name when
        the array is stored as bits)."""
        dev = str(backend.array_device(arr))
        host = arr.get() if is_cupy_array(arr) else np.asarray(arr)
        ext = _extended_name(host.dtype)
        if ext is not None:             # bfloat16 & co.: their bits, and the dtype's name
            host = host.view(f"u{host.dtype.itemsize}")
            node["dtype"], self.extended = ext, True
        elif host.dtype.hasobject or host.dtype.kind not in "biufc":
            raise TypeError(f"save: cannot store an array of dtype {host.dtype} at "
                            f"{_where(path)}; expected numbers or bools (or ml_dtypes types)")
        node["key"] = self.name(path)
        self.arrays[node["key"]] = host
        if "device" in node:
            node["device"] = dev
        return node

    def tree(self, obj, path=()):
        if len(path) > MAX_DEPTH:
            raise ValueError(f"save: the object nests deeper than {MAX_DEPTH} levels at "
                             f"{_where(path[:3])}/...; expected at most {MAX_DEPTH} (does it "
                             f"contain itself?)")
        if isinstance(obj, Tensor):
            return self.add(path, obj.data, {"t": "tensor", "device": None,
                                             "requires_grad": bool(obj.requires_grad)})
        if isinstance(obj, np.ndarray) or is_cupy_array(obj):
            return self.add(path, obj, {"t": "array", "device": None})
        if isinstance(obj, np.generic):
            return self.add(path, np.asarray(obj), {"t": "scalar"})
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise TypeError(f"save: dict keys must be str or int, got {k!r} at "
                                    f"{_where(path)}")
                items.append([k, self.tree(v, path + (k,))])
            return {"t": "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            return {"t": "list" if isinstance(obj, list) else "tuple",
                    "items": [self.tree(v, path + (i,)) for i, v in enumerate(obj)]}
        raise TypeError(f"save: cannot store a {type(obj).__name__} at {_where(path)}; expected "
                        f"tensors, arrays, numbers, strings, None, or dicts/lists/tuples of them")


def _extended_name(dtype):
    """The name of an ml_dtypes dtype (``bfloat16``, ``float8_e4m3fn``, ``int4``, ...), else
    None: NumPy's ``.npy`` format cannot store those, so their bits are stored."""
    if dtype.kind == "V" and getattr(dtype.type, "__module__", "").startswith("ml_dtypes"):
        return dtype.name
    return None


def _extended_dtype(name, path):
    """The ml_dtypes dtype called ``name``; ImportError (how to install it) without it."""
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError(f"{path} holds {name} arrays, which need the ml_dtypes package to "
                          f"load: pip install ml_dtypes") from None
    found = getattr(ml_dtypes, name, None)
    if not isinstance(found, type) or _extended_name(np.dtype(found)) != name:
        raise CheckpointError(f"{path} has an array of dtype {name!r}, which this ml_dtypes "
                              f"{getattr(ml_dtypes, '__version__', '')} does not have")
    return np.dtype(found)


def _where(path):
    return "/".join(map(str, path)) or "the top level"


def _digest(meta_text, arrays):
    h = hashlib.sha256(meta_text.encode("utf-8"))
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"\0{key}\0{a.dtype.str}\0{a.shape}\0".encode("utf-8"))
        h.update(memoryview(a.reshape(-1)).cast("B") if a.size else b"")
    return h.hexdigest()


# ---------------------------------------------------------------- save
def save(obj, path) -> None:
    """Write ``obj`` to ``path`` atomically in gpugrad's ``.npz`` checkpoint format.

    Raises TypeError for values it cannot store, ValueError for trees nested deeper than
    ``MAX_DEPTH``, and OSError naming ``path`` when the file cannot be written.

    >>> import gpugrad as gg, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save(gg.nn.Linear(2, 2).state_dict(), p); sorted(load(p))
    ['bias', 'weight']
    """
    path = os.fspath(path)
    fl = _Flattener()
    tree = fl.tree(obj)
    meta = {"format": FORMAT, "version": 2 if fl.extended else 1, "tree": tree,
            "arrays": {k: {"dtype": a.dtype.str, "shape": list(a.shape)}
                       for k, a in fl.arrays.items()}}
    meta_text = json.dumps(meta, separators=(",", ":"))
    digest = _digest(meta_text, fl.arrays)
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: {path!r} is a directory; expected a file path")
    with atomic_write(path) as f:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            _write_member(zf, _META, np.asarray(meta_text))
            _write_member(zf, _SUM, np.asarray(digest))
            for key, arr in fl.arrays.items():
                _write_member(zf, key, arr)


def _write_member(zf, name, arr):
    with zf.open(name + ".npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, arr, allow_pickle=False)


# ---------------------------------------------------------------- load
def load(path, map_location=None):
    """Read a checkpoint written by :func:`save`, after checking all of it.

    ``map_location``: None puts every tensor on the device it was saved from when that
    device exists here, else on the CPU (a GPU checkpoint loads on a CPU-only machine);
    a device (``"cpu"``, ``"cuda:1"``, a :class:`~gpugrad.Device`) puts them all there.

    >>> import gpugrad as gg, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.npz")
    >>> save({"step": 7, "m": [gg.zeros(1), (1.5, None)]}, p); load(p, map_location="cpu")
    {'step': 7, 'm': [tensor([0.]), (1.5, None)]}
    """
    path = os.fspath(path)
    target = backend.device(map_location) if map_location is not None else None
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    _sniff(path)
    meta, arrays = _read(path)
    return _build(meta["tree"], arrays, target, path, 0)


# the first bytes of files people pass by mistake (a .npz is a ZIP archive: "PK")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
          (b"GIF8", "a GIF image"), (b"\x93NUMPY", "a single NumPy array (.npy)"),
          (b"\x1f\x8b", "a gzip file"), (b"%PDF", "a PDF document"),
          (b"\x89HDF", "an HDF5 file"), (b"\x80", "a Python pickle"))


def _sniff(path):
    """CheckpointError saying what the file is when it cannot be a .npz at all."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        return
    if not head:
        raise CheckpointError(f"{path} is not a gpugrad checkpoint: the file is empty")
    kind = next((what for magic, what in _MAGIC if head.startswith(magic)), None)
    if kind is None and all(32 <= c < 127 or c in b"\t\r\n" for c in head):
        kind = "text"
    raise CheckpointError(f"{path} is not a gpugrad checkpoint: it does not start as a .npz "
                          f"(ZIP) archive does" + (f"; it looks like {kind}" if kind else ""))


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
            if _META not in names or _SUM not in names:
                raise CheckpointError(f"{path} is not a gpugrad checkpoint (no {_META} or "
                                      f"{_SUM} entry)")
            meta_text = str(z[_META][()])
            digest = str(z[_SUM][()])
            arrays = {k: z[k] for k in names - {_META, _SUM}}
    except CheckpointError:
        raise
    except Exception as exc:  # BadZipFile, CRC errors, truncated members, bad headers
        raise CheckpointError(f"{path} is truncated or corrupted and cannot be read "
                              f"({type(exc).__name__}: {exc})") from None
    try:
        meta = json.loads(meta_text)
    except ValueError as exc:
        raise CheckpointError(f"{path} has unreadable metadata ({exc})") from None
    except RecursionError:
        raise CheckpointError(f"{path} has a malformed structure (nested deeper than "
                              f"{MAX_DEPTH} levels)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a gpugrad checkpoint (format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise CheckpointError(f"{path} has format version {meta.get('version')!r}; this "
                              f"gpugrad reads versions up to {VERSION} (upgrade gpugrad)")
    if _digest(meta_text, arrays) != digest:
        raise CheckpointError(f"{path} is corrupted: its SHA-256 checksum does not match "
                              f"its content")
    declared = meta.get("arrays", {})
    if set(declared) != set(arrays):
        raise CheckpointError(f"{path} is corrupted: it declares {len(declared)} arrays and "
                              f"holds {len(arrays)}")
    for k, info in declared.items():
        a = arrays[k]
        if a.dtype.str != info["dtype"] or list(a.shape) != info["shape"]:
            raise CheckpointError(f"{path} is corrupted: array {k!r} is {a.dtype.str} "
                                  f"{a.shape}, declared {info['dtype']} {tuple(info['shape'])}")
    return meta, arrays


def _device_for(saved, target):
    if target is not None:
        return target
    dev = backend.device(saved)
    if dev.type == "cuda" and dev.index >= backend.cuda.device_count():
        return backend.CPU
    return dev


def _build(node, arrays, target, path, depth):
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{path} has a malformed structure (nested deeper than "
                              f"{MAX_DEPTH} levels)")
    try:
        t = node["t"]
        if t == "value":
            return node["v"]
        if t == "dict":
            return {k: _build(v, arrays, target, path, depth + 1) for k, v in node["items"]}
        if t in ("list", "tuple"):
            items = [_build(v, arrays, target, path, depth + 1) for v in node["items"]]
            return items if t == "list" else tuple(items)
        if t in ("scalar", "tensor", "array"):
            arr = arrays[node["key"]]
            if node.get("dtype") is not None:           # stored as bits (bfloat16 & co.)
                dtype = _extended_dtype(node["dtype"], path)
                if dtype.itemsize != arr.dtype.itemsize or arr.dtype.kind != "u":
                    raise ValueError(f"{node['dtype']} stored as {arr.dtype}")
                arr = arr.view(dtype)
        if t == "scalar":
            return arr[()]
        if t in ("tensor", "array"):
            arr = backend.to_device(arr, _device_for(node["device"], target))
            if t == "array":
                return arr
            out = Tensor._make(arr)
            if node.get("requires_grad") and (arr.dtype.kind in "fc" or
                                              "float" in str(node.get("dtype"))):
                out.requires_grad_(True)
            return out
    except CheckpointError:
        raise                   # (from a deeper level: said once, not wrapped at every level)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has a malformed structure ({type(exc).__name__}: "
                              f"{exc})") from None
    raise CheckpointError(f"{path} has a malformed structure (unknown node type {t!r})")
