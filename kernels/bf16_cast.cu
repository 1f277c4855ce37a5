// float32 (or float16 / float64) -> bfloat16 as raw bits (CuPy has no bfloat16 dtype: the bits
// live in uint16 arrays), for the bfloat16 GEMMs of autocast on CUDA (kernels/cublas_bf16.py).
// Round to nearest, ties to even, exactly as ml_dtypes casts: float32 subnormals are kept
// (not flushed), overflow goes to inf, any NaN becomes the quiet NaN 0x7fc0 with its sign.
// Only bit operations (no floating-point arithmetic), so -ftz does not change a result.

__device__ __forceinline__ unsigned short gpugrad_bf16_bits(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)                  // NaN: quiet, sign kept
        return (unsigned short)(((u >> 16) & 0x8000u) | 0x7fc0u);
    u += 0x7fffu + ((u >> 16) & 1u);                       // to nearest, ties to even
    return (unsigned short)(u >> 16);
}

__device__ __forceinline__ unsigned short gpugrad_bf16_bits(double d) {
    // one rounding: to float by truncation with a sticky last bit (round to odd keeps every
    // bit bfloat16's rounding reads), then to nearest even
    float f = __double2float_rz(d);
    unsigned int u = __float_as_uint(f);
    if (d == d && (double)f != d)
        u |= 1u;
    return gpugrad_bf16_bits(__uint_as_float(u));
}

// a float16 element read as its bits (no cuda_fp16.h needed): widened to float32 exactly
struct gpugrad_half {
    unsigned short bits;
};

__device__ __forceinline__ unsigned int gpugrad_half_to_float_bits(unsigned int h) {
    unsigned int sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu)                                        // inf, NaN (payload kept)
        return sign | 0x7f800000u | (m << 13);
    if (e != 0)                                            // normal: rebias 15 -> 127
        return sign | ((e + 112u) << 23) | (m << 13);
    if (m == 0)                                            // signed zero
        return sign;
    int shift = __clz(m) - 21;                             // subnormal: normalize m * 2^-24
    return sign | ((unsigned int)(113 - shift) << 23) | (((m << shift) & 0x3ffu) << 13);
}

__device__ __forceinline__ unsigned short gpugrad_bf16_bits(gpugrad_half h) {
    return gpugrad_bf16_bits(__uint_as_float(gpugrad_half_to_float_bits(h.bits)));
}

// bits[i] = bfloat16(x[(i / cols) * s0 + (i % cols) * s1]) for i < n: x seen as an
// (n / cols, cols) matrix with element strides (s0, s1), any sign; a contiguous x is passed as
// cols = s0 = n, s1 = 1 and read straight.  bits is contiguous.  A grid-stride loop.
template <typename T>
__global__ void gpugrad_bf16_cast(const T* __restrict__ x, unsigned short* __restrict__ bits,
                                  long long n, long long cols, long long s0, long long s1) {
    const long long step = (long long)gridDim.x * blockDim.x;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (s1 == 1 && s0 == cols) {
        for (; i < n; i += step)
            bits[i] = gpugrad_bf16_bits(x[i]);
    } else {
        for (; i < n; i += step)
            bits[i] = gpugrad_bf16_bits(x[(i / cols) * s0 + (i % cols) * s1]);
    }
}
