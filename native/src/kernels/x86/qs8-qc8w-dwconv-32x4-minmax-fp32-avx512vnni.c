/* qs8-qc8w-dwconv-32x4-minmax-fp32-avx512vnni: depthwise convolution, 32
 * channels x 4 output pixels per inner step (each weight vector loaded once
 * for the 4 pixels).
 *
 * A tap's 32 input codes are widened to int16 in one vpmovsxbw, which leaves
 * channels 2i and 2i+1 as the two halves of int32 lane i. The weights are
 * packed as NRT_QS8_DW_PAIRS (qs8_kernels.h): (w[2i], 0) lanes for the even
 * channels, (0, w[2i+1]) lanes for the odd ones, so one vpdpwssd per half
 * adds exactly x * w per channel (products <= 2^14, sums wrapping modulo
 * 2^32 like the reference). The even and odd accumulators are requantized
 * separately (bias and multipliers are packed in that order) and their bytes
 * interleaved back at the store. Channel tails use masked loads (no byte past
 * the channels is touched) and masked stores; a tail of at most 16 channels
 * (and a 16-channel layer) runs on the ymm halves, at half the cost.
 *
 * Two entry points share the arithmetic: `run` takes one pointer per (pixel,
 * tap) from the driver's indirection buffer; `row` addresses the taps of
 * interior pixels itself (a fixed stride per pixel and per kernel column from
 * each kernel row's pointer), which saves building and reading the pointers:
 * on small channel counts that was as much work as the arithmetic. */
#include "../dwconv_src.h"
#include "qs8_requant_x86.h"

#define CW 32
#define PIX 4
#define BLOCK 16

/* 32 codes of a tap widened to int16: plain load for a full tile, masked for the tail. */
NRT_ISA_INLINE(AVX512) __m512i load_x(const int8_t* x, __mmask32 km, const int FULL) {
    return _mm512_cvtepi8_epi16(FULL ? _mm256_loadu_si256((const __m256i*)x) : _mm256_maskz_loadu_epi8(km, x));
}

NRT_ISA_INLINE(AVX512) __m256i load_x16(const int8_t* x, __mmask16 km) {
    return _mm256_cvtepi8_epi16(km == 0xFFFF ? _mm_loadu_si128((const __m128i*)x) : _mm_maskz_loadu_epi8(km, x));
}

/* At most 16 channels (channels 0-15 of the tile are lanes 0-7 of both halves). */
NRT_ISA_INLINE(AVX512) void dw_pixels_half(const nrt_dw_src* s, size_t c0, __mmask16 km, const int32_t* tile, int8_t* y,
                                          size_t y_stride, const nrt_qs8_requant* rq, const int P, const int KW) {
    __m256i even[PIX], odd[PIX];
    __m256i be = _mm256_loadu_si256((const __m256i*)tile), bo = _mm256_loadu_si256((const __m256i*)(tile + 16));
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        even[p] = be;
        odd[p] = bo;
    }
    const int32_t* w = tile + CW;
    for (size_t r = 0; r < s->kh; r++) {
        const int8_t* xr[PIX];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) xr[p] = (const int8_t*)nrt_dw_row(s, (size_t)p, r, 1) + c0;
        for (size_t kx = 0; kx < (KW ? (size_t)KW : s->kw); kx++, w += CW) {
            __m256i we = _mm256_loadu_si256((const __m256i*)w), wo = _mm256_loadu_si256((const __m256i*)(w + 16));
#pragma GCC unroll 4
            for (int p = 0; p < P; p++) {
                __m256i xv = load_x16(xr[p] + kx * s->ts, km);
                even[p] = _mm256_dpwssd_epi32(even[p], xv, we);
                odd[p] = _mm256_dpwssd_epi32(odd[p], xv, wo);
            }
        }
    }
    const float* m = (const float*)w;
    __m256 me = _mm256_loadu_ps(m), mo = _mm256_loadu_ps(m + 16);
    __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    __m256i zp = _mm256_set1_epi32(rq->zero_point);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        __m256 ve = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(even[p]), me), lo), hi);
        __m256 vo = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(odd[p]), mo), lo), hi);
        __m128i qe = _mm256_cvtepi32_epi8(_mm256_add_epi32(_mm256_cvtps_epi32(ve), zp));
        __m128i qo = _mm256_cvtepi32_epi8(_mm256_add_epi32(_mm256_cvtps_epi32(vo), zp));
        __m128i q = _mm_unpacklo_epi8(qe, qo);
        int8_t* yp = y + (size_t)p * y_stride + c0;
        if (km == 0xFFFF) _mm_storeu_si128((__m128i*)yp, q);
        else _mm_mask_storeu_epi8(yp, km, q);
    }
}

NRT_ISA_INLINE(AVX512) void dw_pixels(const nrt_dw_src* s, size_t c0, __mmask32 km, const int32_t* tile, int8_t* y,
                                     size_t y_stride, const nrt_qs8_requant* rq, const int P, const int FULL,
                                     const int KW) {
    __m512i even[PIX], odd[PIX];
    __m512i be = _mm512_loadu_si512(tile), bo = _mm512_loadu_si512(tile + 16);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        even[p] = be;
        odd[p] = bo;
    }
    const int32_t* w = tile + CW;
    for (size_t r = 0; r < s->kh; r++) {
        const int8_t* xr[PIX];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) xr[p] = (const int8_t*)nrt_dw_row(s, (size_t)p, r, 1) + c0;
        for (size_t kx = 0; kx < (KW ? (size_t)KW : s->kw); kx++, w += CW) {
            __m512i we = _mm512_loadu_si512(w), wo = _mm512_loadu_si512(w + 16);
#pragma GCC unroll 4
            for (int p = 0; p < P; p++) {
                __m512i xv = load_x(xr[p] + kx * s->ts, km, FULL);
                even[p] = _mm512_dpwssd_epi32(even[p], xv, we);
                odd[p] = _mm512_dpwssd_epi32(odd[p], xv, wo);
            }
        }
    }
    const float* m = (const float*)w;
    __m512 me = _mm512_loadu_ps(m), mo = _mm512_loadu_ps(m + 16);
    const nrt_qs8_rq16 q = nrt_qs8_rq16_make(rq);
    const int mode = q.mode;
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        __m128i qe = nrt_qs8_requant16_q(even[p], me, &q, mode), qo = nrt_qs8_requant16_q(odd[p], mo, &q, mode);
        __m256i b = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi8(qe, qo)),
                                            _mm_unpackhi_epi8(qe, qo), 1);
        int8_t* yp = y + (size_t)p * y_stride + c0;
        if (FULL) _mm256_storeu_si256((__m256i*)yp, b);
        else _mm256_mask_storeu_epi8(yp, km, b);
    }
}

/* The source moved on by p pixels. */
NRT_ISA_INLINE(AVX512) nrt_dw_src src_at(const nrt_dw_src* s, size_t p) {
    nrt_dw_src r = *s;
    r.p0 += p;
    return r;
}

/* All pixels of one channel tile. */
NRT_ISA_INLINE(AVX512) void dw_tile(const nrt_dw_src* s, size_t npix, size_t c0, size_t nc, const int32_t* wt,
                                    int8_t* y,
                                   size_t y_stride, const nrt_qs8_requant* rq, const int KW) {
    size_t p = 0;
    if (nc >= CW) {
        for (; p + PIX <= npix; p += PIX) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, 0xFFFFFFFFu, wt, y + p * y_stride, y_stride, rq, PIX, 1, KW);
        }
        for (; p < npix; p++) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, 0xFFFFFFFFu, wt, y + p * y_stride, y_stride, rq, 1, 1, KW);
        }
    } else if (nc <= 16) {
        __mmask16 kh = (__mmask16)((1u << nc) - 1);
        for (; p + PIX <= npix; p += PIX) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels_half(&a, c0, kh, wt, y + p * y_stride, y_stride, rq, PIX, KW);
        }
        for (; p < npix; p++) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels_half(&a, c0, kh, wt, y + p * y_stride, y_stride, rq, 1, KW);
        }
    } else {
        __mmask32 km = (__mmask32)((1u << nc) - 1);
        for (; p + PIX <= npix; p += PIX) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, km, wt, y + p * y_stride, y_stride, rq, PIX, 0, KW);
        }
        for (; p < npix; p++) {
            nrt_dw_src a = src_at(s, p);
            dw_pixels(&a, c0, km, wt, y + p * y_stride, y_stride, rq, 1, 0, KW);
        }
    }
}

/* Pixels in blocks of BLOCK, every channel tile for a block: the block's
 * input (kh x kw x BLOCK pixels of every channel) stays in L1 across tiles.
 * Kernel widths 1 (the indirection's taps), 3 and 5 are unrolled. */
NRT_ISA_INLINE(AVX512) void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const void* w, int8_t* y,
                                  size_t y_stride, const nrt_qs8_requant* rq) {
    size_t tile = CW * (2 + s->kh * s->kw);
    for (size_t b0 = 0; b0 < npix; b0 += BLOCK) {
        size_t nb = npix - b0 < BLOCK ? npix - b0 : BLOCK;
        nrt_dw_src a = src_at(s, b0);
        const int32_t* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile)
            if (s->kw == 1) dw_tile(&a, nb, c0, channels - c0, wt, y + b0 * y_stride, y_stride, rq, 1);
            else if (s->kw == 3) dw_tile(&a, nb, c0, channels - c0, wt, y + b0 * y_stride, y_stride, rq, 3);
            else if (s->kw == 5) dw_tile(&a, nb, c0, channels - c0, wt, y + b0 * y_stride, y_stride, rq, 5);
            else dw_tile(&a, nb, c0, channels - c0, wt, y + b0 * y_stride, y_stride, rq, 0);
    }
}

NRT_ISA_TARGET(AVX512) static void qs8_dwconv_32x4_avx512vnni(size_t channels, size_t npix, size_t taps,
                                                      const void* const* ind, const void* w, void* y, size_t y_stride,
                                                      const void* params) {
    nrt_dw_src s = {ind, NULL, taps, taps, 1, 0, 0, 0};
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

/* 8 or 16 channels whose pixels are consecutive (stride 1): 32 / C pixels
 * fill one 32-channel tile, on a copy of the tile whose lanes repeat the
 * channels' (even lane i holds channel 2i mod C: slot i mod C / 2, odd
 * lanes alike). The ymm path would leave half of every vector empty. */
#define GROUP_MAX_TAPS 25

NRT_ISA_INLINE(AVX512) void repeat_tile(size_t channels, size_t taps, const int32_t* w, int32_t* dup) {
    size_t half = channels / 2;
    for (size_t row = 0; row < taps + 2; row++, w += CW, dup += CW)
        for (size_t i = 0; i < CW / 2; i++) {
            dup[i] = w[i % half];
            dup[CW / 2 + i] = w[CW / 2 + i % half];
        }
}

NRT_ISA_TARGET(AVX512) static void qs8_dwconv_row_32x4_avx512vnni(size_t channels, size_t npix, size_t kh, size_t kw,
                                                          const void* const* rows, size_t xs, size_t ts,
                                                          const void* w, void* yv, const void* params) {
    int8_t* y = yv;
    const nrt_qs8_requant* rq = params;
    nrt_dw_src s = {NULL, rows, kh * kw, kh, kw, xs, ts, 0};
    size_t g = CW / (channels ? channels : 1), grouped = 0;
    if ((channels == 8 || channels == 16) && xs == channels && kh * kw <= GROUP_MAX_TAPS && npix >= g) {
        int32_t dup[CW * (GROUP_MAX_TAPS + 2)];
        repeat_tile(channels, kh * kw, w, dup);
        nrt_dw_src sg = {NULL, rows, kh * kw, kh, kw, CW, ts, 0};
        grouped = npix / g * g;
        dw_all(&sg, CW, npix / g, dup, y, CW, rq);
        s.p0 = grouped;
    }
    dw_all(&s, channels, npix - grouped, w, y + grouped * channels, channels, rq);
}

const nrt_dwconv_table nrt_qs8_qc8w_dwconv_32x4_minmax_fp32_avx512vnni = {
    .name = "qs8-qc8w-dwconv-32x4-minmax-fp32-avx512vnni", .isa = NRT_ISA_AVX512, .cw = CW, .layout = NRT_QS8_DW_PAIRS,
    .format = &nrt_dwconv_format_qs8_qc8w, .run = qs8_dwconv_32x4_avx512vnni, .row = qs8_dwconv_row_32x4_avx512vnni,
};
