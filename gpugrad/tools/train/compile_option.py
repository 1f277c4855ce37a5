"""``gpugrad train --compile``: the training loop's step as a captured step."""
from __future__ import annotations

from gpugrad.capture import training_step

__all__ = ["compiled_step", "check_compile"]


def check_compile(cfg) -> None:
    """ValueError (one line) for a run with ``cfg.compile`` on that a replay cannot honour:
    ``detect_anomaly`` or ``grad_stats`` (they look at every op or every step's gradients)
    and ``precision="fp16"`` (dynamic loss scaling decides on the host, at every step,
    whether to skip it).  Called before the run's folder is made.

    >>> import types
    >>> check_compile(types.SimpleNamespace(compile=True, precision="fp16"))
    Traceback (most recent call last):
    ...
    ValueError: --compile cannot be combined with --precision fp16: dynamic loss scaling decides on the host at each step whether to skip it; use --precision bf16 or fp32, or train without --compile
    """
    if not getattr(cfg, "compile", False):
        return
    for name in ("detect_anomaly", "grad_stats"):
        if getattr(cfg, name, False):
            raise ValueError(f"compile=True cannot be combined with {name}=True: it needs "
                             f"each step run eagerly; turn one of them off")
    if getattr(cfg, "precision", None) == "fp16":
        raise ValueError("--compile cannot be combined with --precision fp16: dynamic loss "
                         "scaling decides on the host at each step whether to skip it; use "
                         "--precision bf16 or fp32, or train without --compile")


def compiled_step(cfg, model, loss_fn, optimizer, precision, callbacks=()):
    """The compiled ``(x, y) -> loss`` step for a run with ``cfg.compile`` on, else None.

    Raises ValueError for what a replay cannot honour: what :func:`check_compile` refuses,
    and callbacks with an ``on_before_step`` (called inside the step, between backward and
    the update).

    >>> import types
    >>> compiled_step(types.SimpleNamespace(compile=False), None, None, None, None) is None
    True
    """
    if not getattr(cfg, "compile", False):
        return None
    check_compile(cfg)
    from gpugrad.tools.train.grad_stats import Callback
    for cb in callbacks:
        if type(cb).on_before_step is not Callback.on_before_step:
            raise ValueError(f"compile=True: callback {type(cb).__name__} has an "
                             f"on_before_step, which runs inside the step and cannot be "
                             f"replayed; train without compile")
    return training_step(model, loss_fn, optimizer, precision)
