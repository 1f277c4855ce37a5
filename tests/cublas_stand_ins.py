"""Stand-ins for testing cuBLAS during CUDA-graph capture without a GPU
(tests/test_cublas_capture.py): host arrays that play CuPy arrays (their pointers are host
addresses), a CuPy namespace, a recorder of ctypes calls, and a small C library with cuBLAS's
symbols that computes GEMMs on the host (compiled by the ``stand_in_lib`` fixture)."""
import contextlib
import ctypes
import importlib
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

from gpugrad.kernels import cublas_capture as cc

STAND_IN_C = r"""
#include <stddef.h>
static void *g_stream, *g_ws, *g_gemm_stream, *g_gemm_ws;
static size_t g_ws_size;
int cublasSetStream_v2(void *h, void *s) { g_stream = s; g_ws = 0; g_ws_size = 0; return 0; }
int cublasGetStream_v2(void *h, void **s) { *s = g_stream; return 0; }
int cublasSetWorkspace_v2(void *h, void *w, size_t n) { g_ws = w; g_ws_size = n; return 0; }
void *stand_in_gemm_stream(void) { return g_gemm_stream; }
void *stand_in_gemm_workspace(void) { return g_gemm_ws; }
size_t stand_in_workspace_size(void) { return g_ws_size; }
static double get(const void *p, int t, long long i) {
    return t == 0 ? ((const float *)p)[i] : ((const double *)p)[i]; }
static int gemm(int ta, int tb, int m, int n, int k, const void *alpha, const char *A, int at,
                int lda, long long sa, const char *B, int bt, int ldb, long long sb,
                const void *beta, char *C, int ct, int ldc, long long sc, int count, int comp) {
    int t = at, size = at == 0 ? 4 : 8, st = comp == 70 ? 1 : 0;
    if (at != bt || at != ct || (t != 0 && t != 1) || (comp == 70) != (t == 1)) return 7;
    if (m < 0 || n < 0 || k < 0 || count < 0 || ldc < (m > 1 ? m : 1)
        || lda < ((ta ? k : m) > 1 ? (ta ? k : m) : 1)
        || ldb < ((tb ? n : k) > 1 ? (tb ? n : k) : 1)) return 7;
    double al = get(alpha, st, 0), be = get(beta, st, 0);
    g_gemm_stream = g_stream; g_gemm_ws = g_ws;
    for (int c = 0; c < count; c++)
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double s = 0;
                for (int l = 0; l < k; l++)
                    s += get(A + c * sa * size, t, ta ? l + (long long)i * lda
                                                          : i + (long long)l * lda)
                       * get(B + c * sb * size, t, tb ? j + (long long)l * ldb
                                                      : l + (long long)j * ldb);
                long long o = i + (long long)j * ldc;
                double v = al * s + (be != 0 ? be * get(C + c * sc * size, t, o) : 0);
                if (t == 0) ((float *)(C + c * sc * size))[o] = (float)v;
                else ((double *)(C + c * sc * size))[o] = v;
            }
    return 0;
}
int cublasGemmEx(void *h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A,
                 int at, int lda, const void *B, int bt, int ldb, const void *beta, void *C,
                 int ct, int ldc, int comp, int algo) {
    return gemm(ta, tb, m, n, k, alpha, A, at, lda, 0, B, bt, ldb, 0, beta, C, ct, ldc, 0, 1,
                comp); }
int cublasGemmStridedBatchedEx(void *h, int ta, int tb, int m, int n, int k, const void *alpha,
        const void *A, int at, int lda, long long sa, const void *B, int bt, int ldb,
        long long sb, const void *beta, void *C, int ct, int ldc, long long sc, int count,
        int comp, int algo) {
    return gemm(ta, tb, m, n, k, alpha, A, at, lda, sa, B, bt, ldb, sb, beta, C, ct, ldc, sc,
                count, comp); }
"""


# ------------------------------------------------------------------------- stand-ins


class DevArray(np.ndarray):
    """A host array that answers ``.data.ptr`` and ``.device`` as a CuPy array does."""

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.ctypes.data)

    @property
    def device(self):
        return types.SimpleNamespace(id=0)


def dev(a):
    return np.asarray(a).view(DevArray)


def empty(shape, dtype):
    """Like cupy.empty: 256-byte aligned (CuPy's allocations are)."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(size + 256, np.uint8)
    start = -raw.ctypes.data % 256
    return dev(raw[start:start + size].view(dtype).reshape(shape))


class Stream:
    """A CuPy stream stand-in; its capture calls are appended to ``calls``."""

    def __init__(self, ptr, calls=None):
        self.ptr, self.calls = ptr, calls

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def begin_capture(self):
        self.calls.append(("begin", cc.active() is not None))

    def end_capture(self):
        self.calls.append(("end", cc.active() is not None))
        return types.SimpleNamespace(launch=lambda stream=None: self.calls.append(("launch",)))

    def record(self, event=None):
        return None

    def wait_event(self, event):
        pass


def stand_in_cupy(log, cc_major=9):
    """The cupy calls cuda_blas and cublas_capture make; cupy.matmul/tensordot/einsum record
    that they ran (they are CuPy's path: during capture the real ones raise)."""
    current = [Stream(0x5000)]

    def record(name, fn):
        return lambda *a, **k: (log.append(name), fn(*a, **k))[1]

    cuda = types.SimpleNamespace(
        device=types.SimpleNamespace(get_cublas_handle=lambda: 0xB1A5),
        runtime=types.SimpleNamespace(getDevice=lambda: 0, is_hip=False),
        get_current_stream=lambda: current[0],
        Device=lambda: types.SimpleNamespace(compute_capability=f"{cc_major}0"))
    return types.SimpleNamespace(
        cuda=cuda, ndarray=DevArray, current=current,
        empty=empty,
        ascontiguousarray=lambda a: dev(np.ascontiguousarray(a)),
        broadcast_to=lambda a, shape: np.broadcast_to(a, shape).view(DevArray),
        matmul=record("cupy.matmul", lambda a, b, out=None: dev(np.matmul(a, b, out=out))),
        tensordot=record("cupy.tensordot", lambda a, b, axes=2: dev(np.tensordot(a, b, axes))),
        einsum=record("cupy.einsum", lambda s, *ops: dev(np.einsum(s, *ops))))


class RecordingDLL:
    """A stand-in for ctypes.CDLL(path): each cuBLAS function records (name, args), checks the
    argument count and int ranges against the argtypes set on it, and returns status 0."""

    def __init__(self, calls):
        self.calls = calls

    def __getattr__(self, name):
        calls = self.calls

        def fn(*args):
            assert len(args) == len(fn.argtypes), (name, len(args), len(fn.argtypes))
            for arg, t in zip(args, fn.argtypes):
                if t is ctypes.c_int:
                    assert -2 ** 31 <= arg < 2 ** 31, (name, arg)
            if name == "cublasGetStream_v2":
                args[1]._obj.value = 0x77
            calls.append((name,) + tuple(args[1:] if name == "cublasGetStream_v2" else args))
            return 0
        setattr(self, name, fn)
        return fn


def recording_lib(calls):
    return cc.Library("libcublas.so.13", cdll=lambda path: RecordingDLL(calls))


@pytest.fixture
def blas(monkeypatch):
    """kernels.cuda_blas imported against the stand-ins (its CuPy cuBLAS module, which needs
    libcublas, replaced by a recorder of gemmEx calls); removed again afterwards."""
    pytest.importorskip("cupy_backends")
    log, gemm_calls = [], []
    fake_cublas = types.ModuleType("cupy_backends.cuda.libs.cublas")
    fake_cublas.gemmEx = lambda *args: gemm_calls.append(args)
    import cupy_backends.cuda.libs as libs
    import gpugrad.kernels as pkg
    try:
        libs.cublas                             # CuPy loads libcublas here (CuPy 14: lazily)
    except ImportError:                         # no libcublas here: the recorder stands in
        monkeypatch.setitem(libs.__dict__, "cublas", fake_cublas)
        monkeypatch.setitem(sys.modules, "cupy_backends.cuda.libs.cublas", fake_cublas)
    had_module = "gpugrad.kernels.cuda_blas" in sys.modules
    try:
        mod = importlib.import_module("gpugrad.kernels.cuda_blas")
    except ImportError as e:                    # no usable cupy: nothing to test
        pytest.skip(f"kernels.cuda_blas does not import here: {e}")
    cp = stand_in_cupy(log)
    monkeypatch.setattr(mod, "_cublas", fake_cublas)
    monkeypatch.setattr(mod, "cupy", cp)
    monkeypatch.setattr(mod, "_precision", lambda: "highest")
    yield types.SimpleNamespace(mod=mod, cp=cp, log=log, gemm_calls=gemm_calls)
    cc.end_capture()
    if not had_module:                          # imported against the stand-in: forget it
        sys.modules.pop("gpugrad.kernels.cuda_blas", None)
        pkg.__dict__.pop("cuda_blas", None)


@pytest.fixture(scope="module")
def stand_in_lib(tmp_path_factory):
    """The C stand-in library, compiled once, as a cublas_capture.Library (real ctypes)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler for the cuBLAS stand-in library")
    d = tmp_path_factory.mktemp("cublas")
    (d / "stand_in.c").write_text(STAND_IN_C)
    so = d / "libcublas.so.99"            # a major no CuPy loads: library() never picks it
    subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", str(so), str(d / "stand_in.c")],
                   check=True, capture_output=True)
    lib = cc.Library(str(so))
    lib.raw = ctypes.CDLL(str(so))
    lib.raw.stand_in_gemm_stream.restype = ctypes.c_void_p
    lib.raw.stand_in_gemm_workspace.restype = ctypes.c_void_p
    lib.raw.stand_in_workspace_size.restype = ctypes.c_size_t
    return lib


@contextlib.contextmanager
def prepared(cp, lib, stream=None):
    stream = stream or cp.current[0]
    cc.prepare_capture(stream, cp, lib)
    try:
        yield stream
    finally:
        cc.end_capture()
