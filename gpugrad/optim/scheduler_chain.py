"""Schedulers made of schedulers: ``ChainedScheduler`` (all step together, their factors
multiply) and ``SequentialLR`` (one after another, switching at milestone epochs).  Their
state dicts hold their members' state dicts; a restore checks all of them before it
changes any.

>>> import gpugrad as gg
>>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
>>> s = ChainedScheduler([gg.optim.ExponentialLR(opt, 0.5), gg.optim.StepLR(opt, 1, 0.1)])
>>> sorted(s.state_dict())
['_last_lr', '_schedulers']
"""
from __future__ import annotations

from bisect import bisect_right

from .. import validate
from ..nn.state_dict import StateDictError
from ..validate import integer
from .scheduler_base import LRScheduler, _lr_list

__all__ = ["ChainedScheduler", "SequentialLR"]


def _check_members(owner, optimizer, schedulers):
    if not schedulers:
        raise ValueError(f"{owner}: expected at least one scheduler")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{owner}: expected schedulers, got {type(s).__name__} at {i}")
        if s.optimizer is not optimizer:
            raise ValueError(f"{owner}: scheduler {i} ({type(s).__name__}) belongs to another "
                             f"optimizer")


def _milestone_list(n):
    """A checker for SequentialLR's milestones: ``n`` increasing epochs (ints >= 0)."""
    def check(value, name, owner=""):
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise TypeError(f"{owner}: expected {name} to be a list of epochs, got {value!r}")
        value = [validate.check_int(m, f"each of {name}", low=0, owner=owner) for m in value]
        if len(value) != n:
            raise ValueError(f"{owner}: expected {n} {name} for {n + 1} schedulers, got "
                             f"{len(value)}")
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"{owner}: expected increasing {name}, got {value}")
        return value
    return check


class _Composite(LRScheduler):
    def state_dict(self):
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        sd["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return sd

    def _state_checks(self):
        return {"_last_lr": _lr_list(len(self.optimizer.param_groups)),
                "last_epoch": integer(low=0),
                "_milestones": _milestone_list(len(self._schedulers) - 1)}

    def _staged(self, state_dict):
        staged = super()._staged(state_dict)
        subs = state_dict["_schedulers"]
        if not isinstance(subs, list) or len(subs) != len(self._schedulers):
            raise StateDictError(f"cannot load into {type(self).__name__}: expected "
                                 f"{len(self._schedulers)} scheduler states, got "
                                 f"{len(subs) if isinstance(subs, list) else subs!r}")
        for s, sd in zip(self._schedulers, subs):
            staged += s._staged(sd)
        return staged


class ChainedScheduler(_Composite):
    """Step several schedulers together on one optimizer (their factors multiply).

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=1.0)
    >>> s = ChainedScheduler([gg.optim.ExponentialLR(opt, 0.5), gg.optim.StepLR(opt, 1, 0.1)])
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
    >>> warm = gg.optim.LinearLR(opt, start_factor=0.5, total_iters=2)
    >>> s = SequentialLR(opt, [warm, gg.optim.CosineAnnealingLR(opt, T_max=2)], milestones=[2])
    >>> [s.get_last_lr()[0]] + [round((opt.step(), s.step(), s.get_last_lr()[0])[2], 6)
    ...                         for _ in range(4)]
    [0.5, 0.75, 1.0, 0.5, 0.0]
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        schedulers = list(schedulers)
        _check_members("SequentialLR", optimizer, schedulers)
        milestones = _milestone_list(len(schedulers) - 1)(milestones, "milestones",
                                                          "SequentialLR")
        last_epoch = validate.check_int(last_epoch, "last_epoch", low=-1, owner="SequentialLR")
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
