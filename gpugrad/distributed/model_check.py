"""Checking that every rank wraps the same model before ``DistributedDataParallel``'s first
collective: a model that differs between ranks (another size, another parameter order, a
config mistake) would otherwise end in a cryptic MPI error or a timeout.

Each rank hashes the signature of its model -- the name, shape and dtype of every
parameter it averages (and every buffer it broadcasts), in order -- and the hashes are
all-gathered (8 bytes a rank).  Only when they differ are the signatures themselves
exchanged, to name the first differing entry and what each rank has there.

>>> sig = [["parameter", "0.weight", [6, 16], "float64"],
...        ["parameter", "0.bias", [16], "float64"]]
>>> other = [sig[0], ["parameter", "0.bias", [17], "float64"]]
>>> describe_mismatch([sig, other])
"DistributedDataParallel: the ranks hold different models: parameter 1 is '0.bias' of shape
(16,) float64 on rank 0 but '0.bias' of shape (17,) float64 on rank 1; every rank must ..."
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from . import process_group as pg

__all__ = ["model_signature", "check_same_model", "describe_mismatch"]


def model_signature(module, params, buffers=()) -> list:
    """``[kind, name, shape, dtype]`` for each of ``params`` (then ``buffers``) of
    ``module``, in order; names as ``named_parameters()`` / ``named_buffers()`` give them."""
    names = {}
    for name, t in module.named_parameters():
        names.setdefault(id(t), name)
    for name, t in module.named_buffers():
        names.setdefault(id(t), name)
    return [[kind, names.get(id(t), "?"), [int(d) for d in t.shape], str(t.dtype)]
            for kind, ts in (("parameter", params), ("buffer", buffers)) for t in ts]


def _hash(text: str) -> int:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1           # fits an int64


def check_same_model(module, params, buffers=()) -> None:
    """Raise RuntimeError (the same one-line message on every rank) unless every rank's
    ``model_signature`` is the same.  A collective: every rank must call it."""
    text = json.dumps(model_signature(module, params, buffers))
    hashes = pg.all_gather(np.array([_hash(text)], dtype=np.int64))[:, 0]
    if (hashes == hashes[0]).all():
        return
    mine = np.frombuffer(text.encode(), dtype=np.uint8)
    lengths = pg.all_gather(np.array([mine.size], dtype=np.int64))[:, 0]
    buf = np.zeros(int(lengths.max()), dtype=np.uint8)
    buf[:mine.size] = mine
    every = pg.all_gather(buf)
    sigs = [json.loads(every[r, :int(n)].tobytes().decode()) for r, n in enumerate(lengths)]
    raise RuntimeError(describe_mismatch(sigs))


def _entry(e) -> str:
    return f"{e[1]!r} of shape {tuple(e[2])} {e[3]}"


def describe_mismatch(sigs) -> str:
    """One line naming the first entry where a rank's signature differs from rank 0's."""
    ref = sigs[0]
    for r, sig in enumerate(sigs[1:], start=1):
        if sig == ref:
            continue
        for i in range(max(len(ref), len(sig))):
            a = ref[i] if i < len(ref) else None
            b = sig[i] if i < len(sig) else None
            if a == b:
                continue
            kind = (a or b)[0]
            pos = i if kind == "parameter" else i - sum(e[0] == "parameter"
                                                        for e in (ref if a else sig))
            left = _entry(a) if a else "missing"
            right = _entry(b) if b else "missing"
            counts = ""
            if len(ref) != len(sig):
                counts = f" (rank 0 has {len(ref)} entries, rank {r} has {len(sig)})"
            return (f"DistributedDataParallel: the ranks hold different models: {kind} {pos} "
                    f"is {left} on rank 0 but {right} on rank {r}{counts}; every rank must "
                    f"build the same model (the same parameters, shapes, dtypes and order)")
    return "DistributedDataParallel: the ranks hold different models"
