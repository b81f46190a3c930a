/* qs8-qc8w-gemm-4x8c4-minmax-fp32-avx2 and the igemm of the same shape: up
 * to 4 rows x 8 columns per call on c4 panels (gemm.h, nrt_gemm_format_qs8_qc8w), x_offset 0.
 *
 * No vpmaddubsw: it sums u8 x s8 pairs into int16 with saturation, which
 * would break exactness. Activations and weights are sign-extended to int16
 * instead and multiplied with vpmaddwd (pairs of products into int32, at
 * most 2 * 128 * 128: never saturates). A c4 block of 4 columns (16 bytes)
 * widens to one ymm [c0k0..c0k3, c1k0.., c2.., c3..]; the row's 4
 * activations are broadcast as 4 int16 per 64 bits, so vpmaddwd leaves two
 * partial sums per column (k0+k1, k2+k3), added pairwise (vphaddd) at the
 * end. Every add wraps: the sum is requant.h's modulo 2^32 in any order. */
#include "qs8_requant_x86.h"

#define MR 4
#define NR 8
#define KR 4

NRT_ISA_INLINE(AVX2) __m256i bcast4(int32_t v) {
    return _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(v)));
}

NRT_ISA_INLINE(AVX2) const int8_t* acc_block(__m256i acc[MR][2], const int8_t* const* ap, size_t kc, const int8_t* w,
                                           const int R) {
    size_t k = 0;
    for (; k + KR <= kc; k += KR, w += NR * KR) {
        __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)w));
        __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(w + 16)));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i av = bcast4(nrt_qs8_load4(ap[r] + k));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, w0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, w1));
        }
    }
    if (k < kc) {
        __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)w));
        __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(w + 16)));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            __m256i av = bcast4(nrt_qs8_load_partial(ap[r] + k, kc - k));
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, w0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, w1));
        }
        w += NR * KR;
    }
    return w;
}

NRT_ISA_INLINE(AVX2) void gemm_tile(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,
                                  const int8_t* a, size_t a_stride, const void* packed, int8_t* c, size_t c_stride,
                                  const nrt_qs8_requant* rq, const int R) {
    __m256i acc[MR][2];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int32_t* bias = packed;
    const int8_t* w = (const int8_t*)(bias + NR);
    const int8_t* ap[MR];
    if (!ind) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
        w = acc_block(acc, ap, kc, w, R);
    } else {
        for (size_t p = 0; p < ks; p++, ind += MR) {
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) ap[r] = (const int8_t*)ind[r];
            w = acc_block(acc, ap, kc, w, R);
        }
    }
    __m256i b = _mm256_loadu_si256((const __m256i*)bias);
    __m256 m = _mm256_loadu_ps((const float*)w);
    __m256 lo = _mm256_set1_ps(rq->lo), hi = _mm256_set1_ps(rq->hi);
    __m256i zp = _mm256_set1_epi32(rq->zero_point);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        /* [c0 c1 c4 c5 | c2 c3 c6 c7] -> columns in order */
        __m256i s = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
        nrt_qs8_store_low(c + (size_t)r * c_stride, nrt_qs8_requant8(_mm256_add_epi32(s, b), m, lo, hi, zp), nc);
    }
}

#define ROWS(R)                                                                                               \
    NRT_ISA_TARGET(AVX2) static void tile_##R(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind,   \
                                     const int8_t* a, size_t a_stride, const void* w, int8_t* c,            \
                                     size_t c_stride, const nrt_qs8_requant* rq) {                            \
        gemm_tile(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq, R);                                   \
    }
ROWS(4)
ROWS(2)
ROWS(1)

static void dispatch_rows(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* ind, const int8_t* a,
                          size_t a_stride, const void* w, int8_t* c, size_t c_stride, const nrt_qs8_requant* rq) {
    if (mr > 2) tile_4(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else if (mr > 1) tile_2(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
    else tile_1(mr, nc, kc, ks, ind, a, a_stride, w, c, c_stride, rq);
}

static void qs8_gemm_4x8c4_avx2(size_t mr, size_t nc, size_t kc, const void* a, size_t a_stride, const void* w, void* c,
                                size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, 1, NULL, a, a_stride, w, c, c_stride, params);
}

static void qs8_igemm_4x8c4_avx2(size_t mr, size_t nc, size_t kc, size_t ks, const void* const* a, const void* w,
                                 void* c,
                                 size_t c_stride, const void* params) {
    dispatch_rows(mr, nc, kc, ks, a, NULL, 0, w, c, c_stride, params);
}

const nrt_gemm_table nrt_qs8_qc8w_gemm_4x8c4_minmax_fp32_avx2 = {
    .name = "qs8-qc8w-gemm-4x8c4-minmax-fp32-avx2", .isa = NRT_ISA_AVX2, .mr = MR, .nr = NR, .kr = KR, .x_offset = 0,
    .format = &nrt_gemm_format_qs8_qc8w, .gemm = qs8_gemm_4x8c4_avx2, .igemm = qs8_igemm_4x8c4_avx2,
};
