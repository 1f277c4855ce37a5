"""gpugrad: reverse-mode autodiff for tensors on NumPy (CPU) and CuPy (CUDA), with fused
matmul + bias + activation kernels for large MLPs.

>>> import gpugrad as gg
>>> x = gg.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4.])
"""
from . import backend, dtypes
from .backend import (CudaUnavailableError, Device, DeviceMismatchError, cuda, default_device,
                      device, get_array_module, get_default_device, set_default_device)
from .dtypes import (bool_, complex64, complex128, double, float16, float32, float64, half,
                     int8, int16, int32, int64, long, uint8)
from .tensor import Tensor, as_tensor, from_numpy, tensor
from . import autograd
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .anomaly import AnomalyError
from . import ops
from .ops import *  # noqa: F401,F403
from .creation import *  # noqa: F401,F403
from . import random
from . import fft  # gg.fft: differentiable numpy.fft / cupy.fft
from .random import get_rng_state, manual_seed, set_rng_state
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .transforms import grad, hessian, hvp, jacobian, value_and_grad, vjp
from .interop import from_dlpack, install as _install_interop

_install_interop(Tensor)  # NumPy protocols, DLPack, array API methods (the front-end layer)
from . import nn, optim
from .capture import CaptureError, compile  # noqa: A001 -- gg.compile, as torch.compile
from . import amp
from .amp import autocast
from .dtypes import bfloat16  # None without ml_dtypes (the bf16 extra)
from . import viz
from .tools import onnx  # gg.onnx.export; imports the onnx package only when called
from .io import CheckpointError, load, save
from .kernels import get_matmul_precision, matmul_precision, set_matmul_precision
from .kernels.threads import get_num_threads, set_num_threads

bool = bool_  # noqa: A001 -- gg.bool, as in other array libraries

__version__ = "0.1.0"
