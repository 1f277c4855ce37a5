"""Learning-rate schedulers with PyTorch's semantics (same values, same step protocol):
StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR (warm-up), and two ways to
combine them: ``ChainedScheduler`` (all step together, factors multiply) and
``SequentialLR`` (one after another, switching at milestones).

Call ``scheduler.step()`` after ``optimizer.step()``, once per epoch (or per batch).

>>> import gpugrad as gg
>>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
>>> sched = StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for _ in range(5):
...     lrs.append(sched.get_last_lr()[0]); opt.step(); sched.step()
>>> lrs
[1.0, 1.0, 0.5, 0.5, 0.25]
"""
from __future__ import annotations

import math
from bisect import bisect_right

from .. import validate
from ..validate import integer, real
from .scheduler_base import LRScheduler
from .scheduler_chain import ChainedScheduler, SequentialLR

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearLR", "ChainedScheduler", "SequentialLR"]


_GAMMA = real(low=0, low_open=True)


def _milestones(value, name, owner=""):
    """MultiStepLR's milestones: epochs (ints >= 0, repeats allowed), kept as {epoch: count}
    (its state dict's form, also accepted, with the epochs as decimal strings too: JSON's
    form of int keys)."""
    if isinstance(value, dict):
        counts = {validate.check_int(int(m) if isinstance(m, str) and m.isdecimal() else m,
                                     f"{name} epoch", low=0, owner=owner):
                  validate.check_int(c, f"{name}[{m!r}] (a count)", low=1, owner=owner)
                  for m, c in value.items()}
        return counts
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{owner}: expected {name} to be a list of epochs, got {value!r}")
    counts = {}
    for m in value:
        m = validate.check_int(m, f"each of {name}", low=0, owner=owner)
        counts[m] = counts.get(m, 0) + 1
    return counts


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = StepLR(opt, step_size=1, gamma=0.1); opt.step(); s.step(); s.get_last_lr()
    [0.1]
    """

    _hyper = {"step_size": integer(low=1), "gamma": _GAMMA}

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self._set_hyper(step_size=step_size, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each milestone epoch.

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = MultiStepLR(opt, milestones=[1, 3], gamma=0.5)
    >>> [(opt.step(), s.step(), s.get_last_lr()[0])[2] for _ in range(4)]
    [0.5, 0.5, 0.25, 0.25]
    """

    _hyper = {"milestones": _milestones, "gamma": _GAMMA}

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self._set_hyper(milestones=milestones, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        n = self.milestones.get(self.last_epoch, 0)
        if not n:
            return self._lrs()
        return [lr * self.gamma ** n for lr in self._lrs()]

    def _closed_form(self):
        ms = sorted(m for m, c in self.milestones.items() for _ in range(c))
        return [b * self.gamma ** bisect_right(ms, self.last_epoch) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch.

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = ExponentialLR(opt, gamma=0.5); opt.step(); s.step(); s.get_last_lr()
    [0.5]
    """

    _hyper = {"gamma": _GAMMA}

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self._set_hyper(gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _closed_form(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine decay from the base lr to ``eta_min`` over ``T_max`` epochs (PyTorch's
    recursive form, so it chains with other schedulers).

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = CosineAnnealingLR(opt, T_max=2)
    >>> [round((opt.step(), s.step(), s.get_last_lr()[0])[2], 6) for _ in range(2)]
    [0.5, 0.0]
    """

    _hyper = {"T_max": integer(low=1), "eta_min": real(low=0)}

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self._set_hyper(T_max=T_max, eta_min=eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and e > 0:
            return [lo + (b - lo) * (1 + math.cos(e * math.pi / T)) / 2 for b in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._lrs())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
                * (lr - lo) + lo for lr in self._lrs()]

    def _closed_form(self):
        return [self.eta_min + (b - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch
                                                                  / self.T_max)) / 2
                for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the lr linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    epochs (a warm-up when start_factor < 1).

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = LinearLR(opt, start_factor=0.25, total_iters=3)
    >>> [s.get_last_lr()[0]] + [(opt.step(), s.step(), s.get_last_lr()[0])[2] for _ in range(3)]
    [0.25, 0.5, 0.75, 1.0]
    """

    _hyper = {"start_factor": real(low=0, low_open=True, high=1),
              "end_factor": real(low=0, high=1), "total_iters": integer(low=1)}

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        self._set_hyper(start_factor=start_factor, end_factor=end_factor,
                        total_iters=total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        s, f, n, e = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        if e == 0:
            return [lr * s for lr in self._lrs()]
        if self._is_initial or e > n:
            return self._lrs()
        return [lr * (1.0 + (f - s) / (n * s + (e - 1) * (f - s))) for lr in self._lrs()]

    def _closed_form(self):
        s, f, n = self.start_factor, self.end_factor, self.total_iters
        return [b * (s + (f - s) * min(n, self.last_epoch) / n) for b in self.base_lrs]
