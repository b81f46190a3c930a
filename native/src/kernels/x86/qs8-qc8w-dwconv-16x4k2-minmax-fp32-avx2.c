/* qs8-qc8w-dwconv-16x4k2-minmax-fp32-avx2: depthwise convolution, 16
 * channels x 4 output pixels per inner step, two taps per multiply-add lane.
 *
 * Two taps' 16 input codes are widened to int16 (vpmovsxbw) and unpacked by
 * 16-bit lanes: each int32 lane then holds (x_a[c], x_b[c]) of one channel,
 * and one vpmaddwd against the packed (w_a[c], w_b[c]) adds both products
 * exactly (NRT_QS8_DW_INT16_TAP_PAIRS, qs8_kernels.h): 2 vpmaddwd per two
 * taps of 16 channels, where int32 lanes against (w, 0) took 4. The two
 * accumulators of a pixel hold channels (0-3, 8-11) and (4-7, 12-15); the
 * saturating packs (the values are already clamped) and one 64-bit permute
 * restore the order. A channel tail is copied into a zeroed 16-byte buffer
 * first (no byte past the channels is read). `run` reads the taps through
 * the driver's pointers, `row` (interior pixels) from each kernel row's
 * pointer at fixed strides (dwconv.h). */
#include "../dwconv_src.h"
#include "dwconv_unroll_x86.h"
#include "qs8_requant_x86.h"

#define CW 16
#define PIX 4
#define BLOCK 16
#define LANES (CW / 2) /* int32 lanes of one vector */

NRT_ISA_INLINE(AVX2) __m256i load_x(const int8_t* x, size_t n) {
    if (n >= CW) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)x));
    int8_t tmp[CW] = {0};
    memcpy(tmp, x, n);
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)tmp));
}

/* The tap after (*r, *kx) in kernel-row order. */
NRT_ISA_INLINE(AVX2) void next_tap(size_t* r, size_t* kx, size_t kw) {
    if (++*kx == kw) *kx = 0, ++*r;
}

NRT_ISA_INLINE(AVX2) __m256i requant_lanes(__m256i acc, __m256 m, __m256 lo, __m256 hi, __m256i zp) {
    __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), m), lo), hi);
    return _mm256_add_epi32(_mm256_cvtps_epi32(v), zp);
}

/* P pixels of one channel tile: all kh x kw taps in pairs (KH, KW: the
 * kernel's shape when known at compile time, else 0). */
NRT_ISA_INLINE(AVX2) void dw_pixels(const nrt_dw_src* s, size_t c0, size_t n, const int32_t* tile, int8_t* y,
                                    size_t y_stride, const nrt_qs8_requant* rq, const int P, const int FULL,
                                    const int KH, const int KW) {
    __m256i acc[PIX][2];
    __m256i b0 = _mm256_loadu_si256((const __m256i*)tile), b1 = _mm256_loadu_si256((const __m256i*)(tile + LANES));
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p][0] = b0, acc[p][1] = b1;
    const size_t kw = KW ? (size_t)KW : s->kw, taps = (KH ? (size_t)KH : s->kh) * kw, nx = FULL ? CW : n;
    const int32_t* w = tile + CW;
    size_t r = 0, kx = 0;
    NRT_DW_UNROLL_PAIRS
    for (size_t t = 0; t < taps; t += 2, w += CW) {
        const int8_t *xa[PIX], *xb[PIX];
        size_t ra = r, kxa = kx;
        next_tap(&r, &kx, kw);
        int has_b = t + 1 < taps;
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            xa[p] = (const int8_t*)nrt_dw_row(s, (size_t)p, ra, 1) + kxa * s->ts + c0;
            xb[p] = has_b ? (const int8_t*)nrt_dw_row(s, (size_t)p, r, 1) + kx * s->ts + c0 : xa[p];
        }
        if (has_b) next_tap(&r, &kx, kw);
        __m256i w0 = _mm256_loadu_si256((const __m256i*)w), w1 = _mm256_loadu_si256((const __m256i*)(w + LANES));
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) {
            __m256i a = load_x(xa[p], nx), b = load_x(xb[p], nx);
            acc[p][0] = _mm256_add_epi32(acc[p][0], _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), w0));
            acc[p][1] = _mm256_add_epi32(acc[p][1], _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), w1));
        }
    }
    const float* m = (const float*)w;
    __m256 m0 = _mm256_loadu_ps(m), m1 = _mm256_loadu_ps(m + LANES);
    __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    __m256i zp = _mm256_set1_epi32(rq->zero_point);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        __m256i q16 = _mm256_packs_epi32(requant_lanes(acc[p][0], m0, lo, hi, zp),
                                         requant_lanes(acc[p][1], m1, lo, hi, zp)); /* lane L: 8L + 0-7 */
        __m256i q8 = _mm256_permute4x64_epi64(_mm256_packs_epi16(q16, q16), 0x08);
        __m128i q = _mm256_castsi256_si128(q8);
        int8_t* yp = y + (size_t)p * y_stride + c0;
        if (FULL) {
            _mm_storeu_si128((__m128i*)yp, q);
        } else {
            int8_t tmp[CW];
            _mm_storeu_si128((__m128i*)tmp, q);
            memcpy(yp, tmp, n);
        }
    }
}

/* All pixels of one channel tile. */
NRT_ISA_INLINE(AVX2) void dw_tile(const nrt_dw_src* s, size_t npix, size_t c0, size_t n, const int32_t* wt, int8_t* y,
                                  size_t y_stride, const nrt_qs8_requant* rq, const int KH, const int KW) {
    nrt_dw_src a = *s;
    size_t p = 0, p0 = s->p0;
    for (; p + PIX <= npix; p += PIX) {
        a.p0 = p0 + p;
        if (n >= CW) dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, PIX, 1, KH, KW);
        else dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, PIX, 0, KH, KW);
    }
    for (; p < npix; p++) {
        a.p0 = p0 + p;
        if (n >= CW) dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, 1, 1, KH, KW);
        else dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, 1, 0, KH, KW);
    }
}

/* Pixels in blocks of BLOCK, every channel tile for a block: the block's
 * input (kh x kw x BLOCK pixels of every channel) stays in L1 across tiles.
 * 3x3 and 5x5 kernels are unrolled, other shapes (and the indirection's
 * taps, at the edges) loop. One copy (not inlined into each entry point):
 * the unrolled variants are large, and slow to compile under sanitizers. */
__attribute__((noinline)) NRT_ISA_TARGET(AVX2) static void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const void* w, int8_t* y,
                                 size_t y_stride, const nrt_qs8_requant* rq) {
    size_t tile = CW * (2 + (s->kh * s->kw + 1) / 2), kh = s->kh, kw = s->kw;
    for (size_t b0 = 0; b0 < npix; b0 += BLOCK) {
        size_t nb = npix - b0 < BLOCK ? npix - b0 : BLOCK;
        nrt_dw_src a = *s;
        a.p0 += b0;
        const int32_t* wt = w;
        int8_t* yb = y + b0 * y_stride;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t nc = channels - c0;
            if (kh == 3 && kw == 3) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 3, 3);
            else if (kh == 5 && kw == 5) dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 5, 5);
            else dw_tile(&a, nb, c0, nc, wt, yb, y_stride, rq, 0, 0);
        }
    }
}

/* nonnull: the driver always passes the pointers (and GCC then knows the
 * row branch of nrt_dw_row is not taken). */
__attribute__((nonnull(4))) NRT_ISA_TARGET(AVX2) static void qs8_dwconv_16x4k2_avx2(size_t channels, size_t npix, size_t taps,
                                                       const void* const* ind, const void* w, void* y,
                                                       size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

NRT_ISA_TARGET(AVX2) static void qs8_dwconv_row_16x4k2_avx2(size_t channels, size_t npix, size_t kh, size_t kw,
                                                           const void* const* rows, size_t xs, size_t ts,
                                                           const void* w, void* y, const void* params) {
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_qs8_qc8w_dwconv_16x4k2_minmax_fp32_avx2 = {
    .name = "qs8-qc8w-dwconv-16x4k2-minmax-fp32-avx2", .isa = NRT_ISA_AVX2, .cw = CW,
    .layout = NRT_QS8_DW_INT16_TAP_PAIRS, .format = &nrt_dwconv_format_qs8_qc8w, .run = qs8_dwconv_16x4k2_avx2,
    .row = qs8_dwconv_row_16x4k2_avx2,
};
