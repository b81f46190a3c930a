/* 16x8: int16 activations (symmetric, zero point 0) with int8 per-channel
 * weights, TFLite's 16x8 scheme, written down in kernels/requant.h. A layer
 * the converter moves from int8 to 16 bits reads and writes int16 tensors;
 * its Conv / FullyConnected runs on the level's qs16 GEMM table through the
 * one GEMM / conv driver (gemm.h, conv.h).
 *
 * Packed panel of nrt_gemm_format_qs16_qc8w (kr = 2, kcb = ceil(kc / 2)):
 *   double bias[nr]                the int64 bias, exact (|B| <= NRT_QS16_MAX_BIAS)
 *   int16  w[ks][kcb][nr][2]       the int8 weights widened; 0 past kc and past the last column
 *   float  m[nr]                   requantization multipliers
 * (a double bias keeps the panel free of int64 -> double conversions, which
 * AVX2 lacks, and every partial sum exact: see NRT_QS16_K_BLOCK). */
#ifndef NRT_QS16_KERNELS_H
#define NRT_QS16_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "dwconv.h"
#include "gemm.h"

/* Kernels accumulate at most this many products in an int32 lane, then add
 * the lane to a double accumulator: |x * w| <= 2^15 * 2^7, so a block sums to
 * at most 2^30 (no int32 overflow), and every double partial sum is an
 * integer below |B| + K * 2^22 < 2^53 (K < 2^30): exact in any order, so
 * every level gives the reference's int64 sum. */
#define NRT_QS16_K_BLOCK 256
/* The largest |bias| a 16x8 layer accepts (prepare checks it). */
#define NRT_QS16_MAX_BIAS 0x1p47

/* The output side: the clamp [qmin, qmax] as floats (zero point 0). */
typedef struct nrt_qs16_requant {
    float lo, hi;
} nrt_qs16_requant;

/* requant.h's rule with zero point 0 and an int16 range. After the clamp
 * |v| <= 2^15, so adding and subtracting 1.5 x 2^23 rounds it to the nearest
 * integer, ties to even (the sum lies where floats are 1 apart): rintf's
 * result under the default rounding mode, without a libm call where the
 * baseline ISA has no rounding instruction. */
static inline int16_t nrt_qs16_requantize(int64_t acc, float m, const nrt_qs16_requant* rq) {
    float v = (float)acc * m;
    v = v < rq->lo ? rq->lo : (v > rq->hi ? rq->hi : v);
    float shifted = v + 0x1.8p23f; /* (IEEE arithmetic, no -ffast-math: nothing reassociates the pair) */
    return (int16_t)(int32_t)(shifted - 0x1.8p23f);
}

/* The same for a float value already scaled (the 16-bit Add / Sub / Mul). */
static inline int16_t nrt_qs16_requantize_float(float v, const nrt_qs16_requant* rq) {
    v = v < rq->lo ? rq->lo : (v > rq->hi ? rq->hi : v);
    float shifted = v + 0x1.8p23f;
    return (int16_t)(int32_t)(shifted - 0x1.8p23f);
}

extern const nrt_gemm_format nrt_gemm_format_qs16_qc8w;

/* 16x8 depthwise tile of nrt_dwconv_format_qs16_qc8w (dwconv.h), cw a
 * multiple of 8, every per-channel array in slot order:
 *   double bias[cw]                   the int64 bias, exact
 *   int16  w[ceil(taps / 2)][cw][2]   a pair of consecutive taps' weights per
 *                                     slot (0 past the last tap and channel)
 *   float  m[cw]
 * Slot s of half k = s / (cw / 2), i = s % (cw / 2) holds channel
 * 8 (i / 4) + 4 k + i % 4: the order in which interleaving two taps' int16
 * codes (x86 unpacklo / unpackhi_epi16 within 128-bit lanes) puts the
 * channels into two vectors of int32 lanes, each lane one channel's pair of
 * taps; packing two such vectors back to int16 (packs_epi32) restores the
 * channel order. For cw = 8 it is the identity. Every tap's products sum in
 * an int32 lane: at most NRT_CONV_MAX_TAPS (128) of |x * w| <= 2^22, below
 * 2^30; then + the bias in double, exact. */
extern const nrt_dwconv_format nrt_dwconv_format_qs16_qc8w;

static inline size_t nrt_qs16_dw_slot_channel(size_t cw, size_t s) {
    size_t i = s % (cw / 2);
    return 8 * (i / 4) + 4 * (s / (cw / 2)) + i % 4;
}

/* The glue around a 16x8 layer (requant.h's Quantize / Dequantize rules for
 * int16 with zero point 0 and one scale, as nrt_quantize_ref /
 * nrt_dequantize_ref): y[i] = clamp(rint(x[i] / s), -32768, 32767) (IEEE
 * division, NaN -> 0), and y[i] = (float)x[i] * s. */
typedef void (*nrt_qs16_quantize_ukernel)(size_t n, const float* x, float s, int16_t* y);
typedef void (*nrt_qs16_dequantize_ukernel)(size_t n, const int16_t* x, float s, float* y);

#endif
