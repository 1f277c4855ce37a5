"""cuBLAS during CUDA-graph capture (kernels/cublas_capture.py, the capture paths of
kernels/cuda_blas.py), without a GPU: host arrays play device arrays, a stand-in CuPy namespace
plays cupy, and the cuBLAS library is either a Python recorder of ctypes calls or a small C
library with cuBLAS's symbols that computes the GEMMs on the host (cublas_stand_ins.py) -- so
the real ctypes bindings and the row-major to column-major argument mapping are checked
against NumPy.  The last two tests need a real GPU."""
import contextlib
import subprocess
import sys
import types

import numpy as np
import pytest

from cublas_stand_ins import (Stream, blas, dev, prepared, recording_lib,  # noqa: F401 (fixtures)
                              stand_in_cupy, stand_in_lib)
from gpugrad.capture_hooks import CaptureError
from gpugrad.kernels import cublas_capture as cc


# --------------------------------------------------------------------- library lookup

MAPS = """\
7f10-7f20 r--p 00000000 08:01 11 /usr/lib/x86_64-linux-gnu/libc.so.6
7f20-7f30 r-xp 00000000 08:01 12 /site-packages/nvidia/cu13/lib/libcublasLt.so.13
7f30-7f40 r--p 00000000 08:01 13 /site-packages/nvidia/cu13/lib/libcublas.so.13
7f40-7f50 r-xp 00010000 08:01 13 /site-packages/nvidia/cu13/lib/libcublas.so.13
7f50-7f60 rw-p 00000000 00:00 0
7f60-7f70 r-xp 00000000 08:01 14 /site-packages/cupy_backends/cuda/libs/cublas.cpython-311.so
7ffc-7ffd rw-p 00000000 00:00 0 [stack]
"""


def test_find_library_reads_cupys_libcublas_from_proc_maps():
    assert cc.find_library(MAPS) == "/site-packages/nvidia/cu13/lib/libcublas.so.13"
    spaced = "7f-8f r-xp 0 08:01 9 /opt/my cuda/lib64/libcublas.so.12.9.1.4\n"
    assert cc.find_library(spaced) == "/opt/my cuda/lib64/libcublas.so.12.9.1.4"


def test_find_library_refuses_none_or_an_ambiguous_choice():
    with pytest.raises(cc.CublasLibraryError, match="found none"):
        cc.find_library(MAPS.replace("libcublas.so", "libfoo.so"))
    two = MAPS + "7f80-7f90 r-xp 0 08:01 20 /torch/lib/libcublas.so.12\n"
    with pytest.raises(cc.CublasLibraryError, match="libcublas.so.12"):
        cc.find_library(two)
    assert cc.find_library(two, major=12) == "/torch/lib/libcublas.so.12"
    assert cc.find_library(two, major=13).endswith("cu13/lib/libcublas.so.13")


def test_library_finds_the_loaded_libcublas_of_cupys_major(stand_in_lib, monkeypatch):
    """library(): CuPy's cuBLAS version picks the mapped libcublas (here the stand-in,
    loaded under the name libcublas.so.99) from the real /proc/self/maps."""
    libs = pytest.importorskip("cupy_backends.cuda.libs")   # (CuPy installed)
    mapped = {line.split(None, 5)[-1].strip() for line in open("/proc/self/maps")
              if "libcublas.so" in line}
    if mapped != {stand_in_lib.path}:
        pytest.skip(f"another libcublas is loaded here: {sorted(mapped)}")
    cublas = types.SimpleNamespace(getVersion=lambda handle: 990100)
    monkeypatch.setitem(libs.__dict__, "cublas", cublas)
    monkeypatch.setitem(sys.modules, "cupy", stand_in_cupy([]))
    monkeypatch.setattr(cc, "_lib", None)
    assert cc.library().path == stand_in_lib.path and cc.library() is cc.library()


def test_docstring_examples_run():
    import doctest
    result = doctest.testmod(cc, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
    for name in cc.__all__:                      # every public function and Library
        obj = getattr(cc, name)
        if not (isinstance(obj, type) and issubclass(obj, Exception)):
            assert ">>>" in (obj.__doc__ or ""), name


def test_importing_gpugrad_loads_no_cublas_and_no_cupy():
    code = ("import sys, gpugrad, gpugrad.kernels.cublas_capture as c\n"
            "assert c._lib is None and 'cupy' not in sys.modules, sorted(sys.modules)\n"
            "assert not [l for l in open('/proc/self/maps') if 'libcublas' in l]\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


# ------------------------------------------------------------------ the ctypes binding

def test_library_binds_gemm_ex_with_the_abi_of_cublas(stand_in_lib):
    """m, n, k, lds, ops and both scalar types through real ctypes into C, against NumPy;
    a failing status is raised, named."""
    rng = np.random.default_rng(0)
    for dt, r, comp in ((np.float32, 0, 68), (np.float64, 1, 70)):
        a, b = rng.standard_normal((5, 3)).astype(dt), rng.standard_normal((3, 4)).astype(dt)
        out, one, zero = np.full((5, 4), np.nan, dt), np.ones(1, dt), np.zeros(1, dt)
        # row-major out = a @ b as column-major out^T = b^T a^T, with a given transposed (op T)
        at = np.asfortranarray(a)
        stand_in_lib.call("cublasGemmEx", 1, 0, 1, 4, 5, 3, one.ctypes.data, b.ctypes.data, r,
                          4, at.ctypes.data, r, 5, zero.ctypes.data, out.ctypes.data, r, 4, comp,
                          -1)
        np.testing.assert_allclose(out, a @ b, rtol=1e-5)
    p = out.ctypes.data
    with pytest.raises(cc.CublasError, match=r"cublasGemmEx failed with "
                                             r"CUBLAS_STATUS_INVALID_VALUE \(7\) for a GEMM"):
        stand_in_lib.call("cublasGemmEx", 1, 0, 0, 2, 2, 2, p, p, 0, 1, p, 0, 2, p, p, 0, 2,
                          68, -1, what=" for a GEMM")              # lda 1 < m 2


# ------------------------------------------------------- prepare / end around a capture

def test_prepare_sets_stream_and_workspace_before_and_end_restores(monkeypatch):
    calls, log = [], []
    lib = recording_lib(calls)
    cp = stand_in_cupy(log)
    stream = Stream(0x5000)
    p = cc.prepare_capture(stream, cp, lib)
    ws = p.workspace
    assert ws.nbytes == 32 << 20 and ws.dtype == np.uint8 and cc.active() is p
    assert calls == [("cublasGetStream_v2", calls[0][1]),
                     ("cublasSetStream_v2", 0xB1A5, 0x5000),
                     ("cublasSetWorkspace_v2", 0xB1A5, ws.data.ptr, 32 << 20)]
    with pytest.raises(RuntimeError, match="already prepared"):
        cc.prepare_capture(stream, cp, lib)
    cc.end_capture()
    assert calls[-1] == ("cublasSetStream_v2", 0xB1A5, 0x77) and cc.active() is None
    # the stream keeps its workspace for its next capture; another stream gets its own
    assert cc.prepare_capture(stream, cp, lib).workspace is ws
    cc.end_capture()
    assert cc.prepare_capture(Stream(0x6000), cp, lib).workspace is not ws
    cc.end_capture()
    assert cc.workspace_size(stand_in_cupy(log, cc_major=8)) == 4 << 20


def test_capture_blas_prepares_only_around_the_block_and_not_for_stand_ins(monkeypatch):
    calls, log = [], []
    lib = recording_lib(calls)
    monkeypatch.setattr(cc, "library", lambda: lib)
    cp = stand_in_cupy(log)
    with pytest.raises(ValueError, match="boom"):
        with cc.capture_blas(Stream(0x5000), cp) as p:
            assert cc.active() is p and calls[-1][0] == "cublasSetWorkspace_v2"
            raise ValueError("boom")
    assert cc.active() is None and calls[-1] == ("cublasSetStream_v2", 0xB1A5, 0x77)
    calls.clear()
    for stand_in in (types.SimpleNamespace(cuda=types.SimpleNamespace()),
                     types.SimpleNamespace(cuda=types.SimpleNamespace(
                         device=cp.cuda.device, runtime=types.SimpleNamespace(is_hip=True)))):
        with cc.capture_blas(Stream(1), stand_in) as p:
            assert p is None and cc.active() is None
    assert calls == []


def test_graph_replay_prepares_cublas_around_each_captured_segment(monkeypatch):
    from gpugrad.capture.cuda_graph import GraphReplay
    from gpugrad.capture.tape import Tape
    calls, log = [], []
    lib = recording_lib(calls)
    monkeypatch.setattr(cc, "library", lambda: lib)
    cp = stand_in_cupy(log)

    cp.cuda.Stream = lambda **kw: Stream(0x5000, calls)
    cp.current[0] = Stream(0x1, calls)                  # the caller's stream
    cp.cuda.MemoryPool = lambda: types.SimpleNamespace(malloc=None)
    cp.cuda.using_allocator = lambda malloc: contextlib.nullcontext()
    entries = [("array", lambda env: calls.append(("kernel", cc.active() is not None)), ())]
    GraphReplay(Tape(entries, 1, []), [], ("slot", 0), cp=cp).run([])
    names = [c[0] for c in calls]
    assert names == ["cublasGetStream_v2", "cublasSetStream_v2", "cublasSetWorkspace_v2",
                     "begin", "kernel", "end", "cublasSetStream_v2", "launch"]
    assert [c[1] for c in calls if c[0] in ("begin", "kernel", "end")] == [True] * 3


# ------------------------------------------------------------------ products in capture

LAYOUTS = ["CC", "CF", "FC", "FF"]


def _operands(m, k, n, dt, layout, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((m, k)).astype(dt), rng.standard_normal((k, n)).astype(dt)
    a = np.asfortranarray(a) if layout[0] == "F" else a
    b = np.asfortranarray(b) if layout[1] == "F" else b
    return dev(a), dev(b)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype,precision", [(np.float32, "highest"), (np.float32, "high"),
                                             (np.float64, "highest")])
def test_captured_gemm_gets_the_arguments_cupys_gemm_ex_would(blas, layout, dtype, precision):
    calls = []
    lib = recording_lib(calls)
    a, b = _operands(5, 3, 4, dtype, layout)
    out = dev(np.empty((5, 4), dtype))
    assert blas.mod._gemm(a, b, out, precision) is out                 # outside: CuPy's
    (expected,) = blas.gemm_calls
    assert calls == []
    with prepared(blas.cp, lib):
        calls.clear()
        assert blas.mod._gemm(a, b, out, precision) is out             # inside: ctypes
    assert len(blas.gemm_calls) == 1
    assert [c[0] for c in calls] == ["cublasSetStream_v2", "cublasSetWorkspace_v2",
                                     "cublasGemmEx", "cublasSetStream_v2"]
    assert calls[2][1:] == expected
    assert expected[17] == {(np.float32, "highest"): 68, (np.float32, "high"): 77,
                            (np.float64, "highest"): 70}[dtype, precision]


def test_fused_linear_products_are_direct_gemms_in_capture(blas, stand_in_lib):
    """The fused layer's x @ W, dz @ W.T and x.T @ dz: each one cublasGemmEx on the prepared
    stream and workspace, right against NumPy; no CuPy product runs."""
    rng = np.random.default_rng(1)
    x, W, dz = (dev(rng.standard_normal(s).astype(np.float32)) for s in ((6, 3), (3, 4), (6, 4)))
    y, dx, dW = (dev(np.empty(s, np.float32)) for s in ((6, 4), (6, 3), (3, 4)))
    with prepared(blas.cp, stand_in_lib) as stream:
        blas.mod._cublas_matmul(x, W, y, "highest")
        blas.mod._cublas_matmul(dz, W.T, dx, "highest")
        blas.mod._cublas_matmul(x.T, dz, dW, "highest")
        ws = cc.active().workspace
        assert stand_in_lib.raw.stand_in_gemm_stream() == stream.ptr
        assert stand_in_lib.raw.stand_in_gemm_workspace() == ws.data.ptr
        assert stand_in_lib.raw.stand_in_workspace_size() == ws.nbytes
    for got, want in ((y, x @ W), (dx, dz @ W.T), (dW, x.T @ dz)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    assert blas.log == [] and blas.gemm_calls == []


@pytest.mark.parametrize("sa,sb", [((4, 3), (3, 5)), ((2, 4, 3), (3, 5)), ((2, 4, 3), (2, 3, 5)),
                                   ((4, 3), (2, 3, 5)), ((2, 1, 4, 3), (3, 3, 5)),
                                   ((3,), (3, 5)), ((2, 4, 3), (3,)), ((3,), (3,)),
                                   ((4, 0), (0, 5)), ((0, 3), (3, 5))])
def test_other_matmuls_become_gemms_in_capture(blas, stand_in_lib, sa, sb):
    rng = np.random.default_rng(2)
    a, b = dev(rng.standard_normal(sa)), dev(rng.standard_normal(sb))
    if len(sa) == 2:
        a = dev(np.asarray(rng.standard_normal((sa[0], 2 * sa[1])))[:, ::2])  # strided view
    with prepared(blas.cp, stand_in_lib):
        got = blas.mod.Blas.matmul(a, b)
    np.testing.assert_allclose(np.asarray(got), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    assert blas.log == [] and blas.gemm_calls == []


@pytest.mark.parametrize("sa,sb,axes", [((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])),
                                        ((2, 3), (3, 4), 1), ((2, 3), (2, 3), 2),
                                        ((3, 4), (5, 6), 0),
                                        ((2, 3, 4), (4, 2), ([0, -1], [1, 0]))])
def test_tensordot_becomes_a_gemm_in_capture(blas, stand_in_lib, sa, sb, axes):
    rng = np.random.default_rng(3)
    a, b = dev(rng.standard_normal(sa)), dev(rng.standard_normal(sb))
    with prepared(blas.cp, stand_in_lib):
        got = blas.mod.Blas.tensordot(a, b, axes=axes)
    np.testing.assert_allclose(np.asarray(got), np.tensordot(a, b, axes), rtol=1e-12, atol=1e-12)
    assert blas.log == []


def test_outside_capture_products_take_cupy_as_before(blas, monkeypatch):
    monkeypatch.setattr(cc, "library", lambda: pytest.fail("cuBLAS library loaded"))
    a, b = dev(np.ones((2, 3, 4))), dev(np.ones((4, 5)))
    blas.mod.Blas.matmul(a, b)
    blas.mod.Blas.tensordot(a, b, axes=1)
    blas.mod.Blas.einsum("ijk,kl->ijl", a, b)
    blas.mod._cublas_matmul(dev(np.ones((4, 6)))[:, ::2], dev(np.ones((3, 2))),
                            dev(np.empty((4, 2))), "highest")
    assert blas.log == ["cupy.matmul", "cupy.tensordot", "cupy.einsum", "cupy.matmul"]
    blas.mod.Blas.matmul(dev(np.ones((2, 3), np.float32)), dev(np.ones((3, 4), np.float32)))
    assert len(blas.gemm_calls) == 1 and cc.active() is None


def test_capture_refuses_what_it_cannot_run_naming_the_product(blas, stand_in_lib):
    def refused(*args, **kwargs):
        raise NotImplementedError("calling cuBLAS API during stream capture is currently "
                                  "unsupported")
    half, i64 = dev(np.ones((2, 3), np.float16)), dev(np.ones((2, 3), np.int64))
    with prepared(blas.cp, stand_in_lib):
        ints = blas.mod.Blas.matmul(i64, i64.T)           # CuPy's own kernel, no cuBLAS
        assert blas.log == ["cupy.matmul"] and ints.dtype == np.int64
        blas.cp.einsum = blas.cp.matmul = refused
        with pytest.raises(CaptureError, match=r"matmul of float16 \(2, 3\), float16 \(3, 2\) "
                                               r"calls cuBLAS through CuPy"):
            blas.mod.Blas.matmul(half, dev(np.ones((3, 2), np.float16)))
        with pytest.raises(CaptureError, match=r"einsum 'ij,jk->ik' of float64 \(2, 3\)"):
            blas.mod.Blas.einsum("ij,jk->ik", dev(np.ones((2, 3))), dev(np.ones((3, 2))))
        mixed = blas.mod.Blas.matmul(dev(np.ones((2, 3), np.float32)), dev(np.ones((3, 2))))
        assert mixed.dtype == np.float64 and np.all(np.asarray(mixed) == 3)  # cast, then GEMM
        blas.cp.current[0] = Stream(0x9000)                      # a GEMM on another stream
        with pytest.raises(CaptureError, match="on stream 0x9000 .* prepared for capture on "
                                               "stream 0x5000"):
            blas.mod.Blas.matmul(dev(np.ones((2, 3))), dev(np.ones((3, 2))))
    blas.cp.current[0] = Stream(0x5000)
    with pytest.raises(NotImplementedError):                     # not capturing: CuPy's own error
        blas.mod.Blas.einsum("ij,jk->ik", dev(np.ones((2, 3))), dev(np.ones((3, 2))))


# ------------------------------------------------------------------- on a real GPU

@pytest.mark.cuda
@pytest.mark.real_cuda
def test_products_are_captured_in_a_cuda_graph_and_replayed_on_a_gpu():
    """2-D GEMMs (C- and F-contiguous operands), a batched matmul and a tensordot captured
    through the ctypes path, replayed twice on new data, against cupy.matmul outside capture."""
    cupy = pytest.importorskip("cupy")
    from gpugrad.kernels import cuda_blas
    rs = cupy.random.RandomState(0)
    a, b = (rs.standard_normal((256, 256), dtype=cupy.float32) for _ in range(2))
    x3 = rs.standard_normal((3, 64, 256), dtype=cupy.float32)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        with cc.capture_blas(stream, cupy) as p:
            assert p is not None and cc.library().path in open("/proc/self/maps").read()
            stream.begin_capture()
            try:
                y = cuda_blas._cublas_matmul(a, b, cupy.empty((256, 256), cupy.float32),
                                             "highest")
                yt = cuda_blas._cublas_matmul(a.T, b, cupy.empty((256, 256), cupy.float32),
                                              "highest")
                y3 = cuda_blas.Blas.matmul(x3, b[None])
                yd = cuda_blas.Blas.tensordot(x3, b, axes=1)
            finally:
                graph = stream.end_capture()
        for _ in range(2):
            graph.launch(stream)
            for got, want in ((y, a @ b), (yt, a.T @ b), (y3, x3 @ b), (yd, x3 @ b)):
                np.testing.assert_allclose(cupy.asnumpy(got), cupy.asnumpy(want),
                                           rtol=1e-4, atol=1e-3)
            a[...] = rs.standard_normal((256, 256), dtype=cupy.float32)
            x3[...] = rs.standard_normal((3, 64, 256), dtype=cupy.float32)
    assert cc.active() is None


@pytest.mark.cuda
@pytest.mark.real_cuda
def test_a_compiled_mlp_step_replays_as_cuda_graphs_on_a_gpu():
    import gpugrad as gg
    from gpugrad import nn, optim

    def setup():
        gg.manual_seed(0)
        model = nn.MLP([64, 128, 128, 10], activation="relu", device="cuda")
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        def step(x, y):
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            return loss
        return model, step

    (m1, eager), (m2, body) = setup(), setup()
    step = gg.compile(body)
    rng = np.random.default_rng(0)
    for i in range(6):                       # record, capture, then replays
        x = gg.tensor(rng.standard_normal((32, 64)).astype(np.float32), device="cuda")
        y = gg.tensor(rng.standard_normal((32, 10)).astype(np.float32), device="cuda")
        want, got = eager(x, y).item(), step(x, y).item()
        np.testing.assert_allclose(got, want, rtol=1e-4, err_msg=f"step {i}")
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-4, atol=1e-5)
    assert step.recordings == 1
