/* qs16-qc8w-gemm-8x16c2-minmax-fp32-avx512vnni and the igemm of the same
 * shape: up to 8 rows x 16 columns per call on nrt_gemm_format_qs16_qc8w
 * panels. vpdpwssd adds the two int16 x int16 products of each lane (a
 * broadcast pair of activations, the pair of widened weights of a column) to
 * int32 lanes without saturation; as in the AVX2 kernel, the lanes take at most
 * NRT_QS16_K_BLOCK products before going to exact double accumulators, then
 * requant.h's steps with zero point 0 (vcvtpd2ps, mulps, clamp, cvtps2dq) and
 * a narrowing to int16 that cannot saturate. */
#include <immintrin.h>

#include "../qs16_kernels.h"

#define MR 8
#define NR 16

typedef struct acc_rows {
    __m512i block[MR];
    __m512d sum[MR][2];
} acc_rows;

NRT_ISA_INLINE(AVX512) int32_t load_pair(const int16_t* p, size_t left) {
    uint32_t v = (uint16_t)p[0];
    if (left > 1) v |= (uint32_t)(uint16_t)p[1] << 16;
    return (int32_t)v;
}

NRT_ISA_INLINE(AVX512) void flush(acc_rows* t, const int R) {
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        t->sum[r][0] = _mm512_add_pd(t->sum[r][0], _mm512_cvtepi32_pd(_mm512_castsi512_si256(t->block[r])));
        t->sum[r][1] = _mm512_add_pd(t->sum[r][1], _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(t->block[r], 1)));
        t->block[r] = _mm512_setzero_si512();
    }
}

NRT_ISA_INLINE(AVX512) const int16_t* acc_block(acc_rows* t, const int16_t* const* ap, size_t kc, const int16_t* w,
                                               const int R) {
    for (size_t k0 = 0; k0 < kc; k0 += NRT_QS16_K_BLOCK) {
        size_t k1 = kc - k0 < NRT_QS16_K_BLOCK ? kc : k0 + NRT_QS16_K_BLOCK;
        for (size_t k = k0; k < k1; k += 2, w += NR * 2) {
            __m512i wv = _mm512_loadu_si512(w);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
                t->block[r] = _mm512_dpwssd_epi32(t->block[r], _mm512_set1_epi32(load_pair(ap[r] + k, k1 - k)), wv);
        }
        flush(t, R);
    }
    return w;
}

NRT_ISA_INLINE(AVX512) void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                     const int16_t* a, size_t a_stride, const void* packed, int16_t* c,
                                     size_t c_stride, const nrt_qs16_requant* rq, const int R) {
    const double* bias = packed;
    __m512d b0 = _mm512_loadu_pd(bias), b1 = _mm512_loadu_pd(bias + 8);
    acc_rows t;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        t.block[r] = _mm512_setzero_si512();
        t.sum[r][0] = b0;
        t.sum[r][1] = b1;
    }
    const int16_t* w = (const int16_t*)(bias + NR);
    const int16_t* ap[MR];
    for (size_t p = 0; p < ks; p++) {
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            ap[r] = ind ? (const int16_t*)ind[p * MR + (size_t)r]
                        : a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(&t, ap, kc, w, R);
    }
    __m512 m = _mm512_loadu_ps((const float*)w);
    __m512 lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
    __mmask16 cols = (__mmask16)((1u << nc) - 1u);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        __m512 f = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(t.sum[r][0])),
                                      _mm512_cvtpd_ps(t.sum[r][1]), 1);
        __m512 v = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(f, m), lo), hi);
        _mm256_mask_storeu_epi16(c + (size_t)r * c_stride, cols, _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(v)));
    }
}

#define ROWS(R)                                                                                                    \
    NRT_ISA_TARGET(AVX512) static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, \
                                                const int16_t* a, size_t a_stride, const void* w, int16_t* c,      \
                                                size_t c_stride, const nrt_qs16_requant* rq) {                     \
        gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R);                                        \
    }
ROWS(8)
ROWS(4)
ROWS(2)
ROWS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int16_t* a,
                          size_t a_stride, const void* w, int16_t* c, size_t c_stride, const nrt_qs16_requant* rq) {
    if (mr > 4) tile_8(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs16_gemm_8x16c2_avx512vnni(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride,
                                        const void* w, void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs16_igemm_8x16c2_avx512vnni(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a,
                                         const void* w, void* c, size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs16_qc8w_gemm_8x16c2_minmax_fp32_avx512vnni = {
    .name = "qs16-qc8w-gemm-8x16c2-minmax-fp32-avx512vnni", .isa = NRT_ISA_AVX512, .mr = MR, .nr = NR, .kr = 2,
    .format = &nrt_gemm_format_qs16_qc8w, .gemm = qs16_gemm_8x16c2_avx512vnni,
    .igemm = qs16_igemm_8x16c2_avx512vnni,
};
