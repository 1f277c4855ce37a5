// Softmax cross-entropy forward over integer targets, one block per row (grid-strided over
// rows), in one launch: the row's max, the shifted sum of exponentials, the probabilities, the
// per-row loss, and the target check. It computes exactly what gpugrad/ops/logits.py's array
// path computes (CrossEntropy.forward with max_shifted):
//   s_j = (x_j == m && isinf(m)) ? 0 : x_j - m,   m = max_j x_j (NaN if any x_j is NaN)
//   se = sum_j exp(s_j), but NaN where m is +inf and se > 1: then se counts the entries tied
//        at +inf exactly (each exp(0) = 1, every other exp(-inf) = 0), and two or more tied
//        at +inf have no limit -- the row's probabilities, loss and gradient are NaN, as
//        max_shifted's (which keeps inf - inf there)
//   lse = log(se),  p_j = exp(s_j) / se
//   loss = 0 for t == ignore_index; NaN for a target outside [0, C) (and the check's status is
//   set); else -(1 - eps) (s_t - lse) - (eps / C) (sum_j s_j - C lse)   (eps: label smoothing)
// Outputs: probs (n x c), loss (n), safe_t (n: the target, or 0 where ignored or bad), valid (n:
// 1 where the row counts in the mean, 0 where ignored, NaN where the target is bad -- so the
// mean and every gradient the backward weights by it are NaN, never a number to train on).
// status[0] becomes 1 and status[1] a bad target value when any target is out of range; it is
// read at the next synchronization.
// Launch: block 256 threads (a power of two), grid min(n, 2^20) (rows are grid-strided);
// n, c < 2^31.

template <typename T> __device__ __forceinline__ T gpugrad_ce_exp(T v);
template <> __device__ __forceinline__ float gpugrad_ce_exp<float>(float v) { return expf(v); }
template <> __device__ __forceinline__ double gpugrad_ce_exp<double>(double v) { return exp(v); }
template <typename T> __device__ __forceinline__ T gpugrad_ce_log(T v);
template <> __device__ __forceinline__ float gpugrad_ce_log<float>(float v) { return logf(v); }
template <> __device__ __forceinline__ double gpugrad_ce_log<double>(double v) { return log(v); }

// infinity and NaN without math.h's macros (NVRTC has no host headers)
template <typename T> __device__ __forceinline__ T gpugrad_ce_inf();
template <> __device__ __forceinline__ float gpugrad_ce_inf<float>() { return __int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double gpugrad_ce_inf<double>() {
    return __longlong_as_double(0x7ff0000000000000LL);
}
template <typename T> __device__ __forceinline__ T gpugrad_ce_nan();
template <> __device__ __forceinline__ float gpugrad_ce_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double gpugrad_ce_nan<double>() {
    return __longlong_as_double(0x7ff8000000000000LL);
}

template <typename T>
__device__ __forceinline__ T gpugrad_ce_shift(T x, T m) {
    return (x == m && isinf(m)) ? T(0) : x - m;
}

template <typename T>
__global__ void __launch_bounds__(256)
gpugrad_cross_entropy_fwd(const T* __restrict__ logits, const long long* __restrict__ target,
                          T* __restrict__ probs, T* __restrict__ loss,
                          long long* __restrict__ safe_t, T* __restrict__ valid,
                          unsigned long long* __restrict__ status, int n, int c,
                          long long ignore_index, T eps) {
    __shared__ T red_a[256];
    __shared__ T red_b[256];
    const int tid = threadIdx.x;
    for (long long row = blockIdx.x; row < n; row += gridDim.x) {  // no int overflow near 2^31
        const T* x = logits + (size_t)row * c;
        T* p = probs + (size_t)row * c;
        // max, NaN-propagating (a NaN anywhere makes the row's results NaN, as NumPy's max)
        T m = -gpugrad_ce_inf<T>();
        for (int j = tid; j < c; j += blockDim.x) {
            const T v = x[j];
            if (v > m || isnan(v)) m = isnan(m) ? m : v;
        }
        red_a[tid] = m;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (tid < s) {
                const T o = red_a[tid + s];
                if (o > red_a[tid] || isnan(o)) red_a[tid] = isnan(red_a[tid]) ? red_a[tid] : o;
            }
            __syncthreads();
        }
        m = red_a[0];
        __syncthreads();
        // sum of exp(s) and of s
        T se = T(0), ss = T(0);
        for (int j = tid; j < c; j += blockDim.x) {
            const T sj = gpugrad_ce_shift(x[j], m);
            const T e = gpugrad_ce_exp(sj);
            p[j] = e;
            se += e;
            ss += sj;
        }
        red_a[tid] = se;
        red_b[tid] = ss;
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
            if (tid < s) {
                red_a[tid] += red_a[tid + s];
                red_b[tid] += red_b[tid + s];
            }
            __syncthreads();
        }
        se = red_a[0];
        ss = red_b[0];
        __syncthreads();
        if (m == gpugrad_ce_inf<T>() && se > T(1)) se = gpugrad_ce_nan<T>();  // tied at +inf
        const T inv = T(1) / se;
        for (int j = tid; j < c; j += blockDim.x) p[j] *= inv;
        if (tid == 0) {
            const long long t = target[row];
            const bool counted = t != ignore_index;
            const bool bad = counted && (t < 0 || t >= c);
            if (bad && atomicCAS(status, 0ULL, 1ULL) == 0ULL)
                status[1] = (unsigned long long)t;
            const T lse = gpugrad_ce_log(se);
            T l = T(0);
            if (bad) {
                l = gpugrad_ce_nan<T>();
            } else if (counted) {
                const T picked = gpugrad_ce_shift(x[t], m) - lse;
                l = eps == T(0) ? -picked
                                : -(T(1) - eps) * picked - (eps / T(c)) * (ss - T(c) * lse);
            }
            loss[row] = l;
            safe_t[row] = (counted && !bad) ? t : 0;
            valid[row] = bad ? gpugrad_ce_nan<T>() : counted ? T(1) : T(0);   // NaN: poisons w
        }
    }
}

#ifdef GPUGRAD_INSTANTIATE_ALL  // the nvcc compile test
template __global__ void gpugrad_cross_entropy_fwd<float>(const float*, const long long*, float*,
    float*, long long*, float*, unsigned long long*, int, int, long long, float);
template __global__ void gpugrad_cross_entropy_fwd<double>(const double*, const long long*,
    double*, double*, long long*, double*, unsigned long long*, int, int, long long, double);
#endif
