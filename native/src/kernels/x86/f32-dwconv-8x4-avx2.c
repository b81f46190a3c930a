/* f32-dwconv-8x4-avx2: depthwise convolution on NHWC, 8 channels x 4
 * output pixels per inner step; the same structure as f32_dwconv_avx512.c
 * with AVX2 masked loads / stores for channel tails. */
#include <immintrin.h>

#include "../dwconv_src.h"
#include "../f32_kernels.h"
#include "f32_act_avx2.h"

#define CW 8
#define PIX 4

/* P (1..PIX) pixels from s->p0 on, channel tile c0 (weights wt, n channels left). */
NRT_ISA_INLINE(AVX2) void dw_pixels(const nrt_dw_src* s, const float* wt, size_t c0, size_t n, __m256i m, float* y,
                               size_t y_stride, const nrt_activation* act, const int P) {
    __m256 acc[PIX];
    __m256 bias = _mm256_loadu_ps(wt);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p] = bias;
    const float* w = wt + CW;
    for (size_t r = 0; r < s->kh; r++) {
        const float* xr[PIX];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) xr[p] = (const float*)nrt_dw_row(s, (size_t)p, r, sizeof(float)) + c0;
        for (size_t kx = 0; kx < s->kw; kx++, w += CW) {
            __m256 wv = _mm256_loadu_ps(w);
#pragma GCC unroll 4
            for (int p = 0; p < P; p++)
                acc[p] = _mm256_fmadd_ps(_mm256_maskload_ps(xr[p] + kx * s->ts, m), wv, acc[p]);
        }
    }
    bool simd_act = nrt_f32_act_simd256(act->kind);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        float* yp = y + (size_t)p * y_stride + c0;
        _mm256_maskstore_ps(yp, m, simd_act ? nrt_act256(acc[p], act) : acc[p]);
        if (!simd_act)
            for (size_t j = 0; j < CW && j < n; j++) yp[j] = nrt_activation_apply(act, yp[j]);
    }
}

NRT_ISA_INLINE(AVX2) void dw_all(const nrt_dw_src* s, size_t channels, size_t npix, const float* w, float* y,
                            size_t y_stride, const nrt_activation* act) {
    size_t tile = CW * (1 + s->kh * s->kw);
    for (size_t p = 0; p < npix; p += PIX) {
        const float* wt = w;
        for (size_t c0 = 0; c0 < channels; c0 += CW, wt += tile) {
            __m256i m = nrt_mask8(channels - c0);
            nrt_dw_src a = *s;
            if (npix - p >= PIX) {
                a.p0 += p;
                dw_pixels(&a, wt, c0, channels - c0, m, y + p * y_stride, y_stride, act, PIX);
                continue;
            }
            for (size_t q = p; q < npix; q++) {
                a.p0 = s->p0 + q;
                dw_pixels(&a, wt, c0, channels - c0, m, y + q * y_stride, y_stride, act, 1);
            }
        }
    }
}

NRT_ISA_TARGET(AVX2) static void f32_dwconv_8x4_avx2(size_t channels, size_t npix, size_t taps, const void* const* ind,
                                         const void* w, void* y, size_t y_stride, const void* params) {
    nrt_dw_src s = nrt_dw_src_taps(ind, taps);
    dw_all(&s, channels, npix, w, y, y_stride, params);
}

NRT_ISA_TARGET(AVX2) static void f32_dwconv_row_8x4_avx2(size_t channels, size_t npix, size_t kh, size_t kw,
                                             const void* const* rows, size_t xs, size_t ts, const void* w, void* y,
                                             const void* params) {
    nrt_dw_src s = nrt_dw_src_rows(rows, kh, kw, xs, ts);
    dw_all(&s, channels, npix, w, y, channels, params);
}

const nrt_dwconv_table nrt_f32_dwconv_8x4_avx2 = {
    .name = "f32-dwconv-8x4-avx2", .isa = NRT_ISA_AVX2, .cw = CW, .format = &nrt_dwconv_format_f32,
    .run = f32_dwconv_8x4_avx2, .row = f32_dwconv_row_8x4_avx2,
};
