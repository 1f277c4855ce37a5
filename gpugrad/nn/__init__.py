"""Neural-network building blocks: modules, layers, activations, losses, initialization.

>>> import gpugrad as gg
>>> gg.manual_seed(0)
>>> model = gg.nn.MLP([64, 256, 256, 10])
>>> loss = gg.nn.CrossEntropyLoss()(model(gg.randn(8, 64)), gg.randint(10, size=(8,)))
>>> loss.backward()
>>> model[0].weight.grad.shape
(64, 256)
"""
from . import functional, init
from .activation import (ACTIVATION_NAMES, GELU, Dropout, Flatten, Identity, LeakyReLU, ReLU,
                         SiLU, Sigmoid, Softplus, Tanh, activation)
from .containers import ModuleList, Sequential
from .linear import FUSED_ACTIVATIONS, MLP, Linear
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module
from .parameter import Parameter
from .state_dict import (IncompatibleKeys, StateDictError, from_torch_state_dict,
                         to_torch_state_dict)
from .utils import clip_grad_norm_, clip_grad_value_
from . import utils

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "Linear", "MLP", "ReLU",
           "LeakyReLU", "GELU", "Sigmoid", "Tanh", "SiLU", "Softplus", "Dropout", "Flatten",
           "Identity", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss", "clip_grad_norm_",
           "clip_grad_value_", "functional", "init", "utils", "activation", "ACTIVATION_NAMES",
           "FUSED_ACTIVATIONS", "StateDictError", "IncompatibleKeys", "to_torch_state_dict",
           "from_torch_state_dict"]
