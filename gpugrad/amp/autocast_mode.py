"""``autocast``: run matmul-heavy ops in float16 or bfloat16 and sensitive ones in float32.

Inside ``with gg.autocast(dtype="bfloat16"):`` (a context manager and a decorator; it belongs
to the thread that enters it, as grad mode does):

- ``linear`` (and ``nn.Linear``), ``matmul``/``@``/``dot``, ``einsum`` (and ``outer``),
  ``tensordot`` (:data:`~gpugrad.autocast_state.LOWER_PRECISION_OPS`; not ``inner``) cast their
  float32 and 16-bit operands to the autocast dtype and return it.  Products accumulate in
  float32: on the CPU they run as float32 GEMMs of the 16-bit-rounded inputs whose result is
  then rounded (NumPy has no bfloat16 GEMM); on CUDA float16 products go through cuBLAS with
  float32 compute.
- bfloat16 on CUDA returns **float32**, not bfloat16: CuPy has no bfloat16 dtype
  (cupy/cupy#7527), so ``linear``, ``matmul``/``dot`` and ``tensordot`` round their operands
  to bfloat16 (held as raw bits) and multiply them with cuBLAS's bfloat16 GEMM
  (``cublasGemmEx``, float32 compute) into a float32 result: the float32 sums of products of
  the bfloat16-rounded inputs, which is what cuBLAS computes anyway before rounding a
  bfloat16 output (so the values are those of the CPU's result before its final rounding).
  float16 operands are rounded to bfloat16 straight from float16.  Backward rounds the
  gradient to bfloat16 for the same GEMMs; gradients come back in the operands' dtypes
  (float32 for float32 parameters).  ``einsum`` runs in float32 on the bfloat16-rounded
  operands.  The first such product on each GPU checks the casts bit for bit and cuBLAS's
  products (every N/T layout, strided and broadcast batches) against float64 products of
  the same rounded inputs on the host, and raises RuntimeError on a mismatch (see
  :mod:`gpugrad.kernels.cublas_bf16`).  Two differences from the CPU: the bfloat16 GEMMs
  record no graph, so ``create_graph=True`` through them raises RuntimeError (wrap the part
  that needs higher-order gradients in ``gg.autocast(enabled=False)``); and a step using them
  cannot be recorded by ``gpugrad.compile`` yet (CaptureError: use float16 autocast, or run
  the step uncompiled).
- softmax, log_softmax, logsumexp, cross_entropy, nll_loss, mse_loss,
  binary_cross_entropy_with_logits, norm, the reductions sum/mean/var/std/prod/cumsum and
  their NumPy twins (nansum/nanmean/nanvar/nanstd/nanprod/nancumsum, ``add.reduce``,
  ``add.accumulate``, ``multiply.reduce``), exp/log/log1p/expm1, and linear algebra (inv,
  det, slogdet, solve, cholesky, eigh, eigvalsh, eig, eigvals, svd, svdvals, qr, pinv,
  lstsq, matrix_rank, cond: LAPACK has no 16-bit routines, and PyTorch's CPU list has them)
  (:data:`~gpugrad.autocast_state.FLOAT32_OPS`) cast 16-bit operands up and return float32.
- every other op runs in its inputs' dtype, NumPy's promotion deciding mixed cases
  (bfloat16 + float32 is float32).

Casts are graph nodes: a gradient leaves each cast in the dtype of the cast's input, so a
float32 parameter gets a float32 ``.grad`` although its product ran in bfloat16.  A
parameter's 16-bit copy is made on its first use in the outermost autocast region and reused
until that region exits (or the parameter changes in place), so a write into a weight
between regions, even a raw NumPy write into ``p.data``, is always seen (see
:func:`gpugrad.autocast_state.low_copy`).  float64 operands are never cast.  bfloat16 needs
``ml_dtypes`` (for the dtype object, on CUDA too).

Differences from ``torch.autocast`` on the CPU: PyTorch's CPU list leaves softmax,
log_softmax and the reductions to their input dtype; here they run in float32 (PyTorch's
CUDA list does the same for softmax/log_softmax/sum).  det, slogdet and pinv, which
PyTorch's CPU list leaves out (and then refuses a bfloat16 operand), run in float32 here.
trace, quantile/percentile and cumprod stay in their inputs' 16-bit dtype (summed in
float32, rounded once), where PyTorch's CPU list has trace and quantile in float32.
"""
from __future__ import annotations

import functools

from .. import dtypes
from ..autocast_state import _state, enter_region, exit_region, set_dtype

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
    On CUDA, bfloat16 products return float32 (CuPy has no bfloat16; see the module's
    documentation); RuntimeError comes from the first one when the bfloat16 cast or GEMM
    fails its self-check on that GPU, and from ``backward(create_graph=True)`` through one;
    CaptureError from one inside a step ``gpugrad.compile`` records.

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
        self.enabled, self._spec = bool(enabled), dtype
        try:
            self.dtype = _resolve(dtype)
        except TypeError:   # bfloat16 without ml_dtypes: only an enabled autocast needs it
            if self.enabled:
                raise
            self.dtype = None

    def __enter__(self):
        # the mode to restore is kept per thread and per entry, so one autocast object may
        # be entered again while active (nested, or from another thread)
        if _state.prev_stack is None:
            _state.prev_stack = []
        _state.prev_stack.append(_state.dtype)
        enter_region()
        set_dtype(self.dtype if self.enabled else None)   # enabled=False: off inside
        return self

    def __exit__(self, *exc):
        set_dtype(_state.prev_stack.pop())
        exit_region()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self._spec, self.enabled):
                return fn(*args, **kwargs)
        return wrapper

    def __repr__(self):
        name = self.dtype.name if self.dtype is not None else self._spec
        return f"autocast(dtype={name!r}, enabled={self.enabled})"


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
