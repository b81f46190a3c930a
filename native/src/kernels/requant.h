/* nanort's integer arithmetic: the one rule every int8 kernel follows.
 *
 * Quantized tensors: real = scale * (q - zero_point).
 *   activations  int8, one (scale, zero_point) per tensor;
 *   weights      int8, symmetric (zero_point 0), one scale per output channel
 *                (Conv OHWI: axis 0; ConvTranspose [Cin,kH,kW,Cout/g]: axis 3;
 *                FullyConnected W[N,K]: axis 0) or one per tensor;
 *   bias         int32, "folded": B[c] = round(b[c] / (s_x * s_w[c])) - z_x * sum_k W[c,k],
 *                computed by the converter, so a kernel's accumulator is
 *                acc[c] = B[c] + sum_k x[k] * W[c,k]   (exact int32),
 *                with padding taps reading x = z_x (real zero).
 *
 * Requantization ("fp32, round to nearest even", XNNPACK's scheme):
 *   m[c] = (float)((double)s_x * (double)s_w[c] / (double)s_y)     computed once at prepare
 *   v    = (float)acc * m[c]                                        one IEEE multiply, never fused
 *   v    = min(max(v, qmin - z_y), qmax - z_y)                      in float
 *   q    = (int32)rint(v) + z_y                                     round half to even
 * qmin/qmax are -128/127, narrowed by a fused Relu/Clip:
 *   qmin = max(-128, z_y + rint(lo / s_y)), qmax = min(127, z_y + rint(hi / s_y)).
 * Every step is exactly specified IEEE single arithmetic (the file is
 * compiled with -ffp-contract=off and SIMD kernels use the same operations
 * in the same order: cvtdq2ps, mulps, maxps/minps, cvtps2dq under the default
 * rounding mode, vcvtnq_s32_f32 on NEON), so every kernel level gives
 * bit-identical results.
 *
 * Other int8 ops, each written as float steps with a fixed order:
 *   Add/Sub   v = m_a * (float)(a - z_a) + m_b * (float)(b - z_b)    (m_b < 0 for Sub)
 *             m_a = s_a / s_y, m_b = +-s_b / s_y; then clamp/round as above
 *   Mul       v = m * (float)((a - z_a) * (b - z_b)),  m = s_a * s_b / s_y
 *   MatMul    acc = sum_k (a - z_a)(b - z_b) (exact int32), m = s_a * s_b / s_y
 *   AvgPool   acc = sum over the window of (x - z_x), m = s_x / (s_y * count)
 *   Concat    per input, v = (float)(x - z_x) * (s_x / s_y)  (plain copy when params are equal)
 *   Lut       y = table[x + 128], the 256-entry int8 table computed by the converter
 *   Softmax   output scale 1/256, zero point -128; integer-only:
 *             e[i] = T[max - x[i]] with T[d] = round(2^16 * exp(-s_x * d)) (uint32, computed
 *             at prepare), S = sum e (uint64, exact), y = min(127, (e * 256 + S/2) / S - 128)
 *   Quantize  q = clamp(rint(x / s) + z)  (IEEE division, not a reciprocal multiply)
 *   Dequantize real = (float)(q - z) * s
 * Data-movement ops (Reshape, Transpose, Slice, MaxPool, nearest Resize, Pad
 * with z_x, ...) copy int8 values and require equal input/output parameters.
 * All multipliers m are computed as (float)(double expression) once at prepare.
 */
#ifndef NRT_REQUANT_H
#define NRT_REQUANT_H

#include <math.h>
#include <stdint.h>

/* Multiplier from scales, computed the same way everywhere. */
static inline float nrt_requant_multiplier(double s_in, double s_w, double s_out) {
    return (float)(s_in * s_w / s_out);
}

/* The requantization step for one value; SIMD kernels do the same operations. */
static inline int8_t nrt_requantize(int32_t acc, float m, int32_t zero_point, int32_t qmin, int32_t qmax) {
    float v = (float)acc * m;
    float lo = (float)(qmin - zero_point), hi = (float)(qmax - zero_point);
    v = v < lo ? lo : (v > hi ? hi : v);
    return (int8_t)((int32_t)rintf(v) + zero_point);
}

/* The same for a float value already scaled (Add, Mul, Concat, AvgPool ...). */
static inline int8_t nrt_requantize_float(float v, int32_t zero_point, int32_t qmin, int32_t qmax) {
    float lo = (float)(qmin - zero_point), hi = (float)(qmax - zero_point);
    v = v < lo ? lo : (v > hi ? hi : v);
    return (int8_t)((int32_t)rintf(v) + zero_point);
}

#endif
