"""Minibatches over in-memory arrays: ``DataLoader(features, labels, batch_size, ...)``.

Batches come out as tensors already on the target device.  Shuffling uses the loader's own
seeded generator (its state is part of :meth:`DataLoader.state_dict`, so a resumed run
draws the same orders).  On CUDA with host-resident data, the next batch is gathered into
pinned host memory and copied on a side stream while the current batch trains; data that
already lives on the GPU is gathered there.

>>> import numpy as np
>>> X, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
>>> loader = DataLoader(X, y, batch_size=4, shuffle=True, seed=0)
>>> [tuple(xb.shape) for xb, yb in loader]
[(4, 2), (4, 2), (2, 2)]
>>> len(DataLoader(X, y, batch_size=4, drop_last=True))
2
"""
from __future__ import annotations

import numpy as np

from . import backend, dtypes, validate
from .backend import is_cupy_array
from .tensor import Tensor

__all__ = ["DataLoader"]


def _raw(a, name):
    if isinstance(a, Tensor):
        a = a.data
    elif isinstance(a, (list, tuple)):
        a = np.asarray(a)
    elif not (isinstance(a, np.ndarray) or is_cupy_array(a)):
        raise TypeError(f"DataLoader: expected {name} as an array or Tensor, got "
                        f"{type(a).__name__}")
    validate.check_dtype(a.dtype, name, "biufc", owner="DataLoader")   # no strings, objects
    return a


class DataLoader:
    """Iterate over (features, labels) minibatches.

    ``features`` / ``labels``: NumPy or CuPy arrays (or tensors) of numbers or bools with
    the same first dimension (strings and objects raise TypeError); ``labels`` may be None (batches are then single tensors).  ``dtype`` casts
    floating features once, up front.  ``device``: where batches go (default: the default
    device).  ``seed``: the shuffle generator's seed.

    >>> import numpy as np, gpugrad as gg
    >>> loader = DataLoader(np.ones((5, 3)), np.zeros(5, np.int64), batch_size=2,
    ...                     dtype="float32")
    >>> xb, yb = next(iter(loader)); xb.dtype, yb.dtype, xb.device
    (dtype('float32'), dtype('int64'), device(type='cpu'))
    """

    def __init__(self, features, labels=None, batch_size: int = 64, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, device=None, dtype=None,
                 prefetch: bool = True):
        X = _raw(features, "features")
        y = None if labels is None else _raw(labels, "labels")
        if X.ndim < 1:
            raise ValueError("DataLoader: expected features with a sample dimension, got a "
                             "0-d array")
        if y is not None and y.shape[:1] != X.shape[:1]:
            raise ValueError(f"DataLoader: expected as many labels as samples, got "
                             f"{y.shape[0] if y.ndim else 'a 0-d array'} labels for "
                             f"{X.shape[0]} samples")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: expected batch_size to be an int >= 1, got "
                             f"{batch_size!r}")
        dt = dtypes.as_dtype(dtype)
        if dt is not None and X.dtype.kind == "f" and X.dtype != dt:
            X = X.astype(dt)
        self.device = backend.device(device)
        self.X, self.y = X, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, bool(shuffle), bool(drop_last)
        self.prefetch = bool(prefetch)
        self.seed = seed
        self.generator = np.random.Generator(np.random.PCG64(seed))
        self._pinned = None

    @property
    def num_samples(self) -> int:
        """Number of samples in the dataset."""
        return int(self.X.shape[0])

    def __len__(self):
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    # ------------------------------------------------------------ state (for resuming)
    def state_dict(self) -> dict:
        """The shuffle generator's state (JSON-friendly); restore it to replay the orders.

        >>> import numpy as np
        >>> a = DataLoader(np.zeros((4, 1)), shuffle=True, seed=1)
        >>> b = DataLoader(np.zeros((4, 1)), shuffle=True, seed=2)
        >>> b.load_state_dict(a.state_dict()); a.order().tolist() == b.order().tolist()
        True
        """
        return {"generator": self.generator.bit_generator.state, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s generator state."""
        if not isinstance(state, dict) or "generator" not in state:
            raise ValueError(f"DataLoader.load_state_dict: expected a dict with a 'generator' "
                             f"entry, got {state!r:.80}")
        g = np.random.PCG64()
        try:
            g.state = state["generator"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"DataLoader.load_state_dict: not a PCG64 generator state "
                             f"({exc})") from None
        self.generator = np.random.Generator(g)
        self.seed = state.get("seed", self.seed)

    # ------------------------------------------------------------ iteration
    def order(self) -> np.ndarray:
        """The sample order of the next epoch (draws from the generator when shuffling)."""
        n = self.num_samples
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def _bounds(self):
        n, b = self.num_samples, self.batch_size
        stop = (n // b) * b if self.drop_last else n
        return [(s, min(s + b, n)) for s in range(0, stop, b)]

    def __iter__(self):
        order = self.order()
        bounds = self._bounds()
        data_dev = backend.array_device(self.X)
        if self.device.type == "cuda" and data_dev.type == "cpu" and self.prefetch:
            return self._iter_cuda_prefetch(order, bounds)
        return self._iter_simple(order, bounds, data_dev)

    def _iter_simple(self, order, bounds, data_dev):
        X, y, dev = self.X, self.y, self.device
        contiguous = not self.shuffle
        idx_all = order if data_dev.type == "cpu" else backend.to_device(order, data_dev)
        for s, e in bounds:
            with data_dev._activated():       # never held across a yield
                if contiguous:
                    xb, yb = X[s:e], None if y is None else y[s:e]
                else:
                    idx = idx_all[s:e]
                    xb, yb = X[idx], None if y is None else y[idx]
                xb = backend.to_device(xb, dev)
                yb = None if yb is None else backend.to_device(yb, dev)
            yield _out(xb, yb)

    def _pinned_buffers(self, xp):
        if self._pinned is None:
            b = self.batch_size
            bufs = []
            for _ in range(2):
                pair = []
                for a in (self.X, self.y):
                    if a is None:
                        pair.append(None)
                        continue
                    shape = (b,) + tuple(a.shape[1:])
                    count = int(np.prod(shape))
                    mem = xp.cuda.alloc_pinned_memory(max(count * a.dtype.itemsize, 1))
                    pair.append(np.frombuffer(mem, a.dtype, count).reshape(shape))
                bufs.append(pair)
            self._pinned = bufs
        return self._pinned

    def _iter_cuda_prefetch(self, order, bounds):
        """Double-buffered host->device copies on a side stream: while batch k trains on the
        current stream, batch k+1 is gathered into pinned memory and copied."""
        dev = self.device
        xp = dev.xp
        X, y = self.X, self.y
        with dev._activated():
            pinned = self._pinned_buffers(xp)
            side = xp.cuda.Stream(non_blocking=True)
        done = [None, None]

        def stage(k):
            s, e = bounds[k]
            slot = k % 2
            if done[slot] is not None:        # the host buffer's previous copy must be over
                done[slot].synchronize()
            idx = order[s:e]
            n = e - s
            outs = []
            with dev._activated():
                main = xp.cuda.get_current_stream()
                # the side stream starts after the work already queued on the main stream, so
                # a block the allocator hands out again is never written while still being read
                side.wait_event(main.record())
                for a, host in zip((X, y), pinned[slot]):
                    if a is None:
                        outs.append(None)
                        continue
                    np.take(a, idx, axis=0, out=host[:n])
                    d = xp.empty((n,) + tuple(a.shape[1:]), a.dtype)
                    d.set(host[:n], stream=side)
                    outs.append(d)
                done[slot] = side.record()
            return outs, done[slot]

        nxt = stage(0) if bounds else None
        for k in range(len(bounds)):
            (xb, yb), ready = nxt
            with dev._activated():
                xp.cuda.get_current_stream().wait_event(ready)
            if k + 1 < len(bounds):
                nxt = stage(k + 1)
            yield _out(xb, yb)


def _out(xb, yb):
    xt = Tensor._make(xb)
    return xt if yb is None else (xt, Tensor._make(yb))
