/* qs8-matmul-4x16k2-minmax-fp32-avx512vnni: int8 x int8 activations, up to 4
 * rows x 16 columns per call, K in pairs (gemm.h, nrt_gemm_format_qs8_matmul: B packed at run time
 * as int16 pairs with its zero point removed). A row's pair (a[k] - za,
 * a[k+1] - za) is broadcast as one int32 and vpdpwssd adds both products to
 * each column's lane: exact (|products| <= 255^2), wrapping like the
 * reference. A K remainder of 1 pairs with 0 (the packed B row is 0 there). */
#include "qs8_requant_x86.h"

#define MR 4
#define NR 16

NRT_ISA_INLINE(AVX512) int32_t pair(const int8_t* a, size_t k, size_t K, int32_t za) {
    int32_t lo = a[k] - za, hi = k + 1 < K ? a[k + 1] - za : 0;
    return (int32_t)((uint32_t)(uint16_t)(int16_t)lo | (uint32_t)(uint16_t)(int16_t)hi << 16);
}

NRT_ISA_INLINE(AVX512) void matmul_tile(size_t mr, size_t nc, size_t K, const int8_t* a, size_t a_stride, int32_t za,
                                       const int16_t* b, int8_t* c, size_t c_stride, float m,
                                       const nrt_qs8_requant* rq, const int R) {
    __m512i acc[MR];
    const int8_t* ap[MR];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_setzero_si512();
        ap[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * a_stride;
    }
    for (size_t k = 0; k < K; k += 2, b += 2 * NR) {
        __m512i bv = _mm512_loadu_si512(b);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_set1_epi32(pair(ap[r], k, K, za)), bv);
    }
    __m512 mv = _mm512_set1_ps(m), lo = _mm512_set1_ps(rq->lo), hi = _mm512_set1_ps(rq->hi);
    __m512i zp = _mm512_set1_epi32(rq->zero_point);
    __mmask16 km = (__mmask16)(nc >= 16 ? 0xFFFF : (1u << nc) - 1);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        if ((size_t)r >= mr) break;
        _mm_mask_storeu_epi8(c + (size_t)r * c_stride, km, nrt_qs8_requant16(acc[r], mv, lo, hi, zp));
    }
}

NRT_ISA_TARGET(AVX512) static void qs8_matmul_4x16k2_avx512vnni(size_t mr, size_t nc, size_t K, const void* a,
                                                                size_t a_stride, const void* b, void* c,
                                                        size_t c_stride, const void* params) {
    const nrt_qs8_matmul_params* p = params;
    if (mr > 2) matmul_tile(mr, nc, K, a, a_stride, p->za, b, c, c_stride, p->m, &p->rq, 4);
    else if (mr > 1) matmul_tile(mr, nc, K, a, a_stride, p->za, b, c, c_stride, p->m, &p->rq, 2);
    else matmul_tile(mr, nc, K, a, a_stride, p->za, b, c, c_stride, p->m, &p->rq, 1);
}

const nrt_gemm_table nrt_qs8_matmul_4x16k2_minmax_fp32_avx512vnni = {
    .name = "qs8-matmul-4x16k2-minmax-fp32-avx512vnni", .isa = NRT_ISA_AVX512, .mr = MR, .nr = NR, .kr = 2,
    .format = &nrt_gemm_format_qs8_matmul, .gemm = qs8_matmul_4x16k2_avx512vnni,
};
