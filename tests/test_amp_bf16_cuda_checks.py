"""The guards of autocast bfloat16's CUDA kernels (kernels/cublas_bf16.py, bf16_selfcheck.py,
bf16_cast.cu) without a GPU: the cast reading strided and float16 inputs in one pass, the
32-bit limits of cuBLAS's arguments, the self-check catching broken casts and N/T layouts
(and not remembering a transient error), the cast kernel launched and memoized on the
operand's device, and the cast kernel's instantiations compiled by NVRTC."""
import os
import sys

import numpy as np
import pytest

from gpugrad.kernels import cublas_bf16 as kb
from gpugrad.kernels.bf16_host import HostDevice, bf16_bits, half_to_float32

ml_dtypes = pytest.importorskip("ml_dtypes")


def _want(x):
    return np.ascontiguousarray(x).astype(ml_dtypes.bfloat16).view(np.uint16)


def test_cast_reads_strided_and_float16_inputs_in_one_pass(host, monkeypatch):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((6, 8)) * 100).astype(np.float32)
    cube = rng.standard_normal((3, 4, 5)).astype(np.float32)
    copies, dtypes = [], []
    monkeypatch.setattr(host, "contiguous", lambda x: copies.append(x.shape) or
                        np.ascontiguousarray(x))
    cast = host.cast
    monkeypatch.setattr(host, "cast", lambda x, out: dtypes.append(x.dtype.name) or cast(x, out))
    views = [a.T, a[:, ::2], a[::-1], a[::2, 1:5], np.broadcast_to(a[0], (3, 8)),
             a.astype(np.float16), a.astype(np.float16).T, a.astype(np.float64)[:, ::3],
             cube[::2], cube[:, 1]]
    for v in views:
        np.testing.assert_array_equal(kb.to_bf16_bits(v), _want(v), err_msg=str(v.strides))
    assert copies == []                                  # every view read as it is
    assert "float16" in dtypes and "float32" not in dtypes[5:7]   # float16 cast directly
    odd = cube.transpose(1, 0, 2)                        # three axes: one copy, then the cast
    np.testing.assert_array_equal(kb.to_bf16_bits(odd), _want(odd))
    assert copies == [odd.shape]


def test_half_to_float32_matches_numpy_on_every_float16():
    h = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16)
    np.testing.assert_array_equal(half_to_float32(h).view(np.uint32),
                                  h.view(np.float16).astype(np.float32).view(np.uint32))
    d = np.random.default_rng(1).standard_normal(4000) * 1e3       # float64: rounded once
    np.testing.assert_array_equal(bf16_bits(d), d.astype(ml_dtypes.bfloat16).view(np.uint16))


def test_leading_dimensions_beyond_int32_are_not_passed_to_cublas():
    big = 2 ** 32 + 8                          # a (2, 4) slice of a (2, 2**32 + 8) array
    assert kb.gemm_layout((2, 4), (big, 1), (4, 3), (3, 1)) is None
    assert kb.gemm_layout((4, 2), (1, big), (2, 3), (3, 1)) is None            # op T, ld = s1
    assert kb.gemm_layout((2, 4), (4, 1), (4, 3), (big, 1)) is None
    fits = kb.gemm_layout((2, 4), (kb.INT32_MAX, 1), (4, 3), (3, 1))
    assert fits is not None and fits[6] == kb.INT32_MAX
    with pytest.raises(ValueError, match="exceed cuBLAS's 32-bit int"):
        kb.gemm_layout((2 ** 31, 4), (4, 1), (4, 3), (3, 1))

    class Huge:                                # strides of a view no one has to allocate
        shape, ndim, dtype = (2, 4), 2, np.dtype(np.uint16)
        strides = (2 * big, 2)

    class Ops:
        copied = []

        def contiguous(self, x):
            self.copied.append(x)
            return np.zeros(x.shape, np.uint16)

    x, strides = kb._matrix(Ops(), Huge())
    assert Ops.copied and strides == (4, 1) and x.flags.c_contiguous      # copied, not passed


class _TruncatingCast(HostDevice):           # round toward zero instead of to nearest even
    def cast(self, x, out):
        u = np.ascontiguousarray(x, np.float32).view(np.uint32).ravel()
        out.reshape(-1)[...] = (u >> 16).astype(np.uint16)


class _ZeroCast(HostDevice):                 # a cast kernel that never ran
    def cast(self, x, out):
        out[...] = 0


class _SwappedTrans(HostDevice):             # transa and transb exchanged in the binding
    def gemm(self, ta, tb, *rest):
        HostDevice.gemm(self, tb, ta, *rest)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")      # garbage read by a broken binding
@pytest.mark.parametrize("broken, what", [(_TruncatingCast, "cast self-check"),
                                          (_ZeroCast, "cast self-check"),
                                          (_SwappedTrans, "GEMM self-check")])
def test_self_check_catches_a_wrong_cast_and_swapped_layouts(broken, what):
    prev = kb.use_device_ops(broken(np))
    try:
        a = bf16_bits(np.ones((4, 4), np.float32))          # bits made on the host
        for _ in range(2):                                  # the verdict is remembered
            with pytest.raises(RuntimeError, match=f"bfloat16 {what} on cuda:0 failed"):
                kb.matmul_bits(a, a)
        assert isinstance(kb._checked[0], RuntimeError)
    finally:
        kb.use_device_ops(prev)


def test_a_transient_error_in_the_self_check_is_not_remembered():
    class OomOnce(HostDevice):
        failed = False

        def empty(self, shape, dtype):
            if not self.failed and dtype == np.float32:
                self.failed = True
                raise MemoryError("out of memory (transient)")
            return super().empty(shape, dtype)

    prev = kb.use_device_ops(OomOnce(np))
    try:
        a = bf16_bits(np.ones((2, 2), np.float32))
        with pytest.raises(MemoryError, match="transient"):
            kb.matmul_bits(a, a)
        assert 0 not in kb._checked
        np.testing.assert_array_equal(kb.matmul_bits(a, a), np.full((2, 2), 2, np.float32))
        assert kb._checked == {0: None}
    finally:
        kb.use_device_ops(prev)


def test_cast_kernel_runs_and_is_memoized_on_the_operands_device(monkeypatch):
    """CudaDevice.cast under the tests' CuPy stand-in, its RawKernel replaced by the host
    reference: a cuda:1 array is cast with cuda:1 current, by the kernel loaded for cuda:1,
    given (n, cols, s0, s1) as the kernel reads them."""
    cupy = sys.modules.get("cupy")
    if os.environ.get("GPUGRAD_FAKE_CUDA", "") in ("", "0") or not hasattr(cupy, "is_fake"):
        pytest.skip("needs the tests' CuPy stand-in (GPUGRAD_FAKE_CUDA=1)")
    loads, ref = [], HostDevice(cupy)

    def fake_kernel(char, device):
        loads.append((char, device, cupy.cuda.runtime.getDevice()))

        def launch(grid, block, args):
            x, out, n, cols, s0, s1 = args
            assert (int(cols), int(s0), int(s1)) == kb.cast_layout(x.shape, kb._elems(x))
            ref.cast(x, out)                  # refuses arrays of a device not current
        return launch
    monkeypatch.setattr(kb, "_cast_kernel", fake_kernel)
    ops = kb.CudaDevice.__new__(kb.CudaDevice)
    ops.xp = cupy
    prev = kb.use_device_ops(ops)
    try:
        host = np.random.default_rng(2).standard_normal((5, 7)).astype(np.float32)
        with cupy.cuda.Device(1):
            x = cupy.asarray(host)
        assert cupy.cuda.runtime.getDevice() == 0
        bits = kb.to_bf16_bits(x.T)
        assert bits.device.id == 1 and loads == [("f", 1, 1)]
        np.testing.assert_array_equal(cupy.asnumpy(bits), _want(host.T))
    finally:
        kb.use_device_ops(prev)


def test_cast_kernel_compiles_for_every_input_dtype_with_nvrtc():
    pytest.importorskip("cupy", reason="CuPy is not installed")
    compiler = pytest.importorskip("cupy.cuda.compiler")
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
    except Exception as exc:                  # noqa: BLE001 -- no libnvrtc: skip, saying why
        pytest.skip(f"NVRTC is not loadable: {exc}")
    from gpugrad.kernels.cuda_sources import source
    names = [f"gpugrad_bf16_cast<{t}>" for t in kb._CAST_TYPES.values()]
    prog = compiler._NVRTCProgram(source("bf16_cast.cu"), "bf16_cast.cu", name_expressions=names)
    ptx, mapping = prog.compile(("--std=c++14", "-arch=compute_80"))
    assert ptx and set(mapping) == set(names)
