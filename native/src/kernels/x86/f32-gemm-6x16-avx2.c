/* f32-gemm-6x16-avx2 and f32-igemm-6x16-avx2: float32 GEMM microkernels,
 * up to 6 rows x 16 columns per call (12 ymm accumulators of the 16
 * registers), weights packed in 16-column panels (f32_kernels.h). One
 * template, instantiated for 6 / 3 / 1 rows and 16 / 8 columns; the same
 * structure as f32_gemm_avx512.c. */
#include <immintrin.h>
#include <stdbool.h>

#include "../f32_kernels.h"
#include "f32_act_avx2.h"

#define MR 6
#define NR 16

typedef struct tile_acc {
    __m256 v[MR][2];
} tile_acc;

NRT_ISA_INLINE(AVX2) const float* acc_block(tile_acc* t, const float* const* ap, size_t kc, const float* w, const int R,
                                       const int NV) {
    for (size_t k = 0; k < kc; k++, w += NR) {
        __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_setzero_ps();
        if (NV > 1) w1 = _mm256_loadu_ps(w + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 av = _mm256_broadcast_ss(ap[r] + k);
            t->v[r][0] = _mm256_fmadd_ps(av, w0, t->v[r][0]);
            if (NV > 1) t->v[r][1] = _mm256_fmadd_ps(av, w1, t->v[r][1]);
        }
    }
    return w;
}

NRT_ISA_INLINE(AVX2) void acc_store(tile_acc* t, size_t mr, size_t nc, float* c, size_t c_stride,
                               const nrt_activation* act, const int R, const int NV) {
    bool simd_act = nrt_f32_act_simd256(act->kind), full = nc == (size_t)(8 * NV);
    __m256i m0 = nrt_mask8(nc), m1 = nrt_mask8(nc > 8 ? nc - 8 : 0);
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        float* cr = c + (size_t)r * c_stride;
        __m256 v0 = t->v[r][0], v1 = t->v[r][1];
        if (simd_act && act->kind != NRT_ACT_NONE) {
            v0 = nrt_act256(v0, act);
            if (NV > 1) v1 = nrt_act256(v1, act);
        }
        if (full) {
            _mm256_storeu_ps(cr, v0);
            if (NV > 1) _mm256_storeu_ps(cr + 8, v1);
        } else {
            _mm256_maskstore_ps(cr, m0, v0);
            if (NV > 1) _mm256_maskstore_ps(cr + 8, m1, v1);
        }
        if (!simd_act)
            for (size_t j = 0; j < nc; j++) cr[j] = nrt_activation_apply(act, cr[j]);
    }
}

NRT_ISA_INLINE(AVX2) void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const float* a,
                               size_t a_stride, const float* w, float* c, size_t c_stride, const nrt_activation* act,
                               const int R, const int NV) {
    tile_acc t;
    __m256 b0 = _mm256_loadu_ps(w), b1 = _mm256_loadu_ps(w + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        t.v[r][0] = b0;
        t.v[r][1] = b1;
    }
    w += NR;
    const float* ap[MR];
    if (!ind) {
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        acc_block(&t, ap, kc, w, R, NV);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
            if (!ind[0]) { /* a tap reading only padding (gemm.h's igemm_null_taps) */
                w += kc * NR;
                continue;
            }
#pragma GCC unroll 6
            for (int r = 0; r < R; r++) ap[r] = (const float*)ind[r];
            w = acc_block(&t, ap, kc, w, R, NV);
        }
    }
    acc_store(&t, mr, nc, c, c_stride, act, R, NV);
}

#define WIDTHS(R)                                                                                                \
    NRT_ISA_TARGET(AVX2) static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks,                     \
                                              const void* const* ind, const float* a, size_t a_stride,        \
                                              const float* w, float* c, size_t c_stride,                      \
                                              const nrt_activation* act) {                                    \
        if (nc > 8) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 2);                     \
        else gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 1);                            \
    }
WIDTHS(6)
WIDTHS(3)
WIDTHS(1)

NRT_ISA_TARGET(AVX2) static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                   const float* a, size_t a_stride, const float* w, float* c, size_t c_stride,
                                   const nrt_activation* act) {
    if (mr > 3) tile_6(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else if (mr > 1) tile_3(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
}

static void f32_gemm_6x16_avx2(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w, void* c,
                               size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void f32_igemm_6x16_avx2(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                void* c,
                                size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_f32_gemm_6x16_avx2 = {
    .name = "f32-gemm-6x16-avx2", .isa = NRT_ISA_AVX2, .mr = MR, .nr = NR, .kr = 1, .x_offset = 0,
    .format = &nrt_gemm_format_f32, .gemm = f32_gemm_6x16_avx2, .igemm = f32_igemm_6x16_avx2,
    .igemm_null_taps = true,
};
