/* f32-dwconv-8x4-neon: depthwise convolution on NHWC, 8 channels (2
 * vectors) x 4 output pixels per inner step: each weight vector is loaded
 * once for the 4 pixels, 8 accumulators initialized from the bias, the
 * activation applied on the registers before the store. Interface:
 * f32_kernels.h.
 *
 * Channel tails: the packed weights are zero-padded to 8, the input is not,
 * so a tile with fewer than 8 channels left runs one full vector if 4 are
 * left and then the last 1..3 channels with lane loads / stores (never a
 * read past the last channel of a pixel). */
#include <arm_neon.h>

#include "../f32_kernels.h"
#include "f32_act_neon.h"

#define CW 8
#define PIX 4

/* P (1..PIX) pixels x NV (1, 2) vectors of channels; `part` (1..3): one
 * vector of `part` lanes instead (PART = 1). x, wt, y point at the first
 * channel of the step; taps are CW floats apart in wt. */
NRT_NEON_INLINE void dw_pixels(const nrt_f32_dwconv_args* g, const float* x, const float* wt, size_t ky0, size_t ky1,
                               size_t kx0, size_t kx1, float* y, size_t part, const int P, const int NV,
                               const int PART) {
    float32x4_t acc[PIX][2];
    float32x4_t b0 = vld1q_f32(wt), b1 = b0;
    if (NV > 1) b1 = vld1q_f32(wt + 4);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        acc[p][0] = b0;
        acc[p][1] = b1;
    }
    for (size_t ky = ky0; ky < ky1; ky++) {
        const float* xr = x + (ky - ky0) * g->x_tap_row;
        const float* wr = wt + CW * (1 + ky * g->kw);
        for (size_t kx = kx0; kx < kx1; kx++) {
            float32x4_t w0 = vld1q_f32(wr + CW * kx), w1 = w0;
            if (NV > 1) w1 = vld1q_f32(wr + CW * kx + 4);
            const float* xp = xr + (kx - kx0) * g->x_tap_col;
#pragma GCC unroll 4
            for (int p = 0; p < P; p++) {
                const float* xq = xp + (size_t)p * g->x_pixel;
                float32x4_t x0 = PART ? nrt_ld_part_f32(xq, part) : vld1q_f32(xq);
                acc[p][0] = vfmaq_f32(acc[p][0], x0, w0);
                if (NV > 1) acc[p][1] = vfmaq_f32(acc[p][1], vld1q_f32(xq + 4), w1);
            }
        }
    }
    const nrt_activation* act = g->act;
    bool simd_act = nrt_f32_act_simd_neon(act->kind);
    size_t n = PART ? part : (size_t)(4 * NV);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        float* yp = y + (size_t)p * g->channels;
        float32x4_t v0 = acc[p][0], v1 = acc[p][1];
        if (simd_act && act->kind != NRT_ACT_NONE) {
            v0 = nrt_act_neon(v0, act);
            if (NV > 1) v1 = nrt_act_neon(v1, act);
        }
        if (PART) {
            nrt_st_part_f32(yp, v0, part);
        } else {
            vst1q_f32(yp, v0);
            if (NV > 1) vst1q_f32(yp + 4, v1);
        }
    }
    for (int p = 0; !simd_act && p < P; p++) {
        float* yp = y + (size_t)p * g->channels;
        for (size_t j = 0; j < n; j++) yp[j] = nrt_activation_apply(act, yp[j]);
    }
}

/* One channel step of `pixels` (<= PIX) pixels: the full width, 4 channels, or a 1..3 lane tail. */
NRT_NEON_INLINE void dw_step(const nrt_f32_dwconv_args* g, size_t pixels, const float* x, const float* wt,
                             size_t ky0, size_t ky1, size_t kx0, size_t kx1, float* y, const int NV, const int PART,
                             size_t part) {
    if (pixels == PIX) {
        dw_pixels(g, x, wt, ky0, ky1, kx0, kx1, y, part, PIX, NV, PART);
        return;
    }
    for (size_t q = 0; q < pixels; q++)
        dw_pixels(g, x + q * g->x_pixel, wt, ky0, ky1, kx0, kx1, y + q * g->channels, part, 1, NV, PART);
}

static void f32_dwconv_8x4_neon(const nrt_f32_dwconv_args* g, size_t npix, const float* x, size_t ky0, size_t ky1,
                                size_t kx0, size_t kx1, float* y) {
    size_t tile = CW * (1 + g->kh * g->kw);
    for (size_t p = 0; p < npix; p += PIX) {
        size_t pixels = npix - p < PIX ? npix - p : PIX;
        const float* xp = x + p * g->x_pixel;
        float* yp = y + p * g->channels;
        const float* wt = g->w;
        for (size_t c0 = 0; c0 < g->channels; c0 += CW, wt += tile) {
            size_t left = g->channels - c0, off = 0;
            if (left >= CW) {
                dw_step(g, pixels, xp + c0, wt, ky0, ky1, kx0, kx1, yp + c0, 2, 0, 0);
                continue;
            }
            if (left >= 4) {
                dw_step(g, pixels, xp + c0, wt, ky0, ky1, kx0, kx1, yp + c0, 1, 0, 0);
                off = 4;
            }
            if (left > off)
                dw_step(g, pixels, xp + c0 + off, wt + off, ky0, ky1, kx0, kx1, yp + c0 + off, 1, 1, left - off);
        }
    }
}

const nrt_f32_dwconv_table nrt_f32_dwconv_8x4_neon = {
    "f32-dwconv-8x4-neon", NRT_ISA_NEON, CW, f32_dwconv_8x4_neon,
};
