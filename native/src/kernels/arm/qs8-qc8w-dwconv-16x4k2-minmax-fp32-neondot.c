/* qs8-qc8w-dwconv-16x4k2-minmax-fp32-neondot: int8 depthwise convolution on
 * the ARMv8.2 dot-product extension, 16 channels x up to 4 output pixels per
 * inner step, two taps per SDOT lane.
 *
 * Two taps' 16 input codes zipped bytewise (ZIP1 / ZIP2) give int32 lanes
 * (x_a[c], x_b[c], x_a[c+1], x_b[c+1]) for even c; SDOT of such a lane with
 * (w_a[c], w_b[c], 0, 0) adds channel c's two products, with (0, 0,
 * w_a[c+1], w_b[c+1]) channel c+1's (NRT_QS8_DW_SDOT_TAP_PAIRS,
 * qs8_kernels.h): 4 SDOT per two taps of 16 channels, where widening
 * multiplies took 2 SMULL + 4 SADDW per tap. SDOT is signed x signed, so the
 * sums are exactly the reference's (wrapping modulo 2^32), with no offset.
 * The four accumulators hold channels (0 2 4 6), (1 3 5 7), (8 10 12 14),
 * (9 11 13 15); one table lookup restores the order after narrowing.
 *
 * Channel tails (C % 16) load the last 1..15 bytes of each tap with zeros
 * above and store only the valid bytes: nothing past a pixel's channels is
 * read or written. The taps come through the driver's pointers only.
 *
 * The dot-product instructions are enabled for this file's functions as in
 * qs8-qc8w-gemm-8x8c4-minmax-fp32-neondot.c (no per-file -march). */
#include <stdint.h>
#include <string.h>

#include "../qs8_kernels.h"

#if defined(__clang__) && !defined(__ARM_FEATURE_DOTPROD)
#define __ARM_FEATURE_DOTPROD 1
#pragma clang attribute push(__attribute__((target(NRT_ISA_TARGET_DOTPROD))), apply_to = function)
#define NRT_CLANG_DOTPROD_REGION
#elif !defined(__ARM_FEATURE_DOTPROD) && defined(__GNUC__)
#define NRT_PRAGMA(text) _Pragma(#text)
#define NRT_TARGET_PRAGMA(level_target) NRT_PRAGMA(GCC target(level_target))
NRT_TARGET_PRAGMA(NRT_ISA_TARGET_DOTPROD)
#endif
#include <arm_neon.h>

#include "qs8_requant_neon.h"

#define CW 16
#define PIX 4

/* P pixels of one channel tile at channel c0 with n channels (16: full
 * vectors; fewer: tail loads / stores). ind: pixel p's taps at ind[p * taps]. */
NRT_ALWAYS_INLINE void dw_tile(size_t taps, const void* const* ind, size_t c0, size_t n, const int8_t* wt,
                               int8_t* y, size_t y_stride, const nrt_qs8_rq_neon* q, const int P, const int FULL) {
    int32x4_t acc[PIX][4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        int32x4_t b = nrt_ld_s32_bytes(wt + 16 * k);
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) acc[p][k] = b;
    }
    const int8_t* w = wt + CW * sizeof(int32_t);
    for (size_t t = 0; t < taps; t += 2, w += 4 * CW) {
        int8x16_t w0 = vld1q_s8(w), w1 = vld1q_s8(w + 16), w2 = vld1q_s8(w + 32), w3 = vld1q_s8(w + 48);
        size_t tb = t + 1 < taps ? t + 1 : t; /* an odd count's last tap: its pair's weights are 0 */
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            const int8_t* xa = (const int8_t*)ind[(size_t)p * taps + t] + c0;
            const int8_t* xb = (const int8_t*)ind[(size_t)p * taps + tb] + c0;
            int8x16_t a = FULL ? vld1q_s8(xa) : nrt_ld_s8_part16(xa, n);
            int8x16_t b = FULL ? vld1q_s8(xb) : nrt_ld_s8_part16(xb, n);
            int8x16_t lo = vzip1q_s8(a, b), hi = vzip2q_s8(a, b);
            acc[p][0] = vdotq_s32(acc[p][0], lo, w0);
            acc[p][1] = vdotq_s32(acc[p][1], lo, w1);
            acc[p][2] = vdotq_s32(acc[p][2], hi, w2);
            acc[p][3] = vdotq_s32(acc[p][3], hi, w3);
        }
    }
    const uint8x16_t order = {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15};
    float32x4_t m[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) m[k] = nrt_ld_f32_bytes(w + 16 * k);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        int8x8_t y0 = nrt_qs8_narrow8(nrt_qs8_requant4(acc[p][0], m[0], q), nrt_qs8_requant4(acc[p][1], m[1], q));
        int8x8_t y1 = nrt_qs8_narrow8(nrt_qs8_requant4(acc[p][2], m[2], q), nrt_qs8_requant4(acc[p][3], m[3], q));
        int8x16_t yv = vqtbl1q_s8(vcombine_s8(y0, y1), order);
        if (FULL) vst1q_s8(y + (size_t)p * y_stride + c0, yv);
        else nrt_st_s8_part16(y + (size_t)p * y_stride + c0, yv, n);
    }
}

NRT_ALWAYS_INLINE void dw_pixels(size_t channels, size_t taps, const void* const* ind, const int8_t* w, int8_t* y,
                                 size_t y_stride, const nrt_qs8_rq_neon* q, const int P) {
    size_t tile = CW * (2 * sizeof(int32_t) + (taps + 1) / 2 * 4); /* tap pairs of 4 bytes per channel */
    size_t c0 = 0;
    for (; c0 + CW <= channels; c0 += CW, w += tile) dw_tile(taps, ind, c0, CW, w, y, y_stride, q, P, 1);
    if (c0 < channels) dw_tile(taps, ind, c0, channels - c0, w, y, y_stride, q, P, 0);
}

static void qs8_dwconv_16x4k2_neondot(size_t channels, size_t npix, size_t taps, const void* const* ind,
                                      const void* w, void* yv, size_t y_stride, const void* params) {
    int8_t* y = yv;
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(params);
    const int8_t* wb = w;
    size_t p = 0;
    for (; p + PIX <= npix; p += PIX)
        dw_pixels(channels, taps, ind + p * taps, wb, y + p * y_stride, y_stride, &q, PIX);
    for (; p < npix; p++) dw_pixels(channels, taps, ind + p * taps, wb, y + p * y_stride, y_stride, &q, 1);
}

const nrt_dwconv_table nrt_qs8_qc8w_dwconv_16x4k2_minmax_fp32_neondot = {
    .name = "qs8-qc8w-dwconv-16x4k2-minmax-fp32-neondot", .isa = NRT_ISA_DOTPROD, .cw = CW,
    .layout = NRT_QS8_DW_SDOT_TAP_PAIRS, .format = &nrt_dwconv_format_qs8_qc8w, .run = qs8_dwconv_16x4k2_neondot,
};

#ifdef NRT_CLANG_DOTPROD_REGION
#pragma clang attribute pop
#endif
