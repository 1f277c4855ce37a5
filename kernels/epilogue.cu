// Backward epilogue of y = act(x @ W + b), fused: dz = dy * act'(y or z) and the bias gradient's
// per-block column sums, in one pass over dy (row-major, n x m).
// Launch: block (32, 8), grid (ceil(m / 32), gy). Thread (tx, ty) of block (bx, by) owns column
// bx * 32 + tx and rows by * 8 + ty, stepping by 8 * gy; the block's 8 row-partials of a column
// are summed in shared memory and written to partial[by * m + col]; gpugrad_sum_partials then
// adds the gy rows of each column, so db is deterministic (no atomics). Sums are accumulated in
// double, for float too: a column of a million-row batch stays accurate to float32 rounding.
#include "activations.cu"

template <int ACT, typename T>
__global__ void __launch_bounds__(256)
gpugrad_dz_db(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ z,
              T* __restrict__ dz, double* __restrict__ partial, int n, int m, T slope,
              int write_dz, int want_db) {
    __shared__ double sums[8][33];
    const int col = blockIdx.x * 32 + threadIdx.x;
    double acc = 0.0;
    if (col < m) {
        for (int row = blockIdx.y * 8 + threadIdx.y; row < n; row += 8 * gridDim.y) {
            const size_t i = (size_t)row * m + col;
            const T g = dy[i] * gpugrad_dact<ACT>(y[i], z[i], slope);
            if (write_dz) dz[i] = g;
            acc += g;
        }
    }
    if (!want_db) return;
    sums[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < m) {
        double s = 0.0;
        for (int r = 0; r < 8; ++r) s += sums[r][threadIdx.x];
        partial[(size_t)blockIdx.y * m + col] = s;
    }
}

// db[col] = sum over the `rows` rows of partial (rows x m, double), rounded once to T.
// Launch: block 256, grid ceil(m / 256) (capped; columns are grid-strided).
template <typename T>
__global__ void __launch_bounds__(256)
gpugrad_sum_partials(const double* __restrict__ partial, T* __restrict__ db, int rows, int m) {
    for (int col = blockIdx.x * blockDim.x + threadIdx.x; col < m; col += blockDim.x * gridDim.x) {
        double s = 0.0;
        for (int r = 0; r < rows; ++r) s += partial[(size_t)r * m + col];
        db[col] = T(s);
    }
}

#ifdef GPUGRAD_INSTANTIATE_ALL  // the nvcc compile test: every activation, both dtypes
#define GPUGRAD_DZ_DB(ACT, T) template __global__ void gpugrad_dz_db<ACT, T>( \
    const T*, const T*, const T*, T*, double*, int, int, T, int, int);
template __global__ void gpugrad_sum_partials<float>(const double*, float*, int, int);
template __global__ void gpugrad_sum_partials<double>(const double*, double*, int, int);
#define GPUGRAD_DZ_DB_BOTH(ACT) GPUGRAD_DZ_DB(ACT, float) GPUGRAD_DZ_DB(ACT, double)
GPUGRAD_DZ_DB_BOTH(0) GPUGRAD_DZ_DB_BOTH(1) GPUGRAD_DZ_DB_BOTH(2) GPUGRAD_DZ_DB_BOTH(3)
GPUGRAD_DZ_DB_BOTH(4) GPUGRAD_DZ_DB_BOTH(5) GPUGRAD_DZ_DB_BOTH(6) GPUGRAD_DZ_DB_BOTH(7)
#endif
