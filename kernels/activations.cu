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
__device__ __forceinline__ float gpugrad_erfc(float v) { return erfcf(v); }
__device__ __forceinline__ double gpugrad_erfc(double v) { return erfc(v); }
__device__ __forceinline__ float gpugrad_fma(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double gpugrad_fma(double a, double b, double c) { return fma(a, b, c); }
__device__ __forceinline__ float gpugrad_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double gpugrad_sqrt(double v) { return sqrt(v); }
__device__ __forceinline__ float gpugrad_tanh(float v) { return tanhf(v); }
__device__ __forceinline__ double gpugrad_tanh(double v) { return tanh(v); }

template <typename T>
__device__ __forceinline__ T gpugrad_sigmoid(T v) { return T(1) / (T(1) + gpugrad_exp(-v)); }

// Phi(v) = erfc(-v / sqrt 2) / 2, to full relative precision in the lower tail (gelu's v Phi(v)
// as 0.5 v (1 + erf(v / sqrt 2)) cancels for v < 0). The argument -v / sqrt 2 is carried as
// x + e: x = -v * hi rounded, e its exact rounding error (fma) plus -v * lo, with hi + lo =
// 1/sqrt 2; then erfc(x + e) = erfc(x) - e 2/sqrt(pi) exp(-x^2) (plain erfc(x) is off by ~v^2
// ulps, the rounding of x amplified). hi is float(1/sqrt 2) for both T.
template <typename T>
__device__ __forceinline__ T gpugrad_normal_cdf(T v) {
    const T hi = T(0.70710676908493041992), lo = T(1.210161710447897e-08);
    const T x = -v * hi;
    const T e = gpugrad_fma(-v, hi, -x) - v * lo;
    const T c = gpugrad_erfc(x) - e * T(1.12837916709551257390) * gpugrad_exp(-x * x);
    return T(0.5) * (e == e ? c : gpugrad_erfc(x));  // |v| inf: e is nan, erfc(x) the limit
}

// (sigmoid(w), sigmoid(-w)) without overflow, and without 1 - sigmoid(w) cancelling
template <typename T>
__device__ __forceinline__ void gpugrad_sigmoid_pair(T w, T &s, T &rest) {
    const T e = gpugrad_exp(-fabs(w)), d = T(1) / (T(1) + e);
    s = w >= T(0) ? d : e * d;
    rest = w >= T(0) ? e * d : d;
}

// y = act(v)
template <int ACT, typename T>
__device__ __forceinline__ T gpugrad_act(T v, T slope) {
    const T k = T(0.79788456080286535588);
    if (ACT == GPUGRAD_RELU) return v < T(0) ? T(0) : v;
    if (ACT == GPUGRAD_LEAKY_RELU) return v < T(0) ? v * slope : v;
    // gelu: v Phi(v); gelu_tanh: v (1 + tanh u) / 2 = v sigmoid(2u), u = k (v + 0.044715 v^3).
    // Neither cancels for v < 0; -0 where Phi or the sigmoid is 0 (v = -inf too: v * 0 is nan).
    if (ACT == GPUGRAD_GELU) {
        const T c = gpugrad_normal_cdf(v);
        return c == T(0) ? T(-0.0) : v * c;
    }
    if (ACT == GPUGRAD_GELU_TANH) {
        T s, rest;
        gpugrad_sigmoid_pair(T(2) * k * (v + T(0.044715) * v * v * v), s, rest);
        return s == T(0) ? T(-0.0) : v * s;
    }
    if (ACT == GPUGRAD_SILU) return v * gpugrad_sigmoid(v);
    if (ACT == GPUGRAD_SIGMOID) return gpugrad_sigmoid(v);
    if (ACT == GPUGRAD_TANH) return gpugrad_tanh(v);
    return v;
}

// act'(.) from the output y (relu, leaky_relu, sigmoid, tanh) or the pre-activation z
template <int ACT, typename T>
__device__ __forceinline__ T gpugrad_dact(T y, T z, T slope) {
    const T k = T(0.79788456080286535588);
    if (ACT == GPUGRAD_RELU) return y > T(0) ? T(1) : T(0);
    if (ACT == GPUGRAD_LEAKY_RELU) return y > T(0) ? T(1) : slope;
    if (ACT == GPUGRAD_SIGMOID) return y * (T(1) - y);
    if (ACT == GPUGRAD_TANH) return T(1) - y * y;
    // gelu: Phi(z) + z phi(z); gelu_tanh: s + 2 z s (1 - s) k (1 + 3 0.044715 z^2), s =
    // sigmoid(2u), 1 - s = sigmoid(-2u). The z * (...) term is 0 where its factor is 0 (its limit
    // at z = +-inf, where z * 0 is nan).
    if (ACT == GPUGRAD_GELU) {
        const T pdf = T(0.39894228040143267794) * gpugrad_exp(T(-0.5) * z * z);
        return gpugrad_normal_cdf(z) + (pdf == T(0) ? T(0) : z * pdf);
    }
    if (ACT == GPUGRAD_GELU_TANH) {
        T s, rest;
        gpugrad_sigmoid_pair(T(2) * k * (z + T(0.044715) * z * z * z), s, rest);
        const T r = s * rest;
        return r == T(0) ? s : s + T(2) * k * z * r * (T(1) + T(0.134145) * z * z);
    }
    if (ACT == GPUGRAD_SILU) {
        const T s = gpugrad_sigmoid(z);
        return s * (T(1) + z * (T(1) - s));
    }
    return T(1);
}

#endif  // GPUGRAD_ACTIVATIONS_CU
