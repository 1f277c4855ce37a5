"""CPU threads: how many gpugrad's kernels and NumPy's BLAS use, and when they use one.

``set_num_threads(n)`` caps both pools of the process: Numba's (the fused epilogues and
optimizer kernels) and the BLAS under NumPy (the GEMMs), the latter through ``threadpoolctl``
when it is installed.  A ``threadpoolctl.threadpool_limits(...)`` block the user opens is
honored too: gpugrad reads the BLAS limit in force at each call and never raises it.

On a shared machine a pool's threads cost more than they bring for small work: a parallel
call waits for every worker to be scheduled, and with other processes (or another library's
OpenMP pool, such as PyTorch's) on the cores that wait is a scheduler time slice -- milliseconds
for a few microseconds of work.  So gpugrad keeps small work on the calling thread:

* Numba kernels split work into chunks of at least ``kernels.cpu._CHUNK`` elements (one chunk:
  a single-threaded twin of the kernel, which never wakes the pool);
* GEMMs of fewer than ``SMALL_GEMM`` multiply-adds run with BLAS on one thread
  (:func:`sequential_blas`), where OpenBLAS (NumPy's) would wake its pool from a few hundred
  thousand on.

Which objects may be shared between threads is documented in the README ("Threads").

>>> n = get_num_threads()
>>> set_num_threads(1); get_num_threads()
1
>>> set_num_threads(n)
"""
from __future__ import annotations

import ctypes
import threading

__all__ = ["set_num_threads", "get_num_threads", "sequential_blas", "blas_num_threads",
           "SMALL_GEMM"]

# multiply-adds below which a GEMM runs on one BLAS thread: ~1-2 ms of one core, so a
# parallel GEMM must at least be that long before a lost time slice (~4 ms) can be paid back
SMALL_GEMM = 1 << 26

_lock = threading.Lock()
_blas = None          # [(get, set)] ctypes functions of each OpenBLAS (pthreads) in the process
_held = 0             # how many calls are inside sequential_blas() now (any thread)
_restore = None       # [(set, n)]: the counts to put back when the last one leaves


def _find_blas():
    """[(get, set)] for each OpenBLAS with its own thread pool (the pthreads build NumPy
    wheels ship), found through threadpoolctl; [] without threadpoolctl or such a BLAS."""
    global _blas
    if _blas is not None:
        return _blas
    found = []
    try:
        import numpy  # noqa: F401  (loads the BLAS threadpoolctl should see)
        from threadpoolctl import ThreadpoolController
        libs = ThreadpoolController().lib_controllers
    except Exception:  # not installed, or a library it failed to inspect
        libs = []
    for lib in libs:
        if getattr(lib, "internal_api", None) != "openblas" or \
                getattr(lib, "threading_layer", None) == "openmp":
            continue   # MKL and BLIS size their own pools; an OpenMP OpenBLAS is per thread
        pair = _openblas_functions(lib.dynlib)
        if pair is not None:
            found.append(pair)
    _blas = found
    return found


def _other_blas():
    """threadpoolctl's controllers of the BLAS libraries that :func:`_find_blas` leaves out."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return []
    return [lib for lib in ThreadpoolController().lib_controllers
            if lib.user_api == "blas" and (lib.internal_api != "openblas"
                                           or lib.threading_layer == "openmp")]


def _openblas_functions(dll):
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            get = getattr(dll, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(dll, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                return get, put
    return None


def blas_num_threads():
    """Threads the BLAS under NumPy uses now (threadpoolctl limits included), or None when it
    cannot be told (no threadpoolctl, or a BLAS other than OpenBLAS).

    >>> n = blas_num_threads(); n is None or n >= 1
    True
    """
    libs = _find_blas()
    return min(get() for get, _ in libs) if libs else None


class sequential_blas:
    """Context manager: GEMMs inside run with BLAS on one thread (for small GEMMs, whose
    parallel version loses far more to scheduling on a busy machine than it gains on an idle
    one).  Safe to nest and to use from several threads at once: the first to enter lowers
    the count, the last to leave puts back what it was (so a ``threadpool_limits`` block
    stays in force); meanwhile another thread's GEMMs run on one thread too.

    >>> import numpy as np
    >>> with sequential_blas():
    ...     (np.ones((4, 4)) @ np.ones((4, 4)))[0, 0]
    np.float64(4.0)
    """
    __slots__ = ()

    def __enter__(self):
        global _held, _restore
        libs = _blas if _blas is not None else _find_blas()
        if not libs:
            return self
        with _lock:
            if _held == 0:
                _restore = []
                for get, put in libs:
                    n = get()
                    if n > 1:
                        put(1)
                        _restore.append((put, n))
            _held += 1
        return self

    def __exit__(self, *exc):
        global _held, _restore
        if not _blas:
            return False
        with _lock:
            _held -= 1
            if _held == 0:
                for put, n in _restore:
                    put(n)
                _restore = None
        return False


def set_num_threads(n: int) -> None:
    """Use at most ``n`` CPU threads in gpugrad's kernels (Numba) and in the BLAS under NumPy
    (through threadpoolctl, when installed).  ``n`` cannot exceed the Numba pool's size,
    fixed at start-up (``NUMBA_NUM_THREADS``, default: the number of CPUs).  Numba's count
    belongs to the calling thread (new threads start with the pool's size); the BLAS count is
    process-wide.  Raises ValueError for ``n < 1`` or ``n`` larger than the pool.

    >>> import numba
    >>> set_num_threads(1); get_num_threads()
    1
    >>> set_num_threads(numba.config.NUMBA_NUM_THREADS)
    """
    import numba
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"set_num_threads: expected an int from 1 to "
                         f"{numba.config.NUMBA_NUM_THREADS} (the Numba pool's size, "
                         f"NUMBA_NUM_THREADS), got {n!r}")
    numba.set_num_threads(n)
    libs = _find_blas()
    for lib in _other_blas():
        lib.set_num_threads(n)
    with _lock:
        if _held and _restore is not None:      # inside sequential_blas: takes effect after
            _restore[:] = [(put, n) for put, _ in _restore]
            return
        for _, put in libs:
            put(n)


def get_num_threads() -> int:
    """The most CPU threads one gpugrad kernel uses now: Numba's count for the calling
    thread, capped by the BLAS's (so a ``threadpoolctl.threadpool_limits`` block is honored).

    >>> get_num_threads() >= 1
    True
    """
    import numba
    n = numba.get_num_threads()
    b = blas_num_threads()
    return n if b is None or _held else min(n, b)
