"""cuBLAS GEMMs inside CUDA-graph stream capture, called through ctypes.

CuPy refuses every cuBLAS call while a stream is capturing: its ``cublas.setStream``, which
each of its cuBLAS wrappers calls first, raises ``NotImplementedError: calling cuBLAS API
during stream capture is currently unsupported`` (cupy/cupy#6290).  cuBLAS itself supports
capture (cuBLAS docs, "CUDA Graphs Support") once its handle has a user-owned workspace
(``cublasSetWorkspace``), so that nothing is allocated while capturing; in the host pointer
mode alpha and beta are captured by value.  So while a capture is prepared, ``cuda_blas``
calls the SAME libcublas that CuPy loaded, with CuPy's own handle, through this module:

* :func:`find_library` -- that library's path, read from ``/proc/self/maps``;
  :func:`library` -- its ctypes bindings (:class:`Library`), loaded once, on first use;
* :func:`prepare_capture` (before ``stream.begin_capture()``, where CuPy's calls are still
  allowed) -- this thread's handle of the current device runs on the capture stream with a
  workspace owned by that stream; :func:`end_capture` (after ``stream.end_capture()``) -- the
  handle's previous stream again, which also gives it back cuBLAS's default workspace
  (``cublasSetStream`` resets the workspace); :func:`capture_blas` -- both around a block;
* :func:`gemm_ex` / :func:`gemm_strided_batched_ex` -- what ``cuda_blas`` calls instead of
  CuPy's wrappers while prepared, with the arguments it would have given CuPy.

The workspace (32 MiB from compute capability 9.0 on, 4 MiB before: the sizes cuBLAS
recommends) is kept per stream, for as long as the stream object lives, because the graphs'
GEMM kernels use it at every launch: keep a capture stream alive as long as its graphs (as
``gpugrad.capture.cuda_graph.GraphReplay`` does).  Graphs captured on one stream share its
workspace, so they must run one after another (on that stream), not concurrently.

Nothing here imports CuPy or loads a library at import time.
"""
from __future__ import annotations

import contextlib
import ctypes
import re
import threading
import weakref

from ..capture_hooks import CaptureError

__all__ = ["CublasError", "CublasLibraryError", "Library", "find_library", "library",
           "prepare_capture", "end_capture", "capture_blas", "active", "gemm_ex",
           "gemm_strided_batched_ex", "workspace_size"]

_STATUS = {0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED",
           3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
           8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
           13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR",
           15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR"}

_p, _i, _ll = ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong
# cublas_api.h (cuBLAS 12 and 13): every function returns cublasStatus_t (int); enums are int
_SIGNATURES = {
    "cublasSetStream_v2": (_p, _p),                               # handle, cudaStream_t
    "cublasGetStream_v2": (_p, ctypes.POINTER(_p)),               # handle, cudaStream_t *
    "cublasSetWorkspace_v2": (_p, _p, ctypes.c_size_t),           # handle, void *, size_t
    # handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype,
    # ldc, computeType, algo
    "cublasGemmEx": (_p, _i, _i, _i, _i, _i, _p, _p, _i, _i, _p, _i, _i, _p, _p, _i, _i, _i, _i),
    # the same with long long strideA / strideB / strideC after lda / ldb / ldc, and
    # int batchCount before computeType
    "cublasGemmStridedBatchedEx": (_p, _i, _i, _i, _i, _i, _p, _p, _i, _i, _ll, _p, _i, _i, _ll,
                                   _p, _p, _i, _i, _ll, _i, _i, _i),
}

_LIBCUBLAS = re.compile(r"(?:^|/)libcublas\.so(?:\.(\d+))?(?:\.\d+)*$")   # not libcublasLt


class CublasError(RuntimeError):
    """A cuBLAS call made through :class:`Library` returned a status other than success."""


class CublasLibraryError(RuntimeError):
    """The libcublas that CuPy loaded could not be found in this process."""


class Library:
    """ctypes bindings of the libcublas at ``path``; each call checks its status and raises
    :class:`CublasError` naming the function and the status.  ``cdll`` opens the library
    (``ctypes.CDLL``; tests pass a stand-in).

    >>> lib = Library(find_library())                      # doctest: +SKIP
    >>> lib.set_stream(handle, stream.ptr)                 # doctest: +SKIP
    """

    def __init__(self, path, cdll=ctypes.CDLL):
        self.path = path
        dll = cdll(path)
        self._fn = {}
        for name, argtypes in _SIGNATURES.items():
            fn = getattr(dll, name)
            fn.argtypes, fn.restype = list(argtypes), ctypes.c_int
            self._fn[name] = fn

    def call(self, name, *args, what=""):
        status = self._fn[name](*args)
        if status != 0:
            raise CublasError(f"{name} failed with {_STATUS.get(status, 'an unknown status')} "
                              f"({status}){what} (library {self.path})")

    def set_stream(self, handle, stream_ptr):
        self.call("cublasSetStream_v2", handle, stream_ptr)

    def get_stream(self, handle):
        out = _p()
        self.call("cublasGetStream_v2", handle, ctypes.byref(out))
        return out.value or 0

    def set_workspace(self, handle, ptr, nbytes):
        self.call("cublasSetWorkspace_v2", handle, ptr, nbytes)


def find_library(maps=None, major=None):
    """The path of the libcublas mapped into this process, from ``/proc/self/maps`` (or the
    text ``maps``); ``major`` picks among several (libcublas.so.12 and .13 loaded by two
    libraries).  Raises :class:`CublasLibraryError` when none or more than one fits.

    >>> find_library("7f00-7f10 r-xp 0 08:01 5 /cuda/lib/libcublas.so.13.1.0.3\\n")
    '/cuda/lib/libcublas.so.13.1.0.3'
    """
    if maps is None:
        with open("/proc/self/maps") as f:
            maps = f.read()
    found = {}
    for line in maps.splitlines():
        fields = line.split(None, 5)
        path = fields[5].strip() if len(fields) == 6 else ""
        m = _LIBCUBLAS.search(path)
        if m:
            found.setdefault(path, int(m.group(1)) if m.group(1) else None)
    paths = list(found)
    if len(paths) > 1 and major is not None:
        paths = [p for p in paths if found[p] == major]
    if len(paths) != 1:
        raise CublasLibraryError(
            f"expected one libcublas.so mapped in this process (CuPy's, cuBLAS major "
            f"{major}), found {paths or 'none'}; cuBLAS cannot be called during CUDA-graph "
            f"capture without it")
    return paths[0]


_lib = None
_lib_lock = threading.Lock()


def library():
    """The :class:`Library` of the libcublas CuPy uses, loaded on first call (which loads
    CuPy's cuBLAS module and creates the current device's handle, so call it outside capture).
    Raises :class:`CublasLibraryError` when that libcublas is not found.

    >>> library().path                                   # doctest: +SKIP
    '/.../nvidia/cu13/lib/libcublas.so.13'
    """
    global _lib
    with _lib_lock:
        if _lib is None:
            import cupy
            try:
                from cupy_backends.cuda.libs import cublas
            except ImportError:                                  # older CuPy layouts
                from cupy.cuda import cublas
            major = cublas.getVersion(cupy.cuda.device.get_cublas_handle()) // 10000
            _lib = Library(find_library(major=major))
        return _lib


class _Local(threading.local):
    prepared = None          # this thread's _Prepared between prepare_capture and end_capture


_local = _Local()
_workspaces = weakref.WeakKeyDictionary()          # capture stream -> its cuBLAS workspace


class _Prepared:
    __slots__ = ("cp", "lib", "handle", "stream", "workspace", "previous")

    def __init__(self, cp, lib, handle, stream, workspace, previous):
        self.cp, self.lib, self.handle, self.stream = cp, lib, handle, stream
        self.workspace, self.previous = workspace, previous


def active():
    """This thread's prepared capture (between :func:`prepare_capture` and
    :func:`end_capture`), or None: then products take CuPy's cuBLAS wrappers as usual.

    >>> active() is None
    True
    """
    return _local.prepared


def workspace_size(cp):
    """Bytes of cuBLAS workspace for the current device: 32 MiB on compute capability 9.0 and
    later (Hopper, Blackwell), 4 MiB before, as the cuBLAS docs recommend.

    >>> workspace_size(cupy) >> 20                  # on an H200   # doctest: +SKIP
    32
    """
    major = int(cp.cuda.Device().compute_capability) // 10
    return (32 if major >= 9 else 4) << 20


def _workspace(stream, cp):
    ws = _workspaces.get(stream)
    if ws is None:
        import numpy
        ws = cp.empty(workspace_size(cp), dtype=numpy.uint8)
        if ws.data.ptr % 256:
            raise CublasError(f"the cuBLAS workspace at {ws.data.ptr:#x} is not 256-byte aligned")
        _workspaces[stream] = ws
    return ws


def prepare_capture(stream, cp=None, lib=None):
    """Before ``stream.begin_capture()``: point this thread's cuBLAS handle of the current
    device (CuPy's) at ``stream`` with ``stream``'s workspace, and route ``cuda_blas``'s
    products through ctypes until :func:`end_capture`.  ``cp``: the cupy module; ``lib``: a
    :class:`Library` (default: :func:`library`).  Raises RuntimeError when this thread is
    already prepared.

    >>> prepare_capture(stream); stream.begin_capture()   # doctest: +SKIP
    >>> ...; graph = stream.end_capture(); end_capture()   # doctest: +SKIP
    """
    if cp is None:
        import cupy as cp
    if _local.prepared is not None:
        raise RuntimeError(f"cuBLAS is already prepared for a capture on stream "
                           f"{_local.prepared.stream:#x} in this thread; call end_capture() first")
    lib = library() if lib is None else lib
    handle = cp.cuda.device.get_cublas_handle()
    workspace = _workspace(stream, cp)
    previous = lib.get_stream(handle)
    lib.set_stream(handle, stream.ptr)
    lib.set_workspace(handle, workspace.data.ptr, workspace.nbytes)
    _local.prepared = _Prepared(cp, lib, handle, stream.ptr, workspace, previous)
    return _local.prepared


def end_capture():
    """After ``stream.end_capture()``: the handle's stream from before :func:`prepare_capture`
    again (and so cuBLAS's default workspace); products take CuPy's wrappers again.  Nothing
    to do when this thread is not prepared.

    >>> end_capture(); active() is None
    True
    """
    prepared, _local.prepared = _local.prepared, None
    if prepared is not None:
        prepared.lib.set_stream(prepared.handle, prepared.previous)


@contextlib.contextmanager
def capture_blas(stream, cp):
    """:func:`prepare_capture` on entry, :func:`end_capture` on exit; nothing (yields None)
    for a CuPy without cuBLAS handles (a test stand-in) or on ROCm, whose CuPy allows its
    own BLAS calls during capture.

    >>> with capture_blas(stream, cupy):                   # doctest: +SKIP
    ...     stream.begin_capture(); step(); graph = stream.end_capture()
    """
    device = getattr(getattr(cp, "cuda", None), "device", None)
    if (not hasattr(device, "get_cublas_handle")
            or getattr(getattr(cp.cuda, "runtime", None), "is_hip", False)):
        yield None
        return
    prepared = prepare_capture(stream, cp)
    try:
        yield prepared
    finally:
        end_capture()


def _bind(handle, what):
    """The prepared state, with its handle pointed at its stream and workspace again (cheap,
    host-side, and paid once at capture): a GEMM on another stream or device is refused."""
    prepared = _local.prepared
    if prepared is None:
        raise CaptureError(f"{what}: cuBLAS is not prepared for capture in this thread "
                           f"(call prepare_capture(stream) before stream.begin_capture())")
    stream = prepared.cp.cuda.get_current_stream().ptr
    if handle != prepared.handle or stream != prepared.stream:
        raise CaptureError(f"{what} on stream {stream:#x} (cuBLAS handle {handle:#x}) while "
                           f"cuBLAS is prepared for capture on stream {prepared.stream:#x} "
                           f"(handle {prepared.handle:#x}): one stream and device per capture")
    ws = prepared.workspace
    prepared.lib.set_stream(handle, stream)
    prepared.lib.set_workspace(handle, ws.data.ptr, ws.nbytes)
    return prepared.lib


def gemm_ex(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C,
            Ctype, ldc, compute_type, algo):
    """cublasGemmEx with CuPy's ``cublas.gemmEx`` arguments (pointers as ints, alpha and beta
    host pointers), on the prepared stream and workspace; raises :class:`CublasError` naming
    the status, CaptureError when not prepared or on another stream.

    >>> gemm_ex(handle, 0, 0, n, m, k, one.ctypes.data, b.data.ptr, 0, n,  # doctest: +SKIP
    ...         a.data.ptr, 0, k, zero.ctypes.data, out.data.ptr, 0, n, 68, -1)
    """
    what = f" for a GEMM (m, n, k) = ({m}, {n}, {k})"
    _bind(handle, "cublasGemmEx" + what).call(
        "cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb,
        beta, C, Ctype, ldc, compute_type, algo, what=what)


def gemm_strided_batched_ex(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B,
                            Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batch_count,
                            compute_type, algo):
    """cublasGemmStridedBatchedEx (strides in elements, ``batch_count`` products), as
    :func:`gemm_ex`.

    >>> gemm_strided_batched_ex(handle, 0, 0, n, m, k, one.ctypes.data,  # doctest: +SKIP
    ...     b.data.ptr, 0, n, k * n, a.data.ptr, 0, k, m * k, zero.ctypes.data, out.data.ptr, 0,
    ...     n, m * n, count, 68, -1)
    """
    what = f" for {batch_count} GEMMs (m, n, k) = ({m}, {n}, {k})"
    _bind(handle, "cublasGemmStridedBatchedEx" + what).call(
        "cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda,
        strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batch_count,
        compute_type, algo, what=what)
