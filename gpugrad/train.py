"""``gpugrad.train``: the public name of :mod:`gpugrad.tools.train` (``fit``, ``TrainConfig``
users import from here); importing it gives that very module."""
import sys

from .tools import train as _train

sys.modules[__name__] = _train
