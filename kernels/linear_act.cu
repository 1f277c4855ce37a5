// Y = act(A @ B + bias), and Z = A @ B + bias when keep_z: a tiled GEMM whose store is the fused
// bias + activation epilogue. A is (M, K), B is (K, N), Y and Z are (M, N), all row-major and
// contiguous; bias is (N,) (read only when has_bias). ACT indexes gpugrad.kernels.ACTIVATIONS.
//
// gpugrad_linear_act<ACT, T>: CUDA cores, float or double. Block tile 64 x 64, K-step 16,
//   256 threads; thread (tx, ty) = (t % 16, t / 16) accumulates rows ty + 16 i and columns
//   tx + 16 j (i, j < 4), so shared-memory reads are broadcast/conflict-free and stores coalesce.
//   Grid: blockIdx.x walks the row tiles (up to 2^31 - 1 of them: any batch), blockIdx.y the
//   column tiles (N <= 65535 * 64). It wins only on small layers, where cuBLAS's launch and
//   epilogue pass cost more than the arithmetic; TF32 ("high" precision) always goes to cuBLAS.
#include "activations.cu"

#define GPUGRAD_BM 64
#define GPUGRAD_BN 64
#define GPUGRAD_BK 16

template <int ACT, typename T>
__device__ __forceinline__ void gpugrad_store(T acc, int r, int c, const T* __restrict__ bias,
                                              T* __restrict__ Y, T* __restrict__ Z, int N,
                                              T slope, int has_bias, int keep_z) {
    const T v = has_bias ? acc + bias[c] : acc;
    const size_t i = (size_t)r * N + c;
    if (keep_z) Z[i] = v;
    Y[i] = gpugrad_act<ACT>(v, slope);
}

// Copy the (BM x BK) tile of A at (row0, k0) and the (BK x BN) tile of B at (k0, col0) to shared
// memory, zero-filled outside the matrices. As is stored k-major: As[k][row].
template <typename T, int THREADS, int A_PAD>
__device__ __forceinline__ void gpugrad_load_tiles(const T* __restrict__ A, const T* __restrict__ B,
                                                   T (*As)[GPUGRAD_BM + A_PAD], T (*Bs)[GPUGRAD_BN],
                                                   int row0, int col0, int k0, int M, int N, int K) {
    for (int e = threadIdx.x; e < GPUGRAD_BM * GPUGRAD_BK; e += THREADS) {
        const int r = e / GPUGRAD_BK, k = e % GPUGRAD_BK;
        const int gr = row0 + r, gk = k0 + k;
        As[k][r] = (gr < M && gk < K) ? A[(size_t)gr * K + gk] : T(0);
    }
    for (int e = threadIdx.x; e < GPUGRAD_BK * GPUGRAD_BN; e += THREADS) {
        const int k = e / GPUGRAD_BN, c = e % GPUGRAD_BN;
        const int gk = k0 + k, gc = col0 + c;
        Bs[k][c] = (gk < K && gc < N) ? B[(size_t)gk * N + gc] : T(0);
    }
}

template <int ACT, typename T>
__global__ void __launch_bounds__(256)
gpugrad_linear_act(const T* __restrict__ A, const T* __restrict__ B, const T* __restrict__ bias,
                   T* __restrict__ Y, T* __restrict__ Z, int M, int N, int K, T slope,
                   int has_bias, int keep_z) {
    __shared__ T As[GPUGRAD_BK][GPUGRAD_BM + 1];
    __shared__ T Bs[GPUGRAD_BK][GPUGRAD_BN];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int row0 = blockIdx.x * GPUGRAD_BM, col0 = blockIdx.y * GPUGRAD_BN;
    T acc[4][4];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = T(0);

    for (int k0 = 0; k0 < K; k0 += GPUGRAD_BK) {
        gpugrad_load_tiles<T, 256, 1>(A, B, As, Bs, row0, col0, k0, M, N, K);
        __syncthreads();
#pragma unroll
        for (int k = 0; k < GPUGRAD_BK; ++k) {
            T a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = As[k][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) b[j] = Bs[k][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
    for (int i = 0; i < 4; ++i) {
        const int r = row0 + ty + 16 * i;
        for (int j = 0; j < 4; ++j) {
            const int c = col0 + tx + 16 * j;
            if (r < M && c < N) gpugrad_store<ACT>(acc[i][j], r, c, bias, Y, Z, N, slope, has_bias, keep_z);
        }
    }
}


#ifdef GPUGRAD_INSTANTIATE_ALL  // the nvcc compile test: both dtypes, a cheap and an expensive
// activation (epilogue.cu instantiates every activation's math; 8 GEMM copies would cost 10 s)
#define GPUGRAD_LINEAR(ACT, T) template __global__ void gpugrad_linear_act<ACT, T>( \
    const T*, const T*, const T*, T*, T*, int, int, int, T, int, int);
#define GPUGRAD_LINEAR_ALL(ACT) GPUGRAD_LINEAR(ACT, float) GPUGRAD_LINEAR(ACT, double)
GPUGRAD_LINEAR_ALL(0) GPUGRAD_LINEAR_ALL(3)
#endif
