/* qs8-qc8w-dwconv-16x2-minmax-fp32-neon-mul8: int8 depthwise convolution for
 * NEON without the dot-product extension (dotprod has
 * qs8-qc8w-dwconv-16x4k2-minmax-fp32-neondot). Tiles of 16 channels, weights packed as
 * int8 (NRT_QS8_DW_INT8), 2 output pixels per inner step so each weight
 * vector loaded serves both.
 *
 * Exact arithmetic: SMULL / SMULL2 give the 16 int8 x int8 products in int16
 * (always exact: |x * w| <= 16384), SADDW / SADDW2 add them into 4 int32x4
 * accumulators per pixel (wrapping like the reference). The padding taps
 * point at the z_x buffer, which the folded bias expects.
 *
 * Channel tails (C % 16) load the last 1..15 bytes of each tap with zeros
 * above and store only the valid bytes: nothing past a pixel's channels is
 * read or written. */
#include <arm_neon.h>

#include "../qs8_kernels.h"
#include "qs8_requant_neon.h"

#define CW 16

typedef struct dw_acc {
    int32x4_t v[4];
} dw_acc;

NRT_ALWAYS_INLINE void mac16(dw_acc* a, int8x16_t x, int8x16_t w) {
    int16x8_t lo = vmull_s8(vget_low_s8(x), vget_low_s8(w)), hi = vmull_high_s8(x, w);
    a->v[0] = vaddw_s16(a->v[0], vget_low_s16(lo));
    a->v[1] = vaddw_high_s16(a->v[1], lo);
    a->v[2] = vaddw_s16(a->v[2], vget_low_s16(hi));
    a->v[3] = vaddw_high_s16(a->v[3], hi);
}

NRT_ALWAYS_INLINE int8x16_t requant16(const dw_acc* a, const int8_t* m, const nrt_qs8_rq_neon* q) {
    int8x8_t y0 = nrt_qs8_narrow8(nrt_qs8_requant4(a->v[0], nrt_ld_f32_bytes(m), q),
                                 nrt_qs8_requant4(a->v[1], nrt_ld_f32_bytes(m + 16), q));
    int8x8_t y1 = nrt_qs8_narrow8(nrt_qs8_requant4(a->v[2], nrt_ld_f32_bytes(m + 32), q),
                                 nrt_qs8_requant4(a->v[3], nrt_ld_f32_bytes(m + 48), q));
    return vcombine_s8(y0, y1);
}

/* P (1, 2) pixels of one channel tile at channel c0 with n channels (16: full
 * vectors; fewer: tail loads / stores). ind: pixel p's taps at ind[p * taps]. */
NRT_ALWAYS_INLINE void dw_tile(size_t taps, const void* const* ind, size_t c0, size_t n, const int8_t* wt,
                                int8_t* y, size_t y_stride, const nrt_qs8_rq_neon* q, const int P, const int FULL) {
    dw_acc acc[2];
    int32x4_t b[4];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) b[i] = nrt_ld_s32_bytes(wt + 16 * i);
#pragma GCC unroll 2
    for (int p = 0; p < P; p++)
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) acc[p].v[i] = b[i];
    const int8_t* w = wt + CW * sizeof(int32_t);
    for (size_t t = 0; t < taps; t++, w += CW) {
        int8x16_t wv = vld1q_s8(w);
#pragma GCC unroll 2
        for (int p = 0; p < P; p++) {
            const int8_t* x = (const int8_t*)ind[(size_t)p * taps + t] + c0;
            mac16(&acc[p], FULL ? vld1q_s8(x) : nrt_ld_s8_part16(x, n), wv);
        }
    }
#pragma GCC unroll 2
    for (int p = 0; p < P; p++) {
        int8x16_t yv = requant16(&acc[p], w, q);
        if (FULL) vst1q_s8(y + (size_t)p * y_stride + c0, yv);
        else nrt_st_s8_part16(y + (size_t)p * y_stride + c0, yv, n);
    }
}

NRT_ALWAYS_INLINE void dw_pixels(size_t channels, size_t taps, const void* const* ind, const int8_t* w, int8_t* y,
                                  size_t y_stride, const nrt_qs8_rq_neon* q, const int P) {
    size_t tile = CW * (2 * sizeof(int32_t) + taps); /* nrt_qs8_dwconv_tile_bytes for int8 weights */
    size_t c0 = 0;
    for (; c0 + CW <= channels; c0 += CW, w += tile) dw_tile(taps, ind, c0, CW, w, y, y_stride, q, P, 1);
    if (c0 < channels) dw_tile(taps, ind, c0, channels - c0, w, y, y_stride, q, P, 0);
}

static void qs8_dwconv_16x2_neon(size_t channels, size_t npix, size_t taps, const void* const* ind, const void* w,
                                 void* yv, size_t y_stride, const void* params) {
    int8_t* y = yv;
    nrt_qs8_rq_neon q = nrt_qs8_rq_neon_make(params);
    const int8_t* wb = w;
    size_t p = 0;
    for (; p + 2 <= npix; p += 2) dw_pixels(channels, taps, ind + p * taps, wb, y + p * y_stride, y_stride, &q, 2);
    if (p < npix) dw_pixels(channels, taps, ind + p * taps, wb, y + p * y_stride, y_stride, &q, 1);
}

const nrt_dwconv_table nrt_qs8_qc8w_dwconv_16x2_minmax_fp32_neon_mul8 = {
    .name = "qs8-qc8w-dwconv-16x2-minmax-fp32-neon-mul8", .isa = NRT_ISA_NEON, .cw = CW, .layout = NRT_QS8_DW_INT8,
    .format = &nrt_dwconv_format_qs8_qc8w, .run = qs8_dwconv_16x2_neon,
};
