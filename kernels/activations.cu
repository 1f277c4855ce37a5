// Activation functions shared by gpugrad's CUDA kernels (the preamble of the CuPy elementwise
// kernels, and #included by the RawModule sources). ACT is the activation's index in
// gpugrad.kernels.ACTIVATIONS; it is a template parameter, so each kernel is compiled for one
// activation and the other branches fold away. Arithmetic is done in T (float or double).
#ifndef GPUGRAD_ACTIVATIONS_CU
#define GPUGRAD_ACTIVATIONS_CU

#define GPUGRAD_IDENTITY 0
#define GPUGRAD_RELU 1
#define GPUGRAD_LEAKY_RELU 2
#define GPUGRAD_GELU 3
#define GPUGRAD_GELU_TANH 4
#define GPUGRAD_SILU 5
#define GPUGRAD_SIGMOID 6
#define GPUGRAD_TANH 7

__device__ __forceinline__ float gpugrad_exp(float v) { return expf(v); }
__device__ __forceinline__ double gpugrad_exp(double v) { return exp(v); }
__device__ __forceinline__ float gpugrad_erf(float v) { return erff(v); }
__device__ __forceinline__ double gpugrad_erf(double v) { return erf(v); }
__device__ __forceinline__ float gpugrad_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double gpugrad_sqrt(double v) { return sqrt(v); }
__device__ __forceinline__ float gpugrad_tanh(float v) { return tanhf(v); }
__device__ __forceinline__ double gpugrad_tanh(double v) { return tanh(v); }

template <typename T>
__device__ __forceinline__ T gpugrad_sigmoid(T v) { return T(1) / (T(1) + gpugrad_exp(-v)); }

// y = act(v)
template <int ACT, typename T>
__device__ __forceinline__ T gpugrad_act(T v, T slope) {
    const T sqrt_half = T(0.70710678118654752440), k = T(0.79788456080286535588);
    if (ACT == GPUGRAD_RELU) return v < T(0) ? T(0) : v;
    if (ACT == GPUGRAD_LEAKY_RELU) return v < T(0) ? v * slope : v;
    if (ACT == GPUGRAD_GELU) return T(0.5) * v * (T(1) + gpugrad_erf(v * sqrt_half));
    if (ACT == GPUGRAD_GELU_TANH)
        return T(0.5) * v * (T(1) + gpugrad_tanh(k * (v + T(0.044715) * v * v * v)));
    if (ACT == GPUGRAD_SILU) return v * gpugrad_sigmoid(v);
    if (ACT == GPUGRAD_SIGMOID) return gpugrad_sigmoid(v);
    if (ACT == GPUGRAD_TANH) return gpugrad_tanh(v);
    return v;
}

// act'(.) from the output y (relu, leaky_relu, sigmoid, tanh) or the pre-activation z
template <int ACT, typename T>
__device__ __forceinline__ T gpugrad_dact(T y, T z, T slope) {
    const T sqrt_half = T(0.70710678118654752440), k = T(0.79788456080286535588);
    if (ACT == GPUGRAD_RELU) return y > T(0) ? T(1) : T(0);
    if (ACT == GPUGRAD_LEAKY_RELU) return y > T(0) ? T(1) : slope;
    if (ACT == GPUGRAD_SIGMOID) return y * (T(1) - y);
    if (ACT == GPUGRAD_TANH) return T(1) - y * y;
    if (ACT == GPUGRAD_GELU)
        return T(0.5) * (T(1) + gpugrad_erf(z * sqrt_half))
               + z * T(0.39894228040143267794) * gpugrad_exp(T(-0.5) * z * z);
    if (ACT == GPUGRAD_GELU_TANH) {
        const T t = gpugrad_tanh(k * (z + T(0.044715) * z * z * z));
        return T(0.5) * (T(1) + t) + T(0.5) * z * (T(1) - t * t) * k * (T(1) + T(0.134145) * z * z);
    }
    if (ACT == GPUGRAD_SILU) {
        const T s = gpugrad_sigmoid(z);
        return s * (T(1) + z * (T(1) - s));
    }
    return T(1);
}

#endif  // GPUGRAD_ACTIVATIONS_CU
