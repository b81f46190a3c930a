/* qs8-qc8w-dwconv-8x4-minmax-fp32-avx2: depthwise convolution, 8 channels x
 * 4 output pixels per inner step. Weights packed as int32 lanes holding
 * (uint16)(int16)w (NRT_QS8_DW_INT32LO), inputs sign-extended to int32:
 * vpmaddwd gives x * w + sign(x) * 0 exactly, added with wrapping vpaddd.
 * A channel tail is copied into a zeroed 8-byte buffer first (no byte past
 * the channels is read). `run` reads the taps through the driver's pointers,
 * `row` (interior pixels) from each kernel row's pointer at fixed strides
 * (qs8_kernels.h). */
#include "../dwconv_src.h"
#include "qs8_requant_x86.h"

#define CW 8
#define PIX 4
#define BLOCK 16

NRT_ISA_INLINE(AVX2) __m256i load_x(const int8_t* x, size_t n) {
    if (n >= CW) return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)x));
    int64_t tmp = 0;
    memcpy(&tmp, x, n);
    return _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(tmp));
}

NRT_ISA_INLINE(AVX2) void dw_pixels(const nrt_dw_src* s, size_t c0, size_t n, const int32_t* tile, int8_t* y,
                                  size_t y_stride, const nrt_qs8_requant* rq, const int P, const int FULL) {
    __m256i acc[PIX];
    __m256i bias = _mm256_loadu_si256((const __m256i*)tile);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p] = bias;
    const int32_t* w = tile + CW;
    for (size_t r = 0; r < s->kh; r++) {
        const int8_t* xr[PIX];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) xr[p] = (const int8_t*)nrt_dw_row(s, (size_t)p, r, 1) + c0;
        for (size_t kx = 0; kx < s->kw; kx++, w += CW) {
            __m256i wv = _mm256_loadu_si256((const __m256i*)w);
#pragma GCC unroll 4
            for (int p = 0; p < P; p++) {
                __m256i xv = load_x(xr[p] + kx * s->ts, FULL ? CW : n);
                acc[p] = _mm256_add_epi32(acc[p], _mm256_madd_epi16(xv, wv));
            }
        }
    }
    __m256 m = _mm256_loadu_ps((const float*)w);
    __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    __m256i zp = _mm256_set1_epi32(rq->zero_point);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++)
        nrt_qs8_store_low(y + (size_t)p * y_stride + c0, nrt_qs8_requant8(acc[p], m, lo, hi, zp), n < CW ? n : CW);
}

/* Pixels in blocks of BLOCK, every channel tile for a block: the block's
 * input (kh x kw x BLOCK pixels of every channel) stays in L1 across tiles. */
NRT_ISA_INLINE(AVX2) void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const void* w, int8_t* y,
                               size_t y_stride, const nrt_qs8_requant* rq) {
    size_t tile = CW * (2 + s->kh * s->kw);
    for (size_t b0 = 0; b0 < npix; b0 += BLOCK) {
        size_t b1 = npix - b0 < BLOCK ? npix : b0 + BLOCK;
        const int32_t* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            size_t n = channels - c0, p = b0;
            nrt_dw_src a = *s;
            for (; p + PIX <= b1; p += PIX) {
                a.p0 = p;
                if (n >= CW) dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, PIX, 1);
                else dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, PIX, 0);
            }
            for (; p < b1; p++) {
                a.p0 = p;
                if (n >= CW) dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, 1, 1);
                else dw_pixels(&a, c0, n, wt, y + p * y_stride, y_stride, rq, 1, 0);
            }
        }
    }
}

NRT_ISA_TARGET(AVX2) static void qs8_dwconv_8x4_avx2(size_t channels, size_t npix, size_t taps, const void* const* ind,
                                            const void* w, void* y, size_t y_stride, const void* params) {
    nrt_dw_src s = {ind, NULL, taps, taps, 1, 0, 0, 0};
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

NRT_ISA_TARGET(AVX2) static void qs8_dwconv_row_8x4_avx2(size_t channels, size_t npix, size_t kh, size_t kw,
                                                const void* const* rows, size_t xs, size_t ts, const void* w, void* y,
                                                const void* params) {
    nrt_dw_src s = {NULL, rows, kh * kw, kh, kw, xs, ts, 0};
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_qs8_qc8w_dwconv_8x4_minmax_fp32_avx2 = {
    .name = "qs8-qc8w-dwconv-8x4-minmax-fp32-avx2", .isa = NRT_ISA_AVX2, .cw = CW, .layout = NRT_QS8_DW_INT32LO,
    .format = &nrt_dwconv_format_qs8_qc8w, .run = qs8_dwconv_8x4_avx2, .row = qs8_dwconv_row_8x4_avx2,
};
