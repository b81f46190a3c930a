/* f32-dwconv-8x4-neon: depthwise convolution on NHWC, 8 channels (2
 * vectors) x 4 output pixels per inner step: each weight vector is loaded
 * once for the 4 pixels, 8 accumulators initialized from the bias, the
 * activation applied on the registers before the store. `run` reads the
 * taps through the driver's pointers, `row` (interior pixels) from each
 * kernel row's pointer at fixed strides (dwconv.h).
 *
 * Channel tails: the packed weights are zero-padded to 8, the input is not,
 * so a tile with fewer than 8 channels left runs one full vector if 4 are
 * left and then the last 1..3 channels with lane loads / stores (never a
 * read past the last channel of a pixel). */
#include <arm_neon.h>

#include "../dwconv_src.h"
#include "../f32_kernels.h"
#include "f32_act_neon.h"

#define CW 8
#define PIX 4

/* P (1..PIX) pixels from s->p0 on x NV (1, 2) vectors of channels; `part`
 * (1..3): one vector of `part` lanes instead (PART = 1). wt points at the
 * step's first channel of its tile (taps CW floats apart), c0 is the step's
 * first channel, y the output of pixel s->p0. */
NRT_ALWAYS_INLINE void dw_pixels(const nrt_dw_src* s, const float* wt, size_t c0, float* y, size_t y_stride,
                               const nrt_activation* act, size_t part, const int P, const int NV, const int PART) {
    float32x4_t acc[PIX][2];
    float32x4_t b0 = vld1q_f32(wt), b1 = b0;
    if (NV > 1) b1 = vld1q_f32(wt + 4);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        acc[p][0] = b0;
        acc[p][1] = b1;
    }
    const float* w = wt + CW;
    for (size_t r = 0; r < s->kh; r++) {
        const float* xr[PIX];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) xr[p] = (const float*)nrt_dw_row(s, (size_t)p, r, sizeof(float)) + c0;
        for (size_t kx = 0; kx < s->kw; kx++, w += CW) {
            float32x4_t w0 = vld1q_f32(w), w1 = w0;
            if (NV > 1) w1 = vld1q_f32(w + 4);
#pragma GCC unroll 4
            for (int p = 0; p < P; p++) {
                const float* xq = xr[p] + kx * s->ts;
                float32x4_t x0 = PART ? nrt_ld_part_f32(xq, part) : vld1q_f32(xq);
                acc[p][0] = vfmaq_f32(acc[p][0], x0, w0);
                if (NV > 1) acc[p][1] = vfmaq_f32(acc[p][1], vld1q_f32(xq + 4), w1);
            }
        }
    }
    bool simd_act = nrt_f32_act_simd_neon(act->kind);
    size_t n = PART ? part : (size_t)(4 * NV);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        float* yp = y + (size_t)p * y_stride + c0;
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
        float* yp = y + (size_t)p * y_stride + c0;
        for (size_t j = 0; j < n; j++) yp[j] = nrt_activation_apply(act, yp[j]);
    }
}

/* One channel step of `pixels` (<= PIX) pixels from s->p0: the full width, 4 channels, or a 1..3 lane tail. */
NRT_ALWAYS_INLINE void dw_step(const nrt_dw_src* s, size_t pixels, const float* wt, size_t c0, float* y,
                             size_t y_stride, const nrt_activation* act, const int NV, const int PART, size_t part) {
    if (pixels == PIX) {
        dw_pixels(s, wt, c0, y, y_stride, act, part, PIX, NV, PART);
        return;
    }
    nrt_dw_src one = *s;
    for (size_t q = 0; q < pixels; q++, one.p0++)
        dw_pixels(&one, wt, c0, y + q * y_stride, y_stride, act, part, 1, NV, PART);
}

static void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const float* w, float* y, size_t y_stride,
                   const nrt_activation* act) {
    size_t tile = CW * (1 + s->kh * s->kw);
    for (size_t p = 0; p < npix; p += PIX) {
        size_t pixels = npix - p < PIX ? npix - p : PIX;
        nrt_dw_src a = *s;
        a.p0 += p;
        float* yp = y + p * y_stride;
        const float* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t left = channels - c0, off = 0;
            if (left >= CW) {
                dw_step(&a, pixels, wt, c0, yp, y_stride, act, 2, 0, 0);
                continue;
            }
            if (left >= 4) {
                dw_step(&a, pixels, wt, c0, yp, y_stride, act, 1, 0, 0);
                off = 4;
            }
            if (left > off) dw_step(&a, pixels, wt + off, c0 + off, yp, y_stride, act, 1, 1, left - off);
        }
    }
}

static void f32_dwconv_8x4_neon(size_t channels, size_t npix, size_t taps, const void* const* ind, const void* w,
                                void* y, size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

static void f32_dwconv_row_8x4_neon(size_t channels, size_t npix, size_t kh, size_t kw, const void* const* rows,
                                    size_t xs, size_t ts, const void* w, void* y, const void* params) {
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_f32_dwconv_8x4_neon = {
    .name = "f32-dwconv-8x4-neon", .isa = NRT_ISA_NEON, .cw = CW, .format = &nrt_dwconv_format_f32,
    .run = f32_dwconv_8x4_neon, .row = f32_dwconv_row_8x4_neon,
};
