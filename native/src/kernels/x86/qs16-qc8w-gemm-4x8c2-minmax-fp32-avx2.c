/* qs16-qc8w-gemm-4x8c2-minmax-fp32-avx2 and the igemm of the same shape: up
 * to 4 rows x 8 columns per call on nrt_gemm_format_qs16_qc8w panels.
 *
 * Each pair of a row's int16 activations is broadcast as one int32 and
 * multiplied with the pair of widened weights of 8 columns by vpmaddwd (two
 * products per int32 lane, never saturating). The int32 lanes take at most
 * NRT_QS16_K_BLOCK products, then go to double accumulators (vcvtdq2pd,
 * exact) that started at the bias: qs16_kernels.h shows every sum is exact,
 * so the result is the reference's int64 sum. Then requant.h's steps with
 * zero point 0: one float rounding of the sum (vcvtpd2ps), mulps, clamp,
 * cvtps2dq, and a narrowing to int16 that cannot saturate. */
#include <immintrin.h>
#include <string.h>

#include "../qs16_kernels.h"

#define MR 4
#define NR 8

typedef struct acc_rows {
    __m256i block[MR];
    __m256d sum[MR][2];
} acc_rows;

NRT_ISA_INLINE(AVX2) int32_t load_pair(const int16_t* p, size_t left) {
    uint32_t v = (uint16_t)p[0];
    if (left > 1) v |= (uint32_t)(uint16_t)p[1] << 16;
    return (int32_t)v;
}

NRT_ISA_INLINE(AVX2) void flush(acc_rows* t, const int R) {
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        t->sum[r][0] = _mm256_add_pd(t->sum[r][0], _mm256_cvtepi32_pd(_mm256_castsi256_si128(t->block[r])));
        t->sum[r][1] = _mm256_add_pd(t->sum[r][1], _mm256_cvtepi32_pd(_mm256_extracti128_si256(t->block[r], 1)));
        t->block[r] = _mm256_setzero_si256();
    }
}

/* kc values of each row pointer against their weights; returns the weights after them. */
NRT_ISA_INLINE(AVX2) const int16_t* acc_block(acc_rows* t, const int16_t* const* ap, size_t kc, const int16_t* w,
                                             const int R) {
    for (size_t k0 = 0; k0 < kc; k0 += NRT_QS16_K_BLOCK) {
        size_t k1 = kc - k0 < NRT_QS16_K_BLOCK ? kc : k0 + NRT_QS16_K_BLOCK;
        for (size_t k = k0; k < k1; k += 2, w += NR * 2) {
            __m256i wv = _mm256_loadu_si256((const __m256i*)w);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                __m256i av = _mm256_set1_epi32(load_pair(ap[r] + k, k1 - k));
                t->block[r] = _mm256_add_epi32(t->block[r], _mm256_madd_epi16(av, wv));
            }
        }
        flush(t, R);
    }
    return w;
}

NRT_ISA_INLINE(AVX2) void store_row(int16_t* c, __m128i v, size_t nc) {
    if (nc == NR) {
        _mm_storeu_si128((__m128i*)c, v);
    } else {
        int16_t tmp[NR];
        _mm_storeu_si128((__m128i*)tmp, v);
        memcpy(c, tmp, nc * sizeof *c);
    }
}

NRT_ISA_INLINE(AVX2) void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                   const int16_t* a, size_t a_stride, const void* packed, int16_t* c,
                                   size_t c_stride, const nrt_qs16_requant* rq, const int R) {
    const double* bias = packed;
    __m256d b0 = _mm256_loadu_pd(bias), b1 = _mm256_loadu_pd(bias + 4);
    acc_rows t;
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        t.block[r] = _mm256_setzero_si256();
        t.sum[r][0] = b0;
        t.sum[r][1] = b1;
    }
    const int16_t* w = (const int16_t*)(bias + NR);
    const int16_t* ap[MR];
    for (size_t p = 0; p < ks; p++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            ap[r] = ind ? (const int16_t*)ind[p * MR + (size_t)r]
                        : a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(&t, ap, kc, w, R);
    }
    __m256 m = _mm256_loadu_ps((const float*)w);
    __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        __m256 f = _mm256_set_m128(_mm256_cvtpd_ps(t.sum[r][1]), _mm256_cvtpd_ps(t.sum[r][0]));
        __m256 v = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(f, m), lo), hi);
        __m256i q = _mm256_cvtps_epi32(v);
        store_row(c + (size_t)r * c_stride, _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)),
                  nc);
    }
}

#define ROWS(R)                                                                                                  \
    NRT_ISA_TARGET(AVX2) static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, \
                                              const int16_t* a, size_t a_stride, const void* w, int16_t* c,      \
                                              size_t c_stride, const nrt_qs16_requant* rq) {                     \
        gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R);                                      \
    }
ROWS(4)
ROWS(2)
ROWS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int16_t* a,
                          size_t a_stride, const void* w, int16_t* c, size_t c_stride, const nrt_qs16_requant* rq) {
    if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs16_gemm_4x8c2_avx2(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w,
                                 void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs16_igemm_4x8c2_avx2(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                  void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs16_qc8w_gemm_4x8c2_minmax_fp32_avx2 = {
    .name = "qs16-qc8w-gemm-4x8c2-minmax-fp32-avx2", .isa = NRT_ISA_AVX2, .mr = MR, .nr = NR, .kr = 2,
    .format = &nrt_gemm_format_qs16_qc8w, .gemm = qs16_gemm_4x8c2_avx2, .igemm = qs16_igemm_4x8c2_avx2,
};
