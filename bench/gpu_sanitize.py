"""Tiny launches of every gpugrad CUDA kernel, for NVIDIA's compute-sanitizer.

    compute-sanitizer --tool memcheck  --error-exitcode 3 python bench/gpu_sanitize.py
    compute-sanitizer --tool racecheck --error-exitcode 3 python bench/gpu_sanitize.py

Launches each RawKernel (the custom GEMM of linear_act.cu, the dz/db epilogue and its partial
sums of epilogue.cu, the cross-entropy forward of cross_entropy.cu) and each ElementwiseKernel
(bias + activation forward variants, activation backward, cross-entropy backward, SGD and Adam
with and without their extra buffer) on odd, small shapes -- tails in every dimension, one
element, more classes than a block has threads -- in float32 and float64.  CuPy's memory pool is
off (``cupy.cuda.set_allocator(None)``): every array is its own cudaMalloc, so a read or write
past an array's end is outside any allocation and memcheck reports it.  Run it once outside the
sanitizer first: compiling under the sanitizer is slow, and CuPy's kernel cache keeps the result.

``--all-acts`` launches every activation (default: identity, relu and gelu, which cover the three
memory patterns -- no extra read, the output y, the kept pre-activation z).
"""
import argparse
import sys

import numpy as np
import cupy as cp

cp.cuda.set_allocator(None)                 # before any allocation: no pool, exact-size buffers

from gpugrad import kernels  # noqa: E402
from gpugrad.kernels import cuda as kc                          # noqa: E402
from gpugrad.kernels.activations import ACTIVATIONS, CODE, needs_preactivation   # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all-acts", action="store_true", help="every activation, not three")
    args = ap.parse_args(argv)
    acts = ACTIVATIONS if args.all_acts else ("identity", "relu", "gelu")
    rng = np.random.default_rng(0)
    launches = 0

    def arr(*shape, dtype):
        return cp.asarray(rng.standard_normal(shape), dtype)

    for dtype in (np.float32, np.float64):
        s = dtype(0.01)
        for (M, K, N) in ((65, 33, 130), (1, 17, 1), (129, 16, 63)):
            x, W, b, dy = arr(M, K, dtype=dtype), arr(K, N, dtype=dtype), arr(N, dtype=dtype), \
                arr(M, N, dtype=dtype)
            for act in acts:
                code = CODE[act]
                y = cp.empty((M, N), dtype)
                z = cp.empty((M, N), dtype) if needs_preactivation(act) else None
                for bias in (b, None):
                    kc._custom_linear(x, W, bias, code, s, y, z)                    # RawKernel
                    kc._cublas_linear(x, W, bias, code, s, y, z, "highest")         # Elementwise
                    launches += 2
                zz = z if z is not None else y
                kc._dz_db(dy, y, zz, cp.empty_like(dy), code, s, True)    # dz + partials + sum
                kc._dz_db(dy, y, zz, cp.empty_like(dy), code, s, False)   # dz only
                kc._dz_db(dy, y, zz, None, code, s, True)                 # db only
                kernels.act_forward(zz, act, negative_slope=0.01)
                kernels.act_backward(dy, y, z, act, negative_slope=0.01)
                launches += 5
        for n, c in ((1, 1), (7, 3), (5, 300), (3, 1000)):
            logits = arr(n, c, dtype=dtype)
            target = cp.asarray(rng.integers(0, c, n))
            target[::3] = -100
            status = cp.zeros(2, np.uint64)
            probs, _, safe_t, valid = kc.cross_entropy_forward(logits, target, -100, 0.1, status)
            kc.cross_entropy_backward(probs, safe_t, valid / max(n, 1), 0.1)
            launches += 2
        for size in (1, 1001):
            p, g, buf = arr(size, dtype=dtype), arr(size, dtype=dtype), arr(size, dtype=dtype)
            kernels.sgd_update(p, g, None, lr=0.1)
            kernels.sgd_update(p, g, buf, lr=0.1, momentum=0.9, nesterov=True)
            m, v, vmax = cp.zeros_like(p), cp.zeros_like(p), cp.zeros_like(p)
            kernels.adam_update(p, g, m, v, step=1, lr=1e-3, weight_decay=0.1)
            kernels.adam_update(p, g, m, v, step=2, lr=1e-3, amsgrad=True, max_exp_avg_sq=vmax,
                                decoupled=True, weight_decay=0.1)
            launches += 4
    cp.cuda.Device().synchronize()
    print(f"gpu_sanitize: {launches} launch groups done ({', '.join(acts)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
