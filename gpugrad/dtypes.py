"""Data types: NumPy dtypes under short names, and the rules for new tensors.

``gpugrad.float32`` *is* ``numpy.dtype("float32")``, so dtypes mix freely with NumPy's.
Python floats and lists of them become float32; Python ints int64; bools bool.  NumPy
arrays keep their dtype.  Promotion between tensors follows NumPy (NEP 50: a Python scalar
is "weak", so ``float32 tensor * 2.0`` stays float32).

A Python type given *as a dtype* means what it means to NumPy and PyTorch, everywhere a
dtype is taken (:func:`as_dtype`, so ``astype``, ``to``, ``gpugrad.tensor``/``zeros``/
``arange``/... ``dtype=``, ``gpugrad.numpy``, ``gpugrad.array_api``): ``float`` and
``"float"`` are float64, ``complex`` and ``"complex"`` complex128, ``int`` and ``"int"``
NumPy's default integer (int64), ``bool`` bool.  Only a dtype left *unspecified* takes the
float32 default: ``gpugrad.zeros(3)`` is float32, ``gpugrad.zeros(3, dtype=float)``
float64, ``t.astype(float)`` float64 whatever ``t``'s dtype.  (The method ``t.float()`` is
PyTorch's, float32.)

``bfloat16`` (8 exponent bits like float32, 8 significant bits) comes from the ``ml_dtypes``
package, as NumPy has none: ``pip install "gpugrad[bf16]"``.  Without it ``gpugrad.bfloat16``
is None and asking for the dtype by name is a TypeError that says what to install.  bfloat16
is a storage and rounding format here: products compute in float32 on rounded inputs (see
:mod:`gpugrad.amp`).  CuPy has no bfloat16 dtype, so there are no bfloat16 CUDA tensors;
autocast bfloat16 on CUDA runs cuBLAS's bfloat16 GEMMs on the operands' bits and returns
float32 (:mod:`gpugrad.amp.autocast_mode`).

>>> import gpugrad as gg
>>> gg.float32 == np.float32, as_dtype("float64")
(True, dtype('float64'))
"""
from __future__ import annotations

import numpy as np

float16 = half = np.dtype("float16")
float32 = np.dtype("float32")
float64 = double = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = long = np.dtype("int64")
uint8 = np.dtype("uint8")
uint16, uint32, uint64 = np.dtype("uint16"), np.dtype("uint32"), np.dtype("uint64")  # array API
bool_ = np.dtype("bool")
complex64 = np.dtype("complex64")
complex128 = np.dtype("complex128")
_BF16_MISSING = ("bfloat16 needs the ml_dtypes package (NumPy has no bfloat16): "
                 "pip install 'gpugrad[bf16]'")
try:
    import ml_dtypes as _ml_dtypes
    bfloat16 = np.dtype(_ml_dtypes.bfloat16)
    if np.maximum(np.ones(1, bfloat16), 0).dtype != bfloat16:
        # NumPy 2.0 promotes bfloat16 with a Python number to float32, which would change the
        # dtype of every formula with a constant in it: refused rather than quietly widened
        _BF16_MISSING = (f"bfloat16 needs NumPy >= 2.1 (NumPy {np.__version__} promotes "
                         f"bfloat16 with Python numbers to float32): pip install 'numpy>=2.1'")
        bfloat16 = None
except ImportError:  # the bf16 extra is not installed
    bfloat16 = None
_BF16 = () if bfloat16 is None else (bfloat16,)

SUPPORTED = (float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
             bool_, complex64, complex128) + _BF16
FLOATING = (float16, float32, float64) + _BF16
DEFAULT_FLOAT = float32
DEFAULT_INT = int64
# Python's types as dtypes: NumPy's (and PyTorch's) meaning, never the float32 default
_PYTHON_TYPES = {float: float64, complex: complex128, int: np.dtype(int), bool: bool_}

__all__ = ["as_dtype", "is_floating", "is_inexact", "is_low_precision", "default_dtype_for", "SUPPORTED",
           "FLOATING", "bfloat16"] + [
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
    "uint32", "uint64", "bool_", "complex64", "complex128", "half", "double", "long"]


def as_dtype(spec) -> np.dtype:
    """Normalize a dtype given as a string, NumPy dtype/type, Python type or gpugrad dtype
    (None stays None).  Python types mean NumPy's dtypes for them: ``float`` float64,
    ``complex`` complex128, ``int`` int64, ``bool`` bool (not the float32 default).
    TypeError for anything that is not a dtype, or a dtype no tensor holds.

    >>> as_dtype("float32"), as_dtype(bool), as_dtype(float), as_dtype(complex)
    (dtype('float32'), dtype('bool'), dtype('float64'), dtype('complex128'))
    """
    if spec is None:
        return None
    py = _PYTHON_TYPES.get(spec) if type(spec) is type else None
    if py is not None:
        return py
    if bfloat16 is None and isinstance(spec, str) and spec in ("bfloat16", "bf16"):
        raise TypeError(_BF16_MISSING)
    if spec == "bf16":
        return bfloat16
    try:
        dt = np.dtype(spec)
    except TypeError:
        raise TypeError(f"expected a dtype such as 'float32' or gpugrad.float64, got {spec!r}") \
            from None
    if dt not in SUPPORTED:
        names = ", ".join(d.name for d in SUPPORTED)
        if not dt.isnative:   # (its name is the native one's: say which it is)
            raise TypeError(f"unsupported dtype {dt.str}: {dt.name} in non-native byte order; "
                            f"expected one of {names} in native order")
        raise TypeError(f"unsupported dtype {dt.name}; expected one of {names}")
    return dt


def is_floating(dt) -> bool:
    """True for float16/32/64 and bfloat16.

    >>> is_floating(np.float32), is_floating("int64")
    (True, False)
    """
    dt = np.dtype(dt)
    return dt.kind == "f" or (bfloat16 is not None and dt == bfloat16)


def is_inexact(dt) -> bool:
    """True for the floating and complex dtypes, bfloat16 included (NumPy's ``inexact``
    does not know ml_dtypes' bfloat16, so a NaN test gated on ``kind in "fc"`` misses it).

    >>> is_inexact("complex64"), is_inexact("int8")
    (True, False)
    """
    return np.dtype(dt).kind == "c" or is_floating(dt)


def finfo(dt):
    """NumPy's ``finfo`` of a floating (or complex) dtype, bfloat16 included (NumPy's does
    not know it; ml_dtypes' does).

    >>> float(finfo("float16").max)
    65504.0
    """
    dt = np.dtype(dt)
    if bfloat16 is not None and dt == bfloat16:
        return _ml_dtypes.finfo(dt)
    return np.finfo(dt)


def is_low_precision(dt) -> bool:
    """True for the 16-bit floats, float16 and bfloat16 (the dtypes autocast computes in).

    >>> is_low_precision("float16"), is_low_precision("float32")
    (True, False)
    """
    return np.dtype(dt).char in "eE" and is_floating(dt)  # 'E': ml_dtypes' bfloat16


def default_dtype_for(data) -> np.dtype | None:
    """The dtype a Python scalar or (nested) list becomes: float32, int64, bool or complex64.

    Returns None for arrays, which keep their own dtype.

    >>> default_dtype_for([1, 2.5]), default_dtype_for(3), default_dtype_for(np.zeros(1))
    (dtype('float32'), dtype('int64'), None)
    """
    if hasattr(data, "dtype"):
        return None
    kind = np.asarray(data).dtype.kind
    if kind == "f":
        return DEFAULT_FLOAT
    if kind in "iu":
        return DEFAULT_INT
    if kind == "b":
        return bool_
    if kind == "c":
        return complex64
    return None


# ---------------------------------------------------------------- what can require grad
# dtype class -> "f" (real floating) or "c" (complex), filled as met (Function.apply reads it)
GRAD_KIND = {type(np.dtype(c)): "c" if c in "FDG" else "f" for c in "efdgFDG"}


def grad_kind(dtype):
    """``"f"`` or ``"c"`` for a dtype that can require grad (bfloat16 included), remembered;
    TypeError for any other: an integer or bool tensor whose ``requires_grad`` was assigned
    would otherwise get its gradients truncated to integers."""
    if dtype.kind in "fc" or dtype.char == "E":  # 'E': ml_dtypes' bfloat16
        GRAD_KIND[type(dtype)] = kind = "c" if dtype.kind == "c" else "f"
        return kind
    raise TypeError(f"only floating-point and complex tensors can require gradients, got a "
                    f"tensor of dtype {dtype.name} with requires_grad=True (set by assignment, "
                    f"which is not checked: cast it first, x = x.astype('float32'), then "
                    f"x.requires_grad_())")


def check_seed_dtype(dtype, t):
    """A complex gradient given for a real output would lose its imaginary part."""
    if dtype.kind == "c" and t.data.dtype.kind != "c":
        raise RuntimeError(f"the gradient given is {dtype} for an output of dtype "
                           f"{t.dtype}: expected a real gradient for a real output (its "
                           f"imaginary part would be dropped)")
