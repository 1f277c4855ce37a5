"""Devices and array modules: the one place that knows about CuPy.

A :class:`Device` names where a tensor's data lives (``cpu``, ``cuda:0``, ...) and carries
the array module (``xp``) that computes on it: NumPy for the CPU, CuPy for CUDA.  CuPy is
imported lazily, on the first question about CUDA, and only here.

>>> import gpugrad as gg
>>> gg.device("cpu")
device(type='cpu')
>>> gg.get_array_module(np.zeros(3)) is np
True
"""
from __future__ import annotations

import contextlib
import os
import threading

import numpy as np

from .nvidia_smi import nvidia_smi_gpus  # noqa: F401  (the driver's view, for tests and tools)

__all__ = [
    "Device", "device", "get_default_device", "set_default_device", "default_device",
    "get_array_module", "array_device", "to_device", "is_cupy_array",
    "DeviceMismatchError", "CudaUnavailableError", "cuda",
]

INSTALL_HINT = "install CuPy for your CUDA version: pip install gpugrad[cuda12] (or gpugrad[cuda13])"


class DeviceMismatchError(RuntimeError):
    """Raised when one operation receives tensors that live on different devices."""


class CudaUnavailableError(RuntimeError):
    """Raised when a CUDA device is requested but CuPy or a GPU is missing."""


# ---------------------------------------------------------------- CuPy, lazily
# CUDA is usable when CuPy imports and its runtime counts at least one GPU. Anything else has a
# reason, kept as text: CuPy absent (quiet: the CPU is the normal case), CuPy installed but its
# import failed, or CuPy imported but the CUDA runtime failed (both warned about, with the
# exception, when first detected: a broken install must not look like "no GPU").
_cupy = None
_cupy_checked = False
_cupy_error = None
_warned = set()


def _describe(exc) -> str:
    return f"{type(exc).__name__}: {exc}"


def _cupy_absent(exc) -> bool:
    """True when ``exc`` says only that the cupy package is not installed."""
    return isinstance(exc, ImportError) and (
        getattr(exc, "name", None) == "cupy" or str(exc) == "No module named 'cupy'")


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        import warnings  # noqa: PLC0415

        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _import_cupy():
    """Return the cupy module or None; the import is tried once per process."""
    global _cupy, _cupy_checked, _cupy_error
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy  # noqa: PLC0415 -- the only cupy import in the library
            _cupy = cupy
        except Exception as exc:  # ImportError, or a broken CUDA install
            _cupy_error = exc
            if not _cupy_absent(exc):
                _warn_once(f"gpugrad: CuPy is installed but failed to import, so CUDA is "
                           f"unavailable ({_describe(exc)})")
    return _cupy


def cuda_guard(index):
    """A context manager that makes CUDA device ``index`` current, or None when it already is
    (the usual single-GPU case costs one runtime query). Every op's forward and backward and
    every kernel dispatch run under their operands' device through this, so work on
    ``cuda:1`` allocates and launches on device 1 whatever device is current.

    >>> cuda_guard(None) is None
    True
    """
    if index is None:
        return None
    cp = _cupy
    if cp.cuda.runtime.getDevice() == index:
        return None
    return cp.cuda.Device(index)


_NO_CONTEXT = contextlib.nullcontext()


def on_device_of(a):
    """A context that makes array ``a``'s CUDA device current (a no-op for NumPy arrays and when
    it already is current): for work outside ops -- seeding a backward pass, optimizer
    buffers -- that allocates or launches for ``a``.

    >>> with on_device_of(np.zeros(1)): pass
    """
    if type(a) is np.ndarray or not is_cupy_array(a):
        return _NO_CONTEXT
    return cuda_guard(a.device.id) or _NO_CONTEXT


def _no_device_error(exc) -> bool:
    """True for the CUDA runtime's "no CUDA-capable device" (a machine without a GPU)."""
    return getattr(exc, "status", None) == 100 or "cudaErrorNoDevice" in str(exc)


def _cuda_status():
    """``(number of GPUs, reason)``: the reason is None when CUDA is usable, else why not."""
    cp = _import_cupy()
    if cp is None:
        if _cupy_absent(_cupy_error):
            return 0, f"CuPy is not installed ({_cupy_error})"
        return 0, f"CuPy is installed but failed to import ({_describe(_cupy_error)})"
    try:
        n = int(cp.cuda.runtime.getDeviceCount())
    except Exception as exc:
        if _no_device_error(exc):
            return 0, f"no GPU is visible to CuPy ({_describe(exc)})"
        reason = f"CuPy imported but the CUDA runtime failed ({_describe(exc)})"
        _warn_once(f"gpugrad: {reason}, so CUDA is unavailable")
        return 0, reason
    if n <= 0:
        return 0, "no GPU is visible to CuPy (it counts 0 devices)"
    return n, None


def _probe_cuda(cp, n: int):
    """Run one tiny kernel and a copy back on every device; return None, or why it failed."""
    for index in range(n):
        try:
            with cp.cuda.Device(index):
                got = cp.asnumpy(cp.arange(4, dtype=cp.float32) * 2)
            if got.tolist() != [0.0, 2.0, 4.0, 6.0]:
                return f"cuda:{index} computed {got.tolist()} for [0, 2, 4, 6]"
        except Exception as exc:
            return f"CuPy sees {n} GPU(s) but a kernel on cuda:{index} failed ({_describe(exc)})"
    return None


def is_cupy_array(a) -> bool:
    """True when ``a`` is a CuPy ndarray; never imports CuPy.

    >>> is_cupy_array(np.zeros(2))
    False
    """
    return type(a).__module__.startswith("cupy")


# ---------------------------------------------------------------- Device
class Device:
    """Where arrays live: ``Device("cpu")`` or ``Device("cuda", index)``.

    Devices compare by value and are usable as context managers that change the
    default device for new tensors.

    >>> d = Device("cpu")
    >>> d.xp is np, str(d)
    (True, 'cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str = "cpu", index: int | None = None):
        if type not in ("cpu", "cuda"):
            raise ValueError(f"device type must be 'cpu' or 'cuda', got {type!r}")
        if type == "cuda" and index is None:
            index = 0
        if type == "cpu" and index not in (None, 0):
            raise ValueError(f"the cpu device has no index, got cpu:{index}")
        self.type = type
        self.index = index if type == "cuda" else None

    @property
    def xp(self):
        """The array module for this device (numpy or cupy)."""
        if self.type == "cpu":
            return np
        return _require_cuda(self.index)

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return "cpu" if self.type == "cpu" else f"cuda:{self.index}"

    def __repr__(self):
        if self.type == "cpu":
            return "device(type='cpu')"
        return f"device(type='cuda', index={self.index})"

    # used as ``with gg.device("cuda"):``
    def __enter__(self):
        _push(self)
        return self

    def __exit__(self, *exc):
        _pop()
        return False

    def _activated(self):
        """A context making this CUDA device current for allocations (a shared no-op context
        on the CPU: this runs on every optimizer step)."""
        if self.type == "cpu":
            return _NO_CONTEXT
        return self.xp.cuda.Device(self.index)


CPU = Device("cpu")


def device(spec=None) -> Device:
    """Parse a device spec: a :class:`Device`, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or None.

    None means the current default device.  CUDA specs are checked lazily: the error about a
    missing GPU comes when an array is first placed there.

    >>> device("cuda:1")
    device(type='cuda', index=1)
    >>> device(None) == get_default_device()
    True
    """
    if spec is None:
        return get_default_device()
    if isinstance(spec, Device):
        return spec
    if isinstance(spec, str):
        s = spec.strip().lower()
        if s == "cpu":
            return CPU
        if s == "cuda" or s == "gpu":
            return Device("cuda", 0)
        if s.startswith("cuda:"):
            idx = s[5:]
            if idx.isdigit():
                return Device("cuda", int(idx))
    raise ValueError(f"expected a device like 'cpu', 'cuda' or 'cuda:0', got {spec!r}")


# ---------------------------------------------------------------- default device
_local = threading.local()
_base_default: Device | None = None


# the threads inside a ``with`` block that sets the default device (kept by _push/_pop; each
# thread adds and discards only its own id): empty lets get_default_device skip the
# thread-local read, as it does on every tensor creation
_pushed = set()


def _stack():
    st = getattr(_local, "stack", None)
    if st is None:
        st = _local.stack = []
    return st


def _push(d):
    _stack().append(d)
    _pushed.add(threading.get_ident())


def _pop():
    st = _stack()
    st.pop()
    if not st:
        _pushed.discard(threading.get_ident())


def get_default_device() -> Device:
    """The device new tensors go to: the innermost ``with`` block, else ``set_default_device``,
    else the ``GPUGRAD_DEVICE`` environment variable, else the CPU.

    >>> get_default_device()
    device(type='cpu')
    """
    global _base_default
    if _pushed:
        st = _stack()
        if st:
            return st[-1]
    if _base_default is None:
        spec = os.environ.get("GPUGRAD_DEVICE", "cpu") or "cpu"
        try:
            _base_default = device(spec)
        except ValueError:
            raise ValueError(f"environment variable GPUGRAD_DEVICE: expected a device like "
                             f"'cpu', 'cuda' or 'cuda:0', got {spec!r}") from None
    return _base_default


def set_default_device(spec) -> None:
    """Set the process-wide default device.

    >>> set_default_device("cpu")
    """
    global _base_default
    _base_default = device(spec)


@contextlib.contextmanager
def default_device(spec):
    """Context manager that changes the default device inside its block.

    >>> with default_device("cpu"):
    ...     get_default_device()
    device(type='cpu')
    """
    d = device(spec)
    _push(d)
    try:
        yield d
    finally:
        _pop()


# ---------------------------------------------------------------- arrays
def get_array_module(*xs):
    """Return cupy if any argument is a CuPy array (or a tensor holding one), else numpy.

    >>> get_array_module(np.ones(2), 3.0) is np
    True
    """
    for x in xs:
        if isinstance(x, (np.ndarray, np.generic, int, float, complex)):
            continue  # NumPy arrays and scalars, Python numbers (``getattr(x, "data")`` on an
            # ml_dtypes scalar raises TypeError, not AttributeError)
        data = getattr(x, "data", None)
        if data is not None and is_cupy_array(data):
            return _import_cupy()
        if is_cupy_array(x):
            return _import_cupy()
    return np


def array_device(a) -> Device:
    """The device that holds array ``a``.

    >>> array_device(np.zeros(1))
    device(type='cpu')
    """
    if is_cupy_array(a):
        return Device("cuda", a.device.id)
    return CPU


def to_device(a, dev) -> object:
    """Move (or copy) an array to device ``dev``; returns ``a`` itself when already there.

    >>> to_device(np.arange(3), "cpu")
    array([0, 1, 2])
    """
    dev = device(dev)
    here = array_device(a) if (is_cupy_array(a) or isinstance(a, np.ndarray)) else None
    if here == dev:
        return a
    if dev.type == "cpu":
        if is_cupy_array(a):
            from . import device_checks
            device_checks.raise_pending()
            return a.get()
        return np.asarray(a)
    cp = _require_cuda(dev.index)
    with cp.cuda.Device(dev.index):
        return cp.asarray(a)


def _require_cuda(index: int | None = 0):
    n, reason = _cuda_status()
    if n == 0:
        if _cupy is None and _cupy_absent(_cupy_error):
            raise CudaUnavailableError(f"CUDA device requested but {reason}; {INSTALL_HINT}")
        if reason.startswith("no GPU is visible"):
            raise CudaUnavailableError(
                f"CUDA device requested but {reason}; check nvidia-smi and "
                "CUDA_VISIBLE_DEVICES, or use device='cpu' instead")
        raise CudaUnavailableError(
            f"CUDA device requested but {reason}; reinstall CuPy for this machine's CUDA "
            f"driver ({INSTALL_HINT}), or use device='cpu' instead")
    cp = _import_cupy()
    if index is not None and not 0 <= index < n:
        raise CudaUnavailableError(f"expected a CUDA device index in [0, {n}), got cuda:{index}")
    return cp


class _Cuda:
    """``gpugrad.cuda``: questions about CUDA that never raise.

    >>> isinstance(cuda.is_available(), bool)
    True
    """

    @staticmethod
    def is_available() -> bool:
        """True when CuPy imports and sees at least one GPU."""
        return _Cuda.device_count() > 0

    @staticmethod
    def device_count() -> int:
        """Number of visible GPUs (0 without CuPy or a driver; a broken install warns why)."""
        return _cuda_status()[0]

    @staticmethod
    def unavailable_reason(probe: bool = False):
        """None when CUDA is usable, else why not, as one line of text.

        ``probe=True`` also runs a tiny kernel on every GPU, which catches installs that count
        devices but cannot compile or launch (a CuPy built for another CUDA version).
        """
        n, reason = _cuda_status()
        if reason is None and probe:
            reason = _probe_cuda(_cupy, n)
            if reason is not None:
                _warn_once(f"gpugrad: {reason}, so CUDA is unusable")
        return reason

    @staticmethod
    def synchronize(dev=None) -> None:
        """Wait for all work queued on a CUDA device to finish."""
        d = device(dev if dev is not None else "cuda")
        cp = _require_cuda(d.index)
        with cp.cuda.Device(d.index):
            cp.cuda.Device(d.index).synchronize()
        from . import device_checks
        device_checks.raise_pending()


cuda = _Cuda()
