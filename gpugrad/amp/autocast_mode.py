"""``autocast``: run matmul-heavy ops in float16 or bfloat16 and sensitive ones in float32.

Inside ``with gg.autocast(dtype="bfloat16"):`` (a context manager and a decorator; it belongs
to the thread that enters it, as grad mode does):

- ``linear`` (and ``nn.Linear``), ``matmul``/``@``/``dot``, ``einsum``, ``tensordot``
  (:data:`~gpugrad.autocast_state.LOWER_PRECISION_OPS`) cast their float32 operands to the autocast
  dtype and return it.  Products accumulate in float32: on the CPU they run as float32 GEMMs
  of the 16-bit-rounded inputs whose result is then rounded (NumPy has no bfloat16 GEMM); on
  CUDA float16 products go through cuBLAS with float32 compute.
- softmax, log_softmax, logsumexp, cross_entropy, nll_loss, mse_loss,
  binary_cross_entropy_with_logits, norm, the reductions sum/mean/var/std/prod/cumsum and
  exp/log/log1p/expm1 (:data:`~gpugrad.autocast_state.FLOAT32_OPS`) cast 16-bit operands up
  and return float32.
- every other op runs in its inputs' dtype, NumPy's promotion deciding mixed cases
  (bfloat16 + float32 is float32).

Casts are graph nodes: a gradient leaves each cast in the dtype of the cast's input, so a
float32 parameter gets a float32 ``.grad`` although its product ran in bfloat16.  A
parameter's 16-bit copy is made on its first use in the outermost autocast region and reused
until that region exits (or the parameter changes in place), so a write into a weight
between regions, even a raw NumPy write into ``p.data``, is always seen (see
:func:`gpugrad.autocast_state.low_copy`).  float64 operands are never cast.  bfloat16 needs
``ml_dtypes`` and runs on the CPU only (CuPy has no bfloat16); use float16 on CUDA.

Differences from ``torch.autocast`` on the CPU: PyTorch's CPU list leaves softmax,
log_softmax and the reductions to their input dtype; here they run in float32 (PyTorch's
CUDA list does the same for softmax/log_softmax/sum).
"""
from __future__ import annotations

import functools

from .. import dtypes
from ..autocast_state import _state, enter_region, exit_region

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype"]

_ALLOWED = ("float16", "bfloat16")


def _resolve(dtype):
    try:
        dt = dtypes.as_dtype(dtype)
    except TypeError as exc:
        if "ml_dtypes" in str(exc):
            raise
        dt = None
    if dt is None or dt.name not in _ALLOWED:
        raise ValueError(f"autocast: expected dtype 'bfloat16' or 'float16', got {dtype!r}")
    return dt


class autocast:
    """Mixed precision for the ops run inside (see the module's documentation for the op
    lists).  ``dtype``: "bfloat16" (default; 8 exponent bits, needs no loss scaling) or
    "float16" (pair it with :class:`~gpugrad.amp.GradScaler`).  ``enabled=False`` turns
    autocast off inside (within an outer autocast too); nesting restores the outer setting on
    exit.

    Errors: ValueError for any other dtype; TypeError for bfloat16 without ml_dtypes.

    >>> import gpugrad as gg
    >>> x, w = gg.ones(4, 3), gg.ones(3, 2, requires_grad=True)
    >>> with gg.autocast(dtype="float16"):
    ...     y = x @ w
    ...     p = gg.softmax(y)
    >>> y.dtype.name, p.dtype.name
    ('float16', 'float32')
    >>> p.sum().backward(); w.grad.dtype.name
    'float32'
    """

    def __init__(self, dtype="bfloat16", enabled: bool = True):
        self.dtype = _resolve(dtype)
        self.enabled = bool(enabled)

    def __enter__(self):
        # the mode to restore is kept per thread and per entry, so one autocast object may
        # be entered again while active (nested, or from another thread)
        if _state.prev_stack is None:
            _state.prev_stack = []
        _state.prev_stack.append(_state.dtype)
        enter_region()
        _state.dtype = self.dtype if self.enabled else None   # enabled=False: off inside
        return self

    def __exit__(self, *exc):
        _state.dtype = _state.prev_stack.pop()
        exit_region()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.dtype, self.enabled):
                return fn(*args, **kwargs)
        return wrapper

    def __repr__(self):
        return f"autocast(dtype={self.dtype.name!r}, enabled={self.enabled})"


def is_autocast_enabled() -> bool:
    """True inside an enabled :class:`autocast` (in this thread).

    >>> import gpugrad as gg
    >>> with gg.autocast(dtype="float16"):
    ...     is_autocast_enabled()
    True
    """
    return _state.dtype is not None


def get_autocast_dtype():
    """The autocast dtype in force in this thread, or None outside autocast.

    >>> get_autocast_dtype() is None
    True
    """
    return _state.dtype
