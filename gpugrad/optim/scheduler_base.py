"""The learning-rate scheduler base class: the step protocol, state dicts, and the checks
that a constructor and a restore share (each scheduler's ``_hyper`` table, plus the stepping
state every scheduler keeps).

>>> import gpugrad as gg
>>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=0.1)
>>> s = gg.optim.ExponentialLR(opt, gamma=0.9)
>>> sorted(s.state_dict())
['_is_initial', '_last_lr', '_step_count', 'base_lrs', 'gamma', 'last_epoch']
"""
from __future__ import annotations

import functools

from .. import capture_hooks, validate
from ..nn.state_dict import StateDictError
from ..validate import integer
from .optimizer import Optimizer

__all__ = ["LRScheduler"]


def _replayed(step):
    """``step`` that, inside a step being recorded by gpugrad.compile, is recorded as a host
    call: each replay steps the scheduler again, as the uncompiled step would."""
    if getattr(step, "_replayed", False):
        return step

    @functools.wraps(step)
    def replayed(self, *args, **kwargs):
        if capture_hooks.is_recording():
            return capture_hooks.host_call(functools.partial(step, self), *args, **kwargs)
        return step(self, *args, **kwargs)
    replayed._replayed = True
    return replayed



class LRScheduler:
    """Base class: subclasses define ``get_lr()`` (the chainable, recursive form),
    ``_closed_form()`` (used by ``step(epoch)``) and ``_hyper`` (each constructor argument's
    checker, see :mod:`gpugrad.validate`).  The constructor and :meth:`load_state_dict`
    apply the same checks (TypeError for a wrong type -- ``True`` is not a number --,
    ValueError for NaN, infinity or a value out of range); a load changes nothing unless
    everything passes.

    >>> import gpugrad as gg
    >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=0.1)
    >>> gg.optim.ExponentialLR(opt, gamma=0.9).state_dict()["last_epoch"]
    0
    """

    _hyper: dict = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:      # every scheduler's step is followed by gpugrad.compile
            cls.step = _replayed(cls.__dict__["step"])

    def __init__(self, optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a gpugrad Optimizer, got "
                            f"{type(optimizer).__name__}")
        last_epoch = validate.check_int(last_epoch, "last_epoch", low=-1,
                                        owner=type(self).__name__)
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

    @_replayed
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

    def _set_hyper(self, **values) -> None:
        """Check constructor arguments with ``_hyper`` and set them as attributes."""
        owner = type(self).__name__
        checked = {k: self._hyper[k](v, k, owner) for k, v in values.items()}
        self.__dict__.update(checked)

    def _state_checks(self) -> dict:
        """Each state-dict entry's checker: ``_hyper`` plus the stepping state."""
        lrs = _lr_list(len(self.optimizer.param_groups))
        return {**self._hyper, "last_epoch": integer(low=-1), "_step_count": integer(low=0),
                "_is_initial": validate.boolean, "base_lrs": lrs, "_last_lr": lrs}

    def _staged(self, state_dict) -> list:
        """``[(scheduler, checked entries)]`` for :meth:`load_state_dict` to apply, or
        :class:`StateDictError` naming the first entry that does not pass."""
        owner = type(self).__name__
        if not isinstance(state_dict, dict):
            raise StateDictError(f"cannot load into {owner}: expected a dict, got "
                                 f"{type(state_dict).__name__}")
        mine, theirs = set(self.state_dict()), set(state_dict)
        if mine != theirs:
            raise StateDictError(f"cannot load into {owner}: missing "
                                 f"{sorted(mine - theirs)}, unexpected {sorted(theirs - mine)} "
                                 f"(a state dict of another scheduler?)")
        checks = self._state_checks()
        clean = {}
        for k in sorted(mine - {"_schedulers"}):
            try:
                clean[k] = checks[k](state_dict[k], k, owner)
            except (TypeError, ValueError) as exc:
                raise StateDictError(f"cannot load into {exc}") from None
        return [(self, clean)]

    def check_state_dict(self, state_dict) -> None:
        """Raise :class:`StateDictError` unless ``state_dict`` came from this kind of
        scheduler and every entry passes the constructor's checks.

        >>> import gpugrad as gg
        >>> opt = gg.optim.SGD([gg.nn.Parameter(gg.zeros(1))], lr=0.1)
        >>> s = gg.optim.StepLR(opt, step_size=2)
        >>> sd = s.state_dict(); sd["gamma"] = float("nan"); s.check_state_dict(sd)
        Traceback (most recent call last):
        ...
        gpugrad.nn.state_dict.StateDictError: cannot load into StepLR: expected gamma ...
        """
        self._staged(state_dict)

    def load_state_dict(self, state_dict) -> None:
        """Restore from :meth:`state_dict`: everything is checked first (as
        :meth:`check_state_dict`), then written; a failed load changes nothing."""
        for sched, clean in self._staged(state_dict):
            sched.__dict__.update(clean)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


def _lr_list(n):
    """A checker for a list of ``n`` learning rates (finite, >= 0)."""
    def check(value, name, owner=""):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{owner}: expected {name} to be a list of {n} learning rates, "
                            f"got {type(value).__name__}")
        if len(value) != n:
            raise ValueError(f"{owner}: expected {name} to hold {n} learning rates (one per "
                             f"parameter group), got {len(value)}")
        return [validate.check_real(v, f"{name}[{i}]", low=0, owner=owner)
                for i, v in enumerate(value)]
    return check
