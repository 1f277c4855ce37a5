"""Optimizers (SGD, Adam, AdamW) with fused flat-buffer steps, and learning-rate schedulers.

>>> import gpugrad as gg
>>> model = gg.nn.MLP([4, 8, 2])
>>> opt = gg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = gg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
>>> loss = model(gg.randn(16, 4)).square().mean()
>>> loss.backward(); opt.step(); sched.step(); opt.zero_grad()
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .lr_scheduler import (ChainedScheduler, CosineAnnealingLR, ExponentialLR, LinearLR,
                           LRScheduler, MultiStepLR, SequentialLR, StepLR)
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler", "LRScheduler", "StepLR",
           "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "ChainedScheduler",
           "SequentialLR"]
