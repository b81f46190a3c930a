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
 *                ConvTranspose is the exception (see below): its bias is not folded.
 *
 * Accumulators are int32 computed modulo 2^32 (two's complement wraparound):
 * the converter's ranges keep every real sum far inside int32 (|x|, |W| <= 128
 * allow 131072 products), and the wrap makes a hostile model's result defined
 * and equal on every kernel level (SIMD adds wrap) instead of undefined.
 *
 * Requantization ("fp32, round to nearest even", XNNPACK's scheme):
 *   m[c] = (float)((double)s_x * (double)s_w[c] / (double)s_y)     computed once at prepare
 *   v    = (float)acc * m[c]                                        one IEEE multiply, never fused
 *   v    = min(max(v, qmin - z_y), qmax - z_y)                      in float
 *   q    = (int32)rint(v) + z_y                                     round half to even
 * qmin/qmax are -128/127, narrowed by a fused Relu/Clip (the only fused
 * activations an int8 op accepts; others are NRT_ERR_UNSUPPORTED):
 *   qmin = clamp(z_y + rint((double)lo / s_y), -128, 127)
 *   qmax = clamp(z_y + rint((double)hi / s_y), -128, 127)
 * in double (Relu: lo = 0, hi = +inf; Clip: lo = alpha, hi = beta; an infinite
 * bound leaves -128 / 127), see nrt_requant_bounds.
 * Every step is exactly specified IEEE single arithmetic (the file is
 * compiled with -ffp-contract=off and SIMD kernels use the same operations
 * in the same order: cvtdq2ps, mulps, maxps/minps, cvtps2dq under the default
 * rounding mode, vcvtnq_s32_f32 on NEON), so every kernel level gives
 * bit-identical results.
 * Every multiplier must satisfy |m| <= 2^64 (prepare checks it with
 * nrt_requant_multiplier_ok and reports NRT_ERR_UNSUPPORTED otherwise): then
 * no product or sum below can reach inf or NaN, so clamping is always defined.
 *
 * Other int8 ops, each written as float steps with a fixed order:
 *   Add/Sub   v = m_a * (float)(a - z_a) + m_b * (float)(b - z_b)    (m_b < 0 for Sub)
 *             m_a = s_a / s_y, m_b = +-s_b / s_y; then clamp/round as above
 *             (both products rounded to float, then one float addition)
 *   Mul       v = m * (float)((a - z_a) * (b - z_b)),  m = s_a * s_b / s_y
 *   MatMul    acc = sum_k (a - z_a)(b - z_b) (exact int32), m = s_a * s_b / s_y; no bias
 *   FullyConnected  x[..., K] rows like Conv: acc[n] = B[n] + sum_k x[k] W[n,k]
 *   ConvTranspose   bias NOT folded: B[c] = round(b[c] / (s_x * s_w[c])), and
 *             acc[c] = B[c] + sum over the (input pixel, tap) pairs that reach the
 *             output of (x - z_x) * W  (the number of taps reaching an output varies
 *             at the borders, so no constant can fold z_x). Per-channel weight scales
 *             run along axis 3 (Cout/group entries); output channel c of any group
 *             uses scale[c mod (Cout/group)].
 *   AvgPool   acc = sum over the window of (x - z_x), padding taps adding 0,
 *             m = (float)((double)s_x / ((double)s_y * count)) where count is the
 *             float op's divisor for that window (count_include_pad rules; a window
 *             with no tap has acc 0 and uses count 1); GlobalAveragePool: count = H * W
 *   MaxPool   plain int8 max over the window, then clamped to [qmin, qmax];
 *             input and output parameters must be equal
 *   Rescale   v = (float)(x - z_x) * m, m = s_x / s_y; q = clamp/round as above.
 *             Used by Concat (per input) and nearest Resize when the output's
 *             parameters differ from the input's; a plain copy when they are
 *             equal (which gives the same bytes: m = 1 exactly).
 *   Resize    nearest: the float op's index map, then Rescale (or copy).
 *             linear / cubic: f = (float)(x - z_x), then the float op's separable
 *             passes on f (per-axis tap tables and weights, w[0]*f[i0] + w[1]*f[i1]
 *             + ... in tap order, axes in the float op's order), then
 *             v = t * m (m = s_x / s_y), clamp/round. tf_crop_and_resize's
 *             extrapolation has no int8 form (NRT_ERR_UNSUPPORTED).
 *   Pad       constant mode pads with z_x (real zero) when no value is given, with a
 *             float32 value quantized by the Quantize rule below, or with an int8 value
 *             taken as a code; reflect / edge / wrap copy. Parameters equal.
 *   Lut       y = table[x + 128], the 256-entry int8 table computed by the converter
 *   Softmax   output scale 1/256, zero point -128 (checked at prepare); integer-only:
 *             e[i] = T[max - x[i]] with T[d] = (uint32)rint(65536.0 * exp(-(double)s_x * d))
 *             for d = 0..255 (double, computed at prepare; T[0] = 65536), S = sum e
 *             (uint64, exact, S >= 65536), y = min(127, (e * 256 + S/2) / S - 128)
 *             (integer division), along the op's axis. (exp is the C library's; a
 *             last-bit difference between libraries changes T[d] only when
 *             65536 exp(..) lies within ~1e-16 of a half integer.)
 *   Quantize  q = clamp(rint(x / s) + z)  (IEEE float division, not a reciprocal
 *             multiply; rint in float, + z and the clamp to the output type's range
 *             in double, so int32 outputs saturate exactly); NaN gives z.
 *   Dequantize real = (float)(q - z) * s   (q - z exact in int64, one float rounding,
 *             one float multiply)
 *   DynamicFullyConnected  float x[..., K], int8 W[N,K] (zero point 0, scales s_w per
 *             row N or per tensor), float bias -> float y. Each row of x is quantized
 *             at run time to asymmetric int8 (all in float32):
 *               lo = min(0, min_k x[k]), hi = max(0, max_k x[k])
 *               s  = (hi - lo) / 255.0f; if s == 0 (all zeros, or a range below float's
 *                    resolution): s = 1, z = 0
 *               z  = clamp(rint(-128.0f - lo / s), -128, 127)
 *               q[k] = clamp(rint(x[k] * (1.0f / s)) + z, -128, 127)  (one float
 *                    multiply by the rounded reciprocal; x[k] / s, an IEEE division,
 *                    where 1.0f / s overflows: s below 2^-128)
 *             acc[n] = sum_k (q[k] - z) * W[n,k] (int32, wrapping), then
 *               y[n] = (float)acc * (s * s_w[n])  [+ bias[n]]  then the fused activation
 *             (s * s_w[n] one float multiply, then one multiply, then one add).
 *             A row holding inf or NaN, or whose hi - lo overflows, gives NaN outputs.
 *             With dynamic_per_tensor, x is quantized as one tensor the way ONNX
 *             DynamicQuantizeLinear does (ref/quant_ref.h: lo, hi over all of x,
 *             s = (hi - lo) / 255.0f (1 / 255.0f when hi == lo), z = rint(clamp(-lo / s,
 *             0, 255)) - 128, q = clamp(rint(x / s) + z, -128, 127)), every row taking s, z.
 *   DynamicConv (ops/conv_dynamic.h)  float x NHWC, int8 W OHWI with scales s_w (per output
 *             channel or per tensor) and ONE zero point z_w (onnxruntime's uint8 weights
 *             stored as int8 W - shift, z_w = -shift), float bias -> float y; group 1.
 *             x is quantized as one tensor as by dynamic_per_tensor above (s, z); each output
 *             pixel's taps form a row of K = KH x KW x C_in values in (ky, kx, c) order,
 *             padding taps reading z; the row is a DynamicFullyConnected row:
 *               v[n] = (float)acc[n] * (s * s_w[n])  [+ bias[n]],  acc[n] = sum_k (q[k] - z) W[n,k]
 *             and with z_w != 0, r = sum_k (q[k] - z) (exact), then
 *               v[n] = v[n] + (float)(-z_w * r) * (s * s_w[n])
 *             then the fused activation.
 *   DynamicLSTM (ops/rnn.c)  float X, h, c; int8 W [dirs, 4H, in] and R [dirs, 4H, H] with one
 *             scale per direction (or per tensor), zero point 0 (onnxruntime's
 *             DynamicQuantizeLSTM). Per direction: X (all steps) quantized as one tensor as by
 *             dynamic_per_tensor above, x . W^T as DynamicFullyConnected rows with bias Wb + Rb;
 *             at each step h quantized row by row (DynamicFullyConnected's row rule),
 *             h . R^T the same way without bias; then the float LSTM cell on their sum.
 *   16x8 Conv / FullyConnected (TFLite's 16x8 mode, a layer the converter moves out of int8
 *             where int8 ruins the output): x and y int16, symmetric (zero point 0, per tensor);
 *             W int8 symmetric per output channel as above; bias int64 B[c] = round(b[c] /
 *             (s_x * s_w[c])), |B| <= 2^47 (prepare checks it); padding taps read 0.
 *             acc[c] = B[c] + sum_k x[k] * W[c,k], the exact integer sum (int64: |x * W| <= 2^22,
 *             so |acc| < 2^47 + K * 2^22 < 2^53 for any K below 2^30, no wrap). Kernels sum at
 *             most 256 products in an int32 lane (<= 2^30), then add the lane to a double
 *             accumulator: every partial sum is an integer below 2^53, exact in any order.
 *             Requantization as above with z_y = 0 and the int16 range:
 *               v = (float)acc * m[c]   (acc rounded once to float: correctly rounded from the
 *                                        exact sum, e.g. double -> float)
 *               q = (int16)rint(min(max(v, qmin), qmax)),  qmin / qmax -32768 / 32767 narrowed by
 *               a fused Relu / Clip: rint(lo / s_y), rint(hi / s_y) in double, clamped.
 *             The layer's neighbours see float (Quantize to int16 before it, Dequantize after
 *             it, both by the rules below) unless they are 16-bit nodes reading its int16 codes.
 *   16-bit Add / Sub / Mul (between 16x8 layers; TFLite's 16x8 elementwise ops are likewise
 *             symmetric int16 with zero point 0): a, b, y int16, one scale each, zero point 0;
 *             the int8 rule's float steps with zero points 0 and the int16 clamp:
 *               Add/Sub v = m_a * (float)a + m_b * (float)b,  m_a = s_a / s_y, m_b = +-s_b / s_y
 *               Mul     v = m * (float)(a * b)  (the int32 product exact: |a * b| <= 2^30),
 *                       m = s_a * s_b / s_y
 *               q = (int16)rint(min(max(v, qmin), qmax)), qmin / qmax as for 16x8 layers.
 *   16-bit Lut  y = table[x + 32768], a 65536-entry int16 table the converter computes
 *             (rint(f(x * s_x) / s_y) clamped): any elementwise function or chain on int16 codes.
 *   QuantizeLinear between int8 and int16 codes (an int8 tensor read by a 16-bit node, a 16-bit
 *             result read by an int8 node): Rescale above with the output type's range
 *             (-32768..32767 for int16), no float round trip.
 * Data-movement ops (Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Slice,
 * Split, Gather, Expand, Tile, DepthToSpace, SpaceToDepth, Identity, MaxPool,
 * Pad) copy int8 values and require equal input/output parameters (Concat
 * and Resize rescale instead, see above).
 * All multipliers m are computed as (float)(double expression): once at
 * prepare, or per window for AvgPool (the same value either way).
 */
#ifndef NRT_REQUANT_H
#define NRT_REQUANT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* Multiplier from scales, computed the same way everywhere. */
static inline float nrt_requant_multiplier(double s_in, double s_w, double s_out) {
    return (float)(s_in * s_w / s_out);
}

/* |m| <= 2^64 (and not NaN): see the contract above. */
static inline bool nrt_requant_multiplier_ok(float m) {
    return fabsf(m) <= 0x1p64f;
}

/* qmin / qmax of an int8 output with parameters (s_y, z_y) after a fused
 * clamp to [lo, hi] (lo = -inf / hi = +inf: no bound). */
static inline void nrt_requant_bounds(double lo, double hi, double s_y, int32_t z_y, int32_t* qmin, int32_t* qmax) {
    double a = lo == -INFINITY ? -128.0 : (double)z_y + rint(lo / s_y);
    double b = hi == INFINITY ? 127.0 : (double)z_y + rint(hi / s_y);
    a = !(a >= -128.0) ? -128.0 : (a > 127.0 ? 127.0 : a); /* NaN (a NaN bound) -> no bound */
    b = !(b <= 127.0) ? 127.0 : (b < -128.0 ? -128.0 : b);
    *qmin = (int32_t)a;
    *qmax = (int32_t)b;
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

/* acc + x * w modulo 2^32 (the contract's wrapping accumulator). */
static inline int32_t nrt_mac_wrap(int32_t acc, int32_t x, int32_t w) {
    return (int32_t)((uint32_t)acc + (uint32_t)x * (uint32_t)w);
}

#endif
