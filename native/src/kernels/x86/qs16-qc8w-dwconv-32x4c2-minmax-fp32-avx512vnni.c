/* qs16-qc8w-dwconv-32x4c2-minmax-fp32-avx512vnni: 16x8 depthwise
 * convolution, 32 channels x 4 output pixels per inner step, two taps per
 * int32 lane.
 *
 * Two taps' 32 int16 codes are interleaved (unpacklo / unpackhi_epi16): each
 * int32 lane then holds one channel's (x_a, x_b), in the slot order of
 * nrt_dwconv_format_qs16_qc8w, whose weights hold the matching (w_a, w_b):
 * one vpdpwssd per 16 channels adds both taps' products. The int32 lanes are
 * exact (qs16_kernels.h: at most 128 taps of |x * w| <= 2^22); at the end
 * they go to double beside the exact bias, one rounding to float
 * (vcvtpd2ps), then requant.h's multiply and clamp and cvtps2dq. packs_epi32
 * of the two halves restores the channel order. Channel tails use masked
 * loads and stores (nothing past the channels is touched).
 *
 * `run` takes one pointer per (pixel, tap) from the driver's indirection
 * buffer; `row` addresses the taps of interior pixels itself. */
#include "../dwconv_src.h"
#include "dwconv_unroll_x86.h"
#include "../qs16_kernels.h"

#include <immintrin.h>


#define CW 32
#define PIX 4
#define BLOCK 16

NRT_ISA_INLINE(AVX512) __m512i load_x(const int16_t* x, __mmask32 km, const int FULL) {
    return FULL ? _mm512_loadu_si512(x) : _mm512_maskz_loadu_epi16(km, x);
}

/* The tap after (*r, *kx) in kernel-row order. */
NRT_ISA_INLINE(AVX512) void next_tap(size_t* r, size_t* kx, size_t kw) {
    if (++*kx == kw) *kx = 0, ++*r;
}

/* 16 exact int32 sums of one half (slots 16 k ..) -> int32 codes. */
NRT_ISA_INLINE(AVX512) __m512i requant_half(__m512i acc, const double* bias, __m512 m, __m512 lo, __m512 hi) {
    __m512d d0 = _mm512_add_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), _mm512_loadu_pd(bias));
    __m512d d1 = _mm512_add_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)), _mm512_loadu_pd(bias + 8));
    __m512 f = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(d0)), _mm512_cvtpd_ps(d1), 1);
    return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(f, m), lo), hi));
}

/* P pixels of one channel tile: all kh x kw taps in pairs. KH, KW: the
 * kernel's shape when known at compile time, else 0. */
NRT_ISA_INLINE(AVX512) void dw_pixels(const nrt_dw_src* s, size_t c0, __mmask32 km, const uint8_t* tile, int16_t* y,
                                      size_t y_stride, const nrt_qs16_requant* rq, const int P, const int FULL,
                                      const int KH, const int KW) {
    __m512i acc[PIX][2];
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p][0] = acc[p][1] = _mm512_setzero_si512();
    const size_t kw = KW ? (size_t)KW : s->kw, taps = (KH ? (size_t)KH : s->kh) * kw;
    const double* bias = (const double*)tile;
    const int32_t* w = (const int32_t*)(bias + CW);
    size_t r = 0, kx = 0;
    NRT_DW_UNROLL_PAIRS
    for (size_t t = 0; t < taps; t += 2, w += CW) {
        const int16_t *xa[PIX], *xb[PIX];
        size_t ra = r, kxa = kx;
        next_tap(&r, &kx, kw);
        int has_b = t + 1 < taps;
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            xa[p] = (const int16_t*)nrt_dw_row(s, (size_t)p, ra, 2) + kxa * s->ts + c0;
            xb[p] = has_b ? (const int16_t*)nrt_dw_row(s, (size_t)p, r, 2) + kx * s->ts + c0 : xa[p];
        }
        if (has_b) next_tap(&r, &kx, kw);
        __m512i w0 = _mm512_loadu_si512(w), w1 = _mm512_loadu_si512(w + CW / 2);
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            __m512i a = load_x(xa[p], km, FULL), b = load_x(xb[p], km, FULL);
            acc[p][0] = _mm512_dpwssd_epi32(acc[p][0], _mm512_unpacklo_epi16(a, b), w0);
            acc[p][1] = _mm512_dpwssd_epi32(acc[p][1], _mm512_unpackhi_epi16(a, b), w1);
        }
    }
    const float* mp = (const float*)w;
    __m512 m0 = _mm512_loadu_ps(mp), m1 = _mm512_loadu_ps(mp + CW / 2);
    __m512 lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        __m512i q = _mm512_packs_epi32(requant_half(acc[p][0], bias, m0, lo, hi),
                                       requant_half(acc[p][1], bias + CW / 2, m1, lo, hi));
        int16_t* yp = y + (size_t)p * y_stride + c0;
        if (FULL) _mm512_storeu_si512(yp, q);
        else _mm512_mask_storeu_epi16(yp, km, q);
    }
}

/* The source moved on by p pixels. */
NRT_ISA_INLINE(AVX512) nrt_dw_src src_at(const nrt_dw_src* s, size_t p) {
    nrt_dw_src r = *s;
    r.p0 += p;
    return r;
}

/* All pixels of one channel tile. */
NRT_ISA_INLINE(AVX512) void dw_tile(const nrt_dw_src* s, size_t npix, size_t c0, size_t nc, const uint8_t* wt,
                                    int16_t* y, size_t y_stride, const nrt_qs16_requant* rq, const int KH,
                                    const int KW) {
    size_t p = 0;
    if (nc >= CW) {
        for (; p + PIX <= npix; p += PIX) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, 0, wt, y + p * y_stride, y_stride, rq, PIX, 1, KH, KW);
        }
        for (; p < npix; p++) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, 0, wt, y + p * y_stride, y_stride, rq, 1, 1, KH, KW);
        }
        return;
    }
    __mmask32 km = (__mmask32)((1u << nc) - 1);
    for (; p + PIX <= npix; p += PIX) {
        nrt_dw_src a = src_at(s, p);
        dw_pixels(&a, c0, km, wt, y + p * y_stride, y_stride, rq, PIX, 0, KH, KW);
    }
    for (; p < npix; p++) {
        nrt_dw_src a = src_at(s, p);
        dw_pixels(&a, c0, km, wt, y + p * y_stride, y_stride, rq, 1, 0, KH, KW);
    }
}

/* Pixels in blocks of BLOCK, every channel tile for a block (the block's
 * input stays in L1 across tiles); 3x3 and 5x5 kernels unrolled, other
 * shapes (and the indirection's taps) loop. */
__attribute__((noinline)) NRT_ISA_TARGET(AVX512) static void dw_all(const nrt_dw_src* s, size_t channels,
                                                                   size_t npix, const void* w, int16_t* y,
                                                                   size_t y_stride, const nrt_qs16_requant* rq) {
    size_t taps = s->kh * s->kw, kh = s->kh, kw = s->kw;
    size_t tile = CW * (sizeof(double) + sizeof(float) + (taps + 1) / 2 * 2 * sizeof(int16_t));
    for (size_t b0 = 0; b0 < npix; b0 += BLOCK) {
        size_t nb = npix - b0 < BLOCK ? npix - b0 : BLOCK;
        nrt_dw_src a = src_at(s, b0);
        const uint8_t* wt = w;
        int16_t* yb = y + b0 * y_stride;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t nc = channels - c0;
            if (kh == 3 && kw == 3) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 3, 3);
            else if (kh == 5 && kw == 5) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 5, 5);
            else dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 0, 0);
        }
    }
}

static void qs16_dwconv_32x4c2_avx512vnni(size_t channels, size_t npix, size_t taps, const void* const* ind,
                                          const void* w, void* y, size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

static void qs16_dwconv_row_32x4c2_avx512vnni(size_t channels, size_t npix, size_t kh, size_t kw,
                                              const void* const* rows, size_t xs, size_t ts, const void* w, void* y,
                                              const void* params) {
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_qs16_qc8w_dwconv_32x4c2_minmax_fp32_avx512vnni = {
    .name = "qs16-qc8w-dwconv-32x4c2-minmax-fp32-avx512vnni", .isa = NRT_ISA_AVX512, .cw = CW,
    .format = &nrt_dwconv_format_qs16_qc8w, .run = qs16_dwconv_32x4c2_avx512vnni,
    .row = qs16_dwconv_row_32x4c2_avx512vnni,
};
