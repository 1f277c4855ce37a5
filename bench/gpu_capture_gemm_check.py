"""On a GPU: one cuBLAS GEMM captured in a CUDA graph through gpugrad's capture path
(kernels/cublas_capture.py: CuPy refuses cuBLAS calls during stream capture, so they go
through ctypes on the same handle, stream and a fixed workspace), replayed on new data and
compared with cupy.matmul.  Prints one line per replay; exits non-zero on a mismatch.

    python bench/gpu_capture_gemm_check.py
"""
import cupy as cp
from gpugrad.kernels import cuda_blas, cublas_capture as cc
n = 1024
rs = cp.random.RandomState(0)
a, b = (rs.standard_normal((n, n), dtype=cp.float32) for _ in range(2))
out = cp.empty((n, n), cp.float32)
cuda_blas._gemm(a, b, out, "highest")                      # eager warm-up (CuPy's gemmEx)
s = cp.cuda.Stream(non_blocking=True)
with s, cc.capture_blas(s, cp):                            # prepare_capture ... end_capture
    print("libcublas:", cc.library().path)
    s.begin_capture()
    try:
        cuda_blas._gemm(a, b, out, "highest")              # cublasGemmEx through ctypes
    finally:
        g = s.end_capture()
for i in range(3):                                         # replay on new data each time
    a[...] = rs.standard_normal((n, n), dtype=cp.float32); out.fill(0); cp.cuda.Device().synchronize()
    g.launch(s); s.synchronize()
    err = float(cp.abs(out - cp.matmul(a, b)).max())
    print(f"replay {i}: max |graph - cupy.matmul| = {err:.3g}"); assert err < 1e-2, err
print("OK: cuBLAS GEMM captured in a CUDA graph and replayed")
