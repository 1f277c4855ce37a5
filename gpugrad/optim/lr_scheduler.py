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

from ..nn.state_dict import StateDictError
from .optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearLR", "ChainedScheduler", "SequentialLR"]


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` (the chainable, recursive form) and
    ``_closed_form()`` (used by ``step(epoch)``).

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=0.1)
    >>> ExponentialLR(opt, gamma=0.9).state_dict()["last_epoch"]
    0
    """

    def __init__(self, optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a gpugrad Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr' to resume a "
                                   f"scheduler at last_epoch={last_epoch}; load the "
                                   f"optimizer's state dict first")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):  # pragma: no cover - every scheduler overrides
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates of the last step, one per parameter group."""
        return self._last_lr

    def step(self, epoch=None) -> None:
        """Advance one epoch (or jump to ``epoch`` with the closed form) and set the lrs."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._closed_form() if hasattr(self, "_closed_form") else self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, values):
            g["lr"] = lr
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _lrs(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything but the optimizer (JSON-friendly values)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()
                if k != "optimizer"}

    def check_state_dict(self, state_dict) -> None:
        """Raise :class:`StateDictError` unless ``state_dict`` came from this kind of scheduler."""
        if not isinstance(state_dict, dict):
            raise StateDictError(f"cannot load into {type(self).__name__}: expected a dict, "
                                 f"got {type(state_dict).__name__}")
        mine, theirs = set(self.state_dict()), set(state_dict)
        if mine != theirs:
            raise StateDictError(f"cannot load into {type(self).__name__}: missing "
                                 f"{sorted(mine - theirs)}, unexpected {sorted(theirs - mine)} "
                                 f"(a state dict of another scheduler?)")

    def load_state_dict(self, state_dict) -> None:
        """Restore from :meth:`state_dict` (validated first)."""
        self.check_state_dict(state_dict)
        self.__dict__.update(state_dict)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs.

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = StepLR(opt, step_size=1, gamma=0.1); opt.step(); s.step(); s.get_last_lr()
    [0.1]
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"StepLR: expected step_size to be an int >= 1, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
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

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        counts = {}
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, int):
                raise ValueError(f"MultiStepLR: expected int milestones, got {milestones!r}")
            counts[m] = counts.get(m, 0) + 1
        self.milestones, self.gamma = counts, gamma
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

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
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

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if isinstance(T_max, bool) or not isinstance(T_max, int) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: expected T_max to be an int >= 1, got "
                             f"{T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
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

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: expected 0 < start_factor <= 1, got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: expected 0 <= end_factor <= 1, got {end_factor!r}")
        if isinstance(total_iters, bool) or not isinstance(total_iters, int) or total_iters < 1:
            raise ValueError(f"LinearLR: expected total_iters to be an int >= 1, got "
                             f"{total_iters!r}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
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


def _check_members(owner, optimizer, schedulers):
    if not schedulers:
        raise ValueError(f"{owner}: expected at least one scheduler")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{owner}: expected schedulers, got {type(s).__name__} at {i}")
        if s.optimizer is not optimizer:
            raise ValueError(f"{owner}: scheduler {i} ({type(s).__name__}) belongs to another "
                             f"optimizer")


class _Composite(LRScheduler):
    def state_dict(self):
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def check_state_dict(self, state_dict):
        super().check_state_dict(state_dict)
        subs = state_dict["_schedulers"]
        if not isinstance(subs, list) or len(subs) != len(self._schedulers):
            raise StateDictError(f"cannot load into {type(self).__name__}: expected "
                                 f"{len(self._schedulers)} scheduler states, got "
                                 f"{len(subs) if isinstance(subs, list) else subs!r}")
        for s, sd in zip(self._schedulers, subs):
            s.check_state_dict(sd)

    def load_state_dict(self, state_dict):
        self.check_state_dict(state_dict)
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "_schedulers"})
        for s, sd in zip(self._schedulers, state_dict["_schedulers"]):
            s.load_state_dict(sd)


class ChainedScheduler(_Composite):
    """Step several schedulers together on one optimizer (their factors multiply).

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = ChainedScheduler([ExponentialLR(opt, 0.5), StepLR(opt, 1, 0.1)])
    >>> opt.step(); s.step(); [round(v, 6) for v in s.get_last_lr()]
    [0.05]
    """

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        optimizer = optimizer or (schedulers[0].optimizer if schedulers else None)
        _check_members("ChainedScheduler", optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = self._lrs()

    def step(self, epoch=None):
        if epoch is not None:
            raise ValueError("ChainedScheduler.step() takes no epoch")
        for s in self._schedulers:
            s.step()
        self._last_lr = self._lrs()

    @property
    def last_epoch(self):
        return self._schedulers[-1].last_epoch


class SequentialLR(_Composite):
    """Run schedulers one after another, switching at the ``milestones`` epochs: e.g. a
    LinearLR warm-up for 5 epochs, then cosine decay.

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> warm = LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> s = SequentialLR(opt, [warm, CosineAnnealingLR(opt, T_max=2)], milestones=[2])
    >>> [s.get_last_lr()[0]] + [round((opt.step(), s.step(), s.get_last_lr()[0])[2], 6)
    ...                         for _ in range(4)]
    [0.5, 0.75, 1.0, 0.5, 0.0]
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        schedulers = list(schedulers)
        _check_members("SequentialLR", optimizer, schedulers)
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestones for "
                             f"{len(schedulers)} schedulers, got {len(milestones)}")
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"]
        for s in schedulers:
            s.last_epoch -= 1
        idx = bisect_right(milestones, 0)
        schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def step(self, epoch=None):
        if epoch is not None:
            raise ValueError("SequentialLR.step() takes no epoch")
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            s._update_lr(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()
