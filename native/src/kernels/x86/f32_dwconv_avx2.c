/* f32-dwconv-8x4-avx2: depthwise convolution on NHWC, 8 channels x 4
 * output pixels per inner step; the same structure as f32_dwconv_avx512.c
 * with AVX2 masked loads / stores for channel tails. */
#include <immintrin.h>

#include "../f32_kernels.h"
#include "f32_act_avx2.h"

#define CW 8
#define PIX 4

NRT_AVX2_INLINE void dw_pixels(const nrt_f32_dwconv_args* g, const float* x, const float* wt, size_t c0, __m256i m,
                               size_t ky0, size_t ky1, size_t kx0, size_t kx1, float* y, const int P) {
    __m256 acc[PIX];
    __m256 bias = _mm256_loadu_ps(wt);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p] = bias;
    for (size_t ky = ky0; ky < ky1; ky++) {
        const float* xr = x + (ky - ky0) * g->x_tap_row + c0;
        const float* wr = wt + CW * (1 + ky * g->kw);
        for (size_t kx = kx0; kx < kx1; kx++) {
            __m256 wv = _mm256_loadu_ps(wr + CW * kx);
            const float* xp = xr + (kx - kx0) * g->x_tap_col;
#pragma GCC unroll 4
            for (int p = 0; p < P; p++)
                acc[p] = _mm256_fmadd_ps(_mm256_maskload_ps(xp + (size_t)p * g->x_pixel, m), wv, acc[p]);
        }
    }
    bool simd_act = nrt_f32_act_simd256(g->act->kind);
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        float* yp = y + (size_t)p * g->channels + c0;
        _mm256_maskstore_ps(yp, m, simd_act ? nrt_act256(acc[p], g->act) : acc[p]);
        if (!simd_act)
            for (size_t j = 0; j < CW && c0 + j < g->channels; j++) yp[j] = nrt_activation_apply(g->act, yp[j]);
    }
}

NRT_AVX2 static void f32_dwconv_8x4_avx2(const nrt_f32_dwconv_args* g, size_t npix, const float* x, size_t ky0,
                                         size_t ky1, size_t kx0, size_t kx1, float* y) {
    size_t tile = CW * (1 + g->kh * g->kw);
    for (size_t p = 0; p < npix; p += PIX) {
        const float* xp = x + p * g->x_pixel;
        float* yp = y + p * g->channels;
        const float* wt = g->w;
        for (size_t c0 = 0; c0 < g->channels; c0 += CW, wt += tile) {
            __m256i m = nrt_mask8(g->channels - c0);
            if (npix - p >= PIX) dw_pixels(g, xp, wt, c0, m, ky0, ky1, kx0, kx1, yp, PIX);
            else for (size_t q = 0; q < npix - p; q++)
                dw_pixels(g, xp + q * g->x_pixel, wt, c0, m, ky0, ky1, kx0, kx1, yp + q * g->channels, 1);
        }
    }
}

const nrt_f32_dwconv_table nrt_f32_dwconv_8x4_avx2 = {
    "f32-dwconv-8x4-avx2", NRT_ISA_AVX2, CW, f32_dwconv_8x4_avx2,
};
