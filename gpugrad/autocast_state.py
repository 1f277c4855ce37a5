"""Autocast's per-thread state, its op lists, and the casts ops make at their boundaries.

Part of the engine, as grad mode is (:mod:`gpugrad.amp` sets it): a
matmul-heavy op calls :func:`lower` on its operands and a numerically sensitive one calls
:func:`to_float32`, each only after one read of the thread-local ``_state.dtype`` (None when
autocast is off, the whole cost of autocast to code that does not use it).

Casting a parameter (a leaf that requires grad) reuses its 16-bit copy only inside one
outermost autocast region (PyTorch's rule): the copies are made on first use in the region,
reused while the parameter's version counter and array stay the same, and dropped when the
outermost region exits.  A later region casts again, so a raw write into a weight's memory
between regions (``p.data[...] = v``, ``p.numpy()[...] = v``, a NumPy ufunc with ``out=``),
which moves no version counter, is always seen.  A raw write *inside* a region, after the
weight was read there, is not seen by later reads in that region (as in PyTorch).

Opt-in, :data:`fused_copies`: the fused optimizer step can keep the 16-bit copies of the
float32 master weights in a flat buffer of its own, refreshed in the same pass as the weights
(see :func:`set_low_home`), and autocast then reads them across regions with no cast at all.
(Not for autocast bfloat16 on CUDA, whose parameters' copies are bfloat16 bits made by
``kernels.cublas_bf16.to_bf16_bits``: those are always cast per region.)  That is only right
when nothing but gpugrad's ops and the optimizer writes the weights (a raw write moves no
version counter), so it is off by default; the recast it saves costs about a cast of each
weight per step (a few milliseconds per 2048x2048 layer on a CPU).

>>> import gpugrad as gg
>>> _state.dtype is None and _state.copies is None
True
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from . import dtypes
from .autograd import Function
from .tensor import Tensor

__all__ = ["LOWER_PRECISION_OPS", "FLOAT32_OPS", "lower", "to_float32", "low_copy",
           "set_low_home", "enter_region", "exit_region", "set_dtype", "cuda_bf16"]

# ops that run in the autocast dtype (float32 accumulation): their float32 and 16-bit operands
# are cast to it.  dot (through matmul), outer (through einsum) and the nn.Linear layer go
# through these; inner does not (it runs in its inputs' dtype).
LOWER_PRECISION_OPS = ("linear", "matmul", "einsum", "tensordot")
# ops that run in float32: their 16-bit operands are cast up, their results stay float32
FLOAT32_OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy", "nll_loss", "mse_loss",
               "binary_cross_entropy_with_logits", "norm", "sum", "mean", "var", "std",
               "prod", "cumsum", "exp", "log", "log1p", "expm1",
               # their twins in gpugrad.numpy (NaN-skipping; the ufunc methods add.reduce,
               # add.accumulate, multiply.reduce go through sum, cumsum and prod)
               "nansum", "nanmean", "nanvar", "nanstd", "nanprod", "nancumsum",
               # linear algebra, which LAPACK runs in float32 or float64 only (PyTorch's CPU
               # list has the decompositions, inverses and solves)
               "inv", "det", "slogdet", "solve", "cholesky", "eigh", "eigvalsh", "eig",
               "eigvals", "svd", "svdvals", "qr", "pinv", "lstsq", "matrix_rank", "cond")
# everything else runs in the dtype of its inputs (NumPy promotion: bfloat16 + float32 is
# float32), as PyTorch's "promote" and pass-through ops do


class _State(threading.local):
    dtype = None   # the autocast dtype of this thread (float16 or bfloat16), None when off
    prev_stack = None  # the modes to restore, one per active autocast entry (autocast_mode)
    depth = 0      # how many autocast regions (enabled or not) this thread is inside
    copies = None  # parameters' 16-bit copies made in the current outermost region, or None


_state = _State()
# the threads with an autocast dtype set now (kept by set_dtype; each thread adds and discards
# only its own id): empty means _state.dtype is None in every thread, which the no-graph fast
# paths read with one global lookup instead of a thread-local one
_on = set()


def set_dtype(dt) -> None:
    """Set this thread's autocast dtype (None: off), keeping :data:`_on` up to date."""
    if dt is None:
        _on.discard(threading.get_ident())
    else:
        _on.add(threading.get_ident())
    _state.dtype = dt


def enter_region() -> None:
    """An autocast region (enabled or not) begins in this thread: the outermost one starts
    an empty cache of parameters' 16-bit copies (see :func:`low_copy`)."""
    if _state.depth == 0:
        _state.copies = {}
    _state.depth += 1


def exit_region() -> None:
    """An autocast region ends: the outermost one drops the cache of 16-bit copies, so the
    next region casts every parameter again."""
    _state.depth -= 1
    if _state.depth <= 0:
        _state.depth = 0
        _state.copies = None


def _eligible(t):
    """Floating tensors that autocast may cast: float32 and the 16-bit floats (float64 is
    left alone, as PyTorch leaves it)."""
    return isinstance(t, Tensor) and t.dtype.char in "feE" and dtypes.is_floating(t.dtype)


def lower(*tensors):
    """The operands of a lower-precision op cast to the autocast dtype (call only while
    autocast is on).  Nothing is cast when an operand is float64 or not floating (the op then
    runs as without autocast); None passes through.

    >>> import gpugrad as gg
    >>> set_dtype(gg.float16)
    >>> [t.dtype.name for t in lower(gg.ones(2), gg.ones(2))]
    ['float16', 'float16']
    >>> set_dtype(None)
    """
    dt = _state.dtype
    if any(t is not None and not _eligible(t) for t in tensors) or cuda_bf16(*tensors):
        return tensors
    return tuple(t if t is None or t.dtype == dt else _cast(t, dt) for t in tensors)


def cuda_bf16(*tensors) -> bool:
    """True when autocast is bfloat16 and the (non-None) operands are float CUDA tensors
    that autocast may cast: CuPy has no bfloat16 dtype, so :func:`lower` leaves them in
    float32 and the op computes through ``gpugrad.ops.bf16_cuda`` (bfloat16 GEMMs on the
    operands' bfloat16 bits, float32 results).

    >>> import gpugrad as gg
    >>> cuda_bf16(gg.ones(2))
    False
    """
    dt = _state.dtype
    if dt is None or dt.char != "E":
        return False
    given = [t for t in tensors if t is not None]
    return bool(given) and all(_eligible(t) and t.device.type == "cuda" for t in given)


def to_float32(t):
    """``t`` in float32 when it is a 16-bit float (a float32 op under autocast), else ``t``.

    >>> import gpugrad as gg
    >>> to_float32(gg.ones(2, dtype="float16")).dtype
    dtype('float32')
    """
    if isinstance(t, Tensor) and dtypes.is_low_precision(t.dtype):
        return t.astype(dtypes.float32)
    return t


def _cast(t, dt):
    if t.requires_grad and t._node is None:  # a parameter: its cached 16-bit copy
        return _LowCopy.apply(t, low_copy(t, dt))
    return t.astype(dt)


class _LowCopy(Function):
    """A parameter seen through its 16-bit copy: forward hands over the copy (made or
    refreshed before, no pass here); backward casts the gradient back to the parameter's
    dtype, so the parameter's gradient is float32."""

    twice_differentiable = True
    complex_grad = False

    def saved_inputs(self, needs):
        return ()

    def forward(self, w, low):
        self.in_dtype = w.dtype
        return low

    def backward(self, g):
        return (g.astype(self.in_dtype), None)


_homes = {}   # id(param) -> (weakref to param, weakref to the owner of its 16-bit copies)
# opt-in: parameters' 16-bit copies come from their optimizer's flat buffer, written by the
# fused step and reused across autocast regions.  Set it only when nothing but gpugrad's ops
# and optimizers writes the weights: a raw write (``p.data[...] = v``) is not seen.  False:
# a cast on first use in each outermost region (the reference the fused path must match).
fused_copies = False


def set_low_home(p, home) -> None:
    """Make ``home`` (an optimizer's flat buffer, with ``home.low_view(p, dtype)`` returning
    ``p``'s current 16-bit copy or None) the source of parameter ``p``'s copies when
    :data:`fused_copies` is on; neither is kept alive by this.

    >>> import gpugrad as gg
    >>> p = gg.nn.Parameter(gg.ones(2)); opt = gg.optim.SGD([p], lr=0.1)
    >>> with gg.autocast(dtype="float16"):
    ...     low_copy(p, gg.float16).base is None      # off by default: a cast of its own
    True
    """
    key = id(p)
    _homes[key] = (weakref.ref(p, lambda _, k=key: _homes.pop(k, None)), weakref.ref(home))


def low_copy(p, dt, make=None):
    """The ``dt`` copy of parameter ``p``'s data.  Inside an autocast region it is cast on
    first use and reused until the outermost region exits, unless ``p`` changed in between
    (its version counter moved -- an in-place op -- or its array was replaced); outside any
    region it is a fresh cast.  With :data:`fused_copies` on, the copy comes from ``p``'s
    optimizer's 16-bit mirror when that can serve.  ``make``: how to build the copy from
    ``p.data`` in place of ``astype(dt)`` (the bfloat16 bits of a CUDA parameter, a uint16
    array: ``kernels.cublas_bf16.to_bf16_bits``); such copies are cached under ``(dt, make)``.

    >>> import gpugrad as gg
    >>> p = gg.ones(3, requires_grad=True)
    >>> with gg.autocast(dtype="float16"):
    ...     low_copy(p, gg.float16) is low_copy(p, gg.float16)
    True
    >>> low_copy(p, gg.float16) is low_copy(p, gg.float16)     # outside: cast each time
    False
    """
    if fused_copies and make is None:
        h = _homes.get(id(p))
        if h is not None and h[0]() is p:
            home = h[1]()
            low = home.low_view(p, dt) if home is not None else None
            if low is not None:
                return low
    copies = _state.copies
    if copies is None:
        return p.data.astype(dt) if make is None else make(p.data)
    dt = np.dtype(dt)
    key = (id(p), dt) if make is None else (id(p), dt, make)
    e = copies.get(key)
    if e is not None and e[0] is p and e[1] is p._vc and e[2] == p._vc[0] and e[3] is p.data:
        return e[4]
    arr = p.data.astype(dt) if make is None else make(p.data)
    copies[key] = (p, p._vc, p._vc[0], p.data, arr)   # p held: its id is not reused meanwhile
    return arr
