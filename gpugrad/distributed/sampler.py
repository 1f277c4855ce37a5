"""Sharding the data across ranks: :class:`DistributedSampler` (PyTorch's) and
:class:`DistributedDataLoader`, a :class:`~gpugrad.data.DataLoader` that iterates over this
rank's shard of each epoch's permutation.

Every rank draws the same permutation (from ``seed`` and the epoch number) and takes every
``num_replicas``-th index starting at its rank, so the shards are disjoint and of equal
length: with ``drop_last=False`` the permutation is padded with its own first indices up to
a multiple of the number of ranks (a few samples are seen twice); with ``drop_last=True``
its tail is dropped instead.

>>> s = DistributedSampler(10, num_replicas=2, rank=1, seed=0)
>>> len(s), sorted(set(s) | set(DistributedSampler(10, num_replicas=2, rank=0, seed=0)))
(5, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
"""
from __future__ import annotations

import numpy as np

from ..data import DataLoader
from . import process_group as pg

__all__ = ["DistributedSampler", "DistributedDataLoader"]


class DistributedSampler:
    """The indices of one rank's shard of ``num_samples`` (an int, or anything with a length).

    ``num_replicas`` / ``rank``: default to the world size and this rank.  ``shuffle``: a new
    permutation each epoch (seeded by ``seed + epoch``; call :meth:`set_epoch` before each
    epoch, as with PyTorch's).  ValueError for a rank outside ``[0, num_replicas)``.

    >>> s = DistributedSampler(5, num_replicas=2, rank=0, shuffle=False)
    >>> list(s), list(DistributedSampler(5, num_replicas=2, rank=1, shuffle=False))
    ([0, 2, 4], [1, 3, 0])
    """

    def __init__(self, num_samples, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        n = num_samples if isinstance(num_samples, (int, np.integer)) else len(num_samples)
        num_replicas = pg.get_world_size() if num_replicas is None else num_replicas
        rank = pg.get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: expected num_replicas >= 1, got "
                             f"{num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: expected rank in [0, {num_replicas}), got "
                             f"{rank!r}")
        if n < 0 or (drop_last and n < num_replicas) or n == 0:
            raise ValueError(f"DistributedSampler: {n} samples cannot be split into "
                             f"{num_replicas} non-empty shards")
        self.num_samples_total = int(n)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        if drop_last:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s permutation next (the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = self.num_samples_total
        if self.shuffle:
            g = np.random.Generator(np.random.PCG64([self.seed, self.epoch]))
            order = g.permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:
            reps = -(-(self.total_size - n) // n)
            order = np.concatenate([order] + [order] * reps)[:self.total_size]
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples


class DistributedDataLoader(DataLoader):
    """A DataLoader over this rank's shard (a :class:`DistributedSampler`) of each epoch.

    Takes DataLoader's arguments plus ``num_replicas``, ``rank`` and ``drop_last_shard``
    (the sampler's ``drop_last``); ``shuffle`` and ``seed`` go to the sampler.  The epoch
    advances after each full iteration (or set it with :meth:`set_epoch`); ``state_dict``
    holds it, so a resumed run draws the same shards.  ``num_samples`` is this rank's count.

    >>> import numpy as np
    >>> X = np.arange(12, dtype=np.float32).reshape(6, 2)
    >>> a = DistributedDataLoader(X, batch_size=2, shuffle=True, num_replicas=2, rank=0)
    >>> b = DistributedDataLoader(X, batch_size=2, shuffle=True, num_replicas=2, rank=1)
    >>> len(a), a.num_samples, sorted(a.order().tolist() + b.order().tolist())
    (2, 3, [0, 1, 2, 3, 4, 5])
    """

    def __init__(self, features, labels=None, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, device=None, dtype=None,
                 prefetch: bool = True, num_replicas=None, rank=None,
                 drop_last_shard: bool = False):
        super().__init__(features, labels, batch_size, shuffle=shuffle, drop_last=drop_last,
                         seed=seed, device=device, dtype=dtype, prefetch=prefetch)
        self.sampler = DistributedSampler(int(self.X.shape[0]), num_replicas, rank,
                                          shuffle=shuffle, seed=seed,
                                          drop_last=drop_last_shard)

    @property
    def num_samples(self) -> int:
        """Samples in this rank's shard per epoch."""
        return self.sampler.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Draw ``epoch``'s shard next."""
        self.sampler.set_epoch(epoch)

    def order(self) -> np.ndarray:
        """This rank's sample order for the current epoch (does not advance it)."""
        return self.sampler.indices()

    def __iter__(self):
        order = self.order()
        self.sampler.set_epoch(self.sampler.epoch + 1)
        return DataLoader.__iter__(_Fixed(self, order))

    def state_dict(self) -> dict:
        """``{"epoch": next epoch, "seed": seed}`` (JSON-friendly)."""
        return {"epoch": self.sampler.epoch, "seed": self.sampler.seed,
                "num_replicas": self.sampler.num_replicas}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s epoch."""
        if not isinstance(state, dict) or "epoch" not in state:
            raise ValueError(f"DistributedDataLoader.load_state_dict: expected a dict with an "
                             f"'epoch' entry (a DistributedDataLoader's state), got "
                             f"{state!r:.80}")
        self.sampler.set_epoch(state["epoch"])


class _Fixed:
    """A view of a loader whose ``order()`` is a fixed array (for ``DataLoader.__iter__``)."""

    shuffle = True            # gather by index: a shard is never one slice

    def __init__(self, loader, order):
        self._loader, self._order = loader, order

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def order(self):
        return self._order
