/* qs16-qc8w-dwconv-16x4c2-minmax-fp32-avx2: 16x8 depthwise convolution, 16
 * channels x 4 output pixels per inner step, two taps per int32 lane.
 *
 * As the AVX-512 kernel (qs16-qc8w-dwconv-32x4c2-minmax-fp32-avx512vnni):
 * two taps' int16 codes interleaved (unpacklo / unpackhi_epi16) meet the
 * weight pairs of nrt_dwconv_format_qs16_qc8w's slot order in vpmaddwd (no
 * saturation: |x_a w_a + x_b w_b| <= 2^23), summed exactly in int32 lanes;
 * then double beside the exact bias, one rounding to float, requant.h's
 * multiply, clamp and cvtps2dq, and packs_epi32 restores the channel order.
 * A channel tail is read from and written to a zeroed 16-element buffer
 * (nothing past the channels is touched). */
#include "../dwconv_src.h"
#include "dwconv_unroll_x86.h"
#include "../qs16_kernels.h"

#include <immintrin.h>


#define CW 16
#define PIX 4
#define BLOCK 16

/* n < CW codes into a zeroed vector (element loop: a memcpy is a library call). */
NRT_ISA_INLINE(AVX2) __m256i load_tail(const int16_t* x, size_t n) {
    _Alignas(32) int16_t tmp[CW] = {0};
    for (size_t j = 0; j < n; j++) tmp[j] = x[j];
    return _mm256_load_si256((const __m256i*)tmp);
}

NRT_ISA_INLINE(AVX2) __m256i load_x(const int16_t* x, size_t n, const int FULL) {
    return FULL ? _mm256_loadu_si256((const __m256i*)x) : load_tail(x, n);
}

NRT_ISA_INLINE(AVX2) void next_tap(size_t* r, size_t* kx, size_t kw) {
    if (++*kx == kw) *kx = 0, ++*r;
}

/* 8 exact int32 sums of one half -> int32 codes. */
NRT_ISA_INLINE(AVX2) __m256i requant_half(__m256i acc, const double* bias, __m256 m, __m256 lo, __m256 hi) {
    __m256d d0 = _mm256_add_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(acc)), _mm256_loadu_pd(bias));
    __m256d d1 = _mm256_add_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(acc, 1)), _mm256_loadu_pd(bias + 4));
    __m256 f = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(d0)), _mm256_cvtpd_ps(d1), 1);
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(f, m), lo), hi));
}

NRT_ISA_INLINE(AVX2) void store_y(int16_t* y, __m256i q, size_t n, const int FULL) {
    if (FULL) {
        _mm256_storeu_si256((__m256i*)y, q);
        return;
    }
    _Alignas(32) int16_t tmp[CW];
    _mm256_store_si256((__m256i*)tmp, q);
    for (size_t j = 0; j < n; j++) y[j] = tmp[j];
}

/* P pixels of one channel tile (nc channels): all taps in pairs. */
NRT_ISA_INLINE(AVX2) void dw_pixels(const nrt_dw_src* s, size_t c0, size_t nc, const uint8_t* tile, int16_t* y,
                                    size_t y_stride, const nrt_qs16_requant* rq, const int P, const int FULL,
                                    const int KH, const int KW) {
    __m256i acc[PIX][2];
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p][0] = acc[p][1] = _mm256_setzero_si256();
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
        __m256i w0 = _mm256_loadu_si256((const __m256i*)w), w1 = _mm256_loadu_si256((const __m256i*)(w + CW / 2));
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            __m256i a = load_x(xa[p], nc, FULL), b = load_x(xb[p], nc, FULL);
            acc[p][0] = _mm256_add_epi32(acc[p][0], _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w0));
            acc[p][1] = _mm256_add_epi32(acc[p][1], _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w1));
        }
    }
    const float* mp = (const float*)w;
    __m256 m0 = _mm256_loadu_ps(mp), m1 = _mm256_loadu_ps(mp + CW / 2);
    __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        __m256i q = _mm256_packs_epi32(requant_half(acc[p][0], bias, m0, lo, hi),
                                       requant_half(acc[p][1], bias + CW / 2, m1, lo, hi));
        store_y(y + (size_t)p * y_stride + c0, q, nc, FULL);
    }
}

NRT_ISA_INLINE(AVX2) nrt_dw_src src_at(const nrt_dw_src* s, size_t p) {
    nrt_dw_src r = *s;
    r.p0 += p;
    return r;
}

NRT_ISA_INLINE(AVX2) void dw_tile(const nrt_dw_src* s, size_t npix, size_t c0, size_t nc, const uint8_t* wt,
                                  int16_t* y, size_t y_stride, const nrt_qs16_requant* rq, const int KH,
                                  const int KW) {
    size_t p = 0;
    if (nc >= CW) {
        for (; p + PIX <= npix; p += PIX) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, CW, wt, y + p * y_stride, y_stride, rq, PIX, 1, KH, KW);
        }
        for (; p < npix; p++) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, CW, wt, y + p * y_stride, y_stride, rq, 1, 1, KH, KW);
        }
        return;
    }
    for (; p < npix; p++) {
        nrt_dw_src a = src_at(s, p);
        dw_pixels(&a, c0, nc, wt, y + p * y_stride, y_stride, rq, 1, 0, KH, KW);
    }
}

/* Pixels in blocks of BLOCK, every channel tile for a block; 3x3 and 5x5
 * kernels unrolled, other shapes loop. */
__attribute__((noinline)) NRT_ISA_TARGET(AVX2) static void dw_all(const nrt_dw_src* s, size_t channels, size_t npix,
                                                                 const void* w, int16_t* y, size_t y_stride,
                                                                 const nrt_qs16_requant* rq) {
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

static void qs16_dwconv_16x4c2_avx2(size_t channels, size_t npix, size_t taps, const void* const* ind, const void* w,
                                    void* y, size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

static void qs16_dwconv_row_16x4c2_avx2(size_t channels, size_t npix, size_t kh, size_t kw, const void* const* rows,
                                        size_t xs, size_t ts, const void* w, void* y, const void* params) {
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_qs16_qc8w_dwconv_16x4c2_minmax_fp32_avx2 = {
    .name = "qs16-qc8w-dwconv-16x4c2-minmax-fp32-avx2", .isa = NRT_ISA_AVX2, .cw = CW,
    .format = &nrt_dwconv_format_qs16_qc8w, .run = qs16_dwconv_16x4c2_avx2, .row = qs16_dwconv_row_16x4c2_avx2,
};
