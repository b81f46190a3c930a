/* f32-gemm-12x32-avx512 and f32-igemm-12x32-avx512: float32 GEMM microkernels,
 * up to 12 rows x 32 columns per call (24 zmm accumulators of the 32
 * registers: each weight row loaded serves 12 rows), weights packed in
 * 32-column panels (f32_kernels.h).
 *
 * One template (gemm_tile) is instantiated per row count (12, 8, 4, 1) and
 * column width (32, 24, 16, 8): a narrow last panel (24 = a zmm + a ymm)
 * costs what its columns need, which matters on cores that split 512-bit
 * FMAs into two 256-bit halves (AMD Zen 4) for channel counts like 24 or
 * 48. Bias initializes the accumulators; the activation runs on the
 * registers before the store (a kind without SIMD code: after it, through
 * the scalar reference). */
#include <immintrin.h>
#include <stdbool.h>

#include "../f32_kernels.h"
#include "f32_act_avx512.h"

#define MR 12
#define NR 32

/* Accumulators: NZ zmm (16 columns each) then NY (0/1) ymm (8 columns). */
typedef struct tile_acc {
    __m512 z[MR][2];
    __m256 y[MR];
} tile_acc;

NRT_ISA_INLINE(AVX512) void acc_init(tile_acc* t, const float* bias, const int R, const int NZ, const int NY) {
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 2
        for (int j = 0; j < NZ; j++) t->z[r][j] = _mm512_loadu_ps(bias + 16 * j);
        if (NY) t->y[r] = _mm256_loadu_ps(bias + 16 * NZ);
    }
}

/* acc += a[r][k] * w[k][:] for k < kc; w advances by NR floats per k. */
NRT_ISA_INLINE(AVX512) const float* acc_block(tile_acc* t, const float* const* ap, size_t kc, const float* w,
                                              const int R,
                                         const int NZ, const int NY) {
    for (size_t k = 0; k < kc; k++, w += NR) {
        __m512 w0 = _mm512_setzero_ps(), w1 = _mm512_setzero_ps();
        __m256 wy = _mm256_setzero_ps();
        if (NZ > 0) w0 = _mm512_loadu_ps(w);
        if (NZ > 1) w1 = _mm512_loadu_ps(w + 16);
        if (NY) wy = _mm256_loadu_ps(w + 16 * NZ);
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            if (NZ > 0) {
                __m512 av = _mm512_set1_ps(ap[r][k]);
                t->z[r][0] = _mm512_fmadd_ps(av, w0, t->z[r][0]);
                if (NZ > 1) t->z[r][1] = _mm512_fmadd_ps(av, w1, t->z[r][1]);
                if (NY) t->y[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(av), wy, t->y[r]);
            } else {
                t->y[r] = _mm256_fmadd_ps(_mm256_set1_ps(ap[r][k]), wy, t->y[r]);
            }
        }
    }
    return w;
}

NRT_ISA_INLINE(AVX512) void acc_act(tile_acc* t, const nrt_activation* act, const int R, const int NZ, const int NY) {
    if (act->kind == NRT_ACT_NONE || !nrt_f32_act_simd512(act->kind)) return;
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 2
        for (int j = 0; j < NZ; j++) t->z[r][j] = nrt_act512(t->z[r][j], act);
        if (NY) t->y[r] = nrt_act512_y(t->y[r], act);
    }
}

NRT_ISA_INLINE(AVX512) void acc_store(const tile_acc* t, size_t mr, size_t nc, float* c, size_t c_stride,
                                 const nrt_activation* act, const int R, const int NZ, const int NY) {
    bool full = nc == (size_t)(16 * NZ + 8 * NY);
    __mmask16 m0 = nrt_mask16(nc), m1 = nrt_mask16(nc > 16 ? nc - 16 : 0);
    __mmask16 my = nrt_mask16(nc > 16 * (size_t)NZ ? nc - 16 * (size_t)NZ : 0);
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        float* cr = c + (size_t)r * c_stride;
        if (full) {
            if (NZ > 0) _mm512_storeu_ps(cr, t->z[r][0]);
            if (NZ > 1) _mm512_storeu_ps(cr + 16, t->z[r][1]);
            if (NY) _mm256_storeu_ps(cr + 16 * NZ, t->y[r]);
        } else {
            if (NZ > 0) _mm512_mask_storeu_ps(cr, m0, t->z[r][0]);
            if (NZ > 1) _mm512_mask_storeu_ps(cr + 16, m1, t->z[r][1]);
            if (NY) _mm256_mask_storeu_ps(cr + 16 * NZ, my, t->y[r]);
        }
        if (!nrt_f32_act_simd512(act->kind))
            for (size_t j = 0; j < nc; j++) cr[j] = nrt_activation_apply(act, cr[j]);
    }
}

/* One tile: ind == NULL is the strided GEMM (a, a_stride), else the
 * indirect one (ks blocks of MR row pointers). */
NRT_ISA_INLINE(AVX512) void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                      const float* a,
                                 size_t a_stride, const float* w, float* c, size_t c_stride,
                                 const nrt_activation* act, const int R, const int NZ, const int NY) {
    tile_acc t;
    acc_init(&t, w, R, NZ, NY);
    w += NR;
    const float* ap[MR];
    if (!ind) {
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        acc_block(&t, ap, kc, w, R, NZ, NY);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
            if (!ind[0]) { /* a tap reading only padding (gemm.h's igemm_null_taps) */
                w += kc * NR;
                continue;
            }
#pragma GCC unroll 12
            for (int r = 0; r < R; r++) ap[r] = (const float*)ind[r];
            w = acc_block(&t, ap, kc, w, R, NZ, NY);
        }
    }
    acc_act(&t, act, R, NZ, NY);
    acc_store(&t, mr, nc, c, c_stride, act, R, NZ, NY);
}

/* Instantiates the widths for one row count R. */
#define WIDTHS(R)                                                                                                \
    NRT_ISA_TARGET(AVX512) static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks,                   \
                                                const void* const* ind, const float* a, size_t a_stride,      \
                                                const float* w, float* c, size_t c_stride,                    \
                                                const nrt_activation* act) {                                  \
        if (nc > 24) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 2, 0);                 \
        else if (nc > 16) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 1, 1);            \
        else if (nc > 8) gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 1, 0);             \
        else gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act, R, 0, 1);                         \
    }
WIDTHS(12)
WIDTHS(8)
WIDTHS(4)
WIDTHS(1)

NRT_ISA_TARGET(AVX512) static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                     const float* a, size_t a_stride, const float* w, float* c, size_t c_stride,
                                     const nrt_activation* act) {
    if (mr > 8) tile_12(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else if (mr > 4) tile_8(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else if (mr > 1) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, act);
}

static void f32_gemm_12x32_avx512(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                  void* c,
                                  size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void f32_igemm_12x32_avx512(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                   void* c,
                                   size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_f32_gemm_12x32_avx512 = {
    .name = "f32-gemm-12x32-avx512", .isa = NRT_ISA_AVX512, .mr = MR, .nr = NR, .kr = 1, .x_offset = 0,
    .format = &nrt_gemm_format_f32, .gemm = f32_gemm_12x32_avx512, .igemm = f32_igemm_12x32_avx512,
    .igemm_null_taps = true,
};
