/* qs16-qc8w-dwconv-8x4c2-minmax-fp32-neon-mlal: 16x8 depthwise convolution,
 * 8 channels x 4 output pixels per inner step on nrt_dwconv_format_qs16_qc8w
 * tiles of 8 (slot order = channel order).
 *
 * A tap pair's weights load deinterleaved (LD2: tap a's 8, tap b's 8);
 * SMLAL / SMLAL2 add each tap's products to int32 lanes, exact (at most 128
 * taps of |x * w| <= 2^22). Then the lanes go to double beside the exact
 * bias, one rounding to float (FCVTN), requant.h's FMUL and clamp, FCVTNS
 * (nearest even) and a narrowing to int16 that cannot saturate. A channel
 * tail is read from and written to a zeroed 8-element buffer. */
#include <arm_neon.h>

#include "../dwconv_src.h"
#include "../qs16_kernels.h"

#define CW 8
#define PIX 4
#define BLOCK 16

NRT_ALWAYS_INLINE int16x8_t load_x(const int16_t* x, size_t n, const int FULL) {
    if (FULL) return vld1q_s16(x);
    int16_t tmp[CW] = {0};
    for (size_t j = 0; j < n; j++) tmp[j] = x[j];
    return vld1q_s16(tmp);
}

NRT_ALWAYS_INLINE void next_tap(size_t* r, size_t* kx, size_t kw) {
    if (++*kx == kw) *kx = 0, ++*r;
}

/* 4 exact int32 sums + their bias -> floats (one rounding each). */
NRT_ALWAYS_INLINE float32x4_t to_float(int32x4_t acc, const double* bias) {
    float64x2_t d0 = vaddq_f64(vcvtq_f64_s64(vmovl_s32(vget_low_s32(acc))), vld1q_f64(bias));
    float64x2_t d1 = vaddq_f64(vcvtq_f64_s64(vmovl_high_s32(acc)), vld1q_f64(bias + 2));
    return vcvt_high_f32_f64(vcvt_f32_f64(d0), d1);
}

NRT_ALWAYS_INLINE int32x4_t requant(int32x4_t acc, const double* bias, float32x4_t m, float32x4_t lo, float32x4_t hi) {
    return vcvtnq_s32_f32(vminq_f32(vmaxq_f32(vmulq_f32(to_float(acc, bias), m), lo), hi));
}

/* P pixels of one channel tile (nc channels): all taps in pairs. */
NRT_ALWAYS_INLINE void dw_pixels(const nrt_dw_src* s, size_t c0, size_t nc, const uint8_t* tile, int16_t* y,
                                 size_t y_stride, const nrt_qs16_requant* rq, const int P, const int FULL) {
    int32x4_t acc[PIX][2];
    for (int p = 0; p < P; p++) acc[p][0] = acc[p][1] = vdupq_n_s32(0);
    const size_t kw = s->kw, taps = s->kh * kw;
    const double* bias = (const double*)tile;
    const int16_t* w = (const int16_t*)(bias + CW);
    size_t r = 0, kx = 0;
    for (size_t t = 0; t < taps; t += 2, w += 2 * CW) {
        const int16_t *xa[PIX], *xb[PIX];
        size_t ra = r, kxa = kx;
        next_tap(&r, &kx, kw);
        int has_b = t + 1 < taps;
        for (int p = 0; p < P; p++) {
            xa[p] = (const int16_t*)nrt_dw_row(s, (size_t)p, ra, 2) + kxa * s->ts + c0;
            xb[p] = has_b ? (const int16_t*)nrt_dw_row(s, (size_t)p, r, 2) + kx * s->ts + c0 : xa[p];
        }
        if (has_b) next_tap(&r, &kx, kw);
        int16x8x2_t wp = vld2q_s16(w);
        for (int p = 0; p < P; p++) {
            int16x8_t a = load_x(xa[p], nc, FULL), b = load_x(xb[p], nc, FULL);
            acc[p][0] = vmlal_s16(acc[p][0], vget_low_s16(a), vget_low_s16(wp.val[0]));
            acc[p][1] = vmlal_high_s16(acc[p][1], a, wp.val[0]);
            acc[p][0] = vmlal_s16(acc[p][0], vget_low_s16(b), vget_low_s16(wp.val[1]));
            acc[p][1] = vmlal_high_s16(acc[p][1], b, wp.val[1]);
        }
    }
    const float* mp = (const float*)w;
    float32x4_t m0 = vld1q_f32(mp), m1 = vld1q_f32(mp + 4);
    float32x4_t lo = vdupq_n_f32(rq->lo), hi = vdupq_n_f32(rq->hi);
    for (int p = 0; p < P; p++) {
        int16x8_t q = vcombine_s16(vqmovn_s32(requant(acc[p][0], bias, m0, lo, hi)),
                                   vqmovn_s32(requant(acc[p][1], bias + 4, m1, lo, hi)));
        int16_t* yp = y + (size_t)p * y_stride + c0;
        if (FULL) {
            vst1q_s16(yp, q);
        } else {
            int16_t tmp[CW];
            vst1q_s16(tmp, q);
            for (size_t j = 0; j < nc; j++) yp[j] = tmp[j];
        }
    }
}

NRT_ALWAYS_INLINE nrt_dw_src src_at(const nrt_dw_src* s, size_t p) {
    nrt_dw_src r = *s;
    r.p0 += p;
    return r;
}

/* Pixels in blocks of BLOCK, every channel tile for a block (the block's
 * input stays in L1 across tiles). */
static void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const void* w, int16_t* y, size_t y_stride,
                   const nrt_qs16_requant* rq) {
    size_t taps = s->kh * s->kw;
    size_t tile = CW * (sizeof(double) + sizeof(float) + (taps + 1) / 2 * 2 * sizeof(int16_t));
    for (size_t b0 = 0; b0 < npix; b0 += BLOCK) {
        size_t nb = npix - b0 < BLOCK ? npix - b0 : BLOCK;
        const uint8_t* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t nc = channels - c0, p = 0;
            int16_t* yb = y + b0 * y_stride;
            if (nc >= CW) {
                for (; p + PIX <= nb; p += PIX) {
                    nrt_dw_src a = src_at(s, b0 + p);
                    dw_pixels(&a, c0, CW, wt, yb + p * y_stride, y_stride, rq, PIX, 1);
                }
                for (; p < nb; p++) {
                    nrt_dw_src a = src_at(s, b0 + p);
                    dw_pixels(&a, c0, CW, wt, yb + p * y_stride, y_stride, rq, 1, 1);
                }
                continue;
            }
            for (; p < nb; p++) {
                nrt_dw_src a = src_at(s, b0 + p);
                dw_pixels(&a, c0, nc, wt, yb + p * y_stride, y_stride, rq, 1, 0);
            }
        }
    }
}

static void qs16_dwconv_8x4c2_neon_mlal(size_t channels, size_t npix, size_t taps, const void* const* ind,
                                        const void* w, void* y, size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

static void qs16_dwconv_row_8x4c2_neon_mlal(size_t channels, size_t npix, size_t kh, size_t kw,
                                            const void* const* rows, size_t xs, size_t ts, const void* w, void* y,
                                            const void* params) {
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_qs16_qc8w_dwconv_8x4c2_minmax_fp32_neon_mlal = {
    .name = "qs16-qc8w-dwconv-8x4c2-minmax-fp32-neon-mlal", .isa = NRT_ISA_NEON, .cw = CW,
    .format = &nrt_dwconv_format_qs16_qc8w, .run = qs16_dwconv_8x4c2_neon_mlal,
    .row = qs16_dwconv_row_8x4c2_neon_mlal,
};
